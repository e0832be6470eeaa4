//! The SCOMO client cases accept what the spec allows and the reference client does not do by
//! default (issue 10): another package and node naming from the PIXIT, the deployed component
//! named by the device as it likes, the delivered package dropped once installed, the result
//! alert in the Package#3 of its session and a SourceURI naming the operation node by its
//! resolved ClientURI (profile `exec_result_source_uri = "same-moid"`). Run the way a vendor
//! meets it: `dmcts run --ics FILE` against a client on loopback.
#[path = "fakes/client_run.rs"]
mod client_run;
use client_run::{client_ics, dmcts, free_port};
use dmcts::reference::client;

const VENDOR_SCOMO: &str = r#"
scomo_uri = "urn:oma:mo:oma-scomo:1.0/sw-main/"
scomo_entry = "vendor-app"
scomo_package_id = "org.vendor.app"
scomo_package_data = "DMCTS-SCOMO-PACKAGE org.vendor.app 2.3"
scomo_corrupt_data = "vendor: truncated archive"

[profile]
exec_result_source_uri = "same-moid"
"#;

const SCOMO_SUPPORT: &str = r#"
"SCOMO-007-C-O" = true
"SCOMO-009-C-O" = true
"SCOMO-011-C-O" = true
"SCOMO-012-C-O" = true
"SCOMO-020-C-O" = true
"SCOMO-021-C-O" = true
"#;

const SCOMO_CASES: [&str; 10] = [
    "TC-DMC-SCOMO-001",
    "TC-DMC-SCOMO-002",
    "TC-DMC-SCOMO-003",
    "TC-DMC-SCOMO-004",
    "TC-DMC-SCOMO-005",
    "TC-DMC-SCOMO-006",
    "TC-DMC-SCOMO-007",
    "TC-DMC-SCOMO-008",
    "TC-DMC-SCOMO-009",
    "TC-DMC-SCOMO-010",
];

async fn run(
    variant: client::scomo::Variant,
    tag: &str,
    tail: &str,
) -> (Option<i32>, String, serde_json::Value, std::path::PathBuf) {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.async_result_in_package3 = true;
    cfg.scomo_variant = variant;
    let cl = client::spawn(cfg).await.unwrap();
    let dir = client_run::scratch(tag);
    let path = dir.join("ics.toml");
    let ics = client_ics(listen, &cl.ut_url, SCOMO_SUPPORT, tail)
        .replace("version = \"1\"", "version = \"1\"\nimplements = [\"SCOMO\"]");
    std::fs::write(&path, ics).unwrap();
    let p = path.to_str().unwrap().to_string();
    let reports = dir.join("reports").to_str().unwrap().to_string();
    let (code, text) = tokio::task::spawn_blocking(move || {
        dmcts(&["run", "--ics", &p, "--report-dir", &reports, "--", "TC-DMC-SCOMO"])
    })
    .await
    .unwrap();
    cl.shutdown().await;
    let bytes = std::fs::read(dir.join("reports/run.json")).unwrap_or_else(|e| panic!("no run.json ({e}): {text}"));
    let run: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    (code, text, run, dir)
}

