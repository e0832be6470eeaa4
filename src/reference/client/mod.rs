//! Reference DM 2.0 client: a complete DM Client (digest + seed), driven by the upper-tester
//! contract, with injectable faults. Vendors use it as a sandbox and golden peer; CI runs every
//! client-role case (the suite playing DM server) against it, and every fault must be caught.
//!
//! # Endpoints (on `ClientConfig::listen`)
//! - `POST /ut`: the upper tester (`reset`, `idle`, `session.start`, `notification.deliver`
//!   {`bytes_b64`}, `alert.raise` {alert object, or `{"alert": {...}}`}, `config.request` {`moid`};
//!   `iut.state` adds `data.scomo`, the SCOMO inventory with its State/Status values).
//! - `POST /notify`: Package#0 over HTTP (raw bytes); always answered 204, whatever the verdict.
//!
//! # Provisioned state (restored by `reset`)
//! DevID: `ClientConfig::dev_id` (default `IMEI:359881000000017`), sent as `OMADM-DevID`.
//!
//! | MOID | MIID | root | exposed in MOS | instance |
//! |---|---|---|---|---|
//! | `urn:oma:mo:oma-dm-devinfo:1.0` | `d0` | `DevInfo` | yes | permanent |
//! | `urn:oma:mo:oma-dm-dmacc:1.2` | `acc0` | `DMAcc` | no (any ClientURI on it → 403) | permanent |
//! | `urn:oma:mo:dmcts-test:1.0` | `t0` | `Test` | yes | permanent |
//! | `urn:oma:mo:dmcts-test:1.0` | `t1` | `Test` | yes | dynamic (DELETE `…/t1/` → 200) |
//! | `urn:oma:mo:oma-fumo:1.0` | `fw-main` | `FUMO` | yes | permanent |
//! | `urn:oma:mo:dmcts-config:1.0` | (none) | `Config` | yes, once created | dynamic |
//! | `urn:oma:mo:oma-scomo:1.0` | `sw-main` | `SCOMO` | yes | permanent (see [`scomo`]) |
//!
//! Nodes (P = permanent, D = dynamic, X = executable); paths are relative to the instance root,
//! so e.g. `urn:oma:mo:oma-dm-devinfo:1.0/d0/FwV` (or `…:1.0//FwV`, DevInfo having one instance):
//! - DevInfo `d0` (all P leaves): `DevID` = dev_id, `Man` = `dmcts`, `Mod` = `reference-client`,
//!   `DmV` = `2.0`, `Lang` = `en-US`, `DevType` = `reference`, `OEM` = `dmcts`, `FwV` = `1.0.0`,
//!   `SwV` = `1.0.0`, `HwV` = `1.0`.
//! - DMAcc `acc0` (P): `SrvID` = server_id (`dmcts`), `SrvURI` = server_uri, `Name`,
//!   `Auth/Noti/{Type=SHA256, Data=hex(auth data), Secret=hex(secret)}`, `Auth/Trsp/{Data, Secret}`.
//! - Test `t0`: `Perm` = `permanent` (P leaf); `Fixed` (P) / `Leaf` = `fixed` (P);
//!   `Dyn` (P interior) with `Item1` (D) {`Name` = `alpha`, `Val` = `1`} and `Item2` (D)
//!   {`Name` = `beta`, `Val` = `2`}; `Scratch` = `scratch` (D leaf); `Op` = `` (P, X);
//!   `OpCount` = `0` (P leaf, incremented by each EXEC of `Op`).
//! - Test `t1` (dynamic instance): `Name` = `second` (D), `Val` = `10` (D).
//! - FUMO `fw-main` (MIID `ClientConfig::fumo_instance`): `PkgName` = `base` (P), `PkgVersion` =
//!   `1.0` (P), `Download` (P interior, X) / `PkgURL` = `` (P leaf), `Update` (P interior, X) /
//!   `PkgData` (P leaf, Replace-only: an HGET into it delivers the package),
//!   `DownloadAndUpdate` (P interior, X) / `PkgURL` = `` (P leaf), `State` = `10` (P). The
//!   firmware update agent (`fumo.rs`, docs/fumo-scomo.md) runs them: an HGET into PkgData
//!   fetches the package (profile `fumo_pkgdata_media_type`, else 415; streamed) and sets State
//!   50; an EXEC of an operation takes fig 10.2's server edge at once (DL/DLU 30, UP 60), is
//!   answered 202 and runs after the session: PkgURL (a package, or a DLOTA descriptor whose type,
//!   size and installParam sha256 are checked; the user's answer from `firmware.user-answer`),
//!   installation and a "power cycle" (60→90→100), the DLOTA status report to installNotifyURI,
//!   then the result alert in a new session (to the EXEC's ServerURI, else the DM server). An
//!   empty PkgURL gives 411 and State 20; an HTTP error 500, a transport error 503 (State 20).
//! - Config (`urn:oma:mo:dmcts-config:1.0`): the configuration MO of the client's local
//!   application. No instance is provisioned, so `config.request` for it needs a DEFAULT URI.
//!
//! MOS (Package#1 when REQ-MOS was present; never otherwise), in this order:
//! `{DDF: https://ddf.dmcts.example/oma-dm-devinfo-1.0.ddf, MOID: …devinfo:1.0, MIID: [d0]}`,
//! `{DDF: …/dmcts-test-1.0.ddf, MOID: …dmcts-test:1.0, MIID: [t0, t1, …created]}`,
//! `{DDF: …/oma-fumo-1.0.ddf, MOID: …oma-fumo:1.0, MIID: [fw-main, …created]}`.
//!
//! # Command behaviour (status codes)
//! - Unknown command name 501; malformed command array (wrong arity, non-string) 400; SUB and
//!   UNSUB 501 (not supported). Processing always goes on with the next command.
//! - ClientURIs are parsed and resolved by the shared `wire::dm2::client_uri` model (the "/"
//!   after mo-inst is required; no "/" after a node path). Malformed 400; unresolvable 404
//!   (including an empty MIID with several instances, or an x-name matching several nodes);
//!   DMAcc 403. No cache validators are kept: `cv` is ignored and data always returned.
//! - HGET: repository non-2xx → that code; body not an MO-serialization array → 400. With a
//!   ClientURI the first element's MOData replaces the node (keyed by the node's name, or bare);
//!   a missing last node under an existing parent is created (D). Without a ClientURI every
//!   element creates a new instance of the MOID of its `ClientURI`: test MO, FUMO and Config
//!   only (DevInfo/DMAcc 405, unknown MOID 404); MIIDs `t<n>` / `fw-<n>` / `cfg-<n>`, n = 2, 3,
//!   … since reset; status 200 with `URI: ["<MOID>/<MIID>/"]`. A new FUMO instance comes with
//!   its permanent `State` = `10`, then the MOData (keyed by the root name, or bare) is stored
//!   into it; other new nodes are dynamic; `Op`, `DownloadAndUpdate` and `Update` children are
//!   executable.
//! - HPUT/HPOST: body = MO serialization of every target, `Content-Type: profile.mo_media_type`;
//!   repository 2xx → 200, else its code; unreachable → 500; `OMADM-Accept` on the Package#2
//!   response not admitting `profile.mo_media_type` → 406 (no request sent).
//! - DELETE: 405 when a target is permanent (nothing deleted), else 200.
//! - EXEC: non-executable 405. With ServerURI: the operation runs at once, 202, and after the
//!   session a new session POSTs Package#1 to the ServerURI with ClientInitiatedMgmt and the
//!   result alert `{AlertType: urn:oma:at:dmcts-test:1.0:OpComplete, SourceURI: <EXEC ClientURI
//!   as sent>, Mark: informational (critical on failure), DataType: int, Data: {result:
//!   <ResultCode>}}`; a FUMO operation's alert has the profile's `fumo_alert_type_*` and
//!   `Data: {<fumo_result_code_member>: <ResultCode>}`. Without
//!   ServerURI the client decides (digest §8.4): the FUMO operations (long: download and
//!   install) are answered 202, run once the session is over, and their result alert goes to the
//!   DM server (`server_uri`) the same way; `Op` is synchronous (200; 500 when the operation
//!   failed). With `ClientConfig::async_result_in_package3` the result session's Package#1
//!   carries ClientInitiatedMgmt only, and the result alert comes in its first Package#3 (the
//!   seed allows either).
//! - EXEC and DEFAULT parameters are read in the profile's order (`exec_parameter_order`,
//!   `default_parameter_order`); ClientURIs follow `client_uri_instance_slash`.
//! - GET 200 with `profile.get_data_member` = MO serialization array of the targets.
//! - SHOW 200 at once; a background "browser" GETs the URL. CONT 200; later Package#3s go to
//!   its URI. END 200 (never sent: no Package#3 after END). DEFAULT 200, one URI per MOID (a
//!   new DEFAULT replaces the old). `config.request {moid}` (digest §8.9): when the tree has an
//!   instance of the MOID, nothing is fetched (`{fetched: false, reason}`); otherwise the HGET
//!   procedure (new instance) runs against the stored URI, silently (`{fetched: true, uri,
//!   result}`), or `{fetched: false, reason}` when no DEFAULT named the MOID.
//! - A session aborts (no retry) on a non-200 reply, a reply that is not
//!   `application/vnd.oma.dm.request+json`, or a body without a `CMD` array; and after
//!   `ClientConfig::max_rounds` (64) rounds.
//!
//! # Package#0 acceptance
//! In order: decodable; VER = `profile.notification_version`; OC = option count; ascending
//! options; SERVER-ID = server_id; digest per `profile.digest_order` when credentials are set
//! (missing digest per `profile.missing_digest`); TIMESTAMP within ±`profile.timestamp_window_s`;
//! NOTIFICATION-ID not seen since reset. PREFERRED-CON-TYPE is accepted whatever its value.
//!
//! # Faults (`client.` + name; see [`FAULTS`])
//! devid-missing, devid-wrong, p1-media-type, p3-media-type, package-flow-stops,
//! notifications-ignored, accept-wrong-ver, accept-oc-mismatch, accept-unknown-server-id,
//! con-type-rejected, notification-id-not-echoed, accept-bad-digest, accept-stale-timestamp,
//! mos-missing, session-alert-missing, session-alert-wrong, commands-out-of-order,
//! status-missing, status-reordered, status-extra, sc-as-string, non-exec-async,
//! hget-not-stored, hget-no-uri, hput-wrong-method, hpost-wrong-method,
//! delete-permanent-allowed, delete-dynamic-refused, exec-not-executed, exec-download-skipped,
//! exec-state-unchanged, exec-async-reported-sync,
//! async-alert-never-sent, get-no-data, show-not-opened, show-blocks, cont-ignored,
//! p3-after-end, end-ignores-commands, default-ignored, default-first-kept, alert-no-datatype, alert-bad-mark, alert-missing-alerttype,
//! exec-async-result-missing, async-result-no-session-alert, async-alert-wrong-source,
//! upload-not-serialized, uri-without-instance-slash, exec-parameters-reversed,
//! default-parameters-reversed; SCOMO (module [`scomo`]): scomo-delivered-not-kept,
//! scomo-exec-sync, scomo-result-missing, scomo-result-wrong-type, scomo-result-wrong-source,
//! scomo-result-no-code, scomo-result-lies, scomo-install-not-deployed,
//! scomo-inactive-installed-active, scomo-remove-kept, scomo-deactivate-state-unchanged,
//! scomo-dp-state-stale, scomo-download-skipped, scomo-absent-component-succeeds,
//! scomo-corrupt-installed, scomo-no-status-report, scomo-dd-as-package,
//! scomo-ignores-descriptor, scomo-download-result-lies.
mod dlota;
mod fumo;
mod notify;
pub mod scomo;
mod session;
pub mod store;

