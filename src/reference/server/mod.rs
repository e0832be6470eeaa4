//! Reference DM 2.0 server: a complete DM Server (digest + seed) driven by the upper-tester
//! contract, with injectable faults. Vendors use it as a sandbox and golden peer; CI runs every
//! server-role case against it, and every fault must be caught by some case.
//!
//! # Endpoints (on `ServerConfig::listen`)
//! - `POST /dm`: Package#1 (and Package#3 while no CONT was sent in the session), told apart by
//!   `Content-Type`. Its URL is [`RunningServer::dm_url`] (the DMAcc SrvURI of a device).
//! - `POST /dm/cont/{token}`: the server's second endpoint, the target of the CONT it sends. A
//!   fresh token per CONT; a Package#3 at a stale or unknown token gets 404.
//! - `POST /ut`: the upper tester (below).
//!
//! # Package#1/#3 handling, in this order
//! 1. `Content-Type` (parameters ignored) must be the package's media type, else **415**
//!    (`/dm/cont/…` takes Package#3 only).
//! 2. An `Accept` header that admits neither `application/vnd.oma.dm.request+json` nor a
//!    matching wildcard (q=0 excludes) gets **406**; no `Accept` header admits anything.
//! 3. No `OMADM-DevID` → **400**; a DevID not registered → **403** (the body says so).
//! 4. A device registered with credentials needs them, in HTTP Basic or Digest (RFC 7616,
//!    MD5 or SHA-256, nonces of this server): otherwise **401** offering both,
//!    `WWW-Authenticate: Digest realm="<server_id>", qop="auth", algorithm=SHA-256, …` and
//!    `WWW-Authenticate: Basic realm="<server_id>"`. With `ServerConfig::tls` the DM endpoints
//!    are HTTPS and the upper tester listens apart on plain HTTP ([`RunningServer::ut_url`]).
//! 5. Malformed JSON or schema (strict `wire::dm2` parse) → **400**, the JSON pointer in the
//!    (text/plain) body; never a panic. A Package#3 with no open session → 400; a Package#3 at
//!    `/dm` after a CONT → 400 (it belongs at the CONT URI).
//! 6. Otherwise **200**, `Content-Type: application/vnd.oma.dm.request+json`, `{"CMD": [...]}`.
//!
//! Every protocol error that can be tied to a registered device is recorded under its `errors`.
//!
//! # Sessions and the command queue
//! `commands.enqueue` appends its commands to the device's queue, in order (calls append to
//! one queue: their boundaries mean nothing). Each Package#2 carries every queued command up to
//! and including the first CONT or END, so a session has as many Package#2s as it needs and
//! no more: `["CONT"]` (no URI) becomes `["CONT", "<base>/dm/cont/<token>"]`, a fresh token,
//! and the session goes on there; `["CONT", uri]` is sent as given (at `<base>/dm` the session
//! goes on there; anywhere else it is closed as moved away). A package that drains the queue
//! without a CONT ends with `["END"]`. A Package#1 with nothing queued gets
//! `{"CMD": [["END"]]}`. A session is open from its Package#1 until the Package#2 with END is
//! sent (the client sends nothing after END); a Package#1 arriving during a session supersedes
//! it; a session silent for `ServerConfig::session_timeout` is closed as abandoned. An
//! asynchronous-result session (a Package#1 whose Generic Alerts are all results of EXECs sent
//! with a ServerURI) gets END without consuming the queue.
//!
//! # Generic Alerts (Package#1 and Package#3)
//! Session alerts (`…dm:2.0:ServerInitiatedMgmt|ClientInitiatedMgmt|BootstrapComplete`) open the
//! session; a Package#1 without one is served but recorded as an error. The NOTIFICATION-ID a
//! ServerInitiatedMgmt echoes (under `profile.notification_id_key`, else `Data` itself) is
//! matched against the notifications sent to the device (`sessions[].notification_matched`);
//! an unknown one is recorded as an error and the session served all the same. Other alerts are parsed
//! strictly (AlertType required, DataType whenever Data; an undefined Mark is recorded as an
//! error) and never answered with any status or extra member. An alert whose SourceURI equals
//! the ClientURI of an EXEC this server sent with a ServerURI (still pending) is that EXEC's
//! asynchronous result: recorded under `exec_results` (and `alerts`). Otherwise an alert whose
//! AlertType matches `ServerConfig::known_alert_types` (exact, or prefix before a trailing
//! `*`) goes to `alerts`; any other is silently ignored (recorded under `ignored_alerts`).
//!
//! # Upper tester (`POST /ut`)
//! - `reset`: forget every device, session, queue, CONT token and record; the NOTIFICATION-ID
//!   counter restarts at 1.
//! - `idle`: `done` once no session is open and no notification is being delivered (≤ 5 s,
//!   else `failed`). The server sends no other traffic of its own.
//! - `device.register` {`dev_id`, `credentials`: {`username`, `password`} | null,
//!   `notification`: {`address`: URL | null, `secret`, `auth_data`} | null}: secret and auth
//!   data are strings used as their UTF-8 bytes. Registering again replaces the device (and
//!   its records).
//! - `commands.enqueue` {`dev_id`, `commands`: [[name, params…], …]}: every array is checked
//!   with `Command::from_array` (`["CONT"]` without a URI is also accepted); a bad one fails
//!   the call (nothing queued) with its JSON pointer (`/commands/i…`). Answers {`queued`: the
//!   number of commands now queued}.
//! - `notification.send` {`dev_id`, `req_mos`: bool, `notification_id`?: u16}: Package#0 with
//!   SERVER-ID = `server_id`, PREFERRED-CON-TYPE 0, NOTIFICATION-ID (given, or a counter from
//!   1), SHA256-DIGEST (the device's secret/auth data, `profile.digest_order`), TIMESTAMP (now,
//!   `profile.timestamp_bytes`), REQ-MOS when asked; VER = `profile.notification_version`. When
//!   the device has an address the bytes are POSTed there (`Content-Type:
//!   profile.notification_media_type`, bounded by `http_timeout`). Answers `done` with
//!   {`bytes_b64`, `notification_id`, `address`, `http_status` | `delivery_error`}.
//! - `device.report` {`dev_id`}: {`sessions`: [{`alert_type`, `notification_id`,
//!   `notification_matched`, `package2`, `package3`, `open`, `end`}], `package1`: [bodies],
//!   `mos`: the MOS of the last Package#1 that carried one (null before), `package2`: [bodies
//!   sent], `statuses`: [[status entries] per Package#3], `status_count_mismatches`:
//!   [{`package3`, `expected`, `received`}], `alerts`, `ignored_alerts`, `exec_results`:
//!   [{`exec`, `alert`}], `hget_locations`: [the ClientURIs of the URI arrays of successful
//!   statuses of HGETs sent without a ClientURI], `notifications`: [{`notification_id`,
//!   `bytes_b64`, `http_status`}],
//!   `errors`: [text]}.
//!
//! - `gateway.image`, `gateway.fanout` (GwMO; module `gwmo`, docs/gwmo.md): distribute an image
//!   to a gateway, fan commands out through it; `device.report` adds `gateway`.
//! - `software.install`, `software.remove`, `software.activate`, `software.deactivate`,
//!   `software.inventory` (SCOMO; module `scomo`): queue the operation's commands, answer
//!   {`op`, `operation`, `commands`, `exec`}; `device.report` adds `software` and `inventory`.
//!
//! # Faults (`server.` + name; see [`FAULTS`])
//! notifications-never-sent, notification-wrong-ver, notification-oc-mismatch,
//! notification-no-server-id, notification-bad-con-type, notification-no-notification-id,
//! notification-bad-digest, notification-no-timestamp, notification-req-mos-dropped,
//! notification-reserved-bits, notification-server-id-too-long, notification-wrong-server-id,
//! notification-id-repeated, notification-timestamp-width, notification-timestamp-ms,
//! notification-req-mos-always, server-initiated-ignored, notification-unmatched, mos-ignored,
//! session-never-ended, p3-ends-session, p1-rejected, p2-media-type, p2-malformed, p3-rejected,
//! p3-statuses-not-recorded, cmd-hget-malformed, cmd-hput-malformed, cmd-hpost-malformed,
//! cmd-delete-malformed, cmd-exec-malformed, cmd-get-malformed, cmd-show-malformed,
//! cmd-default-malformed, cont-endpoint-dead, cont-ignored, cont-ends-session,
//! commands-reordered, end-with-parameter, status-for-alert, p3-alert-rejected, unknown-alert-rejected,
//! hget-uri-ignored, exec-result-not-recorded, no-415, no-406; SCOMO: software-install-no-delivery,
//! software-op-wrong-node, software-202-final, software-result-ignored,
//! software-failure-as-success, software-inventory-not-read, software-download-wrong-op.
mod auth;
mod dm;
mod fumo;
mod gwmo;
mod notify;
mod scomo;
mod state;

