//! The reference client's SCOMO instance (digest §3): delivery of packages into
//! `Inventory/Delivered` by HGET (the package data in the profile's `scomo_data_media_type`),
//! the operations of `Download/<x>`, `Inventory/Delivered/<x>` and `Inventory/Deployed/<x>`,
//! their State/Status bookkeeping (§3.3) and the OperationComplete result alert (§3.4) with its
//! ResultCode (§3.5), always reported asynchronously (202, then the alert in a new session to
//! the EXEC's ServerURI, or to the DM server without one).
//!
//! Provisioned: `urn:oma:mo:oma-scomo:1.0/sw-main/` (root `SCOMO`, permanent) with empty
//! `Download`, `Inventory/Delivered` and `Inventory/Deployed`. An entry the server creates under
//! `Download` or `Inventory/Delivered` (HGET with a ClientURI) gets `Status` = `10`, for a
//! delivered package `State` = `10` (Delivered), and its `Operations` (executable).
//!
//! A package is valid when its data starts with [`PACKAGE_MAGIC`]; Install of an invalid one
//! fails with 1407 (no data: 1405) and deploys nothing. Installing creates
//! `Inventory/Deployed/c<n>` {`ID` = `<PkgID>.component`, `Name`, `Version` = `1.0`,
//! `PkgIDRef` = PkgID, `Status` = `10`, `State` = `20` (Install) or `10` (InstallInactive),
//! `Operations/{Activate,Deactivate,Remove}`}; the delivered package's State becomes `20`
//! (Installed). Download fetches `PkgURL` with the shared download user agent (`dlota.rs`): the
//! package itself, or a DLOTA descriptor (checked, its object fetched and checked, the status
//! report POSTed to installNotifyURI: 900, the download's DLOTA failure, or 952 for a package
//! that then failed to install). A failed download leaves Status `20` and is reported 1402 (DLOTA
//! 905/906/951/953, an empty PkgURL), 1404 (901, or a package over 16 MiB), 1500 (954, an HTTP
//! error on PkgURL) or 1501 (903, a transport failure); a fetched package moves to
//! `Inventory/Delivered/<x>` and DownloadInstall(Inactive) then installs it.
//! Remove deletes the entry; Activate/Deactivate set State 20/10. The result alert:
//! `{AlertType: profile.scomo_result_alert_type, SourceURI: <EXEC ClientURI as sent>,
//! TargetURI: <the deployed component or delivered package>, Mark: informational | critical,
//! DataType, Data}` (Data per profile `scomo_result_data`).
use super::dlota;
use super::store::{Node, Store, Target};
use super::Shared;
use crate::wire::dm2::client_uri::{ClientUri, Segment};
use crate::wire::dm2::scomo as sc;
use crate::wire::media::media_type_of;
use base64::Engine;
use serde_json::{json, Map, Value};

pub const MOID: &str = sc::MOID;
pub const MIID: &str = "sw-main";
pub const ROOT: &str = "SCOMO";
/// The first bytes of a package the reference client accepts as valid.
pub const PACKAGE_MAGIC: &[u8] = b"DMCTS-SCOMO-PACKAGE";
/// Marks the operation nodes executable (the AlertType actually sent is the profile's).
const OP_MARK: &str = "urn:oma:at:scomo:1.0:OperationComplete";

/// Behaviour the spec allows besides the reference's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variant {
    /// The result alert's SourceURI is the operation node's canonical ClientURI (MIID and node
    /// names resolved), not the EXEC's ClientURI as sent (profile `exec_result_source_uri =
    /// "same-moid"` accepts it).
    pub resolved_source: bool,
    /// A delivered package is removed from Inventory/Delivered once installed (digest §3.2:
    /// Delivered lists packages "delivered but not (or not all) installed").
    pub drop_delivered_after_install: bool,
    /// Deployed components are named after their ID (`<PkgID>.component`), not `c<n>`.
    pub components_named_by_id: bool,
}

/// The provisioned SCOMO root.
pub fn provisioned_root() -> Node {
    let empty = || Node::interior(true, vec![]);
    Node::interior(
        true,
        vec![
            ("Download", empty()),
            ("Inventory", Node::interior(true, vec![("Delivered", empty()), ("Deployed", empty())])),
        ],
    )
}

