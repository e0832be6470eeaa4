//! `junit.xml`, generated from the same [`RunResult`] as `run.json` so the two always agree.
//!
//! Mapping (lessons §4.2 item 7): pass → success; fail → `<failure type="fail">`; inconc →
//! `<failure type="inconclusive">` (never a success); error → `<error>`; not-applicable,
//! skipped and not-tested → `<skipped>` with the reason as message. The case rendering (title, reason, trace)
//! goes into the testcase's `<system-out>`.
use super::text::case_text;
use crate::runner::result::{CaseResult, RunResult};
use crate::verdict::Verdict;
use junit_report::{Duration, OffsetDateTime, ReportBuilder, TestCase, TestCaseBuilder, TestSuiteBuilder};

/// `junit.xml` for a run, time-stamped now.
pub fn junit_xml(run: &RunResult) -> std::io::Result<String> {
    junit_xml_at(run, OffsetDateTime::now_utc())
}

/// `junit.xml` for a run with the given testsuite timestamp (for reproducible output).
pub fn junit_xml_at(run: &RunResult, timestamp: OffsetDateTime) -> std::io::Result<String> {
    junit_xml_annotated(run, timestamp, &|_| None)
}

/// How expected results (`--expect`, certification::expect) change a case's element: an
/// expected non-pass result becomes `<skipped type="expected">` (as pytest writes an xfail),
/// an expected failure that now passes becomes `<failure type="expected-fail-now-passes">`.
/// The text is the element's message.
pub enum Annotation {
    Expected(String),
    NowPasses(String),
}

/// `junit.xml` with some cases annotated (see [`Annotation`]).
pub fn junit_xml_annotated(
    run: &RunResult,
    timestamp: OffsetDateTime,
    annotate: &dyn Fn(&CaseResult) -> Option<Annotation>,
) -> std::io::Result<String> {
    let mut roles: Vec<&str> = Vec::new();
    for case in &run.cases {
        if !roles.contains(&case.role.as_str()) {
            roles.push(&case.role);
        }
    }
    let mut report = ReportBuilder::new();
    for role in roles {
        let name = xml_text(&format!("dmcts.{role}"));
        let mut suite = TestSuiteBuilder::new(&name);
        suite.set_timestamp(timestamp);
        suite.set_system_out(&xml_text(&format!("dmcts {} (catalog {})\n", run.suite_version, run.catalog_digest)));
        for case in run.cases.iter().filter(|c| c.role == role) {
            suite.add_testcase(testcase(case, &name, annotate(case)));
        }
        report.add_testsuite(suite.build());
    }
    let mut out = Vec::new();
    report.build().write_xml(&mut out).map_err(|e| std::io::Error::other(format!("writing junit.xml: {e}")))?;
    String::from_utf8(out).map_err(|e| std::io::Error::other(format!("junit.xml is not UTF-8: {e}")))
}

fn testcase(case: &CaseResult, classname: &str, annotation: Option<Annotation>) -> TestCase {
    let name = xml_text(&case.id);
    let time = Duration::milliseconds(i64::try_from(case.duration_ms).unwrap_or(i64::MAX));
    let (message, body) = match &case.reason {
        Some(r) => (xml_text(&one_line(&r.render())), xml_text(&r.render())),
        None => (format!("{} without a recorded reason", case.verdict), String::new()),
    };
    let annotated = annotation.is_some();
    let mut b = match (annotation, case.verdict) {
        (Some(Annotation::Expected(why)), _) => {
            TestCaseBuilder::skipped_with_cause(&name, "expected", &xml_text(&one_line(&format!("{why}; {message}"))))
        }
        (Some(Annotation::NowPasses(why)), _) => {
            TestCaseBuilder::failure(&name, time, "expected-fail-now-passes", &xml_text(&one_line(&why)))
        }
        (None, v) => verdict_element(v, &name, time, &message),
    };
    b.set_classname(classname);
    if !annotated && matches!(case.verdict, Verdict::Fail | Verdict::Inconc | Verdict::Error) && !body.is_empty() {
        b.set_trace(&cdata_safe(&body));
    }
    b.set_system_out(&cdata_safe(&xml_text(&case_text(case))));
    b.build()
}

fn verdict_element(verdict: Verdict, name: &str, time: Duration, message: &str) -> TestCaseBuilder {
    match verdict {
        Verdict::Pass => TestCaseBuilder::success(name, time),
        Verdict::Fail => TestCaseBuilder::failure(name, time, "fail", message),
        Verdict::Inconc => TestCaseBuilder::failure(name, time, "inconclusive", message),
        Verdict::Error => TestCaseBuilder::error(name, time, "error", message),
        Verdict::NotApplicable => TestCaseBuilder::skipped_with_cause(name, "not-applicable", message),
        Verdict::Skipped => TestCaseBuilder::skipped_with_cause(name, "skipped", message),
        Verdict::NotTested => TestCaseBuilder::skipped_with_cause(name, "not-tested", message),
        Verdict::NotSelected => TestCaseBuilder::skipped_with_cause(name, "not-selected", message),
    }
}

/// Multi-line reason text folded into one line for the `message` attribute (parsers turn
/// newlines in attributes into spaces anyway); the full text is in the element body.
fn one_line(s: &str) -> String {
    s.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("; ")
}

/// Replaces characters XML 1.0 forbids (C0 controls other than TAB/LF/CR, U+FFFE, U+FFFF) with a
/// visible `\u{..}` escape: IUT-originated text must not make the whole report unparseable.
pub fn xml_text(s: &str) -> String {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
    if s.chars().all(allowed) {
        return s.to_string();
    }
    s.chars().map(|c| if allowed(c) { c.to_string() } else { format!("\\u{{{:x}}}", c as u32) }).collect()
}

/// junit-report writes bodies as CDATA without splitting `]]>`: split it so the section
/// cannot end early (the reader sees the original text).
fn cdata_safe(s: &str) -> String {
    s.replace("]]>", "]]]]><![CDATA[>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_xml_chars_are_escaped_and_valid_ones_kept() {
        assert_eq!(xml_text("a\u{1b}b\u{0}\tc\u{fffe}é😀"), "a\\u{1b}b\\u{0}\tc\\u{fffe}é😀");
    }

    #[test]
    fn cdata_terminator_is_split() {
        assert_eq!(cdata_safe("x]]>y"), "x]]]]><![CDATA[>y");
    }

    #[test]
    fn one_line_folds_render_output() {
        assert_eq!(
            one_line("step 2: bad\n  SCR item:    X\n  expected:    200"),
            "step 2: bad; SCR item: X; expected: 200"
        );
    }
}
