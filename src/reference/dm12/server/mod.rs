//! Reference SyncML DM 1.2 server (digest `shared/spec/dm12-protocol.md` §3–§9): the IUT of the
//! suite's DM 1.2 server-role self-test, driven by the upper-tester contract, with injectable
//! faults that each break one requirement of digest §14.3.
//!
//! # Endpoints (on `Dm12ServerConfig::listen`)
//! - `POST /dm` (and any path under `/dm`): one client message in, one server message out,
//!   HTTP 200 in the request's encoding (`application/vnd.syncml.dm+xml` or `+wbxml`; a
//!   request with another Content-Type is read by what its body looks like). A body that does
//!   not decode gets HTTP **400** with the decoder's error (digest §2 proposal).
//! - `POST /ut`: the upper tester (below).
//!
//! # Sessions
//! A session is keyed by (SessionID, SyncHdr `Source/LocURI`); the device id is that LocURI.
//! Each answer: VerDTD 1.2, VerProto DM/1.2, the client's SessionID, MsgID 1 then +1 per server
//! message of the session, Target = the client's Source, Source = the URL the request came to
//! (without query), RespURI `<base>/dm?s=<token>` in every message (digest §3.2 proposal; a
//! POST to any `/dm` URL is accepted). First in SyncBody the Status for the client's SyncHdr
//! (CmdRef 0, Cmd SyncHdr, MsgRef, TargetRef/SourceRef), then one Status per client command in
//! order (none for Status and for a Results that is fine, digest §4.9).
//!
//! Authentication (digest §8.3, §8.4): a device registered with `credentials` must send
//! syncml:auth-md5 `B64(H(B64(H(user:pwd)):nonce))` with the nonce the server issued last, the
//! user being `Source/LocName`, else `Source/LocURI` (§14.4 `md5_username_source`). No Cred →
//! SyncHdr **407**, wrong Cred → **401**, each with a Chal (md5, b64, a fresh 16-byte
//! NextNonce), every command answered with the same code, nothing else, Final; the session
//! stays open for the re-sent Package#1. Correct → **212** with a Chal carrying the NextNonce
//! for the next session. An unregistered device gets 407/401 the same way, never commands. A
//! device registered without credentials is served with SyncHdr 200 (transport-level
//! authentication, §8.7). When the client challenges the server (its Status for the server's
//! SyncHdr 401/407 with a Chal), the next message carries the server's Cred of the requested
//! type (basic or md5) with the client's nonce and the server credentials; commands the client
//! answered 401/407 meanwhile are sent again. When the device was registered with
//! `server_credentials` and a client nonce is known, the first message of each session carries
//! the server's md5 Cred unasked (digest §15.2).
//!
//! Client commands (authenticated): Alert 1200/1201/1222/1223/1224/1225/1226 → 200 (1224/1226
//! items recorded as alerts — 412 when one has no Meta Type, Format or Data, or there is no
//! Item; 1223 ends the session: Statuses only, Final); any other alert code → 406; the DevInfo Replace → 200 (recorded); any other Replace, Add, Get, Delete, Copy,
//! Exec, Atomic, Sequence → 405 (a client sends none, digest §3.8); an element DM does not use
//! → 501. Results are recorded; a Results item with MoreData is buffered (Status 213), the
//! last chunk completes it (a Size mismatch → 424, nothing recorded; over 4 MiB → 413); a
//! Results for another object, or the client's Final, before the last chunk drops it with an
//! Alert 1225 naming it (digest §5.7, §6.7).
//!
//! Packages: a client message without Final gets the "Next Message" response (Statuses, Alert
//! 1222, no Final, digest §5.6). A complete client package gets the next server package: every
//! command queued for the device (batching free) with Final, or — when a queued large-object
//! chunk carries MoreData — the commands up to that chunk without Final, the rest after the
//! client's 213/1222 answer (digest §5.7). With nothing queued the answer is Statuses only with
//! Final and the session is over (digest §5.5). A package larger than the client's
//! `MaxMsgSize` (its last SyncHdr Meta) is split between top-level commands into messages
//! without Final, the next one sent when the client asks (1222); a single command too large is
//! sent as it is (MaxObjSize is not enforced: large objects are chunked only as queued). A session silent for
//! `Dm12ServerConfig::session_timeout` is dropped; at most 256 are open at once.
//!
//! # Upper tester (`POST /ut`)
//! - `reset`: forget every device, session and record.
//! - `idle`: `done` once no authenticated session is open (≤ 5 s, else `failed`); a session
//!   that only got a challenge does not count. `iut.state`: `idle` or `running` likewise.
//! - `device.register` {`dev_id`, `credentials`?: {`username`, `password`, `nonce_b64`?},
//!   `server_credentials`?: {`password`, `username`? (default the server id), `nonce_b64`?},
//!   `notification`?: {`address`?}} → {`dev_id`}. `credentials.nonce_b64`: the nonce the
//!   device holds for its first Cred (default none: its first Cred gets 401 + a nonce).
//!   `server_credentials.nonce_b64`: the nonce the device issued to the server, for the
//!   server's Cred and the Package#0 digest until the device issues another.
//! - `commands.enqueue` {`dev_id`, `commands`: [command arrays, PLAN-dm12.md form]} →
//!   {`queued`}; a bad array fails the call with its JSON pointer, nothing queued.
//! - `notification.send` {`dev_id`, `session_id`?: 1..65535} → {`bytes_b64`, `session_id`,
//!   `session_id_hex`, `address`, `http_status` | `delivery_error`}: a Package#0 (digest §9:
//!   version 11, ui-mode 0, initiator server, server identifier = `server_id`), digest with
//!   the server password and the last nonce the device issued to the server (digest §9.3),
//!   else four zero bytes (the resync nonce, digest §9.4 [UNVERIFIED default]); POSTed with
//!   `application/vnd.syncml.notification` when the device has an address.
//! - `device.report` {`dev_id`} → {`statuses`: [[codes of each client message's Status
//!   elements, SyncHdr's included, in order], one list per client message], `status_details`,
//!   `results`: [{`source`, `data`, `format`}], `alerts`: [{`code`, `type`, `format`, `mark`,
//!   `data`, `correlator`, `source`, `target`}] (1226 and 1224 items), `sessions`: n,
//!   `devinfo`, `notifications`, `errors`}.
//! - `firmware.update` {`dev_id`, `mode`: `dm` | `download_and_update`, `package_url`, `data`?,
//!   `confirm`?, `fumo_uri`? (default `./FUMO/`)} and `software.install` {`dev_id`,
//!   `package_id`, `mode`?: `dm` (`data`) | `download` (`url`, `install`?), `activate`?,
//!   `entry`?, `scomo_uri`? (default `./SCOMO/`)},
//!   `software.remove|activate|deactivate` {`dev_id`, `component_id`, `scomo_uri`?}, and
//!   `software.inventory` {`dev_id`, `scomo_uri`?} (a Get of `Inventory/Deployed`, then of each
//!   component's leaves; `device.report` adds `inventory`) → {`queued`,
//!   `job`, `exec`: the Exec as a command array, `correlator`}: the seeds' DM 1.x commands queued
//!   (see [`enablers`]); `device.report` adds `firmware` and `software`, one object per job.
//! - `gateway.image` {`dev_id`, `image_url`, `image_uri`? (default `./GWMO/ImageInventory/img1/`)}
//!   and `gateway.fanout` {`dev_id`, `group`, `image_uri`?, `fanout_uri`? (default
//!   `./GWMO/Fanout/fo1/`), `commands`?} → {`queued`, `exec`, `correlator`, `dm_commands`
//!   (fanout)}: GwMO in its DM 1.2 form (see [`gateway`]); `device.report` adds `gateway`.
//! - Anything else: `unsupported`.
mod commands;
mod dm;
mod enablers;
mod gateway;
mod state;

