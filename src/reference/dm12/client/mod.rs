//! Reference SyncML DM 1.2 client (digest `dm12-protocol.md`): the IUT of the suite's DM 1.2
//! self-test, driven by the upper-tester contract, with injectable faults that each break one
//! requirement row of digest §14.2.
//!
//! # Endpoints (on `Dm12ClientConfig::listen`)
//! - `POST /ut`: the upper tester — `reset`, `idle`, `iut.state`, `session.start`
//!   {`encoding`?: `xml`|`wbxml`}, `notification.deliver` {`bytes_b64`}, `alert.raise` {`type`,
//!   `format`?, `data`, `source`?, `correlator`?, `mark`?, `encoding`?}, `ui.answer` {`answer`:
//!   `yes`|`no`|`cancel`|`timeout`}. Anything else: `unsupported`.
//! - `POST /notify`: a Package#0 (digest §9) as the body; always answered 204.
//!
//! # Sessions (digest §5)
//! Package#1: SyncHdr (VerDTD 1.2, VerProto DM/1.2, SessionID — the Package#0's session id in
//! upper-case hex, or a counter from 1 for client-initiated sessions —, MsgID 1 then +1, Target
//! the server URI, Source the DevId, Meta MaxMsgSize), Alert 1200 (notified) or 1201, the
//! Generic Alerts raised, the Replace of ./DevInfo/{DevId, Man, Mod, DmV, Lang}, Final. Every
//! later message: a Status for the server's SyncHdr first, then the Statuses and Results of the
//! server's commands; it goes to the server's last RespURI. A server message without Final
//! (a large-object chunk) is answered with its Statuses and Alert 1222, without Final. A reply
//! larger than the server's MaxMsgSize is split: the next part follows each Next Message
//! response, Final in the last (digest §5.6; a single command larger than the limit is sent
//! alone — no large-object sending). A server message with no command besides Status/Results
//! ends the session (nothing is sent); so do a 1223, a Next Message response when nothing is
//! left to send, an undecodable answer, an HTTP error, and `max_rounds` messages.
//!
//! # Authentication (digest §8)
//! The client sends a `syncml:auth-md5` Cred (user `username`, LocName in Source) when it holds
//! a nonce from the server (none after `reset`: the first Package#1 has no Cred). On a 401/407
//! with Chal it resends the Package#1 content with a Cred of the challenged type (md5 with the
//! NextNonce base64-decoded, or basic), same SessionID, new MsgID, a Status for the server's
//! SyncHdr first; at most two such retries per session. Every NextNonce (401/407/212/200) is
//! kept for the next Cred. With `server_password` the client also authenticates the server
//! (§8.5): the server's Cred is md5 over the nonce the client issued (initially
//! `server_nonce`), 212 + Chal (fresh nonce) when right, 401/407 + Chal otherwise, and no
//! command runs while the server is not authenticated (each gets the header's 401/407).
//!
//! # Package#0 (digest §9)
//! Accepted when it decodes, has version 11, names `server_id`, and (with `noti_password`)
//! its digest verifies with the server nonce the client stores, or with the resync nonce
//! (four zero bytes, §9.4 proposal [UNVERIFIED]; the session's md5 Cred then uses it too).
//! Otherwise no session starts.
//!
//! # Tree (see [`tree`])
//! ./DevInfo and ./DevDetail (read-only: Get only, else 405), ./DMAcc/dmcts (permanent
//! interior; AppAddr, AppAuth/1 CLCRED, AppAuth/2 SRVCRED), ./dmcts (permanent) with Leaf =
//! `one`, Perm = `permanent` (permanent leaf), Interior/{A = `a`, B = `b`}, ./Vendor/Exec
//! (executable): Exec with a Correlator → 202, and after the session a new session (Alert 1201)
//! carries a Generic Alert 1226 echoing the Correlator, Item Source the node, Meta Type
//! [`EXEC_RESULT_TYPE`], Format `int`, Data `200`; Exec without a Correlator → 200.
//!
//! # Faults (`client.` + name; see [`FAULTS`])
//! dm12-wrong-verproto, dm12-session-id-changes, dm12-notified-1201, dm12-session-id-decimal,
//! dm12-initiated-1200, dm12-msgid-repeats, dm12-duplicate-cmdid, dm12-no-devinfo,
//! dm12-wrong-content-type, dm12-no-final, dm12-no-synchdr-status, dm12-status-no-cmdref,
//! dm12-get-no-results, dm12-missing-node-200, dm12-interior-get-wrong, dm12-add-existing-200,
//! dm12-delete-permanent-200, dm12-exec-no-correlator, dm12-generic-alert-no-meta,
//! dm12-ui-confirm-ignores-no, dm12-unknown-command-200, dm12-atomic-no-rollback,
//! dm12-sequence-reordered, dm12-ignores-challenge, dm12-md5-nonce-not-decoded,
//! dm12-reuses-old-nonce, dm12-talks-after-end, dm12-lo-no-213, dm12-ignores-respuri,
//! dm12-wbxml-string-table-garbage, dm12-hmac-in-cred, dm12-hmac-stale-nonce; the FUMO and SCOMO
//! faults (see [`enablers`]): fumo12-no-202, fumo12-no-result-alert, fumo12-alert-wrong-type,
//! fumo12-alert-wrong-source, fumo12-result-not-integer, fumo12-pkgdata-state-unchanged,
//! fumo12-dau-no-update, fumo12-retries, fumo12-download-updates, fumo12-mo-type-wrong, scomo12-mo-type-wrong, fumo12-ui-decline-ignored, scomo12-install-inactive-active, scomo12-delivered-no-state, scomo12-no-202,
//! scomo12-alert-wrong-source, scomo12-result-code-wrong, scomo12-install-no-deploy,
//! scomo12-remove-keeps, scomo12-deactivate-no-state.
//!
//! HMAC (digest §8.6): challenged with `syncml:auth-MAC`, the client resends Package#1 without a
//! Cred and signs it and every later message in the `x-syncml-hmac` header, with the nonce of
//! the server's last Chal.
//!
//! # FUMO and SCOMO (see [`enablers`])
//! ./FUMO (one FUMO instance) and ./SCOMO: an Exec of an operation node is answered 202; once
//! the session is over the operation runs (a download from PkgURL first) and its result goes
//! in a Generic Alert 1226 of a new client-initiated session, echoing the Exec's Correlator.
mod enablers;
mod exec;
mod session;
pub mod tree;

