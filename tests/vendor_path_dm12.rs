//! The vendor's path for SyncML DM 1.2, end to end: the shipped example ICS files
//! (`examples/ics-dm12-client.toml`, `examples/ics-dm12-server.toml`), with only their addresses
//! changed, drive `dmcts run --ics FILE` against the reference DM 1.2 peers started as their own
//! processes (`dmcts reference dm12-client|dm12-server`), exactly as a vendor runs the suite
//! against a device or server on the bench.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `dmcts reference …` process, killed when dropped.
struct Peer {
    child: Child,
    /// The `label: URL` lines it printed on start.
    urls: Vec<(String, String)>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// Starts `dmcts reference ARGS` and waits (at most 20 s) until it printed `want` URLs.
    fn start(args: &[&str], want: usize) -> Peer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dmcts"))
            .arg("reference")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dmcts reference starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((label, url)) = line.rsplit_once(": http://") {
                    let _ = tx.send((label.to_string(), format!("http://{url}")));
                }
            }
        });
        let mut urls = Vec::new();
        while urls.len() < want {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(u) => urls.push(u),
                Err(_) => panic!("`dmcts reference {}` printed {urls:?}, not {want} URLs", args.join(" ")),
            }
        }
        Peer { child, urls }
    }

    fn url(&self, label_has: &str) -> &str {
        self.urls.iter().find(|(l, _)| l.contains(label_has)).map(|(_, u)| u.as_str()).unwrap()
    }
}

/// The reference DM 1.2 client as `examples/ics-dm12-client.toml` describes the device: its
/// DevId, its account, the ServerID and the server password of the Package#0 digest.
fn example_client(server_uri: &str) -> Peer {
    Peer::start(
        &[
            "dm12-client",
            "--server-uri",
            server_uri,
            "--dev-id",
            "IMEI:490154203237518",
            "--username",
            "acme-device",
            "--password",
            "client-secret",
            "--server-id",
            "dmcts",
            "--noti-password",
            "server-secret",
        ],
        2,
    )
}