use crate::reference::common::{self, fault};
use crate::reference::faults::FaultInfo;
use crate::reference::ut_server;
use crate::scr::Role;
use crate::upper_tester::{action, UtAnswer, UtRequest};
use crate::wire::dm12::auth;
use crate::wire::dm12::notification::{self, Trigger, UiMode, MEDIA_NOTIFICATION, VERSION_1_1};
use base64::Engine;
use serde_json::{json, Value};
use state::{Credentials, Device, State};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The reference server's ServerID (the server identifier of its Package#0).
pub const DEFAULT_SERVER_ID: &str = "dmcts";
/// The server password of the reference values (its Cred, the Package#0 digest).
pub const DEFAULT_SERVER_PASSWORD: &str = "server-secret";
/// The DM endpoint.
pub const DM_PATH: &str = "/dm";

/// Faults the reference DM 1.2 server can be switched into (`server.dm12-…`); each breaks one
/// row of digest §14.3 and nothing else.
pub static FAULTS: &[FaultInfo] = &[
    fault!(
        Server,
        "dm12-answers-xml-to-wbxml",
        "a WBXML client message is answered in XML (application/vnd.syncml.dm+xml): not the request's encoding, and not WBXML",
        ["DM12-001-S-M", "DM12-031-S-O"]
    ),
    fault!(
        Server,
        "dm12-wrong-session-id",
        "the SyncHdr SessionID of every answer is the client's with a 0 appended",
        ["DM12-002-S-M"]
    ),
    fault!(Server, "dm12-msgid-repeats", "every server message has MsgID 1", ["DM12-003-S-M"]),
    fault!(
        Server,
        "dm12-duplicate-cmdid",
        "the second element of every SyncBody repeats the first one's CmdID",
        ["DM12-004-S-M"]
    ),
    fault!(Server, "dm12-no-synchdr-status", "no Status for the client's SyncHdr", ["DM12-005-S-M"]),
    fault!(Server, "dm12-no-alert-status", "no Status for the client's Alerts", ["DM12-006-S-M"]),
    fault!(Server, "dm12-no-devinfo-status", "no Status for the client's DevInfo Replace", ["DM12-007-S-M"]),
    fault!(
        Server,
        "dm12-status-no-cmdref",
        "Statuses for client commands (not the SyncHdr's) carry no CmdRef",
        ["DM12-008-S-M"]
    ),
    fault!(
        Server,
        "dm12-no-auth-required",
        "a Package#1 without Cred from a device registered with credentials is accepted (SyncHdr 200) and \
         served its commands",
        ["DM12-010-S-M"]
    ),
    fault!(
        Server,
        "dm12-accepts-wrong-cred",
        "any Cred is accepted (212), whatever its type, user, digest or nonce",
        ["DM12-011-S-M"]
    ),
    fault!(
        Server,
        "dm12-nextnonce-not-b64",
        "the NextNonce of the Chal accompanying 212 is raw text that is not base64 (Format b64 all the same)",
        ["DM12-013-S-M"]
    ),
    fault!(
        Server,
        "dm12-ignores-client-challenge",
        "never sends a Cred, even when the client's Status for its SyncHdr is 401/407 with a Chal",
        ["DM12-014-S-M"]
    ),
    fault!(
        Server,
        "dm12-hmac-in-cred",
        "challenged with syncml:auth-MAC, the server puts the MAC into a SyncHdr Cred of that type, with no x-syncml-hmac header",
        ["DM12-029-S-O"]
    ),
    fault!(
        Server,
        "dm12-commands-before-final",
        "a client message without Final is answered with the Next Message response plus the queued commands",
        ["DM12-017-S-M"]
    ),
    fault!(Server, "dm12-no-final", "server packages carrying commands have no Final", ["DM12-018-S-M"]),
    fault!(
        Server,
        "dm12-never-ends",
        "once the queue is empty every package carries a Get of ./DevInfo/DevId instead of ending the session \
         (at most 10 per session)",
        ["DM12-019-S-M"]
    ),
    fault!(Server, "dm12-generic-alert-406", "a Generic Alert 1226 is answered 406", ["DM12-020-S-M"]),
    fault!(
        Server,
        "dm12-unknown-alert-200",
        "an alert code the server does not know is answered 200",
        ["DM12-022-S-M"]
    ),
    fault!(Server, "dm12-lo-no-213", "a client Results chunk with MoreData is answered 200, not 213", ["DM12-027-S-M"]),
    fault!(
        Server,
        "dm12-no-format-meta",
        "commands carry no Meta Format when it is not chr (b64 data, interior-node Add)",
        ["DM12-028-S-M"]
    ),
    fault!(
        Server,
        "dm12-drops-last-command",
        "the last command of every server package (that ends with Final) is never sent",
        ["DM12-034-S-M"]
    ),
    fault!(
        Server,
        "fumo12-exec-before-package",
        "firmware.update queues the Exec of the FUMO operation node before the command that provides the package or its URL",
        ["FUMO-001-S-M"]
    ),
    fault!(Server, "fumo12-no-correlator", "firmware.update's Exec carries no Correlator", ["FUMO-002-S-O"]),
    fault!(
        Server,
        "fumo12-202-final",
        "a 202 for a FUMO Exec is taken as the update's end (device.report: finished, success)",
        ["FUMO-003-S-M"]
    ),
    fault!(Server, "fumo12-result-ignored", "the FUMO result alert is answered but its ResultCode not recorded", ["FUMO-004-S-M"]),
    fault!(Server, "fumo12-failure-as-success", "a FUMO failure ResultCode (4xx/5xx) is recorded as a success", ["FUMO-005-S-M"]),
    fault!(
        Server,
        "scomo12-inventory-not-read",
        "software.inventory sends the Get of Inventory/Deployed but drops what the device answers: no component is reported",
        ["SCOMO-018-S-O"]
    ),
    fault!(
        Server,
        "scomo12-download-wrong-op",
        "software.install in mode download sets Download/<x> but Execs its Operations/Install, an operation Download/<x> does not have, not DownloadInstall",
        ["SCOMO-019-S-O"]
    ),
    fault!(
        Server,
        "scomo12-install-no-delivery",
        "software.install queues no Add of the package Data into Inventory/Delivered/<x> before the Exec Install",
        ["SCOMO-013-S-M"]
    ),
    fault!(
        Server,
        "scomo12-op-wrong-node",
        "software.remove/activate/deactivate Exec the component node, not its Operations/<op> node",
        ["SCOMO-014-S-M"]
    ),
    fault!(Server, "scomo12-result-ignored", "the SCOMO result alert is answered but its ResultCode not recorded", ["SCOMO-016-S-M"]),
    fault!(
        Server,
        "scomo12-failure-as-success",
        "a SCOMO failure ResultCode (e.g. 1408) is reported as a success",
        ["SCOMO-017-S-M"]
    ),
    // ---- GwMO (gateway.rs; scr/gwmo/gwmo.toml), the DM 2.0 server's six in DM 1.2 ----
    fault!(
        Server,
        "gw12-exec-before-image-uri",
        "gateway.image Execs the image's Operations/Download before the Replace that sets its ImageURI",
        ["GWMO-001-S-M"]
    ),
    fault!(
        Server,
        "gw12-image-ready-ignored",
        "the gateway's Image Ready alert is answered 200 but not consumed: the image never gets its LocalImageURI",
        ["GWMO-002-S-M"]
    ),
    fault!(
        Server,
        "gw12-dmcommands-external-uri",
        "gateway.fanout puts the image's external ImageURI in the DMCommands fragment instead of the LocalImageURI",
        ["GWMO-003-S-M"]
    ),
    fault!(
        Server,
        "gw12-start-before-commands",
        "gateway.fanout Execs the Fanout job's Operations/Start before it sets DMCommands and TargetGroupRef",
        ["GWMO-004-S-M"]
    ),
    fault!(
        Server,
        "gw12-aggregate-ignored",
        "the gateway's Fanout alert is answered 200 but not consumed: the fan-out stays without results",
        ["GWMO-005-S-M"]
    ),
    fault!(
        Server,
        "gw12-failed-devices-as-success",
        "every device of the Fanout alert's aggregate is recorded as a success, the failed and silent ones too",
        ["GWMO-005-S-M"]
    ),
];

