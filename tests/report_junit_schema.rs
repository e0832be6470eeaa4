//! junit.xml must validate against the JUnit schema CI reporters use (Jenkins junit-10.xsd,
//! vendored in tests/schemas/junit.xsd), even when IUT traffic carries characters XML 1.0
//! forbids or a CDATA terminator. Also checks what write_all puts on disk.
#[path = "report_fixture/mod.rs"]
mod fixture;

use dmcts::report;
use dmcts::trace::TraceEvent;
use dmcts::verdict::Verdict;
use std::path::{Path, PathBuf};
use std::process::Command;

const XSD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas/junit.xsd");

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_tests").join(name);
    // A leftover from an earlier run would hide a file write_all stopped writing.
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs xmllint; fails (never skips) when it is not installed.
fn xmllint(args: &[&str]) -> std::process::Output {
    match Command::new("xmllint").args(args).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "xmllint is required to validate junit.xml ({e}); install it with \
             `apt-get install -y libxml2-utils` (Debian/Ubuntu) or your system's libxml2 tools"
        ),
    }
}

fn assert_valid(xml_path: &Path) {
    let out = xmllint(&["--noout", "--schema", XSD, &xml_path.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{} does not validate against {XSD}:\n{}",
        xml_path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn xpath(xml_path: &Path, expr: &str) -> String {
    let out = xmllint(&["--xpath", expr, &xml_path.to_string_lossy()]);
    assert!(out.status.success(), "xpath {expr}: {}", String::from_utf8_lossy(&out.stderr));
    // xmllint ends its answer with a newline of its own.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_suffix('\n').map(str::to_string).unwrap_or(text)
}

#[test]
fn junit_validates_and_maps_every_verdict() {
    let dir = out_dir("plain");
    let written = report::write_all(&dir, &fixture::run(), &fixture::items()).expect("reports written");
    assert_valid(&written.junit);
    let j = &written.junit;
    assert_eq!(xpath(j, "count(//testsuite)"), "2");
    assert_eq!(xpath(j, "string(//testsuite[1]/@name)"), "dmcts.client");
    assert_eq!(xpath(j, "string(//testcase[@name='TC-DMS-SESS-001']/@classname)"), "dmcts.server");
    // inconc is a failure of type "inconclusive", never a success.
    assert_eq!(xpath(j, "string(//testcase[@name='TC-DMC-SESS-003']/failure/@type)"), "inconclusive");
    assert_eq!(xpath(j, "string(//testsuite[@name='dmcts.client']/@failures)"), "2");
    assert_eq!(xpath(j, "count(//testcase[@name='TC-DMS-SESS-001']/error)"), "1");
    assert_eq!(xpath(j, "string(//testcase[@name='TC-DMS-SESS-002']/skipped/@message)"), "ICS-SRV-CONT = false");
    assert_eq!(
        xpath(j, "count(//testcase[@name='TC-DMC-SESS-001']/*[self::failure or self::error or self::skipped])"),
        "0"
    );
    let msg = xpath(j, "string(//testcase[@name='TC-DMC-SESS-002']/failure/@message)");
    for needle in ["DM-PACK-011-C-M", "expected: header OMADM-DevID", "actual: header absent"] {
        assert!(msg.contains(needle), "failure message lacks {needle:?}: {msg}");
    }
    let out = xpath(j, "string(//testcase[@name='TC-DMC-SESS-002']/system-out)");
    assert!(out.contains("POST http://127.0.0.1:40001/dm2/session") && out.contains("[truncated "), "{out}");
}

#[test]
fn iut_text_with_invalid_xml_characters_still_validates() {
    let mut run = fixture::run();
    let hostile = "bad\u{0}\u{1b}[31m\u{fffe} ]]> <tag attr=\"x\"> & 'q'";
    let case = &mut run.cases[1];
    case.title = format!("title {hostile}");
    if let Some(reason) = &mut case.reason {
        reason.actual = Some(hostile.to_string());
    }
    if let TraceEvent::HttpRequest { body, headers, .. } = &mut case.trace[3].event {
        *body = hostile.to_string();
        headers.push(("x-iut".into(), hostile.to_string()));
    } else {
        panic!("fixture changed: entry 3 of the failed case should be the Package#1 request");
    }
    assert_eq!(case.verdict, Verdict::Fail);
    let dir = out_dir("hostile");
    let written = report::write_all(&dir, &run, &fixture::items()).expect("reports written");
    assert_valid(&written.junit);
    // The CDATA terminator was split, not lost: a reader sees the IUT's text.
    let out = xpath(&written.junit, "string(//testcase[@name='TC-DMC-SESS-002']/system-out)");
    assert!(out.contains("bad\\u{0}\\u{1b}[31m\\u{fffe} ]]> <tag attr=\"x\"> & 'q'"), "{out}");
    let failure = xpath(&written.junit, "string(//testcase[@name='TC-DMC-SESS-002']/failure)");
    assert!(failure.contains("actual:      bad\\u{0}"), "{failure}");
}

#[test]
fn empty_run_validates() {
    let run = dmcts::runner::result::RunResult {
        suite_version: "0".into(),
        catalog_digest: "d".into(),
        catalog: None,
        interrupted: false,
        iut: serde_json::json!({}),
        cases: vec![],
        selection: None,
        late_traffic: Vec::new(),
    };
    let dir = out_dir("empty");
    let written = report::write_all(&dir, &run, &[]).expect("reports written");
    assert_valid(&written.junit);
    assert!(written.traces.is_empty());
}

#[test]
fn write_all_writes_every_listed_file() {
    let dir = out_dir("files");
    let run = fixture::run();
    let written = report::write_all(&dir, &run, &fixture::items()).expect("reports written");
    assert_eq!(written.all().len(), 5 + 2 * run.cases.len());
    for p in written.all() {
        assert!(p.is_file(), "{} missing", p.display());
    }
    assert_eq!(written.traces[2], dir.join("traces/TC-DMC-SESS-002.json"));
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written.run_json).expect("run.json readable")).expect("JSON");
    assert_eq!(run_json["schema_version"], 1);
    assert_eq!(run_json["summary"]["inconc"], 1);
    // Every case's trace path in run.json names a file that exists.
    for c in run_json["cases"].as_array().expect("cases array") {
        let rel = c["trace"].as_str().expect("trace path");
        assert!(dir.join(rel).is_file(), "{rel} missing");
    }
    let trace: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("traces/TC-DMC-SESS-002.json")).expect("trace readable"),
    )
    .expect("JSON");
    assert_eq!(trace["entries"][3]["kind"], "http-request");
    assert_eq!(trace["entries"][3]["step"], 2);
    let cov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written.coverage_json).expect("readable")).expect("JSON");
    assert_eq!(
        cov["summary"]["headline"],
        "mandatory items: 1/5 pass; optional items: 0/2 pass; 1 applicable item has no case. DM-PACK (normative): \
         mandatory 1/5 pass, optional 0/2 pass. TOY (derived): no applicable item"
    );
}
