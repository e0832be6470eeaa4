//! `finish-session` over real sockets: the spec says a DM server ends the session with END,
//! not in which Package#2, so a server that ends one round later passes, and one that never
//! ends fails DM-PACK-022-S-M after a bounded number of Package#3s (eight: enough for a server
//! that sends each queued command in a Package#2 of its own).
//!
//! A fake server IUT (axum, 127.0.0.1:0) answers the upper tester with `done` and each
//! Package#1/#3 with the next Package#2 of a script.
#[path = "fakes/server_ics.rs"]
mod server_ics;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use dmcts::catalog::{Case, Catalog};
use dmcts::ics::Ics;
use dmcts::runner::exec::{self, Execution};
use dmcts::runner::target::{self, Target};
use dmcts::scr::Registry;
use dmcts::upper_tester::UtAnswer;
use dmcts::verdict::Verdict;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(10);

/// The Package#2s the fake server answers with, in turn (the last one repeats), and the
/// number of Package#3s it received.
#[derive(Clone)]
struct FakeServer(Arc<Mutex<(Vec<Value>, usize, usize)>>);

async fn dm(State(f): State<FakeServer>, headers: axum::http::HeaderMap) -> impl IntoResponse {
    let mut g = f.0.lock().unwrap_or_else(|p| p.into_inner());
    let is_p3 = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("response"));
    if is_p3 {
        g.2 += 1;
    }
    let i = g.1.min(g.0.len() - 1);
    g.1 += 1;
    ([("content-type", "application/vnd.oma.dm.request+json")], g.0[i].to_string())
}

async fn ut() -> Json<UtAnswer> {
    Json(UtAnswer::done(Value::Null))
}

async fn start(script: Vec<Value>) -> (FakeServer, String) {
    let fake = FakeServer(Arc::new(Mutex::new((script, 0, 0))));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake server");
    let addr = tcp.local_addr().expect("addr");
    let app = axum::Router::new()
        .route("/dm", axum::routing::post(dm))
        .route("/ut", axum::routing::post(ut))
        .with_state(fake.clone());
    tokio::spawn(async move {
        let _ = axum::serve(tcp, app).await;
    });
    (fake, format!("http://{addr}"))
}

fn ics(base: &str) -> Arc<Ics> {
    server_ics::server_ics(&format!("{base}/dm"), &format!("{base}/ut"), "", 2000)
}

const CASE: &str = r#"
[[case]]
id = "TC-FIN-001"
title = "finish-session"
purpose = "the session ends with END in some Package#2"
role = "server"
covers = ["DM-PACK-022-S-M"]

[[case.steps]]
kind = "ut"
action = "commands.enqueue"
args = { dev_id = "${pixit.iut.dev_id}", commands = [["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"]] }

[[case.steps]]
kind = "open-session"
scr = "DM-PACK-011-S-M"
checks = [
  { check = "builtin", name = "command-present", args = { command = ["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"] }, scr = "DM-PACK-012-S-M" },
]

[[case.steps]]
kind = "finish-session"
scr = "DM-PACK-022-S-M"
checks = [
  { check = "status", equals = 200, scr = "DM-PACK-012-S-M" },
  { check = "builtin", name = "package2-valid", scr = "DM-PACK-012-S-M" },
]
"#;

async fn run(script: Vec<Value>) -> (Execution, usize) {
    let (fake, base) = start(script).await;
    let registry = Arc::new(Registry::load_dir(Path::new("scr")).expect("the SCR tables load"));
    let catalog = Catalog::load_sources(&[(PathBuf::from("fin.toml"), CASE.to_string())], &registry)
        .unwrap_or_else(|e| panic!("the case does not load:\n{e}"));
    let case: Case = catalog.cases[0].clone();
    let prepared = target::prepare(&Target::Ics(ics(&base)), &registry).await.expect("the target prepares");
    let setup = prepared.case_env(&case, registry.clone()).await.expect("case env");
    let ex = tokio::time::timeout(BOUND, exec::execute(&case, &setup.env)).await.expect("no verdict: the suite hung");
    setup.teardown().await;
    let p3s = fake.0.lock().unwrap().2;
    (ex, p3s)
}

fn get() -> Value {
    json!({ "CMD": [["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"]] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_in_the_same_package2_needs_no_package3() {
    let (ex, p3s) = run(vec![json!({ "CMD": [["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"], ["END"]] })]).await;
    assert_eq!(ex.verdict, Verdict::Pass, "{:?}", ex.reason);
    assert_eq!(p3s, 0, "no Package#3 may follow END");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_one_round_later_passes() {
    let (ex, p3s) = run(vec![get(), json!({ "CMD": [["END"]] })]).await;
    assert_eq!(ex.verdict, Verdict::Pass, "{:?}", ex.reason);
    assert_eq!(p3s, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_ends_fails_022_after_eight_package3s() {
    let (ex, p3s) = run(vec![get(), json!({ "CMD": [] })]).await;
    assert_eq!(ex.verdict, Verdict::Fail);
    let r = ex.reason.expect("a reason");
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-022-S-M"), "{r:?}");
    assert!(r.message.contains("did not end the session"), "{r:?}");
    assert_eq!(p3s, 8, "bounded: at most eight Package#3s");
}