/// The faults this peer is switched into.
pub type Faults = crate::reference::faults::ActiveFaults;

/// Configuration of the reference DM 1.2 server.
#[derive(Debug, Clone)]
pub struct Dm12ServerConfig {
    /// Where `/dm` and `/ut` are served (port 0: any free port).
    pub listen: SocketAddr,
    /// The ServerID: the Package#0 server identifier, the user of its Cred.
    pub server_id: String,
    /// The server password for devices registered without `server_credentials`.
    pub server_password: String,
    /// Fault names, `server.dm12-x` or `dm12-x`.
    pub faults: BTreeSet<String>,
    /// Base URL the server names itself by (Source, RespURI); default `http://<bound address>`.
    pub base_url: Option<String>,
    /// Timeout of each Package#0 delivery (HTTP POST).
    pub http_timeout: Duration,
    /// A session with no traffic for this long is dropped as abandoned.
    pub session_timeout: Duration,
    /// Also print the exchange log to stderr (CLI mode).
    pub echo_log: bool,
    /// The DM 1.2 profile: the GwMO alert types the server recognises.
    pub profile: crate::wire::dm12::profile::Profile,
}

impl Default for Dm12ServerConfig {
    fn default() -> Self {
        Dm12ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            server_id: DEFAULT_SERVER_ID.into(),
            server_password: DEFAULT_SERVER_PASSWORD.into(),
            faults: BTreeSet::new(),
            base_url: None,
            http_timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(10),
            echo_log: false,
            profile: Default::default(),
        }
    }
}

