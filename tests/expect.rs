//! `dmcts run --expect FILE` (issue 13 §2), shown on real runs against the reference peers
//! with injected faults: the exit code counts only unexpected results, every report shows
//! expected and unexpected apart, an expected failure that now passes is reported (and exits
//! 1, strict like pytest's xfail), and a bad expectations file is an exit-2 error naming
//! file:line, before any traffic.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dmcts-expect-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary: exit code and stdout+stderr.
fn dmcts(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The reference client's Package#0 cases (their names start with TC-DMC-P0), switched into
/// `fault` when given, judged against `expect`.
fn run_p0(dir: &Path, fault: Option<&str>, expect: &str) -> (Option<i32>, String) {
    let file = dir.join("expect.toml");
    std::fs::write(&file, expect).unwrap();
    let reports = dir.join("reports");
    let mut args = vec!["run", "--against", "reference", "--role", "client"];
    if let Some(f) = fault {
        args.extend(["--fault", f]);
    }
    args.extend(["--expect", file.to_str().unwrap(), "--report-dir", reports.to_str().unwrap(), "--", "TC-DMC-P0"]);
    dmcts(&args)
}

fn json(path: PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn case<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()
}

fn junit_validates(path: &Path) {
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema", "tests/schemas/junit.xsd"])
        .arg(path)
        .output()
        .expect("xmllint is needed for the JUnit schema check: apt-get install libxml2-utils");
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
}

#[test]
fn an_expected_failure_leaves_the_exit_code_0_and_every_report_says_it_was_expected() {
    let dir = scratch("expected");
    let (code, out) = run_p0(
        &dir,
        Some("client.notification-id-not-echoed"),
        "[[expect]]\nitem = \"DM-PACK-007-C-O\"\nverdict = \"fail\"\nreason = \"waiver W-17: NOTIFICATION-ID echo comes in firmware 2.1\"\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 expected, 0 unexpected, 0 expected but now passing, 0 not run"), "{out}");
    assert!(out.contains("expected      TC-DMC-P0-002 fail: waiver W-17"), "{out}");
    let reports = dir.join("reports");
    let run = json(reports.join("run.json"));
    // The case data and the summary stay as they were: the verdict is still fail.
    assert_eq!(case(&run, "TC-DMC-P0-002")["verdict"], "fail");
    assert_eq!(run["summary"]["fail"], 1);
    let exp = &case(&run, "TC-DMC-P0-002")["expectation"];
    assert_eq!(exp["outcome"], "expected");
    assert_eq!(exp["item"], Value::Null);
    assert_eq!(exp["verdict"], "fail");
    assert!(exp["source"].as_str().unwrap().ends_with("expect.toml:1"), "{exp}");
    assert_eq!(run["expectations"]["counts"]["expected"], 1);
    assert_eq!(run["expectations"]["entries"][0]["item"], "DM-PACK-007-C-O");
    assert_eq!(run["expectations"]["entries"][0]["outcome"], "expected");
    let cov = json(reports.join("coverage.json"));
    let item = cov["items"].as_array().unwrap().iter().find(|i| i["id"] == "DM-PACK-007-C-O").unwrap();
    assert_eq!(item["verdict"], "fail");
    assert_eq!(item["expectation"]["outcome"], "expected");
    assert_eq!(cov["summary"]["expectations"]["expected"], 1);
    let md = std::fs::read_to_string(reports.join("coverage.md")).unwrap();
    assert!(md.contains("## Expected results"), "{md}");
    assert!(md.contains("| item DM-PACK-007-C-O ("), "{md}");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<skipped type="expected" message="expected fail: waiver W-17"#), "{junit}");
    junit_validates(&reports.join("junit.xml"));
}

#[test]
fn an_unexpected_result_still_fails_the_run_and_is_shown_apart() {
    let dir = scratch("unexpected");
    let (code, out) = run_p0(
        &dir,
        Some("client.notification-id-not-echoed"),
        "[[expect]]\ncase = \"TC-DMC-P0-003\"\nverdict = \"fail\"\nreason = \"defect #4\"\n\n\
         [[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"inconc\"\nreason = \"defect #5\"\n",
    );
    assert_eq!(code, Some(1), "{out}");
    // TC-DMC-P0-002 failed where an inconc was expected; TC-DMC-P0-003 passes now.
    assert!(out.contains("0 expected, 1 unexpected, 1 expected but now passing"), "{out}");
    assert!(out.contains("OTHER VERDICT TC-DMC-P0-002 fail: expected inconc"), "{out}");
    assert!(out.contains("NOW PASSES    case TC-DMC-P0-003: expected fail, now passes"), "{out}");
    let run = json(dir.join("reports/run.json"));
    assert_eq!(case(&run, "TC-DMC-P0-002")["expectation"]["outcome"], "other-verdict");
    assert_eq!(case(&run, "TC-DMC-P0-003")["expectation"]["outcome"], "now-passes");
    junit_validates(&dir.join("reports/junit.xml"));
}

