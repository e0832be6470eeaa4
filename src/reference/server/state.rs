//! The reference server's device registry, per-device command queues, open sessions and what it
//! recorded for `device.report`.
use crate::wire::dm2::notification::NotificationCredentials;
use crate::wire::dm2::Command;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// A device's notification registration.
pub(super) struct NotiReg {
    /// Where Package#0 is POSTed; `None`: the bytes are only returned to the upper tester.
    pub address: Option<String>,
    pub creds: NotificationCredentials,
}

/// A command waiting in a device's queue.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Queued {
    Command(Command),
    /// `["CONT"]`: continue the session at this server's second endpoint (a fresh token).
    ContHere,
    /// End the Package#2 here without END, so the device's Package#3 brings the statuses of the
    /// commands before (an SCOMO EXEC's 202, an inventory GET's data).
    AwaitStatuses,
}

/// An EXEC sent with a ServerURI whose asynchronous result has not arrived yet.
#[derive(Debug, Clone)]
pub(super) struct PendingExec {
    pub client_uri: String,
    pub server_uri: String,
}

/// The session currently open with a device.
pub(super) struct OpenSession {
    /// Index into `Record::sessions`.
    pub record: usize,
    /// CONT token the next Package#3 must arrive at (`None`: at `/dm`).
    pub token: Option<String>,
    /// Commands of the last Package#2 (the next Package#3 has one status per command).
    pub last_sent: Vec<Command>,
    pub last_activity: Instant,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct SessionRecord {
    /// The session alert of Package#1 (`None`: there was none).
    pub alert_type: Option<String>,
    /// NOTIFICATION-ID echoed in a ServerInitiatedMgmt alert, as found.
    pub notification_id: Option<Value>,
    /// Whether that NOTIFICATION-ID is one this server sent the device (`None`: none echoed).
    pub notification_matched: Option<bool>,
    /// Package#2s sent / Package#3s accepted in this session.
    pub package2: usize,
    pub package3: usize,
    pub open: bool,
    /// How it ended: "END sent", "abandoned", "superseded by a new Package#1".
    pub end: Option<String>,
}

/// What `device.report` returns.
#[derive(Debug, Default, Serialize)]
pub(super) struct Record {
    pub sessions: Vec<SessionRecord>,
    pub package1: Vec<Value>,
    /// The MOS list of the last Package#1 that carried one (what the device says it has and
    /// the server may manage); null before.
    pub mos: Value,
    pub package2: Vec<Value>,
    pub statuses: Vec<Value>,
    pub status_count_mismatches: Vec<Value>,
    pub alerts: Vec<Value>,
    pub ignored_alerts: Vec<Value>,
    pub exec_results: Vec<Value>,
    /// Where devices stored the data of HGETs sent without a ClientURI (the URI arrays of their
    /// statuses), in order.
    pub hget_locations: Vec<String>,
    pub notifications: Vec<Value>,
    pub errors: Vec<String>,
    /// Updates started by `firmware.update` (FUMO), with what the device answered.
    pub firmware: Vec<super::fumo::FirmwareJob>,
}

pub(super) struct Device {
    /// HTTP Basic (username, password) required on Package#1/#3 when set.
    pub credentials: Option<(String, String)>,
    pub notification: Option<NotiReg>,
    /// Commands the External Management Infrastructure queued, in order.
    pub queue: VecDeque<Queued>,
    pub session: Option<OpenSession>,
    pub pending_execs: Vec<PendingExec>,
    /// NOTIFICATION-IDs of the notifications built for the device, noted before delivery (the
    /// device may answer before the delivery's HTTP exchange is over).
    pub notification_ids: Vec<u16>,
    pub rec: Record,
    /// SCOMO operations the EMI asked for (`software.*`), and the inventory read.
    pub software: Vec<super::scomo::SoftwareOp>,
    pub inventory: super::scomo::Inventory,
    /// GwMO: images distributed to this gateway and fan-outs through it (`gateway.*`).
    pub gateway: super::gwmo::GatewayRecord,
}

impl Device {
    pub fn new(credentials: Option<(String, String)>, notification: Option<NotiReg>) -> Device {
        Device {
            credentials,
            notification,
            queue: VecDeque::new(),
            session: None,
            pending_execs: Vec::new(),
            notification_ids: Vec::new(),
            rec: Record::default(),
            software: Vec::new(),
            inventory: Default::default(),
            gateway: Default::default(),
        }
    }

