//! Issue 8 §4 for GwMO (issue 12): every GwMO case against every GwMO fault of its role's
//! reference peer of the same protocol — the DM 2.0 gateway's `client.gw-*` and the server's
//! `server.gw-*` with the DM 2.0 cases, the reference DM 1.2 client's (a DM Gateway too)
//! `client.gw12-*` with the DM 1.2 cases; whatever a case catches must be charged to an item the
//! fault violates (a guarded preparation is at most inconclusive), and no fault makes a case end
//! in `error`. Only these cases can see these faults, so only they are paired (the other cases'
//! peers do not have them).
use dmcts::catalog::Case;
use dmcts::reference::faults::FaultInfo;
use dmcts::verdict::Verdict;
use std::path::Path;
use std::sync::Arc;

fn setup() -> (Arc<dmcts::scr::Registry>, dmcts::catalog::Catalog) {
    let registry = Arc::new(dmcts::scr::Registry::load_dir(Path::new("scr")).unwrap());
    let catalog = dmcts::catalog::Catalog::load_dir(Path::new("cases"), &registry).unwrap();
    (registry, catalog)
}

fn gwmo_cases(catalog: &dmcts::catalog::Catalog, family: &str) -> Vec<Case> {
    catalog
        .cases
        .iter()
        .filter(|c| c.covers.iter().any(|i| i.starts_with("GWMO-")))
        .filter(|c| dmcts::binding::family_of(&c.binding) == family)
        .cloned()
        .collect()
}

/// Runs every case against every fault of its role; the misattributed verdicts and the faults
/// some case caught.
fn judge(
    registry: Arc<dmcts::scr::Registry>,
    cases: &[Case],
    faults: &[FaultInfo],
) -> (Vec<String>, Vec<&'static str>) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(4));
        let mut jobs = tokio::task::JoinSet::new();
        for case in cases {
            for f in faults.iter().filter(|f| f.role == case.role).cloned() {
                let (case, registry, sem) = (case.clone(), registry.clone(), sem.clone());
                jobs.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    let (v, reason, charged) =
                        dmcts::selftest::run_case(&case, registry, [f.name.to_string()].into()).await;
                    let wrong = dmcts::selftest::misattribution(&case.id, &f, v, reason.as_deref(), charged.as_deref());
                    (wrong, (v == Verdict::Fail).then_some(f.name))
                });
            }
        }
        let (mut wrong, mut caught) = (Vec::new(), std::collections::BTreeSet::new());
        while let Some(r) = jobs.join_next().await {
            let (w, c) = r.unwrap();
            wrong.extend(w);
            caught.extend(c);
        }
        wrong.sort();
        (wrong, caught.into_iter().collect())
    })
}

#[test]
fn every_gwmo_case_charges_every_gwmo_fault_only_to_an_item_it_violates() {
    let (registry, catalog) = setup();
    let faults: Vec<_> = dmcts::reference::faults::catalog()
        .into_iter()
        .filter(|f| f.name.starts_with("client.gw-") || f.name.starts_with("server.gw-"))
        .collect();
    assert!(faults.len() >= 14, "one fault at least per GwMO item: {}", faults.len());
    let cases = gwmo_cases(&catalog, dmcts::binding::DEFAULT_BINDING);
    let (wrong, caught) = judge(registry, &cases, &faults);
    assert!(wrong.is_empty(), "{} misattributed verdict(s):\n{}", wrong.len(), wrong.join("\n"));
    let missed: Vec<_> = faults.iter().filter(|f| !caught.contains(&f.name)).map(|f| f.name).collect();
    assert!(missed.is_empty(), "GwMO faults no GwMO case catches: {missed:?}");
}

#[test]
fn every_gwmo_dm12_case_charges_every_gw12_fault_only_to_an_item_it_violates() {
    let (registry, catalog) = setup();
    let faults: Vec<_> =
        dmcts::reference::faults::catalog().into_iter().filter(|f| f.name.starts_with("client.gw12-")).collect();
    // At least one fault per GwMO gateway item, counted from the table.
    let items: Vec<String> = registry
        .items()
        .iter()
        .filter(|i| i.id.starts_with("GWMO-") && i.role == dmcts::scr::Role::Client)
        .map(|i| i.id.clone())
        .collect();
    let unbroken: Vec<_> = items.iter().filter(|i| !faults.iter().any(|f| f.violates.contains(&i.as_str()))).collect();
    assert!(unbroken.is_empty(), "GwMO gateway items no gw12 fault breaks: {unbroken:?}");
    let cases: Vec<Case> = gwmo_cases(&catalog, dmcts::binding::dm12::NAME_XML)
        .into_iter()
        .filter(|c| c.role == dmcts::scr::Role::Client)
        .collect();
    assert!(!cases.is_empty(), "the GwMO DM 1.2 gateway cases");
    let (wrong, caught) = judge(registry, &cases, &faults);
    assert!(wrong.is_empty(), "{} misattributed verdict(s):\n{}", wrong.len(), wrong.join("\n"));
    let missed: Vec<_> = faults.iter().filter(|f| !caught.contains(&f.name)).map(|f| f.name).collect();
    assert!(missed.is_empty(), "gw12 faults no GwMO DM 1.2 case catches: {missed:?}");
}
