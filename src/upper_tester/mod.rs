//! The upper tester: the suite's one way to make an IUT do something only its own side can
//! start (open a session, raise an alert, send a notification...). The contract is documented
//! in `docs/upper-tester.md`; vendors implement it, and so do the reference peers.
//!
//! Back ends: an HTTP hook, an exec hook, interactive prompts for a human operator, and
//! scripted answers from a file for CI.
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Actions of the contract. Client IUT: `reset`, `session.start`, `notification.deliver`,
/// `alert.raise`, `config.request`. Server IUT: `reset`, `device.register`,
/// `notification.send`, `commands.enqueue`, `device.report`. Both: `idle` (optional: answer
/// once no session or command is in progress, so quiet periods need not be waited blindly) and
/// `iut.state` (optional: is the IUT process running, idle, or has it exited).
pub mod action {
    pub const RESET: &str = "reset";
    pub const IDLE: &str = "idle";
    pub const IUT_STATE: &str = "iut.state";
    pub const SESSION_START: &str = "session.start";
    pub const NOTIFICATION_DELIVER: &str = "notification.deliver";
    pub const ALERT_RAISE: &str = "alert.raise";
    pub const CONFIG_REQUEST: &str = "config.request";
    pub const DEVICE_REGISTER: &str = "device.register";
    pub const NOTIFICATION_SEND: &str = "notification.send";
    pub const COMMANDS_ENQUEUE: &str = "commands.enqueue";
    pub const DEVICE_REPORT: &str = "device.report";
    /// Server IUT, SCOMO (docs/upper-tester.md): the EMI asks for a software operation.
    pub const SOFTWARE_INSTALL: &str = "software.install";
    pub const SOFTWARE_REMOVE: &str = "software.remove";
    pub const SOFTWARE_ACTIVATE: &str = "software.activate";
    pub const SOFTWARE_DEACTIVATE: &str = "software.deactivate";
    pub const SOFTWARE_INVENTORY: &str = "software.inventory";
    /// Client IUT (FUMO): the user's answer to the next firmware update prompt.
    pub const FIRMWARE_USER_ANSWER: &str = "firmware.user-answer";
    /// DM 1.2: how the user answers the next user-interaction alert (docs/dm12.md).
    pub const UI_ANSWER: &str = "ui.answer";
    /// Server IUT (FUMO): start a firmware update of a device.
    pub const FIRMWARE_UPDATE: &str = "firmware.update";
    /// Gateway IUT (GwMO, docs/gwmo.md): the End Devices (and groups) the gateway manages.
    pub const GATEWAY_ATTACH: &str = "gateway.attach";
    /// Server IUT (GwMO): distribute an image to a gateway (Image Inventory MO).
    pub const GATEWAY_IMAGE: &str = "gateway.image";
    /// Server IUT (GwMO): fan the image's commands out to a device group (Fanout MO).
    pub const GATEWAY_FANOUT: &str = "gateway.fanout";
}

/// What the suite sends: `{"action", "case", "step", "args"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UtRequest {
    pub action: String,
    /// The case id, so vendors can correlate with their own logs.
    #[serde(default)]
    pub case: String,
    /// The 1-based step number.
    #[serde(default)]
    pub step: usize,
    #[serde(default)]
    pub args: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UtStatus {
    Done,
    Unsupported,
    Failed,
}

/// What the IUT answers: `{"status": "done"|"unsupported"|"failed", "message", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UtAnswer {
    pub status: UtStatus,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub data: Value,
}

impl UtAnswer {
    /// `Some` when this answer (to any action) says the IUT process has ended:
    /// `data.iut_state = "exited"`, with the optional `data.detail` (e.g. "SIGSEGV").
    pub fn iut_exited(&self) -> Option<IutExit> {
        (self.data.get("iut_state").and_then(Value::as_str) == Some("exited"))
            .then(|| IutExit { detail: detail_of(&self.data) })
    }

    /// The IUT's state from an answer to `iut.state`: `Some` only for `done` with a known
    /// `data.state`. Anything else (unsupported, failed, an unknown state) tells nothing.
    pub fn iut_state(&self) -> Option<IutState> {
        if self.status != UtStatus::Done {
            return None;
        }
        match self.data.get("state").and_then(Value::as_str)? {
            "running" => Some(IutState::Running),
            "idle" => Some(IutState::Idle),
            "exited" => Some(IutState::Exited(IutExit { detail: detail_of(&self.data) })),
            _ => None,
        }
    }

    pub fn done(data: Value) -> Self {
        UtAnswer { status: UtStatus::Done, message: String::new(), data }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        UtAnswer { status: UtStatus::Failed, message: message.into(), data: Value::Null }
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        UtAnswer { status: UtStatus::Unsupported, message: message.into(), data: Value::Null }
    }
}

fn detail_of(data: &Value) -> Option<String> {
    data.get("detail").and_then(Value::as_str).map(str::trim).filter(|d| !d.is_empty()).map(String::from)
}