use super::common::{self, fault};
use super::faults::FaultInfo;
use super::ut_server;
use crate::scr::Role;
use crate::upper_tester::{action, UtAnswer, UtRequest};
use crate::wire::dm2::notification::NotificationCredentials;
use crate::wire::dm2::{Command, Profile};
use serde_json::{json, Value};
use state::{Device, NotiReg, Queued, State};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The reference server's SERVER-ID (DMAcc SrvID on its devices).
pub const DEFAULT_SERVER_ID: &str = "dmcts-ref-server";
/// Package#1 (and pre-CONT Package#3) endpoint.
pub const DM_PATH: &str = "/dm";
/// Prefix of the CONT endpoint; the token follows.
pub const CONT_PATH_PREFIX: &str = "/dm/cont/";

/// Faults the reference server can be switched into; each breaks one requirement observably
/// (on the wire, or through `device.report`).
pub const FAULTS: &[FaultInfo] = &[
    // ---- GwMO (gwmo.rs; scr/gwmo/gwmo.toml) ----
    fault!(
        Server,
        "gw-exec-before-image-uri",
        "gateway.image EXECs the image's Operations/Download before the HGET that sets its ImageURI",
        ["GWMO-001-S-M"]
    ),
    fault!(
        Server,
        "gw-image-ready-ignored",
        "the gateway's Image Ready alert is not consumed: the image never gets its LocalImageURI",
        ["GWMO-002-S-M"]
    ),
    fault!(
        Server,
        "gw-dmcommands-external-uri",
        "gateway.fanout puts the image's external ImageURI in the DMCommands instead of the LocalImageURI",
        ["GWMO-003-S-M"]
    ),
    fault!(
        Server,
        "gw-start-before-commands",
        "gateway.fanout EXECs the Fanout job's Operations/Start before it sets DMCommands and TargetGroupRef",
        ["GWMO-004-S-M"]
    ),
    fault!(
        Server,
        "gw-aggregate-ignored",
        "the gateway's Fanout alert is not consumed: the fan-out stays without results",
        ["GWMO-005-S-M"]
    ),
    fault!(
        Server,
        "gw-failed-devices-as-success",
        "every device of the Fanout alert's aggregate is recorded as a success, the failed ones too",
        ["GWMO-005-S-M"]
    ),
    // ---- FUMO (fumo.rs; scr/fumo/fumo.toml) ----
    fault!(
        Server,
        "fumo-wrong-exec-target",
        "firmware.update EXECs the wrong operation node (DownloadAndUpdate after a DM delivery, Update after \
         setting a PkgURL)",
        ["FUMO-007-S-O", "FUMO-006-S-O"]
    ),
    fault!(
        Server,
        "fumo-exec-no-server-uri",
        "firmware.update EXECs the operation node without a ServerURI (the result then goes to the DM server)",
        ["FUMO-002-S-O"]
    ),
    fault!(
        Server,
        "fumo-exec-before-package",
        "firmware.update sends the EXEC before the command that provides the package or its URL",
        ["FUMO-001-S-M"]
    ),
    fault!(
        Server,
        "fumo-202-final",
        "the 202 answering the update's EXEC is taken as its result: the update is reported finished and successful",
        ["FUMO-003-S-M"]
    ),
    fault!(
        Server,
        "fumo-result-ignored",
        "the result alert of an update is not consumed: the update stays pending with no ResultCode",
        ["FUMO-004-S-M"]
    ),
    fault!(
        Server,
        "fumo-failure-as-success",
        "a failure ResultCode (4xx/5xx) in the result alert is recorded as a success",
        ["FUMO-005-S-M"]
    ),
    fault!(
        Server,
        "auth-not-required",
        "serves a device registered with credentials without checking them (none, or a wrong password)",
        ["DM-SEC-S-001"]
    ),
    fault!(Server, "no-digest", "offers and accepts HTTP Basic only, never Digest", ["DM-SEC-S-002"]),
    fault!(
        Server,
        "notifications-never-sent",
        "notification.send answers done but no Package#0 is built or delivered",
        ["DM-PACK-002-S-M"]
    ),
    fault!(
        Server,
        "notification-wrong-ver",
        "Package#0 VER is the profile version + 1 (3, not 0x02)",
        ["DM-PACK-003-S-M"]
    ),
    fault!(
        Server,
        "notification-oc-mismatch",
        "Package#0 OC is one more than the options present",
        ["DM-PACK-004-S-M"]
    ),
    fault!(Server, "notification-no-server-id", "Package#0 carries no SERVER-ID option", ["DM-PACK-005-S-M"]),
    fault!(
        Server,
        "notification-bad-con-type",
        "Package#0 PREFERRED-CON-TYPE is 0x04, outside 0..3",
        ["DM-PACK-006-S-M"]
    ),
    fault!(
        Server,
        "notification-no-notification-id",
        "Package#0 carries no NOTIFICATION-ID option",
        ["DM-PACK-007-S-M"]
    ),
    fault!(Server, "notification-bad-digest", "Package#0 SHA256-DIGEST has one bit flipped", ["DM-PACK-008-S-M"]),
    fault!(Server, "notification-no-timestamp", "Package#0 carries no TIMESTAMP option", ["DM-PACK-009-S-M"]),
    fault!(
        Server,
        "notification-req-mos-dropped",
        "Package#0 lacks REQ-MOS even when req_mos was asked for",
        ["DM-PACK-010-S-M"]
    ),
    fault!(
        Server,
        "notification-reserved-bits",
        "Package#0 RESERVED bits are 0x01, not 0 (profile notification_reserved_zero)",
        ["DM-PACK-002-S-M"]
    ),
    fault!(
        Server,
        "notification-server-id-too-long",
        "Package#0 SERVER-ID is padded to one byte more than the profile's server_id_max_bytes",
        ["DM-PACK-005-S-M"]
    ),
    fault!(
        Server,
        "notification-wrong-server-id",
        "Package#0 SERVER-ID is not the server's configured id (\"<server_id>-old\", an account it used to have)",
        ["DM-PACK-005-S-M"]
    ),
    fault!(
        Server,
        "notification-id-repeated",
        "the NOTIFICATION-ID counter never advances: every notification the server numbers itself carries 1",
        ["DM-PACK-007-S-M"]
    ),
    fault!(
        Server,
        "notification-timestamp-width",
        "Package#0 TIMESTAMP is 6 bytes of seconds, a width outside the profile's timestamp_widths",
        ["DM-PACK-009-S-M"]
    ),
    fault!(
        Server,
        "notification-timestamp-ms",
        "Package#0 TIMESTAMP is milliseconds, not POSIX seconds (8 bytes): far outside the profile's window",
        ["DM-PACK-009-S-M"]
    ),
    fault!(
        Server,
        "notification-req-mos-always",
        "Package#0 carries REQ-MOS even when req_mos was not asked for",
        ["DM-PACK-010-S-M"]
    ),
    fault!(
        Server,
        "server-initiated-ignored",
        "a Package#1 with ServerInitiatedMgmt (a notified device) is answered with END alone: the server serves \
         queued commands only in client-initiated sessions",
        ["DM-PACK-001-S-M"]
    ),
    fault!(
        Server,
        "notification-unmatched",
        "the NOTIFICATION-ID a notified device echoes is looked up as text, so the number never matches a \
         notification sent: the Package#1 is refused with 404",
        ["DM-PACK-001-S-M", "DM-PACK-011-S-M"]
    ),
    fault!(
        Server,
        "mos-ignored",
        "the MOS of a Package#1 is dropped: the server probes the FUMO instance its built-in inventory assumes \
         (GET urn:oma:mo:oma-fumo:1.0/fw-main/State), whatever instances the device listed",
        ["DM-PACK-011-S-M"]
    ),
    fault!(
        Server,
        "session-never-ended",
        "END is never sent: once the queue is empty every Package#2 is {\"CMD\": []}",
        ["DM-PACK-001-S-M", "DM-PACK-022-S-M"]
    ),
    fault!(
        Server,
        "p3-ends-session",
        "a Package#3 is always answered with [[\"END\"]]: commands still queued (after a CONT) are never delivered, \
         so the session does not go on where the CONT moved it",
        ["DM-PACK-001-S-M", "DM-PACK-021-S-M"]
    ),
    fault!(Server, "p1-rejected", "a valid Package#1 is answered 500, no Package#2", ["DM-PACK-011-S-M"]),
    fault!(Server, "p2-media-type", "Package#2 is sent as application/json", ["DM-PACK-012-S-M"]),
    fault!(
        Server,
        "p2-malformed",
        "the last command array of every Package#2 gets a trailing number element (0)",
        ["DM-PACK-012-S-M"]
    ),
    fault!(
        Server,
        "p3-rejected",
        "a valid Package#3 is answered 500, no Package#2 (also at the CONT endpoint, where the session was moved)",
        ["DM-PACK-013-S-M", "DM-PACK-021-S-M"]
    ),
    fault!(
        Server,
        "p3-statuses-not-recorded",
        "Package#3 statuses are accepted but not recorded (device.report statuses stay empty)",
        ["DM-PACK-025-S-M"]
    ),
    fault!(Server, "cmd-hget-malformed", "HGET is emitted with its name lower-cased (\"hget\")", ["DM-PACK-014-S-M"]),
    fault!(Server, "cmd-hput-malformed", "HPUT is emitted without its ServerURI", ["DM-PACK-015-S-M"]),
    fault!(
        Server,
        "cmd-hpost-malformed",
        "HPOST is emitted with its parameters reversed (ServerURI last)",
        ["DM-PACK-016-S-M"]
    ),
    fault!(Server, "cmd-delete-malformed", "DELETE is emitted without its ClientURI", ["DM-PACK-017-S-M"]),
    fault!(Server, "cmd-exec-malformed", "EXEC is emitted without its ClientURI", ["DM-PACK-018-S-M"]),
    fault!(Server, "cmd-get-malformed", "GET is emitted with its name lower-cased (\"get\")", ["DM-PACK-019-S-M"]),
    fault!(Server, "cmd-show-malformed", "SHOW is emitted without its ServerURI", ["DM-PACK-020-S-M"]),
    fault!(Server, "cmd-default-malformed", "DEFAULT is emitted with MOID and ServerURI swapped", ["DM-PACK-023-S-M"]),
    fault!(
        Server,
        "cont-endpoint-dead",
        "the CONT ServerURI names a token the server never serves: the Package#3 there gets 404",
        ["DM-PACK-021-S-M"]
    ),
    fault!(
        Server,
        "cont-ignored",
        "a queued CONT is dropped: the commands around it go out as if it had never been queued",
        ["DM-PACK-021-S-M"]
    ),
    fault!(
        Server,
        "cont-ends-session",
        "a queued CONT does not end its Package#2: the package carries the CONT, every command still queued and \
         END, so the session never goes on at the CONT URI",
        ["DM-PACK-021-S-M"]
    ),
    fault!(
        Server,
        "commands-reordered",
        "the commands of each Package#2 before its CONT/END go out in reverse queued order",
        // An SCOMO install then EXECs the operation before the package is delivered; a GwMO
        // image download or fan-out is started before its ImageURI or DMCommands are set.
        ["DM-PACK-012-S-M", "SCOMO-013-S-M", "SCOMO-019-S-O", "FUMO-001-S-M", "GWMO-001-S-M", "GWMO-004-S-M"]
    ),
    fault!(
        Server,
        "end-with-parameter",
        "END is emitted with a parameter ([\"END\", \"bye\"])",
        ["DM-PACK-012-S-M", "DM-PACK-022-S-M"]
    ),
    fault!(
        Server,
        "status-for-alert",
        "Package#2 carries a Status member answering the alerts of the package it replies to",
        ["DM-PACK-024-S-M"]
    ),
    fault!(
        Server,
        "p3-alert-rejected",
        "a Package#3 carrying Generic Alerts is answered 400: the server takes alerts in Package#1 only",
        ["DM-PACK-024-S-M"]
    ),
    fault!(
        Server,
        "unknown-alert-rejected",
        "a package carrying an alert of unknown AlertType is answered 400",
        ["DM-PACK-024-S-M"]
    ),
    fault!(
        Server,
        "hget-uri-ignored",
        "the URI array of an HGET status (HGET without a ClientURI: where the device stored the data) is dropped \
         (device.report hget_locations stays empty)",
        ["DM-PACK-014-S-M"]
    ),
    fault!(
        Server,
        "exec-result-not-recorded",
        "asynchronous EXEC results are not recognised (device.report exec_results stays empty; a firmware update \
         started by firmware.update gets no ResultCode)",
        ["DM-PACK-026-S-M", "FUMO-004-S-M"]
    ),
    fault!(
        Server,
        "no-415",
        "a Package#1/#3 with a wrong Content-Type is processed instead of answered 415",
        ["DM-PACK-011-S-M", "DM-PACK-013-S-M"]
    ),
    fault!(
        Server,
        "no-406",
        "the Accept header is ignored: no 406 when it excludes the Package#2 media type",
        ["DM-PACK-012-S-M"]
    ),
    fault!(
        Server,
        "software-install-no-delivery",
        "software.install (mode dm) sends the EXEC of Install without delivering the package into Inventory/Delivered",
        ["SCOMO-013-S-M"]
    ),
    fault!(
        Server,
        "software-op-wrong-node",
        "software.remove/activate/deactivate EXECs the operation under Inventory/Delivered, not the deployed component",
        ["SCOMO-014-S-M"]
    ),
    fault!(
        Server,
        "software-202-final",
        "an SCOMO EXEC answered 202 is reported as succeeded at once, and its later result is not taken",
        ["SCOMO-015-S-M", "SCOMO-016-S-M", "SCOMO-017-S-M"]
    ),
    fault!(
        Server,
        "software-result-ignored",
        "the OperationComplete result alert is accepted but the operation stays pending in the report",
        ["SCOMO-016-S-M"]
    ),
    fault!(
        Server,
        "software-failure-as-success",
        "a failure ResultCode (e.g. 1405) is reported as succeeded",
        ["SCOMO-017-S-M"]
    ),
    fault!(
        Server,
        "software-inventory-not-read",
        "software.inventory answers done but reads nothing from the device",
        ["SCOMO-018-S-O"]
    ),
    fault!(
        Server,
        "software-download-wrong-op",
        "software.install (mode download) EXECs Download instead of DownloadInstall(Inactive)",
        ["SCOMO-019-S-O"]
    ),
];