use crate::reference::common::{self, fault};
use crate::reference::faults::FaultInfo;
use crate::reference::ut_server;
use crate::scr::Role;
use crate::upper_tester::{action, UtAnswer, UtRequest};
use crate::wire::dm12::notification::{Notification, MEDIA_NOTIFICATION};
use crate::wire::dm12::Encoding;
use anyhow::Context;
use base64::Engine;
use exec::UiAnswer;
use serde_json::{json, Value};
use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::AbortHandle;
use tree::Tree;

/// The reference DevId.
pub const DEFAULT_DEV_ID: &str = "IMEI:359881000000012";
/// The reference client credentials (client → server, syncml:auth-md5).
pub const DEFAULT_USERNAME: &str = "dmcts-client";
pub const DEFAULT_PASSWORD: &str = "client-secret";
/// The reference server password (Package#0 digest; the server's Cred when demanded).
pub const DEFAULT_SERVER_PASSWORD: &str = "server-secret";
/// Path of the Package#0-over-HTTP endpoint.
pub const NOTIFY_PATH: &str = "/notify";
/// The upper-tester action answering the next 1101 (DM 1.2 client IUT).
pub const UI_ANSWER: &str = "ui.answer";
/// Meta Type of the Generic Alert reporting an asynchronous Exec of ./Vendor/Exec: the
/// prefixed form the TS prescribes (digest §6.8).
pub const EXEC_RESULT_TYPE: &str = "Reversed-Domain-Name: org.dmcts.vendor.exec";
/// The Package#0 resync nonce (digest §9.4 proposal [UNVERIFIED]: four zero bytes).
pub const RESYNC_NONCE: [u8; 4] = [0; 4];
/// The MaxMsgSize the client announces.
pub const MAX_MSG_SIZE: u32 = 16384;

