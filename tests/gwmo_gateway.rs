//! GwMO gateway cases the way a vendor meets them (issue 12): `dmcts run --ics FILE` against a
//! DM Gateway on loopback, with the suite's End Devices behind it. The gateway here is the
//! reference gateway as its own process (`dmcts reference gateway`), and in-process in lawful
//! variations the reference does not use by default: one End Device at a time, the aggregate in
//! reverse order, the alerts' SourceURI naming the instance; and with a group of 2,000 devices.
//! A faulty gateway (a device left out of the aggregate) fails on GWMO-008-C-M only.
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