/// The faults this peer is switched into.
pub type Faults = super::faults::ActiveFaults;

/// AlertTypes the server knows by default (besides EXEC results, which it recognises by
/// SourceURI): the session alerts and the standard/test MOs' alert families.
pub const DEFAULT_KNOWN_ALERT_TYPES: &[&str] = &[
    crate::wire::dm2::ALERT_SERVER_INITIATED,
    crate::wire::dm2::ALERT_CLIENT_INITIATED,
    crate::wire::dm2::ALERT_BOOTSTRAP_COMPLETE,
    "urn:oma:at:fumo:1.0:*",
    "urn:oma:at:scomo:1.0:*",
    "urn:oma:at:lawmo:1.0:*",
    "urn:oma:at:dmcts-test:1.0:*",
    "urn:oma:at:oma-gwmo:*",
];

/// Configuration of the reference server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where `/dm`, `/dm/cont/…` and `/ut` are served (port 0: any free port).
    pub listen: SocketAddr,
    /// SERVER-ID of its notifications.
    pub server_id: String,
    pub profile: Profile,
    /// Fault names, `server.x` or `x`.
    pub faults: BTreeSet<String>,
    /// Base URL the server names itself by (CONT targets); default `http://<bound address>`.
    pub base_url: Option<String>,
    /// AlertTypes recorded as known (exact, or a prefix before a trailing `*`); others are
    /// silently ignored.
    pub known_alert_types: Vec<String>,
    /// Timeout of each notification delivery (HTTP POST).
    pub http_timeout: Duration,
    /// A session with no traffic for this long is closed as abandoned.
    pub session_timeout: Duration,
    /// Also print the exchange log to stderr (CLI mode).
    pub echo_log: bool,
    /// SCOMO EXECs go out with END in the same Package#2 (lawful: the server then never sees
    /// the 202 and keeps the operation pending until the result); default false.
    pub scomo_end_with_exec: bool,
    /// HTTPS for `/dm` and `/dm/cont/…` (the upper tester then listens apart, on plain HTTP).
    pub tls: Option<crate::peers::tls::ServerTlsSource>,
    /// HTTPS trust for the notifications it POSTs.
    pub trust: Option<crate::peers::tls::ClientTls>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            server_id: DEFAULT_SERVER_ID.into(),
            profile: Profile::default(),
            faults: BTreeSet::new(),
            base_url: None,
            known_alert_types: DEFAULT_KNOWN_ALERT_TYPES.iter().map(|s| s.to_string()).collect(),
            http_timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(10),
            echo_log: false,
            scomo_end_with_exec: false,
            tls: None,
            trust: None,
        }
    }
}

