//! The reference DM 1.2 client as a DM Gateway in proxy mode (GwMO over SyncML DM 1.2,
//! docs/gwmo.md; seeds 000 "Image Distribution" and 003 "DM Commands Fanout"): its GwMO MOs,
//! the work an Exec of them starts after the session, and its side toward its End Devices — a
//! SyncML DM 1.2 server (`POST /gw/dm`) and a download server for the images it holds (`GET
//! /gw/img/<name>`), both on the client's listener.
//!
//! # Management objects (tree paths; URIs `./GWMO/...`)
//! - Image Inventory `GWMO/ImageInventory/<img>/`: any instance (a write or an Exec below it
//!   creates it) with `ImageURI`, `LocalImageURI`, `Operations/Download`. Exec of
//!   `Operations/Download` → 202; after the session the gateway GETs ImageURI, keeps the
//!   image, sets LocalImageURI to `<base>/gw/img/<img>` and sends the Image Ready alert: a
//!   Generic Alert 1226 in a new session, the Exec's Correlator, one Item: Source the Exec'd
//!   node, Meta Type [`Profile::gwmo_alert_type_image_ready`], Format `chr`, Data the
//!   LocalImageURI.
//! - Fanout `GWMO/Fanout/<fo>/`: any instance with `DMCommands` (a SyncML command fragment,
//!   [`gwmo::parse_dm_commands`]), `TargetGroupRef` (a group name), `Operations/Start`,
//!   `Results/<r>/{DeviceID, DevResultXML}`. Exec of `Operations/Start` → 202; after the
//!   session: a Package#0 to every member of the group (at most [`FANOUT_WINDOW`] at once), the
//!   DMCommands in the answer to each device's Package#1 (CmdIDs renumbered), its answer
//!   collected as DevResultXML; a device that has not answered within [`DEVICE_TIMEOUT`] of its
//!   notification has none. The Results nodes are written and the aggregate goes in a Generic
//!   Alert 1226 of a new session: the Start Exec's Correlator, the Items of
//!   [`gwmo::aggregate_items`] (Meta Type [`Profile::gwmo_alert_type_aggregation`]).
//! - Gateway Config `GWMO/Config/Groups/<name>/DeviceIDs` (the members, comma-separated) and
//!   Device Inventory `GWMO/DeviceInventory/<DeviceID>/DeviceID`, from `gateway.attach`.
//!
//! # Upper tester
//! `gateway.attach` {`notify_base`, `groups`: [{`name`, `id_prefix`, `count`}]} (as for the DM
//! 2.0 gateway, [`crate::reference::gwmo::members`]): answers {`dm_url`: `<base>/gw/dm`,
//! `devices`}. Each device is notified at `<notify_base>/<DeviceID>` with a DM 1.2 Package#0
//! (server identifier [`SERVER_ID`], digest made with [`NOTIFICATION_PASSWORD`] and an empty
//! nonce); End Devices are not challenged.
use super::tree::{Node, Tree};
use super::{Faults, GenericAlert, Job as WorkerJob, Shared};
use crate::reference::common::fault;
use crate::reference::faults::FaultInfo;
use crate::reference::gwmo::members::{self, Attached};
use crate::upper_tester::UtAnswer;
use crate::wire::dm12::gwmo::{self, DeviceResult};
use crate::wire::dm12::message::all_commands;
use crate::wire::dm12::notification::{self, Trigger, UiMode, MEDIA_NOTIFICATION, VERSION_1_1};
use crate::wire::dm12::profile::Profile;
use crate::wire::dm12::{Command, Encoding, Item, LocRef, Message, Status, SyncBody, SyncHdr, MEDIA_WBXML, MEDIA_XML};
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The southbound DM server (the End Devices' messages).
pub const DM_PATH: &str = "/gw/dm";
/// The gateway-local download server: `<base>/gw/img/<name>`.
pub const IMG_PATH: &str = "/gw/img/";
/// The gateway's server identifier in its Package#0s.
pub const SERVER_ID: &str = "dmcts-ref-dm12-gateway";
/// The password of its Package#0 digests (End Devices do not verify them).
pub const NOTIFICATION_PASSWORD: &str = "dmcts-ed";
/// How long the gateway waits for an End Device's answer after notifying it.
pub const DEVICE_TIMEOUT: Duration = Duration::from_millis(3000);
/// At most this many End Device sessions at once.
pub const FANOUT_WINDOW: usize = 64;

const ROOT: &str = "GWMO";
const IMAGES: &str = "GWMO/ImageInventory";
const FANOUTS: &str = "GWMO/Fanout";
const GROUPS: &str = "GWMO/Config/Groups";
const DEVICES: &str = "GWMO/DeviceInventory";
const DOWNLOAD: &str = "Operations/Download";
const START: &str = "Operations/Start";
const MAX_BODY: usize = 64 << 20;

/// Faults of the reference DM 1.2 client as a DM Gateway (`client.` + name), one at least per
/// GwMO gateway item, mirroring the DM 2.0 gateway's (`crate::reference::gwmo::FAULTS`). Kept
/// apart from the client's own [`super::FAULTS`]: only the GwMO DM 1.2 cases can see them.
pub static FAULTS: &[FaultInfo] = &[
    fault!(
        Client,
        "gw12-download-no-202",
        "an Exec of a GwMO image's Operations/Download is answered 200, not 202, though the download runs after the session",
        ["GWMO-001-C-M"]
    ),
    fault!(
        Client,
        "gw12-local-uri-unset",
        "after the download LocalImageURI is left empty (the Image Ready alert still names the local URI)",
        ["GWMO-002-C-M"]
    ),
    fault!(
        Client,
        "gw12-image-ready-early",
        "the Image Ready alert is sent before the image is downloaded (the download follows it)",
        ["GWMO-003-C-M"]
    ),
    fault!(
        Client,
        "gw12-wrong-local-uri",
        "the Image Ready alert names a LocalImageURI other than the one the node holds",
        ["GWMO-003-C-M"]
    ),
    fault!(
        Client,
        "gw12-local-uri-not-served",
        "the gateway-local download server answers 404 at the LocalImageURI",
        ["GWMO-004-C-M"]
    ),
    fault!(
        Client,
        "gw12-fanout-no-202",
        "an Exec of a Fanout job's Operations/Start is answered 200, not 202, though the fan-out runs after the session",
        ["GWMO-005-C-M"]
    ),
    fault!(
        Client,
        "gw12-other-group",
        "the fan-out also reaches the members of every other group, and reports their results",
        ["GWMO-006-C-M"]
    ),
    fault!(
        Client,
        "gw12-commands-altered",
        "the End Devices get the DMCommands without the last command (one command: with an extra Exec)",
        ["GWMO-007-C-M"]
    ),
    fault!(
        Client,
        "gw12-missing-device",
        "the aggregated results leave the last member of the group out",
        ["GWMO-008-C-M"]
    ),
    fault!(Client, "gw12-no-alert", "no Fanout alert (aggregate) is sent after the fan-out", ["GWMO-008-C-M"]),
    fault!(
        Client,
        "gw12-failed-as-success",
        "a device that did not answer, or answered with errors, is reported with a DevResultXML of successes",
        ["GWMO-009-C-M"]
    ),
];

/// What the gateway holds besides its tree (cleared by `reset`).
#[derive(Default)]
pub struct GatewayState {
    attached: Option<Attached>,
    /// Images held for the End Devices: name → bytes.
    images: BTreeMap<String, Arc<Vec<u8>>>,
    /// End Devices a fan-out waits for.
    waiting: HashMap<String, Pending>,
    notification_id: u16,
}

struct Pending {
    commands: Arc<Vec<Command>>,
    /// The gateway's messages so far in the device's session.
    sent: u32,
    /// The device's answer (its Status/Results as a fragment).
    result: Option<tokio::sync::oneshot::Sender<String>>,
}

/// Work an Exec of a GwMO operation node leaves for after the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// `announce`: send the Image Ready alert once the image is held (false: it went before,
    /// the fault `gw12-image-ready-early`).
    Download { img: String, exec_uri: String, correlator: Option<String>, announce: bool },
    /// `fanout_uri`: the instance's URI as the server wrote it.
    Fanout { fo: String, fanout_uri: String, exec_uri: String, correlator: Option<String> },
}

