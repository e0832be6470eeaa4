//! Server cases against small fake DM 2.0 servers on 127.0.0.1 that the suite did not write
//! (issue 8 §5, §6): the spec lets a server spread queued commands over its Package#2s as it
//! chooses, so a server that sends everything in one Package#2 passes, as does one that sends
//! a command per package; one that ignores a queued CONT fails DM-PACK-021-S-M; and what the
//! upper tester did not demonstrably do (a registration that does not confirm the DevID, a
//! report without the member a check reads, a result AlertType nobody confirmed) is `inconc`
//! naming the contract point, never a protocol `fail`.
//!
//! Each fake is one axum app: `/ut` (the upper tester), `/dm` (Package#1/#3) and `/dm/cont/N`
//! (its CONT targets), with one command queue and a [`Behaviour`] saying how it batches and
//! which mistake it makes.
#[path = "fakes/server_ics.rs"]
mod server_ics;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use dmcts::catalog::Catalog;
use dmcts::ics::Ics;
use dmcts::runner::exec::{self, Execution};
use dmcts::runner::target::{self, Target};
use dmcts::scr::Registry;
use dmcts::upper_tester::{UtAnswer, UtRequest};
use dmcts::verdict::Verdict;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(20);
const DEV: &str = server_ics::DEV_ID;
const P2: &str = "application/vnd.oma.dm.request+json";
/// The AlertType the fake servers record as an EXEC result.
const RESULT_TYPE: &str = "urn:acme:at:exec:1.0:Done";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Batching {
    /// Every queued command in the Package#2 answering Package#1 (commands after a CONT too);
    /// END in it unless it carries a CONT, else in the next.
    AllAtOnce,
    /// One queued command per Package#2, END in a Package#2 of its own.
    OnePerPackage,
}

#[derive(Clone, Copy, Debug)]
struct Behaviour {
    batching: Batching,
    /// Drops queued CONTs.
    ignore_cont: bool,
    /// Ends the session in the Package#2 carrying a CONT.
    end_with_cont: bool,
    /// Sends the commands of each Package#2 in reverse order.
    reorder: bool,
    /// Answers a Package#3 with this HTTP status (200: a Package#2).
    p3_status: u16,
    /// device.register answers with data.dev_id.
    confirms_dev_id: bool,
    /// device.report carries `statuses`.
    reports_statuses: bool,
}

const CONFORMANT: Behaviour = Behaviour {
    batching: Batching::AllAtOnce,
    ignore_cont: false,
    end_with_cont: false,
    reorder: false,
    p3_status: 200,
    confirms_dev_id: true,
    reports_statuses: true,
};

#[derive(Default)]
struct Device {
    queue: VecDeque<Vec<String>>,
    statuses: Vec<Value>,
    /// ClientURIs of EXECs sent with a ServerURI, waiting for their result.
    pending_exec: Vec<String>,
    exec_results: Vec<Value>,
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