fn operations(names: &[&str]) -> Node {
    Node::interior(true, names.iter().map(|n| (*n, Node::leaf("", true).exec(OP_MARK))).collect())
}

fn set_leaf(n: &mut Node, name: &str, value: &str, only_if_absent: bool) {
    if only_if_absent && n.children.contains_key(name) {
        return;
    }
    n.value = None;
    n.children.insert(name.to_string(), Node::leaf(value, true));
}

fn leaf(n: &Node, name: &str) -> String {
    n.children.get(name).and_then(Node::leaf_string).unwrap_or_default()
}

/// Gives every server-created entry the nodes the client maintains (Status, State, Operations).
pub fn complete_entries(root: &mut Node) {
    let kinds: [(&[&str], &[&str], bool); 3] = [
        (&["Download"], &sc::DOWNLOAD_OPS, false),
        (&["Inventory", "Delivered"], &sc::DELIVERED_OPS, true),
        (&["Inventory", "Deployed"], &sc::DEPLOYED_OPS, true),
    ];
    for (path, ops, has_state) in kinds {
        let Some(parent) = path.iter().try_fold(&mut *root, |n, s| n.children.get_mut(*s)) else { continue };
        for entry in parent.children.values_mut() {
            set_leaf(entry, "Status", "10", true);
            if has_state {
                set_leaf(entry, "State", "10", true);
            }
            if !entry.children.contains_key("Operations") {
                entry.children.insert("Operations".into(), operations(ops));
            }
        }
    }
}

/// One SCOMO operation an EXEC addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// `Download/<x>/Operations/Download*`; `install`: then install, active or not.
    Download {
        install: Option<bool>,
    },
    /// `Inventory/Delivered/<x>/Operations/Install|InstallInactive`.
    Install {
        active: bool,
    },
    RemoveDelivered,
    Activate,
    Deactivate,
    RemoveDeployed,
}

#[derive(Debug, Clone)]
pub struct Op {
    pub kind: OpKind,
    /// The operation node itself.
    pub node: Target,
    /// The entry (`Download/<x>`, `Inventory/Delivered/<x>`, `Inventory/Deployed/<x>`).
    pub entry: Target,
}

/// The SCOMO operation at `t`, if it is an operation node of the SCOMO instance.
pub fn operation(store: &Store, t: &Target) -> Option<Op> {
    if store.instances.get(t.instance)?.moid != MOID || store.exec_alert(t).is_none() {
        return None;
    }
    let p: Vec<&str> = t.path.iter().map(String::as_str).collect();
    let entry = |n: usize| Target { instance: t.instance, path: t.path[..n].to_vec() };
    let kind = match p.as_slice() {
        ["Download", _, "Operations", op] => OpKind::Download {
            install: match *op {
                "Download" => None,
                "DownloadInstall" => Some(true),
                _ => Some(false),
            },
        },
        ["Inventory", "Delivered", _, "Operations", op] => match *op {
            "Install" => OpKind::Install { active: true },
            "InstallInactive" => OpKind::Install { active: false },
            _ => OpKind::RemoveDelivered,
        },
        ["Inventory", "Deployed", _, "Operations", op] => match *op {
            "Activate" => OpKind::Activate,
            "Deactivate" => OpKind::Deactivate,
            _ => OpKind::RemoveDeployed,
        },
        _ => return None,
    };
    Some(Op { kind, node: t.clone(), entry: entry(t.path.len() - 2) })
}

fn status(sc: u16) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sc".into(), json!(sc));
    m
}

/// The delivered-package ClientURI an HGET addresses, split into (entry URI, is Data).
fn delivered_target(uri: &str) -> Option<(String, bool)> {
    let p = ClientUri::parse(uri).ok()?;
    if p.moid != MOID {
        return None;
    }
    let names: Vec<&str> =
        p.path.iter().filter_map(|s| if let Segment::Name(n) = s { Some(n.as_str()) } else { None }).collect();
    if names.len() != p.path.len() {
        return None;
    }
    match names.as_slice() {
        ["Inventory", "Delivered", _] => Some((uri.to_string(), false)),
        ["Inventory", "Delivered", _, "Data"] => Some((uri.rsplit_once('/')?.0.to_string(), true)),
        _ => None,
    }
}

