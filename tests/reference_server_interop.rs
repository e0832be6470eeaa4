//! The two reference peers against each other over 127.0.0.1: a notification opens a session
//! that runs two rounds (a queued CONT to the server's second endpoint, then END), and an EXEC
//! with a ServerURI comes back later as an asynchronous result.
use dmcts::reference::client::{self, ClientConfig};
use dmcts::reference::server::{self, ServerConfig, DEFAULT_SERVER_ID};
use dmcts::upper_tester::{UtAnswer, UtRequest, UtStatus};
use dmcts::wire::dm2::{ALERT_CLIENT_INITIATED, ALERT_SERVER_INITIATED};
use serde_json::{json, Value};

fn req(action: &str, args: Value) -> UtRequest {
    UtRequest { action: action.into(), case: "interop".into(), step: 1, args }
}

fn done(a: UtAnswer) -> Value {
    assert_eq!(a.status, UtStatus::Done, "{}", a.message);
    a.data
}

#[tokio::test]
async fn reference_client_runs_a_full_session_with_the_reference_server() {
    let srv = server::spawn(ServerConfig::new()).await.unwrap();
    let mut cc = ClientConfig::new(srv.dm_url.clone());
    cc.server_id = DEFAULT_SERVER_ID.into();
    let cli = client::spawn(cc).await.unwrap();
    let dev = client::DEFAULT_DEV_ID;

    done(
        srv.ut(req(
            "device.register",
            json!({ "dev_id": dev, "credentials": null,
                "notification": { "address": cli.notify_url, "secret": "test-noti-secret", "auth_data": "test-noti-authdata" } }),
        ))
        .await,
    );
    let op = "urn:oma:mo:dmcts-test:1.0/t0/Op";
    done(
        srv.ut(req(
            "commands.enqueue",
            json!({ "dev_id": dev, "commands": [["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"], ["EXEC", op, srv.dm_url], ["CONT"]] }),
        ))
        .await,
    );
    done(
        srv.ut(req(
            "commands.enqueue",
            json!({ "dev_id": dev, "commands": [["DELETE", "urn:oma:mo:dmcts-test:1.0/t1/"]] }),
        ))
        .await,
    );
    let sent = done(srv.ut(req("notification.send", json!({ "dev_id": dev, "req_mos": true }))).await);
    assert_eq!(sent["http_status"], 204);

    // Client first (its async-result session included), then the server.
    done(cli.ut(req("idle", json!({}))).await);
    done(srv.ut(req("idle", json!({}))).await);

    let r = done(srv.ut(req("device.report", json!({ "dev_id": dev }))).await);
    assert_eq!(r["errors"], json!([]), "{r:#}");
    let sessions = r["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{r:#}");
    assert_eq!(sessions[0]["alert_type"], ALERT_SERVER_INITIATED);
    assert_eq!(sessions[0]["notification_id"], sent["notification_id"]);
    assert_eq!(sessions[0]["package2"], 2);
    assert_eq!(sessions[0]["end"], "END sent");
    assert_eq!(sessions[1]["alert_type"], ALERT_CLIENT_INITIATED);
    assert!(r["package1"][0]["MOS"].is_array(), "REQ-MOS was asked for");
    let statuses = &r["statuses"];
    assert_eq!(statuses.as_array().unwrap().len(), 1, "no Package#3 after END: {statuses}");
    let codes: Vec<_> = statuses[0].as_array().unwrap().iter().map(|s| s["sc"].clone()).collect();
    assert_eq!(codes, vec![json!(200), json!(202), json!(200)]);
    assert!(statuses[0][0]["MOS"].is_array(), "GET data: {statuses}");
    assert_eq!(r["exec_results"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(r["exec_results"][0]["alert"]["SourceURI"], op);
    assert_eq!(r["status_count_mismatches"], json!([]));

    cli.shutdown().await;
    srv.shutdown().await;
}
