//! `dmcts selftest`: the suite proves its own verdicts. Every case runs against the clean
//! reference peer (it must pass) and against each reference fault it declares in `detects`
//! (it must fail — not error, not inconc). Every catalogued fault must be caught by some case,
//! and every case must catch some fault: a case that cannot fail is a defect.
use crate::catalog::{Case, Catalog};
use crate::reference::faults;
use crate::scr::Registry;
use crate::verdict::Verdict;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// At most this many case runs at once (each has its own peers and ports).
const PARALLEL: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct CaseOutcome {
    pub id: String,
    pub clean: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clean_reason: Option<String>,
    /// Fault name → observed verdict.
    pub faults: BTreeMap<String, Verdict>,
    /// Fault name → the SCR item the failure was charged to.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub charged: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Selftest {
    pub suite_version: String,
    pub cases: Vec<CaseOutcome>,
    /// Catalogued faults that no case caught.
    pub uncaught_faults: Vec<String>,
    /// Cases that declare no fault.
    pub cases_without_fault: Vec<String>,
    /// (case, fault) pairs where a declared fault was not caught (observed verdict not fail).
    pub missed: Vec<(String, String, Verdict)>,
    /// Cases that did not pass on the clean reference.
    pub clean_failures: Vec<String>,
    /// (case, fault, charged item) where a caught fault's failure was charged to an SCR item
    /// the fault does not violate: the verdict is right, its attribution wrong.
    pub misattributed: Vec<(String, String, String)>,
    pub ok: bool,
}

pub struct SelftestOutcome {
    pub ok: bool,
    pub summary: String,
    pub report: Selftest,
}

/// Runs one case against the reference peers with the given faults: the verdict, its reason
/// rendered, and the SCR item it was charged to.
pub async fn run_case(
    case: &Case,
    registry: Arc<Registry>,
    faults: BTreeSet<String>,
) -> (Verdict, Option<String>, Option<String>) {
    let r = crate::runner::run::run_against_reference(case, registry, faults).await;
    let charged = r.reason.as_ref().and_then(|r| r.scr.clone());
    (r.verdict, r.reason.map(|r| r.render()), charged)
}

/// What is wrong with a case's verdict under one reference fault, if anything: a failure charged
/// to an SCR item the fault does not violate (the verdict right, its attribution wrong), or an
/// `error`. None when the case passed, was inconclusive, or failed on an item the fault violates.
/// `reason` and `charged` are what [`run_case`] returned.
pub fn misattribution(
    case_id: &str,
    fault: &faults::FaultInfo,
    verdict: Verdict,
    reason: Option<&str>,
    charged: Option<&str>,
) -> Option<String> {
    let why = reason.unwrap_or_default().lines().next().unwrap_or_default();
    let charged = charged.unwrap_or("no item");
    match verdict {
        Verdict::Fail if !fault.violates.contains(&charged) => {
            Some(format!("{case_id} charged {} to {charged} (it violates {:?}): {why}", fault.name, fault.violates))
        }
        Verdict::Error => Some(format!("{case_id} ended in error under {}: {why}", fault.name)),
        _ => None,
    }
}

/// Runs the selftest and writes `selftest.json` into `report_dir`.
pub fn run(registry: Arc<Registry>, catalog: Arc<Catalog>, report_dir: &Path) -> anyhow::Result<SelftestOutcome> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(selftest(registry, catalog));
    std::fs::create_dir_all(report_dir)?;
    std::fs::write(report_dir.join("selftest.json"), serde_json::to_string_pretty(&report)?)?;
    let summary = summary(&report);
    std::fs::write(report_dir.join("selftest.txt"), &summary)?;
    Ok(SelftestOutcome { ok: report.ok, summary, report })
}