impl ServerConfig {
    /// Reference values: server id `dmcts-ref-server`, listening on 127.0.0.1:0, default profile.
    pub fn new() -> ServerConfig {
        ServerConfig::default()
    }
}

struct Shared {
    cfg: ServerConfig,
    faults: Faults,
    http: reqwest::Client,
    /// `http://addr` or `cfg.base_url`, without a trailing slash.
    base: String,
    log: common::ExchangeLog,
    state: Mutex<State>,
    /// Digest nonces issued, newest last ([`auth`]).
    nonces: Mutex<std::collections::VecDeque<String>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        common::lock(&self.state)
    }

    fn log(&self, line: String) {
        self.log.push(line);
    }

    fn is_idle(&self) -> bool {
        let mut st = self.lock();
        st.expire_sessions(self.cfg.session_timeout);
        st.in_flight == 0 && st.devices.values().all(|d| d.session.is_none())
    }
}

fn str_arg<'a>(args: &'a Value, key: &str) -> Result<&'a str, UtAnswer> {
    args.get(key).and_then(Value::as_str).ok_or_else(|| UtAnswer::failed(format!("args.{key} (a string) is required")))
}

fn parse_register(args: &Value) -> Result<(String, Device), UtAnswer> {
    let dev_id = str_arg(args, "dev_id")?.to_string();
    if dev_id.is_empty() {
        return Err(UtAnswer::failed("args.dev_id must not be empty"));
    }
    let credentials = match args.get("credentials") {
        None | Some(Value::Null) => None,
        Some(c) => {
            let u = c.get("username").and_then(Value::as_str);
            let p = c.get("password").and_then(Value::as_str);
            match (u, p) {
                (Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
                _ => return Err(UtAnswer::failed("args.credentials must be {username, password} (strings) or null")),
            }
        }
    };
    let notification = match args.get("notification") {
        None | Some(Value::Null) => None,
        Some(n) => {
            let address = match n.get("address") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(UtAnswer::failed("args.notification.address must be a URL string or null")),
            };
            let secret = str_arg(n, "secret")
                .map_err(|_| UtAnswer::failed("args.notification.secret (a string) is required"))?;
            let auth_data = str_arg(n, "auth_data")
                .map_err(|_| UtAnswer::failed("args.notification.auth_data (a string) is required"))?;
            Some(NotiReg {
                address,
                creds: NotificationCredentials {
                    secret: secret.as_bytes().to_vec(),
                    auth_data: auth_data.as_bytes().to_vec(),
                },
            })
        }
    };
    Ok((dev_id, Device::new(credentials, notification)))
}