/// The IUT process has ended, as its upper tester says (`iut.state`, or `data.iut_state` on any
/// answer). Displays as a reason: "the IUT process has exited (SIGSEGV)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IutExit {
    /// How it ended, in the upper tester's words (a signal, an exit code...), if it said.
    pub detail: Option<String>,
}

impl std::fmt::Display for IutExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "the IUT process has exited ({})", crate::trace::truncate_marked(d, 200)),
            None => f.write_str("the IUT process has exited"),
        }
    }
}

/// The answer to `iut.state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IutState {
    /// The IUT process is running (and may be busy).
    Running,
    /// Running, with no session, notification or queued work in progress.
    Idle,
    /// The IUT process has ended.
    Exited(IutExit),
}

/// Upper bound on one upper-tester answer in bytes: an HTTP answer body, an exec hook's stdout,
/// an operator's reply line, one scripted answer. Larger is a [`UtError::BadAnswer`] saying
/// "answer larger than N bytes" (documented in docs/upper-tester.md, "Limits").
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Which back end drives the IUT; the `[pixit.upper_tester]` table of an ICS file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum UpperTesterConfig {
    /// POST the request as JSON to `url`; the response body is the answer.
    Http { url: String },
    /// Run `command` (program and arguments) with the request on stdin; the answer is read
    /// from stdout.
    Exec { command: Vec<String> },
    /// Prompt a human operator on the terminal; without a terminal such steps end the case as
    /// skipped with reason `requires-operator`.
    Interactive,
    /// Canned answers from a TOML file, for CI.
    Scripted { file: String },
}

mod client;
mod exec;
pub mod http;
pub mod interactive;
pub mod scripted;

pub use client::{UpperTester, UtError};
pub use exec::{EXIT_GRACE, EXIT_UNSUPPORTED, STDERR_KEPT_BYTES};

/// Every action of the contract (both roles), in the order `docs/upper-tester.md` lists them.
pub const ACTIONS: &[&str] = &[
    action::RESET,
    action::IDLE,
    action::IUT_STATE,
    action::SESSION_START,
    action::NOTIFICATION_DELIVER,
    action::ALERT_RAISE,
    action::CONFIG_REQUEST,
    action::DEVICE_REGISTER,
    action::NOTIFICATION_SEND,
    action::COMMANDS_ENQUEUE,
    action::DEVICE_REPORT,
    action::SOFTWARE_INSTALL,
    action::SOFTWARE_REMOVE,
    action::SOFTWARE_ACTIVATE,
    action::SOFTWARE_DEACTIVATE,
    action::SOFTWARE_INVENTORY,
    action::FIRMWARE_USER_ANSWER,
    action::FIRMWARE_UPDATE,
    action::UI_ANSWER,
];

/// Optional actions that only ask about the IUT and never set a verdict by themselves: no
/// operator is ever prompted for them, and a script without an entry answers `unsupported`.
pub const QUERY_ACTIONS: &[&str] = &[action::IDLE, action::IUT_STATE];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: UtStatus, data: Value) -> UtAnswer {
        UtAnswer { status, message: String::new(), data }
    }

    #[test]
    fn any_answer_may_say_the_iut_exited() {
        let a = answer(UtStatus::Failed, json!({"iut_state": "exited", "detail": "SIGSEGV"}));
        let e = a.iut_exited().unwrap();
        assert_eq!(e.detail.as_deref(), Some("SIGSEGV"));
        assert_eq!(e.to_string(), "the IUT process has exited (SIGSEGV)");
        let a = answer(UtStatus::Done, json!({"iut_state": "exited"}));
        assert_eq!(a.iut_exited().unwrap().to_string(), "the IUT process has exited");
        for data in [json!({"iut_state": "running"}), json!(null), json!(["exited"]), json!({"state": "exited"})] {
            assert_eq!(answer(UtStatus::Done, data.clone()).iut_exited(), None, "{data}");
        }
    }

    #[test]
    fn the_iut_state_answer() {
        let st = |s: UtStatus, d: Value| answer(s, d).iut_state();
        assert_eq!(st(UtStatus::Done, json!({"state": "running"})), Some(IutState::Running));
        assert_eq!(st(UtStatus::Done, json!({"state": "idle"})), Some(IutState::Idle));
        assert_eq!(
            st(UtStatus::Done, json!({"state": "exited", "detail": "exit code 139"})),
            Some(IutState::Exited(IutExit { detail: Some("exit code 139".into()) }))
        );
        assert_eq!(st(UtStatus::Done, json!({"state": "sleeping"})), None);
        assert_eq!(st(UtStatus::Unsupported, json!({"state": "idle"})), None);
        assert!(ACTIONS.contains(&action::IUT_STATE) && QUERY_ACTIONS.iter().all(|a| ACTIONS.contains(a)));
    }
}