/// Faults the reference DM 1.2 client can be switched into; each breaks one row observably.
pub static FAULTS: &[FaultInfo] = &[
    fault!(Client, "dm12-wrong-verproto", "every message says VerProto DM/1.1", ["DM12-001-C-M"]),
    fault!(
        Client,
        "dm12-session-id-changes",
        "from the second message on, a session's messages carry another SessionID",
        ["DM12-002-C-M"]
    ),
    fault!(
        Client,
        "dm12-notified-1201",
        "a session opened for a Package#0 carries Alert 1201, not 1200",
        ["DM12-003-C-M"]
    ),
    fault!(
        Client,
        "dm12-session-id-decimal",
        "a notified session's SessionID is the Package#0 session id in decimal, not upper-case hex",
        ["DM12-003-C-M"]
    ),
    fault!(Client, "dm12-initiated-1200", "a client-initiated session carries Alert 1200, not 1201", ["DM12-004-C-M"]),
    fault!(Client, "dm12-msgid-repeats", "every message of a session has MsgID 1", ["DM12-005-C-M"]),
    fault!(
        Client,
        "dm12-duplicate-cmdid",
        "the second command of every message repeats the first one's CmdID",
        ["DM12-006-C-M"]
    ),
    fault!(Client, "dm12-no-devinfo", "Package#1's DevInfo Replace lacks ./DevInfo/Lang", ["DM12-007-C-M"]),
    fault!(
        Client,
        "dm12-wrong-content-type",
        "messages are POSTed as application/vnd.syncml+xml (+wbxml), the SyncML DS media type",
        ["DM12-009-C-M"]
    ),
    fault!(Client, "dm12-no-final", "messages after Package#1 (Package#3) carry no Final", ["DM12-010-C-M"]),
    fault!(Client, "dm12-no-synchdr-status", "replies carry no Status for the server's SyncHdr", ["DM12-012-C-M"]),
    fault!(
        Client,
        "dm12-status-no-cmdref",
        "the Status of a Get names the CmdID of the command before it as CmdRef",
        ["DM12-013-C-M"]
    ),
    fault!(
        Client,
        "dm12-get-no-results",
        "Get of an existing node, leaf or interior, answers 200 without Results",
        ["DM12-015-C-M", "DM12-017-C-M"]
    ),
    fault!(
        Client,
        "dm12-missing-node-200",
        "Get of a missing node answers 200 with an empty Results instead of 404",
        ["DM12-016-C-M"]
    ),
    fault!(
        Client,
        "dm12-interior-get-wrong",
        "Get of an interior node answers Results with Format chr, not node",
        ["DM12-017-C-M"]
    ),
    fault!(
        Client,
        "dm12-add-existing-200",
        "Add of an existing node overwrites it and answers 200 instead of 418",
        ["DM12-018-C-M"]
    ),
    fault!(
        Client,
        "dm12-delete-permanent-200",
        "Delete of a permanent node deletes it and answers 200 instead of 405",
        ["DM12-020-C-M"]
    ),
    fault!(
        Client,
        "dm12-exec-no-correlator",
        "the Generic Alert reporting an asynchronous Exec carries no Correlator",
        ["DM12-022-C-O"]
    ),
    fault!(
        Client,
        "dm12-generic-alert-no-meta",
        "Generic Alert Items carry no Meta (no Type, no Format)",
        ["DM12-023-C-M"]
    ),
    fault!(Client, "dm12-ui-confirm-ignores-no", "a 1101 is answered 200 whatever the user answered", ["DM12-024-C-O"]),
    fault!(
        Client,
        "dm12-unknown-command-200",
        "a command DM does not use (Sync, Map, …) is answered 200 instead of an error status",
        ["DM12-026-C-M"]
    ),
    fault!(
        Client,
        "dm12-atomic-no-rollback",
        "a failed Atomic reports 507/216 but the commands executed before the failure stay applied",
        ["DM12-028-C-O"]
    ),
    fault!(Client, "dm12-sequence-reordered", "a Sequence's commands are executed last to first", ["DM12-029-C-M"]),
    fault!(
        Client,
        "dm12-ignores-challenge",
        "after a 401/407 challenge, Package#1 is resent without Cred",
        ["DM12-030-C-M"]
    ),
    fault!(
        Client,
        "dm12-md5-nonce-not-decoded",
        "the md5 Cred is computed over the base64 text of NextNonce instead of its bytes",
        ["DM12-031-C-M"]
    ),
    fault!(
        Client,
        "dm12-reuses-old-nonce",
        "a NextNonce that comes with a 212/200 is ignored: the next session uses the old nonce",
        ["DM12-033-C-M"]
    ),
    fault!(
        Client,
        "dm12-talks-after-end",
        "after a server package without commands the client sends one more message",
        ["DM12-035-C-M"]
    ),
    fault!(Client, "dm12-lo-no-213", "a non-last large-object chunk is answered 200 instead of 213", ["DM12-037-C-O"]),
    fault!(
        Client,
        "dm12-ignores-respuri",
        "every message goes to the server URI, never to the RespURI",
        ["DM12-040-C-M"]
    ),
    fault!(
        Client,
        "fumo12-no-202",
        "an Exec of a FUMO operation node is answered 200, not 202, though the operation runs later",
        ["FUMO-003-C-M"]
    ),
    fault!(
        Client,
        "fumo12-no-result-alert",
        "a FUMO operation's result is never reported (no Generic Alert)",
        ["FUMO-004-C-M"]
    ),
    fault!(
        Client,
        "fumo12-alert-wrong-type",
        "a FUMO result alert carries Meta Type ...firmwareupdate.devicerequest, not the operation's type",
        ["FUMO-005-C-M"]
    ),
    fault!(
        Client,
        "fumo12-alert-wrong-source",
        "a FUMO result alert's Item Source is ./DevInfo, not the FUMO node",
        ["FUMO-006-C-M"]
    ),
    fault!(
        Client,
        "fumo12-result-not-integer",
        "a FUMO result alert's Data is the word success (or failure), not the integer ResultCode",
        ["FUMO-007-C-M"]
    ),
    fault!(
        Client,
        "fumo12-pkgdata-state-unchanged",
        "a Replace of FUMO Update/PkgData leaves State at 10, not 50 (Ready to Update)",
        ["FUMO-008-C-M"]
    ),
    fault!(
        Client,
        "fumo12-dau-no-update",
        "a DownloadAndUpdate downloads and reports 200 but does not apply the package (State stays 50)",
        ["FUMO-009-C-M"]
    ),
    fault!(
        Client,
        "fumo12-mo-type-wrong",
        "the Type property of the FUMO instance (Get ./FUMO?prop=Type) is a vendor MO identifier, not urn:oma:mo:oma-fumo:1.0",
        ["FUMO-001-C-M"]
    ),
    fault!(
        Client,
        "scomo12-mo-type-wrong",
        "the Type property of the SCOMO instance (Get ./SCOMO?prop=Type) is a vendor MO identifier, not urn:oma:mo:oma-scomo:1.0",
        ["SCOMO-001-C-M"]
    ),
    fault!(
        Client,
        "fumo12-retries",
        "after reporting a failed download, the client fetches the package again on its own",
        ["FUMO-016-C-M"]
    ),
    fault!(
        Client,
        "fumo12-download-updates",
        "an Exec of FUMO Download downloads and also applies the package (State 100), leaving nothing for a later Update",
        ["FUMO-011-C-O"]
    ),
    fault!(
        Client,
        "fumo12-ui-decline-ignored",
        "after a 1101 declined by the user (304, the Exec skipped) the delivered firmware is installed anyway (State 100)",
        ["FUMO-015-C-O"]
    ),
    fault!(
        Client,
        "scomo12-install-inactive-active",
        "an Exec of a delivered package's InstallInactive deploys the component Active (State 20), not Inactive (10)",
        ["SCOMO-007-C-O"]
    ),
    fault!(
        Client,
        "scomo12-delivered-no-state",
        "a package added under SCOMO Inventory/Delivered gets no State node (Get State: 404)",
        ["SCOMO-002-C-M"]
    ),
    fault!(Client, "scomo12-no-202", "an Exec of a SCOMO operation node is answered 200, not 202", ["SCOMO-003-C-M"]),
    fault!(
        Client,
        "scomo12-alert-wrong-source",
        "a SCOMO result alert's Item Source is the package or component node, not the Exec'd operation node",
        ["SCOMO-004-C-M"]
    ),
    fault!(
        Client,
        "scomo12-result-code-wrong",
        "a SCOMO operation that succeeded is reported with ResultCode 1405 (Install failed)",
        ["SCOMO-005-C-M"]
    ),
    fault!(
        Client,
        "scomo12-install-no-deploy",
        "Install reports 1200 but no component appears in SCOMO Inventory/Deployed",
        ["SCOMO-006-C-M"]
    ),
    fault!(
        Client,
        "scomo12-remove-keeps",
        "Remove reports 1200 but the component stays in Inventory/Deployed",
        ["SCOMO-008-C-M"]
    ),
    fault!(
        Client,
        "scomo12-deactivate-no-state",
        "Deactivate reports 1200 but the component's State stays 20 (Active)",
        ["SCOMO-009-C-O"]
    ),
    fault!(
        Client,
        "dm12-wbxml-string-table-garbage",
        "WBXML messages name public id 0x1202 (not SyncML 1.2) in their header: malformed for a DM 1.2 peer",
        ["DM12-041-C-O"]
    ),
    fault!(
        Client,
        "dm12-hmac-in-cred",
        "asked for syncml:auth-MAC, the client puts the MAC into a SyncHdr Cred of that type, with no x-syncml-hmac header",
        ["DM12-042-C-O"]
    ),
    fault!(
        Client,
        "dm12-hmac-stale-nonce",
        "with HMAC in use, every MAC is made with the nonce of the challenge, never with the NextNonce of a later 200",
        ["DM12-042-C-O"]
    ),
];

