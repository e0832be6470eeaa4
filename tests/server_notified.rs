//! Issue 15's server checks against a small fake DM 2.0 server on 127.0.0.1 that the suite did not
//! write: it numbers and builds its own Package#0 (handed back through the upper tester), serves
//! notified (ServerInitiatedMgmt) and client-initiated sessions from one command queue, batching
//! as told, and records what device.report shows. What the reference server cannot show is shown
//! here: the new cases pass whatever the batching; a SERVER-ID the ICS does not give is
//! inconclusive, not a failure; the UNVERIFIED notification rules follow the profile; a report
//! without `hget_locations` is a contract point; and a server that addresses MO instances the
//! device did not list fails DM-PACK-011-S-M.
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine;
use dmcts::catalog::Catalog;
use dmcts::ics::Ics;
use dmcts::runner::exec::{self, Execution};
use dmcts::runner::target::{self, Target};
use dmcts::scr::Registry;
use dmcts::upper_tester::{UtAnswer, UtRequest};
use dmcts::verdict::Verdict;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(20);
/// The DevID the suite plays towards the fake.
const DEV: &str = "IMEI:990000000000017";
const P2: &str = "application/vnd.oma.dm.request+json";
/// The fake's SERVER-ID.
const SERVER_ID: &str = "acme-dm-7";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Batching {
    /// Every queued command in one Package#2; END in it unless it carries a CONT.
    AllAtOnce,
    /// One queued command per Package#2, END in a Package#2 of its own.
    OnePerPackage,
}

#[derive(Clone, Copy, Debug)]
struct Behaviour {
    batching: Batching,
    /// RESERVED bits of its Package#0.
    reserved: u16,
    /// TIMESTAMP width, bytes.
    timestamp_width: usize,
    /// An option number outside the registry, appended to its Package#0.
    extra_option: Option<u8>,
    /// After a Package#1 carrying MOS, probes an instance it assumes rather than those listed.
    probe_unlisted: bool,
    /// device.report carries `hget_locations`.
    reports_hget_locations: bool,
}

const CONFORMANT: Behaviour = Behaviour {
    batching: Batching::AllAtOnce,
    reserved: 0,
    timestamp_width: 4,
    extra_option: None,
    probe_unlisted: false,
    reports_hget_locations: true,
};

#[derive(Default)]
struct Device {
    queue: VecDeque<Vec<String>>,
    last_sent: Vec<Vec<String>>,
    statuses: Vec<Value>,
    hget_locations: Vec<String>,
    /// NOTIFICATION-IDs sent, and what notified sessions echoed.
    sent_ids: Vec<u16>,
    echoed: Vec<Value>,
    secret: String,
    auth_data: String,
    conts: usize,
}

#[derive(Clone)]
struct Fake {
    b: Behaviour,
    base: Arc<OnceLock<String>>,
    dev: Arc<Mutex<Device>>,
}

impl Fake {
    fn dev(&self) -> std::sync::MutexGuard<'_, Device> {
        self.dev.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_package(&self) -> Vec<Vec<String>> {
        let base = self.base.get().cloned().unwrap_or_default();
        let mut d = self.dev();
        let mut cmds: Vec<Vec<String>> = Vec::new();
        let mut cont = false;
        while let Some(c) = d.queue.pop_front() {
            if c[0] == "CONT" {
                d.conts += 1;
                let uri = c.get(1).cloned().unwrap_or_else(|| format!("{base}/dm/cont/{}", d.conts));
                cmds.push(vec!["CONT".into(), uri]);
                cont = true;
            } else {
                cmds.push(c);
            }
            if self.b.batching == Batching::OnePerPackage {
                break;
            }
        }
        let last_of_many = self.b.batching == Batching::OnePerPackage && !cmds.is_empty();
        if d.queue.is_empty() && !cont && !last_of_many {
            cmds.push(vec!["END".into()]);
        }
        d.last_sent = cmds.clone();
        cmds
    }

