//! The gateway's DM client side: sessions with its DM server, the commands on its GwMO MOs, and
//! the work an EXEC starts after the session (the image download, the fan-out), each ending in
//! its alert in a new session.
use super::{southbound, Busy, Job, Shared};
use crate::wire::dm2::gwmo::{
    self, DeviceResult, MOID_DEVICE_INVENTORY, MOID_FANOUT, MOID_GATEWAY_CONFIG, MOID_IMAGE_INVENTORY,
};
use crate::wire::dm2::{
    Command, GenericAlert, Package2, ALERT_CLIENT_INITIATED, HEADER_DEVID, MEDIA_PACKAGE1, MEDIA_PACKAGE3,
};
use serde_json::{json, Value};
use std::sync::Arc;

const MAX_ROUNDS: usize = 32;
const MAX_BODY: usize = 64 << 20;
const DOWNLOAD: &str = "Operations/Download";
const START: &str = "Operations/Start";

/// One session with the DM server at `url`, its Package#1 carrying ClientInitiatedMgmt and
/// `alerts`; the work its EXECs started runs once it is over.
pub(super) fn session(
    sh: &Arc<Shared>,
    url: &str,
    alerts: Vec<GenericAlert>,
) -> futures::future::BoxFuture<'static, ()> {
    // Boxed: a session's EXECs start work that opens sessions of its own.
    let (sh, url) = (sh.clone(), url.to_string());
    Box::pin(async move { session_inner(&sh, &url, alerts).await })
}

async fn session_inner(sh: &Arc<Shared>, url: &str, alerts: Vec<GenericAlert>) {
    let mut all = vec![GenericAlert::new(ALERT_CLIENT_INITIATED)];
    all.extend(alerts);
    let mut body = json!({ "Alert": all }).to_string();
    let mut media = MEDIA_PACKAGE1;
    let mut target = url.to_string();
    let mut jobs = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let resp = sh
            .http
            .post(&target)
            .header("content-type", media)
            .header(HEADER_DEVID, &sh.cfg.dev_id)
            .body(body.clone())
            .send()
            .await;
        let bytes = match resp {
            Ok(r) if r.status().as_u16() == 200 => match r.bytes().await {
                Ok(b) => b,
                Err(e) => return sh.log(format!("session aborted: reading the Package#2: {e}")),
            },
            Ok(r) => return sh.log(format!("session aborted: the server answered {}", r.status())),
            Err(e) => return sh.log(format!("session aborted: POST {target}: {e}")),
        };
        let p2 = match Package2::parse(&bytes) {
            Ok(p) => p,
            Err(e) => return sh.log(format!("session aborted: not a Package#2: {e:?}")),
        };
        let mut statuses = Vec::new();
        let mut ended = false;
        for cmd in p2.cmd {
            let sc = match &cmd {
                Command::End => {
                    ended = true;
                    break;
                }
                Command::Cont { server_uri } => {
                    target = server_uri.clone();
                    200
                }
                other => execute(sh, other, &mut jobs).await,
            };
            statuses.push(json!({ "sc": sc }));
        }
        if ended {
            break;
        }
        body = json!({ "Status": statuses }).to_string();
        media = MEDIA_PACKAGE3;
    }
    for job in jobs {
        let busy = Busy::new(sh);
        tokio::spawn(async move {
            run_job(&busy.0, job).await;
            drop(busy);
        });
    }
}

fn is_gwmo(uri: &str) -> bool {
    [MOID_IMAGE_INVENTORY, MOID_FANOUT, MOID_GATEWAY_CONFIG, MOID_DEVICE_INVENTORY].iter().any(|m| uri.starts_with(m))
}

fn last_segment(uri: &str) -> &str {
    let uri = uri.split('?').next().unwrap_or(uri).trim_end_matches('/');
    uri.rsplit('/').next().unwrap_or(uri)
}