/// The faults this peer is switched into.
pub type Faults = crate::reference::faults::ActiveFaults;

/// Configuration of the reference DM 1.2 client.
#[derive(Debug, Clone)]
pub struct Dm12ClientConfig {
    /// Where `/ut` and `/notify` are served (port 0: any free port).
    pub listen: SocketAddr,
    /// DMAcc AppAddr: where Package#1 goes.
    pub server_uri: String,
    pub dev_id: String,
    /// DMAcc ServerID: the server identifier a Package#0 must carry, and the server's user name
    /// for its own Cred.
    pub server_id: String,
    /// Fault names, `client.x` or `x`.
    pub faults: BTreeSet<String>,
    /// The encoding of sessions that do not ask for one.
    pub encoding: Encoding,
    /// Client credentials (client → server, syncml:auth-md5).
    pub username: String,
    pub password: String,
    /// Some: the client demands the server's Cred (digest §8.5), checked with this password.
    pub server_password: Option<String>,
    /// The Package#0 digest password (the server's secret); None: digests are not verified.
    pub noti_password: Option<String>,
    /// The nonce the client stores for the server (SRVCRED AAuthData) after `reset`.
    pub server_nonce: Vec<u8>,
    /// Timeout of every HTTP request.
    pub http_timeout: Duration,
    /// Bound on the messages of one session.
    pub max_rounds: usize,
    /// Also print the exchange log to stderr (CLI mode).
    pub echo_log: bool,
}