    /// Its own Package#0: VER 2, options 1..6 with one-byte headers, the digest over the
    /// message with a zero digest between the secret and the auth data.
    fn package0(&self, id: u16, req_mos: bool) -> Vec<u8> {
        let d = self.dev();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let ts = now.to_be_bytes()[8 - self.b.timestamp_width..].to_vec();
        let mut opts: Vec<(u8, Vec<u8>)> = vec![
            (1, SERVER_ID.as_bytes().to_vec()),
            (2, vec![0]),
            (3, id.to_be_bytes().to_vec()),
            (4, vec![0; 32]),
            (5, ts),
        ];
        if req_mos {
            opts.push((6, vec![]));
        }
        if let Some(n) = self.b.extra_option {
            opts.push((n, vec![1]));
        }
        let header: u16 = (2 << 12) | ((opts.len() as u16) << 7) | self.b.reserved;
        let mut out = header.to_be_bytes().to_vec();
        let (mut prev, mut digest_at) = (0u8, 0);
        for (n, v) in &opts {
            if v.len() < 15 {
                out.push(((n - prev) << 4) | v.len() as u8);
            } else {
                out.push(((n - prev) << 4) | 0x0f);
                out.push((v.len() - 15) as u8);
            }
            if *n == 4 {
                digest_at = out.len();
            }
            out.extend_from_slice(v);
            prev = *n;
        }
        let digest = Sha256::new()
            .chain_update(d.secret.as_bytes())
            .chain_update(&out)
            .chain_update(d.auth_data.as_bytes())
            .finalize();
        out[digest_at..digest_at + 32].copy_from_slice(&digest);
        out
    }
}

fn package2(cmds: Vec<Vec<String>>) -> axum::response::Response {
    ([("content-type", P2)], json!({ "CMD": cmds }).to_string()).into_response()
}

async fn dm(State(f): State<Fake>, headers: HeaderMap, body: String) -> axum::response::Response {
    let doc: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let is_p3 = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("response"));
    if is_p3 {
        let mut d = f.dev();
        let statuses = doc["Status"].as_array().cloned().unwrap_or_default();
        let sent = std::mem::take(&mut d.last_sent);
        for (cmd, st) in sent.iter().filter(|c| c[0] != "END").zip(&statuses) {
            if cmd[0] == "HGET" && cmd.len() == 2 {
                let uris = st["URI"].as_array().cloned().unwrap_or_default();
                d.hget_locations.extend(uris.iter().filter_map(|u| u.as_str().map(str::to_string)));
            }
        }
        d.statuses.push(doc["Status"].clone());
        drop(d);
        return package2(f.next_package());
    }
    let alerts = doc["Alert"].as_array().cloned().unwrap_or_default();
    for a in &alerts {
        if a["AlertType"] == "urn:oma:at:dm:2.0:ServerInitiatedMgmt" {
            // Any placement of the NOTIFICATION-ID: the first number in Data.
            let echoed = a["Data"].as_object().and_then(|o| o.values().find(|v| v.is_number()).cloned());
            f.dev().echoed.push(echoed.unwrap_or(Value::Null));
        }
    }
    if f.b.probe_unlisted && doc.get("MOS").is_some() {
        f.dev().queue.push_front(vec!["GET".into(), "urn:oma:mo:oma-fumo:1.0/fw-main/State".into()]);
    }
    package2(f.next_package())
}

async fn ut(State(f): State<Fake>, Json(req): Json<UtRequest>) -> Json<UtAnswer> {
    Json(match req.action.as_str() {
        "reset" => {
            *f.dev() = Device::default();
            UtAnswer::done(Value::Null)
        }
        "device.register" => {
            let mut d = f.dev();
            d.secret = req.args["notification"]["secret"].as_str().unwrap_or_default().to_string();
            d.auth_data = req.args["notification"]["auth_data"].as_str().unwrap_or_default().to_string();
            UtAnswer::done(json!({ "dev_id": req.args["dev_id"] }))
        }
        "commands.enqueue" => {
            let cmds: Vec<Vec<String>> = serde_json::from_value(req.args["commands"].clone()).unwrap_or_default();
            f.dev().queue.extend(cmds);
            UtAnswer::done(Value::Null)
        }
        "notification.send" => {
            let id = {
                let mut d = f.dev();
                let id = 100 + d.sent_ids.len() as u16;
                d.sent_ids.push(id);
                id
            };
            let bytes = f.package0(id, req.args["req_mos"] == true);
            UtAnswer::done(json!({
                "bytes_b64": base64::engine::general_purpose::STANDARD.encode(bytes), "notification_id": id
            }))
        }
        "device.report" => {
            let d = f.dev();
            let mut r = json!({ "statuses": d.statuses, "exec_results": [], "echoed": d.echoed });
            if f.b.reports_hget_locations {
                r["hget_locations"] = json!(d.hget_locations);
            }
            UtAnswer::done(r)
        }
        other => UtAnswer::unsupported(format!("the fake server does not implement {other}")),
    })
}

