//! Human-readable renderings: a case's protocol trace, and a whole case (header, reason, trace)
//! as written to `traces/<case>.txt` and JUnit `<system-out>`.
use crate::runner::result::CaseResult;
use crate::trace::{TraceEntry, TraceEvent};

/// Every entry in recorded order, one block each, with time, step, headers and bodies. Bodies
/// are printed as recorded (the recorder already cut them and left a truncation marker).
pub fn trace_text(entries: &[TraceEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let at = format!("[t={} ms, step {}]", e.t_ms, e.step);
        match &e.event {
            TraceEvent::HttpRequest { from, to, method, url, headers, body } => {
                out.push_str(&format!("{at} HTTP request {from} -> {to}\n  {method} {url}\n"));
                push_headers(&mut out, headers);
                push_body(&mut out, body);
            }
            TraceEvent::HttpResponse { from, to, status, headers, body } => {
                out.push_str(&format!("{at} HTTP response {from} -> {to}\n  {status}\n"));
                push_headers(&mut out, headers);
                push_body(&mut out, body);
            }
            TraceEvent::Notification { from, to, hex, note } => {
                out.push_str(&format!("{at} notification {from} -> {to}\n"));
                if !note.is_empty() {
                    out.push_str(&format!("  note: {note}\n"));
                }
                out.push_str(&format!("  hex:  {hex}\n"));
            }
            TraceEvent::UpperTester { action, request, answer } => {
                out.push_str(&format!("{at} upper tester: {action}\n"));
                out.push_str(&format!("  request: {request}\n  answer:  {answer}\n"));
            }
            TraceEvent::Note { text } => {
                out.push_str(&format!("{at} note: {}\n", indent_rest(text, "  ")));
            }
        }
    }
    if entries.is_empty() {
        out.push_str("(no traffic recorded)\n");
    }
    out
}

fn push_headers(out: &mut String, headers: &[(String, String)]) {
    for (name, value) in headers {
        out.push_str(&format!("  {name}: {value}\n"));
    }
}

fn push_body(out: &mut String, body: &str) {
    if body.is_empty() {
        out.push_str("  (empty body)\n");
        return;
    }
    out.push_str("  body:\n");
    for line in body.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
}

/// Indents every line after the first, so multi-line notes stay inside their block.
fn indent_rest(text: &str, indent: &str) -> String {
    text.replace('\n', &format!("\n{indent}"))
}

/// A whole case for humans: id, title, verdict, covered SCR items, the reason (SCR item,
/// requirement, expected, actual) and the full trace of the exchange.
pub fn case_text(case: &CaseResult) -> String {
    let mut out = format!("{} {}: {}\n", case.verdict.as_str().to_uppercase(), case.id, case.title);
    out.push_str(&format!("role:     {}\n", case.role));
    out.push_str(&format!("covers:   {}\n", case.covers.join(", ")));
    out.push_str(&format!("duration: {} ms\n", case.duration_ms));
    if let Some(reason) = &case.reason {
        out.push_str(&format!("reason:   {}\n", indent_rest(&reason.render(), "  ")));
    }
    for (item, whys) in &case.inferred {
        out.push_str(&format!("inferred: {item}: {}\n", whys.join("; ")));
    }
    for i in &case.informational {
        out.push_str(&format!("informational (not counted for the verdict): {}\n", i.line()));
    }
    out.push_str("\n--- trace ---\n");
    out.push_str(&trace_text(&case.trace));
    out
}
