//! The reference server's SCOMO operations (digest §3): the External Management
//! Infrastructure's `software.*` upper-tester actions become queued DM 2.0 commands; the EXEC
//! statuses (202: pending), the OperationComplete result alerts (ResultCode per profile
//! `scomo_result_data`) and the inventory read are recorded for `device.report` (`software`,
//! `inventory`).
//!
//! # Actions (args beside `dev_id`; `scomo_uri` defaults to `urn:oma:mo:oma-scomo:1.0//`)
//! - `software.install` {`package_id`, `mode`: `"dm"` (default) | `"download"`, `data` (text) |
//!   `url` | `descriptor_url` (mode download: a DLOTA descriptor's URL, set as PkgURL),
//!   `activate` (default true), `install` (download mode, default true), `entry` (node name,
//!   default `pkg<n>`), `name`}. Mode `dm` queues, with `S` the SCOMO root and `R`
//!   `<base>/repo/scomo/<n>`:
//!   `HGET R/dp S/Inventory/Delivered/<entry>` (MO data {PkgID, Name}),
//!   `HGET <url or R/data> S/Inventory/Delivered/<entry>/Data` (served as profile
//!   `scomo_data_media_type`),
//!   `EXEC S/Inventory/Delivered/<entry>/Operations/<Install or InstallInactive> <base>/dm`.
//!   Mode `download` queues `HGET R/dl S/Download/<entry>` ({PkgID, Name, PkgURL = descriptor_url,
//!   url or the served data}) and `EXEC S/Download/<entry>/Operations/<DownloadInstall,
//!   DownloadInstallInactive or Download> <base>/dm`.
//! - `software.remove`, `software.activate`, `software.deactivate` {`component_id`: the node
//!   name under Inventory/Deployed}: `EXEC <scomo>Inventory/Deployed/<id>/Operations/Remove|
//!   Activate|Deactivate <base>/dm`.
//! - `software.inventory`: `GET <scomo>Inventory/Deployed`; the components of the GET's data
//!   (profile `get_data_member`) go to `inventory`.
//!
//! Each answers `done` with {`op`, `commands`: [the queued arrays], `exec`: the EXEC array}
//! (`software.inventory`: no `exec`).
use super::state::Device;
use super::Shared;
use crate::upper_tester::UtAnswer;
use crate::wire::dm2::scomo as sc;
use crate::wire::dm2::{Command, GenericAlert, StatusEntry};
use serde::Serialize;
use serde_json::{json, Value};

/// Where the reference server serves package metadata and data.
pub const REPO_PREFIX: &str = "/repo/scomo/";
const DEFAULT_SCOMO_URI: &str = "urn:oma:mo:oma-scomo:1.0//";

/// One operation the EMI asked for, as `device.report` shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SoftwareOp {
    pub op: u64,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// The EXEC's status code in the Package#3 (null before).
    pub status: Option<u16>,
    /// "queued", "pending" (202, result not yet in), "succeeded", "failed".
    pub outcome: String,
    pub result_code: Option<u16>,
    pub alert: Option<Value>,
}

/// What `software.inventory` read.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Inventory {
    /// Whether a GET of Inventory/Deployed was answered with data.
    pub read: bool,
    /// One object per deployed component: its node name and leaves.
    pub components: Vec<Value>,
}

/// A resource the server serves under [`REPO_PREFIX`]: (content type, body).
pub(super) type Served = (String, Vec<u8>);

fn arg<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str)
}

fn scomo_uri(args: &Value) -> String {
    let u = arg(args, "scomo_uri").unwrap_or(DEFAULT_SCOMO_URI);
    if u.ends_with('/') {
        u.to_string()
    } else {
        format!("{u}/")
    }
}