/// HGET into the SCOMO instance that the generic procedure cannot do: package data (not an MO
/// serialization) into `Inventory/Delivered/<x>/Data`, and the fault that keeps no delivered
/// package. `None`: the generic HGET procedure applies.
pub(super) async fn hget(sh: &Shared, url: &str, client_uri: &str) -> Option<Map<String, Value>> {
    let (entry_uri, is_data) = delivered_target(client_uri)?;
    if sh.faults.has("scomo-delivered-not-kept") {
        sh.log(format!("HGET {client_uri}: nothing kept (fault client.scomo-delivered-not-kept)"));
        return Some(status(200));
    }
    if !is_data {
        return None;
    }
    let media = sh.cfg.profile.scomo_data_media_type.clone();
    sh.log(format!("-> GET {url} (SCOMO package data, Accept {media})"));
    let resp = match sh.http.get(url).header("Accept", &media).send().await {
        Ok(r) => r,
        Err(e) => {
            sh.log(format!("package GET {url} failed: {e}"));
            return Some(status(500));
        }
    };
    let code = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let Ok(body) = resp.bytes().await else { return Some(status(500)) };
    sh.log(format!("<- {code} ({ct}, {} bytes)", body.len()));
    if !(200..300).contains(&code) {
        return Some(status(code));
    }
    if media_type_of(&ct) != media {
        sh.log(format!("package data is {ct:?}, not {media} (profile scomo_data_media_type): 415"));
        return Some(status(415));
    }
    let mut g = sh.lock();
    let t = match g.store.resolve(&entry_uri) {
        Ok(t) if t.len() == 1 => t.into_iter().next(),
        _ => None,
    };
    let Some(node) = t.and_then(|t| g.store.node_mut(&t)) else {
        sh.log(format!("HGET {client_uri}: no delivered package {entry_uri}: 404"));
        return Some(status(404));
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&body);
    node.children.insert("Data".into(), Node::leaf(&b64, false));
    Some(status(200))
}

/// Whether a ClientURI names an operation of a deployed component of the SCOMO MO (whether or
/// not such a component exists).
pub(super) fn names_deployed_op(uri: &str) -> bool {
    ClientUri::parse(uri).is_ok_and(|p| {
        let n = p.path.len();
        p.moid == MOID
            && n == 5
            && matches!((&p.path[0], &p.path[1], &p.path[3]), (Segment::Name(a), Segment::Name(b), Segment::Name(c))
                if a == "Inventory" && b == "Deployed" && c == "Operations")
    })
}

/// Under the fault `scomo-absent-component-succeeds`: an operation on a component that is not
/// deployed is answered 202 and reported successful.
pub(super) fn phantom_success(
    sh: &Shared,
    client_uri: &str,
    server_uri: Option<String>,
) -> (Map<String, Value>, Option<(String, Value)>) {
    sh.log(format!(
        "SCOMO {client_uri}: no such component, reported 1200 (fault client.scomo-absent-component-succeeds)"
    ));
    let alert = result_alert(sh, client_uri, &Outcome::code(sc::RC_SUCCESS));
    (status(202), Some((server_uri.unwrap_or_else(|| sh.cfg.server_uri.clone()), alert)))
}

/// What an operation came to: its ResultCode and what it produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub code: u16,
    /// The deployed component or delivered package it produced (alert TargetURI).
    pub target: Option<String>,
    pub identifier: Option<String>,
}

impl Outcome {
    fn code(code: u16) -> Outcome {
        Outcome { code, target: None, identifier: None }
    }
}

