//! CI gate of issue 4: every case passes on the clean reference peers, fails on each reference
//! fault it declares, every catalogued fault is caught by some case, and every case catches one.
//! Issue 8 §4: each caught fault is charged to an SCR item the fault violates, and only there.
use dmcts::catalog::Catalog;
use dmcts::scr::Registry;
use std::path::Path;
use std::sync::Arc;

#[test]
fn every_case_passes_clean_and_catches_its_faults() {
    let registry = Arc::new(Registry::load_dir(Path::new("scr")).expect("SCR tables"));
    let catalog = Arc::new(Catalog::load_dir(Path::new("cases"), &registry).expect("case catalog"));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let report = rt.block_on(dmcts::selftest::selftest(registry, catalog));
    let summary = dmcts::selftest::summary(&report);
    assert!(report.ok, "{summary}");
    assert!(report.uncaught_faults.is_empty() && report.cases_without_fault.is_empty(), "{summary}");
    assert!(report.misattributed.is_empty(), "{summary}");
}
