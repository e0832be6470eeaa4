//! `dmcts diff A B`: what changed from run A to run B (two report dirs or run.json files) —
//! new failures, fixes, changed reasons, other verdict changes, SCR items whose verdict
//! changed, catalog digest and suite version — and whether B regresses.
//!
//! **B regresses** when a case or an SCR item has the verdict fail, inconc or error in B and
//! had none of these in A (it passed, did not run, or was not there). A changed reason of a
//! result that was already non-passing, a pass that became not-applicable or not-tested, and a
//! changed catalog are reported but are not regressions. The shapes are documented in
//! docs/certification.md; `--format json` keeps its keys within `schema_version` 1.
use crate::verdict::Reason;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the JSON shape of a diff.
pub const SCHEMA_VERSION: u32 = 1;

/// An input that cannot be read: the file, and where in it (a JSON pointer) what was expected.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: at {pointer}: {message}", path.display())]
    Json { path: PathBuf, pointer: String, message: String },
}

#[derive(Deserialize)]
struct RunDoc {
    #[allow(dead_code)]
    schema_version: u32,
    suite_version: String,
    catalog_digest: String,
    cases: Vec<CaseDoc>,
}

#[derive(Deserialize)]
struct CaseDoc {
    id: String,
    verdict: String,
    reason: Option<Reason>,
}

#[derive(Deserialize)]
struct CoverageDoc {
    items: Vec<ItemDoc>,
}

#[derive(Deserialize)]
struct ItemDoc {
    id: String,
    verdict: String,
}

/// One side of a diff, read from disk.
pub struct RunFile {
    /// The run.json read.
    pub path: PathBuf,
    suite_version: String,
    catalog_digest: String,
    cases: Vec<(String, CaseState)>,
    /// Item verdicts from the coverage.json beside run.json, when there is one.
    items: Option<Vec<(String, String)>>,
}

/// Parses JSON into `T`; errors name the file and a JSON pointer.
pub fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, InputError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = pointer_of(e.path());
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("not JSON: {inner}")
        } else {
            // serde_json appends its own " at line L column C": keep it, it helps too.
            inner.to_string()
        };
        InputError::Json { path: path.to_path_buf(), pointer, message }
    })
}

/// The RFC 6901 JSON pointer of a serde path (`""` for the document itself).
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        let s = match seg {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.replace('~', "~0").replace('/', "~1"),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => "?".into(),
        };
        out.push('/');
        out.push_str(&s);
    }
    if out.is_empty() {
        "/ (the document)".into()
    } else {
        out
    }
}

impl RunFile {
    /// Reads a report dir (its run.json) or a run.json file, and the coverage.json beside it.
    pub fn read(path: &Path) -> Result<RunFile, InputError> {
        let run_path = if path.is_dir() { path.join("run.json") } else { path.to_path_buf() };
        let bytes = std::fs::read(&run_path).map_err(|source| InputError::Read { path: run_path.clone(), source })?;
        let doc: RunDoc = parse_json(&run_path, &bytes)?;
        let cov_path = run_path.with_file_name("coverage.json");
        let items = match std::fs::read(&cov_path) {
            Ok(bytes) => {
                let cov: CoverageDoc = parse_json(&cov_path, &bytes)?;
                Some(cov.items.into_iter().map(|i| (i.id, i.verdict)).collect())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(InputError::Read { path: cov_path, source }),
        };
        Ok(RunFile {
            path: run_path,
            suite_version: doc.suite_version,
            catalog_digest: doc.catalog_digest,
            cases: doc
                .cases
                .into_iter()
                .map(|c| {
                    let reason = c.reason.as_ref().map(reason_line);
                    (c.id, CaseState { verdict: c.verdict, reason })
                })
                .collect(),
            items,
        })
    }
}

/// A reason on one line: `step N: message (SCR item X)`.
fn reason_line(r: &Reason) -> String {
    let mut s = String::new();
    if let Some(step) = r.step {
        s.push_str(&format!("step {step}: "));
    }
    s.push_str(&r.message);
    if let Some(scr) = &r.scr {
        s.push_str(&format!(" (SCR item {scr})"));
    }
    s
}

/// Reasons are compared without the loopback port numbers a run picks anew each time.
fn comparable(reason: &Option<String>) -> Option<String> {
    static PORT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = PORT.get_or_init(|| regex::Regex::new(r"(127\.0\.0\.1|localhost|\[::1\]):\d+").expect("static regex"));
    reason.as_ref().map(|r| re.replace_all(r, "$1:PORT").into_owned())
}

/// A case's (or an item's) verdict and reason on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseState {
    pub verdict: String,
    /// The reason on one line; `null` for a pass.
    pub reason: Option<String>,
}