/// Runs an SCOMO operation (its download first), with the SCOMO faults. Returns the EXEC's
/// status and, when reported asynchronously, the result alert with where it goes.
pub(super) async fn exec(
    sh: &Shared,
    op: Op,
    client_uri: &str,
    server_uri: Option<String>,
) -> (Map<String, Value>, Option<(String, Value)>) {
    let f = &sh.faults;
    let fetched = match &op.kind {
        OpKind::Download { .. } => {
            let url = { sh.lock().store.node(&op.entry).map(|n| leaf(n, "PkgURL")).unwrap_or_default() };
            Some(fetch(sh, &url).await)
        }
        _ => None,
    };
    let (notify, dlota_failed) = fetched.as_ref().map(|x| (x.notify.clone(), x.dlota)).unwrap_or_default();
    let (mut outcome, canonical) = {
        let mut g = sh.lock();
        let canonical = g.store.uri_of(&op.node);
        (apply(&mut g.store, &op, fetched.map(|x| x.package), sh), canonical)
    };
    if notify.is_some() {
        // The DLOTA status report (digest §5.3): the download's failure, else the operation's
        // outcome (900; 952 Device Aborted for a downloaded package that was not installed).
        let code = dlota_failed.unwrap_or(if sc::is_success(outcome.code) { 900 } else { 952 });
        let fault = f.has("scomo-no-status-report").then_some("scomo-no-status-report");
        dlota::install_notify(sh, notify, code, fault).await;
    }
    if !sc::is_success(outcome.code) && dlota_failed.is_some() && f.has("scomo-download-result-lies") {
        sh.log(format!("download failed ({}), reported 1200 (fault client.scomo-download-result-lies)", outcome.code));
        outcome.code = sc::RC_SUCCESS;
    }
    let source = if sh.cfg.scomo_variant.resolved_source { canonical } else { client_uri.to_string() };
    sh.log(format!("SCOMO {:?} of {client_uri}: {outcome:?}", op.kind));
    if f.has("scomo-exec-sync") {
        return (status(200), None);
    }
    if f.has("scomo-result-missing") {
        sh.log("SCOMO result never reported (fault client.scomo-result-missing)".into());
        return (status(202), None);
    }
    let alert = result_alert(sh, &source, &outcome);
    (status(202), Some((server_uri.unwrap_or_else(|| sh.cfg.server_uri.clone()), alert)))
}

/// Longest package the reference SCOMO keeps in its tree.
const MAX_PACKAGE: u64 = 16 << 20;

/// A download from PkgURL: the package (Err: the ResultCode of the failed download), and the
/// DLOTA status report owed when PkgURL named a descriptor (its installNotifyURI, and the
/// status of a failed download; a successful one is reported after the operation).
struct Fetched {
    package: Result<Vec<u8>, u16>,
    notify: Option<String>,
    dlota: Option<u16>,
}

/// DLOTA status → SCOMO ResultCode (digest §3.5, §5.3; reference convention, docs/fumo-scomo.md):
/// 901→1404, 902→1401, 903→1501, 954→1500, any other (905, 906, 951, 953)→1402.
fn scomo_code(dlota: u16) -> u16 {
    match dlota {
        901 => sc::RC_DOWNLOAD_NO_MEMORY,
        902 => sc::RC_USER_CANCELLED,
        903 => sc::RC_SERVER_UNAVAILABLE,
        954 => sc::RC_SERVER_ERROR,
        _ => sc::RC_DOWNLOAD_FAILED,
    }
}