async fn execute(sh: &Arc<Shared>, cmd: &Command, jobs: &mut Vec<Job>) -> u16 {
    match cmd {
        Command::Hget { server_uri, client_uri: Some(client_uri) } => hget(sh, server_uri, client_uri).await,
        Command::Hget { .. } => 501,
        Command::Hput { server_uri, client_uris } => hput(sh, server_uri, client_uris).await,
        Command::Delete { client_uri } => {
            sh.lock().tree.retain(|k, _| !k.starts_with(client_uri.as_str()));
            200
        }
        Command::Exec { client_uri, server_uri } => {
            let f = &sh.faults;
            if let Some(img) = client_uri.strip_suffix(DOWNLOAD).filter(|i| i.starts_with(MOID_IMAGE_INVENTORY)) {
                jobs.push(Job::Download {
                    img: img.to_string(),
                    exec: client_uri.clone(),
                    server_uri: server_uri.clone(),
                });
                if f.has("gw-download-no-202") {
                    200
                } else {
                    202
                }
            } else if let Some(fo) = client_uri.strip_suffix(START).filter(|i| i.starts_with(MOID_FANOUT)) {
                jobs.push(Job::Fanout { fo: fo.to_string(), exec: client_uri.clone(), server_uri: server_uri.clone() });
                if f.has("gw-fanout-no-202") {
                    200
                } else {
                    202
                }
            } else {
                405
            }
        }
        _ => 501,
    }
}

async fn hget(sh: &Arc<Shared>, server_uri: &str, client_uri: &str) -> u16 {
    if !is_gwmo(client_uri) {
        return 404;
    }
    let resp = match sh.http.get(server_uri).send().await {
        Ok(r) => r,
        Err(_) => return 500,
    };
    let st = resp.status().as_u16();
    if !(200..300).contains(&st) {
        return st;
    }
    let Ok(limited) = crate::peers::http::read_limited(resp, MAX_BODY).await else { return 500 };
    let Ok(doc) = serde_json::from_slice::<Value>(&limited.bytes) else { return 400 };
    // MO serialization: the first element's MOData, keyed by the node's name, or bare.
    let Some(data) = doc.as_array().and_then(|a| a.first()).and_then(|e| e.get("MOData")) else { return 400 };
    let leaf = last_segment(client_uri);
    let value = data.get(leaf).cloned().unwrap_or_else(|| data.clone());
    sh.log(format!("HGET {client_uri} = {}", value.to_string().chars().take(200).collect::<String>()));
    sh.lock().tree.insert(client_uri.to_string(), value);
    200
}

/// The value of a node: stored, or (Gateway Config, Device Inventory) derived from the groups.
fn node_value(sh: &Shared, uri: &str) -> Option<Value> {
    let st = sh.lock();
    if let Some(v) = st.tree.get(uri) {
        return Some(v.clone());
    }
    if uri.starts_with(MOID_GATEWAY_CONFIG) && uri.ends_with("/DeviceIDs") {
        let name = uri.trim_end_matches("/DeviceIDs").rsplit('/').next()?;
        return st.groups.iter().find(|g| g.name == name).map(|g| json!(g.ids));
    }
    if uri.starts_with(MOID_DEVICE_INVENTORY) && uri.ends_with("/DeviceID") {
        let id = uri.trim_end_matches("/DeviceID").rsplit('/').next()?;
        return st.groups.iter().any(|g| g.ids.iter().any(|i| i == id)).then(|| json!(id));
    }
    None
}

async fn hput(sh: &Arc<Shared>, server_uri: &str, client_uris: &[String]) -> u16 {
    let mut items = Vec::new();
    for uri in client_uris {
        let Some(v) = node_value(sh, uri) else { return 404 };
        let mut data = serde_json::Map::new();
        data.insert(last_segment(uri).to_string(), v);
        items.push(json!({ "ClientURI": uri, "MOData": data }));
    }
    let body = Value::Array(items).to_string();
    match sh.http.put(server_uri).header("content-type", &sh.cfg.profile.mo_media_type).body(body).send().await {
        Ok(r) if r.status().is_success() => 200,
        Ok(r) => r.status().as_u16(),
        Err(_) => 500,
    }
}

async fn run_job(sh: &Arc<Shared>, job: Job) {
    match job {
        Job::Download { img, exec, server_uri } => download(sh, &img, &exec, server_uri).await,
        Job::Fanout { fo, exec, server_uri } => fanout(sh, &fo, &exec, server_uri).await,
    }
}

fn image_name(img: &str) -> String {
    let n: String =
        last_segment(img).chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if n.is_empty() {
        "image".into()
    } else {
        n
    }
}