impl Dm12ServerConfig {
    /// Reference values: ServerID `dmcts`, server password `server-secret`, 127.0.0.1:0.
    pub fn new() -> Dm12ServerConfig {
        Dm12ServerConfig::default()
    }
}

struct Shared {
    cfg: Dm12ServerConfig,
    faults: Faults,
    http: reqwest::Client,
    /// `http://addr` or `cfg.base_url`, without a trailing slash.
    base: String,
    log: common::ExchangeLog,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        common::lock(&self.state)
    }

    fn log(&self, line: String) {
        self.log.push(line);
    }

    /// Whether fault `server.dm12-<short>` is on.
    fn has(&self, short: &str) -> bool {
        self.faults.has(&format!("dm12-{short}"))
    }

    /// No notification in flight and no authenticated session open: a session that only got a
    /// challenge (its client may never answer) does not keep the server busy.
    fn is_idle(&self) -> bool {
        let mut st = self.lock();
        st.expire_sessions(self.cfg.session_timeout);
        st.in_flight == 0 && st.sessions.values().all(|s| !s.authenticated)
    }
}

fn str_arg<'a>(args: &'a Value, key: &str) -> Result<&'a str, UtAnswer> {
    args.get(key).and_then(Value::as_str).ok_or_else(|| UtAnswer::failed(format!("args.{key} (a string) is required")))
}

