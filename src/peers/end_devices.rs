//! The suite's simulated End Devices behind a DM Gateway IUT (GwMO, docs/gwmo.md): N DM 2.0
//! clients in one process, cheap enough for 10,000. One loopback listener takes every device's
//! notifications (`POST <base>/ed/<DeviceID>`, a Package#0); per-device state is one compact
//! slot in a table, and a device has a task only while its session runs (none while idle).
//!
//! A notified device opens a session with the gateway's southbound DM server (the URL the
//! gateway's upper tester named in `gateway.attach`): Package#1 with ServerInitiatedMgmt, then
//! it executes the Package#2 commands and answers them in a Package#3, until END. An HGET is
//! carried out (its ServerURI fetched, e.g. a gateway-local LocalImageURI; length and SHA-256
//! recorded); any other command succeeds (200). What reached each device is recorded so checks
//! can judge the fan-out device by device ([`EndDevices::log_json`]).
//!
//! Partial failures are per-device behaviours: `silent` (never opens the session), `erroring`
//! (answers every command 500, fetches nothing) and `slow` (opens its session `slow_ms` late).
use crate::wire::dm2::{Command, Package2, HEADER_DEVID, MEDIA_PACKAGE1, MEDIA_PACKAGE3};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Path prefix of the notification endpoint: `<base>/ed/<DeviceID>`.
pub const NOTIFY_PREFIX: &str = "/ed/";
/// At most this many Package#2s per session (a gateway that never ends it is cut off).
const MAX_ROUNDS: usize = 16;
/// The most a device reads of a download.
const MAX_DOWNLOAD: u64 = 64 << 20;

/// How one simulated device behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// Opens the session, executes the commands, answers them.
    Answer,
    /// Takes the notification and never opens a session.
    Silent,
    /// Opens the session and answers every command 500 (fetches nothing).
    Erroring,
    /// As `answer`, `slow_ms` late.
    Slow,
}

/// One device group the gateway is told about (`gateway.attach`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: String,
    /// DeviceIDs are `<id_prefix><n>`, n = 00001 … count (five digits at least).
    pub id_prefix: String,
    pub count: usize,
    /// The first devices of the group that never answer, then those that answer 500, then the
    /// slow ones.
    #[serde(default)]
    pub silent: usize,
    #[serde(default)]
    pub erroring: usize,
    #[serde(default)]
    pub slow: usize,
}

/// The simulated devices of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndDevicesConfig {
    pub groups: Vec<GroupSpec>,
    /// How late a slow device opens its session.
    #[serde(default = "default_slow_ms")]
    pub slow_ms: u64,
    /// Bound of every HTTP exchange a device makes.
    #[serde(default = "default_http_ms")]
    pub http_timeout_ms: u64,
}

fn default_slow_ms() -> u64 {
    300
}
fn default_http_ms() -> u64 {
    10_000
}

/// The id of device `n` (1-based) of a group.
pub fn device_id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:05}")
}

/// One download a device made (an HGET's ServerURI).
#[derive(Debug, Clone, Serialize)]
pub struct Fetch {
    pub url: String,
    /// HTTP status, or 0 when the request failed.
    pub status: u16,
    pub bytes: u64,
    pub sha256: String,
}

/// What one device saw and did. Compact: no task, no buffer while it is idle.
#[derive(Debug, Clone, Serialize)]
struct Slot {
    id: String,
    group: u16,
    behaviour: Behaviour,
    notified: u32,
    sessions: u32,
    /// The commands of its sessions, END and CONT left out, as received.
    commands: Option<Vec<Vec<String>>>,
    statuses: Vec<u16>,
    fetches: Vec<Fetch>,
    errors: Vec<String>,
    /// A session ran to its END.
    done: bool,
}

struct Shared {
    cfg: EndDevicesConfig,
    slots: Mutex<Vec<Slot>>,
    index: HashMap<String, usize>,
    gateway: Mutex<Option<String>>,
    http: reqwest::Client,
    changed: tokio::sync::Notify,
}

