//! `dmcts run --repeat N` (issue 13 §4): steady repetitions against the reference peers (clean:
//! exit 0; faulty: the case fails every time, exit 1, not flaky), and a deterministically
//! flaky IUT — the reference client behind an upper tester that answers `failed` to the second
//! `session.start` only — whose case is reported flaky with each repetition's verdict and
//! reason, in the console and run.json `repeat`.
#[path = "fakes/client_run.rs"]
mod client_run;
use axum::{extract::State, routing::post, Json, Router};
use client_run::{client_ics, dmcts, free_port, scratch};
use dmcts::reference::client;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn run_json(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap()
}

fn reference_repeat(tag: &str, fault: Option<&str>) -> (Option<i32>, String, std::path::PathBuf) {
    let dir = scratch(tag).join("reports");
    let mut args = vec!["run", "--against", "reference", "--role", "client", "--repeat", "2"];
    if let Some(f) = fault {
        args.extend(["--fault", f]);
    }
    args.extend(["--report-dir", dir.to_str().unwrap(), "--", "TC-DMC-P0"]);
    let (code, out) = dmcts(&args);
    (code, out, dir)
}

#[test]
fn repeating_the_clean_reference_is_steady_and_exits_0() {
    let (code, out, dir) = reference_repeat("clean", None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("repetition 1 of 2"), "{out}");
    assert!(out.contains("repeat: 2 runs; 0 flaky case(s), 0 failing in every run"), "{out}");
    let run = run_json(&dir);
    assert_eq!(run["repeat"]["runs"], 2);
    assert_eq!(run["repeat"]["dirs"], json!(["repeat/1", "repeat/2"]));
    assert_eq!(run["repeat"]["flaky"], json!([]));
    for i in ["1", "2"] {
        let each = run_json(&dir.join("repeat").join(i));
        assert_eq!(each["summary"]["pass"], 9, "repetition {i}");
        assert!(each.get("repeat").is_none());
    }
}

#[test]
fn a_case_failing_in_every_repetition_is_failing_not_flaky() {
    let (code, out, dir) = reference_repeat("faulty", Some("client.notification-id-not-echoed"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("repeat: 2 runs; 0 flaky case(s), 1 failing in every run"), "{out}");
    assert!(out.contains("  fail in every run: TC-DMC-P0-002"), "{out}");
    let run = run_json(&dir);
    assert_eq!(run["repeat"]["failing"][0]["id"], "TC-DMC-P0-002");
    assert_eq!(run["repeat"]["flaky"], json!([]));
}

/// An upper tester in front of the reference client's: it passes every action on, except that
/// it answers the second `session.start` with `failed`.
#[derive(Clone)]
struct FlakyUt {
    upstream: String,
    starts: Arc<AtomicUsize>,
    http: reqwest::Client,
}

async fn flaky_ut(State(ut): State<FlakyUt>, Json(request): Json<Value>) -> Json<Value> {
    if request["action"] == "session.start" && ut.starts.fetch_add(1, Ordering::SeqCst) == 1 {
        return Json(
            json!({ "status": "failed", "message": "flaky on purpose: the second session.start", "data": null }),
        );
    }
    let answer = ut.http.post(&ut.upstream).json(&request).send().await.expect("the reference client's upper tester");
    Json(answer.json().await.expect("a JSON answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_whose_verdict_varies_is_flaky_with_each_repetitions_reason() {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let cl = client::spawn(cfg).await.unwrap();
    let ut = FlakyUt {
        upstream: cl.ut_url.clone(),
        starts: Arc::default(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ut_url = format!("http://{}/ut", tcp.local_addr().unwrap());
    let app = Router::new().route("/ut", post(flaky_ut)).with_state(ut);
    let server = tokio::spawn(async move { axum::serve(tcp, app).await });

    let dir = scratch("flaky");
    let ics = dir.join("ics.toml");
    std::fs::write(&ics, client_ics(listen, &ut_url, "", "")).unwrap();
    let reports = dir.join("reports");
    let args: Vec<String> = [
        "run",
        "--ics",
        ics.to_str().unwrap(),
        "--repeat",
        "3",
        "--report-dir",
        reports.to_str().unwrap(),
        "--",
        "TC-DMC-SESS-001",
        "--exact",
    ]
    .map(String::from)
    .to_vec();
    let (code, out) = tokio::task::spawn_blocking(move || dmcts(&args)).await.unwrap();
    server.abort();
    cl.shutdown().await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("repeat: 3 runs; 1 flaky case(s), 0 failing in every run"), "{out}");
    assert!(out.contains("  FLAKY TC-DMC-SESS-001:\n    run 1: pass\n    run 2: inconc: "), "{out}");
    let run = run_json(&reports);
    let flaky = &run["repeat"]["flaky"][0];
    assert_eq!(flaky["id"], "TC-DMC-SESS-001");
    let verdicts: Vec<&str> =
        flaky["runs"].as_array().unwrap().iter().map(|a| a["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["pass", "inconc", "pass"]);
    assert_eq!(flaky["runs"][0]["reason"], Value::Null);
    let reason = flaky["runs"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("flaky on purpose"), "{reason}");
    assert_eq!(flaky["runs"][1]["run"], 2);
}