/// Handles a `software.*` action; `None` when the action is not one.
pub(super) fn action(sh: &Shared, action: &str, args: &Value) -> Option<UtAnswer> {
    let kind = action.strip_prefix("software.")?;
    let Some(dev_id) = arg(args, "dev_id") else { return Some(UtAnswer::failed("args.dev_id (a string) is required")) };
    let f = &sh.faults;
    let scomo = scomo_uri(args);
    let server_uri = format!("{}{}", sh.base, super::DM_PATH);
    let mut st = sh.lock();
    st.scomo_counter += 1;
    let n = st.scomo_counter;
    let repo = format!("{}{REPO_PREFIX}{n}", sh.base);
    let mut served: Vec<(String, Served)> = Vec::new();
    let (operation, package_id, commands): (String, Option<String>, Vec<Vec<String>>) = match kind {
        "install" => {
            let Some(pkg) = arg(args, "package_id") else {
                return Some(UtAnswer::failed("args.package_id (a string) is required"));
            };
            let entry = arg(args, "entry").map(str::to_string).unwrap_or_else(|| format!("pkg{n}"));
            let name = arg(args, "name").unwrap_or(pkg);
            let active = args.get("activate").and_then(Value::as_bool).unwrap_or(true);
            let mode = arg(args, "mode").unwrap_or("dm");
            let descriptor = arg(args, "descriptor_url");
            if descriptor.is_some() && mode != "download" {
                return Some(UtAnswer::failed("args.descriptor_url goes with mode \"download\" (it becomes PkgURL)"));
            }
            let data_url =
                match (descriptor.or(arg(args, "url")), arg(args, "data")) {
                    (Some(u), _) => u.to_string(),
                    (None, Some(d)) => {
                        served.push((
                            format!("{n}/data"),
                            (sh.cfg.profile.scomo_data_media_type.clone(), d.as_bytes().to_vec()),
                        ));
                        format!("{repo}/data")
                    }
                    (None, None) => return Some(UtAnswer::failed(
                        "args.data (the package, text), args.url or (mode download) args.descriptor_url is required",
                    )),
                };
            let json_of = |v: Value| (sh.cfg.profile.mo_media_type.clone(), v.to_string().into_bytes());
            match mode {
                "dm" => {
                    let dp = format!("{scomo}Inventory/Delivered/{entry}");
                    served.push((
                        format!("{n}/dp"),
                        json_of(
                            json!([{ "ClientURI": dp, "MOData": { entry.clone(): { "PkgID": pkg, "Name": name } } }]),
                        ),
                    ));
                    let op = if active { "Install" } else { "InstallInactive" };
                    let mut cmds = vec![
                        vec!["HGET".into(), format!("{repo}/dp"), dp.clone()],
                        vec!["HGET".into(), data_url, format!("{dp}/Data")],
                    ];
                    if f.has("software-install-no-delivery") {
                        cmds.clear();
                    }
                    cmds.push(vec!["EXEC".into(), format!("{dp}/Operations/{op}"), server_uri.clone()]);
                    (op.to_string(), Some(pkg.to_string()), cmds)
                }
                "download" => {
                    let dl = format!("{scomo}Download/{entry}");
                    served.push((
                        format!("{n}/dl"),
                        json_of(json!([{ "ClientURI": dl, "MOData": { entry.clone(): { "PkgID": pkg, "Name": name, "PkgURL": data_url } } }])),
                    ));
                    let install = args.get("install").and_then(Value::as_bool).unwrap_or(true);
                    let op = match (install && !f.has("software-download-wrong-op"), active) {
                        (false, _) => "Download",
                        (true, true) => "DownloadInstall",
                        (true, false) => "DownloadInstallInactive",
                    };
                    let cmds = vec![
                        vec!["HGET".into(), format!("{repo}/dl"), dl.clone()],
                        vec!["EXEC".into(), format!("{dl}/Operations/{op}"), server_uri.clone()],
                    ];
                    (op.to_string(), Some(pkg.to_string()), cmds)
                }
                other => {
                    return Some(UtAnswer::unsupported(format!(
                        "software.install mode {other:?}: only \"dm\" and \"download\""
                    )))
                }
            }
        }
        "remove" | "activate" | "deactivate" => {
            let Some(id) = arg(args, "component_id") else {
                return Some(UtAnswer::failed(
                    "args.component_id (the node name under Inventory/Deployed) is required",
                ));
            };
            let op = match kind {
                "remove" => "Remove",
                "activate" => "Activate",
                _ => "Deactivate",
            };
            // software-op-wrong-node: the operation goes to a delivered package of that name.
            let under = if f.has("software-op-wrong-node") { "Delivered" } else { "Deployed" };
            let uri = format!("{scomo}Inventory/{under}/{id}/Operations/{op}");
            (op.to_string(), None, vec![vec!["EXEC".into(), uri, server_uri.clone()]])
        }
        "inventory" => {
            let cmds = match f.has("software-inventory-not-read") {
                true => vec![],
                false => vec![vec!["GET".to_string(), format!("{scomo}Inventory/Deployed")]],
            };
            ("Inventory".to_string(), None, cmds)
        }
        other => {
            return Some(UtAnswer::unsupported(format!("the reference server does not implement software.{other}")))
        }
    };
    let mut queued = Vec::new();
    for c in &commands {
        match Command::from_array(c, "/commands") {
            Ok(cmd) => queued.push(cmd),
            Err(e) => return Some(UtAnswer::failed(format!("cannot build the command {c:?}: {e}"))),
        }
    }
    let exec = commands.iter().find(|c| c[0] == "EXEC").cloned();
    let state = &mut *st;
    let Some(dev) = state.devices.get_mut(dev_id) else {
        return Some(UtAnswer::failed(format!("device {dev_id:?} is not registered")));
    };
    dev.queue.extend(queued.into_iter().map(super::state::Queued::Command));
    // The EXEC's status (202) and the GET's data come in the Package#3: no END with them
    // (unless configured to send END at once, as a server may: then no 202 is ever seen).
    if !commands.is_empty() && (kind == "inventory" || !sh.cfg.scomo_end_with_exec) {
        dev.queue.push_back(super::state::Queued::AwaitStatuses);
    }
    dev.software.push(SoftwareOp {
        op: n,
        operation: operation.clone(),
        package_id,
        exec: exec.clone(),
        status: None,
        outcome: "queued".into(),
        result_code: None,
        alert: None,
    });
    state.scomo_repo.extend(served);
    let mut data = json!({ "op": n, "operation": operation, "commands": commands });
    if let Some(e) = exec {
        data["exec"] = json!(e);
    }
    Some(UtAnswer::done(data))
}

