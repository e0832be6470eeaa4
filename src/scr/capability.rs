//! ICS capabilities: facts about an IUT that are not SCR items but decide whether a case can
//! run against it (the device has an executable node, a node the server may not delete...).
//!
//! They are declared as data next to the SCR tables, as `[[capability]]` tables (see
//! `scr/dm2/capabilities.toml`): an id (`ICS-...`), the role and bindings it concerns, the
//! question an ICS answers in `[support]`, the answer assumed when the ICS gives none (with
//! why: what a typical implementation has), and the PIXIT values that describe the fact. A
//! case names a capability in `applies_if`; naming one that is not declared is a catalog error,
//! and an ICS answering one that is not declared is an ICS error.
use super::{id_grammar, line_col, Role, ScrDiagnostic, KEYWORDS};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// One declared ICS capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capability {
    /// `ICS-...`, what `[support]` answers and `applies_if` names.
    pub id: String,
    /// The role of the IUTs it concerns.
    pub role: Role,
    /// The protocol bindings it concerns.
    pub bindings: Vec<String>,
    /// The question the ICS answers (`true`: the IUT has it).
    pub question: String,
    /// The answer when the ICS gives none.
    pub default: bool,
    /// Why the default is what it is (what a typical implementation has).
    pub default_why: String,
    /// PIXIT values (dotted, e.g. `mo.exec_uri`) that describe the fact; each must have a value
    /// (given or a documented default) when the capability holds.
    pub pixit: Vec<String>,
    #[serde(skip)]
    pub file: PathBuf,
    /// 1-based line of the `[[capability]]` header.
    #[serde(skip)]
    pub line: usize,
}

impl Capability {
    pub fn has_binding(&self, binding: &str) -> bool {
        self.bindings.iter().any(|b| b == binding)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapability {
    id: Spanned<String>,
    role: Role,
    bindings: Spanned<Vec<String>>,
    question: Spanned<String>,
    default: bool,
    default_why: Spanned<String>,
    #[serde(default)]
    pixit: Vec<Spanned<String>>,
}

/// Checks one raw capability (problems go to `diags`); returns it with the (line, col) of its
/// id, for duplicate-id messages.
pub(crate) fn validate(
    raw: RawCapability,
    src: &str,
    file: &Path,
    line: usize,
    diags: &mut Vec<ScrDiagnostic>,
) -> (Capability, (usize, usize)) {
    let mut diag = |offset: usize, message: String| {
        let (line, col) = line_col(src, offset);
        diags.push(ScrDiagnostic { file: file.to_path_buf(), line, col, message });
    };
    let id = raw.id.get_ref();
    if !id.starts_with("ICS-") || !id_grammar().is_match(id) || KEYWORDS.contains(&id.to_ascii_lowercase().as_str()) {
        diag(
            raw.id.span().start,
            format!(
                "bad capability id {id:?}: expected `ICS-` followed by letters, digits, `-`, `_` or `.` (e.g. \
                 ICS-DMC-NODE-EXEC), so that `applies_if` can name it"
            ),
        );
    }
    for (name, v) in [("question", &raw.question), ("default_why", &raw.default_why)] {
        if v.get_ref().trim().is_empty() {
            diag(v.span().start, format!("capability {id}: `{name}` is empty"));
        }
    }
    if raw.bindings.get_ref().is_empty() {
        diag(
            raw.bindings.span().start,
            format!(
                "capability {id}: `bindings` is empty, expected the protocol binding(s) it concerns, e.g. [\"dm2\"]"
            ),
        );
    }
    for p in &raw.pixit {
        if p.get_ref().split('.').count() < 2 || p.get_ref().split('.').any(str::is_empty) {
            diag(
                p.span().start,
                format!(
                    "capability {id}: `pixit` entry {:?} is not a dotted PIXIT name such as \"mo.exec_uri\"",
                    p.get_ref()
                ),
            );
        }
    }
    let pos = line_col(src, raw.id.span().start);
    (
        Capability {
            id: raw.id.into_inner(),
            role: raw.role,
            bindings: raw.bindings.into_inner(),
            question: raw.question.into_inner().trim().to_string(),
            default: raw.default,
            default_why: raw.default_why.into_inner().trim().to_string(),
            pixit: raw.pixit.into_iter().map(Spanned::into_inner).collect(),
            file: file.to_path_buf(),
            line,
        },
        pos,
    )
}