/// The GwMO roots of the provisioned tree.
pub fn provision(t: &mut Tree) {
    for p in [ROOT, IMAGES, FANOUTS, "GWMO/Config", GROUPS, DEVICES] {
        t.insert(p, Node::interior().permanent());
    }
}

/// The instance (`GWMO/ImageInventory/<img>` or `GWMO/Fanout/<fo>`) a path lies in.
fn instance_of(path: &str) -> Option<(&'static str, &str)> {
    for root in [IMAGES, FANOUTS] {
        if let Some(rest) = path.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
            let name = rest.split('/').next().unwrap_or_default();
            if !name.is_empty() {
                return Some((root, &path[..root.len() + 1 + name.len()]));
            }
        }
    }
    None
}

/// A write or Exec below an image or Fanout instance that does not exist yet creates it with
/// its nodes (the gateway accepts any instance name).
pub fn prepare(t: &mut Tree, path: &str) {
    let Some((root, inst)) = instance_of(path) else { return };
    if t.get(inst).is_some() {
        return;
    }
    let leaf = |format: &str| Node { format: format.into(), ..Node::leaf("") };
    let exec = || Node { executable: true, ..Node::interior() };
    t.insert(inst, Node::interior());
    t.insert(&format!("{inst}/Operations"), Node::interior());
    if root == IMAGES {
        t.insert(&format!("{inst}/ImageURI"), leaf("chr"));
        t.insert(&format!("{inst}/LocalImageURI"), leaf("chr"));
        t.insert(&format!("{inst}/{DOWNLOAD}"), exec());
    } else {
        t.insert(&format!("{inst}/DMCommands"), leaf("xml"));
        t.insert(&format!("{inst}/TargetGroupRef"), leaf("chr"));
        t.insert(&format!("{inst}/{START}"), exec());
        t.insert(&format!("{inst}/{}", gwmo::RESULTS), Node::interior());
    }
}