use super::common::{self, fault};
use super::faults::FaultInfo;
use super::ut_server;
use crate::scr::Role;
use crate::upper_tester::{action, UtAnswer, UtRequest};
use crate::wire::dm2::notification::NotificationCredentials;
use crate::wire::dm2::{GenericAlert, Profile};
use anyhow::Context;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::Store;
use tokio::task::{AbortHandle, JoinSet};

/// The reference DevID.
pub const DEFAULT_DEV_ID: &str = "IMEI:359881000000017";
/// The DevID sent under the fault `client.devid-wrong`.
pub const WRONG_DEV_ID: &str = "IMEI:000000000000000";
/// Path of the Package#0-over-HTTP endpoint.
pub const NOTIFY_PATH: &str = "/notify";

/// Faults the reference client can be switched into; each breaks one requirement observably.
pub const FAULTS: &[FaultInfo] = &[
    fault!(
        Client,
        "tls-accept-any",
        "over HTTPS, accepts any server certificate (untrusted CA, expired, another host)",
        ["DM-SEC-C-001"]
    ),
    fault!(
        Client,
        "auth-wrong-password",
        "sends the account's user name with a wrong password (Basic and Digest)",
        ["DM-SEC-C-002", "DM-SEC-C-003"]
    ),
    fault!(Client, "no-digest", "ignores Digest challenges (answers Basic only, or gives up)", ["DM-SEC-C-003"]),
    fault!(
        Client,
        "devid-missing",
        "Package#1 and Package#3 carry no OMADM-DevID header",
        ["DM-PACK-011-C-M", "DM-PACK-013-C-M"]
    ),
    fault!(
        Client,
        "devid-wrong",
        "OMADM-DevID is IMEI:000000000000000, not DevInfo/DevID",
        ["DM-PACK-011-C-M", "DM-PACK-013-C-M"]
    ),
    fault!(Client, "p1-media-type", "Package#1 is sent as application/json", ["DM-PACK-011-C-M"]),
    fault!(Client, "p3-media-type", "Package#3 is sent as application/json", ["DM-PACK-013-C-M"]),
    fault!(
        Client,
        "package-flow-stops",
        "after a Package#2 without END the client drops the session: no Package#3",
        ["DM-PACK-001-C-M"]
    ),
    fault!(Client, "notifications-ignored", "no Package#0 ever opens a session", ["DM-PACK-002-C-O"]),
    fault!(Client, "accept-wrong-ver", "a notification whose VER is not 0x02 is accepted", ["DM-PACK-003-C-M"]),
    fault!(
        Client,
        "accept-oc-mismatch",
        "a notification whose OC differs from the options present is accepted",
        ["DM-PACK-004-C-M"]
    ),
    fault!(
        Client,
        "accept-unknown-server-id",
        "a notification naming an unknown SERVER-ID opens a session with the configured server",
        ["DM-PACK-005-C-M"]
    ),
    fault!(
        Client,
        "con-type-rejected",
        "a notification whose PREFERRED-CON-TYPE is not ANY_AVAILABLE (0) is ignored",
        ["DM-PACK-006-C-M"]
    ),
    fault!(
        Client,
        "notification-id-not-echoed",
        "the ServerInitiatedMgmt alert carries no NOTIFICATION-ID",
        ["DM-PACK-007-C-O"]
    ),
    fault!(Client, "accept-bad-digest", "a notification with a wrong SHA256-DIGEST is accepted", ["DM-PACK-008-C-O"]),
    fault!(
        Client,
        "accept-stale-timestamp",
        "a notification whose TIMESTAMP is outside the window is accepted",
        ["DM-PACK-009-C-O"]
    ),
    fault!(Client, "mos-missing", "Package#1 carries no MOS although REQ-MOS was present", ["DM-PACK-010-C-M"]),
    fault!(Client, "session-alert-missing", "Package#1 carries no session alert", ["DM-PACK-011-C-M"]),
    fault!(
        Client,
        "session-alert-wrong",
        "a session opened for a notification is announced as ClientInitiatedMgmt",
        ["DM-PACK-011-C-M"]
    ),
    fault!(
        Client,
        "commands-out-of-order",
        "the commands of a Package#2 are processed last to first",
        ["DM-PACK-012-C-M"]
    ),
    fault!(Client, "status-missing", "Package#3 lacks the status of the last command", ["DM-PACK-013-C-M"]),
    fault!(Client, "status-reordered", "Package#3 lists the statuses in reverse order", ["DM-PACK-013-C-M"]),
    fault!(Client, "status-extra", "Package#3 carries one status more than there were commands", ["DM-PACK-013-C-M"]),
    fault!(
        Client,
        "sc-as-string",
        "status codes are JSON strings, not numbers",
        ["DM-PACK-013-C-M", "DM-PACK-025-C-M"]
    ),
    fault!(
        Client,
        "non-exec-async",
        "HGET, HPUT, HPOST, DELETE and GET are reported 202 instead of their final status",
        ["DM-PACK-025-C-M"]
    ),
    fault!(
        Client,
        "hget-not-stored",
        "HGET answers as if it stored the data but stores nothing",
        // An SCOMO package delivered by HGET is then not kept either.
        ["DM-PACK-014-C-M", "SCOMO-002-C-M"]
    ),
    fault!(
        Client,
        "hget-no-uri",
        "HGET without ClientURI creates the instance but returns no URI",
        ["DM-PACK-014-C-M"]
    ),
    fault!(Client, "hput-wrong-method", "HPUT sends HTTP POST to the repository", ["DM-PACK-015-C-M"]),
    fault!(Client, "hpost-wrong-method", "HPOST sends HTTP PUT to the repository", ["DM-PACK-016-C-M"]),
    fault!(
        Client,
        "delete-permanent-allowed",
        "DELETE of a permanent node succeeds (200) instead of 405",
        ["DM-PACK-017-C-M"]
    ),
    fault!(
        Client,
        "delete-dynamic-refused",
        "DELETE of a dynamic node is refused with 405 as if it were permanent",
        ["DM-PACK-017-C-M"]
    ),
    fault!(
        Client,
        "exec-not-executed",
        "EXEC reports 200 but the node is not executed",
        ["DM-PACK-018-C-M", "FUMO-002-C-M", "FUMO-007-C-M", "FUMO-008-C-M"]
    ),
    fault!(
        Client,
        "exec-download-skipped",
        "EXEC of a node that downloads (FUMO DownloadAndUpdate) fails at once without downloading its PkgURL",
        ["DM-PACK-018-C-M", "FUMO-002-C-M"]
    ),
    fault!(
        Client,
        "exec-state-unchanged",
        "EXEC runs (and downloads) but leaves no trace in the tree: FUMO State is not updated",
        ["DM-PACK-018-C-M", "FUMO-008-C-M"]
    ),
    fault!(
        Client,
        "exec-async-reported-sync",
        "EXEC with a ServerURI is reported 200 synchronously, no result alert",
        ["DM-PACK-018-C-M", "DM-PACK-026-C-M", "FUMO-003-C-M", "FUMO-004-C-M"]
    ),
    fault!(
        Client,
        "async-alert-never-sent",
        "EXEC with a ServerURI answers 202 but the result alert is never sent",
        ["DM-PACK-026-C-M", "FUMO-004-C-M"]
    ),
    fault!(Client, "get-no-data", "GET answers 200 without the data", ["DM-PACK-019-C-O"]),
    fault!(
        Client,
        "get-unsupported",
        "GET is answered 501 (not implemented) although the reference ICS declares it supported; \
         every other case must still pass, as none may rest on the optional GET",
        ["DM-PACK-019-C-O"]
    ),
    fault!(Client, "show-not-opened", "SHOW answers 200 but never opens the URL", ["DM-PACK-020-C-O"]),
    fault!(Client, "show-blocks", "SHOW waits for the browser page before going on", ["DM-PACK-020-C-O"]),
    fault!(
        Client,
        "cont-ignored",
        "CONT answers 200 but later Package#3s still go to the old URI",
        ["DM-PACK-021-C-M"]
    ),
    fault!(Client, "p3-after-end", "a Package#3 is sent after a Package#2 containing END", ["DM-PACK-022-C-M"]),
    fault!(
        Client,
        "end-ignores-commands",
        "a Package#2 containing END ends the session at once: its other commands are not processed",
        ["DM-PACK-012-C-M"]
    ),
    fault!(
        Client,
        "default-ignored",
        "DEFAULT answers 200 but the URI is not stored (configuration the tree lacks is never fetched)",
        ["DM-PACK-023-C-O"]
    ),
    fault!(
        Client,
        "default-first-kept",
        "a second DEFAULT for the same MOID does not replace the first: the old URI is fetched",
        ["DM-PACK-023-C-O"]
    ),
    fault!(Client, "alert-no-datatype", "Generic Alerts carrying Data lack DataType", ["DM-PACK-024-C-M"]),
    fault!(
        Client,
        "alert-bad-mark",
        "Generic Alerts carry Mark \"urgent\", not a defined importance level",
        ["DM-PACK-024-C-M"]
    ),
    fault!(Client, "alert-missing-alerttype", "Generic Alerts lack AlertType", ["DM-PACK-024-C-M"]),
    fault!(
        Client,
        "exec-async-result-missing",
        "EXEC without ServerURI of an operation reported asynchronously (FUMO) answers 202, runs, but its result \
         alert never comes",
        ["DM-PACK-026-C-M", "FUMO-004-C-M"]
    ),
    fault!(
        Client,
        "async-result-no-session-alert",
        "the new session carrying an asynchronous EXEC result has no ClientInitiatedMgmt alert, only the result",
        ["DM-PACK-011-C-M"]
    ),
    fault!(
        Client,
        "async-alert-wrong-source",
        "the result alert of an asynchronous EXEC names the DevInfo MO as SourceURI, not the executed node",
        ["DM-PACK-024-C-M", "FUMO-006-C-M"]
    ),
    fault!(
        Client,
        "upload-not-serialized",
        "HPUT and HPOST send the bare MOData of each target, not an MO serialization (no ClientURI, no MOData member)",
        ["DM-PACK-015-C-M", "DM-PACK-016-C-M"]
    ),
    fault!(
        Client,
        "uri-without-instance-slash",
        "HGET without a ClientURI returns the new instance as MOID/MIID, without the \"/\" after the mo-inst",
        ["DM-PACK-014-C-M"]
    ),
    fault!(
        Client,
        "exec-parameters-reversed",
        "EXEC's two parameters are read in the order other than the profile's (ServerURI taken for the ClientURI)",
        ["DM-PACK-018-C-M", "DM-PACK-026-C-M"]
    ),
    // ---- FUMO agent (fumo.rs; scr/fumo/fumo.toml) ----
    fault!(
        Client,
        "fumo-pkgdata-state-unchanged",
        "FUMO State stays 10 after the package is delivered into Update/PkgData (fig 10.2: 10→50)",
        ["FUMO-008-C-M"]
    ),
    fault!(
        Client,
        "fumo-final-state-stale",
        "after EXEC Update installs the package, FUMO State is left at 60 (Update Progressing)",
        ["FUMO-008-C-M"]
    ),
    fault!(
        Client,
        "fumo-mos-wrong-moid",
        "the MOS of Package#1 lists the FUMO instance under MOID urn:oma:mo:acme-firmware:1.0, not the FUMO MOID",
        ["FUMO-001-C-M"]
    ),
    fault!(
        Client,
        "fumo-no-202",
        "an EXEC of a FUMO operation is answered 200 although the operation runs later (its result alert follows)",
        ["FUMO-003-C-M", "DM-PACK-026-C-M"]
    ),
    fault!(
        Client,
        "fumo-result-alert-missing",
        "no result alert ever reports a FUMO operation",
        ["FUMO-004-C-M", "DM-PACK-026-C-M"]
    ),
    fault!(
        Client,
        "fumo-alert-wrong-type",
        "the FUMO result alert carries another operation's alert type (Update and DownloadAndUpdate swapped)",
        ["FUMO-005-C-M"]
    ),
    fault!(
        Client,
        "fumo-alert-wrong-source",
        "the FUMO result alert's SourceURI names the DevInfo MO, not the FUMO instance",
        ["FUMO-006-C-M", "DM-PACK-024-C-M"]
    ),
    fault!(
        Client,
        "fumo-result-not-integer",
        "the FUMO result alert's ResultCode is text (\"OK\"/\"FAILED\"), not an integer",
        ["FUMO-007-C-M"]
    ),
    fault!(
        Client,
        "fumo-result-lies",
        "every FUMO operation is reported with ResultCode 200, also a failed download",
        ["FUMO-007-C-M"]
    ),
    fault!(
        Client,
        "fumo-dau-waits",
        "DownloadAndUpdate downloads and reports 200 but does not install: it waits at State 50 for the server",
        ["FUMO-009-C-M"]
    ),
    fault!(
        Client,
        "fumo-no-status-report",
        "the download agent never POSTs the DLOTA status report to the descriptor's installNotifyURI",
        ["FUMO-014-C-O"]
    ),
    fault!(
        Client,
        "fumo-ignores-descriptor",
        "the download agent ignores the descriptor's size and type: a mismatching object is installed (200)",
        ["FUMO-013-C-O"]
    ),
    fault!(
        Client,
        "fumo-installs-corrupt",
        "an object whose SHA-256 differs from the descriptor's installParam digest is installed (200)",
        ["FUMO-013-C-O"]
    ),
    fault!(
        Client,
        "fumo-ignores-user",
        "the user's refusal (firmware.user-answer accept = false) is ignored: the package is downloaded and installed",
        ["FUMO-015-C-O"]
    ),
    fault!(
        Client,
        "fumo-retries",
        "after reporting a failed download the agent fetches the package again on its own",
        ["FUMO-016-C-M"]
    ),
    fault!(
        Client,
        "default-parameters-reversed",
        "DEFAULT's parameters are read in the order other than the profile's (the URI is stored under the wrong MOID)",
        ["DM-PACK-023-C-O"]
    ),
    fault!(
        Client,
        "scomo-delivered-not-kept",
        "HGET into SCOMO Inventory/Delivered/<x> (and its Data) is answered 200 but nothing is kept",
        ["SCOMO-002-C-M"]
    ),
    fault!(
        Client,
        "scomo-exec-sync",
        "an EXEC of an SCOMO operation is performed and answered 200 at once: no 202, no result alert",
        ["SCOMO-003-C-M"]
    ),
    fault!(
        Client,
        "scomo-result-missing",
        "an SCOMO operation is answered 202 but its result alert is never sent",
        ["SCOMO-004-C-M"]
    ),
    fault!(
        Client,
        "scomo-result-wrong-type",
        "the SCOMO result alert has the FUMO AlertType urn:oma:at:fumo:1.0:DownloadAndUpdate",
        ["SCOMO-004-C-M"]
    ),
    fault!(
        Client,
        "scomo-result-wrong-source",
        "the SCOMO result alert's SourceURI is the SCOMO instance root, not the executed operation node",
        ["SCOMO-004-C-M"]
    ),
    fault!(Client, "scomo-result-no-code", "the SCOMO result alert's Data carries no ResultCode", ["SCOMO-005-C-M"]),
    fault!(
        Client,
        "scomo-result-lies",
        "an Install that failed (invalid package) is reported with ResultCode 1200",
        ["SCOMO-005-C-M", "SCOMO-012-C-O"]
    ),
    fault!(
        Client,
        "scomo-install-not-deployed",
        "Install reports 1200 but no component appears in Inventory/Deployed",
        ["SCOMO-006-C-M", "SCOMO-005-C-M", "SCOMO-007-C-O", "SCOMO-011-C-O"]
    ),
    fault!(
        Client,
        "scomo-inactive-installed-active",
        "InstallInactive deploys the component Active (State 20), a wrong state",
        ["SCOMO-007-C-O"]
    ),
    fault!(
        Client,
        "scomo-remove-kept",
        "Remove of a deployed component reports 1200 but the component stays in Inventory/Deployed",
        ["SCOMO-008-C-M"]
    ),
    fault!(
        Client,
        "scomo-deactivate-state-unchanged",
        "Deactivate reports 1200 but the component's State stays 20 (Active)",
        ["SCOMO-009-C-O"]
    ),
    fault!(
        Client,
        "scomo-dp-state-stale",
        "after Install the delivered package's State stays 10 (Delivered) instead of 20 (Installed)",
        ["SCOMO-010-C-M"]
    ),
    fault!(
        Client,
        "scomo-download-skipped",
        "Download/DownloadInstall never fetches PkgURL and reports 1402 (Download failed) at once",
        ["SCOMO-011-C-O"]
    ),
    fault!(
        Client,
        "scomo-absent-component-succeeds",
        "Remove/Activate/Deactivate of a component that is not deployed is answered 202 and reported 1200",
        ["SCOMO-005-C-M"]
    ),
    fault!(
        Client,
        "scomo-corrupt-installed",
        "a package that fails validation is installed and reported 1200",
        ["SCOMO-012-C-O"]
    ),
    fault!(
        Client,
        "scomo-no-status-report",
        "an SCOMO download through a descriptor never POSTs the DLOTA status report to its installNotifyURI",
        ["SCOMO-020-C-O"]
    ),
    fault!(
        Client,
        "scomo-dd-as-package",
        "an SCOMO PkgURL naming a download descriptor is taken for the package itself: the objectURI is never fetched",
        ["SCOMO-020-C-O"]
    ),
    fault!(
        Client,
        "scomo-ignores-descriptor",
        "an SCOMO download ignores the descriptor's size and type: a mismatching object is installed (1200)",
        ["SCOMO-021-C-O"]
    ),
    fault!(
        Client,
        "scomo-download-result-lies",
        "an SCOMO download through a descriptor that failed is reported with ResultCode 1200",
        ["SCOMO-021-C-O", "SCOMO-005-C-M"]
    ),
];