/// Credentials and the nonce registered with them.
type CredsArg = (Credentials, Option<Vec<u8>>);

/// An optional `{username?, password, nonce_b64?}` object; `default_user` when the username
/// may be left out.
fn creds_arg(args: &Value, key: &str, default_user: Option<&str>) -> Result<Option<CredsArg>, UtAnswer> {
    let c = match args.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(c) => c,
    };
    let bad = |what: &str| UtAnswer::failed(format!("args.{key}.{what}"));
    let username = match (c.get("username").and_then(Value::as_str), default_user) {
        (Some(u), _) => u.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => return Err(bad("username (a string) is required")),
    };
    let password = c.get("password").and_then(Value::as_str).ok_or_else(|| bad("password (a string) is required"))?;
    let nonce = match c.get("nonce_b64") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(auth::decode_nonce(s).ok_or_else(|| bad("nonce_b64 must be base64"))?),
        Some(_) => return Err(bad("nonce_b64 must be a base64 string")),
    };
    Ok(Some((Credentials { username, password: password.to_string() }, nonce)))
}

fn parse_register(sh: &Shared, args: &Value) -> Result<(String, Device), UtAnswer> {
    let dev_id = str_arg(args, "dev_id")?.to_string();
    if dev_id.is_empty() {
        return Err(UtAnswer::failed("args.dev_id must not be empty"));
    }
    let credentials = creds_arg(args, "credentials", None)?;
    let server_credentials = creds_arg(args, "server_credentials", Some(&sh.cfg.server_id))?;
    let notification_address = match args.get("notification").map(|n| n.get("address")) {
        None | Some(None) | Some(Some(Value::Null)) => None,
        Some(Some(Value::String(s))) => Some(s.clone()),
        Some(Some(_)) => return Err(UtAnswer::failed("args.notification.address must be a URL string or null")),
    };
    let mut d = Device { notification_address, ..Device::default() };
    if let Some((c, nonce)) = credentials {
        d.credentials = Some(c);
        d.nonce = nonce;
    }
    if let Some((c, nonce)) = server_credentials {
        d.server_credentials = Some(c);
        d.client_nonce = nonce;
    }
    Ok((dev_id, d))
}