/// Whether an Exec of `path` (URI `uri`) starts a GwMO operation.
pub fn exec(path: &str, uri: &str, correlator: Option<&str>) -> Option<Job> {
    let (root, inst) = instance_of(path)?;
    let correlator = correlator.map(str::to_string);
    match (root, path.strip_prefix(inst)?.trim_start_matches('/')) {
        (IMAGES, DOWNLOAD) => {
            Some(Job::Download { img: inst.to_string(), exec_uri: uri.into(), correlator, announce: true })
        }
        (FANOUTS, START) => Some(Job::Fanout {
            fo: inst.to_string(),
            fanout_uri: uri.strip_suffix(START).unwrap_or(uri).to_string(),
            exec_uri: uri.into(),
            correlator,
        }),
        _ => None,
    }
}

/// The Status of an accepted GwMO Exec: 202, the work runs after the session.
pub fn accepted_code(job: &Job, faults: &Faults) -> u16 {
    let synchronous = match job {
        Job::Download { .. } => faults.has("gw12-download-no-202"),
        Job::Fanout { .. } => faults.has("gw12-fanout-no-202"),
    };
    if synchronous {
        200
    } else {
        202
    }
}

fn value(t: &Tree, path: &str) -> String {
    t.get(path)
        .and_then(|n| n.value.as_ref())
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
        .unwrap_or_default()
}

fn set(t: &mut Tree, path: &str, v: &str, format: &str) {
    t.insert(path, Node { format: format.into(), ..Node::leaf(v) });
}

/// The image's name at the local download server: the instance name, URL-safe.
fn image_name(img: &str) -> String {
    let n: String = img
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    if n.is_empty() {
        "image".into()
    } else {
        n
    }
}

fn local_uri(sh: &Shared, img: &str) -> String {
    format!("{}{IMG_PATH}{}", sh.base, image_name(img))
}

fn image_ready(sh: &Shared, img: &str, exec_uri: &str, correlator: Option<String>) -> GenericAlert {
    let mut local = local_uri(sh, img);
    if sh.faults.has("gw12-wrong-local-uri") {
        local.push_str("-stale");
    }
    GenericAlert {
        r#type: Profile::default().gwmo_alert_type_image_ready,
        format: "chr".into(),
        data: local,
        source: Some(match sh.cfg.variant.instance_source {
            true => exec_uri.strip_suffix(DOWNLOAD).unwrap_or(exec_uri).to_string(),
            false => exec_uri.to_string(),
        }),
        target: None,
        correlator,
        mark: None,
        items: Vec::new(),
    }
}

