//! Issue 8 against a DM client the suite did not write: the shipped client cases run through
//! the real runner (`Target::Ics`, one listener for the run, `exec::execute` per case) against
//! a small fake DM 2.0 client ([`fakes::FakeClient`]) with one fault at a time.
//!
//! Each test names the point of issue 8 it shows. Every wait is bounded by [`BOUND`]; timings
//! are asserted only where ending "at once" instead of "after the step timeout" is the
//! behaviour itself, with a margin of seconds.
mod fakes;

use dmcts::catalog::{Case, Catalog};
use dmcts::ics::Ics;
use dmcts::runner::exec::{self, Execution};
use dmcts::runner::target::{self, Prepared, Target};
use dmcts::scr::Registry;
use dmcts::verdict::{Reason, Verdict};
use fakes::{ExitReport, FakeClient, Faults};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Nothing here may take longer than this; tripping it means the suite hung.
const BOUND: Duration = Duration::from_secs(40);
/// The step timeout of the ICS: long, so that "ended at once" and "waited it out" differ by
/// seconds, never by scheduling noise.
const STEP_MS: u64 = 8000;
const DEV_ID: &str = "IMEI:490154203237518";

/// The shipped client ICS example with the fake's upper tester, an ephemeral listener, the
/// account's DM server URL `server_url` and the given step timeout.
fn ics_toml(ut_url: &str, server_url: &str, step_ms: u64) -> String {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ics-client.toml"))
        .expect("the example ICS");
    let timeouts_at = example.find("[pixit.timeouts]").expect("a timeouts table");
    let mo_at = example.find("[pixit.mo]").expect("a mo table");
    let timeouts = format!(
        "[pixit.timeouts]\nstep_ms = {step_ms}\ncase_ms = {}\nrun_ms = 600000\nquiet_period_ms = 300\n\n",
        step_ms * 3
    );
    // The fake's own tree (other node names than the example's typical FUMO device): its
    // permanent node and the leaf HGET replaces.
    let mo: String = example[mo_at..]
        .lines()
        .filter(|l| !l.starts_with("permanent_uri =") && !l.starts_with("replace_uri ="))
        .map(|l| {
            if l == "[pixit.mo]" {
                "[pixit.mo]\npermanent_uri = \"urn:oma:mo:dmcts-test:1.0/t0/Perm\"\nreplace_uri = \"urn:oma:mo:dmcts-test:1.0/t0/Scratch\"\n"
                    .to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    format!("{}{timeouts}{mo}", &example[..timeouts_at])
        .replace("server_url = \"http://127.0.0.1:8700/dm\"", &format!("server_url = \"{server_url}\""))
        .replace("listen = \"127.0.0.1:8700\"", "listen = \"127.0.0.1:0\"")
        .replace("url = \"http://127.0.0.1:8701/ut\"", &format!("url = \"{ut_url}\""))
}

fn registry() -> Arc<Registry> {
    Arc::new(Registry::load_dir(Path::new("scr")).expect("the SCR tables load"))
}

/// A fake client behind a prepared ICS target, with the shipped catalog.
struct Rig {
    fake: FakeClient,
    registry: Arc<Registry>,
    catalog: Catalog,
    prepared: Prepared,
    /// The DM server URL the listener serves.
    server_url: String,
}

impl Rig {
    async fn new(faults: Faults) -> Rig {
        Rig::with(faults, "http://127.0.0.1:0/dm", STEP_MS).await
    }

    /// `server_url`: PIXIT `suite.server_url` (port 0: the port the listener gets).
    async fn with(faults: Faults, server_url: &str, step_ms: u64) -> Rig {
        let fake = FakeClient::new(DEV_ID, faults);
        let ut_url = fake.start().await;
        let src = ics_toml(&ut_url, server_url, step_ms);
        let ics = Arc::new(Ics::from_str(&src, Path::new("fake-client-ics.toml")).expect("the test ICS parses"));
        let registry = registry();
        let catalog = Catalog::load_dir(Path::new("cases"), &registry).expect("the shipped catalog loads");
        let prepared = target::prepare(&Target::Ics(ics), &registry).await.expect("the target prepares");
        // The listener is the run's: any case's environment names its URL.
        let any = catalog.get("TC-DMC-SESS-001").expect("TC-DMC-SESS-001").clone();
        let setup = prepared.case_env(&any, registry.clone()).await.expect("case env");
        let server_url = setup.env.listener.server_url().to_string();
        setup.teardown().await;
        fake.set_account_url(&server_url);
        Rig { fake, registry, catalog, prepared, server_url }
    }

    fn case(&self, id: &str) -> Case {
        self.catalog.get(id).unwrap_or_else(|| panic!("the shipped catalog has no {id}")).clone()
    }

    /// Runs a shipped case, bounded.
    async fn run(&self, id: &str) -> Execution {
        let case = self.case(id);
        let setup = self.prepared.case_env(&case, self.registry.clone()).await.expect("case env");
        let ex = match tokio::time::timeout(BOUND, exec::execute(&case, &setup.env)).await {
            Ok(ex) => ex,
            Err(_) => panic!("{id}: no verdict within {BOUND:?}: the suite hung"),
        };
        setup.teardown().await;
        ex
    }

    /// The run's listener (one for the whole run, as in an --ics run).
    async fn listener(&self) -> Arc<dmcts::peers::Listener> {
        let case = self.case("TC-DMC-SESS-001");
        let setup = self.prepared.case_env(&case, self.registry.clone()).await.expect("case env");
        let l = setup.env.listener.clone();
        setup.teardown().await;
        l
    }
}

/// Asserts the verdict (printing the reason and the trace when it differs); returns the reason.
fn expect(ex: &Execution, verdict: Verdict) -> Reason {
    let trace: Vec<String> = ex.trace.entries().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(
        ex.verdict,
        verdict,
        "reason: {:?}\ntrace:\n{}",
        ex.reason.as_ref().map(Reason::render),
        trace.join("\n")
    );
    ex.reason.clone().unwrap_or_default()
}

fn has(text: &Option<String>, needle: &str) -> bool {
    text.as_deref().is_some_and(|t| t.contains(needle))
}

// ---------------------------------------------------------------------------------------------
// §1: a real client must be able to reach the suite.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_a_client_whose_account_holds_a_url_with_a_path_is_served_there_and_passes() {
    let rig = Rig::with(Faults::default(), "http://127.0.0.1:0/path", STEP_MS).await;
    assert!(rig.server_url.ends_with("/path"), "{}", rig.server_url);
    let ex = rig.run("TC-DMC-SESS-001").await;
    expect(&ex, Verdict::Pass);
    // The fake posted exactly the account's URL, and its repository upload went below it.
    let posts = rig.fake.posts();
    assert!(!posts.is_empty() && posts.iter().all(|(u, s, _)| u == &rig.server_url && s == &Ok(200)), "{posts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_a_client_posting_to_a_path_the_suite_does_not_serve_gets_404_at_once_and_a_reason_naming_both() {
    let rig = Rig::with(Faults::default(), "http://127.0.0.1:0/path", STEP_MS).await;
    // The client's account says /oma/dm; the PIXIT says /path.
    let wrong = rig.server_url.replace("/path", "/oma/dm");
    rig.fake.set_account_url(&wrong);
    let started = Instant::now();
    let ex = rig.run("TC-DMC-SESS-001").await;
    let took = started.elapsed();
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-C-M"), "{r:?}");
    assert!(r.message.contains("POST /oma/dm"), "the URL the IUT used is named: {r:?}");
    assert!(
        r.message.contains(&format!("the account's DM server URL is {}", rig.server_url)),
        "the URL the suite serves is named: {r:?}"
    );
    let posts = rig.fake.wait_posts(1).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].1, Ok(404), "answered 404: {posts:?}");
    assert!(posts[0].2.contains(&rig.server_url), "the 404 names the served URL: {posts:?}");
    assert!(took < Duration::from_millis(STEP_MS / 2), "ended at once, not after the step timeout: {took:?}");
}

// ---------------------------------------------------------------------------------------------
// §3: one IUT, one case at a time, and nothing leaks between cases.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_after_a_failed_check_the_session_is_ended_and_a_stray_package3_is_not_the_next_cases() {
    // Package#1 without OMADM-DevID fails its check; the client then ignores END and sends a
    // Package#3 anyway, 200 ms later (after its case has ended).
    let faulty = Faults { devid_missing: true, stray_p3_after_end: true, stray_delay_ms: 200, ..Faults::default() };
    let rig = Rig::new(faulty).await;
    let ex = rig.run("TC-DMC-SESS-001").await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-C-M"), "{r:?}");

    // The failed case answered the Package#1 with END, not with its next command (HPUT).
    let posts = rig.fake.wait_posts(2).await;
    assert_eq!(posts.len(), 2, "Package#1 and the stray Package#3: {posts:?}");
    assert_eq!(serde_json::from_str::<Value>(&posts[0].2).ok(), Some(serde_json::json!({ "CMD": [["END"]] })));
    assert!(rig.fake.processed().iter().all(|(c, _)| c != "HPUT"), "{:?}", rig.fake.processed());
    // The stray Package#3 after the case is answered (with END again), and reported as
    // traffic after the case ended.
    assert_eq!(posts[1].1, Ok(200), "{posts:?}");
    rig.fake.wait_idle().await;
    let late = rig.listener().await.take_late_traffic();
    assert!(
        late.requests.iter().any(|l| l.after_case.as_deref() == Some("TC-DMC-SESS-001")
            && l.incoming.endpoint == "dm"
            && String::from_utf8_lossy(&l.incoming.body).contains("Status")),
        "{late:#?}"
    );

    // The next case, against the now correct client, is not judged on the stray traffic.
    rig.fake.set_faults(Faults::default());
    expect(&rig.run("TC-DMC-SESS-001").await, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_stray_package3_that_arrives_while_the_next_case_resets_is_dropped_not_judged() {
    // The stray comes 1.5 s after END: during the next case's reset (which waits for the
    // fake's session to be over), i.e. before the IUT confirmed its reset.
    let faulty = Faults { devid_missing: true, stray_p3_after_end: true, stray_delay_ms: 1500, ..Faults::default() };
    let rig = Rig::new(faulty).await;
    expect(&rig.run("TC-DMC-SESS-001").await, Verdict::Fail);
    rig.fake.set_faults(Faults::default());
    let ex = rig.run("TC-DMC-SESS-002").await;
    expect(&ex, Verdict::Pass);
    // The stray Package#3 came while the IUT was resetting: answered at once (503, which ends
    // the session on the client's side), and dropped from the case that was starting.
    let posts = rig.fake.wait_posts(2).await;
    assert!(posts.len() >= 2 && posts[1].1 == Ok(503), "{posts:?}");
    let trace = format!("{:?}", ex.trace.entries());
    assert!(trace.contains("dropped (arrived before the reset completed): POST /dm"), "{trace}");
}

// ---------------------------------------------------------------------------------------------
// §4: a failure is charged to the item that failed, only to it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_an_hget_that_stores_nothing_fails_hget_not_hput_nor_package3() {
    let rig = Rig::new(Faults { hget_not_stored: true, ..Faults::default() }).await;
    let ex = rig.run("TC-DMC-CMD-001").await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-014-C-M"), "charged to HGET: {r:?}");
    assert!(has(&r.expected, "http://dmcts.invalid/firmware/replaced.bin"), "the PIXIT's replace_value: {r:?}");
    // HPUT did its job (the upload came, with what the tree holds), and so did Package#3:
    // neither is blamed (the run's coverage is checked in s4_coverage_…).
    let hput = rig.fake.processed().iter().filter(|(c, _)| c == "HPUT").count();
    assert_eq!(hput, 1, "{:?}", rig.fake.processed());
    // The correct client passes the same case: the fault, not the case, decided it.
    rig.fake.set_faults(Faults::default());
    expect(&rig.run("TC-DMC-CMD-001").await, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_an_hget_that_stores_nothing_is_not_charged_to_command_order() {
    // TC-DMC-SESS-002 reads the order back through an HPUT of the node an HGET just replaced:
    // an old value there is what an out-of-order client shows, and also what a client whose
    // HGET stores nothing shows. The second is no evidence about ordering.
    let rig = Rig::new(Faults { hget_not_stored: true, ..Faults::default() }).await;
    let ex = rig.run("TC-DMC-SESS-002").await;
    let r = ex.reason.clone().unwrap_or_default();
    assert!(
        !(ex.verdict == Verdict::Fail && r.scr.as_deref() == Some("DM-PACK-012-C-M")),
        "an HGET that stores nothing was charged to command order: {r:?}"
    );
}

/// The whole run as a vendor runs it (`dmcts run --ics`, reports written): the client's
/// HGET stores nothing and its Package#3 has the wrong media type. coverage.json charges
/// each fault to its own item and nothing else: HPUT passes (its case passed; the HGET
/// cases' read-back through HPUT does not blame it), and Package#1 passes although the
/// only case covering it failed later, on Package#3.
#[test]
fn s4_coverage_charges_each_fault_to_its_item_and_innocent_items_pass() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let faults = Faults { hget_not_stored: true, p3_media_type_json: true, ..Faults::default() };
    let fake = FakeClient::new(DEV_ID, faults);
    let ut_url = rt.block_on(fake.start());
    // The binary binds the listener itself: a free loopback port, picked and released here.
    let port = dmcts::peers::free_loopback_port();
    let server_url = format!("http://127.0.0.1:{port}/dm");
    fake.set_account_url(&server_url);
    let dir = std::env::temp_dir().join(format!("dmcts-fake-client-coverage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ics = dir.join("ics.toml");
    let src = ics_toml(&ut_url, &server_url, STEP_MS).replace("127.0.0.1:0\"", &format!("127.0.0.1:{port}\""));
    std::fs::write(&ics, src).unwrap();
    let reports = dir.join("reports");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["run", "--ics", ics.to_str().unwrap(), "--report-dir", reports.to_str().unwrap()])
        .args(["--scr", "DM-PACK-014-C-M", "--scr", "DM-PACK-015-C-M", "--scr", "DM-PACK-022-C-M"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dmcts starts");
    let deadline = Instant::now() + BOUND;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dmcts run hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let console = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{console}");

    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(reports.join(name)).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{name}: {e}\n{console}"))
    };
    let run = read("run.json");
    let case = |id: &str| -> (String, Option<String>) {
        let c = run["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id}"));
        (c["verdict"].as_str().unwrap().to_string(), c["reason"]["scr"].as_str().map(String::from))
    };
    assert_eq!(case("TC-DMC-CMD-001"), ("fail".into(), Some("DM-PACK-014-C-M".into())), "{console}");
    assert_eq!(case("TC-DMC-CMD-002"), ("fail".into(), Some("DM-PACK-014-C-M".into())), "{console}");
    assert_eq!(case("TC-DMC-CMD-003").0, "pass", "{console}");
    assert_eq!(case("TC-DMC-SESS-001"), ("fail".into(), Some("DM-PACK-013-C-M".into())), "{console}");
    assert_eq!(case("TC-DMC-SESS-003").0, "pass", "{console}");

    let coverage = read("coverage.json");
    let item = |id: &str| -> String {
        let i = coverage["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap_or_else(|| panic!("{id}"));
        i["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(item("DM-PACK-014-C-M"), "fail", "HGET: the fault");
    assert_eq!(item("DM-PACK-013-C-M"), "fail", "Package#3: the other fault");
    assert_eq!(item("DM-PACK-015-C-M"), "pass", "HPUT is innocent");
    assert_eq!(item("DM-PACK-011-C-M"), "pass", "Package#1: all its judgements held in the failed TC-DMC-SESS-001");
    for innocent in ["DM-PACK-001-C-M", "DM-PACK-012-C-M", "DM-PACK-022-C-M", "DM-PACK-025-C-M"] {
        assert_ne!(item(innocent), "fail", "{innocent}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(rt);
}

// ---------------------------------------------------------------------------------------------
// §7: vacuous passes and undetected real defects.

async fn crash_on_hget_without_client_uri(report: ExitReport) {
    let rig =
        Rig::new(Faults { crash_on_hget_without_client_uri: true, exit_report: report, ..Faults::default() }).await;
    let started = Instant::now();
    let ex = rig.run("TC-DMC-CMD-002").await;
    let took = started.elapsed();
    let r = expect(&ex, Verdict::Fail);
    assert!(r.message.contains("the IUT process has exited (SIGSEGV)"), "the crash is named: {r:?}");
    assert!(!r.message.contains("nothing within"), "{r:?}");
    assert!(took < Duration::from_millis(STEP_MS / 2), "ended at once, not after the step timeout: {took:?}");
    assert!(
        rig.fake.processed().iter().any(|(c, _)| c == "HGET"),
        "the crash came on the HGET: {:?}",
        rig.fake.processed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_a_client_that_crashes_on_hget_without_client_uri_fails_saying_the_process_ended_iut_state() {
    crash_on_hget_without_client_uri(ExitReport::IutState).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_a_client_that_crashes_on_hget_without_client_uri_fails_saying_the_process_ended_iut_state_field() {
    crash_on_hget_without_client_uri(ExitReport::IutStateField).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_after_the_crash_an_upper_tester_saying_so_on_its_answers_makes_the_next_case_inconc_naming_it() {
    let faults = Faults {
        crash_on_hget_without_client_uri: true,
        exit_report: ExitReport::IutStateField,
        stays_dead: true,
        ..Faults::default()
    };
    let rig = Rig::new(faults).await;
    expect(&rig.run("TC-DMC-CMD-002").await, Verdict::Fail);
    // The next case's (optional) reset is answered `failed` with data.iut_state = "exited":
    // not tolerated as an optional step would be, and nothing is judged of a dead IUT.
    let ex = rig.run("TC-DMC-SESS-001").await;
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains("reset") && r.message.contains("the IUT process has exited (SIGSEGV)"), "{r:?}");
    assert_eq!(r.step, Some(1), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_a_client_that_never_sends_package3_fails_sess_003() {
    let rig = Rig::new(Faults { no_package3: true, ..Faults::default() }).await;
    let ex = rig.run("TC-DMC-SESS-003").await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-001-C-M"), "{r:?}");
    // The correct client passes it: the case exercises END only after a Package#3 was seen.
    rig.fake.set_faults(Faults::default());
    expect(&rig.run("TC-DMC-SESS-003").await, Verdict::Pass);
}

// ---------------------------------------------------------------------------------------------
// §8: fast, exact verdicts on failing IUTs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_an_idle_iut_ends_the_awaiting_step_at_once_with_that_reason() {
    let rig = Rig::new(Faults { no_package3: true, ..Faults::default() }).await;
    let started = Instant::now();
    let ex = rig.run("TC-DMC-SESS-001").await;
    let took = started.elapsed();
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-001-C-M"), "{r:?}");
    assert!(r.message.contains("reports the IUT idle (iut.state)"), "{r:?}");
    assert!(took < Duration::from_millis(STEP_MS / 2), "ended at once, not after the step timeout: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_an_iut_that_cannot_tell_its_state_is_waited_for_the_step_timeout() {
    // The contrast: without iut.state the suite cannot know, and waits the step out.
    let rig =
        Rig::with(Faults { no_package3: true, no_iut_state: true, ..Faults::default() }, "http://127.0.0.1:0/dm", 1500)
            .await;
    let ex = rig.run("TC-DMC-SESS-001").await;
    let r = expect(&ex, Verdict::Fail);
    assert!(r.message.contains("nothing within 1500 ms"), "{r:?}");
    assert!(ex.duration >= Duration::from_millis(1500), "{:?}", ex.duration);
}

// ---------------------------------------------------------------------------------------------
// §9: a refused body is reported as refused.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_a_20_mib_package1_is_refused_and_inconc_not_judged_as_content() {
    let rig = Rig::new(Faults { package1_padding: 20 * 1024 * 1024, ..Faults::default() }).await;
    let ex = rig.run("TC-DMC-SESS-001").await;
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains("refused by the suite") && r.message.contains("could not be judged"), "{r:?}");
    assert!(!r.message.contains("JSON") && r.scr.is_none(), "no check judged the refusal marker: {r:?}");
}

// ---------------------------------------------------------------------------------------------
// Issue 14 §3: a partial run says so; issue 8 §3: what the IUT sends after the last case is
// reported, not lost.

/// One case selected by name (`-- TC-DMC-SESS-001 --exact`), as a test-fest operator does:
/// the console and the coverage headline say "1 of N applicable cases selected"; items no
/// selected case covers are `not-selected` and out of the pass ratio; run.json and
/// coverage.json say which selection ran. The client, failing that case, sends a stray
/// Package#3 after it: the run waits while the upper tester says the IUT is at work, and
/// run.json reports the stray as traffic after the case ended.
#[test]
fn a_partial_run_reports_its_selection_and_the_traffic_after_its_last_case() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let faults = Faults { devid_missing: true, stray_p3_after_end: true, stray_delay_ms: 300, ..Faults::default() };
    let fake = FakeClient::new(DEV_ID, faults);
    let ut_url = rt.block_on(fake.start());
    let port = dmcts::peers::free_loopback_port();
    let server_url = format!("http://127.0.0.1:{port}/dm");
    fake.set_account_url(&server_url);
    let dir = std::env::temp_dir().join(format!("dmcts-fake-client-selection-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ics = dir.join("ics.toml");
    let src = ics_toml(&ut_url, &server_url, STEP_MS).replace("127.0.0.1:0\"", &format!("127.0.0.1:{port}\""));
    std::fs::write(&ics, src).unwrap();
    let reports = dir.join("reports");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["run", "--ics", ics.to_str().unwrap(), "--report-dir", reports.to_str().unwrap()])
        .args(["--", "TC-DMC-SESS-001", "--exact"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("dmcts runs");
    let console = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{console}");
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(reports.join(name)).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{name}: {e}\n{console}"))
    };
    let run = read("run.json");
    let selection = &run["selection"];
    assert_eq!(selection["selected"], 1, "{console}");
    let applicable = selection["applicable"].as_u64().unwrap();
    assert!(applicable > 10, "{selection}");
    assert_eq!(selection["filters"], serde_json::json!(["TC-DMC-SESS-001 --exact"]));
    let headline = format!("1 of {applicable} applicable cases selected (TC-DMC-SESS-001 --exact)");
    assert!(console.contains(&headline), "{console}");
    let other = run["cases"].as_array().unwrap().iter().find(|c| c["id"] == "TC-DMC-CMD-001").unwrap();
    assert_eq!(other["verdict"], "not-selected", "{other}");

    let coverage = read("coverage.json");
    assert_eq!(coverage["summary"]["selection"], *selection);
    assert!(coverage["summary"]["headline"].as_str().unwrap().starts_with(&headline), "{coverage}");
    let item = |id: &str| -> String {
        let i = coverage["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap_or_else(|| panic!("{id}"));
        i["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(item("DM-PACK-011-C-M"), "fail", "the selected case's failure");
    assert_eq!(item("DM-PACK-014-C-M"), "not-selected", "HGET: no selected case covers it");
    // Only the items the selection reached count: SESS-001 covers 6 mandatory items.
    let m = &coverage["summary"]["mandatory"];
    assert_eq!(m["total"], 6, "{m}");

    let late = run["late_traffic"].as_array().expect("late_traffic");
    assert!(
        late.iter()
            .any(|l| l["after_case"] == "TC-DMC-SESS-001" && l["body"].as_str().unwrap_or("").contains("Status")),
        "the stray Package#3 is reported: {late:?}\n{console}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
