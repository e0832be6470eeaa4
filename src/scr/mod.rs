//! SCR registry: the Static Conformance Requirement tables (`scr/*.toml`) loaded as data.
//!
//! Each `[[item]]` is one row of an SCR table (see `scr/dm2-packages.toml`). Loading validates
//! everything a later step relies on — id grammar, role and status agreeing with the id,
//! unique ids, dependency expressions that parse, name existing items and have no cycles — and
//! reports every problem found, each with file:line:col and what was expected.
pub mod expr;

pub use expr::{Expr, ExprError};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// Which side of the protocol an SCR item (or an IUT) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Server,
}

impl Role {
    /// The id infix of the role's SCR items (`-C-` / `-S-`).
    pub fn infix(self) -> &'static str {
        match self {
            Role::Client => "-C-",
            Role::Server => "-S-",
        }
    }

    pub fn other(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}

/// Mandatory or optional, as in the SCR table's id suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    M,
    O,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::M => "M",
            Status::O => "O",
        })
    }
}

/// One SCR item (one row of an SCR table).
#[derive(Debug, Clone, PartialEq)]
pub struct ScrItem {
    pub id: String,
    pub role: Role,
    pub status: Status,
    /// The Function column, verbatim.
    pub function: String,
    /// The Reference column without "Section", e.g. "5.2.1.1".
    pub section: String,
    /// The Requirement column, parsed.
    pub requires: Option<Expr>,
    /// The Requirement column as written in the TOML.
    pub requires_text: Option<String>,
    /// The normative sentence quoted from the spec, printed on check failures.
    pub requirement: Option<String>,
    /// Why the item is (not fully) observable on the wire, where that needs saying.
    pub justification: Option<String>,
    pub file: PathBuf,
    /// 1-based line of the item's `[[item]]` header.
    pub line: usize,
}

/// One problem found while loading SCR tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrDiagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ScrDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScrError {
    #[error("cannot read SCR tables from {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no SCR tables (*.toml) in {}: the suite needs at least one to know what to test", .0.display())]
    NoTables(PathBuf),
    #[error("{} problem(s) in the SCR tables:\n{}", .0.len(), render(.0))]
    Invalid(Vec<ScrDiagnostic>),
}

impl ScrError {
    /// The individual problems (empty for I/O errors).
    pub fn diagnostics(&self) -> &[ScrDiagnostic] {
        match self {
            ScrError::Invalid(d) => d,
            _ => &[],
        }
    }
}

fn render(d: &[ScrDiagnostic]) -> String {
    d.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
}

/// All SCR items, in file order (files sorted by name).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    items: Vec<ScrItem>,
    index: BTreeMap<String, usize>,
    sources: Vec<(PathBuf, Vec<u8>)>,
}

/// The TOML shape of one item; spans locate errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    role: Spanned<Role>,
    status: Spanned<Status>,
    function: Spanned<String>,
    section: Spanned<String>,
    requires: Option<Spanned<String>>,
    requirement: Option<String>,
    justification: Option<String>,
}

fn id_regex() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-\d{3}-[CS]-[MO]$").expect("static regex"))
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let mut off = offset;
    while !src.is_char_boundary(off) {
        off -= 1;
    }
    let before = &src[..off];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

/// Per-file parse state: one file's items plus where their `requires` were written.
struct Parsed {
    items: Vec<ScrItem>,
    /// (line, col) of each item's id and `requires` value, by index in `items`.
    id_pos: Vec<(usize, usize)>,
    requires_pos: Vec<(usize, usize)>,
}