/// Queues the work of the GwMO Execs a session accepted (after it is over); their alerts'
/// sessions use that session's `encoding`.
pub(super) fn queue(sh: &Shared, jobs: Vec<Job>, encoding: Encoding) {
    for job in jobs {
        match job {
            Job::Download { img, exec_uri, correlator, .. } if sh.faults.has("gw12-image-ready-early") => {
                // The fault: the alert goes before the image is downloaded.
                let alert = image_ready(sh, &img, &exec_uri, correlator.clone());
                sh.enqueue(WorkerJob::ClientInitiated { alerts: vec![alert], encoding: Some(encoding) });
                let job = Job::Download { img, exec_uri, correlator, announce: false };
                sh.enqueue(WorkerJob::Gateway { job, encoding });
            }
            job => sh.enqueue(WorkerJob::Gateway { job, encoding }),
        }
    }
}

/// Runs one GwMO job (on the session worker); its alert is queued as a new session.
pub(super) async fn run(sh: &Arc<Shared>, job: Job, encoding: Encoding) {
    let alert = match job {
        Job::Download { img, exec_uri, correlator, announce } => {
            download(sh, &img, &exec_uri, correlator, announce).await
        }
        Job::Fanout { fo, fanout_uri, exec_uri: _, correlator } => fanout(sh, &fo, &fanout_uri, correlator).await,
    };
    if let Some(alert) = alert {
        sh.enqueue(WorkerJob::ClientInitiated { alerts: vec![alert], encoding: Some(encoding) });
    }
}

/// Seed 000 steps 2-4: download ImageURI, keep the image, set LocalImageURI, Image Ready.
async fn download(
    sh: &Arc<Shared>,
    img: &str,
    exec_uri: &str,
    correlator: Option<String>,
    announce: bool,
) -> Option<GenericAlert> {
    let url = value(&sh.lock().tree, &format!("{img}/ImageURI"));
    let failed = |why: String| {
        sh.log(why);
        None
    };
    if url.is_empty() {
        return failed(format!("{img}: Exec Download without an ImageURI"));
    }
    let bytes = match sh.http.get(&url).send().await {
        Ok(r) if r.status().is_success() => match crate::peers::http::read_limited(r, MAX_BODY).await {
            Ok(l) => l.bytes,
            Err(e) => return failed(format!("downloading {url}: {e}")),
        },
        Ok(r) => return failed(format!("downloading {url}: HTTP {}", r.status())),
        Err(e) => return failed(format!("downloading {url}: {e}")),
    };
    let local = local_uri(sh, img);
    sh.log(format!("downloaded {url}: {} bytes, served at {local}", bytes.len()));
    {
        let mut st = sh.lock();
        st.gateway.images.insert(image_name(img), Arc::new(bytes.to_vec()));
        let shown = if sh.faults.has("gw12-local-uri-unset") { "" } else { local.as_str() };
        set(&mut st.tree, &format!("{img}/LocalImageURI"), shown, "chr");
    }
    announce.then(|| image_ready(sh, img, exec_uri, correlator))
}