async fn start(b: Behaviour) -> String {
    let fake = Fake { b, base: Arc::default(), dev: Arc::default() };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake server");
    let base = format!("http://{}", tcp.local_addr().expect("addr"));
    let _ = fake.base.set(base.clone());
    let app = axum::Router::new()
        .route("/dm", axum::routing::post(dm))
        .route("/dm/cont/{n}", axum::routing::post(dm))
        .route("/ut", axum::routing::post(ut))
        .with_state(fake);
    tokio::spawn(async move {
        let _ = axum::serve(tcp, app).await;
    });
    base
}

/// The ICS of the fake: notifications come back through the upper tester; `extra` adds
/// `[pixit.account]` and `[profile]` lines.
fn ics(base: &str, extra: &str) -> Arc<Ics> {
    let src = format!(
        r#"
[iut]
role = "server"
vendor = "Test"
product = "Fake notifying server"
version = "0"

[pixit.suite]
listen = "127.0.0.1:0"

[pixit.iut]
server_uri = "{base}/dm"
dev_id = "{DEV}"

[pixit.notification]
secret = "s3"
auth_data = "a3"
server_delivery = "upper-tester"

[pixit.upper_tester]
backend = "http"
url = "{base}/ut"

[pixit.timeouts]
step_ms = 3000
case_ms = 12000
run_ms = 600000
quiet_period_ms = 100
{extra}
"#
    );
    Arc::new(Ics::from_str(&src, Path::new("notified-server-ics.toml")).expect("the test ICS parses"))
}

const ACCOUNT: &str = "[pixit.account]\nserver_id = \"acme-dm-7\"\n";

async fn run(id: &str, b: Behaviour, extra: &str) -> Execution {
    let base = start(b).await;
    let registry = Arc::new(Registry::load_dir(Path::new("scr")).expect("the SCR tables load"));
    let catalog = Catalog::load_dir(Path::new("cases"), &registry).expect("the catalog loads");
    let case = catalog.get(id).unwrap_or_else(|| panic!("no case {id}")).clone();
    let prepared = target::prepare(&Target::Ics(ics(&base, extra)), &registry).await.expect("the target prepares");
    let setup = prepared.case_env(&case, registry.clone()).await.expect("case env");
    let ex = tokio::time::timeout(BOUND, exec::execute(&case, &setup.env)).await.expect("no verdict: the suite hung");
    setup.teardown().await;
    ex
}

fn trace(ex: &Execution) -> String {
    ex.trace.entries().iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join("\n")
}

fn assert_verdict(ex: &Execution, want: Verdict, item: Option<&str>, what: &str) {
    let r = ex.reason.as_ref();
    assert_eq!(ex.verdict, want, "{what}: {:?}\n{}", r, trace(ex));
    assert_eq!(r.and_then(|r| r.scr.as_deref()), item, "{what}: {r:?}");
}