/// What a run of a diff says about itself.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The run.json read.
    pub path: String,
    pub suite_version: String,
    pub catalog_digest: String,
}

/// A case whose result changed; `a` / `b` is `null` when the case is not in that run.
#[derive(Debug, Clone, Serialize)]
pub struct CaseChange {
    pub id: String,
    pub a: Option<CaseState>,
    pub b: Option<CaseState>,
}

/// An SCR item whose verdict changed; `null` when the item is not in that run's coverage.
#[derive(Debug, Clone, Serialize)]
pub struct ItemChange {
    pub id: String,
    pub a: Option<String>,
    pub b: Option<String>,
    /// The change is a regression (see the module doc).
    pub regression: bool,
}

/// The diff of two runs (`--format json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub schema_version: u32,
    pub a: Side,
    pub b: Side,
    pub suite_version_changed: bool,
    pub catalog_changed: bool,
    /// Cases fail/inconc/error in B that were not in A (regressions).
    pub new_failures: Vec<CaseChange>,
    /// Cases fail/inconc/error in A that pass in B.
    pub fixes: Vec<CaseChange>,
    /// Cases fail/inconc/error in both, with another verdict or reason.
    pub changed_reasons: Vec<CaseChange>,
    /// Any other verdict change (e.g. pass → not-applicable, fail → not-tested, a case only in one run).
    pub other_changes: Vec<CaseChange>,
    /// Both runs had a coverage.json, so items were compared.
    pub items_compared: bool,
    pub items: Vec<ItemChange>,
    pub regresses: bool,
}

fn bad(verdict: &str) -> bool {
    matches!(verdict, "fail" | "inconc" | "error")
}

fn is_bad(s: &Option<CaseState>) -> bool {
    s.as_ref().is_some_and(|s| bad(&s.verdict))
}

/// Compares run A with run B.
pub fn diff(a: &RunFile, b: &RunFile) -> Diff {
    let mut ids: Vec<&str> = b.cases.iter().map(|(id, _)| id.as_str()).collect();
    ids.extend(a.cases.iter().map(|(id, _)| id.as_str()).filter(|id| !b.cases.iter().any(|(x, _)| x == id)));
    let find = |run: &RunFile, id: &str| run.cases.iter().find(|(x, _)| x == id).map(|(_, s)| s.clone());
    let (mut new_failures, mut fixes, mut changed_reasons, mut other_changes) = (vec![], vec![], vec![], vec![]);
    for id in ids {
        let (sa, sb) = (find(a, id), find(b, id));
        let change = CaseChange { id: id.to_string(), a: sa.clone(), b: sb.clone() };
        let same = match (&sa, &sb) {
            (Some(x), Some(y)) => x.verdict == y.verdict && comparable(&x.reason) == comparable(&y.reason),
            _ => false,
        };
        if !is_bad(&sa) && is_bad(&sb) {
            new_failures.push(change);
        } else if is_bad(&sa) && sb.as_ref().is_some_and(|s| s.verdict == "pass") {
            fixes.push(change);
        } else if is_bad(&sa) && is_bad(&sb) {
            if !same {
                changed_reasons.push(change);
            }
        } else if sa.as_ref().map(|s| &s.verdict) != sb.as_ref().map(|s| &s.verdict) {
            other_changes.push(change);
        }
    }
    let items_compared = a.items.is_some() && b.items.is_some();
    let mut items = Vec::new();
    if let (Some(ia), Some(ib)) = (&a.items, &b.items) {
        let mut ids: Vec<&str> = ib.iter().map(|(id, _)| id.as_str()).collect();
        ids.extend(ia.iter().map(|(id, _)| id.as_str()).filter(|id| !ib.iter().any(|(x, _)| x == id)));
        for id in ids {
            let va = ia.iter().find(|(x, _)| x == id).map(|(_, v)| v.clone());
            let vb = ib.iter().find(|(x, _)| x == id).map(|(_, v)| v.clone());
            if va != vb {
                let regression = !va.as_deref().is_some_and(bad) && vb.as_deref().is_some_and(bad);
                items.push(ItemChange { id: id.to_string(), a: va, b: vb, regression });
            }
        }
    }
    let regresses = !new_failures.is_empty() || items.iter().any(|i| i.regression);
    let side = |r: &RunFile| Side {
        path: r.path.display().to_string(),
        suite_version: r.suite_version.clone(),
        catalog_digest: r.catalog_digest.clone(),
    };
    Diff {
        schema_version: SCHEMA_VERSION,
        a: side(a),
        b: side(b),
        suite_version_changed: a.suite_version != b.suite_version,
        catalog_changed: a.catalog_digest != b.catalog_digest,
        new_failures,
        fixes,
        changed_reasons,
        other_changes,
        items_compared,
        items,
        regresses,
    }
}

