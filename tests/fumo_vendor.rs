//! The FUMO client cases against a device that does what the spec allows and the reference
//! does not by default: its FUMO instance is called `fw-modem` (given by PIXIT mo.fumo_uri, as
//! a vendor would), and it reports each result alert in the Package#3 of the new session
//! rather than its Package#1 (the seed allows either). Run the way a vendor runs: `dmcts run
//! --ics FILE` against a client on loopback.
#[path = "fakes/client_run.rs"]
#[allow(dead_code)] // client_ics: this test writes an ICS that implements FUMO
mod client_run;
use client_run::{dmcts, free_port};
use dmcts::reference::client;

fn ics(listen: u16, ut_url: &str, fumo_uri: &str) -> String {
    format!(
        r#"
[iut]
role = "client"
vendor = "Vendor"
product = "modem firmware agent"
version = "1"
implements = ["FUMO"]

[support]
"DM-PACK-002-C-O" = true
"DM-PACK-007-C-O" = true
"DM-PACK-008-C-O" = true
"DM-PACK-009-C-O" = true
"DM-PACK-019-C-O" = true
"DM-PACK-020-C-O" = true
"DM-PACK-023-C-O" = true
"FUMO-010-C-O" = true
"FUMO-011-C-O" = true
"FUMO-012-C-O" = true
"FUMO-013-C-O" = true
"FUMO-014-C-O" = true
"FUMO-015-C-O" = true

[pixit.suite]
server_url = "http://127.0.0.1:{listen}/dm"

[pixit.iut]
dev_id = "{dev_id}"

[pixit.notification]
secret = "test-noti-secret"
auth_data = "test-noti-authdata"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.timeouts]
step_ms = 3000
case_ms = 20000
quiet_period_ms = 300

[pixit.mo]
fumo_uri = "{fumo_uri}"
"#,
        dev_id = client::DEFAULT_DEV_ID
    )
}

async fn run(tag: &str, fumo_uri: &str) -> (Option<i32>, String, serde_json::Value) {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.fumo_instance = "fw-modem".into();
    cfg.async_result_in_package3 = true;
    let cl = client::spawn(cfg).await.unwrap();
    let dir = client_run::scratch(tag);
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics(listen, &cl.ut_url, fumo_uri)).unwrap();
    let p = path.to_str().unwrap().to_string();
    let reports = dir.join("reports").to_str().unwrap().to_string();
    let (code, text) =
        tokio::task::spawn_blocking(move || dmcts(&["run", "--ics", &p, "--report-dir", &reports, "--", "TC-FUMO-C"]))
            .await
            .unwrap();
    cl.shutdown().await;
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("reports/run.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (code, text, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fumo_cases_pass_on_another_instance_name_and_results_in_package3() {
    let (code, text, run) = run("fumo-fw-modem", "urn:oma:mo:oma-fumo:1.0/fw-modem/").await;
    assert_eq!(code, Some(0), "{text}");
    let cases = run["cases"].as_array().unwrap();
    let fumo: Vec<_> = cases.iter().filter(|c| c["id"].as_str().unwrap().starts_with("TC-FUMO-C")).collect();
    assert_eq!(fumo.len(), 11, "{text}");
    for c in fumo {
        assert_eq!(c["verdict"], "pass", "{c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pixit_naming_an_instance_the_device_lacks_is_no_pass() {
    // The device has fw-modem only; the PIXIT names fw-main: nothing may pass by accident.
    let (code, text, run) = run("fumo-wrong-instance", "urn:oma:mo:oma-fumo:1.0/fw-main/").await;
    assert_ne!(code, Some(0), "{text}");
    let cases = run["cases"].as_array().unwrap();
    // C-009 reads the MOS only, which names no instance: every case that updates one fails.
    let updating = |c: &&serde_json::Value| {
        let id = c["id"].as_str().unwrap();
        id.starts_with("TC-FUMO-C") && id != "TC-FUMO-C-009"
    };
    assert!(cases.iter().filter(updating).all(|c| c["verdict"] != "pass"), "{text}");
}

#[test]
fn the_fumo_client_example_loads_and_implements_the_table() {
    let ics = dmcts::ics::Ics::load(std::path::Path::new("examples/ics-fumo-client.toml")).expect("the example loads");
    let text = format!("{ics:?}");
    assert!(text.contains("FUMO"), "{text}");
    assert!(text.contains("urn:oma:mo:oma-fumo:1.0/fw-modem/"), "{text}");
}