/// The faults this peer is switched into.
pub type Faults = super::faults::ActiveFaults;

/// Configuration of the reference client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where `/ut` and `/notify` are served (port 0: any free port).
    pub listen: SocketAddr,
    pub dev_id: String,
    /// DMAcc SrvID: the SERVER-ID notifications must carry.
    pub server_id: String,
    /// DMAcc SrvURI: where Package#1 goes.
    pub server_uri: String,
    /// DMAcc Auth/Noti credentials; `None` disables digest verification.
    pub noti: Option<NotificationCredentials>,
    /// HTTP credentials for Package#1/#3: Basic unasked (unless `basic_unasked` is false), and
    /// a 401 answered once (Digest if offered, else Basic).
    pub basic: Option<(String, String)>,
    /// Send Basic with every package, before any 401 (default true).
    pub basic_unasked: bool,
    /// HTTPS: the CA the DM server's certificate must chain to (and a client certificate).
    pub tls: Option<crate::peers::tls::ClientTls>,
    pub profile: Profile,
    /// Fault names, `client.x` or `x`.
    pub faults: BTreeSet<String>,
    /// Timeout of every HTTP request the client makes.
    pub http_timeout: Duration,
    /// Bound on Package#2/#3 rounds per session.
    pub max_rounds: usize,
    /// Also print the exchange log to stderr (CLI mode).
    pub echo_log: bool,
    /// The session carrying an asynchronous EXEC result opens with ClientInitiatedMgmt only and
    /// puts the result alert in its first Package#3 (the seed allows either package): a lawful
    /// variant, to show that cases accept both.
    pub async_result_in_package3: bool,
    /// SCOMO behaviour the spec allows but the reference does not show by default (tests prove
    /// the cases accept it).
    pub scomo_variant: scomo::Variant,
    /// MIID of the provisioned FUMO instance (default `fw-main`): a lawful variant, to show
    /// that the FUMO cases follow PIXIT mo.fumo_uri.
    pub fumo_instance: String,
}

