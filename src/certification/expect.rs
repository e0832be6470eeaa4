//! Expected results (`dmcts run --expect FILE`): the verdicts a vendor or lab expects from a
//! run, each with why (a known defect, a waiver). The exit code then counts only what is
//! unexpected; every report says which results were expected.
//!
//! An entry names a case (`case = "TC-…"`) or an SCR item (`item = "DM-PACK-…"`). An item
//! entry covers every case whose failing judgement names that item (its reason's SCR item),
//! and the item's own roll-up verdict in the coverage report.
//!
//! Strict, as pytest's `xfail(strict=True)` and the OpenID suite's expected-failure lists: an
//! expected non-pass result that now passes is unexpected too (the run exits 1), so the file
//! is updated when a defect is fixed and never outlives it. Format: docs/certification.md.
use crate::catalog::Catalog;
use crate::report::{Coverage, ItemVerdict};
use crate::runner::result::{CaseResult, RunResult};
use crate::scr::Registry;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A bad expectations file: where, and what was expected there.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ExpectError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// What an entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Case(String),
    Item(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Case(id) => write!(f, "case {id}"),
            Subject::Item(id) => write!(f, "item {id}"),
        }
    }
}

/// One `[[expect]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub subject: Subject,
    pub verdict: Verdict,
    /// Why this result is expected: the known defect or the waiver.
    pub reason: String,
    /// 1-based line of the entry in the file.
    pub line: usize,
}

/// A parsed expectations file.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub file: PathBuf,
    pub entries: Vec<Entry>,
}

/// The verdicts an entry may expect: the ones that make a run's exit code non-zero. A pass is
/// what every case is expected to give unless listed.
pub const EXPECTABLE: [Verdict; 4] = [Verdict::Fail, Verdict::Inconc, Verdict::Error, Verdict::NotTested];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    expect: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    case: Option<Spanned<String>>,
    item: Option<Spanned<String>>,
    verdict: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
}

impl Expectations {
    /// Reads and checks `path` against the catalog and SCR tables in use: every entry names a
    /// known case or item, an expectable verdict and a non-empty reason, once.
    pub fn load(path: &Path, registry: &Registry, catalog: &Catalog) -> Result<Expectations, ExpectError> {
        let src = std::fs::read_to_string(path).map_err(|e| ExpectError {
            file: path.to_path_buf(),
            line: 0,
            message: format!("cannot read the expectations file: {e}"),
        })?;
        Self::parse(path, &src, registry, catalog)
    }

