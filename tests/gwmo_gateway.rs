//! GwMO gateway cases the way a vendor meets them (issue 12): `dmcts run --ics FILE` against a
//! DM Gateway on loopback, with the suite's End Devices behind it. The gateway here is the
//! reference gateway as its own process (`dmcts reference gateway`), and in-process in lawful
//! variations the reference does not use by default: one End Device at a time, the aggregate in
//! reverse order, the alerts' SourceURI naming the instance; and with a group of 2,000 devices.
//! A faulty gateway (a device left out of the aggregate) fails on GWMO-008-C-M only. The SyncML
//! DM 1.2 gateway cases (TC-GW12-*) run the same way against the reference DM 1.2 client, a DM
//! Gateway too, as its own process (`dmcts reference dm12-client`) through a DM 1.2 ICS.
#[path = "fakes/client_run.rs"]
#[allow(dead_code)]
mod client_run;
use client_run::{dmcts, free_port, scratch};
use dmcts::reference::gwmo;

const CASES: [&str; 3] = ["TC-GW-001", "TC-GW-002", "TC-GW-003"];

fn ics(listen: u16, ut_url: &str, devices: usize) -> String {
    format!(
        r#"
[iut]
role = "client"
vendor = "Vendor"
product = "home gateway"
version = "1"
implements = ["GWMO"]

[support]
"DM-PACK-002-C-O" = false
"DM-PACK-007-C-O" = false
"DM-PACK-008-C-O" = false
"DM-PACK-009-C-O" = false
"DM-PACK-019-C-O" = false
"DM-PACK-020-C-O" = false
"DM-PACK-023-C-O" = false

[pixit.suite]
server_url = "http://127.0.0.1:{listen}/dm"

[pixit.iut]
dev_id = "{dev_id}"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.timeouts]
step_ms = 20000
case_ms = 60000
quiet_period_ms = 300

[pixit.mo]
gw_image_uri = "urn:oma:mo:oma-gwmo-imageinventory:1.0/fw-pack/"
gw_fanout_uri = "urn:oma:mo:oma-gwmo-fanout:1.0/campaign-7/"
gw_end_devices = "{devices}"
"#,
        dev_id = gwmo::DEFAULT_DEV_ID
    )
}