const ISSUE_15_CASES: &[&str] = &[
    "TC-DMS-P0-001",
    "TC-DMS-P0-004",
    "TC-DMS-P0-006",
    "TC-DMS-P0-008",
    "TC-DMS-P0-009",
    "TC-DMS-NOTIF-001",
    "TC-DMS-NOTIF-002",
    "TC-DMS-ALERT-002",
    "TC-DMS-CMD-010",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conformant_server_passes_the_new_cases_whatever_its_batching() {
    for batching in [Batching::AllAtOnce, Batching::OnePerPackage] {
        for id in ISSUE_15_CASES {
            let ex = run(id, Behaviour { batching, ..CONFORMANT }, ACCOUNT).await;
            assert_verdict(&ex, Verdict::Pass, None, &format!("{id} {batching:?}"));
        }
    }
    // The notified session: ServerInitiatedMgmt echoing the fake's own id (100, its first).
    let ex = run("TC-DMS-NOTIF-001", CONFORMANT, ACCOUNT).await;
    let t = trace(&ex);
    assert!(t.contains(r#"\"AlertType\":\"urn:oma:at:dm:2.0:ServerInitiatedMgmt\",\"DataType\":\"int\",\"Data\":{\"NOTIFICATION-ID\":100}"#), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_id_goes_where_the_profile_puts_it() {
    // A server reading the id under another key: the vendor says so in the profile.
    let ex = run("TC-DMS-NOTIF-001", CONFORMANT, &format!("{ACCOUNT}[profile]\nnotification_id_key = \"nid\"\n")).await;
    assert_verdict(&ex, Verdict::Pass, None, "notification_id_key = nid");
    assert!(trace(&ex).contains(r#"\"Data\":{\"nid\":100}"#), "{}", trace(&ex));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_id_is_judged_against_the_pixit_only_when_the_ics_gives_it() {
    // Not given: the suite has nothing to compare with, so the case cannot judge the value.
    let ex = run("TC-DMS-P0-004", CONFORMANT, "").await;
    assert_verdict(&ex, Verdict::Inconc, Some("DM-PACK-005-S-M"), "account.server_id not given");
    let m = ex.reason.unwrap().message;
    assert!(m.contains("account.server_id") && m.contains("has no default"), "{m}");
    // Given and equal: pass; given and different: the server sends another account's id.
    let ex = run("TC-DMS-P0-004", CONFORMANT, ACCOUNT).await;
    assert_verdict(&ex, Verdict::Pass, None, "the fake's SERVER-ID");
    let ex = run("TC-DMS-P0-004", CONFORMANT, "[pixit.account]\nserver_id = \"acme-dm-8\"\n").await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-005-S-M"), "another SERVER-ID");
    let r = ex.reason.unwrap();
    assert!(r.actual.as_deref().unwrap_or("").contains("acme-dm-7"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unverified_notification_rules_follow_the_profile() {
    // RESERVED bits (§21 q3): a defect by default, accepted when the profile says so.
    let b = Behaviour { reserved: 0x05, ..CONFORMANT };
    let ex = run("TC-DMS-P0-001", b, ACCOUNT).await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-002-S-M"), "RESERVED bits set");
    let r = ex.reason.unwrap();
    assert!(r.actual.as_deref().unwrap_or("").contains("notification_reserved_zero = true"), "{r:?}");
    let ex = run("TC-DMS-P0-001", b, &format!("{ACCOUNT}[profile]\nnotification_reserved_zero = false\n")).await;
    assert_verdict(&ex, Verdict::Pass, None, "RESERVED bits accepted by the profile");

    // An option number outside the registry (§21 q5): ignored by default, rejected on request.
    let b = Behaviour { extra_option: Some(9), ..CONFORMANT };
    let ex = run("TC-DMS-P0-001", b, ACCOUNT).await;
    assert_verdict(&ex, Verdict::Pass, None, "an unknown option, ignored");
    let ex = run("TC-DMS-P0-001", b, &format!("{ACCOUNT}[profile]\nnotification_unknown_options = \"reject\"\n")).await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-002-S-M"), "an unknown option, rejected");

    // TIMESTAMP width (§21 q4): 8 bytes accepted by default, 6 only when the profile lists it.
    let ex = run("TC-DMS-P0-008", Behaviour { timestamp_width: 8, ..CONFORMANT }, ACCOUNT).await;
    assert_verdict(&ex, Verdict::Pass, None, "an 8-byte TIMESTAMP");
    let six = Behaviour { timestamp_width: 6, ..CONFORMANT };
    let ex = run("TC-DMS-P0-008", six, ACCOUNT).await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-009-S-M"), "a 6-byte TIMESTAMP");
    let ex = run("TC-DMS-P0-008", six, &format!("{ACCOUNT}[profile]\ntimestamp_widths = [4, 6, 8]\n")).await;
    assert_verdict(&ex, Verdict::Pass, None, "a 6-byte TIMESTAMP the profile accepts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_addressing_instances_the_device_did_not_list_fails_011() {
    for batching in [Batching::AllAtOnce, Batching::OnePerPackage] {
        let ex = run("TC-DMS-NOTIF-002", Behaviour { probe_unlisted: true, batching, ..CONFORMANT }, ACCOUNT).await;
        assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-011-S-M"), "probe of fw-main");
        let r = ex.reason.unwrap();
        assert!(r.actual.as_deref().unwrap_or("").contains("urn:oma:mo:oma-fumo:1.0/fw-main/State"), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_without_hget_locations_is_inconc_naming_the_contract() {
    let ex = run("TC-DMS-CMD-010", Behaviour { reports_hget_locations: false, ..CONFORMANT }, ACCOUNT).await;
    assert_verdict(&ex, Verdict::Inconc, None, "report without hget_locations");
    let r = ex.reason.unwrap();
    assert!(r.message.contains("docs/upper-tester.md, `device.report`"), "{r:?}");
    assert!(r.expected.as_deref().unwrap_or("").contains("/hget_locations"), "{r:?}");
}
