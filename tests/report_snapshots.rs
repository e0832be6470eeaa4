//! Golden tests of every report the suite writes: the snapshots are the spec of the output.
//! Timestamps and durations are redacted so the snapshots only change when the format does.
#[path = "report_fixture/mod.rs"]
mod fixture;

use dmcts::report;

fn normalise_junit(xml: &str) -> String {
    let ts = regex::Regex::new(r#"timestamp="[^"]*""#).expect("static regex");
    let time = regex::Regex::new(r#" time="[0-9.]*""#).expect("static regex");
    let xml = ts.replace_all(xml, r#"timestamp="[timestamp]""#);
    let xml = time.replace_all(&xml, r#" time="[duration]""#);
    // junit-report writes one line; break before elements so snapshot diffs are readable
    // (the fixture has no such text inside CDATA, so this only adds whitespace between tags).
    let tag = regex::Regex::new(
        r"(<testsuite[ >]|</testsuite>|<testcase |</testsuites>|<failure |<error |<skipped |</testcase>)",
    )
    .expect("static regex");
    tag.replace_all(&xml, "\n$1").into_owned()
}

#[test]
fn junit_xml() {
    let xml = report::junit_xml(&fixture::run()).expect("junit.xml renders");
    insta::assert_snapshot!("junit_xml", normalise_junit(&xml));
}

#[test]
fn coverage_json() {
    let cov = report::coverage(&fixture::run(), &fixture::items());
    insta::assert_json_snapshot!("coverage_json", cov);
}

#[test]
fn coverage_md() {
    let cov = report::coverage(&fixture::run(), &fixture::items());
    insta::assert_snapshot!("coverage_md", report::coverage_md(&cov));
}

#[test]
fn run_json() {
    insta::assert_json_snapshot!("run_json", report::run_json(&fixture::run()), {
        ".cases[].duration_ms" => "[duration]",
    });
}

#[test]
fn trace_text_of_a_passing_case() {
    let run = fixture::run();
    insta::assert_snapshot!("trace_text_pass", report::trace_text(&run.cases[0].trace));
}

/// A failed case as a developer reads it (traces/<case>.txt and JUnit system-out): SCR item,
/// requirement, expected, actual, then the exchange that led there.
#[test]
fn failed_case_rendering() {
    let run = fixture::run();
    let failed = &run.cases[1];
    assert_eq!(failed.verdict, dmcts::verdict::Verdict::Fail);
    let text = report::case_text(failed);
    for needle in ["SCR item:", "requirement:", "expected:", "actual:", "POST http://", "[truncated "] {
        assert!(text.contains(needle), "case text lacks {needle:?}:\n{text}");
    }
    insta::assert_snapshot!("failed_case_text", text);
}