/// The package at PkgURL, itself or through a DLOTA download descriptor (the shared download
/// agent, `dlota.rs`).
async fn fetch(sh: &Shared, url: &str) -> Fetched {
    let f = &sh.faults;
    let failed = |code| Fetched { package: Err(code), notify: None, dlota: None };
    if f.has("scomo-download-skipped") {
        sh.log(format!("SCOMO download of {url:?} not attempted (fault client.scomo-download-skipped)"));
        return failed(sc::RC_DOWNLOAD_FAILED);
    }
    if f.has("scomo-dd-as-package") {
        sh.log(format!("-> GET {url} (SCOMO PkgURL, taken for the package: fault client.scomo-dd-as-package)"));
        let got = match sh.http.get(url).send().await {
            Ok(r) if r.status().is_success() => r.bytes().await.map(|b| b.to_vec()).ok(),
            _ => None,
        };
        return match got {
            Some(b) => Fetched { package: Ok(b), notify: None, dlota: None },
            None => failed(sc::RC_DOWNLOAD_FAILED),
        };
    }
    let policy = dlota::Policy {
        label: "SCOMO PkgURL",
        accepted: vec!["application/octet-stream".into(), sh.cfg.profile.scomo_data_media_type.clone()],
        user_declines: false,
        ignore_descriptor: f.has("scomo-ignores-descriptor"),
        ignore_digest: f.has("scomo-ignores-descriptor").then_some("scomo-ignores-descriptor"),
        keep: Some(MAX_PACKAGE),
    };
    let got = dlota::download(sh, url, &policy).await;
    match got.result {
        Ok(p) => match p.bytes {
            Some(b) => Fetched { package: Ok(b), notify: got.notify, dlota: None },
            None => {
                sh.log(format!("SCOMO package of {} bytes is larger than {MAX_PACKAGE} (1404)", p.len));
                Fetched { package: Err(sc::RC_DOWNLOAD_NO_MEMORY), notify: got.notify, dlota: Some(901) }
            }
        },
        Err(dlota::Failure::Dlota(code)) => {
            Fetched { package: Err(scomo_code(code)), notify: got.notify, dlota: Some(code) }
        }
        Err(dlota::Failure::Network) => failed(sc::RC_SERVER_UNAVAILABLE),
        Err(dlota::Failure::Http(_)) => failed(sc::RC_SERVER_ERROR),
        Err(dlota::Failure::Declined) => failed(sc::RC_USER_CANCELLED),
        Err(dlota::Failure::BadUrl) => failed(sc::RC_DOWNLOAD_FAILED),
    }
}

fn apply(store: &mut Store, op: &Op, fetched: Option<Result<Vec<u8>, u16>>, sh: &Shared) -> Outcome {
    let f = &sh.faults;
    let Some(entry_name) = op.entry.path.last().cloned() else { return Outcome::code(sc::RC_UNDEFINED) };
    match &op.kind {
        OpKind::Download { install } => {
            let bytes = match fetched {
                Some(Ok(b)) => b,
                Some(Err(code)) => {
                    if let Some(n) = store.node_mut(&op.entry) {
                        set_leaf(n, "Status", "20", false);
                    }
                    return Outcome::code(code);
                }
                None => return Outcome::code(sc::RC_UNDEFINED),
            };
            let Some(src) = store.node(&op.entry).cloned() else { return Outcome::code(sc::RC_UNDEFINED) };
            let pkg_id = leaf(&src, "PkgID");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let mut dp = Node::interior(false, vec![]);
            set_leaf(&mut dp, "PkgID", &pkg_id, false);
            set_leaf(&mut dp, "Name", &leaf(&src, "Name"), false);
            dp.children.insert("Data".into(), Node::leaf(&b64, false));
            set_leaf(&mut dp, "Status", "10", false);
            set_leaf(&mut dp, "State", sc::DP_DELIVERED, false);
            dp.children.insert("Operations".into(), operations(&sc::DELIVERED_OPS));
            let inst = op.entry.instance;
            let root = &mut store.instances[inst].root;
            if let Some(d) = root.children.get_mut("Download") {
                d.children.remove(&entry_name);
            }
            let delivered_path = vec!["Inventory".to_string(), "Delivered".to_string(), entry_name.clone()];
            if let Some(d) = root.children.get_mut("Inventory").and_then(|i| i.children.get_mut("Delivered")) {
                d.children.insert(entry_name, dp);
            }
            let delivered = Target { instance: inst, path: delivered_path };
            match install {
                Some(active) => install_package(store, &delivered, *active, sh),
                None => {
                    Outcome { code: sc::RC_SUCCESS, target: Some(store.uri_of(&delivered)), identifier: Some(pkg_id) }
                }
            }
        }
        OpKind::Install { active } => install_package(store, &op.entry, *active, sh),
        OpKind::RemoveDelivered => {
            remove_entry(store, &op.entry);
            Outcome::code(sc::RC_SUCCESS)
        }
        OpKind::Activate | OpKind::Deactivate => {
            let activate = op.kind == OpKind::Activate;
            let unchanged = !activate && f.has("scomo-deactivate-state-unchanged");
            if let (Some(n), false) = (store.node_mut(&op.entry), unchanged) {
                set_leaf(n, "State", if activate { sc::DC_ACTIVE } else { sc::DC_INACTIVE }, false);
            }
            let id = store.node(&op.entry).map(|n| leaf(n, "ID"));
            Outcome { code: sc::RC_SUCCESS, target: Some(store.uri_of(&op.entry)), identifier: id }
        }
        OpKind::RemoveDeployed => {
            if !f.has("scomo-remove-kept") {
                remove_entry(store, &op.entry);
            }
            Outcome::code(sc::RC_SUCCESS)
        }
    }
}