/// An SCOMO EXEC went out in a Package#2: the operation is pending until its status or result.
pub(super) fn sent(dev: &mut Device, cmds: &[Command]) {
    for c in cmds {
        if let Command::Exec { client_uri, .. } = c {
            if let Some(op) = dev
                .software
                .iter_mut()
                .find(|o| o.outcome == "queued" && o.exec.as_ref().and_then(|e| e.get(1)) == Some(client_uri))
            {
                op.outcome = "pending".into();
            }
        }
    }
}

/// The statuses of a Package#3 for the commands sent: EXEC statuses of SCOMO operations, and
/// the data of an inventory GET.
pub(super) fn statuses(sh: &Shared, dev: &mut Device, sent: &[Command], status: &[StatusEntry]) {
    for (cmd, st) in sent.iter().zip(status) {
        match cmd {
            Command::Exec { client_uri, .. } => {
                let Some(op) = dev.software.iter_mut().find(|o| {
                    o.status.is_none()
                        && matches!(o.outcome.as_str(), "queued" | "pending")
                        && o.exec.as_ref().and_then(|e| e.get(1)) == Some(client_uri)
                }) else {
                    continue;
                };
                op.status = Some(st.sc);
                op.outcome = match st.sc {
                    // software-202-final: 202 taken as the operation's success.
                    202 if sh.faults.has("software-202-final") => "succeeded".into(),
                    202 => "pending".into(),
                    200..=299 => "succeeded".into(),
                    _ => "failed".into(),
                };
            }
            Command::Get { client_uri }
                if client_uri.ends_with("Inventory/Deployed") && client_uri.starts_with(sc::MOID) =>
            {
                if let Some(op) = dev.software.iter_mut().find(|o| o.operation == "Inventory" && o.outcome == "queued")
                {
                    op.status = Some(st.sc);
                    op.outcome = if (200..300).contains(&st.sc) { "succeeded" } else { "failed" }.into();
                }
                if let Some(data) = st.extra.get(&sh.cfg.profile.get_data_member) {
                    dev.inventory.read = true;
                    dev.inventory.components = components(data);
                }
            }
            _ => {}
        }
    }
}

/// The deployed components in GET data (an MO serialization of Inventory/Deployed).
fn components(data: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for el in data.as_array().into_iter().flatten() {
        let md = el.get("MOData");
        let deployed = md.and_then(|m| m.get("Deployed")).or(md);
        if let Some(Value::Object(es)) = deployed {
            for (name, e) in es {
                if let Value::Object(leaves) = e {
                    let mut c = serde_json::Map::new();
                    c.insert("node".into(), json!(name));
                    for (k, v) in leaves {
                        if !v.is_object() {
                            c.insert(k.clone(), v.clone());
                        }
                    }
                    out.push(Value::Object(c));
                }
            }
        }
    }
    out
}

/// A Generic Alert that may be the result of a pending SCOMO operation (SourceURI = its EXEC's
/// ClientURI, AlertType the profile's scomo_result_alert_type).
pub(super) fn result_alert(sh: &Shared, dev: &mut Device, a: &GenericAlert) {
    let Some(src) = &a.source_uri else { return };
    let Some(op) = dev.software.iter_mut().find(|o| {
        matches!(o.outcome.as_str(), "pending" | "queued") && o.exec.as_ref().and_then(|e| e.get(1)) == Some(src)
    }) else {
        return;
    };
    if a.alert_type != sh.cfg.profile.scomo_result_alert_type {
        let msg = format!(
            "alert {} for SCOMO operation {src} is not of AlertType {} (profile scomo_result_alert_type)",
            a.alert_type, sh.cfg.profile.scomo_result_alert_type
        );
        dev.error(msg);
        return;
    }
    if sh.faults.has("software-result-ignored") {
        return;
    }
    let alert = serde_json::to_value(a).unwrap_or(Value::Null);
    match sc::result_code(&sh.cfg.profile, a.data.as_ref()) {
        Ok(code) => {
            op.result_code = Some(code);
            let success = sc::is_success(code) || sh.faults.has("software-failure-as-success");
            op.outcome = if success { "succeeded" } else { "failed" }.into();
        }
        Err(want) => {
            op.outcome = "failed".into();
            let msg = format!("the result of SCOMO operation {src} has no ResultCode: expected {want}");
            op.alert = Some(alert);
            dev.error(msg);
            return;
        }
    }
    op.alert = Some(alert);
}