/// Seed 003 steps 3-7: the DMCommands to every member of the group, every answer collected,
/// the Results nodes written and the aggregate sent.
async fn fanout(sh: &Arc<Shared>, fo: &str, fanout_uri: &str, correlator: Option<String>) -> Option<GenericAlert> {
    let f = &sh.faults;
    let (text, group, attached) = {
        let st = sh.lock();
        (
            value(&st.tree, &format!("{fo}/DMCommands")),
            value(&st.tree, &format!("{fo}/TargetGroupRef")),
            st.gateway.attached.clone(),
        )
    };
    let commands = match gwmo::parse_dm_commands(&text) {
        Ok(c) => c,
        Err(e) => {
            sh.log(format!("{fo}/DMCommands: {e}"));
            return None;
        }
    };
    let Some(attached) = attached else {
        sh.log("fan-out before gateway.attach: no End Devices".into());
        return None;
    };
    let members = members::members(&attached.groups, Some(&group), f.has("gw12-other-group"));
    let mut sent = commands.clone();
    if f.has("gw12-commands-altered") {
        if sent.len() > 1 {
            sent.pop();
        } else if let Some(uri) = sent.first().and_then(first_target) {
            sent.push(Command::Exec(crate::wire::dm12::Exec {
                items: vec![Item { target: Some(LocRef::uri(uri)), ..Item::default() }],
                ..Default::default()
            }));
        }
    }
    let sent = Arc::new(sent);
    let base = attached.notify_base.clone();
    let mut results: Vec<(String, Option<String>)> = members::windowed(&members, FANOUT_WINDOW, |id| {
        let (sh, sent, base) = (sh.clone(), sent.clone(), base.clone());
        async move { one_device(&sh, id, sent, &base).await }
    })
    .await;
    if f.has("gw12-missing-device") {
        results.pop();
    }
    if sh.cfg.variant.reverse_results {
        results.reverse();
    }
    if f.has("gw12-failed-as-success") {
        let all_ok = success_fragment(&commands);
        for r in results.iter_mut() {
            let parsed = r.1.as_deref().map(|x| gwmo::parse_dm_commands(x).map_err(|e| e.to_string()));
            let dr = DeviceResult { device_id: r.0.clone(), dev_result_xml: r.1.clone(), dev_result: parsed };
            if !dr.succeeded() {
                r.1 = Some(all_ok.clone());
            }
        }
    }
    let failed = results.iter().filter(|r| r.1.is_none()).count();
    sh.log(format!("fan-out {fo}: {} devices, {failed} without an answer", results.len()));
    {
        let mut st = sh.lock();
        for (n, (id, xml)) in results.iter().enumerate() {
            let r = format!("{fo}/{}/{}", gwmo::RESULTS, n + 1);
            st.tree.insert(&r, Node::interior());
            set(&mut st.tree, &format!("{r}/{}", gwmo::DEVICE_ID), id, "chr");
            if let Some(x) = xml {
                set(&mut st.tree, &format!("{r}/{}", gwmo::DEV_RESULT_XML), x, "xml");
            }
        }
    }
    if f.has("gw12-no-alert") {
        return None;
    }
    let alert_type = Profile::default().gwmo_alert_type_aggregation;
    let items = gwmo::aggregate_items(fanout_uri, &alert_type, &results);
    Some(GenericAlert {
        r#type: alert_type,
        format: "xml".into(),
        data: String::new(),
        source: None,
        target: None,
        correlator,
        mark: None,
        items,
    })
}

fn first_target(c: &Command) -> Option<String> {
    let items = match c {
        Command::Add(x) | Command::Copy(x) | Command::Delete(x) | Command::Get(x) | Command::Replace(x) => &x.items,
        Command::Exec(x) => &x.items,
        _ => return None,
    };
    items.first().and_then(|i| i.target.as_ref()).map(|t| t.loc_uri.clone())
}

/// The fault `gw12-failed-as-success`: a Status 200 for each command.
fn success_fragment(commands: &[Command]) -> String {
    let statuses: Vec<Command> = all_commands(commands)
        .iter()
        .enumerate()
        .map(|(n, c)| {
            Command::Status(Status {
                cmd_id: (n + 1).to_string(),
                msg_ref: "1".into(),
                cmd_ref: c.cmd_id().unwrap_or_default().to_string(),
                cmd: c.name().to_string(),
                data: "200".into(),
                ..Status::default()
            })
        })
        .collect();
    gwmo::fragment_xml(&statuses).unwrap_or_default()
}