fn remove_entry(store: &mut Store, entry: &Target) {
    if let Some((last, parent)) = entry.path.split_last() {
        let parent = Target { instance: entry.instance, path: parent.to_vec() };
        if let Some(p) = store.node_mut(&parent) {
            p.children.remove(last);
        }
    }
}

/// Install of a delivered package: validation, then a deployed component.
fn install_package(store: &mut Store, dp_target: &Target, active: bool, sh: &Shared) -> Outcome {
    let f = &sh.faults;
    let Some(dp) = store.node(dp_target).cloned() else { return Outcome::code(sc::RC_INSTALL_FAILED) };
    let data = base64::engine::general_purpose::STANDARD.decode(leaf(&dp, "Data")).unwrap_or_default();
    let valid = data.starts_with(PACKAGE_MAGIC) || f.has("scomo-corrupt-installed");
    if !valid {
        // Install failed, data kept (Delivered Status 50, digest §3.3).
        if let Some(n) = store.node_mut(dp_target) {
            set_leaf(n, "Status", "50", false);
        }
        let code = if f.has("scomo-result-lies") {
            sc::RC_SUCCESS
        } else if data.is_empty() {
            sc::RC_INSTALL_FAILED
        } else {
            sc::RC_VALIDATION_FAILED
        };
        return Outcome::code(code);
    }
    let pkg_id = leaf(&dp, "PkgID");
    if f.has("scomo-install-not-deployed") {
        return Outcome { code: sc::RC_SUCCESS, target: None, identifier: None };
    }
    let inst = dp_target.instance;
    let deployed_path = ["Inventory", "Deployed"].map(String::from).to_vec();
    let deployed = Target { instance: inst, path: deployed_path.clone() };
    let by_id = sh.cfg.scomo_variant.components_named_by_id;
    let name = (1..)
        .map(|n| if by_id && n == 1 { format!("{pkg_id}.component") } else { format!("c{n}") })
        .find(|n| store.node(&deployed).is_none_or(|d| !d.children.contains_key(n)))
        .unwrap_or_default();
    let id = format!("{pkg_id}.component");
    let state = if active || f.has("scomo-inactive-installed-active") { sc::DC_ACTIVE } else { sc::DC_INACTIVE };
    let mut dc = Node::interior(false, vec![]);
    set_leaf(&mut dc, "ID", &id, false);
    let shown = leaf(&dp, "Name");
    set_leaf(&mut dc, "Name", if shown.is_empty() { &pkg_id } else { &shown }, false);
    set_leaf(&mut dc, "Version", "1.0", false);
    set_leaf(&mut dc, "PkgIDRef", &pkg_id, false);
    set_leaf(&mut dc, "Status", "10", false);
    set_leaf(&mut dc, "State", state, false);
    dc.children.insert("Operations".into(), operations(&sc::DEPLOYED_OPS));
    if let Some(d) = store.node_mut(&deployed) {
        d.children.insert(name.clone(), dc);
    }
    if sh.cfg.scomo_variant.drop_delivered_after_install {
        remove_entry(store, dp_target);
    } else if !f.has("scomo-dp-state-stale") {
        if let Some(n) = store.node_mut(dp_target) {
            set_leaf(n, "State", sc::DP_INSTALLED, false);
        }
    }
    let mut dc_path = deployed_path;
    dc_path.push(name);
    let dc_target = Target { instance: inst, path: dc_path };
    Outcome { code: sc::RC_SUCCESS, target: Some(store.uri_of(&dc_target)), identifier: Some(id) }
}

