//! `run.json` and `traces/<case>.json`: the machine-readable results CI scripts read.
//! Documented in `docs/reports.md`; within schema_version 1 keys are only ever added.
use super::trace_stems;
use crate::runner::result::RunResult;
use crate::verdict::Verdict;
use serde_json::{json, Map, Value};

/// Version of the `run.json` / trace JSON layout. Bumped only when a key is removed or renamed.
pub const SCHEMA_VERSION: u32 = 1;

const CASE_VERDICTS: [Verdict; 8] = [
    Verdict::Pass,
    Verdict::Fail,
    Verdict::Inconc,
    Verdict::Error,
    Verdict::NotApplicable,
    Verdict::Skipped,
    Verdict::NotTested,
    Verdict::NotSelected,
];

/// Case count per verdict (every verdict present) plus `total`.
pub fn case_counts(run: &RunResult) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("total".into(), json!(run.cases.len()));
    for v in CASE_VERDICTS {
        m.insert(v.as_str().into(), json!(run.cases.iter().filter(|c| c.verdict == v).count()));
    }
    m
}

pub fn run_json(run: &RunResult) -> Value {
    let stems = trace_stems(run);
    let cases: Vec<Value> = run
        .cases
        .iter()
        .zip(&stems)
        .map(|(c, stem)| {
            let mut v = json!({
                "id": c.id,
                "title": c.title,
                "role": c.role,
                "verdict": c.verdict,
                "reason": c.reason,
                "covers": c.covers,
                "duration_ms": c.duration_ms,
                "trace": format!("traces/{stem}.json"),
            });
            if !c.evidence.is_empty() {
                v["evidence"] = json!(c.evidence);
            }
            if !c.inferred.is_empty() {
                v["inferred"] = json!(c.inferred);
            }
            if !c.informational.is_empty() {
                v["informational"] = json!(c.informational);
            }
            v
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "suite_version": run.suite_version,
        "catalog_digest": run.catalog_digest,
        "catalog": run.catalog,
        "interrupted": run.interrupted,
        "iut": run.iut,
        "summary": case_counts(run),
        "cases": cases,
        "late_traffic": run.late_traffic,
        "selection": run.selection,
    })
}

/// `traces/<case>.json` for the case at `index` of the run.
pub fn trace_json(run: &RunResult, index: usize) -> Option<Value> {
    let c = run.cases.get(index)?;
    Some(json!({
        "schema_version": SCHEMA_VERSION,
        "case": c.id,
        "verdict": c.verdict,
        "entries": c.trace,
    }))
}