    pub fn error(&mut self, text: String) {
        self.rec.errors.push(text);
    }

    /// Closes the open session (if any), recording why.
    pub fn close_session(&mut self, why: &str, tokens: &mut BTreeMap<String, String>) {
        if let Some(s) = self.session.take() {
            if let Some(t) = &s.token {
                tokens.remove(t);
            }
            if let Some(r) = self.rec.sessions.get_mut(s.record) {
                r.open = false;
                r.end = Some(why.to_string());
            }
        }
    }

    pub fn report(&self, dev_id: &str) -> Value {
        let mut v = serde_json::to_value(&self.rec).unwrap_or_else(|_| json!({}));
        if let Value::Object(m) = &mut v {
            m.insert("dev_id".into(), json!(dev_id));
            m.insert("session_open".into(), json!(self.session.is_some()));
            m.insert("queued_commands".into(), json!(self.queue.len()));
            m.insert("software".into(), serde_json::to_value(&self.software).unwrap_or(Value::Null));
            m.insert("inventory".into(), serde_json::to_value(&self.inventory).unwrap_or(Value::Null));
            m.insert("gateway".into(), serde_json::to_value(&self.gateway).unwrap_or(Value::Null));
        }
        v
    }
}

#[derive(Default)]
pub(super) struct State {
    pub devices: BTreeMap<String, Device>,
    /// CONT token → DevID of the session it continues.
    pub tokens: BTreeMap<String, String>,
    /// Never reset, so a token from before a reset can never become valid again.
    pub next_token: u64,
    /// Last NOTIFICATION-ID drawn from the counter (0: none yet).
    pub notification_counter: u16,
    /// Notification deliveries in progress.
    pub in_flight: usize,
    /// Numbers the `software.*` operations; never reset, so a URL from before a reset is dead.
    pub scomo_counter: u64,
    /// SCOMO package metadata and data served under `/repo/scomo/` (path after it → content).
    pub scomo_repo: BTreeMap<String, super::scomo::Served>,
    /// Numbers the `gateway.*` operations; never reset.
    pub gwmo_counter: u64,
    /// GwMO MO data served under `/repo/gwmo/` (path after it → content).
    pub gwmo_repo: BTreeMap<String, super::scomo::Served>,
}

impl State {
    pub fn reset(&mut self) {
        self.devices.clear();
        self.tokens.clear();
        self.scomo_repo.clear();
        self.gwmo_repo.clear();
        self.notification_counter = 0;
    }

    pub fn remove_device(&mut self, dev_id: &str) {
        if let Some(mut d) = self.devices.remove(dev_id) {
            d.close_session("device registered again", &mut self.tokens);
        }
    }

    /// Closes sessions silent for longer than `timeout`.
    pub fn expire_sessions(&mut self, timeout: Duration) {
        let now = Instant::now();
        for d in self.devices.values_mut() {
            if d.session.as_ref().is_some_and(|s| now.duration_since(s.last_activity) > timeout) {
                d.error(format!("session abandoned: no Package#3 within {} s", timeout.as_secs_f32()));
                d.close_session("abandoned", &mut self.tokens);
            }
        }
    }

    pub fn fresh_token(&mut self) -> String {
        self.next_token += 1;
        format!("c{}", self.next_token)
    }

    pub fn next_notification_id(&mut self) -> u16 {
        self.notification_counter = self.notification_counter.wrapping_add(1).max(1);
        self.notification_counter
    }
}
