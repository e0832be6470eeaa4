//! The suite's simulated End Devices behind a DM Gateway IUT (GwMO, docs/gwmo.md): N DM clients
//! in one process, cheap enough for 10,000, speaking DM 2.0 ([`dm2`]) or SyncML DM 1.2
//! ([`dm12`]) toward the gateway as `EndDevicesConfig::protocol` says. One loopback listener takes every device's
//! notifications (`POST <base>/ed/<DeviceID>`, a Package#0); per-device state is one compact
//! slot in a table, and a device has a task only while its session runs (none while idle).
//!
//! A notified device opens a session with the gateway's southbound DM server (the URL the
//! gateway's upper tester named in `gateway.attach`), executes the commands it is given and
//! answers them, until the gateway ends the session; a download a command asks for is carried
//! out (e.g. from a gateway-local LocalImageURI; length and SHA-256 recorded). What reached
//! each device is recorded in one shape whatever the protocol, so checks can judge the fan-out
//! device by device ([`EndDevices::log_json`]).
//!
//! Partial failures are per-device behaviours: `silent` (never opens the session), `erroring`
//! (answers every command 500, fetches nothing) and `slow` (opens its session `slow_ms` late).
mod dm12;
mod dm2;

use crate::peers::serving::Listening;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Path prefix of the notification endpoint: `<base>/ed/<DeviceID>`.
pub const NOTIFY_PREFIX: &str = "/ed/";
/// At most this many gateway messages per session (a gateway that never ends it is cut off).
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

/// The DM protocol the devices speak with the gateway (and the form of its notifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OMA DM 2.0: a DM 2.0 Package#0, then Package#1 / Package#2 / Package#3 in JSON.
    #[default]
    Dm2,
    /// SyncML DM 1.2: a DM 1.2 Package#0, then SyncML messages in XML ([`dm12`]).
    Dm12,
}

/// The simulated devices of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndDevicesConfig {
    /// `dm2` (the default) or `dm12`.
    #[serde(default)]
    pub protocol: Protocol,
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
pub(super) struct Slot {
    pub(super) id: String,
    pub(super) group: u16,
    pub(super) behaviour: Behaviour,
    pub(super) notified: u32,
    pub(super) sessions: u32,
    /// The commands of its sessions, END and CONT left out, as received.
    pub(super) commands: Option<Vec<Vec<String>>>,
    pub(super) statuses: Vec<u16>,
    pub(super) fetches: Vec<Fetch>,
    pub(super) errors: Vec<String>,
    /// A session ran to its END.
    pub(super) done: bool,
}

pub(super) struct Shared {
    pub(super) cfg: EndDevicesConfig,
    slots: Mutex<Vec<Slot>>,
    index: HashMap<String, usize>,
    gateway: Mutex<Option<String>>,
    pub(super) http: reqwest::Client,
    changed: tokio::sync::Notify,
}

impl Shared {
    pub(super) fn slots(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gateway's southbound DM server URL, once `gateway.attach` named it.
    pub(super) fn gateway(&self) -> Option<String> {
        self.gateway.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The running simulated devices.
pub struct EndDevices {
    shared: Arc<Shared>,
    pub addr: SocketAddr,
    /// `http://<addr>/ed`: a device's notification URL is `<notify_base>/<DeviceID>`.
    pub notify_base: String,
    listening: Listening,
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
        let app = axum::Router::new().route("/ed/{id}", axum::routing::post(notified)).with_state(shared.clone());
        let listening = Listening::serve(Listening::bind(listen).await?, app)?;
        let addr = listening.addr;
        Ok(EndDevices { shared, addr, notify_base: format!("http://{addr}/ed"), listening })
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

    pub async fn shutdown(self) {
        self.listening.shutdown().await;
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
        let decoded = match sh.cfg.protocol {
            Protocol::Dm2 => crate::wire::dm2::Notification::decode(&body).map(|_| ()).map_err(|e| e.to_string()),
            Protocol::Dm12 => crate::wire::dm12::notification::Notification::decode(&body).map(|_| ()),
        };
        if let Err(e) = decoded {
            s.errors.push(format!("notification not a Package#0: {e}"));
        }
        s.behaviour
    };
    sh.changed.notify_waiters();
    if behaviour != Behaviour::Silent {
        match sh.cfg.protocol {
            Protocol::Dm2 => tokio::spawn(dm2::session(sh.clone(), i)),
            Protocol::Dm12 => tokio::spawn(dm12::session(sh.clone(), i, body)),
        };
    }
    axum::http::StatusCode::NO_CONTENT
}

pub(super) fn record(sh: &Shared, i: usize, f: impl FnOnce(&mut Slot)) {
    f(&mut sh.slots()[i]);
    sh.changed.notify_waiters();
}

/// The device's own delay when it is slow (what is simulated, not a synchronisation), then the
/// gateway's DM server URL and one more session counted; None (recorded) when the gateway's URL
/// is not known.
pub(super) async fn session_start(sh: &Shared, i: usize) -> Option<(String, Behaviour, String)> {
    let (id, behaviour) = {
        let s = &sh.slots()[i];
        (s.id.clone(), s.behaviour)
    };
    if behaviour == Behaviour::Slow {
        tokio::time::sleep(Duration::from_millis(sh.cfg.slow_ms)).await;
    }
    let Some(target) = sh.gateway() else {
        record(sh, i, |s| s.errors.push("notified before the gateway's DM server URL was known".into()));
        return None;
    };
    record(sh, i, |s| s.sessions += 1);
    Some((id, behaviour, target))
}

/// The status a device gives a command that downloads: 200 for a 2xx, 500 when the request
/// failed, else the HTTP status.
pub(super) fn fetch_code(f: &Fetch) -> u16 {
    match f.status {
        200..=299 => 200,
        0 => 500,
        other => other,
    }
}

pub(super) async fn fetch(http: &reqwest::Client, url: &str) -> Fetch {
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
                protocol: Protocol::Dm2,
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
