//! The vendor's path end to end: `dmcts run --ics FILE` against an IUT described by an ICS file,
//! exactly as a vendor runs it. The bundled reference peers play the vendor's IUT here,
//! started separately on loopback, with the suite on its own fixed port.
use dmcts::reference::{client, server};
use std::process::Command;

/// A free loopback port (released before use: the suite binds it itself).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run_ics(ics: &str, tag: &str, role: &str) -> (Option<i32>, String, serde_json::Value) {
    let dir = std::env::temp_dir().join(format!("dmcts-vendor-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["run", "--ics", path.to_str().unwrap(), "--role", role, "--report-dir"])
        .arg(dir.join("reports"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let cov = std::fs::read(dir.join("reports/coverage.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.code(), text, cov)
}

fn server_ics(dm_url: &str, ut_url: &str, listen: u16, delivery: &str) -> String {
    format!(
        r#"
[iut]
role = "server"
vendor = "dmcts"
product = "reference server as a vendor IUT"
version = "test"

[pixit.suite]
listen = "127.0.0.1:{listen}"

[pixit.iut]
server_uri = "{dm_url}"
dev_id = "IMEI:359881000000017"

[pixit.account]
server_id = "{server_id}"

[pixit.notification]
secret = "vendor-secret"
auth_data = "vendor-auth-data"
server_delivery = "{delivery}"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.timeouts]
step_ms = 3000
case_ms = 20000
quiet_period_ms = 200
"#,
        server_id = server::DEFAULT_SERVER_ID
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_iut_passes_every_server_case_through_an_ics_file() {
    let srv = server::spawn(server::ServerConfig::new()).await.unwrap();
    for delivery in ["listener", "upper-tester"] {
        let ics = server_ics(&srv.dm_url, &srv.ut_url, free_port(), delivery);
        let (code, text, cov) = tokio::task::spawn_blocking(move || run_ics(&ics, "server", "server")).await.unwrap();
        assert_eq!(code, Some(0), "server_delivery = {delivery}\n{text}");
        let items = cov["items"].as_array().unwrap();
        // The seed's server items (tables the ICS does not implement are not applicable).
        let server_items: Vec<_> = items
            .iter()
            .filter(|i| i["role"] == "server" && i["id"].as_str().unwrap().starts_with("DM-PACK-"))
            .collect();
        assert_eq!(server_items.len(), 26);
        assert!(server_items.iter().all(|i| i["verdict"] == "pass"), "{cov}");
        // A server IUT's ICS makes the client items not applicable, with the reason.
        let client_item = items.iter().find(|i| i["id"] == "DM-PACK-011-C-M").unwrap();
        assert_eq!(client_item["verdict"], "not-applicable");
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_iut_passes_every_client_case_through_an_ics_file() {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    // Provision it as the example ICS declares the vendor's device.
    cfg.dev_id = "IMEI:490154203237518".into();
    cfg.noti = Some(dmcts::wire::dm2::notification::NotificationCredentials {
        secret: b"example-secret".to_vec(),
        auth_data: b"example-auth-data".to_vec(),
    });
    let cl = client::spawn(cfg).await.unwrap();
    let src = std::fs::read_to_string("examples/ics-client.toml").unwrap();
    // The example describes the reference client; point it at this instance.
    let ics = src
        .lines()
        .map(|l| {
            if l.starts_with("listen = ") {
                format!("listen = \"127.0.0.1:{listen}\"")
            } else if l.starts_with("server_url = ") {
                format!("server_url = \"http://127.0.0.1:{listen}/dm\"")
            } else if l.starts_with("url = ") && l.contains("/ut") {
                format!("url = \"{}\"", cl.ut_url)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (code, text, cov) = tokio::task::spawn_blocking(move || run_ics(&ics, "client", "client")).await.unwrap();
    cl.shutdown().await;
    assert_eq!(code, Some(0), "{text}");
    let client_items: Vec<_> = cov["items"].as_array().unwrap().iter().filter(|i| i["role"] == "client").collect();
    assert!(client_items.iter().all(|i| i["verdict"] == "pass" || i["verdict"] == "not-applicable"), "{cov}");
}