impl Dm12ClientConfig {
    /// Reference values (PLAN-dm12): DevId `IMEI:359881000000012`, ServerID `dmcts`, client
    /// `dmcts-client` / `client-secret`, Package#0 password `server-secret`, no server
    /// authentication, XML, listening on 127.0.0.1:0.
    pub fn new(server_uri: impl Into<String>) -> Dm12ClientConfig {
        Dm12ClientConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            server_uri: server_uri.into(),
            dev_id: DEFAULT_DEV_ID.into(),
            server_id: "dmcts".into(),
            faults: BTreeSet::new(),
            encoding: Encoding::Xml,
            username: DEFAULT_USERNAME.into(),
            password: DEFAULT_PASSWORD.into(),
            server_password: None,
            noti_password: Some(DEFAULT_SERVER_PASSWORD.into()),
            server_nonce: RESYNC_NONCE.to_vec(),
            http_timeout: Duration::from_secs(30),
            max_rounds: 64,
            echo_log: false,
        }
    }
}

/// A Generic Alert 1226 to send (digest §6.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericAlert {
    pub r#type: String,
    pub format: String,
    pub data: String,
    pub source: Option<String>,
    /// Item Target (SCOMO: the component an operation produced).
    pub target: Option<String>,
    pub correlator: Option<String>,
    pub mark: Option<String>,
}

/// Work for the session worker, one at a time in queue order.
#[derive(Debug, Clone)]
enum Job {
    Notified { session_id: u16, resync: bool, encoding: Option<Encoding> },
    ClientInitiated { alerts: Vec<GenericAlert>, encoding: Option<Encoding> },
}

/// Authentication state that outlives a session (reset restores it).
#[derive(Debug, Clone)]
struct AuthState {
    /// The last NextNonce from the server, as sent (base64): the client's next md5 Cred.
    nonce: Option<String>,
    /// The Cred type the server last challenged for (md5 until told otherwise).
    cred_type: String,
    /// The nonce the client last issued to the server: the server's Cred and the Package#0
    /// digest are computed with it.
    server_nonce: Vec<u8>,
}

struct State {
    tree: Tree,
    auth: AuthState,
    ui: Option<UiAnswer>,
    /// SessionID of the next client-initiated session.
    next_session: u32,
    queue: VecDeque<Job>,
    busy: bool,
    running: Option<AbortHandle>,
    epoch: u64,
    /// Nonces issued so far (an input of the next one).
    nonces_issued: u64,
}

struct Shared {
    cfg: Dm12ClientConfig,
    faults: Faults,
    http: reqwest::Client,
    log: common::ExchangeLog,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
}

fn provisioned(c: &Dm12ClientConfig) -> Tree {
    Tree::provisioned(&tree::Provision {
        dev_id: &c.dev_id,
        server_id: &c.server_id,
        server_uri: &c.server_uri,
        username: &c.username,
        password: &c.password,
        server_password: c.server_password.as_deref().unwrap_or_default(),
    })
}

