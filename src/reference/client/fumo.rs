//! The reference client's firmware update agent on its FUMO instances (enablers digest §2,
//! DLOTA §5): DM delivery into `Update/PkgData`, the Download / Update / DownloadAndUpdate
//! operations, the download user agent (a package or a download descriptor, streamed, checked
//! against the descriptor's size and type and an optional digest), a simulated installation and
//! "power cycle", and the State transitions of fig 10.2 at every step.
//!
//! An EXEC of an operation node takes the server's edge at once (DL/DLU 10→30, UP 50→60), is
//! answered 202, and the operation runs once the session is over; its result alert then goes in
//! a new client-initiated session (see `session.rs`), to the EXEC's ServerURI or the DM server.
//!
//! Reference conventions (documented in docs/fumo-scomo.md):
//! - accepted package media types: `application/octet-stream` and the profile's
//!   `fumo_pkgdata_media_type`; free space for a package: [`dlota::FREE_SPACE`];
//! - a descriptor's `installParam` may carry `sha256=<hex>` (among `key=value;` pairs, vendor
//!   practice per digest §5.2): the object must have that digest;
//! - the user's answer to the update prompt is set by the upper tester's `firmware.user-answer`
//!   (profile `fumo_user_confirmation = "upper-tester"`); without one the user accepts;
//! - DLOTA status → FUMO ResultCode: 901→501, 902→401, 903→503, 905→402, 906→409, 951→409,
//!   952→410, 953→405, 954→500 (digest §2.7, after Samsung's mapping; 954 and 903 follow the
//!   reference's own HTTP-error and transport-error codes).
use super::dlota::{self, Package};
use super::store::{Store, Target};
use super::Shared;
use crate::wire::dm2::fumo::{self, result, state, Operation};
use serde_json::{json, Value};

/// What the agent keeps besides the tree: the package each instance holds, and the user's
/// answer to the next update prompt.
#[derive(Debug, Default, Clone)]
pub struct Agent {
    /// Instance index → the package held (length, SHA-256), from PkgData or a Download.
    pub held: std::collections::BTreeMap<usize, Package>,
    /// Set by `firmware.user-answer`; `None`: the user accepts.
    pub user_accepts: Option<bool>,
}

/// The FUMO operation an EXEC target is, if it is one.
pub fn operation_of(store: &Store, t: &Target) -> Option<Operation> {
    let inst = store.instances.get(t.instance)?;
    if inst.moid != fumo::MOID_FUMO || t.path.len() != 1 {
        return None;
    }
    Operation::from_node(&t.path[0])
}

/// Whether a ClientURI target is `<x>/Update/PkgData` of a FUMO instance.
pub fn is_pkgdata(store: &Store, t: &Target) -> bool {
    store.instances.get(t.instance).is_some_and(|i| i.moid == fumo::MOID_FUMO) && t.path == ["Update", "PkgData"]
}

pub fn state_of(store: &Store, instance: usize) -> Option<u16> {
    let n = store.instances.get(instance)?.root.children.get("State")?;
    n.leaf_string()?.parse().ok()
}

fn set_state(sh: &Shared, instance: usize, v: u16) {
    if sh.faults.has("exec-state-unchanged") {
        return sh.log(format!("FUMO State not set to {v} (fault client.exec-state-unchanged)"));
    }
    let mut st = sh.lock();
    if let Some(n) = st.store.instances.get_mut(instance).and_then(|i| i.root.children.get_mut("State")) {
        n.value = Some(Value::String(v.to_string()));
    }
    drop(st);
    sh.log(format!("FUMO State = {v}"));
}

/// A download that fails before it starts (fault `client.exec-download-skipped`): State 20.
pub fn download_failed_at_once(sh: &Shared, instance: usize) {
    set_state(sh, instance, state::DOWNLOAD_FAILED);
}

/// The server's edge of fig 10.2 when an EXEC is accepted: DL/DLU 10→30, UP 50→60.
pub fn accept_exec(sh: &Shared, t: &Target, op: Operation) {
    let from = state_of(&sh.lock().store, t.instance);
    let to = match op {
        Operation::Download | Operation::DownloadAndUpdate => state::DOWNLOAD_PROGRESSING,
        Operation::Update => state::UPDATE_PROGRESSING,
    };
    sh.log(format!("FUMO EXEC {op} accepted in State {from:?}"));
    set_state(sh, t.instance, to);
}

