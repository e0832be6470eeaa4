//! SCR registry: the Static Conformance Requirement tables (`scr/<area>/<table>.toml`) loaded
//! as data.
//!
//! Each file is one table: a `[table]` header (id, title, source, section, bindings, id
//! pattern, provenance, base; see [`table`]) and one `[[item]]` per row (see
//! `scr/dm2/packages.toml`). Loading validates everything a later step relies on — headers,
//! ids matching their table's pattern, role and status agreeing with the id, unique table and
//! item ids, `cites` on every item of a derived table, dependency expressions that parse, name
//! existing items (of any table) and have no cycles — and reports every problem found, each
//! with file:line:col and what was expected.
pub mod capability;
pub mod expr;
pub mod table;

pub use capability::Capability;
pub use expr::{Expr, ExprError};
use table::{validate_header, RawHeader};
pub use table::{Provenance, ScrTable};

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
    /// The sentence or flow step (with seed file and section) the item rests on; required in
    /// `derived` tables.
    pub cites: Option<String>,
    /// Id of the table the item belongs to (its file's `[table] id`).
    pub table: String,
    /// The provenance of the item's table.
    pub provenance: Provenance,
    /// The `source` of the item's table (the specification or seed).
    pub table_source: String,
    pub file: PathBuf,
    /// 1-based line of the item's `[[item]]` header.
    pub line: usize,
}

impl ScrItem {
    /// Where the item comes from, self-contained: its `cites` when it has one, else its
    /// table's source and the item's section.
    pub fn source(&self) -> String {
        match &self.cites {
            Some(c) => c.clone(),
            None => format!("{}, section {}", self.table_source, self.section),
        }
    }
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

/// All SCR tables and their items, in file order (files sorted by path).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    items: Vec<ScrItem>,
    index: BTreeMap<String, usize>,
    tables: Vec<ScrTable>,
    /// ICS capabilities declared next to the tables (`[[capability]]`).
    capabilities: Vec<Capability>,
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
    cites: Option<Spanned<String>>,
}

/// Every id must be an atom of the expression grammar, or `requires` and `applies_if` could
/// not name it (see [`expr`]).
fn id_grammar() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[A-Za-z][A-Za-z0-9_.-]*$").expect("static regex"))
}

const KEYWORDS: [&str; 5] = ["and", "or", "not", "true", "false"];

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

/// Per-file parse state: one file's table and items plus where their ids and `requires` were
/// written.
struct Parsed {
    table: Option<ScrTable>,
    /// (line, col) of the table id, for duplicate-table messages.
    table_id_pos: (usize, usize),
    items: Vec<ScrItem>,
    /// (line, col) of each item's id and `requires` value, by index in `items`.
    id_pos: Vec<(usize, usize)>,
    requires_pos: Vec<(usize, usize)>,
    /// Capabilities with the (line, col) of their id.
    capabilities: Vec<(Capability, (usize, usize))>,
}

const HEADER_KEYS: &str =
    "id, title, source, section, bindings, id_pattern, provenance (\"normative\" or \"derived\") and optionally base";