impl Shared {
    fn slots(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running simulated devices.
pub struct EndDevices {
    shared: Arc<Shared>,
    pub addr: SocketAddr,
    /// `http://<addr>/ed`: a device's notification URL is `<notify_base>/<DeviceID>`.
    pub notify_base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl EndDevices {
    /// Binds one listener at `listen` (port 0: any) and sets the devices up, all idle.
    pub async fn spawn(listen: SocketAddr, cfg: EndDevicesConfig) -> anyhow::Result<EndDevices> {
        let mut slots = Vec::new();
        for (g, spec) in cfg.groups.iter().enumerate() {
            for n in 1..=spec.count {
                let k = n - 1;
                let behaviour = if k < spec.silent {
                    Behaviour::Silent
                } else if k < spec.silent + spec.erroring {
                    Behaviour::Erroring
                } else if k < spec.silent + spec.erroring + spec.slow {
                    Behaviour::Slow
                } else {
                    Behaviour::Answer
                };
                slots.push(Slot {
                    id: device_id(&spec.id_prefix, n),
                    group: g as u16,
                    behaviour,
                    notified: 0,
                    sessions: 0,
                    commands: None,
                    statuses: Vec::new(),
                    fetches: Vec::new(),
                    errors: Vec::new(),
                    done: false,
                });
            }
        }
        let index: HashMap<String, usize> = slots.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        if index.len() != slots.len() {
            anyhow::bail!("end devices: two groups give the same DeviceIDs (id_prefix must differ)");
        }
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(cfg.http_timeout_ms))
            .pool_max_idle_per_host(512)
            .build()?;
        let shared = Arc::new(Shared {
            cfg,
            slots: Mutex::new(slots),
            index,
            gateway: Mutex::new(None),
            http,
            changed: tokio::sync::Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().route("/ed/{id}", axum::routing::post(notified)).with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(EndDevices { shared, addr, notify_base: format!("http://{addr}/ed"), stop: Some(tx), task })
    }

    /// Where the devices open their sessions: the gateway's southbound DM server.
    pub fn set_gateway(&self, dm_url: &str) {
        *self.shared.gateway.lock().unwrap_or_else(|e| e.into_inner()) = Some(dm_url.to_string());
    }

    /// The arguments of `gateway.attach` (docs/upper-tester.md).
    pub fn attach_args(&self) -> Value {
        let groups: Vec<Value> = self
            .shared
            .cfg
            .groups
            .iter()
            .map(|g| json!({ "name": g.name, "id_prefix": g.id_prefix, "count": g.count }))
            .collect();
        json!({ "notify_base": self.notify_base, "groups": groups })
    }

    pub fn config(&self) -> &EndDevicesConfig {
        &self.shared.cfg
    }

    /// Waits (at most `within`) until every device of `group` that should answer (not silent)
    /// has ended a session; true if they all did.
    pub async fn wait_group_done(&self, group: &str, within: Duration) -> bool {
        let Some(g) = self.shared.cfg.groups.iter().position(|x| x.name == group) else { return false };
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let all = self
                .shared
                .slots()
                .iter()
                .filter(|s| s.group as usize == g && s.behaviour != Behaviour::Silent)
                .all(|s| s.done);
            if all {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    /// Counts: devices notified, sessions ended.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.shared.slots();
        (s.iter().filter(|x| x.notified > 0).count(), s.iter().filter(|x| x.done).count())
    }

    /// What reached every device, for the checks: `{groups: {name: {id_prefix, count}},
    /// devices: [{id, group, behaviour, notified, sessions, commands, statuses, fetches,
    /// errors, done}]}`.
    pub fn log_json(&self) -> Value {
        let groups: serde_json::Map<String, Value> = self
            .shared
            .cfg
            .groups
            .iter()
            .map(|g| (g.name.clone(), json!({ "id_prefix": g.id_prefix, "count": g.count })))
            .collect();
        let slots = self.shared.slots();
        let devices: Vec<Value> = slots
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                v["group"] = json!(self.shared.cfg.groups[s.group as usize].name);
                v
            })
            .collect();
        json!({ "groups": groups, "devices": devices })
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}

async fn notified(
    axum::extract::State(sh): axum::extract::State<Arc<Shared>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let Some(&i) = sh.index.get(&id) else { return axum::http::StatusCode::NOT_FOUND };
    let behaviour = {
        let mut slots = sh.slots();
        let s = &mut slots[i];
        s.notified += 1;
        if let Err(e) = crate::wire::dm2::Notification::decode(&body) {
            s.errors.push(format!("notification not a Package#0: {e}"));
        }
        s.behaviour
    };
    sh.changed.notify_waiters();
    if behaviour != Behaviour::Silent {
        tokio::spawn(session(sh.clone(), i));
    }
    axum::http::StatusCode::NO_CONTENT
}

fn record(sh: &Shared, i: usize, f: impl FnOnce(&mut Slot)) {
    f(&mut sh.slots()[i]);
    sh.changed.notify_waiters();
}

/// One device's session with the gateway, from Package#1 to END.
async fn session(sh: Arc<Shared>, i: usize) {
    let (id, behaviour) = {
        let s = &sh.slots()[i];
        (s.id.clone(), s.behaviour)
    };
    if behaviour == Behaviour::Slow {
        // The device's own delay (what is simulated), not a synchronisation.
        tokio::time::sleep(Duration::from_millis(sh.cfg.slow_ms)).await;
    }
    let Some(mut target) = sh.gateway.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
        return record(&sh, i, |s| s.errors.push("notified before the gateway's DM server URL was known".into()));
    };
    record(&sh, i, |s| s.sessions += 1);
    let mut body = json!({ "Alert": [{ "AlertType": crate::wire::dm2::ALERT_SERVER_INITIATED }] }).to_string();
    let mut media = MEDIA_PACKAGE1;
    for _ in 0..MAX_ROUNDS {
        let resp = sh
            .http
            .post(&target)
            .header("content-type", media)
            .header(HEADER_DEVID, &id)
            .body(body.clone())
            .send()
            .await;
        let bytes = match resp {
            Ok(r) if r.status().as_u16() == 200 => match r.bytes().await {
                Ok(b) => b,
                Err(e) => return record(&sh, i, |s| s.errors.push(format!("reading the Package#2: {e}"))),
            },
            Ok(r) => {
                let st = r.status().as_u16();
                return record(&sh, i, |s| s.errors.push(format!("the gateway answered {st}")));
            }
            Err(e) => return record(&sh, i, |s| s.errors.push(format!("POST {target}: {e}"))),
        };
        let p2 = match Package2::parse(&bytes) {
            Ok(p) => p,
            Err(e) => return record(&sh, i, |s| s.errors.push(format!("not a Package#2: {e:?}"))),
        };
        let mut statuses = Vec::new();
        let mut ended = false;
        let mut received = Vec::new();
        for cmd in &p2.cmd {
            match cmd {
                Command::End => {
                    ended = true;
                    break;
                }
                Command::Cont { server_uri } => {
                    target = server_uri.clone();
                    statuses.push(200);
                    continue;
                }
                _ => {}
            }
            received.push(cmd.to_array());
            let sc = match (behaviour, cmd) {
                (Behaviour::Erroring, _) => 500,
                (_, Command::Hget { server_uri, .. }) => {
                    let f = fetch(&sh.http, server_uri).await;
                    let sc = match f.status {
                        200..=299 => 200,
                        0 => 500,
                        other => other,
                    };
                    record(&sh, i, |s| s.fetches.push(f));
                    sc
                }
                _ => 200,
            };
            statuses.push(sc);
        }
        record(&sh, i, |s| {
            s.commands.get_or_insert_with(Vec::new).extend(received);
            if !ended {
                s.statuses.extend(statuses.iter().copied());
            }
        });
        if ended {
            // The statuses of the commands before END are not sent (no Package#3 after END).
            return record(&sh, i, |s| s.done = true);
        }
        let st: Vec<Value> = statuses.iter().map(|c| json!({ "sc": c })).collect();
        body = json!({ "Status": st }).to_string();
        media = MEDIA_PACKAGE3;
    }
    record(&sh, i, |s| s.errors.push(format!("the gateway did not end the session within {MAX_ROUNDS} packages")));
}

async fn fetch(http: &reqwest::Client, url: &str) -> Fetch {
    let mut f = Fetch { url: url.to_string(), status: 0, bytes: 0, sha256: String::new() };
    let Ok(mut resp) = http.get(url).send().await else { return f };
    f.status = resp.status().as_u16();
    let mut h = Sha256::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        f.bytes += chunk.len() as u64;
        if f.bytes > MAX_DOWNLOAD {
            break;
        }
        h.update(&chunk);
    }
    f.sha256 = hex::encode(h.finalize());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviours_are_given_to_the_first_devices_of_a_group() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let cfg = EndDevicesConfig {
                groups: vec![GroupSpec {
                    name: "g".into(),
                    id_prefix: "ED-".into(),
                    count: 5,
                    silent: 1,
                    erroring: 1,
                    slow: 1,
                }],
                slow_ms: 1,
                http_timeout_ms: 1000,
            };
            let ed = EndDevices::spawn("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
            let log = ed.log_json();
            let b: Vec<&str> =
                log["devices"].as_array().unwrap().iter().map(|d| d["behaviour"].as_str().unwrap()).collect();
            assert_eq!(b, ["silent", "erroring", "slow", "answer", "answer"]);
            assert_eq!(log["devices"][0]["id"], "ED-00001");
            assert_eq!(ed.attach_args()["groups"][0]["count"], 5);
            ed.shutdown().await;
        });
    }
}
