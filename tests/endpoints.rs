//! The IUT-facing endpoints (issue 14 point 1): `plan` lists the URLs the vendor configures the
//! device with, derived from the account's DM server URL exactly as the listener serves them;
//! a port the system chooses is said to be unknown until the run, whose start prints it bound.
use dmcts::ics::Ics;
use dmcts::peers::endpoints::Endpoints;
use dmcts::peers::Listener;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn dmcts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).stdin(Stdio::null()).output().expect("dmcts runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dmcts-endpoints-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// examples/ics-client.toml with each `(from, to)` replaced (each must be there).
fn client_ics(edits: &[(&str, &str)]) -> String {
    let mut src = std::fs::read_to_string("examples/ics-client.toml").unwrap();
    for (from, to) in edits {
        assert!(src.contains(from), "examples/ics-client.toml has no {from:?}");
        src = src.replacen(from, to, 1);
    }
    src
}

/// The account's DM server URL of the issue, with no `listen`: the suite listens on its port.
fn localhost_9988() -> String {
    client_ics(&[
        ("server_url = \"http://127.0.0.1:8700/dm\"", "server_url = \"http://localhost:9988/path\""),
        ("listen = \"127.0.0.1:8700\"", ""),
    ])
}

/// Interactive upper tester and a port the system chooses.
fn port_0() -> String {
    client_ics(&[
        ("server_url = \"http://127.0.0.1:8700/dm\"", ""),
        ("listen = \"127.0.0.1:8700\"", "listen = \"127.0.0.1:0\""),
        ("backend = \"http\"\nurl = \"http://127.0.0.1:8701/ut\"", "backend = \"interactive\""),
    ])
}

fn write(dir: &Path, src: &str) -> String {
    let path = dir.join("ics.toml");
    std::fs::write(&path, src).unwrap();
    path.to_str().unwrap().to_string()
}

/// The block of the text output that starts with `heading`, up to the first empty line.
fn block<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines().skip_while(|l| !l.starts_with(heading)).take_while(|l| !l.is_empty()).collect()
}

/// The `title  url` rows of an endpoint block: `    {title:<27} {url}` (the about lines are
/// indented deeper).
fn rows(block: &[&str]) -> Vec<(String, String)> {
    block
        .iter()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(|l| (l[4..31].trim().to_string(), l[32..].to_string()))
        .collect()
}

fn pairs(v: &Value) -> Vec<(String, Value)> {
    v.as_array().unwrap().iter().map(|e| (e["name"].as_str().unwrap().to_string(), e["url"].clone())).collect()
}