fn parse_file(src: &str, file: &Path, diags: &mut Vec<ScrDiagnostic>) -> Parsed {
    let mut out = Parsed {
        table: None,
        table_id_pos: (1, 1),
        items: Vec::new(),
        id_pos: Vec::new(),
        requires_pos: Vec::new(),
        capabilities: Vec::new(),
    };
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
    // The header first, wherever it is written: items are checked against it.
    let mut header_seen = false;
    for (key, value) in root.iter() {
        if key.get_ref() != "table" {
            continue;
        }
        header_seen = true;
        let value: Spanned<DeValue<'_>> = value.clone();
        let start = value.span().start;
        if !value.get_ref().is_table() {
            diag(diags, key.span().start, "`table` must be a table, written `[table]`".into());
            continue;
        }
        let line = header_line(src, start);
        match RawHeader::deserialize(ValueDeserializer::from(value)) {
            Ok(raw) => {
                out.table_id_pos = line_col(src, raw.id.span().start);
                out.table = validate_header(raw, file.to_path_buf(), line, &mut |off, m| diag(diags, off, m));
            }
            Err(e) => {
                let at = e.span().map(|s| s.start).unwrap_or(start);
                diag(diags, at, format!("in [table] at line {line}: {}; expected {HEADER_KEYS}", e.message().trim()));
            }
        }
    }
    // A file of ICS capabilities only needs no table header.
    let has_items = root.iter().any(|(k, _)| k.get_ref() == "item");
    let has_capabilities = root.iter().any(|(k, _)| k.get_ref() == "capability");
    if !header_seen && (has_items || !has_capabilities) {
        diag(
            diags,
            0,
            format!(
                "missing `[table]` header: every SCR table file declares its table with [table] {HEADER_KEYS} (a \
                 file of `[[capability]]` tables only needs none)"
            ),
        );
    }
    for (key, value) in root.iter() {
        match key.get_ref().as_ref() {
            "table" => continue,
            "item" => {}
            "capability" => {
                parse_capabilities(src, file, value, &mut out, diags);
                continue;
            }
            other => {
                diag(
                    diags,
                    key.span().start,
                    format!(
                        "unknown top-level key `{other}`, expected only the `[table]` header, `[[item]]` tables and \
                         `[[capability]]` tables"
                    ),
                );
                continue;
            }
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
            validate_item(src, file, &raw, out.table.as_ref(), table_start, diags);
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
            let table = out.table.as_ref();
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
                cites: raw.cites.map(Spanned::into_inner),
                table: table.map(|t| t.id.clone()).unwrap_or_default(),
                provenance: table.map(|t| t.provenance).unwrap_or(Provenance::Normative),
                table_source: table.map(|t| t.source.clone()).unwrap_or_default(),
                file: file.to_path_buf(),
                line: header_line,
            });
        }
    }
    out
}

/// The `[[capability]]` tables of one file.
fn parse_capabilities(
    src: &str,
    file: &Path,
    value: &Spanned<DeValue<'_>>,
    out: &mut Parsed,
    diags: &mut Vec<ScrDiagnostic>,
) {
    let diag = |diags: &mut Vec<ScrDiagnostic>, offset: usize, message: String| {
        let (line, col) = line_col(src, offset);
        diags.push(ScrDiagnostic { file: file.to_path_buf(), line, col, message });
    };
    let Some(array) = value.get_ref().as_array() else {
        diag(diags, value.span().start, "`capability` must be an array of tables, written `[[capability]]`".into());
        return;
    };
    for elem in array.iter() {
        let elem: Spanned<DeValue<'_>> = elem.clone();
        let start = elem.span().start;
        if !elem.get_ref().is_table() {
            diag(diags, start, format!("expected a `[[capability]]` table, found a {}", elem.get_ref().type_str()));
            continue;
        }
        let line = header_line(src, start);
        match capability::RawCapability::deserialize(ValueDeserializer::from(elem)) {
            Ok(raw) => out.capabilities.push(capability::validate(raw, src, file, line, diags)),
            Err(e) => diag(
                diags,
                e.span().map(|s| s.start).unwrap_or(start),
                format!(
                    "in [[capability]] at line {line}: {}; expected id, role, bindings, question, default, \
                     default_why and optionally pixit",
                    e.message().trim()
                ),
            ),
        }
    }
}

fn byte_offset(s: &str, char_offset: usize) -> usize {
    s.char_indices().nth(char_offset).map(|(b, _)| b).unwrap_or(s.len())
}

/// The line of the `[[item]]` or `[table]` header owning a table whose body starts at `offset`
/// (the parser's span may start at the header or at the first key; both resolve to the header).
fn header_line(src: &str, offset: usize) -> usize {
    let (line, _) = line_col(src, offset);
    let lines: Vec<&str> = src.lines().collect();
    (1..=line.min(lines.len())).rev().find(|&l| lines[l - 1].trim_start().starts_with('[')).unwrap_or(line)
}