    /// The next Package#2's commands, taken from the queue as the behaviour says.
    fn next_package(&self) -> Vec<Vec<String>> {
        let base = self.base.get().cloned().unwrap_or_default();
        let mut d = self.dev();
        let mut cmds: Vec<Vec<String>> = Vec::new();
        let mut cont = false;
        while let Some(c) = d.queue.pop_front() {
            if c[0] == "CONT" {
                if self.b.ignore_cont {
                    continue;
                }
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
        for c in &cmds {
            if c[0] == "EXEC" && c.len() == 3 {
                d.pending_exec.push(c[1].clone());
            }
        }
        if self.b.reorder {
            cmds.reverse();
        }
        let last_of_many = self.b.batching == Batching::OnePerPackage && !cmds.is_empty();
        if d.queue.is_empty() && (!cont || self.b.end_with_cont) && !last_of_many {
            cmds.push(vec!["END".into()]);
        }
        cmds
    }
}

fn package2(cmds: Vec<Vec<String>>) -> axum::response::Response {
    ([("content-type", P2)], json!({ "CMD": cmds }).to_string()).into_response()
}

async fn dm(State(f): State<Fake>, headers: HeaderMap, body: String) -> axum::response::Response {
    let doc: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let is_p3 = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("response"));
    if is_p3 {
        if f.b.p3_status != 200 {
            return (axum::http::StatusCode::from_u16(f.b.p3_status).unwrap(), "no").into_response();
        }
        f.dev().statuses.push(doc["Status"].clone());
        return package2(f.next_package());
    }
    // A Package#1 carrying results of EXECs it sent: record those of the AlertType it knows.
    let alerts = doc["Alert"].as_array().cloned().unwrap_or_default();
    let results: Vec<&Value> = alerts.iter().filter(|a| a.get("SourceURI").is_some()).collect();
    if !results.is_empty() {
        let mut d = f.dev();
        for a in results {
            let source = a["SourceURI"].as_str().unwrap_or_default().to_string();
            if a["AlertType"] == RESULT_TYPE && d.pending_exec.contains(&source) {
                d.exec_results.push(a.clone());
            }
        }
        return package2(vec![vec!["END".into()]]);
    }
    package2(f.next_package())
}

async fn ut(State(f): State<Fake>, Json(req): Json<UtRequest>) -> Json<UtAnswer> {
    Json(match req.action.as_str() {
        "reset" => {
            *f.dev() = Device::default();
            UtAnswer::done(Value::Null)
        }
        "device.register" if f.b.confirms_dev_id => UtAnswer::done(json!({ "dev_id": req.args["dev_id"] })),
        "device.register" => UtAnswer::done(json!({ "registered": true })),
        "commands.enqueue" => {
            let cmds: Vec<Vec<String>> = serde_json::from_value(req.args["commands"].clone()).unwrap_or_default();
            f.dev().queue.extend(cmds);
            UtAnswer::done(Value::Null)
        }
        "device.report" => {
            let d = f.dev();
            let mut r = json!({ "exec_results": d.exec_results, "alerts": [] });
            if f.b.reports_statuses {
                r["statuses"] = json!(d.statuses);
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

fn ics(base: &str, mo: &str) -> Arc<Ics> {
    server_ics::server_ics(&format!("{base}/dm"), &format!("{base}/ut"), mo, 3000)
}

/// Runs one shipped case against a fake server with this behaviour and PIXIT `[pixit.mo]`.
async fn run_with(id: &str, b: Behaviour, mo: &str) -> Execution {
    let base = start(b).await;
    let registry = Arc::new(Registry::load_dir(Path::new("scr")).expect("the SCR tables load"));
    let catalog = Catalog::load_dir(Path::new("cases"), &registry).expect("the catalog loads");
    let case = catalog.get(id).unwrap_or_else(|| panic!("no case {id}")).clone();
    let prepared = target::prepare(&Target::Ics(ics(&base, mo)), &registry).await.expect("the target prepares");
    let setup = prepared.case_env(&case, registry.clone()).await.expect("case env");
    let ex = tokio::time::timeout(BOUND, exec::execute(&case, &setup.env)).await.expect("no verdict: the suite hung");
    setup.teardown().await;
    ex
}

async fn run(id: &str, b: Behaviour) -> Execution {
    run_with(id, b, &format!("exec_result_alert_type = \"{RESULT_TYPE}\"")).await
}

fn trace(ex: &Execution) -> String {
    ex.trace.entries().iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join("\n")
}

fn assert_verdict(ex: &Execution, want: Verdict, item: Option<&str>, what: &str) {
    let r = ex.reason.as_ref();
    assert_eq!(ex.verdict, want, "{what}: {:?}\n{}", r, trace(ex));
    assert_eq!(r.and_then(|r| r.scr.as_deref()), item, "{what}: {r:?}");
}

const SESSION_CASES: &[&str] = &["TC-DMS-SESS-001", "TC-DMS-CMD-009", "TC-DMS-CMD-001", "TC-DMS-ASYNC-001"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_sends_every_queued_command_in_one_package2_passes() {
    for id in SESSION_CASES {
        let ex = run(id, CONFORMANT).await;
        assert_verdict(&ex, Verdict::Pass, None, id);
    }
    // SESS-001 with everything in one Package#2: a CONT among the commands, END in the next.
    let ex = run("TC-DMS-SESS-001", CONFORMANT).await;
    let t = trace(&ex);
    assert!(t.contains("the session: 2 package(s) #1 [GET, DELETE, CONT, GET] #2 [END] (moved)"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_sends_one_command_per_package2_passes() {
    let b = Behaviour { batching: Batching::OnePerPackage, ..CONFORMANT };
    for id in SESSION_CASES {
        let ex = run(id, b).await;
        assert_verdict(&ex, Verdict::Pass, None, id);
    }
    let ex = run("TC-DMS-SESS-001", b).await;
    let t = trace(&ex);
    assert!(
        t.contains("the session: 5 package(s) #1 [GET] #2 [DELETE] #3 [CONT] #4 [GET] (moved) #5 [END] (moved)"),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_cont_fails_021() {
    let b = Behaviour { ignore_cont: true, ..CONFORMANT };
    for id in ["TC-DMS-CMD-009", "TC-DMS-SESS-001"] {
        let ex = run(id, b).await;
        assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-021-S-M"), id);
        assert!(ex.reason.as_ref().unwrap().actual.as_deref().unwrap_or("").contains("missing [[\"CONT\","));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ends_the_session_with_its_cont_fails_021() {
    let b = Behaviour { end_with_cont: true, ..CONFORMANT };
    for id in ["TC-DMS-CMD-009", "TC-DMS-SESS-001"] {
        let ex = run(id, b).await;
        assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-021-S-M"), id);
        assert!(ex.reason.as_ref().unwrap().message.contains("session-moved"), "{:?}", ex.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_commands_fail_012_and_a_rejected_package3_fails_013() {
    let ex = run("TC-DMS-SESS-001", Behaviour { reorder: true, ..CONFORMANT }).await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-012-S-M"), "reordered");
    assert!(ex.reason.as_ref().unwrap().message.contains("session-command-order"), "{:?}", ex.reason);

    let ex = run("TC-DMS-SESS-001", Behaviour { p3_status: 500, ..CONFORMANT }).await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-013-S-M"), "Package#3 answered 500");
    // At the CONT target, a rejected Package#3 is the CONT's failure.
    let ex = run("TC-DMS-CMD-009", Behaviour { p3_status: 500, ..CONFORMANT }).await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-021-S-M"), "CONT target answered 500");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_answer_without_the_dev_id_is_inconc_naming_the_contract() {
    let ex = run("TC-DMS-CMD-001", Behaviour { confirms_dev_id: false, ..CONFORMANT }).await;
    assert_verdict(&ex, Verdict::Inconc, None, "registration not confirmed");
    let r = ex.reason.clone().unwrap();
    assert!(r.message.contains("upper-tester contract (docs/upper-tester.md, `device.register`)"), "{r:?}");
    assert!(r.expected.as_deref().unwrap_or("").contains(DEV), "{r:?}");
    // No protocol traffic was judged: the case stopped at the registration.
    assert!(!trace(&ex).contains("HttpRequest { from: \"suite\", to: \"iut\""), "{}", trace(&ex));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_without_statuses_is_inconc_naming_the_contract() {
    let ex = run("TC-DMS-SESS-001", Behaviour { reports_statuses: false, ..CONFORMANT }).await;
    assert_verdict(&ex, Verdict::Inconc, None, "report without statuses");
    let r = ex.reason.unwrap();
    assert!(r.message.contains("docs/upper-tester.md, `device.report`"), "{r:?}");
    assert!(r.expected.as_deref().unwrap_or("").contains("/statuses"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrecorded_exec_result_is_inconc_until_the_vendor_gives_the_alert_type() {
    // Not given: the suite sends the profile's (FUMO) AlertType, which this server ignores, as
    // DM-PACK-024-S-M requires of an unknown type: no verdict on DM-PACK-026-S-M.
    let ex = run_with("TC-DMS-ASYNC-001", CONFORMANT, "").await;
    assert_verdict(&ex, Verdict::Inconc, Some("DM-PACK-026-S-M"), "default AlertType");
    let m = ex.reason.unwrap().message;
    for part in ["mo.exec_result_alert_type", "urn:oma:at:fumo:1.0:DownloadAndUpdate", "§11", "DM-PACK-024-S-M"] {
        assert!(m.contains(part), "{part} not in {m}");
    }
    // Given, and recognised: pass.
    let ex = run("TC-DMS-ASYNC-001", CONFORMANT).await;
    assert_verdict(&ex, Verdict::Pass, None, "the server's AlertType");
    // Given, but the server does not record it: the vendor confirmed the type, so it fails.
    let ex = run_with("TC-DMS-ASYNC-001", CONFORMANT, "exec_result_alert_type = \"urn:acme:at:other:1.0:X\"").await;
    assert_verdict(&ex, Verdict::Fail, Some("DM-PACK-026-S-M"), "a confirmed AlertType not recorded");
    // The node is the PIXIT's when given.
    let mo = format!("exec_uri = \"urn:acme:mo:op:1.0/o1/Run\"\nexec_result_alert_type = \"{RESULT_TYPE}\"");
    let ex = run_with("TC-DMS-ASYNC-001", CONFORMANT, &mo).await;
    assert_verdict(&ex, Verdict::Pass, None, "PIXIT exec_uri");
    assert!(trace(&ex).contains("urn:acme:mo:op:1.0/o1/Run"), "{}", trace(&ex));
}