#[test]
fn a_failure_no_entry_expects_is_unexpected() {
    let dir = scratch("no-entry");
    let (code, out) = run_p0(
        &dir,
        Some("client.accept-wrong-ver"),
        "[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"fail\"\nreason = \"defect #5\"\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("UNEXPECTED    TC-DMC-P0-004 fail: no expectation"), "{out}");
    let run = json(dir.join("reports/run.json"));
    assert_eq!(case(&run, "TC-DMC-P0-004")["expectation"]["outcome"], "unexpected");
}

#[test]
fn an_expected_failure_that_now_passes_is_reported_and_exits_1() {
    let dir = scratch("now-passes");
    let (code, out) =
        run_p0(&dir, None, "[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"fail\"\nreason = \"defect #12\"\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("case TC-DMC-P0-002: expected fail, now passes"), "{out}");
    assert!(out.contains("remove or update the entry"), "{out}");
    let junit = std::fs::read_to_string(dir.join("reports/junit.xml")).unwrap();
    assert!(
        junit.contains(r#"<failure type="expected-fail-now-passes" message="expected fail, now passes: defect #12"#)
    );
    junit_validates(&dir.join("reports/junit.xml"));
    let run = json(dir.join("reports/run.json"));
    assert_eq!(run["expectations"]["counts"]["now_passing"], 1);
    assert_eq!(run["expectations"]["entries"][0]["actual"], "pass");
}

#[test]
fn an_entry_whose_case_does_not_run_is_not_run_and_counts_for_nothing() {
    let dir = scratch("not-run");
    // The filter runs only the Package#0 cases: the session case is not selected.
    let (code, out) =
        run_p0(&dir, None, "[[expect]]\ncase = \"TC-DMC-SESS-001\"\nverdict = \"fail\"\nreason = \"defect #1\"\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("not run       case TC-DMC-SESS-001: expected fail, verdict not-selected"), "{out}");
}

/// Each bad file: its text, and what the error must say (after `expect.toml:`).
const BAD: &[(&str, &str)] = &[
    ("[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"fail\"\nreason = \"x\"\nticket = 4\n", "5: unknown field `ticket`"),
    ("[[expect]]\ncase = \"TC-NOPE\"\nverdict = \"fail\"\nreason = \"x\"\n", "2: case \"TC-NOPE\": no such case in the catalog"),
    ("\n[[expect]]\nitem = \"DM-PACK-999-C-M\"\nverdict = \"fail\"\nreason = \"x\"\n", "3: item \"DM-PACK-999-C-M\": no such SCR item"),
    ("[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"broken\"\nreason = \"x\"\n", "3: verdict \"broken\": expected one of fail, inconc, error, not-tested"),
    ("[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"pass\"\nreason = \"x\"\n", "3: verdict \"pass\": every case is expected to pass unless listed"),
    ("[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"fail\"\n", "1: case TC-DMC-P0-002: `reason` is missing"),
    ("[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"fail\"\nreason = \"  \"\n", "4: `reason` is empty"),
    (
        "[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"fail\"\nreason = \"a\"\n[[expect]]\ncase = \"TC-DMC-P0-002\"\nverdict = \"inconc\"\nreason = \"b\"\n",
        "5: case TC-DMC-P0-002 is already expected at line 1",
    ),
    ("[[expect]]\ncase = \"TC-DMC-P0-002\"\nitem = \"DM-PACK-007-C-O\"\nverdict = \"fail\"\nreason = \"a\"\n", "1: an entry names either a case or an item"),
    ("[[expected]]\ncase = \"TC-DMC-P0-002\"\n", "1: unknown field `expected`"),
];

#[test]
fn a_bad_expectations_file_exits_2_naming_file_and_line_before_any_traffic() {
    let mut wrong = Vec::new();
    for (i, (text, want)) in BAD.iter().enumerate() {
        let dir = scratch(&format!("bad-{i}"));
        let (code, out) = run_p0(&dir, None, text);
        if code != Some(2) || !out.contains(&format!("expect.toml:{want}")) || dir.join("reports").exists() {
            wrong.push(format!("{text}\nwanted exit 2, expect.toml:{want}, no reports\ngot {code:?}: {out}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}

#[test]
fn the_example_expectations_file_is_valid() {
    // `--list` sends no traffic: only the file is read and checked against the catalog.
    let (code, out) = dmcts(&["run", "--against", "reference", "--expect", "examples/expect.toml", "--", "--list"]);
    assert_eq!(code, Some(0), "{out}");
}