fn validate_item(
    src: &str,
    file: &Path,
    raw: &RawItem,
    table: Option<&ScrTable>,
    item_start: usize,
    diags: &mut Vec<ScrDiagnostic>,
) {
    let mut diag = |offset: usize, message: String| {
        let (line, col) = line_col(src, offset);
        diags.push(ScrDiagnostic { file: file.to_path_buf(), line, col, message });
    };
    let id = raw.id.get_ref();
    if !id_grammar().is_match(id) || KEYWORDS.contains(&id.to_ascii_lowercase().as_str()) {
        diag(
            raw.id.span().start,
            format!(
                "bad SCR id {id:?}: expected a letter followed by letters, digits, `-`, `_` or `.` (and not a keyword \
                 of the expression grammar), so that `requires` and `applies_if` can name it"
            ),
        );
        return;
    }
    for (name, v) in [("function", &raw.function), ("section", &raw.section)] {
        if v.get_ref().trim().is_empty() {
            diag(v.span().start, format!("item {id}: `{name}` is empty, expected the SCR table's text"));
        }
    }
    if let Some(c) = &raw.cites {
        if c.get_ref().trim().is_empty() {
            diag(
                c.span().start,
                format!("item {id}: `cites` is empty, expected the sentence or flow step it rests on"),
            );
        }
    }
    // Without a usable header there is no id grammar to check against; the header's own
    // problem has been reported.
    let Some(table) = table else { return };
    if table.provenance == Provenance::Derived && raw.cites.is_none() {
        diag(
            item_start,
            format!(
                "item {id}: table {} is derived, so every item must carry `cites`: the sentence or flow step (with \
                 the seed file and section) it rests on",
                table.id
            ),
        );
    }
    let Some(caps) = table.pattern.captures(id) else {
        diag(
            raw.id.span().start,
            format!(
                "bad SCR id {id:?}: expected an id matching table {}'s id_pattern '{}'",
                table.id, table.id_pattern
            ),
        );
        return;
    };
    let role = *raw.role.get_ref();
    if let Some(letter) = caps.name("role").map(|m| m.as_str()) {
        match letter {
            "C" | "S" => {
                let id_role = if letter == "C" { Role::Client } else { Role::Server };
                if role != id_role {
                    diag(
                        raw.role.span().start,
                        format!("item {id}: role is \"{role}\" but the id's role part {letter} says \"{id_role}\""),
                    );
                }
            }
            other => diag(
                raw.id.span().start,
                format!("item {id}: the id's role part (group `role` of the id_pattern) is {other:?}, expected C or S"),
            ),
        }
    }
    if let Some(letter) = caps.name("status").map(|m| m.as_str()) {
        match letter {
            "M" | "O" => {
                let id_status = if letter == "M" { Status::M } else { Status::O };
                if *raw.status.get_ref() != id_status {
                    diag(
                        raw.status.span().start,
                        format!(
                            "item {id}: status is \"{}\" but the id's status part {letter} says \"{id_status}\"",
                            raw.status.get_ref()
                        ),
                    );
                }
            }
            other => diag(
                raw.id.span().start,
                format!(
                    "item {id}: the id's status part (group `status` of the id_pattern) is {other:?}, expected M or O"
                ),
            ),
        }
    }
}