impl ClientConfig {
    /// Reference values: DevID `IMEI:359881000000017`, server id `dmcts`, notification secret
    /// `test-noti-secret` and auth data `test-noti-authdata`, listening on 127.0.0.1:0.
    pub fn new(server_uri: impl Into<String>) -> ClientConfig {
        ClientConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dev_id: DEFAULT_DEV_ID.into(),
            server_id: "dmcts".into(),
            server_uri: server_uri.into(),
            noti: Some(NotificationCredentials {
                secret: b"test-noti-secret".to_vec(),
                auth_data: b"test-noti-authdata".to_vec(),
            }),
            basic: None,
            basic_unasked: true,
            tls: None,
            profile: Profile::default(),
            faults: BTreeSet::new(),
            http_timeout: Duration::from_secs(30),
            max_rounds: 64,
            echo_log: false,
            async_result_in_package3: false,
            scomo_variant: scomo::Variant::default(),
            fumo_instance: "fw-main".into(),
        }
    }
}

/// Work for the session worker, run one at a time in queue order.
#[derive(Debug, Clone)]
enum Job {
    Notified {
        notification_id: Option<u16>,
        req_mos: bool,
    },
    ClientInitiated {
        alerts: Vec<Value>,
    },
    AsyncResult {
        server_uri: String,
        alert: Value,
    },
    /// The FUMO agent fetching a package again by itself (fault `client.fumo-retries`).
    FumoRetry {
        url: String,
    },
}

