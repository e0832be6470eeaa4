//! The step vocabulary of a case procedure.
use super::check::Check;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// JSON pointers into a body (or answer data) whose values are saved as variables.
pub type Captures = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Ask the IUT, through the upper tester, to do something only its own side can start.
    Ut {
        action: String,
        #[serde(default)]
        args: Value,
        /// Save the answer's data under this name (`${name#/pointer}`).
        #[serde(default)]
        save_as: Option<String>,
        #[serde(default)]
        capture: Captures,
        /// When true, an `unsupported` answer is accepted and the case goes on.
        #[serde(default)]
        optional: bool,
        #[serde(default)]
        note: Option<String>,
    },
    /// Send a DM notification (Package#0) to a client IUT, built from fields and optionally tampered.
    Notify {
        #[serde(default)]
        server_id: Option<String>,
        #[serde(default)]
        preferred_con_type: Option<u8>,
        /// Default: a fresh id per notification.
        #[serde(default)]
        notification_id: Option<u16>,
        /// Seconds added to "now" for TIMESTAMP (negative: stale). Absent: now.
        #[serde(default)]
        timestamp_offset_s: Option<i64>,
        /// TIMESTAMP just outside the accepted window: now − (profile `timestamp_window_s` + 60).
        /// The window is UNVERIFIED, so cases follow the profile instead of a fixed offset.
        #[serde(default)]
        stale_timestamp: bool,
        /// Omit the TIMESTAMP option.
        #[serde(default)]
        no_timestamp: bool,
        #[serde(default)]
        req_mos: bool,
        /// Include SHA256-DIGEST computed with the PIXIT notification credentials (default true).
        #[serde(default = "yes")]
        digest: bool,
        #[serde(default)]
        tamper: Option<NotifyTamper>,
        #[serde(default)]
        save_as: Option<String>,
    },
    /// Wait for an HTTP request at one of the suite's endpoints, check it and answer it.
    Await {
        endpoint: String,
        /// Only match this path (relative to the endpoint, e.g. "/obj1").
        #[serde(default)]
        path: Option<String>,
        /// The SCR item that demands this request; named when nothing arrives.
        scr: String,
        #[serde(default)]
        why: Option<String>,
        #[serde(default)]
        timeout_ms: Option<u64>,
        /// Verdict when nothing arrives: fail (default) or inconc.
        #[serde(default)]
        on_timeout: OnTimeout,
        #[serde(default)]
        checks: Vec<Check>,
        #[serde(default)]
        capture: Captures,
        #[serde(default)]
        save_as: Option<String>,
        #[serde(default)]
        answer: Option<Answer>,
    },
    /// Act as DM client: POST Package#1 or Package#3 to a server IUT and check the Package#2.
    Send {
        package: u8,
        /// Target URL. Default: Package#1 → the PIXIT server URI; Package#3 → the session's
        /// current target (moved by CONT).
        #[serde(default)]
        to: Option<String>,
        /// The JSON body (templated). For Package#3, `auto_status` builds it instead.
        #[serde(default)]
        body: Option<Value>,
        /// A raw body sent as is (negative cases: malformed JSON).
        #[serde(default)]
        raw_body: Option<String>,
        /// Build Package#3 from the last Package#2: this code for every command but END
        /// (EXEC with a ServerURI gets 202).
        #[serde(default)]
        auto_status: Option<u16>,
        /// Alerts to add to the body's Alert array.
        #[serde(default)]
        alerts: Vec<Value>,
        /// Header overrides; an empty value removes the header.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        timeout_ms: Option<u64>,
        #[serde(default)]
        scr: Option<String>,
        #[serde(default)]
        checks: Vec<Check>,
        #[serde(default)]
        capture: Captures,
        #[serde(default)]
        save_as: Option<String>,
    },
    /// Obtain a notification sent by a server IUT (from the suite's notification listener, or
    /// from a saved upper-tester answer carrying `bytes_b64`) and check it.
    ExpectNotification {
        /// "listener" (await a POST at the notify endpoint), "ut:<saved name>" (the bytes_b64
        /// of a saved upper-tester answer), or "configured:<saved name>" (either, as the PIXIT
        /// `notification.server_delivery` says).
        #[serde(default = "listener")]
        source: String,
        scr: String,
        #[serde(default)]
        timeout_ms: Option<u64>,
        #[serde(default)]
        checks: Vec<Check>,
        #[serde(default)]
        save_as: Option<String>,
    },
    /// Nothing may arrive at `endpoint` ("any" for all) for the quiet period. The upper
    /// tester's `idle` is asked first, so an idle IUT need not be waited on blindly.
    ExpectSilence {
        #[serde(default = "any")]
        endpoint: String,
        scr: String,
        #[serde(default)]
        why: Option<String>,
        #[serde(default)]
        duration_ms: Option<u64>,
    },
    /// Ask the IUT for what it recorded (`device.report`) and check it (server IUT).
    Report {
        #[serde(default)]
        args: Value,
        #[serde(default)]
        checks: Vec<Check>,
        #[serde(default)]
        save_as: Option<String>,
    },
    /// Server IUT: see the session to its END. If the last Package#2 carried END, nothing is
    /// sent; otherwise the suite answers with Package#3 (one `auto_status` per command) until a
    /// Package#2 carries END, at most `max_packages` times. The spec says the server ends the
    /// session with END, not in which Package#2, so any of them will do.
    FinishSession {
        scr: String,
        #[serde(default)]
        why: Option<String>,
        #[serde(default = "two_hundred")]
        auto_status: u16,
        #[serde(default = "three")]
        max_packages: usize,
    },
    /// Set a variable from a template.
    Set { var: String, value: String },
}