/// HGET into `<x>/Update/PkgData`: the package is fetched (streamed: length and digest only)
/// and held; State 10→50 (fig 10.2 "Replace PkgData"). Returns the HGET status.
pub async fn deliver_pkgdata(sh: &Shared, url: &str, t: &Target) -> u16 {
    let media = sh.cfg.profile.fumo_pkgdata_media_type.clone();
    sh.log(format!("-> GET {url} (FUMO PkgData, {media})"));
    let resp = match sh.http.get(url).header("Accept", &media).send().await {
        Ok(r) => r,
        Err(e) => {
            sh.log(format!("PkgData GET {url} failed: {e}"));
            return 500;
        }
    };
    let code = resp.status().as_u16();
    if !(200..300).contains(&code) {
        return code;
    }
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if crate::wire::media::media_type_of(&ct) != media {
        sh.log(format!("PkgData is {ct:?}, not {media} (profile fumo_pkgdata_media_type): 415"));
        return 415;
    }
    let got = match dlota::stream(resp, u64::MAX, None).await {
        Ok(p) => p,
        Err(e) => {
            sh.log(format!("PkgData body failed: {e}"));
            return 500;
        }
    };
    sh.log(format!("<- {code} PkgData {} bytes, sha256 {}", got.len, got.sha256));
    sh.lock().fumo.held.insert(t.instance, got);
    if sh.faults.has("fumo-pkgdata-state-unchanged") {
        sh.log("FUMO State not updated after PkgData (fault client.fumo-pkgdata-state-unchanged)".into());
    } else {
        set_state(sh, t.instance, state::READY_TO_UPDATE);
    }
    200
}

/// A failed download: the FUMO ResultCode, and the DLOTA status when a descriptor was read.
struct Failed {
    result: u16,
    dlota: Option<u16>,
}

fn fumo_code(dlota: u16) -> u16 {
    match dlota {
        901 => result::DOWNLOAD_OUT_OF_MEMORY,
        902 => result::USER_CANCELLED,
        903 => result::DOWNLOAD_NETWORK,
        905 => result::CORRUPTED_PACKAGE,
        906 | 951 => 409,
        952 => result::UPDATE_FAILED,
        953 => result::PACKAGE_NOT_ACCEPTABLE,
        _ => result::DOWNLOAD_SERVER_ERROR,
    }
}

fn user_declines(sh: &Shared) -> bool {
    let declines = sh.lock().fumo.user_accepts == Some(false);
    if declines && sh.faults.has("fumo-ignores-user") {
        sh.log("the user declined; going on anyway (fault client.fumo-ignores-user)".into());
        return false;
    }
    declines
}

/// The download user agent (`dlota.rs`) with the FUMO agent's policy and faults. On success
/// returns the package and the descriptor's installNotifyURI.
async fn download(sh: &Shared, url: &str) -> (Result<Package, Failed>, Option<String>) {
    let f = &sh.faults;
    let policy = dlota::Policy {
        label: "FUMO PkgURL",
        accepted: vec!["application/octet-stream".into(), sh.cfg.profile.fumo_pkgdata_media_type.clone()],
        user_declines: user_declines(sh),
        ignore_descriptor: f.has("fumo-ignores-descriptor"),
        ignore_digest: f.has("fumo-installs-corrupt").then_some("fumo-installs-corrupt"),
        keep: None,
    };
    let got = dlota::download(sh, url, &policy).await;
    let result = got.result.map_err(|e| match e {
        dlota::Failure::BadUrl => Failed { result: result::BAD_URL, dlota: None },
        dlota::Failure::Network => Failed { result: result::DOWNLOAD_NETWORK, dlota: None },
        dlota::Failure::Http(_) => Failed { result: result::DOWNLOAD_SERVER_ERROR, dlota: None },
        dlota::Failure::Declined => Failed { result: result::USER_CANCELLED, dlota: None },
        dlota::Failure::Dlota(code) => Failed { result: fumo_code(code), dlota: Some(code) },
    });
    (result, got.notify)
}

/// POSTs the DLOTA status report to the descriptor's installNotifyURI.
async fn install_notify(sh: &Shared, uri: Option<String>, code: u16) {
    let fault = sh.faults.has("fumo-no-status-report").then_some("fumo-no-status-report");
    dlota::install_notify(sh, uri, code, fault).await;
}

/// The simulated installation of the held package, and the power cycle after it.
fn install(sh: &Shared, instance: usize, pkg: &Package) -> u16 {
    set_state(sh, instance, state::UPDATE_PROGRESSING);
    sh.log(format!("installing {} bytes ({}); power cycle", pkg.len, pkg.sha256));
    set_state(sh, instance, state::UPDATE_SUCCESSFUL_HAVE_DATA);
    // Clean-up: the package is discarded (fig 10.2 90→100).
    sh.lock().fumo.held.remove(&instance);
    set_state(sh, instance, state::UPDATE_SUCCESSFUL_NO_DATA);
    result::SUCCESSFUL
}

