//! Test-fest mode: the roster is strictly parsed; many IUTs run at once with verdicts equal to
//! a serial run; the live page answers over real HTTP (events as verdicts arrive, trace links
//! that resolve); interop pairs are relayed and judged both ways.
use dmcts::bundle::{self, CatalogSource};
use dmcts::scr::Registry;
use dmcts::testfest::board::{Board, IutRow, RunState};
use dmcts::testfest::roster::Roster;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn registry() -> Registry {
    bundle::load_registry(&CatalogSource::Embedded).unwrap()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dmcts-testfest-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn dmcts<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A minimal server ICS on suite port `port`.
fn server_ics(port: u16) -> String {
    format!(
        r#"
[iut]
role = "server"
vendor = "V"
product = "P"
version = "1"

[pixit.suite]
listen = "127.0.0.1:{port}"

[pixit.iut]
server_uri = "http://127.0.0.1:9/dm"

[pixit.upper_tester]
backend = "http"
url = "http://127.0.0.1:9/ut"
"#
    )
}

/// Writes `roster` and two server ICS files (suite ports `a`, `b`) into `dir`; loads it.
fn roster_with(dir: &Path, roster: &str, a: u16, b: u16) -> Result<Roster, String> {
    std::fs::write(dir.join("a.toml"), server_ics(a)).unwrap();
    std::fs::write(dir.join("b.toml"), server_ics(b)).unwrap();
    let path = dir.join("roster.toml");
    std::fs::write(&path, roster).unwrap();
    Roster::load(&path, &registry()).map_err(|e| e.to_string())
}

const TWO: &str = r#"[[iut]]
name = "a"
ics = "a.toml"
role = "server"

[[iut]]
name = "b"
ics = "b.toml"
role = "server"
"#;

#[test]
fn a_roster_is_parsed_strictly_with_file_and_line_in_every_error() {
    let dir = scratch("roster");
    let ok = roster_with(&dir, TWO, 8801, 8802).unwrap();
    assert_eq!(ok.iuts.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);

    // Two IUTs on one fixed suite port: refused, naming both and the port.
    let err = roster_with(&dir, TWO, 8801, 8801).unwrap_err();
    assert!(err.contains("roster.toml:8:") && err.contains("share the suite's port 8801"), "{err}");
    assert!(err.contains("\"a\" (line 1)") && err.contains("\"b\""), "{err}");
    // Port 0 (the system chooses) never conflicts.
    roster_with(&dir, TWO, 0, 0).unwrap();

    let unknown_key = format!("{TWO}colour = \"red\"\n");
    let err = roster_with(&dir, &unknown_key, 1, 2).unwrap_err();
    assert!(err.contains("roster.toml:10:") && err.contains("colour"), "{err}");

    let dup = TWO.replace("name = \"b\"", "name = \"a\"");
    let err = roster_with(&dir, &dup, 1, 2).unwrap_err();
    assert!(err.contains("roster.toml:7:") && err.contains("already used at line 1"), "{err}");

    let wrong_role = TWO.replacen("role = \"server\"", "role = \"client\"", 1);
    let err = roster_with(&dir, &wrong_role, 1, 2).unwrap_err();
    assert!(err.contains("roster.toml:4:") && err.contains("[iut] role = \"server\""), "{err}");

    let bad_pair = format!("{TWO}\n[[pair]]\nclient = \"nobody\"\nserver = \"b\"\n");
    let err = roster_with(&dir, &bad_pair, 1, 2).unwrap_err();
    assert!(err.contains("roster.toml:12:") && err.contains("does not list"), "{err}");

    let client_as_client = format!("{TWO}\n[[pair]]\nclient = \"a\"\nserver = \"b\"\n");
    let err = roster_with(&dir, &client_as_client, 1, 2).unwrap_err();
    assert!(err.contains("pair client \"a\" is a server IUT"), "{err}");

    let missing_ics = TWO.replace("b.toml", "nowhere.toml");
    let err = roster_with(&dir, &missing_ics, 1, 2).unwrap_err();
    assert!(err.contains("roster.toml:8:") && err.contains("nowhere.toml"), "{err}");

    let bad_name = TWO.replace("name = \"b\"", "name = \"../b\"");
    let err = roster_with(&dir, &bad_name, 1, 2).unwrap_err();
    assert!(err.contains("roster.toml:7:") && err.contains("report folder"), "{err}");

    // The CLI exits 2 with the same message.
    std::fs::write(dir.join("b.toml"), server_ics(8801)).unwrap();
    std::fs::write(dir.join("a.toml"), server_ics(8801)).unwrap();
    std::fs::write(dir.join("roster.toml"), TWO).unwrap();
    let (code, out) = dmcts(&["testfest", "--roster", dir.join("roster.toml").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("share the suite's port 8801"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shipped_example_roster_parses() {
    let roster = Roster::load(Path::new("examples/roster.toml"), &registry()).unwrap();
    assert!(!roster.iuts.is_empty());
    assert_eq!(roster.pairs.len(), 1);
}

/// Per-case verdicts of `testfest --against reference --iuts 3` (client, server, client: every
/// IUT a separate reference process, all three runs at once) equal a serial
/// `run --against reference`'s, case for case; the other role's cases are not applicable.
#[test]
fn three_reference_iuts_at_once_give_the_verdicts_of_a_serial_run() {
    let dir = scratch("three");
    let (code, out) = dmcts(&["run", "--against", "reference", "--report-dir", dir.join("serial").to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let serial = json(&dir.join("serial/run.json"));
    let fest_dir = dir.join("fest");
    let (code, out) =
        dmcts(&["testfest", "--against", "reference", "--iuts", "3", "--report-dir", fest_dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("live page: http://127.0.0.1:"), "{out}");
    let summary = json(&fest_dir.join("testfest.json"));
    let iuts = summary["iuts"].as_array().unwrap();
    assert_eq!(iuts.iter().map(|i| i["role"].as_str().unwrap()).collect::<Vec<_>>(), ["client", "server", "client"]);
    for iut in iuts {
        let name = iut["name"].as_str().unwrap();
        let run = json(&fest_dir.join(name).join("run.json"));
        assert_eq!(run["cases"].as_array().unwrap().len(), serial["cases"].as_array().unwrap().len());
        for case in serial["cases"].as_array().unwrap() {
            let id = case["id"].as_str().unwrap();
            let got = &iut["cases"][id];
            let in_run = run["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
            assert_eq!(got, &in_run["verdict"], "{name} {id}: testfest.json agrees with run.json");
            // The test-fest's reference IUTs speak DM 2.0: the SyncML DM 1.2 cases (table DM12,
            // and the FUMO/SCOMO flows on DM 1.2) are not applicable to them, whatever their role;
            // nor are the GwMO cases (table GWMO: a reference client is no gateway, and its ICS
            // does not claim the table).
            let dm12 = ["TC-DM12", "TC-FUMO12-", "TC-SCOMO12-", "TC-GW"].iter().any(|p| id.starts_with(p));
            if case["role"] == iut["role"] && !dm12 {
                assert_eq!(got, &case["verdict"], "{name} {id}");
            } else {
                assert_eq!(got, "not-applicable", "{name} {id}");
            }
        }
        // The usual reports, per IUT.
        for f in ["junit.xml", "coverage.json", "coverage.md", "console.txt"] {
            assert!(fest_dir.join(name).join(f).is_file(), "{name}/{f}");
        }
        assert!(fest_dir.join(name).join("traces").is_dir());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A pair of clean reference peers passes; with the client switched into a fault that breaks
/// its Package#3, the relay's checks flag the pair, naming the message and the check.
#[test]
fn interop_pairs_are_relayed_and_judged_both_ways() {
    let dir = scratch("pairs");
    let clean = dir.join("clean");
    let (code, out) = dmcts(&[
        "testfest",
        "--against",
        "reference",
        "--iuts",
        "2",
        "--pairs",
        "--report-dir",
        clean.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("client \\ server"), "{out}");
    let pair = &json(&clean.join("testfest.json"))["pairs"][0];
    assert_eq!(pair["verdict"], "pass", "{pair}");
    assert_eq!((pair["client"].as_str(), pair["server"].as_str()), (Some("ref-1-client"), Some("ref-2-server")));
    let detail = json(&clean.join("pairs/ref-1-client__ref-2-server.json"));
    let msgs = detail["messages"].as_array().unwrap();
    let kinds: Vec<&str> = msgs.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    // A client-initiated session, then the server's notification and the session it opens.
    let session = ["Package#1", "Package#2", "Package#3", "Package#2"];
    assert_eq!(kinds, [&session[..], &["Package#0"], &session[..]].concat());
    // Both directions were checked, every message.
    assert!(msgs.iter().all(|m| !m["checks"].as_array().unwrap().is_empty()));
    assert!(msgs.iter().flat_map(|m| m["checks"].as_array().unwrap()).all(|c| c["passed"] == true));
    let names = |i: usize| {
        msgs[i]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(names(4).contains(&"notification-digest-valid".to_string()), "{:?}", names(4));
    assert!(names(5).contains(&"session-alert".to_string()), "{:?}", names(5));
    // The CONT the server named pointed the client back at the relay: the Package#3 came through it.
    assert!(msgs[2]["target"].as_str().unwrap().contains("/dm/cont/"), "{}", msgs[2]);

    // A faulty peer on either side: the relay's checks name the message, its direction and the check.
    for (fault, want) in [
        ("client.sc-as-string", "message #3 (client → server Package#3): check package3-valid"),
        ("server.notification-bad-digest", "message #5 (server → client Package#0): check notification-digest-valid"),
        ("client.notification-id-not-echoed", "message #6 (client → server Package#1): check session-alert"),
    ] {
        let faulty = dir.join(fault);
        let (code, out) = dmcts(&[
            "testfest",
            "--against",
            "reference",
            "--iuts",
            "2",
            "--pairs",
            "--fault",
            fault,
            "--report-dir",
            faulty.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(1), "{out}");
        let pair = &json(&faulty.join("testfest.json"))["pairs"][0];
        assert_eq!(pair["verdict"], "fail", "{fault}: {pair}");
        let reason = pair["reason"].as_str().unwrap();
        assert!(reason.contains(want), "{fault}: {reason}");
        assert!(out.contains(reason), "{fault}: the console names it\n{out}");
        let text = std::fs::read_to_string(faulty.join("pairs/ref-1-client__ref-2-server.txt")).unwrap();
        let check = want.rsplit("check ").next().unwrap();
        assert!(text.contains(&format!("check {check}: FAILED")), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

/// The live page's feed, in-process: a verdict posted to the board arrives on the event
/// stream (SSE) and in /api/events and /api/state, with a trace link the page serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_reports_each_verdict_as_it_arrives() {
    let dir = scratch("live");
    let loaded = bundle::load(&CatalogSource::Embedded, &CatalogSource::Embedded).unwrap();
    let row = IutRow {
        name: "acme".into(),
        role: "client".into(),
        product: "Acme".into(),
        state: RunState::Running,
        error: None,
        cases: Default::default(),
    };
    let board = Arc::new(Board::new("fest", &loaded.registry, &loaded.catalog, vec![row], vec![]));
    let addr = dmcts::testfest::live::serve(board.clone(), dir.clone(), ["acme".to_string()].into(), 0).await.unwrap();
    let base = format!("http://{addr}");
    let page = http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("EventSource") && !page.contains("src=\"http"), "inline script, nothing fetched elsewhere");

    let mut sse = http().get(format!("{base}/events")).send().await.unwrap();
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    // A verdict arrives: the case ran, its trace written to the IUT's folder.
    let case = loaded.catalog.cases.iter().find(|c| c.role == dmcts::scr::Role::Client).unwrap();
    let result = dmcts::runner::result::CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        role: "client".into(),
        covers: case.covers.clone(),
        verdict: dmcts::verdict::Verdict::Fail,
        reason: Some(dmcts::verdict::Reason::new("the IUT said no")),
        duration_ms: 1,
        evidence: Default::default(),
        inferred: Default::default(),
        informational: vec![],
        trace: vec![],
    };
    std::fs::create_dir_all(dir.join("acme/traces")).unwrap();
    std::fs::write(dir.join(format!("acme/traces/{}.txt", case.id)), "the trace").unwrap();
    board.verdict("acme", &result);
    let mut got = String::new();
    while !got.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), sse.chunk()).await.unwrap().unwrap().unwrap();
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(got.contains("event: verdict"), "{got}");
    assert!(got.contains(&format!("\"case\":\"{}\"", case.id)) && got.contains("\"verdict\":\"fail\""), "{got}");

    let events: serde_json::Value =
        http().get(format!("{base}/api/events?since=0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["case"], case.id.as_str());
    let state: serde_json::Value = http().get(format!("{base}/api/state")).send().await.unwrap().json().await.unwrap();
    let cell = &state["iuts"][0]["cases"][&case.id];
    assert_eq!(cell["verdict"], "fail");
    let link = cell["trace"].as_str().unwrap();
    let trace = http().get(format!("{base}/{link}")).send().await.unwrap();
    assert_eq!(trace.status(), 200);
    assert_eq!(trace.text().await.unwrap(), "the trace");
    // Nothing outside the IUTs' folders is served.
    let escape = http().get(format!("{base}/iut/acme/traces/..%2F..%2Fetc")).send().await.unwrap();
    assert_eq!(escape.status(), 404);
    let other = http().get(format!("{base}/iut/nobody/run.json")).send().await.unwrap();
    assert_eq!(other.status(), 404);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Started from the CLI, the page follows a real test-fest: after the runs (the page kept
/// serving), /api/state holds every verdict, each trace link of a case that ran resolves, and
/// the events count one verdict per case of each IUT, all before `finished`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_serves_the_live_page_of_a_real_test_fest() {
    /// Ends the test-fest as an operator would (SIGTERM: it stops its reference peers).
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: a plain kill(2) of our own child.
            unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
            for _ in 0..100 {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = scratch("cli-live");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["testfest", "--against", "reference", "--iuts", "2", "--keep-serving", "--report-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |want: &str| loop {
        let line = rx.recv_timeout(Duration::from_secs(300)).expect("the test-fest prints");
        if line.contains(want) {
            return line;
        }
    };
    let url = next("live page: ").trim_start_matches("live page: ").trim().to_string();
    next("the live page stays at");
    let state: serde_json::Value = http().get(format!("{url}api/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["finished"], true);
    let n_cases = state["cases"].as_array().unwrap().len();
    let mut linked = 0;
    for iut in state["iuts"].as_array().unwrap() {
        assert_eq!(iut["state"], "done");
        let cells = iut["cases"].as_object().unwrap();
        assert_eq!(cells.len(), n_cases);
        for (id, cell) in cells {
            if let Some(link) = cell["trace"].as_str() {
                let r = http().get(format!("{url}{link}")).send().await.unwrap();
                assert_eq!(r.status(), 200, "{link}");
                assert!(r.text().await.unwrap().contains(id.as_str()), "{link}");
                linked += 1;
            }
        }
    }
    assert!(linked > 0);
    let events: serde_json::Value = http().get(format!("{url}api/events")).send().await.unwrap().json().await.unwrap();
    let events = events.as_array().unwrap();
    let finished = events.iter().position(|e| e["kind"] == "finished").unwrap();
    let verdicts = events.iter().filter(|e| e["kind"] == "verdict").count();
    assert_eq!(verdicts, 2 * n_cases);
    assert_eq!(finished, events.len() - 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The roster path end to end: two vendors' IUTs (here the reference peers, started by the test
/// on their own ports) listed in a roster file with a pair; every case passes, the pair passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_of_a_client_and_a_server_with_a_pair_runs_end_to_end() {
    use dmcts::reference::{client, server};
    let reg = registry();
    let dir = scratch("roster-run");
    let port = dmcts::peers::free_loopback_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{port}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.server_id = server::DEFAULT_SERVER_ID.into();
    // The account's HTTP credentials, given when a 401 asks (the generated ICS names them).
    cfg.basic = Some((dmcts::reference::ics::REFERENCE_USER.into(), dmcts::reference::ics::REFERENCE_PASSWORD.into()));
    cfg.basic_unasked = false;
    let cl = client::spawn(cfg).await.unwrap();
    let mut scfg = server::ServerConfig::new();
    scfg.listen = "127.0.0.1:0".parse().unwrap();
    let srv = server::spawn(scfg).await.unwrap();
    let c_ics = dmcts::testfest::reference::client_ics(&reg, port, &cl.ut_url, "vendor-a");
    std::fs::write(dir.join("client.toml"), c_ics).unwrap();
    let s_ics = dmcts::testfest::reference::server_ics(&reg, &srv.dm_url, &srv.ut_url, "vendor-b");
    std::fs::write(dir.join("server.toml"), s_ics).unwrap();
    let roster = "[testfest]\ntitle = \"roster test\"\n\n[[iut]]\nname = \"vendor-a\"\nics = \"client.toml\"\nrole = \"client\"\n\n\
                  [[iut]]\nname = \"vendor-b\"\nics = \"server.toml\"\nrole = \"server\"\n\n\
                  [[pair]]\nclient = \"vendor-a\"\nserver = \"vendor-b\"\n";
    std::fs::write(dir.join("roster.toml"), roster).unwrap();
    let (r, reports) = (dir.join("roster.toml"), dir.join("reports"));
    let (code, out) = tokio::task::spawn_blocking(move || {
        dmcts(&["testfest", "--roster", r.to_str().unwrap(), "--report-dir", reports.to_str().unwrap()])
    })
    .await
    .unwrap();
    cl.shutdown().await;
    srv.shutdown().await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("roster test") && out.contains("client \\ server"), "{out}");
    let summary = json(&dir.join("reports/testfest.json"));
    assert_eq!(summary["title"], "roster test");
    for iut in summary["iuts"].as_array().unwrap() {
        assert_eq!(iut["counts"]["fail"], 0, "{iut}");
        assert!(iut["counts"]["pass"].as_u64().unwrap() > 20, "{iut}");
    }
    assert_eq!(summary["pairs"][0]["verdict"], "pass", "{}", summary["pairs"][0]);
    assert_eq!(summary["pairs"][0]["messages"], 9);
    let _ = std::fs::remove_dir_all(&dir);
}

/// testfest.json and the console matrix, for a fixed summary (independent of the catalog):
/// counts and requirement tables per IUT, a run that could not be made, and the pair matrix
/// with the reason of the pair that failed.
#[test]
fn the_summary_and_its_console_matrix() {
    use dmcts::testfest::summary::{Counts, IutSummary, PairSummary, Summary, TableCell};
    use dmcts::verdict::Verdict;
    let iut = |name: &str, role: &str, pass: usize, fail: usize| IutSummary {
        name: name.into(),
        role: role.into(),
        product: format!("Vendor {name} 1.0"),
        reports: name.into(),
        error: None,
        interrupted: false,
        counts: Counts { pass, fail, not_applicable: 3, ..Counts::default() },
        tables: [
            (
                "DM-PACK".to_string(),
                TableCell {
                    pass,
                    ran: pass + fail,
                    verdict: Some(if fail > 0 { Verdict::Fail } else { Verdict::Pass }),
                },
            ),
            ("FUMO".to_string(), TableCell { pass: 1, ran: 1, verdict: Some(Verdict::Pass) }),
        ]
        .into(),
        cases: [("TC-DMC-SESS-001".to_string(), if fail > 0 { Verdict::Fail } else { Verdict::Pass })].into(),
    };
    let mut broken = iut("gamma-server", "server", 0, 0);
    broken.error = Some("cannot listen on 127.0.0.1:8710: Address already in use".into());
    broken.tables.clear();
    let pair = |c: &str, s: &str, v: Verdict, reason: &str| PairSummary {
        client: c.into(),
        server: s.into(),
        verdict: v,
        reason: reason.into(),
        messages: 9,
        checks_failed: usize::from(v == Verdict::Fail),
        trace: format!("pairs/{c}__{s}.txt"),
    };
    let summary = Summary {
        title: "Spring test-fest".into(),
        suite_version: "0.1.0".into(),
        wall_ms: 1234,
        iuts: vec![iut("acme-client", "client", 25, 1), iut("beta-server", "server", 27, 0), broken],
        pairs: vec![
            pair("acme-client", "beta-server", Verdict::Pass, "9 message(s) relayed in 2 sessions, every check held"),
            pair(
                "acme-client",
                "gamma-server",
                Verdict::Fail,
                "message #3 (client → server Package#3): check package3-valid expected a Package#3, actual \"200\"",
            ),
        ],
    };
    assert_eq!(summary.exit_code(), 2, "a run that could not be made is a configuration error");
    insta::assert_snapshot!("summary_matrix", summary.matrix());
    insta::assert_json_snapshot!("summary_json", summary);
}