    pub fn parse(path: &Path, src: &str, registry: &Registry, catalog: &Catalog) -> Result<Expectations, ExpectError> {
        let err = |offset: usize, message: String| ExpectError {
            file: path.to_path_buf(),
            line: crate::catalog::line_of(src, offset),
            message,
        };
        let raw: RawFile = toml::from_str(src).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            err(offset, format!("{} (expected [[expect]] tables with case or item, verdict, reason)", e.message()))
        })?;
        let mut entries: Vec<Entry> = Vec::new();
        for spanned in raw.expect {
            let at = spanned.span().start;
            let line = crate::catalog::line_of(src, at);
            let e = spanned.into_inner();
            let subject = match (e.case, e.item) {
                (Some(c), None) => {
                    if !catalog.cases.iter().any(|k| k.id == *c.get_ref()) {
                        return Err(err(
                            c.span().start,
                            format!("case {:?}: no such case in the catalog", c.get_ref()),
                        ));
                    }
                    Subject::Case(c.into_inner())
                }
                (None, Some(i)) => {
                    if !registry.items().iter().any(|k| k.id == *i.get_ref()) {
                        return Err(err(i.span().start, format!("item {:?}: no such SCR item", i.get_ref())));
                    }
                    Subject::Item(i.into_inner())
                }
                (Some(_), Some(_)) => return Err(err(at, "an entry names either a case or an item, not both".into())),
                (None, None) => return Err(err(at, "an entry needs `case = \"TC-…\"` or `item = \"…\"`".into())),
            };
            let verdict = match e.verdict {
                None => return Err(err(at, format!("{subject}: `verdict` is missing (one of {})", expectable()))),
                Some(v) => match EXPECTABLE.iter().find(|x| x.as_str() == v.get_ref()) {
                    Some(x) => *x,
                    None if v.get_ref() == "pass" => {
                        return Err(err(
                            v.span().start,
                            "verdict \"pass\": every case is expected to pass unless listed; remove the entry".into(),
                        ))
                    }
                    None => {
                        return Err(err(
                            v.span().start,
                            format!("verdict {:?}: expected one of {}", v.get_ref(), expectable()),
                        ))
                    }
                },
            };
            let reason = match e.reason {
                Some(r) if !r.get_ref().trim().is_empty() => r.into_inner(),
                Some(r) => {
                    return Err(err(r.span().start, "`reason` is empty: say why (the defect, the waiver)".into()))
                }
                None => {
                    return Err(err(at, format!("{subject}: `reason` is missing: say why (the defect, the waiver)")))
                }
            };
            if let Some(first) = entries.iter().find(|x| x.subject == subject) {
                return Err(err(at, format!("{subject} is already expected at line {}", first.line)));
            }
            entries.push(Entry { subject, verdict, reason, line });
        }
        Ok(Expectations { file: path.to_path_buf(), entries })
    }

    fn source(&self, entry: &Entry) -> String {
        format!("{}:{}", self.file.display(), entry.line)
    }

    fn case_entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.subject == Subject::Case(id.to_string()))
    }

    fn item_entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.subject == Subject::Item(id.to_string()))
    }

    /// Judges a run (and its coverage) against the entries.
    pub fn judge(&self, run: &RunResult, coverage: &Coverage) -> Judged {
        let mut cases = Vec::new();
        let mut by_entry: BTreeMap<usize, Vec<(String, Outcome, String)>> = BTreeMap::new();
        for c in &run.cases {
            let scr = c.reason.as_ref().and_then(|r| r.scr.as_deref());
            let entry = self.case_entry(&c.id).or_else(|| {
                // An item entry covers the non-pass cases charged to its item.
                if counts(c.verdict) {
                    scr.and_then(|s| self.item_entry(s))
                } else {
                    None
                }
            });
            let outcome = match entry {
                Some(e) => outcome_of(c.verdict.as_str(), e.verdict),
                None if counts(c.verdict) => Outcome::Unexpected,
                None => continue,
            };
            if let Some(e) = entry {
                let idx = self.entries.iter().position(|x| x == e).unwrap_or(0);
                by_entry.entry(idx).or_default().push((c.id.clone(), outcome, c.verdict.to_string()));
            }
            cases.push(CaseJudgement {
                id: c.id.clone(),
                verdict: c.verdict,
                outcome,
                expected: entry.map(|e| self.expectation_of(e)),
            });
        }
        let entries = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (actual, outcome, matched) = match &e.subject {
                    Subject::Case(_) => match by_entry.get(&i).and_then(|v| v.first()) {
                        Some((_, o, v)) => (Some(v.clone()), *o, Vec::new()),
                        None => (None, Outcome::NotRun, Vec::new()),
                    },
                    Subject::Item(id) => {
                        let v = coverage.items.iter().find(|it| &it.id == id).map(|it| it.verdict);
                        let outcome = match v {
                            Some(v) if item_counts(v) || v == ItemVerdict::Pass => outcome_of(v.as_str(), e.verdict),
                            _ => Outcome::NotRun,
                        };
                        let matched = by_entry.get(&i).map(|v| v.iter().map(|(id, _, _)| id.clone()).collect());
                        (v.map(|v| v.to_string()), outcome, matched.unwrap_or_default())
                    }
                };
                EntryJudgement { expectation: self.expectation_of(e), actual, outcome, cases: matched }
            })
            .collect();
        Judged { file: self.file.display().to_string(), cases, entries }
    }

    fn expectation_of(&self, e: &Entry) -> Expectation {
        Expectation { subject: e.subject.clone(), verdict: e.verdict, reason: e.reason.clone(), source: self.source(e) }
    }
}