/// Notifies one End Device and waits for its answer: (DeviceID, DevResultXML if it answered).
async fn one_device(sh: &Arc<Shared>, id: String, commands: Arc<Vec<Command>>, base: &str) -> (String, Option<String>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let nid = {
        let mut st = sh.lock();
        let g = &mut st.gateway;
        g.notification_id = g.notification_id.wrapping_add(1).max(1);
        g.waiting.insert(id.clone(), Pending { commands, sent: 0, result: Some(tx) });
        g.notification_id
    };
    let trigger = Trigger {
        version: VERSION_1_1,
        ui_mode: UiMode::NotSpecified,
        server_initiated: true,
        session_id: nid,
        server_id: SERVER_ID.into(),
        vendor: Vec::new(),
    };
    let bytes = notification::encode(&trigger, NOTIFICATION_PASSWORD, &[]).unwrap_or_default();
    let url = format!("{base}/{id}");
    let out = members::notify_and_wait(&sh.http, &url, MEDIA_NOTIFICATION, bytes, DEVICE_TIMEOUT, rx).await;
    sh.lock().gateway.waiting.remove(&id);
    if let Err(e) = &out {
        sh.log(format!("End Device {id}: {e}"));
    }
    (id, out.ok())
}

/// `gateway.attach`: the groups, written into Gateway Config and Device Inventory.
pub(super) fn attach(sh: &Shared, args: &Value) -> UtAnswer {
    let attached = match Attached::parse(args) {
        Ok(a) => a,
        Err(e) => return UtAnswer::failed(e),
    };
    let total = attached.total();
    let mut st = sh.lock();
    for g in &attached.groups {
        set(&mut st.tree, &format!("{GROUPS}/{}/DeviceIDs", g.name), &g.ids.join(","), "chr");
        for id in &g.ids {
            set(&mut st.tree, &format!("{DEVICES}/{id}/DeviceID"), id, "chr");
        }
    }
    st.gateway.attached = Some(attached);
    UtAnswer::done(json!({ "dm_url": format!("{}{DM_PATH}", sh.base), "devices": total }))
}

/// The southbound DM server and the local download server.
pub(super) fn router(sh: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route(DM_PATH, axum::routing::post(handle_dm))
        .route(&format!("{IMG_PATH}{{name}}"), axum::routing::get(handle_img))
        .with_state(sh)
}