fn initial_auth(c: &Dm12ClientConfig) -> AuthState {
    AuthState { nonce: None, cred_type: crate::wire::dm12::auth::AUTH_MD5.into(), server_nonce: c.server_nonce.clone() }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        common::lock(&self.state)
    }

    fn log(&self, line: String) {
        self.log.push(line);
    }

    fn enqueue(&self, job: Job) {
        self.log(format!("queued {job:?}"));
        self.lock().queue.push_back(job);
        self.wake.notify_one();
    }

    fn reset(&self) {
        let tree = provisioned(&self.cfg);
        let mut st = self.lock();
        st.tree = tree;
        st.auth = initial_auth(&self.cfg);
        st.ui = None;
        st.next_session = 1;
        st.queue.clear();
        if let Some(h) = st.running.take() {
            h.abort();
        }
        st.epoch += 1;
        drop(st);
        self.log("reset to the provisioned state".into());
    }

    fn is_idle(&self) -> bool {
        let st = self.lock();
        st.queue.is_empty() && !st.busy
    }

    /// A fresh nonce for the server (16 bytes, digest §8.3: hard to predict). It becomes the
    /// stored server nonce only once a Chal carries it ([`Shared::keep_server_nonce`]).
    fn new_server_nonce(&self) -> Vec<u8> {
        use md5::{Digest, Md5};
        let mut st = self.lock();
        st.nonces_issued += 1;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mut h = Md5::new();
        h.update(now.as_nanos().to_be_bytes());
        h.update(st.nonces_issued.to_be_bytes());
        h.update(self.cfg.dev_id.as_bytes());
        h.finalize().to_vec()
    }

    /// A nonce sent to the server in a Chal: the server's next Cred and the next Package#0
    /// digest use it (SRVCRED AAuthData).
    fn keep_server_nonce(&self, nonce: Vec<u8>) {
        self.lock().auth.server_nonce = nonce;
    }

    /// Judges a Package#0 and queues its session when accepted.
    /// `encoding`: the one the upper tester asked the notified session to use (else the
    /// configured one).
    fn notification(&self, bytes: &[u8], via: &str, encoding: Option<Encoding>) -> Result<(), String> {
        self.log(format!("Package#0 via {via}: {}", hex::encode(bytes)));
        let verdict = self.judge_notification(bytes);
        match verdict {
            Ok((session_id, resync)) => {
                self.enqueue(Job::Notified { session_id, resync, encoding });
                Ok(())
            }
            Err(why) => {
                self.log(format!("Package#0 ignored: {why}"));
                Err(why)
            }
        }
    }

    fn judge_notification(&self, bytes: &[u8]) -> Result<(u16, bool), String> {
        let n = Notification::decode(bytes)?;
        if n.version != crate::wire::dm12::notification::VERSION_1_1 {
            return Err(format!("version {} (expected 11, DM 1.2.1)", n.version));
        }
        if n.server_id != self.cfg.server_id {
            return Err(format!("server identifier {:?} is not {:?}", n.server_id, self.cfg.server_id));
        }
        let mut resync = false;
        if let Some(pwd) = &self.cfg.noti_password {
            let stored = self.lock().auth.server_nonce.clone();
            if !n.verifies(bytes, pwd, &stored) {
                if !n.verifies(bytes, pwd, &RESYNC_NONCE) {
                    return Err("the digest is wrong under the stored server nonce and under the resync nonce".into());
                }
                resync = true;
            }
        }
        Ok((n.session_id, resync))
    }
}

async fn worker(sh: Arc<Shared>) {
    loop {
        let (job, epoch) = {
            let mut st = sh.lock();
            let j = st.queue.pop_front();
            st.busy = j.is_some();
            (j, st.epoch)
        };
        let Some(job) = job else {
            sh.wake.notified().await;
            continue;
        };
        let sh2 = sh.clone();
        let handle = tokio::spawn(async move { session::run_job(&sh2, job).await });
        {
            let mut st = sh.lock();
            if st.epoch != epoch {
                handle.abort();
            }
            st.running = Some(handle.abort_handle());
        }
        let _ = handle.await;
        let mut st = sh.lock();
        st.running = None;
        st.busy = false;
    }
}

fn parse_encoding(v: Option<&Value>) -> Result<Option<Encoding>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "xml" => Ok(Some(Encoding::Xml)),
        Some(Value::String(s)) if s == "wbxml" => Ok(Some(Encoding::Wbxml)),
        Some(other) => Err(format!("args.encoding must be \"xml\" or \"wbxml\"; got {other}")),
    }
}