/// Every `*.toml` under `dir`, at any depth, sorted by path. Hidden entries are skipped and
/// symbolic links to directories are not followed (no cycles).
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, ScrError> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| ScrError::Io { path: d.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| ScrError::Io { path: d.clone(), source })?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(|source| ScrError::Io { path: path.clone(), source })?;
            if kind.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Registry {
    /// Loads every `*.toml` under `dir` (`scr/<area>/<table>.toml`, at any depth, sorted by
    /// path) as one registry.
    pub fn load_dir(dir: &Path) -> Result<Registry, ScrError> {
        let files = toml_files(dir)?;
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

    /// Loads SCR tables from (path, contents) pairs, in the order given (the path only names
    /// the file in errors). Every problem of every file is reported at once.
    pub fn from_sources(sources: Vec<(PathBuf, Vec<u8>)>) -> Result<Registry, ScrError> {
        let mut diags = Vec::new();
        let mut items = Vec::new();
        let mut tables: Vec<ScrTable> = Vec::new();
        let mut capabilities: Vec<(Capability, (usize, usize))> = Vec::new();
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
            if let Some(t) = parsed.table {
                if let Some(first) = tables.iter().find(|f| f.id == t.id) {
                    diags.push(ScrDiagnostic {
                        file: file.clone(),
                        line: parsed.table_id_pos.0,
                        col: parsed.table_id_pos.1,
                        message: format!(
                            "duplicate table id {}: already declared at {}:{}; one file per table",
                            t.id,
                            first.file.display(),
                            first.line
                        ),
                    });
                } else {
                    tables.push(t);
                }
            }
            items.extend(parsed.items);
            capabilities.extend(parsed.capabilities);
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
        let mut cap_index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, (c, (line, col))) in capabilities.iter().enumerate() {
            let clash = match (cap_index.get(c.id.as_str()), index.get(&c.id)) {
                (Some(&first), _) => {
                    let f = &capabilities[first].0;
                    Some(format!(
                        "duplicate capability id {}: already declared at {}:{}",
                        c.id,
                        f.file.display(),
                        f.line
                    ))
                }
                (None, Some(&it)) => Some(format!(
                    "capability id {} is also an SCR item id ({}:{}); ids name one thing",
                    c.id,
                    items[it].file.display(),
                    items[it].line
                )),
                (None, None) => None,
            };
            match clash {
                Some(message) => {
                    diags.push(ScrDiagnostic { file: c.file.clone(), line: *line, col: *col, message });
                }
                None => {
                    cap_index.insert(c.id.as_str(), i);
                }
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
        let capabilities = capabilities.into_iter().map(|(c, _)| c).collect();
        Ok(Registry { items, index, tables, capabilities, sources })
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

    /// Every table, in load order.
    pub fn tables(&self) -> &[ScrTable] {
        &self.tables
    }

    /// One table by id.
    pub fn table(&self, id: &str) -> Option<&ScrTable> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// The table an item belongs to.
    pub fn table_of(&self, item: &ScrItem) -> Option<&ScrTable> {
        self.table(&item.table)
    }

    /// Every declared ICS capability, in load order.
    pub fn capabilities(&self) -> &[Capability] {
        &self.capabilities
    }

    /// One capability by id.
    pub fn capability(&self, id: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.id == id)
    }

    /// The capabilities an IUT of `role` speaking `binding` answers.
    pub fn capabilities_of(&self, role: Role, binding: &str) -> Vec<&Capability> {
        self.capabilities.iter().filter(|c| c.role == role && c.has_binding(binding)).collect()
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

/// `scr list` as a text table: id, table, provenance, role, status, section, function,
/// requires, and the source (the item's `cites`, else its table's source document).
pub fn list_table(items: &[&ScrItem]) -> String {
    let width = |f: &dyn Fn(&ScrItem) -> usize, min: usize| items.iter().map(|i| f(i)).max().unwrap_or(min).max(min);
    let w_id = width(&|i| i.id.chars().count(), 2);
    let w_tab = width(&|i| i.table.chars().count(), 5);
    let w_sec = width(&|i| i.section.chars().count(), 7);
    let w_fn = width(&|i| i.function.chars().count(), 8);
    let w_req = width(&|i| i.requires_text.as_deref().map_or(1, |r| r.chars().count()), 8);
    let mut s = format!(
        "{:<w_id$}  {:<w_tab$}  {:<10}  {:<6}  {}  {:<w_sec$}  {:<w_fn$}  {:<w_req$}  {}\n",
        "ID", "TABLE", "PROVENANCE", "ROLE", "S", "SECTION", "FUNCTION", "REQUIRES", "SOURCE"
    );
    for i in items {
        let line = format!(
            "{:<w_id$}  {:<w_tab$}  {:<10}  {:<6}  {}  {:<w_sec$}  {:<w_fn$}  {:<w_req$}  {}",
            i.id,
            i.table,
            i.provenance.to_string(),
            i.role.to_string(),
            i.status,
            i.section,
            i.function,
            i.requires_text.as_deref().unwrap_or("-"),
            i.cites.as_deref().unwrap_or(&i.table_source),
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    let mut tables: Vec<&str> = items.iter().map(|i| i.table.as_str()).collect();
    tables.sort_unstable();
    tables.dedup();
    s.push_str(&format!("{} item(s) in {} table(s)\n", items.len(), tables.len()));
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
                    "table": i.table,
                    "provenance": i.provenance,
                    "source": i.source(),
                });
                if let Some(m) = o.as_object_mut() {
                    if let Some(r) = &i.requirement {
                        m.insert("requirement".into(), r.clone().into());
                    }
                    if let Some(j) = &i.justification {
                        m.insert("justification".into(), j.clone().into());
                    }
                    if let Some(c) = &i.cites {
                        m.insert("cites".into(), c.clone().into());
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