/// Validates `args.commands`; errors carry the JSON pointer under `args`.
fn parse_commands(args: &Value) -> Result<Vec<Queued>, String> {
    let Some(cmds) = args.get("commands") else {
        return Err("/commands: expected an array of command arrays, found nothing".into());
    };
    let Some(cmds) = cmds.as_array() else {
        return Err(format!("/commands: expected an array of command arrays, found {cmds}"));
    };
    let mut out = Vec::with_capacity(cmds.len());
    for (i, c) in cmds.iter().enumerate() {
        let p = format!("/commands/{i}");
        let Some(arr) = c.as_array() else { return Err(format!("{p}: expected a command array, found {c}")) };
        let mut strs = Vec::with_capacity(arr.len());
        for (j, s) in arr.iter().enumerate() {
            match s.as_str() {
                Some(s) => strs.push(s.to_string()),
                None => return Err(format!("{p}/{j}: expected a string, found {s}")),
            }
        }
        // CONT without a URI: "continue this session at another endpoint of yours".
        if strs == ["CONT"] {
            out.push(Queued::ContHere);
        } else {
            out.push(Queued::Command(Command::from_array(&strs, &p).map_err(|e| e.to_string())?));
        }
    }
    Ok(out)
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
            // Let a notification in flight finish first, so nothing from before the reset is sent after it.
            wait_idle_work(sh, Duration::from_secs(5)).await;
            sh.lock().reset();
            UtAnswer::done(Value::Null)
        }
        action::IUT_STATE => ut_server::iut_state_answer(sh.is_idle()),
        action::IDLE => match wait_idle(sh, Duration::from_secs(5)).await {
            true => UtAnswer::done(Value::Null),
            false => UtAnswer::failed("a session is still open (or a notification in flight) after 5 s"),
        },
        action::DEVICE_REGISTER => match parse_register(&req.args) {
            Ok((dev_id, device)) => {
                let mut st = sh.lock();
                st.remove_device(&dev_id);
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
            match parse_commands(&req.args) {
                Err(e) => UtAnswer::failed(format!("args{e}")),
                Ok(commands) => {
                    let mut st = sh.lock();
                    match st.devices.get_mut(dev_id) {
                        None => UtAnswer::failed(format!("device {dev_id:?} is not registered")),
                        Some(d) => {
                            d.queue.extend(commands);
                            UtAnswer::done(json!({ "queued": d.queue.len() }))
                        }
                    }
                }
            }
        }
        action::NOTIFICATION_SEND => notify::send(sh, &req.args).await,
        action::DEVICE_REPORT => {
            let dev_id = match str_arg(&req.args, "dev_id") {
                Ok(d) => d,
                Err(a) => return a,
            };
            let mut st = sh.lock();
            st.expire_sessions(sh.cfg.session_timeout);
            match st.devices.get(dev_id) {
                None => UtAnswer::failed(format!("device {dev_id:?} is not registered")),
                Some(d) => UtAnswer::done(d.report(dev_id)),
            }
        }
        action::FIRMWARE_UPDATE => fumo::update(sh, &req.args),
        other => match scomo::action(sh, other, &req.args).or_else(|| gwmo::action(sh, other, &req.args)) {
            Some(answer) => answer,
            None => UtAnswer::unsupported(format!("the reference server does not implement {other:?}")),
        },
    }
}