/// Seed 000 steps 2-4: download ImageURI, keep the image, set LocalImageURI, send Image Ready.
async fn download(sh: &Arc<Shared>, img: &str, exec: &str, server_uri: Option<String>) {
    let to = server_uri.unwrap_or_else(|| sh.cfg.server_url.clone());
    let Some(url) = node_value(sh, &format!("{img}ImageURI")).and_then(|v| v.as_str().map(str::to_string)) else {
        return sh.lock().errors.push(format!("{img}: EXEC Download without an ImageURI"));
    };
    let name = image_name(img);
    let local = format!("{}{}{name}", sh.base, southbound::IMG_PATH);
    let announced = if sh.faults.has("gw-wrong-local-uri") { format!("{local}-stale") } else { local.clone() };
    let v = &sh.cfg.variant;
    let mut alert = GenericAlert::new(sh.cfg.profile.gwmo_alert_type_image_ready.clone());
    alert.source_uri = Some(if v.instance_source { img.to_string() } else { exec.to_string() });
    alert.mark = Some("informational".into());
    alert.data_type = Some("chr".into());
    alert.data = Some(json!({ gwmo::IMAGE_READY_MEMBER: announced }));
    let early = sh.faults.has("gw-image-ready-early");
    if early {
        session(sh, &to, vec![alert.clone()]).await;
    }
    let bytes = match sh.http.get(&url).send().await {
        Ok(r) if r.status().is_success() => match crate::peers::http::read_limited(r, MAX_BODY).await {
            Ok(l) => l.bytes,
            Err(e) => return sh.lock().errors.push(format!("downloading {url}: {e}")),
        },
        Ok(r) => return sh.lock().errors.push(format!("downloading {url}: HTTP {}", r.status())),
        Err(e) => return sh.lock().errors.push(format!("downloading {url}: {e}")),
    };
    sh.log(format!("downloaded {url}: {} bytes, served at {local}", bytes.len()));
    {
        let mut st = sh.lock();
        st.images.insert(name, Arc::new(bytes.to_vec()));
        if !sh.faults.has("gw-local-uri-unset") {
            st.tree.insert(format!("{img}LocalImageURI"), json!(local));
        } else {
            st.tree.insert(format!("{img}LocalImageURI"), json!(""));
        }
    }
    if !early {
        session(sh, &to, vec![alert]).await;
    }
}

/// Seed 003 steps 3-7: fan the DMCommands out to the group, collect every response, send the
/// aggregate.
async fn fanout(sh: &Arc<Shared>, fo: &str, exec: &str, server_uri: Option<String>) {
    let to = server_uri.unwrap_or_else(|| sh.cfg.server_url.clone());
    let f = &sh.faults;
    let commands =
        match node_value(sh, &format!("{fo}DMCommands")).map(|v| gwmo::parse_dm_commands(&v, &sh.cfg.profile)) {
            Some(Ok(c)) => c,
            Some(Err(e)) => return sh.lock().errors.push(format!("{fo}DMCommands: {e:?}")),
            None => return sh.lock().errors.push(format!("{fo}: EXEC Start without DMCommands")),
        };
    let group = node_value(sh, &format!("{fo}TargetGroupRef")).and_then(|v| v.as_str().map(str::to_string));
    let members = super::members::members(&sh.lock().groups, group.as_deref(), f.has("gw-other-group"));
    let mut sent = commands.clone();
    if f.has("gw-commands-altered") {
        if sent.len() > 1 {
            sent.pop();
        } else if let Some(uri) = sent.first().and_then(|c| c.last()).cloned() {
            sent.push(vec!["EXEC".into(), uri]);
        }
    }
    let sent = Arc::new(sent);
    let mut results = southbound::fan_out(sh, &members, sent).await;
    if f.has("gw-missing-device") {
        results.pop();
    }
    if sh.cfg.variant.reverse_results {
        results.reverse();
    }
    if f.has("gw-failed-as-success") {
        for r in results.iter_mut().filter(|r| !r.succeeded()) {
            let st: Vec<Value> = commands.iter().map(|_| json!({ "sc": 200 })).collect();
            *r =
                DeviceResult { device_id: r.device_id.clone(), dev_result: Some(json!({ "Status": st })), error: None };
        }
    }
    let data = gwmo::aggregate_data(&results);
    let failed = results.iter().filter(|r| !r.succeeded()).count();
    sh.log(format!("fan-out {fo}: {} devices, {failed} failed", results.len()));
    sh.lock().tree.insert(format!("{fo}Results"), data.clone());
    if f.has("gw-no-alert") {
        return;
    }
    let mut alert = GenericAlert::new(sh.cfg.profile.gwmo_alert_type_aggregation.clone());
    alert.source_uri = Some(if sh.cfg.variant.instance_source { fo.to_string() } else { exec.to_string() });
    alert.mark = Some(if failed == 0 { "informational" } else { "critical" }.into());
    alert.data_type = Some("json".into());
    alert.data = Some(data);
    session(sh, &to, vec![alert]).await;
}