impl Diff {
    /// 1 when B regresses, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.regresses)
    }

    /// The text report.
    pub fn render(&self) -> String {
        let short = |d: &str| d.chars().take(12).collect::<String>();
        let mut out = String::new();
        for (name, s) in [("A", &self.a), ("B", &self.b)] {
            out.push_str(&format!(
                "{name}: {} (dmcts {}, catalog {})\n",
                s.path,
                s.suite_version,
                short(&s.catalog_digest)
            ));
        }
        if self.suite_version_changed {
            out.push_str(&format!("suite version differs: A {}, B {}\n", self.a.suite_version, self.b.suite_version));
        }
        if self.catalog_changed {
            out.push_str(&format!(
                "catalog digest differs: A {}, B {}: the runs used different SCR tables or cases, so a changed \
                 verdict may come from the catalog rather than the IUT\n",
                short(&self.a.catalog_digest),
                short(&self.b.catalog_digest)
            ));
        }
        fn state(s: &Option<CaseState>) -> &str {
            s.as_ref().map(|s| s.verdict.as_str()).unwrap_or("absent")
        }
        let reason = |s: &Option<CaseState>| s.as_ref().and_then(|s| s.reason.clone()).unwrap_or_default();
        let mut section = |title: &str, list: &[CaseChange], show: &dyn Fn(&CaseChange) -> String| {
            if list.is_empty() {
                return;
            }
            out.push_str(&format!("\n{title} ({}):\n", list.len()));
            for c in list {
                out.push_str(&format!("  {}: {} -> {}{}\n", c.id, state(&c.a), state(&c.b), show(c)));
            }
        };
        section("new failures", &self.new_failures, &|c| format!(": {}", reason(&c.b)));
        section("fixes", &self.fixes, &|c| format!(" (was: {})", reason(&c.a)));
        section("changed reasons", &self.changed_reasons, &|c| {
            format!("\n    A: {}\n    B: {}", reason(&c.a), reason(&c.b))
        });
        section("other verdict changes", &self.other_changes, &|_| String::new());
        if !self.items_compared {
            out.push_str("\nSCR items not compared: coverage.json is missing beside A's or B's run.json\n");
        } else if !self.items.is_empty() {
            out.push_str(&format!("\nSCR items whose verdict changed ({}):\n", self.items.len()));
            for i in &self.items {
                out.push_str(&format!(
                    "  {}: {} -> {}{}\n",
                    i.id,
                    i.a.as_deref().unwrap_or("absent"),
                    i.b.as_deref().unwrap_or("absent"),
                    if i.regression { " (regression)" } else { "" }
                ));
            }
        }
        let item_regressions = self.items.iter().filter(|i| i.regression).count();
        out.push('\n');
        if self.regresses {
            out.push_str(&format!(
                "result: B regresses ({} new failure(s), {} SCR item(s) newly fail/inconc/error)\n",
                self.new_failures.len(),
                item_regressions
            ));
        } else if self.new_failures.is_empty()
            && self.fixes.is_empty()
            && self.changed_reasons.is_empty()
            && self.other_changes.is_empty()
            && self.items.is_empty()
        {
            out.push_str("result: no change\n");
        } else {
            out.push_str(&format!("result: no regression ({} fix(es))\n", self.fixes.len()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_do_not_make_a_reason_differ() {
        assert_eq!(
            comparable(&Some("no answer from http://127.0.0.1:40123/dm".into())),
            comparable(&Some("no answer from http://127.0.0.1:39999/dm".into()))
        );
    }

    #[test]
    fn a_bad_document_is_reported_with_its_pointer() {
        let e = parse_json::<RunDoc>(
            Path::new("r.json"),
            br#"{"schema_version":1,"suite_version":"0","catalog_digest":"d","cases":[{"id":"a","verdict":3}]}"#,
        )
        .err()
        .expect("an error");
        assert!(e.to_string().starts_with("r.json: at /cases/0/verdict: invalid type"), "{e}");
    }
}
