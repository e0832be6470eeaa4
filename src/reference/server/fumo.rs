//! The reference server's FUMO side (scr/fumo/fumo.toml, FUMO-0nn-S-*): `firmware.update`
//! queues the commands that start an update (seed 8.1.1 steps 10-11, 8.1.2 steps 10-11), the
//! EXEC's 202 marks the update accepted (not finished), and the result alert finishes it with
//! its ResultCode; `device.report` lists the updates under `firmware`.
//!
//! - `mode = "dm"`: `["HGET", package_url, <fumo>Update/PkgData]`, then
//!   `["EXEC", <fumo>Update, <dm URL>]`.
//! - `mode = "download_and_update"`: `["HGET", <base>/dm/fumo/pkgurl/<n>, <fumo>DownloadAndUpdate/PkgURL]`
//!   (that URL serves the MO serialization setting PkgURL to `descriptor_url` or `package_url`),
//!   then `["EXEC", <fumo>DownloadAndUpdate, <dm URL>]`.
//! - `mode = "download_then_update"`: the same through `Download`; once its result reports
//!   success, `["EXEC", <fumo>Update, <dm URL>]` is queued for the next session.
//!
//! Each is followed by `["CONT", <dm URL>]`, so that the device answers the EXEC in a
//! Package#3 (a Package#2 with END gets none) and the server sees its 202.
//!
//! `fumo_uri` (default `urn:oma:mo:oma-fumo:1.0/fw-main/`) names the device's instance.
//! `confirm = true` is answered `unsupported`: how a DM 2.0 server asks for user confirmation
//! is UNVERIFIED (digest §2.5.4), and the reference server does not guess.
use super::state::{Device, Queued};
use super::{Shared, DM_PATH};
use crate::upper_tester::UtAnswer;
use crate::wire::dm2::fumo::{self, Operation};
use crate::wire::dm2::Command;
use serde::Serialize;
use serde_json::{json, Value};

/// The default FUMO instance of a device.
pub const DEFAULT_FUMO_URI: &str = "urn:oma:mo:oma-fumo:1.0/fw-main/";
/// Path prefix of the PkgURL data the server serves for HGET.
pub const PKGURL_PATH_PREFIX: &str = "/dm/fumo/pkgurl/";

/// One update started by `firmware.update`, as `device.report` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FirmwareJob {
    pub mode: String,
    pub fumo_uri: String,
    /// The operation node EXEC'd (its ClientURI).
    pub exec: String,
    /// queued | accepted (202: running on the device) | finished | refused (the EXEC got no 202)
    pub state: String,
    pub exec_status: Option<u16>,
    /// The ResultCode of the result alert.
    pub result_code: Option<i64>,
    /// 2xx: true; 4xx/5xx: false; null until finished.
    pub success: Option<bool>,
    pub finished: bool,
    /// The result alerts received for it (Download, then Update for download_then_update).
    pub alerts: Vec<Value>,
    /// The PkgURL value served for the HGET (alternate download).
    pub pkg_url: Option<String>,
}

fn fail(m: impl Into<String>) -> UtAnswer {
    UtAnswer::failed(m)
}

