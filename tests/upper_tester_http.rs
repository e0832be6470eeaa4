//! HTTP back end against a tiny axum server on 127.0.0.1: answers, error statuses, garbage and
//! a server that never answers.
use axum::{http::HeaderMap, http::StatusCode, routing::post, Json, Router};
use dmcts::upper_tester::{UpperTester, UpperTesterConfig, UtError, UtRequest, UtStatus};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/done",
            post(|headers: HeaderMap, Json(req): Json<Value>| async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                Json(json!({
                    "status": "done",
                    "message": "",
                    "data": { "request": req, "case_header": h("x-dmcts-case"), "step_header": h("x-dmcts-step") }
                }))
            }),
        )
        .route(
            "/unsupported",
            post(|| async {
                (StatusCode::NOT_IMPLEMENTED, Json(json!({"status": "unsupported", "message": "no SMS"})))
            }),
        )
        .route("/garbage", post(|| async { "<html>hello</html>" }))
        .route(
            "/huge",
            post(|| async {
                // A valid answer, but over the contract's limit.
                let pad = "x".repeat(dmcts::upper_tester::MAX_ANSWER_BYTES);
                Json(json!({"status": "done", "message": pad}))
            }),
        )
        .route("/endless", post(|| async { axum::body::Body::from_stream(endless()) }))
        .route("/wrong-shape", post(|| async { Json(json!({"status": "ok"})) }))
        .route("/broken", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "internal error") }))
        .route(
            "/hang",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "too late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// A body that never ends (no Content-Length), 64 KiB at a time.
fn endless() -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let chunk = bytes::Bytes::from(vec![b'{'; 64 * 1024]);
    futures::stream::repeat_with(move || Ok(chunk.clone()))
}

fn ut(url: String) -> UpperTester {
    UpperTester::from_config(&UpperTesterConfig::Http { url }, Path::new(".")).unwrap()
}

fn req(action: &str) -> UtRequest {
    UtRequest { action: action.into(), case: "TC-DMC-SESS-001".into(), step: 2, args: json!({"moid": "urn:x"}) }
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn done_answer_carries_the_request_and_correlation_headers() {
    let base = serve().await;
    let a = ut(format!("{base}/done")).call(&req("config.request"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Done);
    assert_eq!(
        a.data["request"],
        json!({"action": "config.request", "case": "TC-DMC-SESS-001", "step": 2, "args": {"moid": "urn:x"}})
    );
    assert_eq!(a.data["case_header"], "TC-DMC-SESS-001");
    assert_eq!(a.data["step_header"], "2");
}

#[tokio::test]
async fn error_status_with_a_valid_answer_body_is_the_answer() {
    let base = serve().await;
    let a = ut(format!("{base}/unsupported")).call(&req("session.start"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Unsupported);
    assert_eq!(a.message, "no SMS");
}

#[tokio::test]
async fn garbage_and_wrong_shape_are_bad_answers_saying_what_was_expected() {
    let base = serve().await;
    match ut(format!("{base}/garbage")).call(&req("reset"), T).await {
        Err(UtError::BadAnswer(m)) => {
            assert!(m.contains("not JSON") && m.contains("\"status\"") && m.contains("<html>"))
        }
        other => panic!("expected BadAnswer, got {other:?}"),
    }
    match ut(format!("{base}/wrong-shape")).call(&req("reset"), T).await {
        Err(UtError::BadAnswer(m)) => assert!(m.contains("wrong shape") && m.contains("done"), "{m}"),
        other => panic!("expected BadAnswer, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_over_the_limit_are_bad_answers_quoting_only_a_prefix() {
    let base = serve().await;
    let limit = dmcts::upper_tester::MAX_ANSWER_BYTES;
    for path in ["/huge", "/endless"] {
        match ut(format!("{base}{path}")).call(&req("reset"), T).await {
            Err(UtError::BadAnswer(m)) => {
                assert!(m.contains(&format!("answer larger than {limit} bytes")), "{path}: {}", &m[..m.len().min(300)]);
                assert!(m.len() < 1000, "{path}: only a prefix is quoted ({} bytes)", m.len());
            }
            other => panic!("{path}: expected BadAnswer, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn error_status_without_an_answer_is_a_transport_error_naming_the_status() {
    let base = serve().await;
    match ut(format!("{base}/broken")).call(&req("reset"), T).await {
        Err(UtError::Transport(m)) => assert!(m.contains("500") && m.contains("internal error"), "{m}"),
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[tokio::test]
async fn nobody_listening_is_a_transport_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = ut(format!("http://127.0.0.1:{port}/ut")).call(&req("reset"), T).await;
    assert!(matches!(r, Err(UtError::Transport(_))), "{r:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_bound() {
    let base = serve().await;
    let started = Instant::now();
    let r = ut(format!("{base}/hang")).call(&req("reset"), Duration::from_millis(300)).await;
    assert_eq!(r, Err(UtError::Timeout { after_ms: 300 }));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn one_upper_tester_serves_many_tasks() {
    let base = serve().await;
    let u = ut(format!("{base}/done"));
    let calls = (0..16).map(|i| {
        let u = u.clone();
        tokio::spawn(async move {
            let r = UtRequest { action: "reset".into(), case: format!("TC-{i}"), step: i, args: json!({}) };
            u.call(&r, T).await.unwrap().data["request"]["step"].as_u64()
        })
    });
    let steps: Vec<_> = futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(steps, (0..16).map(Some).collect::<Vec<_>>());
}

#[test]
fn https_and_malformed_urls_are_configuration_errors() {
    for url in ["https://127.0.0.1/ut", "not a url"] {
        let r = UpperTester::from_config(&UpperTesterConfig::Http { url: url.into() }, Path::new("."));
        assert!(matches!(r, Err(UtError::Config(_))), "{url}: {r:?}");
    }
}
