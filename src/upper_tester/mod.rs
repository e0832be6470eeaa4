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
/// once no session or command is in progress, so quiet periods need not be waited blindly).
pub mod action {
    pub const RESET: &str = "reset";
    pub const IDLE: &str = "idle";
    pub const SESSION_START: &str = "session.start";
    pub const NOTIFICATION_DELIVER: &str = "notification.deliver";
    pub const ALERT_RAISE: &str = "alert.raise";
    pub const CONFIG_REQUEST: &str = "config.request";
    pub const DEVICE_REGISTER: &str = "device.register";
    pub const NOTIFICATION_SEND: &str = "notification.send";
    pub const COMMANDS_ENQUEUE: &str = "commands.enqueue";
    pub const DEVICE_REPORT: &str = "device.report";
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
pub use exec::EXIT_UNSUPPORTED;

/// Every action of the contract (both roles), in the order `docs/upper-tester.md` lists them.
pub const ACTIONS: &[&str] = &[
    action::RESET,
    action::IDLE,
    action::SESSION_START,
    action::NOTIFICATION_DELIVER,
    action::ALERT_RAISE,
    action::CONFIG_REQUEST,
    action::DEVICE_REGISTER,
    action::NOTIFICATION_SEND,
    action::COMMANDS_ENQUEUE,
    action::DEVICE_REPORT,
];