fn parse_file(src: &str, file: &Path, diags: &mut Vec<ScrDiagnostic>) -> Parsed {
    let mut out = Parsed { items: Vec::new(), id_pos: Vec::new(), requires_pos: Vec::new() };
    let diag = |diags: &mut Vec<ScrDiagnostic>, offset: usize, message: String| {
        let (line, col) = line_col(src, offset);
        diags.push(ScrDiagnostic { file: file.to_path_buf(), line, col, message });
    };
    let root = match DeTable::parse(src) {
        Ok(t) => t.into_inner(),
        Err(e) => {
            diag(diags, e.span().map(|s| s.start).unwrap_or(0), format!("invalid TOML: {}", e.message().trim()));
            return out;
        }
    };
    for (key, value) in root.iter() {
        if key.get_ref() != "item" {
            diag(
                diags,
                key.span().start,
                format!("unknown top-level key `{}`, expected only `[[item]]` tables", key.get_ref()),
            );
            continue;
        }
        let Some(array) = value.get_ref().as_array() else {
            diag(diags, value.span().start, "`item` must be an array of tables, written `[[item]]`".into());
            continue;
        };
        for elem in array.iter() {
            let elem: Spanned<DeValue<'_>> = elem.clone();
            let table_start = elem.span().start;
            if !elem.get_ref().is_table() {
                diag(
                    diags,
                    table_start,
                    format!("expected an `[[item]]` table, found a {}", elem.get_ref().type_str()),
                );
                continue;
            }
            let header_line = header_line(src, table_start);
            let raw = match RawItem::deserialize(ValueDeserializer::from(elem)) {
                Ok(r) => r,
                Err(e) => {
                    let at = e.span().map(|s| s.start).unwrap_or(table_start);
                    diag(diags, at, format!("in [[item]] at line {header_line}: {}", e.message().trim()));
                    continue;
                }
            };
            validate_item(src, file, &raw, diags);
            let requires = raw.requires.as_ref().and_then(|r| match Expr::parse(r.get_ref()) {
                Ok(e) => Some(e),
                Err(e) => {
                    // +1 skips the opening quote of a basic string.
                    diag(
                        diags,
                        r.span().start + 1 + byte_offset(r.get_ref(), e.offset),
                        format!("item {}: bad `requires` expression: {e}", raw.id.get_ref()),
                    );
                    None
                }
            });
            out.id_pos.push(line_col(src, raw.id.span().start));
            out.requires_pos.push(raw.requires.as_ref().map(|r| line_col(src, r.span().start)).unwrap_or((0, 0)));
            out.items.push(ScrItem {
                id: raw.id.get_ref().clone(),
                role: *raw.role.get_ref(),
                status: *raw.status.get_ref(),
                function: raw.function.get_ref().clone(),
                section: raw.section.get_ref().clone(),
                requires,
                requires_text: raw.requires.map(|r| r.into_inner()),
                requirement: raw.requirement,
                justification: raw.justification,
                file: file.to_path_buf(),
                line: header_line,
            });
        }
    }
    out
}

fn byte_offset(s: &str, char_offset: usize) -> usize {
    s.char_indices().nth(char_offset).map(|(b, _)| b).unwrap_or(s.len())
}

/// The line of the `[[item]]` header owning a table whose body starts at `offset` (the parser's
/// span may start at the header or at the first key; both resolve to the header).
fn header_line(src: &str, offset: usize) -> usize {
    let (line, _) = line_col(src, offset);
    let lines: Vec<&str> = src.lines().collect();
    (1..=line.min(lines.len())).rev().find(|&l| lines[l - 1].trim_start().starts_with("[[")).unwrap_or(line)
}

fn validate_item(src: &str, file: &Path, raw: &RawItem, diags: &mut Vec<ScrDiagnostic>) {
    let mut diag = |offset: usize, message: String| {
        let (line, col) = line_col(src, offset);
        diags.push(ScrDiagnostic { file: file.to_path_buf(), line, col, message });
    };
    let id = raw.id.get_ref();
    if !id_regex().is_match(id) {
        diag(
            raw.id.span().start,
            format!(
                "bad SCR id {id:?}: expected NAME-NNN-C|S-M|O (e.g. DM-PACK-012-C-M), matching {}",
                id_regex().as_str()
            ),
        );
        return;
    }
    let role = *raw.role.get_ref();
    // The regex guarantees the id ends in `-C-M`, `-S-O`, ...: the role letter is third from the end.
    let id_role = if id.as_bytes()[id.len() - 3] == b'C' { Role::Client } else { Role::Server };
    if role != id_role {
        diag(
            raw.role.span().start,
            format!("item {id}: role is \"{role}\" but the id's {} infix says \"{id_role}\"", id_role.infix()),
        );
    }
    let suffix = if id.ends_with("-M") { Status::M } else { Status::O };
    if *raw.status.get_ref() != suffix {
        diag(
            raw.status.span().start,
            format!(
                "item {id}: status is \"{}\" but the id's suffix -{suffix} says \"{suffix}\"",
                raw.status.get_ref()
            ),
        );
    }
    for (name, v) in [("function", &raw.function), ("section", &raw.section)] {
        if v.get_ref().trim().is_empty() {
            diag(v.span().start, format!("item {id}: `{name}` is empty, expected the SCR table's text"));
        }
    }
}