async fn wait_idle(sh: &Shared, limit: Duration) -> bool {
    common::wait_until(limit, || sh.is_idle()).await
}

async fn wait_idle_work(sh: &Shared, limit: Duration) -> bool {
    common::wait_until(limit, || sh.lock().in_flight == 0).await
}

/// The addresses of a running reference server.
pub struct ServerUrls {
    /// The real listen address.
    pub addr: SocketAddr,
    /// `<base>/dm`: where devices POST Package#1.
    pub dm_url: String,
    /// `<base>/ut`.
    pub ut_url: String,
    /// `<base>`, e.g. `http://127.0.0.1:40123`.
    pub base_url: String,
}

/// A running reference server (over HTTPS its upper tester listens apart, on plain HTTP);
/// shutting it down gives in-flight requests up to 5 s to finish.
pub type RunningServer = common::RunningPeer<ServerUrls>;

/// Starts the server on the current tokio runtime.
pub async fn spawn(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let faults = Faults::parse(Role::Server, &config.faults)?;
    let http = common::http_client_tls(
        config.http_timeout,
        config.http_timeout.min(Duration::from_secs(5)),
        config.trust.as_ref(),
    )?;
    let listener = common::Listening::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let base =
        config.base_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}")).trim_end_matches('/').to_string();
    let log = common::ExchangeLog::new(config.echo_log.then_some("ref-server"));
    let tls = config.tls.clone();
    let shared = Arc::new(Shared {
        cfg: config,
        faults,
        http,
        base: base.clone(),
        log,
        state: Mutex::new(State::default()),
        nonces: Default::default(),
    });
    let sh = shared.clone();
    let ut: ut_server::UtHandler = Arc::new(move |req| Box::pin(handle_ut(sh.clone(), req)));
    // Over HTTPS the upper tester listens apart, on plain HTTP: its contract is not TLS's.
    let (listening, ut_listening, ut_base) = match tls {
        None => {
            let app = ut_server::router(ut.clone()).merge(dm::router(shared.clone()));
            (common::Listening::serve(listener, app)?, None, base.clone())
        }
        Some(t) => {
            let config = t
                .server_tls(&crate::peers::tls::hosts_for(&base))
                .and_then(|s| s.config())
                .map_err(|e| anyhow::anyhow!("HTTPS: {e}"))?;
            let dm = common::Listening::serve_tls(listener, dm::router(shared.clone()), config)?;
            let ut_tcp = common::Listening::bind(std::net::SocketAddr::new(addr.ip(), 0)).await?;
            let ut_addr = ut_tcp.local_addr()?;
            let ut_l = common::Listening::serve(ut_tcp, ut_server::router(ut.clone()))?;
            (dm, Some(ut_l), format!("http://{ut_addr}"))
        }
    };
    shared.log(format!("reference server {:?} listening on {addr} (base {base})", shared.cfg.server_id));
    let urls = ServerUrls {
        addr,
        dm_url: format!("{base}{DM_PATH}"),
        ut_url: format!("{ut_base}{}", ut_server::UT_PATH),
        base_url: base,
    };
    let log = shared.clone();
    Ok(common::RunningPeer::new(
        urls,
        ut,
        move || log.log.lines(),
        [Some(listening), ut_listening].into_iter().flatten().collect(),
    ))
}