async fn handle_ut(sh: Arc<Shared>, req: UtRequest) -> UtAnswer {
    sh.log(format!("upper tester: {} {}", req.action, req.args));
    let answer = ut_action(&sh, &req).await;
    sh.log(format!("upper tester answer: {:?} {} {}", answer.status, answer.message, answer.data));
    answer
}

async fn ut_action(sh: &Shared, req: &UtRequest) -> UtAnswer {
    match req.action.as_str() {
        action::RESET => {
            common::wait_until(Duration::from_secs(5), || sh.lock().in_flight == 0).await;
            sh.lock().reset();
            UtAnswer::done(Value::Null)
        }
        action::IUT_STATE => ut_server::iut_state_answer(sh.is_idle()),
        action::IDLE => match common::wait_until(Duration::from_secs(5), || sh.is_idle()).await {
            true => UtAnswer::done(Value::Null),
            false => UtAnswer::failed("a session is still open (or a notification in flight) after 5 s"),
        },
        action::DEVICE_REGISTER => match parse_register(sh, &req.args) {
            Ok((dev_id, device)) => {
                let mut st = sh.lock();
                st.sessions.retain(|_, s| s.dev_id != dev_id);
                st.devices.insert(dev_id.clone(), device);
                UtAnswer::done(json!({ "dev_id": dev_id }))
            }
            Err(a) => a,
        },
        action::COMMANDS_ENQUEUE => {
            let dev_id = match str_arg(&req.args, "dev_id") {
                Ok(d) => d,
                Err(a) => return a,
            };
            match commands::parse(req.args.get("commands")) {
                Err(e) => UtAnswer::failed(format!("args{e}")),
                Ok(cmds) => match sh.lock().devices.get_mut(dev_id) {
                    None => UtAnswer::failed(format!("device {dev_id:?} is not registered")),
                    Some(d) => {
                        d.queue.extend(cmds);
                        UtAnswer::done(json!({ "queued": d.queue.len() }))
                    }
                },
            }
        }
        action::NOTIFICATION_SEND => send_notification(sh, &req.args).await,
        action::DEVICE_REPORT => {
            let dev_id = match str_arg(&req.args, "dev_id") {
                Ok(d) => d,
                Err(a) => return a,
            };
            match sh.lock().devices.get(dev_id) {
                None => UtAnswer::failed(format!("device {dev_id:?} is not registered")),
                Some(d) => {
                    let mut report = d.report.json();
                    let of = |k: enablers::Kind| -> Vec<Value> {
                        d.jobs.iter().filter(|j| j.kind == k).map(enablers::Job::json).collect()
                    };
                    report["firmware"] = Value::Array(of(enablers::Kind::Firmware));
                    report["software"] = Value::Array(of(enablers::Kind::Software));
                    report["gateway"] = serde_json::to_value(&d.gateway).unwrap_or(Value::Null);
                    if let Some(inv) = &d.inventory {
                        report["inventory"] = inv.json();
                    }
                    UtAnswer::done(report)
                }
            }
        }
        action::FIRMWARE_UPDATE
        | action::SOFTWARE_INSTALL
        | action::SOFTWARE_REMOVE
        | action::SOFTWARE_ACTIVATE
        | action::SOFTWARE_DEACTIVATE => start_operation(sh, req),
        action::SOFTWARE_INVENTORY => on_device(sh, req, |d| match enablers::inventory(&req.args, &sh.faults) {
            Err(e) => UtAnswer::failed(e),
            Ok((cmds, inv)) => {
                d.queue.extend(cmds);
                d.inventory = Some(inv);
                UtAnswer::done(json!({ "queued": d.queue.len() }))
            }
        }),
        action::GATEWAY_IMAGE | action::GATEWAY_FANOUT => gateway_operation(sh, req),
        other => UtAnswer::unsupported(format!("the reference DM 1.2 server does not implement {other:?}")),
    }
}

/// `firmware.update`, `software.*`: the operation's commands queued for the device, its job
/// listed by `device.report` (see [`enablers`]).
fn start_operation(sh: &Shared, req: &UtRequest) -> UtAnswer {
    on_device(sh, req, |d| {
        let n = d.jobs.len();
        let made = match req.action.as_str() {
            action::FIRMWARE_UPDATE => enablers::firmware_update(&req.args, n, &sh.faults),
            other => enablers::software(other, &req.args, n, &sh.faults),
        };
        match made {
            Err(e) => UtAnswer::failed(e),
            Ok((cmds, job)) => {
                d.queue.extend(cmds);
                let answer =
                    json!({ "queued": d.queue.len(), "job": n, "exec": job.exec, "correlator": job.correlator });
                d.jobs.push(job);
                UtAnswer::done(answer)
            }
        }
    })
}