/// Runs the GwMO client cases through an ICS; (exit code, output, run.json).
fn run_ics(tag: &str, listen: u16, ut_url: &str, devices: usize) -> (Option<i32>, String, serde_json::Value) {
    let dir = scratch(tag);
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics(listen, ut_url, devices)).unwrap();
    let reports = dir.join("reports");
    let (code, text) =
        dmcts(&["run", "--ics", path.to_str().unwrap(), "--report-dir", reports.to_str().unwrap(), "--", "TC-GW-"]);
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(reports.join("run.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (code, text, run)
}

fn verdicts(run: &serde_json::Value) -> Vec<(String, String, String)> {
    run["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("TC-GW-"))
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
                c["reason"]["scr"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn in_process(
    tag: &str,
    devices: usize,
    tune: impl FnOnce(&mut gwmo::GatewayConfig),
) -> (Option<i32>, String, serde_json::Value) {
    let listen = free_port();
    let mut cfg = gwmo::GatewayConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    tune(&mut cfg);
    let gw = gwmo::spawn(cfg).await.unwrap();
    let ut = gw.ut_url.clone();
    let tag = tag.to_string();
    let out = tokio::task::spawn_blocking(move || run_ics(&tag, listen, &ut, devices)).await.unwrap();
    gw.shutdown().await;
    out
}

#[test]
fn the_reference_gateway_as_its_own_process_passes_through_an_ics() {
    let (listen, gw_port) = (free_port(), free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["reference", "gateway", "--listen", &format!("127.0.0.1:{gw_port}")])
        .args(["--server-url", &format!("http://127.0.0.1:{listen}/dm")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Bounded wait for its upper tester to listen.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", gw_port)).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, text, run) = run_ics("gw-process", listen, &format!("http://127.0.0.1:{gw_port}/ut"), 100);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, Some(0), "{text}");
    let v = verdicts(&run);
    assert_eq!(v.len(), CASES.len(), "{text}");
    assert!(v.iter().all(|(_, verdict, _)| verdict == "pass"), "{v:?}\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_fans_out_one_device_at_a_time_and_reports_in_reverse_passes() {
    let (code, text, run) = in_process("gw-variant", 50, |c| {
        c.fanout_window = 1;
        c.variant = gwmo::Variant { reverse_results: true, instance_source: true };
    })
    .await;
    assert_eq!(code, Some(0), "{text}");
    assert!(verdicts(&run).iter().all(|(_, v, _)| v == "pass"), "{:?}", verdicts(&run));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_end_devices_are_each_reached_and_judged() {
    let (code, text, run) = in_process("gw-2000", 2000, |_| {}).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(verdicts(&run).iter().all(|(_, v, _)| v == "pass"), "{:?}", verdicts(&run));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_leaves_a_device_out_of_the_aggregate_fails_on_that_item_only() {
    let (code, text, run) = in_process("gw-missing", 20, |c| {
        c.faults = ["client.gw-missing-device".to_string()].into();
    })
    .await;
    assert_ne!(code, Some(0), "{text}");
    let v = verdicts(&run);
    assert!(v.iter().any(|(id, verdict, _)| id == "TC-GW-001" && verdict == "pass"), "{v:?}");
    for (id, verdict, scr) in v.iter().filter(|(id, _, _)| id != "TC-GW-001") {
        assert_eq!((verdict.as_str(), scr.as_str()), ("fail", "GWMO-008-C-M"), "{id}: {text}");
    }
    // The failure names the device that is missing.
    assert!(text.contains("ED-A-00020"), "{text}");
}

/// A DM 1.2 gateway's ICS: binding dm12, GWMO implemented, its GwMO instances renamed.
fn ics12(listen: u16, ut_url: &str, devices: usize) -> String {
    format!(
        r#"
[iut]
role = "client"
vendor = "Vendor"
product = "home gateway (SyncML DM 1.2)"
version = "1"
binding = "dm12"
implements = ["GWMO"]

[support]
"ICS-DM12C-WBXML" = true
"DM12-022-C-O" = false
"DM12-024-C-O" = false
"DM12-028-C-O" = false
"DM12-037-C-O" = false
"DM12-041-C-O" = true
"DM12-042-C-O" = false

[pixit.suite]
server_url = "http://127.0.0.1:{listen}/dm"

[pixit.iut]
dev_id = "{dev_id}"

[pixit.account]
server_id = "dmcts"
username = "{user}"
password = "{password}"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.timeouts]
step_ms = 20000
case_ms = 60000
quiet_period_ms = 300

[pixit.mo]
dm12_gw_image_uri = "./GWMO/ImageInventory/fw-pack/"
dm12_gw_fanout_uri = "./GWMO/Fanout/campaign-7/"
gw_end_devices = "{devices}"
"#,
        dev_id = dmcts::reference::dm12::client::DEFAULT_DEV_ID,
        user = dmcts::reference::dm12::client::DEFAULT_USERNAME,
        password = dmcts::reference::dm12::client::DEFAULT_PASSWORD,
    )
}

/// Runs the DM 1.2 gateway cases through `ics12`; (exit code, output, [(case, verdict, item)]).
fn run_ics12(
    tag: &str,
    listen: u16,
    ut_url: &str,
    devices: usize,
) -> (Option<i32>, String, Vec<(String, String, String)>) {
    let dir = scratch(tag);
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics12(listen, ut_url, devices)).unwrap();
    let reports = dir.join("reports");
    let (code, text) =
        dmcts(&["run", "--ics", path.to_str().unwrap(), "--report-dir", reports.to_str().unwrap(), "--", "TC-GW12-"]);
    let run: serde_json::Value = std::fs::read(reports.join("run.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    let v = run["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["id"].as_str().unwrap().starts_with("TC-GW12-"))
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
                c["reason"]["scr"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (code, text, v)
}

/// The DM 1.2 gateway cases (and their WBXML variants, which the ICS makes apply) all ran.
fn all_ran(v: &[(String, String, String)]) -> bool {
    ["TC-GW12-001", "TC-GW12-002", "TC-GW12-003", "TC-GW12-WBXML-003"]
        .iter()
        .all(|c| v.iter().any(|(id, _, _)| id == c))
}

#[test]
fn the_reference_dm12_gateway_as_its_own_process_passes_through_the_example_ics() {
    let (listen, gw_port) = (free_port(), free_port());
    // The device examples/ics-gwmo-dm12-gateway.toml describes: its DevId and account.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["reference", "dm12-client", "--listen", &format!("127.0.0.1:{gw_port}")])
        .args(["--server-uri", &format!("http://127.0.0.1:{listen}/dm")])
        .args(["--dev-id", "IMEI:490154203237599", "--username", "acme-gateway", "--password", "client-secret"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", gw_port)).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let example = std::fs::read_to_string("examples/ics-gwmo-dm12-gateway.toml").unwrap();
    let ics = example
        .replace("http://192.168.1.10:9988/dm", &format!("http://127.0.0.1:{listen}/dm"))
        .replace("0.0.0.0:9988", &format!("127.0.0.1:{listen}"))
        .replace("http://192.168.1.1:9000/ut", &format!("http://127.0.0.1:{gw_port}/ut"));
    assert_eq!(ics.matches("127.0.0.1").count(), 3, "the example names the addresses this test replaces");
    let dir = scratch("gw12-process");
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics).unwrap();
    let reports = dir.join("reports");
    let (code, text) =
        dmcts(&["run", "--ics", path.to_str().unwrap(), "--report-dir", reports.to_str().unwrap(), "--", "TC-GW12-"]);
    let _ = child.kill();
    let _ = child.wait();
    let run: serde_json::Value = std::fs::read(reports.join("run.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "{text}");
    let ran: Vec<(&str, &str)> = run["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["id"].as_str().unwrap_or_default().starts_with("TC-GW12-") && c["verdict"] != "not-applicable")
        .map(|c| (c["id"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    for id in ["TC-GW12-001", "TC-GW12-002", "TC-GW12-003"] {
        assert!(ran.contains(&(id, "pass")), "{id}: {ran:?}\n{text}");
    }
}

/// The reference DM 1.2 client in-process with `tune` applied, through the DM 1.2 ICS.
async fn in_process12(
    tag: &str,
    devices: usize,
    tune: impl FnOnce(&mut dmcts::reference::dm12::client::Dm12ClientConfig),
) -> (Option<i32>, String, Vec<(String, String, String)>) {
    let listen = free_port();
    let mut cfg = dmcts::reference::dm12::client::Dm12ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    tune(&mut cfg);
    let gw = dmcts::reference::dm12::client::spawn(cfg).await.unwrap();
    let ut = gw.ut_url.clone();
    let tag = tag.to_string();
    let out = tokio::task::spawn_blocking(move || run_ics12(&tag, listen, &ut, devices)).await.unwrap();
    gw.shutdown().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm12_gateway_with_alerts_after_devinfo_an_instance_source_and_a_reversed_aggregate_passes() {
    let (code, text, v) = in_process12("gw12-variant", 30, |c| {
        c.variant = dmcts::reference::dm12::client::Variant {
            generic_alerts_last: true,
            reverse_results: true,
            instance_source: true,
        };
    })
    .await;
    assert_eq!(code, Some(0), "{text}");
    assert!(all_ran(&v), "{v:?}\n{text}");
    assert!(v.iter().all(|(_, verdict, _)| verdict == "pass"), "{v:?}\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm12_gateway_that_reports_silent_devices_as_successes_fails_on_that_item_only() {
    let (code, text, v) = in_process12("gw12-as-success", 20, |c| {
        c.faults = ["client.gw12-failed-as-success".to_string()].into();
    })
    .await;
    assert_ne!(code, Some(0), "{text}");
    for (id, verdict, scr) in &v {
        match id.as_str() {
            "TC-GW12-003" | "TC-GW12-WBXML-003" => {
                assert_eq!((verdict.as_str(), scr.as_str()), ("fail", "GWMO-009-C-M"), "{text}")
            }
            _ => assert_eq!(verdict, "pass", "{id}: {text}"),
        }
    }
    // The failure names a device that never answered.
    assert!(text.contains("ED-A-00001"), "{text}");
}

#[test]
fn the_gwmo_examples_load_and_implement_the_table() {
    for f in [
        "examples/ics-gwmo-gateway.toml",
        "examples/ics-gwmo-server.toml",
        "examples/ics-gwmo-dm12-gateway.toml",
        "examples/ics-gwmo-dm12-server.toml",
    ] {
        let ics = dmcts::ics::Ics::load(std::path::Path::new(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(ics.iut.implements.iter().any(|t| t == "GWMO"), "{f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_dm12_end_devices_are_each_reached_and_judged() {
    let (code, text, v) = in_process12("gw12-2000", 2000, |_| {}).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(all_ran(&v) && v.iter().all(|(_, verdict, _)| verdict == "pass"), "{v:?}\n{text}");
}