/// `dmcts reference server` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address serving /dm, /dm/cont/… and /ut.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// SERVER-ID of the notifications (the devices' DMAcc SrvID).
    #[arg(long, default_value = DEFAULT_SERVER_ID)]
    pub server_id: String,
    /// Base URL the server names itself by in CONT (default http://<bound address>).
    #[arg(long)]
    pub base_url: Option<String>,
    /// A DM 2.0 profile TOML file (see `wire::dm2::Profile`); default profile 2016-A.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<std::path::PathBuf>,
    /// An extra known AlertType (repeatable; a trailing `*` makes it a prefix).
    #[arg(long = "known-alert-type", value_name = "URN")]
    pub known_alert_types: Vec<String>,
    /// Seconds of silence after which an open session is closed as abandoned.
    #[arg(long, default_value_t = 10)]
    pub session_timeout_s: u64,
    /// Inject a fault (repeatable), e.g. `--fault server.p2-media-type`.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// List the faults and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// HTTPS for /dm: the certificate chain (PEM) it presents, with --key; the upper tester
    /// then listens apart, on plain HTTP.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// HTTPS trust for the notifications it POSTs: the CA (PEM) their listeners' certificates
    /// chain to.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
}

impl ServerArgs {
    pub fn to_config(&self) -> anyhow::Result<ServerConfig> {
        let mut c = ServerConfig::new();
        c.listen = self.listen;
        c.server_id = self.server_id.clone();
        c.base_url = self.base_url.clone();
        if let Some(path) = &self.profile {
            c.profile = common::read_profile(path)?;
        }
        c.known_alert_types.extend(self.known_alert_types.iter().cloned());
        c.session_timeout = Duration::from_secs(self.session_timeout_s.max(1));
        c.faults = self.faults.iter().cloned().collect();
        c.echo_log = true;
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            let identity = crate::peers::tls::Identity::from_files(cert, key).map_err(|e| anyhow::anyhow!("{e}"))?;
            c.tls = Some(crate::peers::tls::ServerTlsSource { identity, ca: None, client_roots: None });
        }
        if let Some(f) = &self.ca {
            let (ca_pem, _) = crate::peers::tls::read_roots(f).map_err(|e| anyhow::anyhow!("--ca: {e}"))?;
            c.trust = Some(crate::peers::tls::ClientTls {
                ca_pem,
                ca_source: f.display().to_string(),
                identity: None,
                accept_any: false,
            });
        }
        Ok(c)
    }
}

