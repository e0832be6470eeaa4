//! What the reference DM 1.2 server remembers: registered devices (credentials, nonces, the
//! command queue, what `device.report` shows) and open sessions.
use super::commands::Queued;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// At most this many sessions are open at once (the oldest is dropped): memory stays bounded
/// whatever clients do.
pub(super) const MAX_SESSIONS: usize = 256;
/// A client Results object reassembled from chunks is refused (413) beyond this many bytes.
pub(super) const MAX_LARGE_OBJECT: usize = 4 * 1024 * 1024;
/// `device.report` keeps at most this many entries per list (the oldest go first).
const MAX_RECORDS: usize = 10_000;

/// `username`/`password` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Default)]
pub(super) struct Device {
    /// What the device must authenticate with (syncml:auth-md5); `None`: no DM-level
    /// authentication (transport-level only, digest §8.7).
    pub credentials: Option<Credentials>,
    /// What the server answers a client's challenge with (digest §8.5), when registered.
    pub server_credentials: Option<Credentials>,
    pub notification_address: Option<String>,
    /// The last NextNonce the server issued to the device: what its next md5 Cred is built with.
    pub nonce: Option<Vec<u8>>,
    /// The last nonce the device issued to the server (its Chal NextNonce): the server's Cred
    /// and the Package#0 digest use it (digest §8.5, §9.3).
    pub client_nonce: Option<Vec<u8>>,
    pub queue: VecDeque<Queued>,
    pub report: Report,
    /// The FUMO/SCOMO operations the upper tester started (`firmware.update`, `software.*`).
    pub jobs: Vec<super::enablers::Job>,
    /// GwMO: images distributed to this gateway and fan-outs through it (`gateway.*`).
    pub gateway: crate::reference::gateway_record::GatewayRecord,
    /// The last software inventory query (`software.inventory`).
    pub inventory: Option<super::enablers::Inventory>,
}

/// What `device.report` shows.
#[derive(Debug, Default)]
pub(super) struct Report {
    /// Per client message: the codes of its Status elements, in order.
    pub statuses: Vec<Vec<u16>>,
    /// Every client Status: `{msg_ref, cmd_ref, cmd, code, target_refs}`.
    pub status_details: Vec<Value>,
    pub results: Vec<Value>,
    pub alerts: Vec<Value>,
    pub sessions: usize,
    /// The last DevInfo the device sent (`./DevInfo/…` → value).
    pub devinfo: BTreeMap<String, String>,
    pub notifications: Vec<Value>,
    /// Protocol errors the server noticed (bad Cred, unknown alert…), for the curious.
    pub errors: Vec<String>,
}

pub(super) fn push_bounded<T>(v: &mut Vec<T>, x: T) {
    if v.len() >= MAX_RECORDS {
        v.remove(0);
    }
    v.push(x);
}

impl Report {
    pub fn json(&self) -> Value {
        json!({
            "statuses": self.statuses,
            "status_details": self.status_details,
            "results": self.results,
            "alerts": self.alerts,
            "sessions": self.sessions,
            "devinfo": self.devinfo,
            "notifications": self.notifications,
            "errors": self.errors,
        })
    }
}

/// A command the server sent and whose Status it awaits (for a resend after the client
/// refused the server's credentials).
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub msg_id: String,
    pub cmd_id: String,
    pub command: Queued,
}

/// A large object the client is sending in chunks (a Results item with MoreData, digest §5.7).
#[derive(Debug, Default)]
pub(super) struct LargeObject {
    pub source: String,
    pub size: Option<usize>,
    pub format: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug)]
pub(super) struct Session {
    /// The device's `Source/LocURI`.
    pub dev_id: String,
    /// The token of the RespURI (`/dm?s=<token>`).
    pub token: String,
    /// The server's next MsgID.
    pub next_msg_id: u32,
    pub authenticated: bool,
    /// The client's challenge to answer in the next message: (Type, nonce bytes).
    pub client_chal: Option<(String, Vec<u8>)>,
    /// HMAC in use (the client challenged with syncml:auth-MAC, digest §8.6): the nonce of the
    /// MAC on the server's next message, renewed by each NextNonce the client sends.
    pub mac_nonce: Option<Vec<u8>>,
    /// Commands sent, not yet answered.
    pub awaiting: Vec<Sent>,
    /// Commands to send again (answered 401/407 while the client refused the server).
    pub resend: Vec<Queued>,
    /// The server is mid-way through a package (a large-object chunk went out without Final).
    pub package_open: bool,
    pub large_object: Option<LargeObject>,
    /// The client's last MaxMsgSize (digest §3.6: it stays in force).
    pub max_msg_size: Option<usize>,
    /// `never-ends`: how many needless Gets were sent.
    pub needless_gets: u32,
    pub last_activity: Instant,
}

impl Session {
    pub fn new(dev_id: &str, token: String) -> Session {
        Session {
            dev_id: dev_id.to_string(),
            token,
            next_msg_id: 1,
            authenticated: false,
            client_chal: None,
            mac_nonce: None,
            awaiting: Vec::new(),
            resend: Vec::new(),
            package_open: false,
            large_object: None,
            max_msg_size: None,
            needless_gets: 0,
            last_activity: Instant::now(),
        }
    }
}

/// (SessionID, the device's Source LocURI).
pub(super) type SessionKey = (String, String);

#[derive(Debug, Default)]
pub(super) struct State {
    pub devices: HashMap<String, Device>,
    pub sessions: HashMap<SessionKey, Session>,
    /// The session id of the next Package#0 without an explicit one.
    pub next_notification_session: u16,
    /// Notifications being delivered.
    pub in_flight: usize,
}

impl State {
    pub fn reset(&mut self) {
        *self = State::default();
    }

    /// Closes sessions silent for `timeout` (abandoned by their client).
    pub fn expire_sessions(&mut self, timeout: Duration) {
        self.sessions.retain(|_, s| s.last_activity.elapsed() < timeout);
    }

    /// Makes room for one more session.
    pub fn bound_sessions(&mut self) {
        while self.sessions.len() >= MAX_SESSIONS {
            let oldest = self.sessions.iter().min_by_key(|(_, s)| s.last_activity).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.sessions.remove(&k),
                None => break,
            };
        }
    }

    pub fn next_session_id(&mut self) -> u16 {
        self.next_notification_session = self.next_notification_session.wrapping_add(1).max(1);
        self.next_notification_session
    }
}