struct State {
    store: Store,
    /// DEFAULT command: MOID → ServerURI.
    defaults: BTreeMap<String, String>,
    seen_ids: BTreeSet<u16>,
    queue: VecDeque<Job>,
    /// A job was popped and has not finished yet.
    busy: bool,
    running: Option<AbortHandle>,
    /// Background work that may still send traffic (SHOW browsers).
    background: JoinSet<()>,
    /// Bumped by reset, so a job popped just before a reset is aborted too.
    epoch: u64,
    /// The FUMO agent's own state (held packages, the user's answer).
    fumo: fumo::Agent,
}

/// The tree as provisioned for this configuration (what `reset` restores).
fn provisioned(c: &ClientConfig) -> Store {
    let mut store = Store::provisioned(
        &c.dev_id,
        &c.server_id,
        &c.server_uri,
        c.noti.as_ref().map(|n| (n.secret.as_slice(), n.auth_data.as_slice())),
    );
    store.instance_slash = c.profile.client_uri_instance_slash;
    for i in store.instances.iter_mut().filter(|i| i.moid == store::MOID_FUMO) {
        i.miid = c.fumo_instance.clone();
    }
    store
}

struct Shared {
    cfg: ClientConfig,
    faults: Faults,
    http: reqwest::Client,
    log: common::ExchangeLog,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
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
        let fresh = provisioned(&self.cfg);
        let mut st = self.lock();
        st.store = fresh;
        st.defaults.clear();
        st.seen_ids.clear();
        st.fumo = fumo::Agent::default();
        st.queue.clear();
        if let Some(h) = st.running.take() {
            h.abort();
        }
        st.background.abort_all();
        st.epoch += 1;
        drop(st);
        self.log("reset to the provisioned state".into());
    }

    /// True once nothing queued, running or in the background can still send traffic.
    fn is_idle(&self) -> bool {
        let mut st = self.lock();
        while st.background.try_join_next().is_some() {}
        st.queue.is_empty() && !st.busy && st.background.is_empty()
    }

    /// Judges a Package#0 and queues its session when accepted.
    fn notification(&self, bytes: &[u8], via: &str) -> Result<(), String> {
        self.log(format!("Package#0 via {via}: {}", hex::encode(bytes)));
        let verdict = {
            let mut st = self.lock();
            let acc = notify::Account {
                server_id: &self.cfg.server_id,
                noti: self.cfg.noti.as_ref(),
                profile: &self.cfg.profile,
            };
            notify::judge(bytes, &acc, &self.faults, &mut st.seen_ids, common::posix_now())
        };
        match verdict {
            Ok(a) => {
                self.enqueue(Job::Notified { notification_id: a.notification_id, req_mos: a.req_mos });
                Ok(())
            }
            Err(why) => {
                self.log(format!("Package#0 ignored: {why}"));
                Err(why)
            }
        }
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
        // Aborted by reset (or finished): either way the job can send nothing more.
        let _ = handle.await;
        let mut st = sh.lock();
        st.running = None;
        st.busy = false;
    }
}

