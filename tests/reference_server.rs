//! The reference DM server over real sockets on 127.0.0.1, with reqwest playing the DM client
//! and a small axum app playing the device's notification listener.
use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::Engine;
use dmcts::reference::server::{spawn, RunningServer, ServerConfig, CONT_PATH_PREFIX};
use dmcts::upper_tester::{UtAnswer, UtStatus};
use dmcts::wire::dm2::notification::{
    NotificationCredentials, OPT_NOTIFICATION_ID, OPT_REQ_MOS, OPT_SERVER_ID, OPT_SHA256_DIGEST, OPT_TIMESTAMP,
};
use dmcts::wire::dm2::{
    Command, Notification, Package2, Profile, ALERT_CLIENT_INITIATED, HEADER_DEVID, MEDIA_PACKAGE1, MEDIA_PACKAGE2,
    MEDIA_PACKAGE3,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEV: &str = "IMEI:359881000000017";
const SECRET: &str = "test-noti-secret";
const AUTH: &str = "test-noti-authdata";

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn start(faults: &[&str]) -> RunningServer {
    let mut c = ServerConfig::new();
    c.faults = faults.iter().map(|s| s.to_string()).collect();
    spawn(c).await.unwrap()
}

async fn ut(srv: &RunningServer, action: &str, args: Value) -> UtAnswer {
    let r = http()
        .post(&srv.ut_url)
        .json(&json!({ "action": action, "case": "test", "step": 1, "args": args }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn ut_done(srv: &RunningServer, action: &str, args: Value) -> Value {
    let a = ut(srv, action, args).await;
    assert_eq!(a.status, UtStatus::Done, "{action}: {}", a.message);
    a.data
}

async fn register(srv: &RunningServer, extra: Value) {
    let mut args = json!({ "dev_id": DEV, "credentials": null,
        "notification": { "address": null, "secret": SECRET, "auth_data": AUTH } });
    if let (Value::Object(a), Value::Object(e)) = (&mut args, extra) {
        a.extend(e);
    }
    ut_done(srv, "device.register", args).await;
}

async fn enqueue(srv: &RunningServer, commands: Value) {
    ut_done(srv, "commands.enqueue", json!({ "dev_id": DEV, "commands": commands })).await;
}

async fn report(srv: &RunningServer) -> Value {
    ut_done(srv, "device.report", json!({ "dev_id": DEV })).await
}

struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    fn cmds(&self) -> Vec<Command> {
        Package2::parse(self.text.as_bytes()).unwrap_or_else(|e| panic!("not a Package#2 ({e}): {}", self.text)).cmd
    }
}

/// POSTs a package the way a DM client does; `headers` are added or override the defaults.
async fn post(url: &str, media: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut rb = http().post(url).header("content-type", media);
    for (name, default) in [("accept", MEDIA_PACKAGE2), (HEADER_DEVID, DEV)] {
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            rb = rb.header(name, default);
        }
    }
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.body(body.to_string()).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    Answer { status, content_type, headers, text: r.text().await.unwrap() }
}

fn p1_client_initiated(extra_alerts: Value) -> String {
    let mut alerts = vec![json!({ "AlertType": ALERT_CLIENT_INITIATED })];
    alerts.extend(extra_alerts.as_array().cloned().unwrap_or_default());
    json!({ "Alert": alerts }).to_string()
}

async fn p1(srv: &RunningServer, extra_alerts: Value) -> Answer {
    post(&srv.dm_url, MEDIA_PACKAGE1, &p1_client_initiated(extra_alerts), &[]).await
}

fn cont_uri(cmds: &[Command]) -> Option<String> {
    cmds.iter().find_map(|c| match c {
        Command::Cont { server_uri } => Some(server_uri.clone()),
        _ => None,
    })
}

#[tokio::test]
async fn a_queued_cont_splits_the_session_and_end_follows_the_queue() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, json!([["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"], ["CONT"]])).await;
    enqueue(&srv, json!([["DELETE", "urn:oma:mo:dmcts-test:1.0/t1/"]])).await;

    let a = p1(&srv, json!([])).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.content_type, MEDIA_PACKAGE2);
    let cmds = a.cmds();
    assert_eq!(cmds[0], Command::Get { client_uri: "urn:oma:mo:oma-dm-devinfo:1.0//FwV".into() });
    let cont = cont_uri(&cmds).expect("CONT to the second endpoint");
    assert_eq!(cmds.len(), 2, "the commands up to the queued CONT, no END: {cmds:?}");
    assert!(cont.starts_with(&format!("{}{CONT_PATH_PREFIX}", srv.base_url)), "{cont}");

    // After CONT, /dm is the wrong place for the Package#3.
    let p3 = json!({ "Status": [{ "sc": 200, "MOS": [] }, { "sc": 200 }] }).to_string();
    assert_eq!(post(&srv.dm_url, MEDIA_PACKAGE3, &p3, &[]).await.status, 400);

    let b = post(&cont, MEDIA_PACKAGE3, &p3, &[]).await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(b.cmds(), vec![Command::Delete { client_uri: "urn:oma:mo:dmcts-test:1.0/t1/".into() }, Command::End]);
    // The session ended with END: the CONT token is stale now.
    assert_eq!(post(&cont, MEDIA_PACKAGE3, &p3, &[]).await.status, 404);
    ut_done(&srv, "idle", json!({})).await;

    // Nothing queued: END at once.
    let c = p1(&srv, json!([])).await;
    assert_eq!(c.json(), json!({ "CMD": [["END"]] }));

    let r = report(&srv).await;
    assert_eq!(r["statuses"], json!([[{ "sc": 200, "MOS": [] }, { "sc": 200 }]]));
    assert_eq!(r["status_count_mismatches"], json!([]));
    assert_eq!(r["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(r["sessions"][0]["end"], "END sent");
    assert_eq!(r["sessions"][0]["package2"], 2);
    assert_eq!(r["sessions"][0]["package3"], 1);
    assert_eq!(r["package1"].as_array().unwrap().len(), 2);
    assert_eq!(r["session_open"], false);
    srv.shutdown().await;
}

#[tokio::test]
async fn status_count_mismatch_is_recorded() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, json!([["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"], ["CONT"]])).await;
    let cont = cont_uri(&p1(&srv, json!([])).await.cmds()).unwrap();
    let b = post(&cont, MEDIA_PACKAGE3, r#"{"Status":[{"sc":200}]}"#, &[]).await;
    assert_eq!(b.cmds(), vec![Command::End]);
    let r = report(&srv).await;
    assert_eq!(r["status_count_mismatches"], json!([{ "package3": 0, "expected": 2, "received": 1 }]));
    srv.shutdown().await;
}