impl Registry {
    /// Loads every `*.toml` in `dir` (sorted by name) as one registry.
    pub fn load_dir(dir: &Path) -> Result<Registry, ScrError> {
        let io = |source| ScrError::Io { path: dir.to_path_buf(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(ScrError::NoTables(dir.to_path_buf()));
        }
        let mut sources = Vec::new();
        for f in files {
            let bytes = std::fs::read(&f).map_err(|source| ScrError::Io { path: f.clone(), source })?;
            sources.push((f, bytes));
        }
        Self::from_sources(sources)
    }

    /// Loads one SCR table from a string; `file` names it in errors.
    pub fn load_str(src: &str, file: &Path) -> Result<Registry, ScrError> {
        Self::from_sources(vec![(file.to_path_buf(), src.as_bytes().to_vec())])
    }

    /// Loads SCR tables from `(path shown in errors, bytes)` pairs, in the given order.
    pub fn from_sources(sources: Vec<(PathBuf, Vec<u8>)>) -> Result<Registry, ScrError> {
        let mut diags = Vec::new();
        let mut items = Vec::new();
        let mut id_pos = Vec::new();
        let mut requires_pos = Vec::new();
        for (file, bytes) in &sources {
            let src = match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => {
                    let (line, col) = line_col(&String::from_utf8_lossy(bytes), e.valid_up_to());
                    diags.push(ScrDiagnostic {
                        file: file.clone(),
                        line,
                        col,
                        message: "invalid UTF-8, expected a UTF-8 TOML file".into(),
                    });
                    continue;
                }
            };
            let parsed = parse_file(src, file, &mut diags);
            items.extend(parsed.items);
            id_pos.extend(parsed.id_pos);
            requires_pos.extend(parsed.requires_pos);
        }

        let mut index = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(&first) = index.get(&item.id) {
                let f: &ScrItem = &items[first];
                diags.push(ScrDiagnostic {
                    file: item.file.clone(),
                    line: id_pos[i].0,
                    col: id_pos[i].1,
                    message: format!(
                        "duplicate SCR id {}: already defined at {}:{}; ids are never reused",
                        item.id,
                        f.file.display(),
                        f.line
                    ),
                });
            } else {
                index.insert(item.id.clone(), i);
            }
        }
        for (i, item) in items.iter().enumerate() {
            if let Some(e) = &item.requires {
                for atom in e.atoms() {
                    if !index.contains_key(atom) {
                        diags.push(ScrDiagnostic {
                            file: item.file.clone(),
                            line: requires_pos[i].0,
                            col: requires_pos[i].1,
                            message: format!(
                                "item {}: `requires` names {atom}, which is not an SCR item; expected an id defined in \
                                 the SCR tables",
                                item.id
                            ),
                        });
                    }
                }
            }
        }
        for cycle in find_cycles(&items, &index) {
            let i = cycle[0];
            diags.push(ScrDiagnostic {
                file: items[i].file.clone(),
                line: requires_pos[i].0.max(1),
                col: requires_pos[i].1.max(1),
                message: format!(
                    "dependency cycle in `requires`: {}; expected requirements to form no cycle",
                    cycle
                        .iter()
                        .chain(std::iter::once(&i))
                        .map(|&k| items[k].id.as_str())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ),
            });
        }
        if !diags.is_empty() {
            return Err(ScrError::Invalid(diags));
        }
        Ok(Registry { items, index, sources })
    }

    pub fn items(&self) -> &[ScrItem] {
        &self.items
    }

    pub fn get(&self, id: &str) -> Option<&ScrItem> {
        self.index.get(id).map(|&i| &self.items[i])
    }

    /// The items of one role, in table order.
    pub fn items_of(&self, role: Role) -> Vec<&ScrItem> {
        self.items.iter().filter(|i| i.role == role).collect()
    }

    /// The raw bytes of every loaded file (for hashing into reports), in load order.
    pub fn sources(&self) -> &[(PathBuf, Vec<u8>)] {
        &self.sources
    }
}