fn text_arg(args: &Value, name: &str) -> Option<String> {
    match args.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

async fn handle_ut(sh: Arc<Shared>, req: UtRequest) -> UtAnswer {
    sh.log(format!("upper tester: {} {}", req.action, req.args));
    match req.action.as_str() {
        action::RESET => {
            sh.reset();
            common::wait_until(Duration::from_secs(5), || sh.is_idle()).await;
            UtAnswer::done(Value::Null)
        }
        action::IUT_STATE => ut_server::iut_state_answer(sh.is_idle()),
        action::IDLE => match common::wait_until(Duration::from_secs(5), || sh.is_idle()).await {
            true => UtAnswer::done(Value::Null),
            false => UtAnswer::failed("still busy after 5 s"),
        },
        action::SESSION_START => match parse_encoding(req.args.get("encoding")) {
            Ok(encoding) => {
                sh.enqueue(Job::ClientInitiated { alerts: vec![], encoding });
                UtAnswer::done(json!({ "queued": true }))
            }
            Err(e) => UtAnswer::failed(e),
        },
        action::NOTIFICATION_DELIVER => {
            let Some(b64) = req.args.get("bytes_b64").and_then(Value::as_str) else {
                return UtAnswer::failed("args.bytes_b64 (a base64 string) is required");
            };
            let bytes = match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(b) => b,
                Err(e) => return UtAnswer::failed(format!("args.bytes_b64 is not base64: {e}")),
            };
            let encoding = match parse_encoding(req.args.get("encoding")) {
                Ok(e) => e,
                Err(e) => return UtAnswer::failed(e),
            };
            match sh.notification(&bytes, "upper tester", encoding) {
                Ok(()) => UtAnswer::done(json!({ "accepted": true })),
                Err(why) => UtAnswer::done(json!({ "accepted": false, "reason": why })),
            }
        }
        action::ALERT_RAISE => {
            let (Some(r#type), Some(data)) = (text_arg(&req.args, "type"), text_arg(&req.args, "data")) else {
                return UtAnswer::failed("args.type and args.data are required");
            };
            let encoding = match parse_encoding(req.args.get("encoding")) {
                Ok(e) => e,
                Err(e) => return UtAnswer::failed(e),
            };
            let alert = GenericAlert {
                r#type,
                format: text_arg(&req.args, "format").unwrap_or_else(|| "chr".into()),
                data,
                source: text_arg(&req.args, "source"),
                target: None,
                correlator: text_arg(&req.args, "correlator"),
                mark: text_arg(&req.args, "mark"),
            };
            sh.enqueue(Job::ClientInitiated { alerts: vec![alert], encoding });
            UtAnswer::done(json!({ "queued": true }))
        }
        UI_ANSWER => match req.args.get("answer").and_then(Value::as_str).and_then(UiAnswer::parse) {
            Some(a) => {
                sh.lock().ui = Some(a);
                UtAnswer::done(Value::Null)
            }
            None => UtAnswer::failed("args.answer must be \"yes\", \"no\", \"cancel\" or \"timeout\""),
        },
        other => UtAnswer::unsupported(format!("the reference DM 1.2 client does not implement {other:?}")),
    }
}

async fn handle_notify(
    axum::extract::State(sh): axum::extract::State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(MEDIA_NOTIFICATION).to_string();
    let _ = sh.notification(&body, &format!("HTTP POST {NOTIFY_PATH} ({ct})"), None);
    axum::http::StatusCode::NO_CONTENT
}

/// A running reference DM 1.2 client (the addresses of a DM 2.0 one); shutting it down cancels
/// every session.
pub type RunningDm12Client = common::RunningPeer<crate::reference::client::ClientUrls>;

/// Starts the client on the current tokio runtime.
pub async fn spawn(cfg: Dm12ClientConfig) -> anyhow::Result<RunningDm12Client> {
    let faults = Faults::parse(Role::Client, &cfg.faults)?;
    let http = common::http_client(cfg.http_timeout, Duration::from_secs(5))?;
    let listener = common::Listening::bind(cfg.listen).await?;
    let log = common::ExchangeLog::new(cfg.echo_log.then_some("reference DM 1.2 client"));
    let state = State {
        tree: provisioned(&cfg),
        auth: initial_auth(&cfg),
        ui: None,
        next_session: 1,
        queue: VecDeque::new(),
        busy: false,
        running: None,
        epoch: 0,
        nonces_issued: 0,
    };
    let shared =
        Arc::new(Shared { cfg, faults, http, log, state: Mutex::new(state), wake: tokio::sync::Notify::new() });
    let sh = shared.clone();
    let ut: ut_server::UtHandler = Arc::new(move |req| Box::pin(handle_ut(sh.clone(), req)));
    let app = ut_server::router(ut.clone())
        .merge(axum::Router::new().route(NOTIFY_PATH, axum::routing::post(handle_notify)).with_state(shared.clone()));
    let listening = common::Listening::serve(listener, app)?;
    let addr = listening.addr;
    let worker = tokio::spawn(worker(shared.clone()));
    shared.log(format!("reference DM 1.2 client listening on {addr}, DM server {}", shared.cfg.server_uri));
    let urls = crate::reference::client::ClientUrls {
        addr,
        ut_url: format!("http://{addr}{}", ut_server::UT_PATH),
        notify_url: format!("http://{addr}{NOTIFY_PATH}"),
    };
    let (log, reset) = (shared.clone(), shared.clone());
    Ok(common::RunningPeer::new(urls, ut, move || log.log.lines(), vec![listening])
        .with_worker(worker, move || reset.reset()))
}

/// `dmcts reference dm12-client` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Dm12ClientArgs {
    /// Address serving /ut and /notify.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The DM server URI Package#1 is POSTed to.
    #[arg(long, required_unless_present = "list_faults")]
    pub server_uri: Option<String>,
    #[arg(long, default_value = DEFAULT_DEV_ID)]
    pub dev_id: String,
    /// DMAcc ServerID (the server identifier a Package#0 must carry).
    #[arg(long, default_value = "dmcts")]
    pub server_id: String,
    /// Encoding of sessions that do not ask for one.
    #[arg(long, value_parser = ["xml", "wbxml"], default_value = "xml")]
    pub encoding: String,
    /// Client credentials (syncml:auth-md5 towards the server).
    #[arg(long, default_value = DEFAULT_USERNAME)]
    pub username: String,
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    pub password: String,
    /// Demand the server's Cred and check it with this password (digest §8.5).
    #[arg(long)]
    pub server_password: Option<String>,
    /// The Package#0 digest password.
    #[arg(long, default_value = DEFAULT_SERVER_PASSWORD)]
    pub noti_password: String,
    /// Inject a fault (repeatable), e.g. `--fault client.dm12-no-final`.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// List the faults and exit.
    #[arg(long)]
    pub list_faults: bool,
}