#[tokio::test]
async fn calls_append_to_one_queue_and_one_package2_carries_it_all() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, json!([["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"]])).await;
    enqueue(&srv, json!([["DELETE", "urn:oma:mo:dmcts-test:1.0/t1/"]])).await;
    let a = p1(&srv, json!([])).await;
    assert_eq!(
        a.cmds(),
        vec![
            Command::Get { client_uri: "urn:oma:mo:oma-dm-devinfo:1.0//FwV".into() },
            Command::Delete { client_uri: "urn:oma:mo:dmcts-test:1.0/t1/".into() },
            Command::End
        ]
    );
    assert_eq!(report(&srv).await["queued_commands"], 0);
    srv.shutdown().await;
}

#[tokio::test]
async fn a_cont_with_its_own_uri_is_sent_as_given() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    // Back to the server's own DM URI: the session goes on there.
    enqueue(&srv, json!([["CONT", srv.dm_url], ["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"]])).await;
    let a = p1(&srv, json!([])).await;
    assert_eq!(a.cmds(), vec![Command::Cont { server_uri: srv.dm_url.clone() }]);
    let b = post(&srv.dm_url, MEDIA_PACKAGE3, r#"{"Status":[{"sc":200}]}"#, &[]).await;
    assert_eq!(b.cmds(), vec![Command::Get { client_uri: "urn:oma:mo:oma-dm-devinfo:1.0//FwV".into() }, Command::End]);
    srv.shutdown().await;
}