async fn handle_ut(sh: Arc<Shared>, req: UtRequest) -> UtAnswer {
    sh.log(format!("upper tester: {} {}", req.action, req.args));
    match req.action.as_str() {
        action::RESET => {
            sh.reset();
            // Let an aborted job unwind so `busy` is accurate for a following `idle`.
            wait_idle(&sh, Duration::from_secs(5)).await;
            UtAnswer::done(Value::Null)
        }
        action::IUT_STATE => {
            let mut a = ut_server::iut_state_answer(sh.is_idle());
            // The SCOMO inventory, so a vendor (or a test) can watch the operations' State.
            a.data["scomo"] = scomo::state_summary(&sh.lock().store);
            a
        }
        action::IDLE => match wait_idle(&sh, Duration::from_secs(5)).await {
            true => UtAnswer::done(Value::Null),
            false => UtAnswer::failed("still busy after 5 s"),
        },
        action::SESSION_START => {
            sh.enqueue(Job::ClientInitiated { alerts: vec![] });
            UtAnswer::done(json!({ "queued": true }))
        }
        action::NOTIFICATION_DELIVER => {
            let Some(b64) = req.args.get("bytes_b64").and_then(Value::as_str) else {
                return UtAnswer::failed("args.bytes_b64 (a base64 string) is required");
            };
            let bytes = match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(b) => b,
                Err(e) => return UtAnswer::failed(format!("args.bytes_b64 is not base64: {e}")),
            };
            match sh.notification(&bytes, "upper tester") {
                Ok(()) => UtAnswer::done(json!({ "accepted": true })),
                Err(why) => UtAnswer::done(json!({ "accepted": false, "reason": why })),
            }
        }
        action::ALERT_RAISE => {
            let alert = match req.args.get("alert") {
                Some(a) if a.is_object() => a.clone(),
                _ => req.args.clone(),
            };
            if let Err(e) = GenericAlert::from_value(&alert, "/args") {
                return UtAnswer::failed(format!("not a Generic Alert: {e}"));
            }
            sh.enqueue(Job::ClientInitiated { alerts: vec![alert] });
            UtAnswer::done(json!({ "queued": true }))
        }
        action::CONFIG_REQUEST => {
            let Some(moid) = req.args.get("moid").and_then(Value::as_str) else {
                return UtAnswer::failed("args.moid (a string) is required");
            };
            let (have, uri) = {
                let st = sh.lock();
                (st.store.miids_of(moid), st.defaults.get(moid).cloned())
            };
            // Only configuration the tree lacks is fetched (digest §8.9).
            if !have.is_empty() {
                let reason = format!(
                    "the tree already has configuration of {moid} (instance(s) {}): nothing to fetch",
                    have.join(", ")
                );
                return UtAnswer::done(json!({ "fetched": false, "reason": reason }));
            }
            match uri {
                // The HGET procedure, with no status to any server.
                Some(uri) => {
                    let st = session::hget(&sh, &uri, None).await;
                    UtAnswer::done(json!({ "fetched": true, "uri": uri, "result": st }))
                }
                None => UtAnswer::done(json!({ "fetched": false, "reason": format!("no DEFAULT URI for {moid}") })),
            }
        }
        action::FIRMWARE_USER_ANSWER => fumo::user_answer(&sh, &req.args),
        other => UtAnswer::unsupported(format!("the reference client does not implement {other:?}")),
    }
}