fn owned(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn plan_lists_exactly_the_endpoints_derived_from_the_accounts_dm_server_url() {
    let dir = scratch("plan");
    let ics = write(&dir, &localhost_9988());

    let out = dmcts(&["plan", "--ics", &ics]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let listing = block(&text, "Endpoints to configure the IUT with before the first case");
    assert_eq!(
        listing[0],
        "Endpoints to configure the IUT with before the first case (the suite listens on 127.0.0.1:9988):"
    );
    assert_eq!(
        rows(&listing),
        owned(&[
            ("DM server URL", "http://localhost:9988/path"),
            ("repository / download base", "http://localhost:9988/path/repo"),
            ("browser base", "http://localhost:9988/path/browser"),
            ("CONT target base", "http://localhost:9988/path/cont"),
            ("asynchronous results", "http://localhost:9988/path/async"),
            ("download server (DLOTA)", "(no URL)"),
            ("notifications (Package#0)", "(no URL)"),
            ("upper tester", "http://127.0.0.1:8701/ut"),
        ]),
        "{text}"
    );
    assert!(listing.iter().any(|l| l.contains("([pixit.suite] server_url)")), "the source is named: {text}");
    assert!(listing.iter().any(|l| l.contains("notification.deliver")), "{text}");
    assert!(text.find("Endpoints to configure").unwrap() < text.find("SCR tables:").unwrap(), "endpoints first");

    let out = dmcts(&["plan", "--ics", &ics, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &v["endpoints"];
    assert_eq!((&e["listen"], &e["urls_final"]), (&json!("127.0.0.1:9988"), &json!(true)), "{e}");
    assert_eq!(
        pairs(&e["suite"]),
        [
            ("dm", json!("http://localhost:9988/path")),
            ("repo", json!("http://localhost:9988/path/repo")),
            ("browser", json!("http://localhost:9988/path/browser")),
            ("cont", json!("http://localhost:9988/path/cont")),
            ("async", json!("http://localhost:9988/path/async")),
            ("download", json!(null)),
        ]
        .map(|(n, u)| (n.to_string(), u))
    );
    assert_eq!(
        pairs(&e["iut"]),
        [("notification", Value::Null), ("upper_tester", json!("http://127.0.0.1:8701/ut"))]
            .map(|(n, u)| (n.to_string(), u))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_iuts_plan_lists_the_notification_listener_and_its_dm_endpoint() {
    let out = dmcts(&["plan", "--ics", "examples/ics-server.toml", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &v["endpoints"];
    assert_eq!(pairs(&e["suite"]), [("notify".to_string(), json!("http://127.0.0.1:8710/dm/notify"))]);
    assert_eq!(
        pairs(&e["iut"]),
        [("server_uri", json!("http://127.0.0.1:8080/dm")), ("upper_tester", json!("http://127.0.0.1:8081/ut"))]
            .map(|(n, u)| (n.to_string(), u))
    );
    let about = e["suite"][0]["about"].as_str().unwrap();
    assert!(about.contains("POSTs Package#0 here") && about.contains("device.register"), "{about}");
}

#[test]
fn a_port_chosen_at_run_start_is_unknown_to_plan_and_the_run_prints_it_bound() {
    let dir = scratch("port-0");
    let ics = write(&dir, &port_0());

    let out = dmcts(&["plan", "--ics", &ics]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let listing = block(&text, "Endpoints to configure");
    assert!(listing[0].ends_with("(the suite listens on 127.0.0.1:<port>):"), "{text}");
    assert!(listing[1].contains("listen has port 0") && listing[1].contains("when the run starts"), "{text}");
    assert_eq!(rows(&listing)[0], ("DM server URL".to_string(), "http://127.0.0.1:<port>/dm".to_string()));
    let out = dmcts(&["plan", "--ics", &ics, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["endpoints"]["urls_final"], false);
    assert_eq!(v["endpoints"]["suite"][1]["url"], "http://127.0.0.1:<port>/dm/repo");

    // The run binds, then prints the real URLs before its first case (no operator here: the
    // case ends as requires-operator without traffic).
    let reports = dir.join("reports");
    let out =
        dmcts(&["run", "--ics", &ics, "--report-dir", reports.to_str().unwrap(), "--", "TC-DMC-SESS-001", "--exact"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let listing = block(&text, "Endpoints of this run");
    assert!(!listing.is_empty(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let port: u16 = listing[0]
        .strip_prefix("Endpoints of this run (the suite listens on 127.0.0.1:")
        .and_then(|r| r.strip_suffix("):"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}", listing[0]));
    assert_ne!(port, 0);
    let base = format!("http://127.0.0.1:{port}/dm");
    assert_eq!(
        rows(&listing)[..5],
        owned(&[
            ("DM server URL", &base),
            ("repository / download base", &format!("{base}/repo")),
            ("browser base", &format!("{base}/browser")),
            ("CONT target base", &format!("{base}/cont")),
            ("asynchronous results", &format!("{base}/async")),
        ]),
        "{text}"
    );
    assert!(!text.contains("<port>"), "{text}");
    assert!(text.find("Endpoints of this run").unwrap() < text.find("running 1 test").unwrap(), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_against_the_reference_peers_says_in_one_line_that_there_is_nothing_to_configure() {
    let dir = scratch("reference");
    let out = dmcts(&[
        "run",
        "--against",
        "reference",
        "--report-dir",
        dir.to_str().unwrap(),
        "--",
        "TC-DMC-SESS-001",
        "--exact",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("endpoints: each case runs its own reference peer and listener"), "{text}");
    assert!(!text.contains("Endpoints of this run"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `plan` and the listener derive the endpoints by one rule: with the port known, what plan
/// says is what the bound listener serves.
#[tokio::test]
async fn plan_and_the_bound_listener_agree() {
    let ics = Ics::from_str(&localhost_9988(), Path::new("ics.toml")).unwrap();
    let planned = Endpoints::for_ics(&ics);
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), ics.pixit.suite.server_url.as_deref()).await.unwrap();
    let bound = Endpoints::bound(&ics, &listener);
    assert_eq!(bound.suite, planned.suite);
    assert_eq!(bound.iut, planned.iut);
    // The download server has no URL of its own: each case binds one (docs/cases.md).
    for e in bound.suite.iter().filter(|e| e.name != "download") {
        assert_eq!(e.url.as_deref(), Some(listener.endpoint_url(&e.name).as_str()));
    }
}