/// Cycles of the `requires` graph, each reported once, as item indices starting at the
/// smallest index on the cycle.
fn find_cycles(items: &[ScrItem], index: &BTreeMap<String, usize>) -> Vec<Vec<usize>> {
    let edges: Vec<Vec<usize>> = items
        .iter()
        .map(|it| {
            it.requires
                .as_ref()
                .map(|e| e.atoms().iter().filter_map(|a| index.get(*a).copied()).collect())
                .unwrap_or_default()
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; items.len()];
    let mut seen: Vec<Vec<usize>> = Vec::new();
    fn dfs(n: usize, edges: &[Vec<usize>], state: &mut [u8], stack: &mut Vec<usize>, seen: &mut Vec<Vec<usize>>) {
        state[n] = 1;
        stack.push(n);
        for &m in &edges[n] {
            if state[m] == 1 {
                let pos = stack.iter().position(|&k| k == m).unwrap_or(0);
                let mut cycle = stack[pos..].to_vec();
                let min_pos = cycle.iter().enumerate().min_by_key(|(_, &k)| k).map(|(p, _)| p).unwrap_or(0);
                cycle.rotate_left(min_pos);
                if !seen.contains(&cycle) {
                    seen.push(cycle);
                }
            } else if state[m] == 0 {
                dfs(m, edges, state, stack, seen);
            }
        }
        stack.pop();
        state[n] = 2;
    }
    for n in 0..items.len() {
        if state[n] == 0 {
            dfs(n, &edges, &mut state, &mut Vec::new(), &mut seen);
        }
    }
    seen
}

/// `scr list` as a text table: id, role, status, section, function, requires.
pub fn list_table(items: &[&ScrItem]) -> String {
    let w_id = items.iter().map(|i| i.id.len()).max().unwrap_or(2).max(2);
    let w_sec = items.iter().map(|i| i.section.len()).max().unwrap_or(7).max(7);
    let w_fn = items.iter().map(|i| i.function.chars().count()).max().unwrap_or(8).max(8);
    let mut s = format!(
        "{:<w_id$}  {:<6}  {}  {:<w_sec$}  {:<w_fn$}  {}\n",
        "ID", "ROLE", "S", "SECTION", "FUNCTION", "REQUIRES"
    );
    for i in items {
        let line = format!(
            "{:<w_id$}  {:<6}  {}  {:<w_sec$}  {:<w_fn$}  {}",
            i.id,
            i.role.to_string(),
            i.status,
            i.section,
            i.function,
            i.requires_text.as_deref().unwrap_or("-")
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s.push_str(&format!("{} item(s)\n", items.len()));
    s
}

/// `scr list --json`: one object per item.
pub fn list_json(items: &[&ScrItem]) -> serde_json::Value {
    serde_json::Value::Array(
        items
            .iter()
            .map(|i| {
                let mut o = serde_json::json!({
                    "id": i.id,
                    "role": i.role,
                    "status": i.status,
                    "function": i.function,
                    "section": i.section,
                    "requires": i.requires_text,
                });
                if let Some(m) = o.as_object_mut() {
                    if let Some(r) = &i.requirement {
                        m.insert("requirement".into(), r.clone().into());
                    }
                    if let Some(j) = &i.justification {
                        m.insert("justification".into(), j.clone().into());
                    }
                }
                o
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = "ab\ncé d";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 3), (2, 1));
        assert_eq!(line_col(s, 6), (2, 3));
    }

    #[test]
    fn role_and_status_display() {
        assert_eq!(Role::Client.to_string(), "client");
        assert_eq!(Role::Server.other(), Role::Client);
        assert_eq!(Status::O.to_string(), "O");
    }
}