fn verdict<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    &run["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} not run"))
        ["verdict"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scomo_cases_pass_on_a_device_with_other_names_and_lawful_variants() {
    let variant = client::scomo::Variant {
        resolved_source: true,
        drop_delivered_after_install: true,
        components_named_by_id: true,
    };
    let (code, text, run, dir) = run(variant, "scomo-variants", VENDOR_SCOMO).await;
    assert_eq!(code, Some(0), "{text}");
    for id in SCOMO_CASES {
        assert_eq!(verdict(&run, id), "pass", "{id}: {text}");
    }
    // The vendor's names went on the wire, and the device's own component name came back.
    let trace = std::fs::read_to_string(dir.join("reports/traces/TC-DMC-SCOMO-003.txt")).unwrap();
    assert!(trace.contains("Inventory/Delivered/vendor-app"), "{trace}");
    assert!(trace.contains("org.vendor.app.component"), "{trace}");
    assert!(!trace.contains("dmcts-pkg1") && !trace.contains("com.dmcts.sample"), "a default was used");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The SourceURI rule is a profile setting: with the default ("exact"), a device naming the
/// operation node by its resolved ClientURI fails the case that addressed it by an x-name, on
/// SCOMO-004-C-M, and the failure names the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_source_uri_needs_the_same_moid_profile() {
    let variant = client::scomo::Variant { resolved_source: true, ..Default::default() };
    let tail = VENDOR_SCOMO.replace("exec_result_source_uri = \"same-moid\"", "");
    let (code, text, run, dir) = run(variant, "scomo-exact", &tail).await;
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(verdict(&run, "TC-DMC-SCOMO-002"), "fail");
    let c = run["cases"].as_array().unwrap().iter().find(|c| c["id"] == "TC-DMC-SCOMO-002").unwrap();
    assert!(c.to_string().contains("SCOMO-004-C-M") && c.to_string().contains("exec_result_source_uri"), "{c}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server may send END in the Package#2 that carries its SCOMO EXEC: it then never sees the
/// 202 and keeps the operation pending until the result comes. The server cases accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scomo_server_cases_pass_on_a_server_that_ends_the_session_with_its_exec() {
    use dmcts::reference::server;
    let mut cfg = server::ServerConfig::new();
    cfg.scomo_end_with_exec = true;
    let srv = server::spawn(cfg).await.unwrap();
    let dir = client_run::scratch("scomo-server-end");
    let ics = format!(
        r#"
[iut]
role = "server"
vendor = "dmcts"
product = "reference server, END with its SCOMO EXEC"
version = "test"
implements = ["SCOMO"]

[support]
"SCOMO-018-S-O" = true
"SCOMO-019-S-O" = true

[pixit.suite]
listen = "127.0.0.1:{listen}"

[pixit.iut]
server_uri = "{dm}"
dev_id = "IMEI:359881000000017"

[pixit.account]
server_id = "{sid}"

[pixit.notification]
secret = "vendor-secret"
auth_data = "vendor-auth-data"

[pixit.upper_tester]
backend = "http"
url = "{ut}"

[pixit.timeouts]
step_ms = 3000
case_ms = 20000
quiet_period_ms = 200
"#,
        listen = free_port(),
        dm = srv.dm_url,
        ut = srv.ut_url,
        sid = server::DEFAULT_SERVER_ID
    );
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics).unwrap();
    let p = path.to_str().unwrap().to_string();
    let reports = dir.join("reports").to_str().unwrap().to_string();
    let (code, text) = tokio::task::spawn_blocking(move || {
        dmcts(&["run", "--ics", &p, "--report-dir", &reports, "--", "TC-DMS-SCOMO"])
    })
    .await
    .unwrap();
    srv.shutdown().await;
    assert_eq!(code, Some(0), "{text}");
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("reports/run.json")).unwrap()).unwrap();
    for id in [
        "TC-DMS-SCOMO-001",
        "TC-DMS-SCOMO-002",
        "TC-DMS-SCOMO-003",
        "TC-DMS-SCOMO-004",
        "TC-DMS-SCOMO-005",
        "TC-DMS-SCOMO-006",
    ] {
        assert_eq!(verdict(&run, id), "pass", "{id}: {text}");
    }
    // The EXEC went out with END: no Package#3, so no 202, reached the server.
    let trace = std::fs::read_to_string(dir.join("reports/traces/TC-DMS-SCOMO-001.txt")).unwrap();
    assert!(trace.contains(r#"Operations/Install","#), "{trace}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The reference client's SCOMO inventory is observable through `iut.state` (`data.scomo`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_clients_scomo_inventory_shows_in_iut_state() {
    use dmcts::upper_tester::{UtRequest, UtStatus};
    let cfg = client::ClientConfig::new("http://127.0.0.1:9/dm");
    let cl = client::spawn(cfg).await.unwrap();
    let ask =
        |action: &str| UtRequest { action: action.into(), case: "t".into(), step: 1, args: serde_json::json!({}) };
    let a = cl.ut(ask("reset")).await;
    assert_eq!(a.status, UtStatus::Done);
    let a = cl.ut(ask("iut.state")).await;
    assert_eq!(a.status, UtStatus::Done, "{a:?}");
    assert_eq!(a.data["state"], "idle");
    assert_eq!(a.data["scomo"], serde_json::json!({ "download": [], "delivered": [], "deployed": [] }));
    cl.shutdown().await;
}

/// `software.install` mode download with a `descriptor_url`: the reference server's
/// `Download/<x>` data sets PkgURL to the descriptor's URL (what the device fetches first), and
/// the EXEC is DownloadInstall. (The suite as device does not fetch HGET data, so
/// TC-DMS-SCOMO-006 cannot see the PkgURL value: this test does.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_install_with_a_descriptor_url_sets_pkgurl_to_it() {
    use dmcts::reference::server;
    use dmcts::upper_tester::{UtRequest, UtStatus};
    let srv = server::spawn(server::ServerConfig::new()).await.unwrap();
    let dd = "http://dl.dmcts.invalid/scomo/sample.dd";
    let ask =
        |action: &str, args: serde_json::Value| UtRequest { action: action.into(), case: "t".into(), step: 1, args };
    let req = |args| ask("software.install", args);
    let a = srv.ut(ask("device.register", serde_json::json!({ "dev_id": "IMEI:1" }))).await;
    assert_eq!(a.status, UtStatus::Done, "{a:?}");
    let a = srv
        .ut(req(
            serde_json::json!({ "dev_id": "IMEI:1", "package_id": "com.x", "mode": "download", "descriptor_url": dd }),
        ))
        .await;
    assert_eq!(a.status, UtStatus::Done, "{a:?}");
    assert!(a.data["exec"][1].as_str().unwrap().ends_with("/Operations/DownloadInstall"), "{a:?}");
    let hget = a.data["commands"][0].as_array().unwrap();
    assert_eq!(hget[0], "HGET");
    let served: serde_json::Value = reqwest::get(hget[1].as_str().unwrap()).await.unwrap().json().await.unwrap();
    let entry = hget[2].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(served[0]["MOData"][&entry]["PkgURL"], dd, "{served}");
    // A descriptor is for the alternate download only.
    let a = srv
        .ut(req(serde_json::json!({ "dev_id": "IMEI:1", "package_id": "com.x", "mode": "dm", "descriptor_url": dd })))
        .await;
    assert_eq!(a.status, UtStatus::Failed, "{a:?}");
    srv.shutdown().await;
}