fn two_hundred() -> u16 {
    200
}
fn three() -> usize {
    3
}

fn yes() -> bool {
    true
}
fn listener() -> String {
    "listener".into()
}
fn any() -> String {
    "any".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    #[default]
    Fail,
    Inconc,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyTamper {
    WrongDigest,
    WrongVersion,
    OcMismatch,
    OptionsOutOfOrder,
}

/// How the suite answers an awaited request.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// HTTP status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// A Package#2: command arrays (templated); sets the Package#2 media type.
    #[serde(default)]
    pub package2: Option<Vec<Vec<String>>>,
    /// A JSON body (templated).
    #[serde(default)]
    pub json: Option<Value>,
    /// A text body.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A static resource served by a suite endpoint for the whole case (data repository content,
/// browser pages). Requests it answers are still recorded and can be awaited and checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub endpoint: String,
    pub path: String,
    /// Only this method is answered from the resource (default: any).
    #[serde(default)]
    pub method: Option<String>,
    #[serde(flatten)]
    pub answer: Answer,
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Ut { .. } => "ut",
            Step::Notify { .. } => "notify",
            Step::Await { .. } => "await",
            Step::Send { .. } => "send",
            Step::ExpectNotification { .. } => "expect-notification",
            Step::ExpectSilence { .. } => "expect-silence",
            Step::Report { .. } => "report",
            Step::FinishSession { .. } => "finish-session",
            Step::Set { .. } => "set",
        }
    }

    pub fn checks(&self) -> &[Check] {
        match self {
            Step::Await { checks, .. }
            | Step::Send { checks, .. }
            | Step::ExpectNotification { checks, .. }
            | Step::Report { checks, .. } => checks,
            _ => &[],
        }
    }

    /// SCR items named by the step itself (not its checks).
    pub fn scr_refs(&self) -> Vec<&str> {
        match self {
            Step::Await { scr, .. }
            | Step::ExpectNotification { scr, .. }
            | Step::ExpectSilence { scr, .. }
            | Step::FinishSession { scr, .. } => vec![scr.as_str()],
            Step::Send { scr: Some(s), .. } => vec![s.as_str()],
            _ => vec![],
        }
    }
}