/// Runs `f` on the registered device `args.dev_id`; a missing or unknown one is the answer.
fn on_device(sh: &Shared, req: &UtRequest, f: impl FnOnce(&mut state::Device) -> UtAnswer) -> UtAnswer {
    let dev_id = match str_arg(&req.args, "dev_id") {
        Ok(d) => d,
        Err(a) => return a,
    };
    let mut st = sh.lock();
    match st.devices.get_mut(dev_id) {
        Some(d) => f(d),
        None => UtAnswer::failed(format!("device {dev_id:?} is not registered")),
    }
}

/// `gateway.image`, `gateway.fanout`: GwMO's commands queued for the gateway (see [`gateway`]).
fn gateway_operation(sh: &Shared, req: &UtRequest) -> UtAnswer {
    on_device(sh, req, |d| {
        let made = match req.action.as_str() {
            action::GATEWAY_IMAGE => gateway::image(d, &req.args, &sh.faults),
            _ => gateway::fanout(d, &req.args, &sh.faults),
        };
        match made {
            Ok(answer) => UtAnswer::done(answer),
            Err(e) => UtAnswer::failed(e),
        }
    })
}

/// Decrements the in-flight count even when the upper-tester request is dropped mid-delivery.
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
    }
}

/// `notification.send`: a Package#0 (digest §9).
async fn send_notification(sh: &Shared, args: &Value) -> UtAnswer {
    let Some(dev_id) = args.get("dev_id").and_then(Value::as_str) else {
        return UtAnswer::failed("args.dev_id (a string) is required");
    };
    let given = match args.get("session_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| u16::try_from(n).ok()).filter(|n| *n >= 1) {
            Some(n) => Some(n),
            None => return UtAnswer::failed(format!("args.session_id must be an integer 1..65535, found {v}")),
        },
    };
    let _guard;
    let (bytes, session_id, address) = {
        let mut st = sh.lock();
        let session_id = match given {
            Some(n) => n,
            None => st.next_session_id(),
        };
        let Some(d) = st.devices.get(dev_id) else {
            return UtAnswer::failed(format!("device {dev_id:?} is not registered"));
        };
        let password = d.server_credentials.as_ref().map_or(sh.cfg.server_password.clone(), |c| c.password.clone());
        // The last nonce the device issued to the server (digest §9.3), else the resync nonce.
        let nonce = d.client_nonce.clone().unwrap_or_else(|| vec![0, 0, 0, 0]);
        let address = d.notification_address.clone();
        let trigger = Trigger {
            version: VERSION_1_1,
            ui_mode: UiMode::NotSpecified,
            server_initiated: true,
            session_id,
            server_id: sh.cfg.server_id.clone(),
            vendor: Vec::new(),
        };
        let bytes = match notification::encode(&trigger, &password, &nonce) {
            Ok(b) => b,
            Err(e) => return UtAnswer::failed(format!("cannot build the Package#0: {e}")),
        };
        if address.is_some() {
            st.in_flight += 1;
            _guard = InFlight(sh);
        }
        (bytes, session_id, address)
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    sh.log(format!("Package#0 for {dev_id} (session {session_id:X}): {}", hex::encode(&bytes)));
    let mut data = json!({
        "bytes_b64": b64, "session_id": session_id, "session_id_hex": format!("{session_id:X}"), "address": address,
    });
    let mut http_status = Value::Null;
    if let Some(addr) = &address {
        match sh.http.post(addr).header("content-type", MEDIA_NOTIFICATION).body(bytes).send().await {
            Ok(r) => {
                http_status = json!(r.status().as_u16());
                data["http_status"] = http_status.clone();
                sh.log(format!("Package#0 POST {addr} → {}", r.status()));
            }
            Err(e) => {
                data["delivery_error"] = json!(e.to_string());
                sh.log(format!("Package#0 POST {addr} failed: {e}"));
            }
        }
    }
    if let Some(d) = sh.lock().devices.get_mut(dev_id) {
        state::push_bounded(
            &mut d.report.notifications,
            json!({ "session_id": session_id, "bytes_b64": b64, "http_status": http_status }),
        );
    }
    UtAnswer::done(data)
}