fn expectable() -> String {
    EXPECTABLE.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
}

/// Verdicts that make a run exit non-zero (see runner::run::exit_code).
fn counts(v: Verdict) -> bool {
    EXPECTABLE.contains(&v)
}

fn item_counts(v: ItemVerdict) -> bool {
    matches!(v, ItemVerdict::Fail | ItemVerdict::Inconc | ItemVerdict::Error | ItemVerdict::NotTested)
}

fn outcome_of(actual: &str, expected: Verdict) -> Outcome {
    if actual == expected.as_str() {
        Outcome::Expected
    } else if actual == "pass" {
        Outcome::NowPasses
    } else if EXPECTABLE.iter().any(|v| v.as_str() == actual) {
        Outcome::OtherVerdict
    } else {
        Outcome::NotRun
    }
}

/// How a result stands against the expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The verdict is the one an entry expects: not counted for the exit code.
    Expected,
    /// A non-pass verdict that no entry expects.
    Unexpected,
    /// An entry expects another non-pass verdict than the one given.
    OtherVerdict,
    /// An entry expects a non-pass verdict and the result passed: the entry is stale.
    NowPasses,
    /// The entry's case or item did not run (not applicable, not selected, skipped): nothing to judge.
    NotRun,
}

impl Outcome {
    /// Counted for the exit code.
    pub fn is_unexpected(self) -> bool {
        matches!(self, Outcome::Unexpected | Outcome::OtherVerdict | Outcome::NowPasses)
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Expected => "expected",
            Outcome::Unexpected => "UNEXPECTED",
            Outcome::OtherVerdict => "OTHER VERDICT",
            Outcome::NowPasses => "NOW PASSES",
            Outcome::NotRun => "not run",
        }
    }
}

/// An entry as it appears in the reports.
#[derive(Debug, Clone, Serialize)]
pub struct Expectation {
    #[serde(flatten)]
    pub subject: Subject,
    pub verdict: Verdict,
    pub reason: String,
    /// `file:line` of the entry.
    pub source: String,
}

/// A case whose result is non-pass or has an entry.
#[derive(Debug, Clone, Serialize)]
pub struct CaseJudgement {
    pub id: String,
    pub verdict: Verdict,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectation>,
}

/// One entry with what the run gave.
#[derive(Debug, Clone, Serialize)]
pub struct EntryJudgement {
    #[serde(flatten)]
    pub expectation: Expectation,
    /// The case's verdict, or the item's roll-up verdict; `None` when it is not in the run.
    pub actual: Option<String>,
    pub outcome: Outcome,
    /// For an item entry: the cases charged to the item that it covered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
}

/// A run judged against expectations.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    pub file: String,
    pub cases: Vec<CaseJudgement>,
    pub entries: Vec<EntryJudgement>,
}

/// `expected` … counts of `run.json` `expectations.counts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Counts {
    /// Non-pass cases whose verdict an entry expects.
    pub expected: usize,
    /// Non-pass cases no entry expects, or with another verdict than expected.
    pub unexpected: usize,
    /// Entries whose case or item passed.
    pub now_passing: usize,
    /// Entries whose case or item did not run.
    pub not_run: usize,
}

impl Judged {
    pub fn counts(&self) -> Counts {
        let cases = |o: Outcome| self.cases.iter().filter(|c| c.outcome == o).count();
        let entries = |o: Outcome| self.entries.iter().filter(|e| e.outcome == o).count();
        Counts {
            expected: cases(Outcome::Expected),
            unexpected: cases(Outcome::Unexpected)
                + cases(Outcome::OtherVerdict)
                + self.entries.iter().filter(|e| is_item(e) && e.outcome == Outcome::OtherVerdict).count(),
            now_passing: entries(Outcome::NowPasses),
            not_run: entries(Outcome::NotRun),
        }
    }

