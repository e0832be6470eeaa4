//! The `[table]` header of an SCR table file: which table the items belong to, where its text
//! comes from, which protocol bindings it applies to, the grammar of its item ids and whether
//! it was copied from a specification (`normative`) or written by this project (`derived`).
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use toml::Spanned;

/// Where an SCR table's items come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Copied from a specification's SCR appendix.
    Normative,
    /// Written by this project from normative flow text; every item cites what it rests on.
    Derived,
}

impl Provenance {
    /// What the provenance means, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Provenance::Normative => "copied from the specification's SCR table",
            Provenance::Derived => {
                "written by this project from normative flow text; each item cites the sentence or flow step it \
                 rests on"
            }
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provenance::Normative => "normative",
            Provenance::Derived => "derived",
        })
    }
}

/// One SCR table (one file under `scr/`), as its header declares it.
#[derive(Debug, Clone)]
pub struct ScrTable {
    /// Table id, e.g. `DM-PACK` or `FUMO`; what an ICS names in `[iut] implements`.
    pub id: String,
    pub title: String,
    /// The specification or seed the table comes from.
    pub source: String,
    /// The section(s) of `source` the table comes from.
    pub section: String,
    /// Protocol bindings the table applies to (e.g. `dm2`).
    pub bindings: Vec<String>,
    /// The id grammar as written (unanchored text; matched against the whole id).
    pub id_pattern: String,
    pub provenance: Provenance,
    /// Every IUT of a listed binding implements the table; an ICS need not name it.
    pub base: bool,
    pub file: PathBuf,
    /// 1-based line of the `[table]` header.
    pub line: usize,
    /// `id_pattern` anchored at both ends.
    pub(crate) pattern: regex::Regex,
}

impl ScrTable {
    /// Whether the table is for `binding`.
    pub fn has_binding(&self, binding: &str) -> bool {
        self.bindings.iter().any(|b| b == binding)
    }

    /// "DM-PACK (DM 2.0 DM Packages)", for messages.
    pub fn label(&self) -> String {
        format!("{} ({})", self.id, self.title)
    }
}

/// The TOML shape of the header; spans locate errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub source: Spanned<String>,
    pub section: Spanned<String>,
    pub bindings: Spanned<Vec<Spanned<String>>>,
    pub id_pattern: Spanned<String>,
    pub provenance: Spanned<Provenance>,
    #[serde(default)]
    pub base: bool,
}

pub(crate) fn table_id_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$").expect("static regex"))
}

fn binding_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[a-z][a-z0-9_.-]*$").expect("static regex"))
}

/// Validates a parsed header; `diag(offset, message)` records a problem at a byte offset.
/// Returns the table when it is usable for checking its items.
pub(crate) fn validate_header(
    raw: RawHeader,
    file: PathBuf,
    line: usize,
    diag: &mut dyn FnMut(usize, String),
) -> Option<ScrTable> {
    let mut ok = true;
    let id = raw.id.get_ref();
    if !table_id_regex().is_match(id) {
        diag(
            raw.id.span().start,
            format!(
                "bad table id {id:?}: expected upper-case words joined by `-` (e.g. DM-PACK, FUMO), matching {}",
                table_id_regex().as_str()
            ),
        );
        ok = false;
    }
    for (name, v) in [("title", &raw.title), ("source", &raw.source), ("section", &raw.section)] {
        if v.get_ref().trim().is_empty() {
            diag(v.span().start, format!("[table] `{name}` is empty, expected the table's {name}"));
        }
    }
    if raw.bindings.get_ref().is_empty() {
        diag(
            raw.bindings.span().start,
            "[table] `bindings` is empty, expected the protocol binding(s) the table applies to, e.g. [\"dm2\"]".into(),
        );
    }
    for b in raw.bindings.get_ref() {
        if !binding_regex().is_match(b.get_ref()) {
            diag(b.span().start, format!("bad binding {:?}: expected a lower-case name such as \"dm2\"", b.get_ref()));
        }
    }
    let pattern = match regex::Regex::new(&format!("^(?:{})$", raw.id_pattern.get_ref())) {
        Ok(re) => {
            for name in re.capture_names().flatten() {
                if name != "role" && name != "status" {
                    // Other groups are harmless, but a misspelt `role` would silently check nothing.
                    diag(
                        raw.id_pattern.span().start,
                        format!(
                            "[table] `id_pattern` has a group named `{name}`; expected only `role` (C|S) and \
                             `status` (M|O) as named groups"
                        ),
                    );
                }
            }
            Some(re)
        }
        Err(e) => {
            diag(
                raw.id_pattern.span().start,
                format!("[table] `id_pattern` is not a valid regular expression: {}", one_line(&e.to_string())),
            );
            None
        }
    };
    let pattern = pattern?;
    if !ok {
        return None;
    }
    Some(ScrTable {
        id: raw.id.into_inner(),
        title: raw.title.into_inner(),
        source: raw.source.into_inner(),
        section: raw.section.into_inner(),
        bindings: raw.bindings.into_inner().into_iter().map(Spanned::into_inner).collect(),
        id_pattern: raw.id_pattern.into_inner(),
        provenance: raw.provenance.into_inner(),
        base: raw.base,
        file,
        line,
        pattern,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