/// What an operation ended with: its ResultCode, and a URL the faulty agent fetches again by
/// itself after reporting (fault `fumo-retries`).
pub struct Ended {
    pub result: u16,
    pub retry: Option<String>,
}

/// Runs an accepted operation to its end (after the session that EXEC'd it).
pub async fn run(sh: &Shared, t: &Target, op: Operation) -> Ended {
    let url = match op {
        Operation::Update => None,
        _ => sh.lock().store.download_url(t),
    };
    let instance = t.instance;
    let ended = |result: u16| Ended { result, retry: None };
    match op {
        Operation::Update => {
            let held = sh.lock().fumo.held.get(&instance).cloned();
            match held {
                Some(p) if !sh.faults.has("fumo-final-state-stale") => ended(install(sh, instance, &p)),
                Some(_) => {
                    sh.log("installed; State left at 60 (fault client.fumo-final-state-stale)".into());
                    ended(result::SUCCESSFUL)
                }
                None => {
                    // Exec UP outside 50 is not drawn in fig 10.2: nothing to apply.
                    sh.log("EXEC Update without a package (ResultCode 410)".into());
                    set_state(sh, instance, state::IDLE);
                    ended(result::UPDATE_FAILED)
                }
            }
        }
        Operation::Download | Operation::DownloadAndUpdate => {
            let url = url.unwrap_or_default();
            let (got, notify) = download(sh, &url).await;
            match got {
                Err(f) => {
                    set_state(sh, instance, state::DOWNLOAD_FAILED);
                    if let Some(code) = f.dlota {
                        install_notify(sh, notify, code).await;
                    }
                    let retry = sh.faults.has("fumo-retries").then_some(url);
                    Ended { result: f.result, retry }
                }
                Ok(p) => {
                    set_state(sh, instance, state::DOWNLOAD_COMPLETE);
                    set_state(sh, instance, state::READY_TO_UPDATE);
                    sh.lock().fumo.held.insert(instance, p.clone());
                    if op == Operation::Download || sh.faults.has("fumo-dau-waits") {
                        install_notify(sh, notify, 900).await;
                        return ended(result::SUCCESSFUL);
                    }
                    let r = install(sh, instance, &p);
                    install_notify(sh, notify, if fumo::is_success(r.into()) { 900 } else { 952 }).await;
                    ended(r)
                }
            }
        }
    }
}

/// The result alert of a FUMO operation (digest §2.5.2, §2.8), with the alert faults.
pub fn result_alert(sh: &Shared, op: Operation, client_uri: &str, code: u16) -> Value {
    let f = &sh.faults;
    let p = &sh.cfg.profile;
    let code = if f.has("fumo-result-lies") { result::SUCCESSFUL } else { code };
    let op_type = if f.has("fumo-alert-wrong-type") {
        match op {
            Operation::DownloadAndUpdate => Operation::Update,
            _ => Operation::DownloadAndUpdate,
        }
    } else {
        op
    };
    let source = if f.has("fumo-alert-wrong-source") || f.has("async-alert-wrong-source") {
        format!("{}/d0/", super::store::MOID_DEVINFO)
    } else {
        client_uri.to_string()
    };
    let data = if f.has("fumo-result-not-integer") {
        let member = if p.fumo_result_code_member.is_empty() { "result" } else { &p.fumo_result_code_member };
        json!({ member: if fumo::is_success(code.into()) { "OK" } else { "FAILED" } })
    } else {
        fumo::result_data(code, p)
    };
    json!({
        "AlertType": op_type.alert_type(p),
        "SourceURI": source,
        "Mark": if fumo::is_success(code.into()) { "informational" } else { "critical" },
        "DataType": "int",
        "Data": data,
    })
}

/// `firmware.user-answer {accept}`: the user's answer to the next update prompt.
pub fn user_answer(sh: &Shared, args: &Value) -> crate::upper_tester::UtAnswer {
    let Some(accept) = args.get("accept").and_then(Value::as_bool) else {
        return crate::upper_tester::UtAnswer::failed("args.accept (a boolean) is required");
    };
    sh.lock().fumo.user_accepts = Some(accept);
    crate::upper_tester::UtAnswer::done(json!({ "accept": accept }))
}

/// A GET of the package again, by the agent itself (fault `fumo-retries`).
pub async fn retry(sh: &Shared, url: &str) {
    sh.log(format!("-> GET {url} again on its own (fault client.fumo-retries)"));
    let _ = download(sh, url).await;
}