/// Runs `dmcts run --ics` with `ics`; the exit code, the console and run.json.
fn run_ics(ics: &str, tag: &str) -> (Option<i32>, String, serde_json::Value) {
    let dir = std::env::temp_dir().join(format!("dmcts-vendor-dm12-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["run", "--ics", path.to_str().unwrap(), "--report-dir"])
        .arg(dir.join("reports"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let run = std::fs::read(dir.join("reports/run.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.code(), text, run)
}

fn verdicts(run: &serde_json::Value) -> Vec<(String, String)> {
    run["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("no cases in run.json: {run}"))
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["verdict"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn a_dm12_client_passes_through_the_example_ics_file() {
    let port = dmcts::peers::free_loopback_port();
    let server_uri = format!("http://127.0.0.1:{port}/dm");
    let peer = example_client(&server_uri);
    let example = std::fs::read_to_string("examples/ics-dm12-client.toml").unwrap();
    let ics = example
        .replace("127.0.0.1:8700", &format!("127.0.0.1:{port}"))
        .replace("http://127.0.0.1:8800/ut", peer.url("upper tester"));
    assert_ne!(ics, example, "the example names the addresses this test replaces");
    let (code, text, run) = run_ics(&ics, "client");
    assert_eq!(code, Some(0), "{text}");
    let v = verdicts(&run);
    // Every DM 1.2 client case, XML and WBXML, passes; HMAC is declared unsupported in the
    // example, so its case is not applicable; the example implements FUMO and SCOMO, so their
    // DM 1.2 cases run, but for those of items it declares unsupported; no case of another
    // protocol or role runs.
    for (id, verdict) in &v {
        let expected = match id.as_str() {
            id if id.starts_with("TC-DM12C-AUTH-") && id.ends_with("003") => "not-applicable",
            id if id.starts_with("TC-DM12C-") || id.starts_with("TC-FUMO12-C-") || id.starts_with("TC-SCOMO12-C-") => {
                "pass"
            }
            _ => "not-applicable",
        };
        assert_eq!(verdict, expected, "{id}\n{text}");
    }
    let passed = |wbxml: bool| v.iter().filter(|(id, x)| x == "pass" && id.contains("-WBXML-") == wbxml).count();
    assert!(passed(false) >= 15 && passed(true) >= 15, "{v:?}");
}

#[test]
fn a_dm12_server_passes_through_the_example_ics_file() {
    let peer = Peer::start(&["dm12-server"], 2);
    let example = std::fs::read_to_string("examples/ics-dm12-server.toml").unwrap();
    let ics = example
        .replace("http://127.0.0.1:8443/dm", peer.url("server URI"))
        .replace("http://127.0.0.1:8443/ut", peer.url("upper tester"))
        // The reference server signs with HMAC when asked: the vendor says so.
        .replace("\"DM12-029-S-O\" = false", "\"DM12-029-S-O\" = true");
    assert_ne!(ics, example);
    let (code, text, run) = run_ics(&ics, "server");
    assert_eq!(code, Some(0), "{text}");
    let v = verdicts(&run);
    // The example implements FUMO and SCOMO: their DM 1.2 server cases run too.
    for (id, verdict) in &v {
        let dm12 = ["TC-DM12S-", "TC-FUMO12-S-", "TC-SCOMO12-S-"].iter().any(|p| id.starts_with(p));
        let expected = if dm12 { "pass" } else { "not-applicable" };
        assert_eq!(verdict, expected, "{id}\n{text}");
    }
    let passed: Vec<&str> = v.iter().filter(|(_, x)| x == "pass").map(|(id, _)| id.as_str()).collect();
    assert!(passed.contains(&"TC-DM12S-AUTH-WBXML-003") && passed.len() >= 15, "{v:?}");
}

/// A DM 1.2 server that manages DM Gateways (`examples/ics-gwmo-dm12-server.toml`): the GwMO
/// server cases in their DM 1.2 form run (the suite plays the gateway) and pass; nothing else
/// of GwMO, and no case of another protocol, runs.
#[test]
fn a_dm12_gwmo_server_passes_through_the_example_ics_file() {
    let peer = Peer::start(&["dm12-server"], 2);
    let example = std::fs::read_to_string("examples/ics-gwmo-dm12-server.toml").unwrap();
    let ics = example
        .replace("http://127.0.0.1:8443/dm", peer.url("server URI"))
        .replace("http://127.0.0.1:8443/ut", peer.url("upper tester"));
    assert_ne!(ics, example);
    let (code, text, run) = run_ics(&ics, "gwmo-server");
    assert_eq!(code, Some(0), "{text}");
    let v = verdicts(&run);
    let gwmo: Vec<&(String, String)> = v.iter().filter(|(id, _)| id.starts_with("TC-GWS12-")).collect();
    assert!(gwmo.iter().any(|(id, x)| id == "TC-GWS12-001" && x == "pass"), "{v:?}");
    assert!(gwmo.iter().any(|(id, x)| id == "TC-GWS12-002" && x == "pass"), "{v:?}");
    for (id, verdict) in &v {
        assert!(verdict == "pass" || verdict == "not-applicable", "{id}: {verdict}\n{text}");
        if id.starts_with("TC-GWS-") || id.starts_with("TC-GW-") {
            assert_eq!(verdict, "not-applicable", "{id}: a DM 2.0 case\n{text}");
        }
    }
}

/// A device that implements no enabler table: the FUMO and SCOMO DM 1.2 cases are not
/// applicable, their WBXML variants included (the variant's encoding item is the device's base
/// table, but it does not make a case about another table apply).
#[test]
fn without_the_enabler_tables_their_wbxml_variants_do_not_run_either() {
    let ics: String = std::fs::read_to_string("examples/ics-dm12-client.toml")
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\"FUMO-") && !l.starts_with("\"SCOMO-"))
        .map(|l| if l.starts_with("implements =") { "implements = []" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = std::env::temp_dir().join(format!("dmcts-vendor-dm12-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["plan", "--ics", path.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = plan["cases"].as_array().unwrap();
    let enabler: Vec<&serde_json::Value> = cases
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|id| id.contains("FUMO12") || id.contains("SCOMO12")))
        .collect();
    assert!(enabler.iter().any(|c| c["id"].as_str().unwrap().contains("-WBXML-")), "{enabler:?}");
    assert!(enabler.iter().all(|c| c["runs"] == false), "{enabler:?}");
    assert!(cases.iter().any(|c| c["id"] == "TC-DM12C-SES-WBXML-001" && c["runs"] == true));
}

/// A test-fest of SyncML DM 1.2 vendors: the roster names each IUT by its ICS; a DM 1.2 client
/// and a DM 1.2 server (reference peers as their own processes, described by the shipped
/// examples) run their DM 1.2 cases at the same time, each with its own listener and reports.
#[test]
fn a_test_fest_runs_dm12_iuts_from_a_roster() {
    let dir = std::env::temp_dir().join(format!("dmcts-vendor-dm12-fest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = dmcts::peers::free_loopback_port();
    let client = example_client(&format!("http://127.0.0.1:{port}/dm"));
    let server = Peer::start(&["dm12-server"], 2);
    let client_ics = std::fs::read_to_string("examples/ics-dm12-client.toml")
        .unwrap()
        .replace("127.0.0.1:8700", &format!("127.0.0.1:{port}"))
        .replace("http://127.0.0.1:8800/ut", client.url("upper tester"));
    let server_ics = std::fs::read_to_string("examples/ics-dm12-server.toml")
        .unwrap()
        .replace("http://127.0.0.1:8443/dm", server.url("server URI"))
        .replace("http://127.0.0.1:8443/ut", server.url("upper tester"))
        + &format!("\n[pixit.suite]\nlisten = \"127.0.0.1:{}\"\n", dmcts::peers::free_loopback_port());
    std::fs::write(dir.join("dm12-client.toml"), client_ics).unwrap();
    std::fs::write(dir.join("dm12-server.toml"), server_ics).unwrap();
    std::fs::write(
        dir.join("roster.toml"),
        "[testfest]\ntitle = \"DM 1.2\"\n\n[[iut]]\nname = \"acme-dm12-client\"\nics = \"dm12-client.toml\"\nrole = \"client\"\n\n\
         [[iut]]\nname = \"acme-dm12-server\"\nics = \"dm12-server.toml\"\nrole = \"server\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["testfest", "--roster", "roster.toml", "--report-dir", "fest"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fest/testfest.json")).unwrap()).unwrap();
    // Interop pairs are relayed and judged for DM 2.0 only: a DM 1.2 pair is refused up front,
    // with the reason, instead of being judged by checks it cannot pass.
    let roster = std::fs::read_to_string(dir.join("roster.toml")).unwrap();
    std::fs::write(
        dir.join("roster.toml"),
        roster
            + "
[[pair]]
client = \"acme-dm12-client\"
server = \"acme-dm12-server\"
",
    )
    .unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["testfest", "--roster", "roster.toml", "--report-dir", "fest2"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let why = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(refused.status.code(), Some(2), "{why}");
    assert!(why.contains("speaks binding dm12") && why.contains("DM 2.0"), "{why}");
    let _ = std::fs::remove_dir_all(&dir);
    for iut in summary["iuts"].as_array().unwrap() {
        let cases = iut["cases"].as_object().unwrap();
        let prefix = if iut["role"] == "client" { "TC-DM12C-" } else { "TC-DM12S-" };
        let passed = cases.iter().filter(|(id, v)| id.starts_with(prefix) && *v == "pass").count();
        assert!(passed >= 15, "{}: {passed} DM 1.2 cases pass\n{text}", iut["name"]);
        assert!(cases.values().all(|v| v == "pass" || v == "not-applicable"), "{iut}");
    }
}