    /// The exit code counting only unexpected results: 2 for an unexpected `error`, 1 for any
    /// other unexpected result (a stale entry included), else 0.
    pub fn exit_code(&self) -> u8 {
        let unexpected = |c: &&CaseJudgement| c.outcome.is_unexpected();
        if self.cases.iter().filter(unexpected).any(|c| c.verdict == Verdict::Error) {
            2
        } else if self.cases.iter().any(|c| c.outcome.is_unexpected())
            || self.entries.iter().any(|e| e.outcome.is_unexpected())
        {
            1
        } else {
            0
        }
    }

    /// The judgement of a case, for the JUnit writer.
    pub fn case(&self, id: &str) -> Option<&CaseJudgement> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The console's block after a run.
    pub fn render(&self) -> String {
        let c = self.counts();
        let mut out = format!(
            "expected results ({}): {} expected, {} unexpected, {} expected but now passing, {} not run\n",
            self.file, c.expected, c.unexpected, c.now_passing, c.not_run
        );
        for j in &self.cases {
            if j.outcome == Outcome::NowPasses {
                continue; // listed with the entries below
            }
            let why = match &j.expected {
                Some(e) if j.outcome == Outcome::Expected => format!(": {} ({})", e.reason, e.source),
                Some(e) => format!(": expected {} ({}: {})", e.verdict, e.source, e.reason),
                None => ": no expectation".into(),
            };
            out.push_str(&format!("  {:<13} {} {}{why}\n", j.outcome.label(), j.id, j.verdict));
        }
        for e in &self.entries {
            let x = &e.expectation;
            match e.outcome {
                Outcome::NowPasses => out.push_str(&format!(
                    "  {:<13} {}: expected {}, now passes ({}: {}); remove or update the entry\n",
                    e.outcome.label(),
                    x.subject,
                    x.verdict,
                    x.source,
                    x.reason
                )),
                Outcome::NotRun => out.push_str(&format!(
                    "  {:<13} {}: expected {}, {} ({})\n",
                    e.outcome.label(),
                    x.subject,
                    x.verdict,
                    e.actual.as_deref().map(|a| format!("verdict {a}")).unwrap_or_else(|| "not in the run".into()),
                    x.source
                )),
                Outcome::OtherVerdict if is_item(e) => out.push_str(&format!(
                    "  {:<13} {}: expected {}, item verdict {} ({})\n",
                    e.outcome.label(),
                    x.subject,
                    x.verdict,
                    e.actual.as_deref().unwrap_or("?"),
                    x.source
                )),
                _ => {}
            }
        }
        out
    }

    /// The `expectations` object of run.json.
    pub fn run_json(&self) -> Value {
        json!({ "file": self.file, "counts": self.counts(), "entries": self.entries })
    }
}

fn is_item(e: &EntryJudgement) -> bool {
    matches!(e.expectation.subject, Subject::Item(_))
}

/// Adds the expectations to the reports [`crate::report::write_all`] wrote into `dir`:
/// `run.json` (`expectations`, `cases[].expectation`), `coverage.json`
/// (`summary.expectations`, `items[].expectation`), `coverage.md` (a section) and `junit.xml`
/// (expected results as `<skipped>`, stale entries as `<failure>`).
pub fn annotate_reports(dir: &Path, run: &RunResult, judged: &Judged) -> std::io::Result<()> {
    let path = dir.join("run.json");
    let mut v = read_json(&path)?;
    if let Some(cases) = v.get_mut("cases").and_then(Value::as_array_mut) {
        for c in cases {
            let id = c.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            if let Some(j) = judged.case(&id) {
                c["expectation"] = case_expectation_json(j);
            }
        }
    }
    v["expectations"] = judged.run_json();
    write_json(&path, &v)?;

    let path = dir.join("coverage.json");
    let mut v = read_json(&path)?;
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            if let Some(e) = judged.entries.iter().find(|e| e.expectation.subject == Subject::Item(id.clone())) {
                item["expectation"] = json!({
                    "verdict": e.expectation.verdict, "reason": e.expectation.reason,
                    "source": e.expectation.source, "outcome": e.outcome,
                });
            }
        }
    }
    v["summary"]["expectations"] = json!(judged.counts());
    write_json(&path, &v)?;

    let path = dir.join("coverage.md");
    let mut md = std::fs::read_to_string(&path).map_err(|e| with_path(e, &path))?;
    md.push_str(&coverage_md_section(judged));
    std::fs::write(&path, md).map_err(|e| with_path(e, &path))?;

    let path = dir.join("junit.xml");
    let xml = crate::report::junit::junit_xml_annotated(run, time::OffsetDateTime::now_utc(), &|c: &CaseResult| {
        junit_annotation(judged, c)
    })?;
    std::fs::write(&path, xml).map_err(|e| with_path(e, &path))
}