async fn wait_idle(sh: &Shared, limit: Duration) -> bool {
    common::wait_until(limit, || sh.is_idle()).await
}

async fn handle_notify(
    axum::extract::State(sh): axum::extract::State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let _ = sh.notification(&body, &format!("HTTP POST {NOTIFY_PATH} ({ct})"));
    axum::http::StatusCode::NO_CONTENT
}

/// The addresses of a running reference client (a DM 2.0 or a DM 1.2 one).
pub struct ClientUrls {
    /// The real listen address.
    pub addr: SocketAddr,
    /// `http://addr/ut`.
    pub ut_url: String,
    /// `http://addr/notify`.
    pub notify_url: String,
}

/// A running reference client; shutting it down cancels every session and background task.
pub type RunningClient = common::RunningPeer<ClientUrls>;

/// Starts the client on the current tokio runtime.
pub async fn spawn(config: ClientConfig) -> anyhow::Result<RunningClient> {
    let faults = Faults::parse(Role::Client, &config.faults)?;
    let tls =
        config.tls.clone().map(|t| crate::peers::tls::ClientTls { accept_any: faults.has("tls-accept-any"), ..t });
    let http = common::http_client_tls(config.http_timeout, Duration::from_secs(5), tls.as_ref())?;
    let listener = common::Listening::bind(config.listen).await?;
    let store = provisioned(&config);
    let log = common::ExchangeLog::new(config.echo_log.then_some("reference client"));
    let shared = Arc::new(Shared {
        cfg: config,
        faults,
        http,
        log,
        state: Mutex::new(State {
            store,
            defaults: BTreeMap::new(),
            seen_ids: BTreeSet::new(),
            queue: VecDeque::new(),
            busy: false,
            running: None,
            background: JoinSet::new(),
            epoch: 0,
            fumo: fumo::Agent::default(),
        }),
        wake: tokio::sync::Notify::new(),
    });
    let sh = shared.clone();
    let ut: ut_server::UtHandler = Arc::new(move |req| Box::pin(handle_ut(sh.clone(), req)));
    let app = ut_server::router(ut.clone())
        .merge(axum::Router::new().route(NOTIFY_PATH, axum::routing::post(handle_notify)).with_state(shared.clone()));
    let listening = common::Listening::serve(listener, app)?;
    let addr = listening.addr;
    let worker = tokio::spawn(worker(shared.clone()));
    shared.log(format!("reference client listening on {addr}, DM server {}", shared.cfg.server_uri));
    let urls = ClientUrls {
        addr,
        ut_url: format!("http://{addr}{}", ut_server::UT_PATH),
        notify_url: format!("http://{addr}{NOTIFY_PATH}"),
    };
    let (log, reset) = (shared.clone(), shared.clone());
    Ok(common::RunningPeer::new(urls, ut, move || log.log.lines(), vec![listening])
        .with_worker(worker, move || reset.reset()))
}