/// The OperationComplete Generic Alert (digest §3.4) in the profile's DM 2.0 form.
fn result_alert(sh: &Shared, client_uri: &str, o: &Outcome) -> Value {
    let f = &sh.faults;
    let p = &sh.cfg.profile;
    let alert_type = if f.has("scomo-result-wrong-type") {
        super::store::ALERT_FUMO_DOWNLOAD_AND_UPDATE.to_string()
    } else {
        p.scomo_result_alert_type.clone()
    };
    let source = if f.has("scomo-result-wrong-source") { format!("{MOID}/{MIID}/") } else { client_uri.to_string() };
    let (data_type, mut data) = sc::result_data(p, o.code, o.identifier.as_deref());
    if f.has("scomo-result-no-code") {
        data = json!({ "DM1x": "<Identifier>unknown</Identifier>", "Identifier": "unknown" });
    }
    let mut a = json!({
        "AlertType": alert_type,
        "SourceURI": source,
        "Mark": if sc::is_success(o.code) { "informational" } else { "critical" },
        "DataType": data_type,
        "Data": data,
    });
    if let Some(t) = &o.target {
        a["TargetURI"] = json!(t);
    }
    a
}

/// The SCOMO inventory for `iut.state`: delivered packages and deployed components with their
/// State and Status.
pub fn state_summary(store: &Store) -> Value {
    let Some(inst) = store.instances.iter().find(|i| i.moid == MOID) else { return Value::Null };
    let list = |path: &[&str], keys: &[&str]| -> Value {
        let node = path.iter().try_fold(&inst.root, |n, s| n.children.get(*s));
        Value::Array(
            node.map(|n| {
                n.children
                    .iter()
                    .map(|(name, e)| {
                        let mut o = Map::new();
                        o.insert("node".into(), json!(name));
                        for k in keys {
                            o.insert((*k).into(), json!(leaf(e, k)));
                        }
                        Value::Object(o)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        )
    };
    json!({
        "download": list(&["Download"], &["PkgID", "PkgURL", "Status"]),
        "delivered": list(&["Inventory", "Delivered"], &["PkgID", "Status", "State"]),
        "deployed": list(&["Inventory", "Deployed"], &["ID", "PkgIDRef", "Status", "State"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::provisioned("IMEI:1", "dmcts", "http://127.0.0.1:1/dm", None)
    }

    #[test]
    fn a_delivered_entry_gets_its_state_and_operations_and_they_resolve_to_operations() {
        let mut s = store();
        let uri = format!("{MOID}//Inventory/Delivered/p1");
        let body = vec![json!({"ClientURI": uri, "MOData": {"p1": {"PkgID": "com.x", "Name": "x"}}})];
        s.store_at(&uri, &body).unwrap();
        let summary = state_summary(&s);
        assert_eq!(summary["delivered"], json!([{"node": "p1", "PkgID": "com.x", "Status": "10", "State": "10"}]));
        let t = s.resolve(&format!("{uri}/Operations/InstallInactive")).unwrap();
        let op = operation(&s, &t[0]).unwrap();
        assert_eq!(op.kind, OpKind::Install { active: false });
        assert_eq!(s.uri_of(&op.entry), format!("{MOID}/{MIID}/Inventory/Delivered/p1"));
        // Status, State and Operations are the client's: the server's DELETE of them gives 405.
        let state = s.resolve(&format!("{uri}/State")).unwrap();
        assert_eq!(s.delete(&state, false), 405);
        // A plain node of the SCOMO instance is no operation.
        let inv = s.resolve(&format!("{MOID}//Inventory")).unwrap();
        assert!(operation(&s, &inv[0]).is_none());
    }

    #[test]
    fn hget_targets_of_the_delivered_package_are_recognised() {
        assert_eq!(
            delivered_target(&format!("{MOID}//Inventory/Delivered/p1")),
            Some((format!("{MOID}//Inventory/Delivered/p1"), false))
        );
        assert_eq!(
            delivered_target(&format!("{MOID}/sw-main/Inventory/Delivered/p1/Data")),
            Some((format!("{MOID}/sw-main/Inventory/Delivered/p1"), true))
        );
        assert_eq!(delivered_target(&format!("{MOID}//Download/p1")), None);
        assert_eq!(delivered_target("urn:oma:mo:oma-fumo:1.0//Inventory/Delivered/p1"), None);
    }
}