fn case_expectation_json(j: &CaseJudgement) -> Value {
    let mut v = json!({ "outcome": j.outcome });
    if let Some(e) = &j.expected {
        v["verdict"] = json!(e.verdict);
        v["reason"] = json!(e.reason);
        v["source"] = json!(e.source);
    }
    v
}

fn junit_annotation(judged: &Judged, c: &CaseResult) -> Option<crate::report::junit::Annotation> {
    use crate::report::junit::Annotation;
    let j = judged.case(&c.id)?;
    let e = j.expected.as_ref()?;
    match j.outcome {
        Outcome::Expected => Some(Annotation::Expected(format!("expected {}: {} ({})", e.verdict, e.reason, e.source))),
        Outcome::NowPasses => Some(Annotation::NowPasses(format!(
            "expected {}, now passes: {} ({}); remove or update the entry",
            e.verdict, e.reason, e.source
        ))),
        _ => None,
    }
}

fn coverage_md_section(judged: &Judged) -> String {
    let c = judged.counts();
    let mut s = format!(
        "\n## Expected results\n\nFrom `{}`: {} expected, {} unexpected, {} expected but now passing, {} not run.\n\n\
         | Entry | Expected | Actual | Outcome | Reason |\n|---|---|---|---|---|\n",
        judged.file, c.expected, c.unexpected, c.now_passing, c.not_run
    );
    for e in &judged.entries {
        let x = &e.expectation;
        s.push_str(&format!(
            "| {} ({}) | {} | {} | {} | {} |\n",
            x.subject,
            x.source,
            x.verdict,
            e.actual.as_deref().unwrap_or("not in the run"),
            serde_json::to_value(e.outcome).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            x.reason.replace('|', "\\|")
        ));
    }
    let unexpected: Vec<String> = judged
        .cases
        .iter()
        .filter(|j| j.outcome == Outcome::Unexpected)
        .map(|j| format!("{} ({})", j.id, j.verdict))
        .collect();
    if !unexpected.is_empty() {
        s.push_str(&format!("\nUnexpected results (no entry): {}.\n", unexpected.join(", ")));
    }
    s
}

fn read_json(path: &Path) -> std::io::Result<Value> {
    let text = std::fs::read(path).map_err(|e| with_path(e, path))?;
    serde_json::from_slice(&text).map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
}

fn write_json(path: &Path, v: &Value) -> std::io::Result<()> {
    let mut s = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    s.push('\n');
    std::fs::write(path, s).map_err(|e| with_path(e, path))
}

fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(outcome_of("fail", Verdict::Fail), Outcome::Expected);
        assert_eq!(outcome_of("pass", Verdict::Fail), Outcome::NowPasses);
        assert_eq!(outcome_of("inconc", Verdict::Fail), Outcome::OtherVerdict);
        assert_eq!(outcome_of("not-applicable", Verdict::Fail), Outcome::NotRun);
        assert_eq!(outcome_of("not-selected", Verdict::Inconc), Outcome::NotRun);
    }
}
