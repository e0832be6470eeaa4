//! Issue 8 §4 for GwMO (issue 12): every GwMO case against every GwMO fault of the reference
//! peer that plays its IUT (the gateway's `client.gw-*`, the server's `server.gw-*`; on SyncML DM
//! 1.2 the `…gw12-*` of the DM 1.2 peers); whatever a case
//! catches must be charged to an item the fault violates (a guarded preparation is at most
//! inconclusive), and no fault makes a case end in `error`. Only these cases can see these
//! faults, so only they are paired (the other cases' peers do not have them).
use dmcts::verdict::Verdict;
use std::path::Path;
use std::sync::Arc;

#[test]
fn every_gwmo_case_charges_every_gwmo_fault_only_to_an_item_it_violates() {
    let registry = Arc::new(dmcts::scr::Registry::load_dir(Path::new("scr")).unwrap());
    let catalog = dmcts::catalog::Catalog::load_dir(Path::new("cases"), &registry).unwrap();
    let faults: Vec<_> = dmcts::reference::faults::catalog()
        .into_iter()
        .filter(|f| ["client.gw-", "server.gw-", "client.gw12-", "server.gw12-"].iter().any(|p| f.name.starts_with(p)))
        .collect();
    // A fault lives in the peer of one protocol: the DM 1.2 peers' are `gw12-`.
    let same_protocol = |case: &dmcts::catalog::Case, f: &dmcts::reference::faults::FaultInfo| {
        let dm12 = dmcts::binding::family_of(&case.binding) == dmcts::binding::dm12::NAME_XML;
        f.role == case.role && f.name.contains(".gw12-") == dm12
    };
    assert!(faults.len() >= 14, "one fault at least per GwMO item: {}", faults.len());
    let cases: Vec<_> =
        catalog.cases.iter().filter(|c| c.covers.iter().any(|i| i.starts_with("GWMO-"))).cloned().collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (wrong, caught) = rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(4));
        let mut jobs = tokio::task::JoinSet::new();
        for case in &cases {
            for f in faults.iter().filter(|f| same_protocol(case, f)).cloned() {
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
        (wrong, caught)
    });
    assert!(wrong.is_empty(), "{} misattributed verdict(s):\n{}", wrong.len(), wrong.join("\n"));
    let missed: Vec<_> = faults.iter().filter(|f| !caught.contains(f.name)).map(|f| f.name).collect();
    assert!(missed.is_empty(), "GwMO faults no GwMO case catches: {missed:?}");
}

/// The reference DM 1.2 client as a DM Gateway breaks every GwMO gateway item with a fault of
/// its own (counted from the table).
#[test]
fn every_gwmo_gateway_item_is_broken_by_a_gw12_fault() {
    let registry = dmcts::scr::Registry::load_dir(Path::new("scr")).unwrap();
    let faults: Vec<_> =
        dmcts::reference::faults::catalog().into_iter().filter(|f| f.name.starts_with("client.gw12-")).collect();
    let unbroken: Vec<String> = registry
        .items()
        .iter()
        .filter(|i| i.id.starts_with("GWMO-") && i.role == dmcts::scr::Role::Client)
        .filter(|i| !faults.iter().any(|f| f.violates.contains(&i.id.as_str())))
        .map(|i| i.id.clone())
        .collect();
    assert!(unbroken.is_empty(), "GwMO gateway items no gw12 fault breaks: {unbroken:?}");
}
