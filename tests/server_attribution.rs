//! Issue 8 §4 and issue 15, server half: every server case runs against every server fault of
//! the reference server (the selftest only runs each case against the faults it declares).
//! Whatever a case catches must be charged to an item the fault violates, and no fault may make
//! a case end in `error`. The faults added for issue 15 close gaps: each must be caught by the
//! cases that declare it and by no older case, or the gap was not one.
use dmcts::verdict::Verdict;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// One run: the case, the fault, the verdict, the item charged and the reason's first line.
struct Run {
    case: String,
    fault: String,
    verdict: Verdict,
    charged: String,
    declared: bool,
    why: String,
}

fn matrix() -> Vec<Run> {
    let registry = Arc::new(dmcts::scr::Registry::load_dir(Path::new("scr")).unwrap());
    let catalog = dmcts::catalog::Catalog::load_dir(Path::new("cases"), &registry).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut jobs = tokio::task::JoinSet::new();
        for case in catalog.cases.iter().filter(|c| c.role == dmcts::scr::Role::Server) {
            // Only the faults of the peer that speaks the case's protocol can change its verdict.
            let family = dmcts::binding::family_of(&case.binding);
            for f in &dmcts::reference::faults::of_family(dmcts::scr::Role::Server, family) {
                let (case, registry, sem) = (case.clone(), registry.clone(), sem.clone());
                let fault = f.name.to_string();
                jobs.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    let (verdict, reason, charged) =
                        dmcts::selftest::run_case(&case, registry, [fault.clone()].into()).await;
                    Run {
                        declared: case.detects.contains(&fault),
                        case: case.id,
                        fault,
                        verdict,
                        charged: charged.unwrap_or_else(|| "no item".into()),
                        why: reason.unwrap_or_default().lines().next().unwrap_or_default().to_string(),
                    }
                });
            }
        }
        let mut runs = Vec::new();
        while let Some(r) = jobs.join_next().await {
            runs.push(r.unwrap());
        }
        runs
    })
}

#[test]
fn every_server_case_charges_every_server_fault_only_to_an_item_it_violates() {
    let mut wrong: Vec<String> = matrix()
        .into_iter()
        .filter_map(|r| {
            let fault = dmcts::reference::faults::find(&r.fault).unwrap();
            dmcts::selftest::misattribution(&r.case, &fault, r.verdict, Some(&r.why), Some(&r.charged))
        })
        .collect();
    wrong.sort();
    assert!(wrong.is_empty(), "{} misattributed verdict(s):\n{}", wrong.len(), wrong.join("\n"));
}

/// The gaps issue 15 closed, as reference faults: before, no case failed on them.
const ISSUE_15_FAULTS: &[&str] = &[
    "server.notification-reserved-bits",
    "server.notification-server-id-too-long",
    "server.notification-wrong-server-id",
    "server.notification-id-repeated",
    "server.notification-timestamp-width",
    "server.notification-timestamp-ms",
    "server.notification-req-mos-always",
    "server.server-initiated-ignored",
    "server.notification-unmatched",
    "server.mos-ignored",
    "server.p3-alert-rejected",
    "server.hget-uri-ignored",
];

#[test]
fn the_faults_of_issue_15_are_caught_only_by_the_cases_that_declare_them() {
    let mut caught: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut declared: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in matrix() {
        let Some(f) = ISSUE_15_FAULTS.iter().find(|f| **f == r.fault) else { continue };
        if r.verdict == Verdict::Fail {
            caught.entry(f).or_default().insert(r.case.clone());
        }
        if r.declared {
            declared.entry(f).or_default().insert(r.case);
        }
    }
    for f in ISSUE_15_FAULTS {
        let (c, d) = (caught.remove(f).unwrap_or_default(), declared.remove(f).unwrap_or_default());
        assert!(!d.is_empty(), "no case declares {f}");
        assert_eq!(c, d, "{f}: the cases that fail under it (left) are not those that declare it (right)");
    }
}