async fn handle_img(AxState(sh): AxState<Arc<Shared>>, Path(name): Path<String>) -> Response {
    if sh.faults.has("gw12-local-uri-not-served") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let img = sh.lock().gateway.images.get(&name).cloned();
    match img {
        Some(bytes) => ([("content-type", "application/octet-stream")], bytes.as_ref().clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn renumber(cmds: &mut [Command], next: &mut u32) {
    for c in cmds {
        c.set_cmd_id(next.to_string());
        *next += 1;
        if let Command::Atomic(x) | Command::Sequence(x) = c {
            renumber(&mut x.commands, next);
        }
    }
}

fn status_of(msg_ref: &str, c: &Command) -> Command {
    Command::Status(Status {
        msg_ref: msg_ref.into(),
        cmd_ref: c.cmd_id().unwrap_or_default().into(),
        cmd: c.name().into(),
        data: "200".into(),
        ..Status::default()
    })
}

/// An End Device's message: its Package#1 gets the DMCommands, its answer to them is
/// collected; either way every command of it gets a Status (200).
async fn handle_dm(AxState(sh): AxState<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(MEDIA_XML).to_string();
    let msg = match crate::wire::dm12::decode(&body, &ct) {
        Ok(m) => m,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("400: not a SyncML DM 1.2 message: {e}")).into_response(),
    };
    let id = msg.hdr.source.loc_uri.clone();
    let msg_ref = msg.hdr.msg_id.clone();
    let opens =
        msg.body.commands.iter().any(
            |c| matches!(c, Command::Alert(a) if matches!(a.data.as_deref().map(str::trim), Some("1200" | "1201"))),
        );
    let mut out = vec![Command::Status(Status {
        msg_ref: msg_ref.clone(),
        cmd_ref: "0".into(),
        cmd: "SyncHdr".into(),
        target_refs: vec![msg.hdr.target.loc_uri.clone()],
        source_refs: vec![id.clone()],
        data: "200".into(),
        ..Status::default()
    })];
    out.extend(
        msg.body
            .commands
            .iter()
            .filter(|c| !matches!(c, Command::Status(_) | Command::Results(_)))
            .map(|c| status_of(&msg_ref, c)),
    );
    let msg_id = {
        let mut st = sh.lock();
        match st.gateway.waiting.get_mut(&id) {
            Some(p) => {
                p.sent += 1;
                if opens {
                    out.extend(p.commands.iter().cloned());
                } else if let Some(tx) = p.result.take() {
                    // The device's answer: the Status/Results of its message, as sent.
                    let answer: Vec<Command> = msg
                        .body
                        .commands
                        .iter()
                        .filter(|c| matches!(c, Command::Status(_) | Command::Results(_)))
                        .cloned()
                        .collect();
                    let _ = tx.send(gwmo::fragment_xml(&answer).unwrap_or_default());
                }
                p.sent
            }
            None => 1,
        }
    };
    let mut next = 1;
    renumber(&mut out, &mut next);
    let reply = Message {
        hdr: SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: msg.hdr.session_id.clone(),
            msg_id: msg_id.to_string(),
            target: LocRef::uri(id),
            source: LocRef::uri(format!("{}{DM_PATH}", sh.base)),
            ..SyncHdr::default()
        },
        body: SyncBody { commands: out, r#final: true },
    };
    let wbxml = crate::wire::media::media_type_of(&ct) == MEDIA_WBXML;
    let encoded = if wbxml { reply.to_wbxml() } else { reply.to_xml(false).map(String::into_bytes) };
    match encoded {
        Ok(b) => ([("content-type", if wbxml { MEDIA_WBXML } else { MEDIA_XML })], b).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("500: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        let mut t = super::super::tree::for_tests();
        provision(&mut t);
        t
    }

    #[test]
    fn any_image_or_fanout_instance_is_created_by_a_write_below_it() {
        let mut t = tree();
        prepare(&mut t, "GWMO/ImageInventory/fw-pack/ImageURI");
        assert!(t.get("GWMO/ImageInventory/fw-pack/LocalImageURI").is_some());
        assert!(t.get("GWMO/ImageInventory/fw-pack/Operations/Download").is_some_and(|n| n.executable));
        prepare(&mut t, "GWMO/Fanout/c7/DMCommands");
        assert_eq!(t.get("GWMO/Fanout/c7/DMCommands").map(|n| n.format.as_str()), Some("xml"));
        assert!(t.get("GWMO/Fanout/c7/Operations/Start").is_some_and(|n| n.executable));
        // Not below an instance: nothing is created.
        prepare(&mut t, "GWMO/Fanout");
        prepare(&mut t, "dmcts/Other");
        assert!(t.get("dmcts/Other").is_none());
    }

    #[test]
    fn the_operation_nodes_start_the_gateways_work() {
        let d = exec(
            "GWMO/ImageInventory/img1/Operations/Download",
            "./GWMO/ImageInventory/img1/Operations/Download",
            Some("c"),
        );
        assert_eq!(
            d,
            Some(Job::Download {
                img: "GWMO/ImageInventory/img1".into(),
                exec_uri: "./GWMO/ImageInventory/img1/Operations/Download".into(),
                correlator: Some("c".into()),
                announce: true
            })
        );
        let f = exec("GWMO/Fanout/fo1/Operations/Start", "./GWMO/Fanout/fo1/Operations/Start", None).unwrap();
        assert!(matches!(f, Job::Fanout { ref fanout_uri, .. } if fanout_uri == "./GWMO/Fanout/fo1/"));
        assert_eq!(exec("GWMO/Fanout/fo1/Operations/Download", "x", None), None);
        assert_eq!(exec("FUMO/Update", "./FUMO/Update", None), None);
    }

    #[test]
    fn forwarded_commands_are_renumbered_through_containers() {
        let a: Vec<Vec<String>> =
            [vec!["Sequence", "2"], vec!["Get", "./a"], vec!["Exec", "./b"], vec!["Delete", "./c"]]
                .iter()
                .map(|c| c.iter().map(|s| s.to_string()).collect())
                .collect();
        let mut cmds =
            crate::wire::dm12::commands::from_arrays(&a, &mut crate::wire::dm12::commands::CmdIds::starting_at(7))
                .unwrap();
        let mut next = 3;
        renumber(&mut cmds, &mut next);
        let ids: Vec<&str> = all_commands(&cmds).iter().filter_map(|c| c.cmd_id()).collect();
        assert_eq!(ids, ["3", "4", "5", "6"]);
        assert_eq!(image_name("GWMO/ImageInventory/fw pack"), "fw_pack");
    }
}