#[tokio::test]
async fn faults_around_cont_and_order() {
    let get = |u: &str| json!(["GET", format!("urn:oma:mo:oma-dm-devinfo:1.0//{u}")]);
    let cmd = |u: &str| Command::Get { client_uri: format!("urn:oma:mo:oma-dm-devinfo:1.0//{u}") };
    let queue = json!([get("DevID"), get("FwV"), ["CONT"], get("SwV")]);

    let srv = start(&["cont-ignored"]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, queue.clone()).await;
    assert_eq!(p1(&srv, json!([])).await.cmds(), vec![cmd("DevID"), cmd("FwV"), cmd("SwV"), Command::End]);
    srv.shutdown().await;

    let srv = start(&["cont-ends-session"]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, queue.clone()).await;
    let cmds = p1(&srv, json!([])).await.cmds();
    assert!(matches!(cmds[2], Command::Cont { .. }), "{cmds:?}");
    assert_eq!(cmds[3..], [cmd("SwV"), Command::End]);
    srv.shutdown().await;

    let srv = start(&["commands-reordered", "end-with-parameter"]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, queue).await;
    let cmds = p1(&srv, json!([])).await.cmds();
    assert_eq!(cmds[..2], [cmd("FwV"), cmd("DevID")]);
    let cont = cont_uri(&cmds).unwrap();
    let b = post(&cont, MEDIA_PACKAGE3, r#"{"Status":[{"sc":200},{"sc":200},{"sc":200}]}"#, &[]).await;
    assert_eq!(b.json(), json!({ "CMD": [["GET", "urn:oma:mo:oma-dm-devinfo:1.0//SwV"], ["END", "bye"]] }));
    srv.shutdown().await;
}

/// What the notification listener received: (Content-Type, body) per POST.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// The device's notification listener: records content type and body, answers 204.
async fn listener() -> (String, Received) {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |h: HeaderMap, b: Bytes| {
            let g = g.clone();
            async move {
                let ct = h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                g.lock().unwrap().push((ct, b.to_vec()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

fn creds() -> NotificationCredentials {
    NotificationCredentials { secret: SECRET.as_bytes().to_vec(), auth_data: AUTH.as_bytes().to_vec() }
}

async fn send_notification(srv: &RunningServer, args: Value) -> (Value, Vec<u8>) {
    let d = ut_done(srv, "notification.send", args).await;
    let bytes = base64::engine::general_purpose::STANDARD.decode(d["bytes_b64"].as_str().unwrap()).unwrap();
    (d, bytes)
}

#[tokio::test]
async fn notification_is_delivered_decodes_and_verifies() {
    let srv = start(&[]).await;
    let (url, got) = listener().await;
    register(&srv, json!({ "notification": { "address": url, "secret": SECRET, "auth_data": AUTH } })).await;
    let (d, bytes) = send_notification(&srv, json!({ "dev_id": DEV, "req_mos": true, "notification_id": 4660 })).await;
    assert_eq!(d["http_status"], 204);
    assert_eq!(d["notification_id"], 4660);
    let delivered = got.lock().unwrap().clone();
    assert_eq!(delivered, vec![(Profile::default().notification_media_type, bytes.clone())]);

    let n = Notification::decode(&bytes).unwrap();
    assert_eq!(n.version, 0x02);
    assert_eq!(n.option_count as usize, n.options.len());
    assert!(n.options_ascending());
    let f = n.fields().unwrap();
    assert_eq!(f.server_id, "dmcts-ref-server");
    assert_eq!(f.preferred_con_type, Some(0));
    assert_eq!(f.notification_id, Some(4660));
    assert!(f.req_mos && f.digest);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(f.timestamp.unwrap().abs_diff(now) < 60);
    assert_eq!(n.option(OPT_TIMESTAMP).unwrap().value.len(), 4);
    assert_eq!(n.verify_digest(&creds(), Profile::default().digest_order), Some(true));

    // Without an id: the counter; without req_mos: no REQ-MOS.
    let (d2, b2) = send_notification(&srv, json!({ "dev_id": DEV, "req_mos": false })).await;
    assert_eq!(d2["notification_id"], 1);
    let n2 = Notification::decode(&b2).unwrap();
    assert!(n2.option(OPT_REQ_MOS).is_none());
    assert_eq!(n2.fields().unwrap().notification_id, Some(1));
    srv.shutdown().await;
}

#[tokio::test]
async fn notification_without_address_is_returned_only() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    let (d, bytes) = send_notification(&srv, json!({ "dev_id": DEV, "req_mos": false })).await;
    assert!(d.get("http_status").is_none());
    let n = Notification::decode(&bytes).unwrap();
    assert_eq!(n.verify_digest(&creds(), Profile::default().digest_order), Some(true));
    // A device registered without notification credentials cannot be notified.
    ut_done(&srv, "device.register", json!({ "dev_id": "dev-2", "credentials": null, "notification": null })).await;
    let a = ut(&srv, "notification.send", json!({ "dev_id": "dev-2" })).await;
    assert_eq!(a.status, UtStatus::Failed);
    srv.shutdown().await;
}

#[tokio::test]
async fn negotiation_and_request_errors() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    let body = p1_client_initiated(json!([]));
    let url = srv.dm_url.clone();

    assert_eq!(post(&url, "text/plain", &body, &[]).await.status, 415);
    assert_eq!(post(&url, "application/json", &body, &[]).await.status, 415);
    let a = post(&url, MEDIA_PACKAGE1, &body, &[("accept", "text/html")]).await;
    assert_eq!(a.status, 406);
    let a =
        post(&url, MEDIA_PACKAGE1, &body, &[("accept", "application/vnd.oma.dm.request+json;q=0, text/html")]).await;
    assert_eq!(a.status, 406);
    // Wildcards admit Package#2; parameters on Content-Type are fine.
    let a = post(&url, "application/vnd.oma.dm.initiation+json; charset=utf-8", &body, &[("accept", "application/*")])
        .await;
    assert_eq!(a.status, 200, "{}", a.text);

    let a = post(&url, MEDIA_PACKAGE1, "{not json", &[]).await;
    assert_eq!(a.status, 400);
    let a = post(&url, MEDIA_PACKAGE1, r#"{"Alert":[{"Data":{}}]}"#, &[]).await;
    assert_eq!(a.status, 400);
    assert!(a.text.contains("/Alert/0/AlertType"), "{}", a.text);
    let a = post(&url, MEDIA_PACKAGE1, r#"{"MOS":[{"MIID":[1]}]}"#, &[]).await;
    assert!(a.status == 400 && a.text.contains("/MOS/0/MIID/0"), "{}", a.text);

    let a = post(&url, MEDIA_PACKAGE1, &body, &[(HEADER_DEVID, "IMEI:000")]).await;
    assert_eq!(a.status, 403);
    assert!(a.text.contains("not registered"), "{}", a.text);
    let r = http().post(&url).header("content-type", MEDIA_PACKAGE1).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 400, "no OMADM-DevID");

    let errors = report(&srv).await["errors"].as_array().unwrap().len();
    assert!(errors >= 6, "protocol errors are recorded: {errors}");
    srv.shutdown().await;
}

#[tokio::test]
async fn basic_auth_is_required_when_registered() {
    let srv = start(&[]).await;
    register(&srv, json!({ "credentials": { "username": "dev", "password": "pw" } })).await;
    let body = p1_client_initiated(json!([]));
    let a = post(&srv.dm_url, MEDIA_PACKAGE1, &body, &[]).await;
    assert_eq!(a.status, 401);
    // Basic and Digest are both offered (Digest first); tests/digest_auth.rs answers Digest.
    let challenges: Vec<&str> = a.headers.get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(challenges.iter().any(|c| c.starts_with("Basic ")), "{challenges:?}");
    assert!(challenges.iter().any(|c| c.starts_with("Digest ")), "{challenges:?}");
    let wrong = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("dev:nope"));
    assert_eq!(post(&srv.dm_url, MEDIA_PACKAGE1, &body, &[("authorization", &wrong)]).await.status, 401);
    let right = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("dev:pw"));
    assert_eq!(post(&srv.dm_url, MEDIA_PACKAGE1, &body, &[("authorization", &right)]).await.status, 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn unknown_alert_type_is_ignored_and_never_answered() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    let unknown = json!({ "AlertType": "urn:example:at:nobody:1.0:Knows", "Mark": "warning" });
    let known = json!({ "AlertType": "urn:oma:at:fumo:1.0:DownloadAndUpdate", "DataType": "int", "Data": { "r": 1 } });
    let a = p1(&srv, json!([unknown, known])).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({ "CMD": [["END"]] }), "no Status or other member for the alerts");
    let r = report(&srv).await;
    assert_eq!(r["ignored_alerts"], json!([unknown]));
    assert_eq!(r["alerts"], json!([known]));
    assert_eq!(r["errors"], json!([]));
    srv.shutdown().await;
}

#[tokio::test]
async fn async_exec_result_is_recorded() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    let op = "urn:oma:mo:dmcts-test:1.0/t0/Op";
    let async_uri = srv.dm_url.clone();
    enqueue(&srv, json!([["EXEC", op, async_uri], ["GET", "urn:oma:mo:dmcts-test:1.0/t0/OpCount"], ["CONT"]])).await;
    let cont = cont_uri(&p1(&srv, json!([])).await.cmds()).unwrap();
    let b = post(&cont, MEDIA_PACKAGE3, r#"{"Status":[{"sc":202},{"sc":200},{"sc":200}]}"#, &[]).await;
    assert_eq!(b.cmds(), vec![Command::End]);

    // Something else waits for the device; the result session must not consume it.
    enqueue(&srv, json!([["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"]])).await;
    let result = json!({ "AlertType": "urn:oma:at:dmcts-test:1.0:OpComplete", "SourceURI": op,
        "Mark": "informational", "DataType": "int", "Data": { "result": 200 } });
    let a = post(&async_uri, MEDIA_PACKAGE1, &p1_client_initiated(json!([result])), &[]).await;
    assert_eq!(a.json(), json!({ "CMD": [["END"]] }));
    let r = report(&srv).await;
    assert_eq!(r["exec_results"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["exec_results"][0]["alert"], result);
    assert_eq!(r["exec_results"][0]["exec"], json!(["EXEC", op, async_uri]));
    assert_eq!(r["queued_commands"], 1);
    srv.shutdown().await;
}

#[tokio::test]
async fn enqueue_validates_and_reset_forgets() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    let a = ut(&srv, "commands.enqueue", json!({ "dev_id": DEV, "commands": [["END"], ["HGET"]] })).await;
    assert_eq!(a.status, UtStatus::Failed);
    assert!(a.message.contains("/commands/1"), "{}", a.message);
    let a = ut(&srv, "commands.enqueue", json!({ "dev_id": "nobody", "commands": [] })).await;
    assert_eq!(a.status, UtStatus::Failed);
    ut_done(&srv, "reset", json!({})).await;
    assert_eq!(ut(&srv, "device.report", json!({ "dev_id": DEV })).await.status, UtStatus::Failed);
    assert_eq!(p1(&srv, json!([])).await.status, 403);
    assert_eq!(ut(&srv, "session.start", json!({})).await.status, UtStatus::Unsupported);
    srv.shutdown().await;
}

#[tokio::test]
async fn idle_waits_for_the_open_session() {
    let srv = start(&[]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, json!([["CONT"]])).await;
    let cont = cont_uri(&p1(&srv, json!([])).await.cmds()).unwrap();
    let idle = {
        let url = srv.ut_url.clone();
        tokio::spawn(async move {
            let r = http().post(url).json(&json!({ "action": "idle" })).send().await.unwrap();
            r.json::<UtAnswer>().await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!idle.is_finished(), "a session is open");
    post(&cont, MEDIA_PACKAGE3, r#"{"Status":[{"sc":200}]}"#, &[]).await;
    assert_eq!(idle.await.unwrap().status, UtStatus::Done);
    srv.shutdown().await;
}

// ---- faults: each changes what a DM client / notification listener / report observes ----

#[tokio::test]
async fn fault_p2_media_type_and_status_for_alert() {
    let srv = start(&["server.p2-media-type", "status-for-alert"]).await;
    register(&srv, json!({})).await;
    let a = p1(&srv, json!([{ "AlertType": "urn:oma:at:fumo:1.0:Update" }])).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type, "application/json");
    assert_eq!(a.json()["Status"], json!([{ "sc": 200 }, { "sc": 200 }]));
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_session_never_ended() {
    let srv = start(&["session-never-ended"]).await;
    register(&srv, json!({})).await;
    let a = p1(&srv, json!([])).await;
    assert_eq!(a.json(), json!({ "CMD": [] }));
    let b = post(&srv.dm_url, MEDIA_PACKAGE3, r#"{"Status":[]}"#, &[]).await;
    assert_eq!(b.json(), json!({ "CMD": [] }));
    assert_eq!(ut(&srv, "idle", json!({})).await.status, UtStatus::Failed);
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_cont_endpoint_dead_and_unknown_alert_rejected() {
    let srv = start(&["cont-endpoint-dead", "unknown-alert-rejected"]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, json!([["CONT"]])).await;
    let cont = cont_uri(&p1(&srv, json!([])).await.cmds()).unwrap();
    assert_eq!(post(&cont, MEDIA_PACKAGE3, r#"{"Status":[{"sc":200}]}"#, &[]).await.status, 404);
    let a = p1(&srv, json!([{ "AlertType": "urn:example:at:nobody:1.0:Knows" }])).await;
    assert_eq!(a.status, 400);
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_malformed_commands_and_p2() {
    let srv = start(&["cmd-hget-malformed", "cmd-default-malformed", "cmd-exec-malformed", "p2-malformed"]).await;
    register(&srv, json!({})).await;
    enqueue(
        &srv,
        json!([
            ["HGET", "http://repo/x"],
            ["DEFAULT", "urn:oma:mo:oma-fumo:1.0", "http://repo/d"],
            ["EXEC", "urn:x:1.0/a/Op"]
        ]),
    )
    .await;
    let a = p1(&srv, json!([])).await;
    assert_eq!(
        a.json(),
        json!({ "CMD": [["hget", "http://repo/x"], ["DEFAULT", "http://repo/d", "urn:oma:mo:oma-fumo:1.0"], ["EXEC"], ["END", 0]] })
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_reporting_not_recorded() {
    let srv = start(&["p3-statuses-not-recorded", "exec-result-not-recorded"]).await;
    register(&srv, json!({})).await;
    enqueue(&srv, json!([["EXEC", "urn:x:1.0/a/Op", "http://127.0.0.1:9/async"], ["CONT"]])).await;
    let cont = cont_uri(&p1(&srv, json!([])).await.cmds()).unwrap();
    assert_eq!(post(&cont, MEDIA_PACKAGE3, r#"{"Status":[{"sc":202},{"sc":200}]}"#, &[]).await.status, 200);
    let result = json!({ "AlertType": "urn:oma:at:dmcts-test:1.0:OpComplete", "SourceURI": "urn:x:1.0/a/Op" });
    assert_eq!(p1(&srv, json!([result])).await.status, 200);
    let r = report(&srv).await;
    assert_eq!(r["statuses"], json!([]));
    assert_eq!(r["exec_results"], json!([]));
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_no_415_no_406() {
    let srv = start(&["no-415", "no-406"]).await;
    register(&srv, json!({})).await;
    let body = p1_client_initiated(json!([]));
    assert_eq!(post(&srv.dm_url, "text/plain", &body, &[("accept", "text/html")]).await.status, 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn notification_faults_break_one_thing_each() {
    let order = Profile::default().digest_order;
    let check = |fault: &'static str, judge: fn(&Notification) -> bool| async move {
        let srv = start(&[fault]).await;
        register(&srv, json!({})).await;
        let (_, bytes) = send_notification(&srv, json!({ "dev_id": DEV, "req_mos": true, "notification_id": 7 })).await;
        let n = Notification::decode(&bytes).unwrap();
        assert!(judge(&n), "{fault}: {}", hex::encode(&bytes));
        srv.shutdown().await;
        n
    };
    let n = check("notification-wrong-ver", |n| n.version != 2).await;
    assert_eq!(n.verify_digest(&creds(), order), Some(true), "only VER is wrong");
    check("notification-oc-mismatch", |n| n.option_count as usize == n.options.len() + 1).await;
    let n = check("notification-no-server-id", |n| n.option(OPT_SERVER_ID).is_none()).await;
    assert_eq!(n.option_count as usize, n.options.len());
    assert!(n.options_ascending());
    assert_eq!(n.verify_digest(&creds(), order), Some(true), "only SERVER-ID is missing");
    check("notification-bad-con-type", |n| n.fields().unwrap().preferred_con_type == Some(4)).await;
    check("notification-no-notification-id", |n| n.option(OPT_NOTIFICATION_ID).is_none()).await;
    check("notification-bad-digest", |n| n.verify_digest(&creds(), Profile::default().digest_order) == Some(false))
        .await;
    check("notification-no-timestamp", |n| n.option(OPT_TIMESTAMP).is_none()).await;
    check("notification-req-mos-dropped", |n| n.option(OPT_REQ_MOS).is_none()).await;
    let n = check("notification-bad-con-type", |n| n.option(OPT_SHA256_DIGEST).is_some()).await;
    assert_eq!(n.verify_digest(&creds(), order), Some(true));

    // Never sent: no bytes, nothing delivered.
    let srv = start(&["notifications-never-sent"]).await;
    let (url, got) = listener().await;
    register(&srv, json!({ "notification": { "address": url, "secret": SECRET, "auth_data": AUTH } })).await;
    let d = ut_done(&srv, "notification.send", json!({ "dev_id": DEV })).await;
    assert!(d["bytes_b64"].is_null());
    assert!(got.lock().unwrap().is_empty());
    srv.shutdown().await;
}

#[tokio::test]
async fn unknown_fault_is_a_clear_error() {
    let mut c = ServerConfig::new();
    c.faults.insert("server.bogus".into());
    let e = spawn(c).await.err().expect("unknown fault refused").to_string();
    assert!(e.contains("server.no-406"), "{e}");
}