/// CLI entry: spawn, print the URLs, run until Ctrl-C.
pub async fn run_cli(args: ServerArgs) -> anyhow::Result<()> {
    if args.list_faults {
        common::print_faults(FAULTS, 40);
        return Ok(());
    }
    let running = spawn(args.to_config()?).await?;
    println!("reference server DM endpoint (SrvURI): {}", running.dm_url);
    println!("reference server upper tester: {}", running.ut_url);
    common::until_ctrl_c(running.shutdown()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_item_has_a_fault() {
        for n in 1..=26 {
            let id = format!("DM-PACK-{n:03}-S-M");
            assert!(FAULTS.iter().any(|f| f.violates.contains(&id.as_str())), "no fault violates {id}");
        }
        let names: BTreeSet<_> = FAULTS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FAULTS.len(), "duplicate fault names");
    }

    #[test]
    fn unknown_fault_lists_valid_ones() {
        let e = Faults::parse(Role::Server, ["server.nope"]).unwrap_err().to_string();
        assert!(e.contains("server.p2-media-type"), "{e}");
        assert!(Faults::parse(Role::Server, ["p2-media-type", "server.no-406"]).unwrap().has("no-406"));
    }

    #[test]
    fn command_errors_carry_pointer() {
        let e = parse_commands(&json!({"commands": [["END"], ["GET", 5]]})).unwrap_err();
        assert!(e.starts_with("/commands/1/1"), "{e}");
        let e = parse_commands(&json!({"commands": [["END"], ["HGET"]]})).unwrap_err();
        assert!(e.starts_with("/commands/1"), "{e}");
        assert_eq!(parse_commands(&json!({"commands": [["END"]]})).unwrap(), vec![Queued::Command(Command::End)]);
        assert_eq!(parse_commands(&json!({"commands": [["CONT"]]})).unwrap(), vec![Queued::ContHere]);
    }
}
