//! `dmcts diff A B` (issue 13 §3): snapshots of the text and JSON output on fixture pairs
//! (tests/fixtures/diff: `base` → `regressed` has a new failure, a fix, a changed reason, a
//! reason that differs only by a loopback port, other changes, a case only in B, item changes
//! and another catalog digest; `base` → `improved` has only a fix and no coverage.json), the
//! exit codes (1 regresses, 0 otherwise, 2 unreadable input with path and JSON pointer), and a
//! diff of two real runs against the reference peers.
use std::path::PathBuf;
use std::process::Command;

fn dmcts(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BASE: &str = "tests/fixtures/diff/base";
const REGRESSED: &str = "tests/fixtures/diff/regressed";
const IMPROVED: &str = "tests/fixtures/diff/improved/run.json";

#[test]
fn a_regressing_pair_text() {
    let (code, out, err) = dmcts(&["diff", BASE, REGRESSED]);
    assert_eq!(code, Some(1), "{out}{err}");
    insta::assert_snapshot!("regressed_text", out);
}

#[test]
fn a_regressing_pair_json() {
    let (code, out, err) = dmcts(&["diff", BASE, REGRESSED, "--format", "json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["regresses"], true);
    insta::assert_snapshot!("regressed_json", out);
}

#[test]
fn an_improving_pair_exits_0_and_says_items_were_not_compared() {
    let (code, out, err) = dmcts(&["diff", &format!("{BASE}/run.json"), IMPROVED]);
    assert_eq!(code, Some(0), "{out}{err}");
    insta::assert_snapshot!("improved_text", out);
    let (code, out, _) = dmcts(&["diff", &format!("{BASE}/run.json"), IMPROVED, "--format", "json"]);
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("improved_json", out);
}

#[test]
fn a_run_compared_with_itself_has_no_change() {
    let (code, out, _) = dmcts(&["diff", BASE, BASE]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with("\nresult: no change\n"), "{out}");
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dmcts-diff-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn unreadable_input_exits_2_with_path_and_json_pointer() {
    let dir = scratch("bad");
    let (code, _, err) = dmcts(&["diff", BASE, dir.join("missing").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing: cannot read"), "{err}");

    let run = std::fs::read_to_string(format!("{BASE}/run.json")).unwrap();
    let bad = dir.join("bad-verdict");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("run.json"), run.replacen("\"verdict\": \"fail\"", "\"verdict\": 7", 1)).unwrap();
    let (code, _, err) = dmcts(&["diff", BASE, bad.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("bad-verdict/run.json: at /cases/1/verdict: invalid type: integer `7`, expected a string"),
        "{err}"
    );

    let no_cases = dir.join("no-cases.json");
    std::fs::write(&no_cases, r#"{"schema_version": 1, "suite_version": "0.1.0", "catalog_digest": "d"}"#).unwrap();
    let (code, _, err) = dmcts(&["diff", no_cases.to_str().unwrap(), BASE]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no-cases.json: at / (the document): missing field `cases`"), "{err}");

    let bad_cov = dir.join("bad-coverage");
    std::fs::create_dir_all(&bad_cov).unwrap();
    std::fs::write(bad_cov.join("run.json"), &run).unwrap();
    std::fs::write(bad_cov.join("coverage.json"), r#"{"items": [{"id": "I-1", "verdict": null}]}"#).unwrap();
    let (code, _, err) = dmcts(&["diff", BASE, bad_cov.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad-coverage/coverage.json: at /items/0/verdict: invalid type: null"), "{err}");

    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "junit?").unwrap();
    let (code, _, err) = dmcts(&["diff", not_json.to_str().unwrap(), BASE]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not.json: at / (the document): not JSON"), "{err}");
}

#[test]
fn two_real_runs_a_fault_is_a_new_failure_and_its_item_regresses() {
    let dir = scratch("real");
    let run = |name: &str, fault: Option<&str>| {
        let reports = dir.join(name);
        let mut args = vec!["run", "--against", "reference", "--role", "client"];
        if let Some(f) = fault {
            args.extend(["--fault", f]);
        }
        args.extend(["--report-dir", reports.to_str().unwrap(), "--", "TC-DMC-P0"]);
        dmcts(&args);
        reports.to_str().unwrap().to_string()
    };
    let (clean, faulty) = (run("clean", None), run("faulty", Some("client.notification-id-not-echoed")));
    let (code, out, err) = dmcts(&["diff", &clean, &faulty]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("new failures (1):\n  TC-DMC-P0-002: pass -> fail: step 3: check failed: session-alert"),
        "{out}"
    );
    assert!(out.contains("  DM-PACK-007-C-O: pass -> fail (regression)"), "{out}");
    let (code, out, _) = dmcts(&["diff", &faulty, &clean]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("fixes (1):\n  TC-DMC-P0-002: fail -> pass"), "{out}");
    // Two clean runs differ in ports and timings only: no change.
    let again = run("clean-again", None);
    let (code, out, _) = dmcts(&["diff", &clean, &again]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with("result: no change\n"), "{out}");
}