pub async fn selftest(registry: Arc<Registry>, catalog: Arc<Catalog>) -> Selftest {
    let sem = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut jobs = tokio::task::JoinSet::new();
    for (ci, case) in catalog.cases.iter().enumerate() {
        let runs: Vec<Option<String>> = std::iter::once(None).chain(case.detects.iter().cloned().map(Some)).collect();
        for fault in runs {
            let (case, registry, sem) = (case.clone(), registry.clone(), sem.clone());
            jobs.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let faults: BTreeSet<String> = fault.iter().cloned().collect();
                let (v, reason, charged) = run_case(&case, registry, faults).await;
                (ci, fault, v, reason, charged)
            });
        }
    }
    let mut outcomes: Vec<CaseOutcome> = catalog
        .cases
        .iter()
        .map(|c| CaseOutcome {
            id: c.id.clone(),
            clean: Verdict::Error,
            clean_reason: None,
            faults: BTreeMap::new(),
            charged: BTreeMap::new(),
        })
        .collect();
    while let Some(r) = jobs.join_next().await {
        match r {
            Ok((ci, None, v, reason, _)) => {
                outcomes[ci].clean = v;
                outcomes[ci].clean_reason = if v == Verdict::Pass { None } else { reason };
            }
            Ok((ci, Some(f), v, _, charged)) => {
                if let Some(item) = charged {
                    outcomes[ci].charged.insert(f.clone(), item);
                }
                outcomes[ci].faults.insert(f, v);
            }
            Err(e) => eprintln!("selftest: a case run panicked: {e}"),
        }
    }
    let caught: BTreeSet<&str> = outcomes
        .iter()
        .flat_map(|o| o.faults.iter().filter(|(_, v)| **v == Verdict::Fail).map(|(f, _)| f.as_str()))
        .collect();
    let uncaught_faults: Vec<String> =
        faults::catalog().iter().filter(|f| !caught.contains(f.name)).map(|f| f.name.to_string()).collect();
    let cases_without_fault: Vec<String> =
        catalog.cases.iter().filter(|c| c.detects.is_empty()).map(|c| c.id.clone()).collect();
    let missed: Vec<(String, String, Verdict)> = outcomes
        .iter()
        .flat_map(|o| o.faults.iter().filter(|(_, v)| **v != Verdict::Fail).map(|(f, v)| (o.id.clone(), f.clone(), *v)))
        .collect();
    let clean_failures: Vec<String> =
        outcomes.iter().filter(|o| o.clean != Verdict::Pass).map(|o| o.id.clone()).collect();
    // A caught fault must be charged to an item it violates: a right verdict for the wrong
    // reason would mislead a vendor as much as a wrong one.
    let misattributed: Vec<(String, String, String)> = outcomes
        .iter()
        .flat_map(|o| {
            o.faults.iter().filter(|(_, v)| **v == Verdict::Fail).filter_map(|(f, _)| {
                let charged = o.charged.get(f).cloned().unwrap_or_else(|| "no item".into());
                let violates = faults::find(f).map(|i| i.violates).unwrap_or_default();
                (!violates.contains(&charged.as_str())).then(|| (o.id.clone(), f.clone(), charged))
            })
        })
        .collect();
    let ok = uncaught_faults.is_empty()
        && cases_without_fault.is_empty()
        && missed.is_empty()
        && clean_failures.is_empty()
        && misattributed.is_empty();
    Selftest {
        suite_version: crate::SUITE_VERSION.to_string(),
        cases: outcomes,
        uncaught_faults,
        cases_without_fault,
        missed,
        clean_failures,
        misattributed,
        ok,
    }
}

pub fn summary(s: &Selftest) -> String {
    let total_faults = faults::catalog().len();
    let clean_pass = s.cases.iter().filter(|c| c.clean == Verdict::Pass).count();
    let declared: usize = s.cases.iter().map(|c| c.faults.len()).sum();
    let mut out = format!(
        "selftest: {clean_pass}/{} cases pass on the clean reference; {}/{declared} declared (case, fault) pairs caught; \
         {}/{total_faults} catalogued faults caught by some case\n",
        s.cases.len(),
        declared - s.missed.len(),
        total_faults - s.uncaught_faults.len(),
    );
    for c in &s.cases {
        if c.clean != Verdict::Pass {
            out.push_str(&format!(
                "  CLEAN NOT PASS  {} ({}): {}\n",
                c.id,
                c.clean,
                c.clean_reason.as_deref().unwrap_or("").replace('\n', "\n      ")
            ));
        }
    }
    for (case, fault, v) in &s.missed {
        out.push_str(&format!("  MISSED          {case} did not catch {fault} (verdict {v}, expected fail)\n"));
    }
    for (case, fault, item) in &s.misattributed {
        let violates = faults::find(fault).map(|i| i.violates.join(", ")).unwrap_or_default();
        out.push_str(&format!("  MISATTRIBUTED   {case} charged {fault} to {item}; the fault violates {violates}\n"));
    }
    for f in &s.uncaught_faults {
        out.push_str(&format!("  UNCAUGHT FAULT  {f}: no case catches it\n"));
    }
    for c in &s.cases_without_fault {
        out.push_str(&format!(
            "  NO FAULT        {c} declares no fault it catches (a case that cannot fail is a defect)\n"
        ));
    }
    out.push_str(if s.ok { "selftest: OK\n" } else { "selftest: FAILED\n" });
    out
}
