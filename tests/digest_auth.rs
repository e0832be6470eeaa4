//! HTTP Digest (RFC 7616) both directions on 127.0.0.1: the reference server challenges and
//! verifies (a wrong password gets 401 again, a nonce it never issued too); the suite as DM
//! server challenges a client IUT and as DM client answers a server IUT (the DM-SEC cases
//! against the reference peers, clean and with their faults).
use dmcts::reference::server::{spawn, ServerConfig};
use dmcts::upper_tester::{UtRequest, UtStatus};
use dmcts::wire::dm2::{ALERT_CLIENT_INITIATED, HEADER_DEVID, MEDIA_PACKAGE1, MEDIA_PACKAGE2};
use dmcts::wire::http_auth::{basic_header, Challenge};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const DEV: &str = "IMEI:359881000000017";

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn post(url: &str, auth: Option<&str>) -> reqwest::Response {
    let body = json!({ "Alert": [{ "AlertType": ALERT_CLIENT_INITIATED }] }).to_string();
    let mut rb = http()
        .post(url)
        .header("content-type", MEDIA_PACKAGE1)
        .header("accept", MEDIA_PACKAGE2)
        .header(HEADER_DEVID, DEV)
        .body(body);
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    rb.send().await.unwrap()
}

fn challenges(r: &reqwest::Response) -> Vec<String> {
    r.headers().get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect()
}

#[tokio::test]
async fn the_reference_server_challenges_with_digest_and_verifies_the_answer() {
    let srv = spawn(ServerConfig::new()).await.unwrap();
    let reg = srv
        .ut(UtRequest {
            action: "device.register".into(),
            case: "t".into(),
            step: 1,
            args: json!({ "dev_id": DEV, "credentials": { "username": "dev", "password": "pw" }, "notification": null }),
        })
        .await;
    assert_eq!(reg.status, UtStatus::Done, "{}", reg.message);
    let path = reqwest::Url::parse(&srv.dm_url).unwrap().path().to_string();

    let first = post(&srv.dm_url, None).await;
    assert_eq!(first.status(), 401);
    let offered = challenges(&first);
    let c = Challenge::pick(offered.iter().map(String::as_str)).unwrap().expect("a Digest challenge");
    assert_eq!(c.algorithm.name(), "SHA-256");
    assert_eq!(c.realm, "dmcts-ref-server");

    // A wrong password: 401 again, with a fresh challenge.
    let wrong = c.answer("POST", &path, "dev", "not-pw", "cnonce-1", 1).header();
    let r = post(&srv.dm_url, Some(&wrong)).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("wrong credentials"));

    // A nonce the server never issued is refused even with the right password.
    let mut forged = c.clone();
    forged.nonce = "not-issued".into();
    let r = post(&srv.dm_url, Some(&forged.answer("POST", &path, "dev", "pw", "cnonce-2", 1).header())).await;
    assert_eq!(r.status(), 401);

    let right = c.answer("POST", &path, "dev", "pw", "cnonce-3", 1).header();
    let r = post(&srv.dm_url, Some(&right)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Basic is still accepted beside it.
    assert_eq!(post(&srv.dm_url, Some(&basic_header("dev", "pw"))).await.status(), 200);
    srv.shutdown().await;
}

fn dmcts(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().expect("dmcts runs")
}

fn run_sec(name: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let dir = std::env::temp_dir().join(format!("dmcts-digest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut args = vec!["run", "--against", "reference", "--scr", "DM-SEC-*", "--report-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = dmcts(&args);
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run.json")).expect("JSON");
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.code(), run)
}

fn case<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    run["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} in {run}"))
}

#[test]
fn digest_both_ways_against_the_reference_peers_and_each_fault_is_caught() {
    let (code, run) = run_sec("clean", &[]);
    assert_eq!(code, Some(0), "{run}");
    for id in ["TC-DMC-SEC-004", "TC-DMC-SEC-005", "TC-DMS-SEC-001", "TC-DMS-SEC-002"] {
        assert_eq!(case(&run, id)["verdict"], "pass", "{id}");
    }
    // Without --tls the certificate cases are not applicable, and say why.
    let na = case(&run, "TC-DMC-SEC-001");
    assert_eq!(na["verdict"], "not-applicable", "{na}");
    assert!(na["reason"].to_string().contains("ICS-DMC-TLS"), "{na}");

    // The suite as DM server: a client without Digest never answers the challenge.
    let (code, run) = run_sec("no-digest", &["--fault", "client.no-digest", "--role", "client"]);
    assert_eq!(code, Some(1));
    let c = case(&run, "TC-DMC-SEC-005");
    assert_eq!(c["verdict"], "fail");
    assert!(c["reason"].to_string().contains("no request answered the suite's Digest SHA-256 challenge"), "{c}");
    // A wrong password: Basic (sent unasked, then no retry) and the Digest answer fail, each
    // charged to its scheme's item; the Digest answer is verified and found wrong.
    let (_, run) = run_sec("wrong-pw", &["--fault", "client.auth-wrong-password", "--role", "client"]);
    let c = case(&run, "TC-DMC-SEC-004");
    assert_eq!((&c["verdict"], &c["reason"]["scr"]), (&json!("fail"), &json!("DM-SEC-C-002")), "{c}");
    let c = case(&run, "TC-DMC-SEC-005");
    assert_eq!((&c["verdict"], &c["reason"]["scr"]), (&json!("fail"), &json!("DM-SEC-C-003")), "{c}");
    assert!(c["reason"]["message"].as_str().unwrap().contains("with wrong credentials"), "{c}");

    // The suite as DM client: a server without Digest, and one that does not check credentials.
    let (_, run) = run_sec("srv-no-digest", &["--fault", "server.no-digest", "--role", "server"]);
    assert_eq!(case(&run, "TC-DMS-SEC-002")["verdict"], "fail");
    let (_, run) = run_sec("srv-open", &["--fault", "server.auth-not-required", "--role", "server"]);
    let c = case(&run, "TC-DMS-SEC-001");
    assert_eq!(c["verdict"], "fail");
    assert!(c["reason"].to_string().contains("401"), "{c}");
}