/// A running reference DM 1.2 server (the addresses of a DM 2.0 one: `dm_url` is the server URI
/// devices POST to); shutting it down gives in-flight requests up to 5 s to finish.
pub type RunningDm12Server = common::RunningPeer<crate::reference::server::ServerUrls>;

/// Starts the server on the current tokio runtime.
pub async fn spawn(cfg: Dm12ServerConfig) -> anyhow::Result<RunningDm12Server> {
    let faults = Faults::parse(Role::Server, &cfg.faults)?;
    let http = common::http_client(cfg.http_timeout, cfg.http_timeout.min(Duration::from_secs(5)))?;
    let listener = common::Listening::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let base = cfg.base_url.clone().unwrap_or_else(|| format!("http://{addr}")).trim_end_matches('/').to_string();
    let log = common::ExchangeLog::new(cfg.echo_log.then_some("ref-dm12-server"));
    let shared = Arc::new(Shared { cfg, faults, http, base: base.clone(), log, state: Mutex::new(State::default()) });
    let sh = shared.clone();
    let ut: ut_server::UtHandler = Arc::new(move |req| Box::pin(handle_ut(sh.clone(), req)));
    let app = ut_server::router(ut.clone()).merge(dm::router(shared.clone()));
    let listening = common::Listening::serve(listener, app)?;
    shared.log(format!("reference DM 1.2 server {:?} listening on {addr} (base {base})", shared.cfg.server_id));
    let urls = crate::reference::server::ServerUrls {
        addr,
        dm_url: format!("{base}{DM_PATH}"),
        ut_url: format!("{base}{}", ut_server::UT_PATH),
        base_url: base,
    };
    let log = shared.clone();
    Ok(common::RunningPeer::new(urls, ut, move || log.log.lines(), vec![listening]))
}

/// `dmcts reference dm12-server` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Dm12ServerArgs {
    /// Address serving /dm and /ut.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The ServerID (Package#0 server identifier, user of the server's Cred).
    #[arg(long, default_value = DEFAULT_SERVER_ID)]
    pub server_id: String,
    /// Base URL the server names itself by (default http://<bound address>).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Seconds of silence after which an open session is dropped.
    #[arg(long, default_value_t = 10)]
    pub session_timeout_s: u64,
    /// Inject a fault (repeatable), e.g. `--fault server.dm12-no-final`.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// List the faults and exit.
    #[arg(long)]
    pub list_faults: bool,
}

impl Dm12ServerArgs {
    pub fn to_config(&self) -> Dm12ServerConfig {
        Dm12ServerConfig {
            listen: self.listen,
            server_id: self.server_id.clone(),
            base_url: self.base_url.clone(),
            session_timeout: Duration::from_secs(self.session_timeout_s.max(1)),
            faults: self.faults.iter().cloned().collect(),
            echo_log: true,
            ..Dm12ServerConfig::default()
        }
    }
}

/// CLI entry: spawn, print the URLs, run until Ctrl-C.
pub async fn run_cli(args: Dm12ServerArgs) -> anyhow::Result<()> {
    if args.list_faults {
        common::print_faults(FAULTS, 40);
        return Ok(());
    }
    let running = spawn(args.to_config()).await?;
    println!("reference DM 1.2 server URI: {}", running.dm_url);
    println!("reference DM 1.2 server upper tester: {}", running.ut_url);
    common::until_ctrl_c(running.shutdown()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_are_unique_and_parse() {
        let names: BTreeSet<_> = FAULTS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FAULTS.len(), "duplicate fault names");
        // The protocol's faults, and those of the FUMO/SCOMO management (enablers.rs).
        assert!(FAULTS.iter().all(|f| ["server.dm12-", "server.fumo12-", "server.scomo12-", "server.gw12-"]
            .iter()
            .any(|p| f.name.starts_with(p))));
        assert!(Faults::parse(Role::Server, ["dm12-no-final", "server.dm12-never-ends"]).unwrap().has("dm12-no-final"));
    }
}