/// `dmcts reference client` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Address serving /ut and /notify.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The DM server URI (DMAcc SrvURI) Package#1 is POSTed to.
    #[arg(long, required_unless_present = "list_faults")]
    pub server_uri: Option<String>,
    #[arg(long, default_value = DEFAULT_DEV_ID)]
    pub dev_id: String,
    /// DMAcc SrvID (the SERVER-ID notifications must carry).
    #[arg(long, default_value = "dmcts")]
    pub server_id: String,
    #[arg(long, default_value = "test-noti-secret")]
    pub noti_secret: String,
    #[arg(long, default_value = "test-noti-authdata")]
    pub noti_authdata: String,
    /// No notification credentials (digests are not verified).
    #[arg(long)]
    pub no_noti: bool,
    /// HTTP credentials for Package#1/#3, as USER:PASSWORD (Basic unasked; a Digest challenge
    /// is answered).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub basic: Option<String>,
    /// With --basic: send the credentials only when a 401 asks for them (Digest if offered),
    /// never unasked (as the in-process reference client of `run --against reference` does).
    #[arg(long, requires = "basic")]
    pub basic_when_asked: bool,
    /// HTTPS: the CA (PEM) the DM server's certificate must chain to (nothing else is trusted).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// A DM 2.0 profile TOML file (see `wire::dm2::Profile`); default profile 2016-A.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<std::path::PathBuf>,
    /// Inject a fault (repeatable), e.g. `--fault client.devid-missing`.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// List the faults and exit.
    #[arg(long)]
    pub list_faults: bool,
}

impl ClientArgs {
    pub fn to_config(&self) -> anyhow::Result<ClientConfig> {
        let uri = self.server_uri.clone().context("--server-uri is required")?;
        let mut c = ClientConfig::new(uri);
        c.listen = self.listen;
        c.dev_id = self.dev_id.clone();
        c.server_id = self.server_id.clone();
        c.noti = (!self.no_noti).then(|| NotificationCredentials {
            secret: self.noti_secret.as_bytes().to_vec(),
            auth_data: self.noti_authdata.as_bytes().to_vec(),
        });
        if let Some(b) = &self.basic {
            let (u, p) = b.split_once(':').context("--basic must be USER:PASSWORD")?;
            c.basic = Some((u.into(), p.into()));
            c.basic_unasked = !self.basic_when_asked;
        }
        if let Some(path) = &self.profile {
            c.profile = common::read_profile(path)?;
        }
        if let Some(f) = &self.ca {
            let (ca_pem, _) = crate::peers::tls::read_roots(f).map_err(|e| anyhow::anyhow!("--ca: {e}"))?;
            c.tls = Some(crate::peers::tls::ClientTls {
                ca_pem,
                ca_source: f.display().to_string(),
                identity: None,
                accept_any: false,
            });
        }
        c.faults = self.faults.iter().cloned().collect();
        c.echo_log = true;
        Ok(c)
    }
}

/// CLI entry: spawn, print the URLs, run until Ctrl-C.
pub async fn run_cli(args: ClientArgs) -> anyhow::Result<()> {
    if args.list_faults {
        common::print_faults(FAULTS, 36);
        return Ok(());
    }
    let running = spawn(args.to_config()?).await?;
    println!("reference client upper tester: {}", running.ut_url);
    println!("reference client notifications: {}", running.notify_url);
    common::until_ctrl_c(running.shutdown()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ClientArgs,
    }

    #[test]
    fn cli_args_build_a_config() {
        let cli = Cli::parse_from([
            "x",
            "--server-uri",
            "http://127.0.0.1:1/dm",
            "--fault",
            "devid-missing",
            "--basic",
            "u:p",
        ]);
        let c = cli.args.to_config().unwrap();
        assert_eq!((c.dev_id.as_str(), c.server_id.as_str()), (DEFAULT_DEV_ID, "dmcts"));
        assert_eq!(c.basic, Some(("u".into(), "p".into())));
        assert!(Faults::parse(Role::Client, &c.faults).unwrap().has("devid-missing"));
        assert!(Faults::parse(Role::Client, ["client.bogus"]).unwrap_err().to_string().contains("valid faults"));
        assert!(Cli::try_parse_from(["x", "--list-faults"]).is_ok());
    }
}