impl Dm12ClientArgs {
    pub fn to_config(&self) -> anyhow::Result<Dm12ClientConfig> {
        let uri = self.server_uri.clone().context("--server-uri is required")?;
        let mut c = Dm12ClientConfig::new(uri);
        c.listen = self.listen;
        c.dev_id = self.dev_id.clone();
        c.server_id = self.server_id.clone();
        c.encoding = if self.encoding == "wbxml" { Encoding::Wbxml } else { Encoding::Xml };
        c.username = self.username.clone();
        c.password = self.password.clone();
        c.server_password = self.server_password.clone();
        c.noti_password = Some(self.noti_password.clone());
        c.faults = self.faults.iter().cloned().collect();
        c.echo_log = true;
        Ok(c)
    }
}

/// CLI entry: spawn, print the URLs, run until Ctrl-C.
pub async fn run_cli(args: Dm12ClientArgs) -> anyhow::Result<()> {
    if args.list_faults {
        common::print_faults(FAULTS, 40);
        return Ok(());
    }
    let running = spawn(args.to_config()?).await?;
    println!("reference DM 1.2 client upper tester: {}", running.ut_url);
    println!("reference DM 1.2 client notifications: {}", running.notify_url);
    common::until_ctrl_c(running.shutdown()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Dm12ClientArgs,
    }

    #[test]
    fn cli_args_build_a_config() {
        let cli = Cli::parse_from([
            "x",
            "--server-uri",
            "http://127.0.0.1:1/dm",
            "--fault",
            "dm12-no-final",
            "--encoding",
            "wbxml",
            "--server-password",
            "s",
        ]);
        let c = cli.args.to_config().unwrap();
        assert_eq!((c.dev_id.as_str(), c.server_id.as_str(), c.encoding), (DEFAULT_DEV_ID, "dmcts", Encoding::Wbxml));
        assert_eq!((c.username.as_str(), c.password.as_str()), ("dmcts-client", "client-secret"));
        assert_eq!(c.server_password.as_deref(), Some("s"));
        assert!(Faults::parse(Role::Client, &c.faults).unwrap().has("dm12-no-final"));
        assert!(Cli::try_parse_from(["x", "--list-faults"]).is_ok());
    }

    #[test]
    fn fault_names_are_unique_and_declared_in_the_catalog() {
        let names: BTreeSet<&str> = FAULTS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FAULTS.len());
        assert!(names.iter().all(|n| crate::reference::faults::find(n).is_some()));
    }
}
