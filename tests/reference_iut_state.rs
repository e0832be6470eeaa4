//! The reference peers answer the optional `iut.state` action from their own state, over their
//! real `POST /ut` endpoint on 127.0.0.1: `idle` with nothing in progress, `running` while a
//! session is open.
use dmcts::reference::client::{spawn as spawn_client, ClientConfig};
use dmcts::reference::server::{spawn as spawn_server, ServerConfig};
use dmcts::upper_tester::{IutState, UpperTester, UpperTesterConfig, UtRequest};
use dmcts::wire::dm2::{ALERT_CLIENT_INITIATED, HEADER_DEVID, MEDIA_PACKAGE1, MEDIA_PACKAGE2};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn ut(url: &str) -> UpperTester {
    UpperTester::from_config(&UpperTesterConfig::Http { url: url.into() }, Path::new(".")).unwrap()
}

async fn call(u: &UpperTester, action: &str, args: Value) -> dmcts::upper_tester::UtAnswer {
    u.call(&UtRequest { action: action.into(), case: "TC-X".into(), step: 1, args }, T).await.unwrap()
}

async fn state(u: &UpperTester) -> Option<IutState> {
    call(u, "iut.state", json!({})).await.iut_state()
}

#[tokio::test]
async fn the_reference_client_is_idle_then_running_while_its_server_holds_the_session() {
    // A DM server that holds Package#1 for a long time: the client's session stays in progress.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dm = format!("http://{}/dm", tcp.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        "late"
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(tcp, app).await;
    });
    let c = spawn_client(ClientConfig::new(dm)).await.unwrap();
    let u = ut(&c.ut_url);
    assert_eq!(state(&u).await, Some(IutState::Idle));
    call(&u, "session.start", json!({})).await;
    let mut seen = None;
    for _ in 0..200 {
        seen = state(&u).await;
        if seen == Some(IutState::Running) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen, Some(IutState::Running));
    call(&u, "reset", json!({})).await;
    assert_eq!(state(&u).await, Some(IutState::Idle));
    c.shutdown().await;
    server.abort();
}

#[tokio::test]
async fn the_reference_server_is_running_while_a_device_session_is_open() {
    let srv = spawn_server(ServerConfig::new()).await.unwrap();
    let u = ut(&srv.ut_url);
    assert_eq!(state(&u).await, Some(IutState::Idle));
    let dev = "IMEI:359881000000017";
    call(&u, "device.register", json!({ "dev_id": dev, "credentials": null, "notification": null })).await;
    // A queued CONT: the Package#2 answering Package#1 cannot end the session.
    for cmds in [
        json!([["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"], ["CONT"]]),
        json!([["GET", "urn:oma:mo:oma-dm-devinfo:1.0//DevID"]]),
    ] {
        call(&u, "commands.enqueue", json!({ "dev_id": dev, "commands": cmds })).await;
    }
    let p1 = json!({ "Alert": [{ "AlertType": ALERT_CLIENT_INITIATED }] }).to_string();
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(&srv.dm_url)
        .header("content-type", MEDIA_PACKAGE1)
        .header("accept", MEDIA_PACKAGE2)
        .header(HEADER_DEVID, dev)
        .body(p1)
        .timeout(T)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(state(&u).await, Some(IutState::Running));
    call(&u, "reset", json!({})).await;
    assert_eq!(state(&u).await, Some(IutState::Idle));
    srv.shutdown().await;
}
