//! Per-case protocol trace: every HTTP exchange, notification and upper-tester call, in order.
//!
//! Peers record into a shared [`Trace`]; the report module writes it under `traces/`.
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Bodies longer than this are truncated in traces, with a marker saying how much was cut.
pub const MAX_TRACE_BODY: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TraceEvent {
    /// An HTTP request, in either direction.
    HttpRequest {
        /// Who sent it: "suite" or "iut" (or a peer name such as "reference-client").
        from: String,
        to: String,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: String,
    },
    HttpResponse {
        from: String,
        to: String,
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A DM notification (Package#0), hex-encoded.
    Notification {
        from: String,
        to: String,
        hex: String,
        note: String,
    },
    /// An upper-tester exchange.
    UpperTester {
        action: String,
        request: serde_json::Value,
        answer: serde_json::Value,
    },
    /// Anything else worth reading when debugging (step boundaries, waits, timeouts).
    Note {
        text: String,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceEntry {
    /// Milliseconds since the case started.
    pub t_ms: u64,
    /// The step (1-based) that was running, 0 before the first step.
    pub step: usize,
    #[serde(flatten)]
    pub event: TraceEvent,
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    step: usize,
    entries: Vec<TraceEntry>,
}

/// A cheaply clonable, thread-safe trace recorder.
#[derive(Debug, Clone)]
pub struct Trace(Arc<Mutex<Inner>>);

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    pub fn new() -> Self {
        Trace(Arc::new(Mutex::new(Inner { start: Instant::now(), step: 0, entries: Vec::new() })))
    }

    pub fn set_step(&self, step: usize) {
        self.lock().step = step;
    }

    pub fn record(&self, event: TraceEvent) {
        let mut g = self.lock();
        let t_ms = g.start.elapsed().as_millis() as u64;
        let step = g.step;
        g.entries.push(TraceEntry { t_ms, step, event });
    }

    pub fn note(&self, text: impl Into<String>) {
        self.record(TraceEvent::Note { text: text.into() });
    }

    pub fn entries(&self) -> Vec<TraceEntry> {
        self.lock().entries.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking recorder must not poison every later trace write.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Replaces sensitive values (PIXIT passwords, notification secrets) wherever they appear in
/// trace entries, and the credentials of every `Authorization` header, by `<redacted>`.
pub fn scrub(entries: &mut [TraceEntry], secrets: &[String]) {
    fn walk(v: &mut serde_json::Value, secrets: &[&String]) {
        match v {
            serde_json::Value::String(s) => {
                for secret in secrets {
                    if s.contains(secret.as_str()) {
                        *s = s.replace(secret.as_str(), "<redacted>");
                    }
                }
            }
            serde_json::Value::Array(a) => {
                // Header pairs are [name, value].
                if a.len() == 2 && a[0].as_str().is_some_and(|h| h.eq_ignore_ascii_case("authorization")) {
                    a[1] = serde_json::Value::String("<redacted>".into());
                }
                a.iter_mut().for_each(|x| walk(x, secrets));
            }
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, secrets)),
            _ => {}
        }
    }
    // Very short values would redact innocent text; PIXIT validation keeps real secrets longer.
    let secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 4).collect();
    for e in entries.iter_mut() {
        let Ok(mut v) = serde_json::to_value(&e.event) else { continue };
        walk(&mut v, &secrets);
        if let Ok(ev) = serde_json::from_value(v) {
            e.event = ev;
        }
    }
}

/// Renders a body for a trace: UTF-8 text as is, binary as hex, cut at [`MAX_TRACE_BODY`].
pub fn body_for_trace(body: &[u8]) -> String {
    let text = match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(_) => format!("<binary {} bytes> {}", body.len(), hex::encode(body)),
    };
    truncate_marked(&text, MAX_TRACE_BODY)
}

/// Cuts `s` to at most `max` bytes on a char boundary and says how much was cut.
pub fn truncate_marked(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[truncated {} of {} bytes]", &s[..cut], s.len() - cut, s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_marked() {
        let s = "a".repeat(20);
        assert_eq!(truncate_marked(&s, 5), "aaaaa…[truncated 15 of 20 bytes]");
        assert_eq!(truncate_marked("short", 5), "short");
    }

    #[test]
    fn scrub_redacts_secrets_and_authorization_in_place() {
        let t = Trace::new();
        t.record(TraceEvent::HttpRequest {
            from: "suite".into(),
            to: "iut".into(),
            method: "POST".into(),
            url: "/dm".into(),
            headers: vec![("Authorization".into(), "Basic dXNlcjpzM2NyZXQ=".into())],
            body: "{\"secret\":\"s3cret-value\"}".into(),
        });
        let mut entries = t.entries();
        scrub(&mut entries, &["s3cret-value".to_string()]);
        let TraceEvent::HttpRequest { headers, body, method, .. } = &entries[0].event else { panic!("kind kept") };
        assert_eq!(headers[0].1, "<redacted>");
        assert_eq!(body, "{\"secret\":\"<redacted>\"}");
        assert_eq!(method, "POST");
    }

    #[test]
    fn binary_bodies_are_hex() {
        assert!(body_for_trace(&[0xff, 0x00]).contains("ff00"));
    }
}
