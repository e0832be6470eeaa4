//! Issue 15, client IUT: what the catalog's audit left open, shown the way a vendor meets it —
//! `dmcts run --ics FILE` against the reference client on loopback, with the ICS `[profile]`
//! and the client's own profile and faults set per test.
//!
//! - inferred judgements (P0-004/005) fail by default, say they are inferred, and become
//!   informational under profile `informational`;
//! - profile settings for points the digest leaves UNVERIFIED change what the suite sends and
//!   accepts, and a client that follows the other reading fails.
use dmcts::reference::client;
use dmcts::wire::dm2::Profile;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// A free loopback port (released before use: the suite binds it itself).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn dmcts(args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dmcts-client-depth-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A client ICS for the reference client at `ut_url`, the suite on `listen`, with `profile` as
/// the body of its `[profile]` table.
fn ics(listen: u16, ut_url: &str, profile: &str) -> String {
    format!(
        r#"
[iut]
role = "client"
vendor = "Vendor"
product = "reference client"
version = "1"

[support]
"DM-PACK-002-C-O" = true
"DM-PACK-007-C-O" = true
"DM-PACK-008-C-O" = true
"DM-PACK-009-C-O" = true
"DM-PACK-019-C-O" = true
"DM-PACK-020-C-O" = true
"DM-PACK-023-C-O" = true
"ICS-DMC-DEFAULT-FETCH" = true

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
exec_effect_uri = "urn:oma:mo:oma-fumo:1.0//State"
exec_effect_value = "20"
default_moid = "urn:oma:mo:dmcts-config:1.0"
default_data = {{ Config = {{ Server = "dmcts" }} }}

[profile]
{profile}
"#,
        dev_id = client::DEFAULT_DEV_ID
    )
}

/// What one `dmcts run --ics` of some cases gave.
struct Run {
    code: Option<i32>,
    console: String,
    run: Value,
    coverage: Value,
}

impl Run {
    fn case(&self, id: &str) -> &Value {
        self.run["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in run.json:\n{}", self.console))
    }

    fn verdict(&self, id: &str) -> &str {
        self.case(id)["verdict"].as_str().unwrap()
    }

    fn item(&self, id: &str) -> &Value {
        self.coverage["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()
    }
}

/// Runs the cases `ids` against a reference client with `faults` and its own `client_profile`,
/// the suite's ICS having `[profile]` `suite_profile`.
async fn run(tag: &str, ids: &[&str], faults: &[&str], client_profile: Profile, suite_profile: &str) -> Run {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.faults = faults.iter().map(|f| f.to_string()).collect();
    cfg.profile = client_profile;
    let cl = client::spawn(cfg).await.unwrap();
    let dir = scratch(tag);
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics(listen, &cl.ut_url, suite_profile)).unwrap();
    let reports = dir.join("reports");
    let mut args: Vec<String> = vec!["run".into(), "--ics".into(), path.display().to_string()];
    args.extend(["--report-dir".into(), reports.display().to_string(), "--".into(), "--exact".into()]);
    // Every case of the list, none other (a name filter per case would run each matching one).
    let all: Vec<String> = dmcts(&["cases".into(), "list".into(), "--format".into(), "json".into()])
        .1
        .parse::<Value>()
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    for other in all.iter().filter(|c| !ids.contains(&c.as_str())) {
        args.extend(["--skip".into(), other.clone()]);
    }
    let (code, console) = tokio::task::spawn_blocking(move || dmcts(&args)).await.unwrap();
    cl.shutdown().await;
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(reports.join(f)).unwrap_or_else(|e| panic!("{f}: {e}\n{console}")))
            .unwrap()
    };
    let (run, coverage) = (read("run.json"), read("coverage.json"));
    Run { code, console, run, coverage }
}

// ---------------------------------------------------------------------------------------------
// P0-004 / P0-005: inferred judgements, informational under the profile.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inferred_silence_fails_saying_so_and_the_profile_makes_it_informational() {
    let ids = ["TC-DMC-P0-004", "TC-DMC-P0-005"];
    let faults = ["accept-wrong-ver", "accept-oc-mismatch"];
    // Default profile: the faults fail the cases, and every report says the judgement is inferred.
    let r = run("inferred-counts", &ids, &faults, Profile::default(), "").await;
    assert_eq!(r.code, Some(1), "{}", r.console);
    for (id, item) in ids.iter().zip(["DM-PACK-003-C-M", "DM-PACK-004-C-M"]) {
        assert_eq!(r.verdict(id), "fail", "{}", r.console);
        let reason = &r.case(id)["reason"];
        assert_eq!(reason["scr"], item, "{reason}");
        assert!(reason["inferred"].as_str().is_some_and(|w| w.contains("binds only the sender") || w.contains("OC")));
        assert!(r.case(id)["inferred"][item].is_array(), "{}", r.case(id));
        assert!(r.item(item)["inferred"][0].as_str().is_some_and(|s| s.starts_with(id)), "{}", r.item(item));
        assert_eq!(r.item(item)["verdict"], "fail");
    }
    assert!(r.console.contains("inferred:    the seed (5.2.1.1) binds only the sender"), "{}", r.console);

    // Informational: the same faults change no verdict, and the failures are recorded and shown.
    let profile = "informational = [\"DM-PACK-003-C-M\", \"DM-PACK-004-C-M\"]";
    let r = run("inferred-informational", &ids, &faults, Profile::default(), profile).await;
    assert_eq!(r.code, Some(0), "{}", r.console);
    for (id, item) in ids.iter().zip(["DM-PACK-003-C-M", "DM-PACK-004-C-M"]) {
        assert_eq!(r.verdict(id), "pass", "{}", r.console);
        let info = &r.case(id)["informational"][0];
        assert_eq!(info["scr"], item, "{}", r.case(id));
        assert!(info["message"].as_str().unwrap().contains("while silence was required"), "{info}");
        assert!(r.item(item)["informational"][0].as_str().is_some_and(|s| s.starts_with(id)), "{}", r.item(item));
        // The failed judgement did not hold: the item's evidence says so.
        assert_eq!(r.case(id)["evidence"][item]["held"], 0, "{}", r.case(id));
    }
    assert!(r.console.contains("2 failed judgement(s) rest on an inference the profile makes informational"));

    // The clean client passes either way, with nothing informational.
    let r = run("inferred-clean", &ids, &[], Profile::default(), "informational = [\"*\"]").await;
    assert_eq!(r.code, Some(0), "{}", r.console);
    assert!(r.case("TC-DMC-P0-004").get("informational").is_none(), "{}", r.case("TC-DMC-P0-004"));
}
