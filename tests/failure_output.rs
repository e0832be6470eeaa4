//! What a vendor reads when a case fails: the SCR item, the requirement, expected and actual,
//! and the trace of the exchange. Shown on a real failure: the reference client switched into
//! `client.p3-after-end` sends a Package#3 after END.
use dmcts::catalog::Catalog;
use dmcts::scr::Registry;
use dmcts::verdict::Verdict;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

#[test]
fn a_failed_case_names_item_requirement_expected_actual_and_trace() {
    let registry = Arc::new(Registry::load_dir(Path::new("scr")).unwrap());
    let catalog = Catalog::load_dir(Path::new("cases"), &registry).unwrap();
    let case = catalog.get("TC-DMC-SESS-003").expect("case").clone();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let faults: BTreeSet<String> = ["client.p3-after-end".to_string()].into();
    let result = rt.block_on(dmcts::runner::run::run_against_reference(&case, registry, faults));
    assert_eq!(result.verdict, Verdict::Fail);
    let reason = result.reason.as_ref().unwrap();
    assert_eq!(reason.scr.as_deref(), Some("DM-PACK-022-C-M"));
    let full = dmcts::report::case_text(&result);
    // The trace shows the exchange that led there: the Package#2 with END...
    assert!(full.contains(r#"/sink/with-end","urn:oma:mo:oma-dm-devinfo:1.0//DevID"],["END"]]}"#), "{full}");
    // ...and the snapshot pins the reason and the violating request. (Where the client's
    // Package#1 lands relative to the session.start answer is a benign race, so the earlier
    // part of the trace is not pinned.)
    let (head, trace) = full.split_once("--- trace ---").expect("a trace section");
    let tail_start = trace.rfind("HTTP request iut -> suite").expect("the violating request");
    let line_start = trace[..tail_start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let text = format!("{head}--- trace (from the violating request) ---\n{}", &trace[line_start..]);
    insta::with_settings!({
        filters => vec![
            (r"t=\d+ ms", "t=[ms]"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
            (r"(?m)^(\s*date: ).*$", "${1}[date]"),
            (r"duration: \d+ ms", "duration: [ms]"),
            (r"\d+ ms\)", "[ms])"),
            // Whether the late request lands before or after the loop enters the silence step
            // is a benign race.
            (r"step \d\] HTTP request", "step [n]] HTTP request"),
            (r"(?m)^\[t=\[ms\], step \d\] note: step \d \(expect-silence\)\n", ""),
            (r"(?m)^\[t=\[ms\], step \d\] note: .* came before the suite's last answer: not part of the silence\n", ""),
        ]
    }, {
        insta::assert_snapshot!("failed_case_p3_after_end", text);
    });
}