/// `firmware.update {dev_id, mode, package_url | descriptor_url, confirm?, fumo_uri?}`.
pub fn update(sh: &Shared, args: &Value) -> UtAnswer {
    let s = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(dev_id) = s("dev_id") else { return fail("args.dev_id (a string) is required") };
    let Some(mode) = s("mode") else {
        return fail("args.mode is required: dm | download_and_update | download_then_update");
    };
    if args.get("confirm").and_then(Value::as_bool) == Some(true) {
        return UtAnswer::unsupported(
            "confirm = true: how a DM 2.0 server asks the user for confirmation is UNVERIFIED (digest §2.5.4); the \
             reference server does not ask",
        );
    }
    let fumo_uri = s("fumo_uri").unwrap_or_else(|| DEFAULT_FUMO_URI.into());
    if !fumo_uri.starts_with(fumo::MOID_FUMO) || !fumo_uri.ends_with('/') {
        return fail(format!("args.fumo_uri must be a FUMO instance ClientURI ending in \"/\" (got {fumo_uri:?})"));
    }
    let url = s("descriptor_url").or_else(|| s("package_url"));
    let Some(url) = url else { return fail("args.package_url or args.descriptor_url is required") };
    let f = &sh.faults;
    let dm_url = format!("{}{DM_PATH}", sh.base);
    let mut st = sh.lock();
    let Some(dev) = st.devices.get_mut(&dev_id) else { return fail(format!("device {dev_id:?} is not registered")) };
    let n = dev.rec.firmware.len();
    let (op, prepare, pkg_url) = match mode.as_str() {
        "dm" => {
            let target = format!("{fumo_uri}Update/PkgData");
            (Operation::Update, Command::Hget { server_uri: url.clone(), client_uri: Some(target) }, None)
        }
        "download_and_update" | "download_then_update" => {
            let op = if mode == "download_and_update" { Operation::DownloadAndUpdate } else { Operation::Download };
            let target = format!("{fumo_uri}{}/PkgURL", op.node());
            let source = format!("{}{PKGURL_PATH_PREFIX}{}/{n}", sh.base, percent(&dev_id));
            (op, Command::Hget { server_uri: source, client_uri: Some(target) }, Some(url.clone()))
        }
        other => return fail(format!("args.mode {other:?}: dm | download_and_update | download_then_update")),
    };
    // The wrong EXEC target: DownloadAndUpdate for a DM delivery, Update for an alternate download.
    let exec_op = match (f.has("fumo-wrong-exec-target"), op) {
        (false, op) => op,
        (true, Operation::Update) => Operation::DownloadAndUpdate,
        (true, _) => Operation::Update,
    };
    let exec = format!("{fumo_uri}{}", exec_op.node());
    let server_uri = (!f.has("fumo-exec-no-server-uri")).then(|| dm_url.clone());
    let exec_cmd = Command::Exec { client_uri: exec.clone(), server_uri };
    let cmds = if f.has("fumo-exec-before-package") { [exec_cmd, prepare] } else { [prepare, exec_cmd] };
    dev.queue.extend(cmds.into_iter().map(Queued::Command));
    // A CONT to this server's own DM URL: the Package#2 with the EXEC cannot also end the
    // session, so the device's Package#3 brings the EXEC's status (the 202).
    dev.queue.push_back(Queued::Command(Command::Cont { server_uri: dm_url }));
    dev.rec.firmware.push(FirmwareJob {
        mode,
        fumo_uri,
        exec,
        state: "queued".into(),
        exec_status: None,
        result_code: None,
        success: None,
        finished: false,
        alerts: Vec::new(),
        pkg_url,
    });
    UtAnswer::done(json!({ "queued": dev.queue.len(), "job": n }))
}

fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The PkgURL MO data for `GET /dm/fumo/pkgurl/<dev>/<n>`.
pub fn pkgurl_data(sh: &Shared, dev_id: &str, n: usize) -> Option<Value> {
    let st = sh.lock();
    let job = st.devices.get(dev_id)?.rec.firmware.get(n)?;
    let url = job.pkg_url.clone()?;
    let node = if job.mode == "download_and_update" { "DownloadAndUpdate" } else { "Download" };
    Some(json!([{ "ClientURI": format!("{}{node}/PkgURL", job.fumo_uri), "MOData": { "PkgURL": url } }]))
}

/// The status a device gave an EXEC: 202 accepts the update for later processing.
pub fn exec_status(sh: &Shared, dev: &mut Device, client_uri: &str, sc: u16) {
    let final_202 = sh.faults.has("fumo-202-final");
    for job in dev.rec.firmware.iter_mut().filter(|j| j.exec == client_uri && !j.finished && j.exec_status.is_none()) {
        job.exec_status = Some(sc);
        match sc {
            // Under the fault the 202 is taken for the result.
            202 if final_202 => {
                job.state = "finished".into();
                job.finished = true;
                job.result_code = Some(202);
                job.success = Some(true);
            }
            202 => job.state = "accepted".into(),
            _ => {
                job.state = "refused".into();
                job.finished = true;
                job.success = Some(false);
            }
        }
    }
}

/// A result alert for an EXEC this server sent: the update's outcome.
pub fn result(sh: &Shared, dev: &mut Device, client_uri: &str, alert: &Value) {
    if sh.faults.has("fumo-result-ignored") {
        return;
    }
    let profile = &sh.cfg.profile;
    let code = fumo::result_code_of(alert.get("Data"), profile);
    let mut follow_up = None;
    for job in dev.rec.firmware.iter_mut().filter(|j| j.exec == client_uri && !j.finished) {
        job.alerts.push(alert.clone());
        let ok = code.is_some_and(|c| fumo::is_success(c) || sh.faults.has("fumo-failure-as-success"));
        if job.mode == "download_then_update" && job.exec.ends_with("/Download") && ok {
            // The download is done; the update follows in the next session.
            let update = format!("{}Update", job.fumo_uri);
            job.exec = update.clone();
            job.exec_status = None;
            job.state = "queued".into();
            follow_up = Some(update);
            continue;
        }
        job.result_code = code;
        job.success = code.map(|_| ok);
        job.finished = true;
        job.state = "finished".into();
    }
    if let Some(update) = follow_up {
        let dm_url = format!("{}{DM_PATH}", sh.base);
        let server_uri = (!sh.faults.has("fumo-exec-no-server-uri")).then(|| dm_url.clone());
        dev.queue.push_back(Queued::Command(Command::Exec { client_uri: update, server_uri }));
        dev.queue.push_back(Queued::Command(Command::Cont { server_uri: dm_url }));
    }
}
