//! Bad behaviour of an IUT or of its upper tester ends in a clear verdict — never a panic,
//! never a hang — through the real runner over real sockets on 127.0.0.1.
//!
//! A fake upper tester (axum, 127.0.0.1:0) plays the vendor's hook: per action it answers
//! `done` (and may make a fake client IUT POST something to the suite's `/dm`), `unsupported`,
//! `failed`, a non-JSON body, or never answers. The suite side is the real one: an ICS parsed
//! from TOML with short timeouts, `Target::Ics`, `Prepared::case_env`, `exec::execute`, cases
//! built from TOML with `Catalog::load_sources`. Every run is bounded by [`BOUND`].
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dmcts::catalog::{Case, Catalog};
use dmcts::ics::Ics;
use dmcts::runner::exec::{self, Execution};
use dmcts::runner::target::{self, Prepared, Target};
use dmcts::scr::Registry;
use dmcts::upper_tester::{UpperTester, UtAnswer, UtRequest};
use dmcts::verdict::{Reason, Verdict};
use dmcts::wire::dm2::{ALERT_CLIENT_INITIATED, MEDIA_PACKAGE1};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Nothing here may take longer than this; tripping it means the suite hung.
const BOUND: Duration = Duration::from_secs(10);
const STEP_MS: u64 = 300;
const CASE_MS: u64 = 2000;
const QUIET_MS: u64 = 100;
const DEV_ID: &str = "IMEI:490154203237518";

// ---------------------------------------------------------------------------------------------
// The fake upper tester and the fake client IUT behind it.

/// How the fake upper tester handles one action.
#[derive(Clone, Debug)]
enum Act {
    /// Answer `done` and do nothing.
    Done,
    /// Answer `done`; then the fake client IUT POSTs `body` to the suite's `/dm` after `delay_ms`.
    DoneThenPost {
        body: Vec<u8>,
        content_type: &'static str,
        delay_ms: u64,
    },
    /// The fake client IUT POSTs `body` to `/dm` first (late traffic of an earlier state), and
    /// only then, 100 ms later, answers `done`.
    PostThenDone {
        body: Vec<u8>,
    },
    Unsupported,
    Failed,
    /// HTTP 200 with a body that is not an upper-tester answer.
    Garbage,
    /// Never answer.
    Hang,
}

#[derive(Default)]
struct FakeState {
    acts: HashMap<String, Act>,
    /// The suite's `/dm` URL (known once the target is prepared).
    dm_url: Option<String>,
    /// Actions received, in order.
    calls: Vec<String>,
    /// What the suite answered each POST of the fake client IUT: status, or the transport error.
    iut_replies: Vec<Result<u16, String>>,
}

#[derive(Clone, Default)]
struct FakeUt(Arc<Mutex<FakeState>>);

impl FakeUt {
    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, action: &str, act: Act) {
        self.lock().acts.insert(action.to_string(), act);
    }

    fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn replies(&self) -> Vec<Result<u16, String>> {
        self.lock().iut_replies.clone()
    }

    /// Waits (bounded) until the fake client IUT has received `n` answers from the suite.
    async fn wait_replies(&self, n: usize) -> Vec<Result<u16, String>> {
        let deadline = Instant::now() + BOUND;
        loop {
            let r = self.replies();
            if r.len() >= n || Instant::now() > deadline {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the fake upper tester; returns its URL.
    async fn start(&self) -> String {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake upper tester");
        let addr = tcp.local_addr().expect("local addr");
        let app = axum::Router::new().route("/ut", axum::routing::post(ut_handler)).with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        format!("http://{addr}/ut")
    }
}

async fn ut_handler(State(fake): State<FakeUt>, body: Bytes) -> Response {
    let req: UtRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let act = {
        let mut s = fake.lock();
        s.calls.push(req.action.clone());
        s.acts.get(&req.action).cloned().unwrap_or(Act::Unsupported)
    };
    match act {
        Act::Done => Json(UtAnswer::done(Value::Null)).into_response(),
        Act::DoneThenPost { body, content_type, delay_ms } => {
            let f = fake.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let url = f.lock().dm_url.clone().expect("the suite's /dm URL is known");
                let client = reqwest::Client::builder().no_proxy().build().expect("client");
                let r = client
                    .post(url)
                    .header("Content-Type", content_type)
                    .header("OMADM-DevID", DEV_ID)
                    .body(body)
                    .timeout(BOUND)
                    .send()
                    .await;
                let r = r.map(|r| r.status().as_u16()).map_err(|e| e.to_string());
                f.lock().iut_replies.push(r);
            });
            Json(UtAnswer::done(Value::Null)).into_response()
        }
        Act::PostThenDone { body } => {
            let url = fake.lock().dm_url.clone().expect("the suite's /dm URL is known");
            tokio::spawn(async move {
                let client = reqwest::Client::builder().no_proxy().build().expect("client");
                let _ = client.post(url).header("Content-Type", MEDIA_PACKAGE1).body(body).timeout(BOUND).send().await;
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            Json(UtAnswer::done(Value::Null)).into_response()
        }
        Act::Unsupported => Json(UtAnswer::unsupported("this fake IUT cannot do that")).into_response(),
        Act::Failed => Json(UtAnswer::failed("the fake IUT tried and failed")).into_response(),
        Act::Garbage => "<html><body>500 Internal Server Error (not an upper tester)</body></html>".into_response(),
        Act::Hang => std::future::pending::<Response>().await,
    }
}

fn post_after(body: impl Into<Vec<u8>>, delay_ms: u64) -> Act {
    Act::DoneThenPost { body: body.into(), content_type: MEDIA_PACKAGE1, delay_ms }
}

fn good_package1() -> Vec<u8> {
    serde_json::to_vec(&json!({ "Alert": [ { "AlertType": ALERT_CLIENT_INITIATED } ] })).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The suite side: ICS, target, cases.

fn registry() -> Arc<Registry> {
    Arc::new(Registry::load_dir(Path::new("scr")).expect("the SCR registry loads"))
}

fn ics_toml(upper_tester: &str) -> String {
    format!(
        r#"
[iut]
role = "client"
vendor = "Robustness"
product = "Fake client IUT"
version = "0"

[support]
"DM-PACK-002-C-O" = false
"DM-PACK-007-C-O" = false
"DM-PACK-008-C-O" = false
"DM-PACK-009-C-O" = false
"DM-PACK-019-C-O" = false
"DM-PACK-020-C-O" = false
"DM-PACK-023-C-O" = false

[pixit.suite]
listen = "127.0.0.1:0"

[pixit.iut]
dev_id = "{DEV_ID}"

[pixit.upper_tester]
{upper_tester}

[pixit.timeouts]
step_ms = {STEP_MS}
case_ms = {CASE_MS}
run_ms = 60000
quiet_period_ms = {QUIET_MS}
"#
    )
}

fn http_ut(url: &str) -> String {
    format!("backend = \"http\"\nurl = \"{url}\"")
}

fn ics(upper_tester: &str) -> Arc<Ics> {
    Arc::new(Ics::from_str(&ics_toml(upper_tester), Path::new("robustness-ics.toml")).expect("the test ICS parses"))
}

/// Cases from a TOML string (validated like the shipped catalog).
fn cases(src: &str, reg: &Registry) -> Vec<Case> {
    match Catalog::load_sources(&[(PathBuf::from("robustness.toml"), src.to_string())], reg) {
        Ok(c) => c.cases,
        Err(e) => panic!("the test cases do not load:\n{e}"),
    }
}

fn case(src: &str, reg: &Registry) -> Case {
    cases(src, reg).remove(0)
}

/// Fails the test instead of hanging it.
async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(BOUND, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no verdict within {BOUND:?}: the suite hung"),
    }
}

/// A prepared ICS target with a fake upper tester behind it.
struct Rig {
    fake: FakeUt,
    registry: Arc<Registry>,
    prepared: Prepared,
}

impl Rig {
    async fn new() -> Rig {
        let fake = FakeUt::default();
        let url = fake.start().await;
        Rig::with_ics(fake, ics(&http_ut(&url))).await
    }

    async fn with_ics(fake: FakeUt, ics: Arc<Ics>) -> Rig {
        let registry = registry();
        let prepared = target::prepare(&Target::Ics(ics), &registry).await.expect("the target prepares");
        Rig { fake, registry, prepared }
    }

    /// Runs one case through `exec::execute`, bounded.
    async fn run(&self, case: &Case) -> Execution {
        let setup = self.prepared.case_env(case, self.registry.clone()).await.expect("case env");
        self.fake.lock().dm_url = Some(setup.env.listener.endpoint_url("dm"));
        let ex = bounded(&case.id, exec::execute(case, &setup.env)).await;
        setup.teardown().await;
        ex
    }
}

/// Asserts the verdict (printing the reason and the trace when it differs); returns the reason
/// (empty for a pass).
fn expect(ex: &Execution, verdict: Verdict) -> Reason {
    let trace: Vec<String> = ex.trace.entries().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(
        ex.verdict,
        verdict,
        "reason: {:?}\ntrace:\n{}",
        ex.reason.as_ref().map(Reason::render),
        trace.join("\n")
    );
    if verdict != Verdict::Pass {
        assert!(ex.reason.is_some(), "verdict {verdict} without a reason");
    }
    ex.reason.clone().unwrap_or_default()
}

fn has(text: &Option<String>, needle: &str) -> bool {
    text.as_deref().is_some_and(|t| t.contains(needle))
}

const HEAD: &str = r#"
[[case]]
title = "robustness"
purpose = "bad IUT behaviour gives a clear verdict"
role = "client"
covers = ["DM-PACK-011-C-M"]
"#;

fn with_id(id: &str, steps: &str) -> String {
    format!("{HEAD}id = \"{id}\"\n{steps}")
}

const SESSION_START: &str = r#"
[[case.steps]]
kind = "ut"
action = "session.start"
"#;

const AWAIT_P1: &str = r#"
[[case.steps]]
kind = "await"
endpoint = "dm"
scr = "DM-PACK-011-C-M"
why = "The DM Client sends Package#1 to initiate the DM Session."
checks = [ { check = "builtin", name = "package1-valid", scr = "DM-PACK-011-C-M" } ]
answer = { commands = [["END"]] }
"#;

// ---------------------------------------------------------------------------------------------
// (1) A required message never comes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iut_that_never_sends_package1_fails_naming_the_await_item_within_the_step_timeout() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", Act::Done);
    let c = case(&with_id("TC-ROB-001", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-C-M"), "{r:?}");
    assert_eq!(r.step, Some(2), "the await step, not the case, ended it: {r:?}");
    assert!(r.message.contains("no request arrived at http://127.0.0.1:"), "{r:?}");
    assert!(r.message.contains(&format!("/dm: nothing within {STEP_MS} ms")), "{r:?}");
    assert!(has(&r.expected, "an HTTP request at http://127.0.0.1:"), "{r:?}");
    assert!(has(&r.actual, "nothing"), "{r:?}");
    assert!(has(&r.requirement, "Package#1"), "the requirement is quoted: {r:?}");
    assert!(!r.message.contains("case timeout"), "bounded by step_ms, not case_ms: {r:?}");
    assert!(ex.duration >= Duration::from_millis(STEP_MS), "it waited the step timeout: {:?}", ex.duration);
}

// ---------------------------------------------------------------------------------------------
// (2) Garbage or a malformed Package#1 from the IUT.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_json_package1_fails_package1_valid_with_the_offset_and_the_iut_still_gets_an_answer() {
    let rig = Rig::new().await;
    let garbage: Vec<u8> = [&b"\xff\x00GARBAGE{"[..], &[0xfe, 0x80, b'}']].concat();
    rig.fake.set("session.start", post_after(garbage, 0));
    let c = case(&with_id("TC-ROB-002", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-C-M"), "{r:?}");
    assert!(r.message.contains("package1-valid"), "{r:?}");
    assert!(has(&r.expected, "a Package#1: at / a JSON document"), "{r:?}");
    assert!(has(&r.actual, "invalid JSON at line 1 column"), "the offset is named: {r:?}");
    // Answered before judging: the IUT is never left hanging on a failed check.
    assert_eq!(rig.fake.wait_replies(1).await, vec![Ok(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_package1_fails_package1_valid_naming_the_json_pointer() {
    let rig = Rig::new().await;
    let bad = br#"{"Alert": [ { "AlertType": 7 } ]}"#.to_vec();
    rig.fake.set("session.start", post_after(bad, 0));
    let c = case(&with_id("TC-ROB-003", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-C-M"), "{r:?}");
    assert!(r.message.contains("package1-valid"), "{r:?}");
    assert!(has(&r.expected, "/Alert/0/AlertType"), "the pointer is named: {r:?}");
    assert!(has(&r.expected, "a string"), "{r:?}");
    assert!(has(&r.actual, "a number"), "{r:?}");
    assert_eq!(rig.fake.wait_replies(1).await, vec![Ok(200)]);
}

// ---------------------------------------------------------------------------------------------
// (3)-(5) The upper tester's answers: unsupported/failed → inconc, garbage → error, silence → inconc.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_tester_unsupported_or_failed_is_inconc_and_optional_unsupported_goes_on() {
    let rig = Rig::new().await;
    let c = case(&with_id("TC-ROB-004", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);

    rig.fake.set("session.start", Act::Unsupported);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains("session.start") && r.message.contains("unsupported"), "{r:?}");
    assert!(r.message.contains("this fake IUT cannot do that"), "the IUT's own words are kept: {r:?}");
    assert_eq!(r.step, Some(1), "{r:?}");

    rig.fake.set("session.start", Act::Failed);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains("session.start") && r.message.contains("failed"), "{r:?}");
    assert!(r.message.contains("the fake IUT tried and failed"), "{r:?}");

    // `optional = true`: unsupported is accepted and the case goes on to its verdict.
    let optional = r#"
[[case.steps]]
kind = "ut"
action = "reset"
optional = true
"#;
    let c = case(&with_id("TC-ROB-005", &format!("{optional}{SESSION_START}{AWAIT_P1}")), &rig.registry);
    rig.fake.set("reset", Act::Unsupported);
    rig.fake.set("session.start", post_after(good_package1(), 0));
    let ex = rig.run(&c).await;
    expect(&ex, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_tester_unsupported_for_a_feature_the_ics_declares_supported_is_inconc_naming_the_contradiction() {
    // The upper tester is not the protocol (issue 8 §5): what it cannot start is not tested,
    // and the reason names the contradiction with the ICS so the vendor can correct one side.
    let fake = FakeUt::default();
    let url = fake.start().await;
    let toml = ics_toml(&http_ut(&url)).replace(r#""DM-PACK-020-C-O" = false"#, r#""DM-PACK-020-C-O" = true"#);
    let ics = Arc::new(Ics::from_str(&toml, Path::new("robustness-ics.toml")).expect("the test ICS parses"));
    let rig = Rig::with_ics(fake, ics).await;
    let src = with_id("TC-ROB-018", &format!("applies_if = \"DM-PACK-020-C-O\"\n{SESSION_START}{AWAIT_P1}"));
    let c = case(&src, &rig.registry);

    rig.fake.set("session.start", Act::Unsupported);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Inconc);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-020-C-O"), "{r:?}");
    assert!(
        r.message.contains("session.start") && r.message.contains("ICS declares DM-PACK-020-C-O supported"),
        "{r:?}"
    );
    assert!(has(&r.actual, "this fake IUT cannot do that"), "the IUT's own words are kept: {r:?}");

    // `reset` is the harness's hook, not a feature: still inconc.
    let reset = "\n[[case.steps]]\nkind = \"ut\"\naction = \"reset\"\n";
    let src = with_id("TC-ROB-019", &format!("applies_if = \"DM-PACK-020-C-O\"\n{reset}{SESSION_START}{AWAIT_P1}"));
    let c = case(&src, &rig.registry);
    rig.fake.set("reset", Act::Unsupported);
    let ex = rig.run(&c).await;
    expect(&ex, Verdict::Inconc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_tester_answering_garbage_is_an_error_saying_what_was_expected() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", Act::Garbage);
    let c = case(&with_id("TC-ROB-006", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("upper tester"), "{r:?}");
    assert!(r.message.contains("not JSON"), "{r:?}");
    assert!(r.message.contains(r#""status": "done"|"unsupported"|"failed""#), "the contract is quoted: {r:?}");
    assert!(r.message.contains("not an upper tester"), "what came is quoted: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_tester_that_never_answers_is_inconc_within_the_step_timeout() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", Act::Hang);
    let c = case(&with_id("TC-ROB-007", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains(&format!("no answer to session.start within {STEP_MS} ms")), "{r:?}");
    assert!(!r.message.contains("case timeout"), "the step timeout ended it: {r:?}");
    assert_eq!(r.step, Some(1), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_tester_that_is_not_there_is_an_error_naming_its_url() {
    // Bind then drop: a port nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/ut", l.local_addr().unwrap())
    };
    let rig = Rig::with_ics(FakeUt::default(), ics(&http_ut(&dead))).await;
    let c = case(&with_id("TC-ROB-008", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("upper tester transport") && r.message.contains(&dead), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// (6) An interactive upper tester without a terminal.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_upper_tester_without_a_terminal_skips_the_case_as_requires_operator() {
    let rig = Rig::with_ics(FakeUt::default(), ics("backend = \"interactive\"")).await;
    let c = case(&with_id("TC-ROB-009", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let setup = rig.prepared.case_env(&c, rig.registry.clone()).await.expect("case env");
    let mut env = setup.env;
    if std::io::stdin().is_terminal() {
        // Run under a terminal: an operator whose input is closed is the same situation.
        env.ut = Arc::new(UpperTester::interactive_with_io(std::io::empty(), std::io::sink()));
    }
    assert!(env.ut.is_interactive());
    let started = Instant::now();
    let ex = bounded(&c.id, exec::execute(&c, &env)).await;
    let r = expect(&ex, Verdict::Skipped);
    assert!(r.message.contains("requires-operator"), "{r:?}");
    assert!(r.message.contains("UT-SESSION.START"), "the prompt id is named: {r:?}");
    assert!(started.elapsed() < Duration::from_millis(CASE_MS), "skipped at once, not timed out");
}

// ---------------------------------------------------------------------------------------------
// (7) Case defects: unknown template variables.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_template_variable_is_an_error_saying_so_wherever_it_is() {
    let rig = Rig::new().await;

    // In upper-tester args: error before anything is asked.
    let steps = r#"
[[case.steps]]
kind = "ut"
action = "session.start"
args = { uri = "${no_such_var}" }
"#;
    let c = case(&with_id("TC-ROB-010", steps), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("case defect") && r.message.contains("unknown template variable ${no_such_var}"));
    assert!(rig.fake.calls().is_empty(), "nothing was asked of the IUT: {:?}", rig.fake.calls());

    // In the answer to an awaited request: the IUT gets a 500 (it is not left hanging), the case an error.
    rig.fake.set("session.start", post_after(good_package1(), 0));
    let steps = r#"
[[case.steps]]
kind = "ut"
action = "session.start"

[[case.steps]]
kind = "await"
endpoint = "dm"
scr = "DM-PACK-011-C-M"
answer = { commands = [["GET", "${pixit.mo.nowhere}"]] }
"#;
    let c = case(&with_id("TC-ROB-011", steps), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("unknown template variable ${pixit.mo.nowhere}"), "{r:?}");
    assert_eq!(rig.fake.wait_replies(1).await, vec![Ok(500)]);

    // In a static resource: error before the case starts.
    let resources = r#"
[[case.resources]]
endpoint = "repo"
path = "/obj"
body = "${endpoint.repo}/${nope}"
"#;
    let c = case(&with_id("TC-ROB-012", &format!("{resources}{SESSION_START}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("unknown template variable ${nope}"), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// (8) The case timeout.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_longer_than_case_ms_is_inconc_case_timeout() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", Act::Done);
    let steps = r#"
[[case.steps]]
kind = "ut"
action = "session.start"

[[case.steps]]
kind = "await"
endpoint = "dm"
scr = "DM-PACK-011-C-M"
timeout_ms = 60000
"#;
    let c = case(&with_id("TC-ROB-013", steps), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains("case timeout"), "{r:?}");
    assert!(r.message.contains(&format!("{CASE_MS} ms")) && r.message.contains("timeouts.case_ms"), "{r:?}");
    assert!(ex.duration >= Duration::from_millis(CASE_MS), "{:?}", ex.duration);
}

// ---------------------------------------------------------------------------------------------
// (9) Silence: a request during expect-silence fails; an idle hook that hangs does not hang it.

const SILENCE: &str = r#"
[[case.steps]]
kind = "expect-silence"
endpoint = "any"
scr = "DM-PACK-022-C-M"
why = "If the Package#2 includes the END command, this Package#3 MUST NOT be sent."
duration_ms = 1500
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_during_expect_silence_fails_naming_the_item() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", post_after(br#"{"Status": []}"#.to_vec(), 100));
    let c = case(&with_id("TC-ROB-014", &format!("{SESSION_START}{SILENCE}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-022-C-M"), "{r:?}");
    assert!(r.message.contains("a request arrived at /dm while silence was required"), "{r:?}");
    assert!(has(&r.expected, "no request at any"), "{r:?}");
    assert!(has(&r.actual, "POST /dm") && has(&r.actual, "Status"), "{r:?}");
    assert!(has(&r.requirement, "MUST NOT be sent"), "{r:?}");
    assert_eq!(rig.fake.wait_replies(1).await, vec![Ok(503)], "the unwanted request is refused, not held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_silence_with_an_idle_hook_that_hangs_still_ends_and_passes() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", Act::Done);
    rig.fake.set("idle", Act::Hang);
    let silence = SILENCE.replace("duration_ms = 1500", "duration_ms = 200");
    let c = case(&with_id("TC-ROB-015", &format!("{SESSION_START}{silence}")), &rig.registry);
    let ex = rig.run(&c).await;
    expect(&ex, Verdict::Pass);
    assert!(rig.fake.calls().contains(&"idle".to_string()), "{:?}", rig.fake.calls());
}

// ---------------------------------------------------------------------------------------------
// (10) A hung or misbehaving IUT ends that case, never the run.

/// A case a well-behaved client IUT passes; `action` makes it open the session.
fn passing_steps(action: &str) -> String {
    let silence = SILENCE.replace("duration_ms = 1500", &format!("duration_ms = {QUIET_MS}"));
    let checks = r#"
[[case.steps]]
kind = "await"
endpoint = "dm"
scr = "DM-PACK-011-C-M"
checks = [
  { check = "method", equals = "POST", scr = "DM-PACK-011-C-M" },
  { check = "header-equals", header = "OMADM-DevID", value = "${pixit.iut.dev_id}", scr = "DM-PACK-011-C-M" },
  { check = "media-type", value = "application/vnd.oma.dm.initiation+json", scr = "DM-PACK-011-C-M" },
  { check = "builtin", name = "package1-valid", scr = "DM-PACK-011-C-M" },
  { check = "builtin", name = "session-alert", args = { type = "client-initiated" }, scr = "DM-PACK-011-C-M" },
]
answer = { commands = [["END"]] }
"#;
    let start = SESSION_START.replace("session.start", action);
    format!("{start}{checks}{silence}")
}

fn passing_case(id: &str) -> String {
    with_id(id, &passing_steps("session.start"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_hung_case_the_next_case_on_the_same_listener_runs_and_passes() {
    let rig = Rig::new().await;
    let hung = case(&with_id("TC-ROB-016", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let good = case(&passing_case("TC-ROB-017"), &rig.registry);
    // A case that never takes the IUT's request: it stays held until the case ends.
    let ignores = format!(
        "{SESSION_START}{}",
        AWAIT_P1.replace("endpoint = \"dm\"", "endpoint = \"repo\"").replace("answer = { commands = [[\"END\"]] }", "")
    );
    let ignores = case(&with_id("TC-ROB-020", &ignores), &rig.registry);

    // The upper tester hangs: inconc, and the run goes on.
    rig.fake.set("session.start", Act::Hang);
    expect(&rig.run(&hung).await, Verdict::Inconc);

    rig.fake.set("session.start", post_after(good_package1(), 0));
    expect(&rig.run(&good).await, Verdict::Pass);
    assert_eq!(rig.fake.wait_replies(1).await, vec![Ok(200)]);

    // The IUT's Package#1 is never taken: the case fails, and the held request is answered with
    // the binding's session end when the case ends (the IUT is not left hanging, and its session
    // does not run on into the next case).
    let ex = rig.run(&ignores).await;
    let r = expect(&ex, Verdict::Fail);
    assert!(r.message.contains("/repo"), "{r:?}");
    assert_eq!(rig.fake.wait_replies(2).await, vec![Ok(200), Ok(200)]);

    expect(&rig.run(&good).await, Verdict::Pass);
    assert_eq!(rig.fake.wait_replies(3).await, vec![Ok(200), Ok(200), Ok(200)]);

    // A late request between cases is answered at once with the session end, and the next case
    // does not see it.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let dm = rig.fake.lock().dm_url.clone().unwrap();
    let late = bounded("late request", client.post(&dm).body(good_package1()).send()).await.unwrap();
    assert_eq!(late.status().as_u16(), 200);
    assert_eq!(late.text().await.unwrap(), r#"{"CMD":[["END"]]}"#);
    rig.fake.set("session.start", Act::Done);
    let ex = rig.run(&hung).await;
    let r = expect(&ex, Verdict::Fail);
    assert!(r.message.contains("no request arrived at"), "the late request leaked into the case: {r:?}");
}

/// The same through the whole runner (`run::run`, libtest-mimic trials, one listener): a hung
/// case is inconc, the next one still passes, and the run returns.
#[test]
fn the_runner_records_a_hung_case_and_goes_on_to_the_next() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let fake = FakeUt::default();
    let url = rt.block_on(fake.start());
    let reg = registry();
    let src = format!(
        "{}\n{}\n{}",
        with_id("TC-ROB-020", &format!("{SESSION_START}{AWAIT_P1}")),
        // A different action, so the fake can hang on one and serve the other.
        with_id("TC-ROB-021", &passing_steps("reset")),
        with_id("TC-ROB-022", &format!("{SESSION_START}{AWAIT_P1}")),
    );
    let catalog = Arc::new(
        Catalog::load_sources(&[(PathBuf::from("robustness.toml"), src)], &reg).unwrap_or_else(|e| panic!("{e}")),
    );
    fake.set("session.start", Act::Hang);
    fake.set("reset", post_after(good_package1(), 0));
    // The runner binds its listener itself and does not expose it: the ICS names a free
    // loopback port (picked and released here), and the fake client IUT posts there.
    let port = dmcts::peers::free_loopback_port();
    let ics_src = ics_toml(&http_ut(&url)).replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let ics = Arc::new(Ics::from_str(&ics_src, Path::new("robustness-ics.toml")).unwrap());
    fake.lock().dm_url = Some(format!("http://127.0.0.1:{port}/dm"));
    // The inner run's own libtest lines go to a log file, not among this test's.
    let log = temp_dir("runner").join("libtest.log");
    let opts = dmcts::runner::run::RunOptions {
        target: Target::Ics(ics),
        scr_patterns: vec![],
        role: None,
        libtest: libtest_mimic::Arguments::from_iter([
            "dmcts",
            "--test-threads=1",
            "--color=never",
            "--logfile",
            log.to_str().unwrap(),
        ]),
        report_dir: None,
        catalog: None,
        interrupt: Default::default(),
    };
    let started = Instant::now();
    let out = dmcts::runner::run::run(reg, catalog, opts).expect("the run completes");
    assert!(started.elapsed() < BOUND * 2, "the run took {:?}", started.elapsed());
    let got: Vec<(String, Verdict)> = out.result.cases.iter().map(|c| (c.id.clone(), c.verdict)).collect();
    assert_eq!(
        got,
        vec![
            ("TC-ROB-020".to_string(), Verdict::Inconc),
            ("TC-ROB-021".to_string(), Verdict::Pass),
            ("TC-ROB-022".to_string(), Verdict::Inconc),
        ],
        "{:#?}",
        out.result.cases.iter().map(|c| (&c.id, &c.reason)).collect::<Vec<_>>()
    );
    assert_eq!(dmcts::runner::run::exit_code(&out.result.cases), 1);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log_text.contains("TC-ROB-021") && log_text.contains("no answer to session.start"), "{log_text}");
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
    drop(rt);
}

// ---------------------------------------------------------------------------------------------
// (11) The CLI: bad configuration exits 2 with a clear message; --list sends nothing.

fn dmcts(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dmcts"));
    cmd.args(args).stdin(std::process::Stdio::null());
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + BOUND * 3;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("dmcts {args:?} hung\nstderr: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dmcts-robustness-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cli_plan_with_a_missing_empty_or_malformed_ics_exits_2_with_a_clear_message() {
    let dir = temp_dir("plan");

    let missing = dir.join("no-such-ics.toml");
    let out = dmcts(&["plan", "--ics", missing.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read ICS file") && err.contains("no-such-ics.toml"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let out = dmcts(&["plan", "--ics", empty.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("empty.toml") && err.contains("is empty") && err.contains("[iut]"), "{err}");

    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[iut]\nrole = \"client\"\nvendor = \"x\n").unwrap();
    let out = dmcts(&["plan", "--ics", broken.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("broken.toml:3:"), "file:line:col is named: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_a_malformed_or_unknown_step_catalog_exits_2_naming_file_and_line() {
    let dir = temp_dir("cases");
    std::fs::write(dir.join("broken.toml"), "[[case]]\nid = \"TC-ROB-001\"\ntitle = \n").unwrap();
    let out = dmcts(&["cases", "check", "--cases-dir", dir.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("broken.toml:3:"), "{err}");

    std::fs::remove_file(dir.join("broken.toml")).unwrap();
    let teleport = with_id("TC-ROB-001", "[[case.steps]]\nkind = \"teleport\"\n");
    std::fs::write(dir.join("teleport.toml"), teleport).unwrap();
    let out = dmcts(&["cases", "check", "--cases-dir", dir.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("teleport.toml:") && err.contains("teleport"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_run_list_lists_case_names_without_traffic() {
    let out = dmcts(&["run", "--ics", "examples/ics-client.toml", "--", "--list"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("TC-DMC-SESS-001: "), "{stdout}");

    // The same with the upper tester pointed at a recording fake: --list asks it nothing.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let fake = FakeUt::default();
    let url = rt.block_on(fake.start());
    let dir = temp_dir("list");
    let ics_path = dir.join("ics.toml");
    std::fs::write(&ics_path, ics_toml(&http_ut(&url))).unwrap();
    let report_dir = dir.join("reports");
    let out = dmcts(&[
        "run",
        "--ics",
        ics_path.to_str().unwrap(),
        "--report-dir",
        report_dir.to_str().unwrap(),
        "--",
        "--list",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("TC-DMC-SESS-001: "), "{stdout}");
    assert!(fake.calls().is_empty(), "--list called the upper tester: {:?}", fake.calls());
    assert!(!report_dir.exists(), "--list wrote reports");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// More garbage from the IUT: a body over the listener's limit, a request that never completes,
// an upper-tester answer without the data a capture needs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_package1_is_refused_413_and_the_case_is_inconc_without_hanging() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", post_after(vec![b' '; 17 * 1024 * 1024], 0));
    let c = case(&with_id("TC-ROB-030", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    // The suite's own size limit kept it from reading the Package#1: nothing to judge, and the
    // refusal is not judged as if it were the IUT's content (issue 8 §9).
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains("refused") && r.message.contains("larger than 16777216 bytes"), "{r:?}");
    assert_eq!(rig.fake.wait_replies(1).await, vec![Ok(413)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_package1_is_named_in_the_reason_and_the_trace() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", post_after(vec![b' '; 17 * 1024 * 1024], 0));
    let c = case(&with_id("TC-ROB-031", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Inconc);
    let trace = format!("{:?}", ex.trace.entries());
    assert!(trace.contains("413"), "the refused request is traced: {trace}");
    assert!(!has(&r.actual, "nothing"), "the IUT did send something: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iut_that_stalls_mid_request_fails_within_the_step_timeout() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", Act::Done);
    let c = case(&with_id("TC-ROB-032", &format!("{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let setup = rig.prepared.case_env(&c, rig.registry.clone()).await.expect("case env");
    let addr = setup.env.listener.addr();
    // Headers and 8 of the 100 announced body bytes, then nothing (connection kept open).
    let stalled = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = "POST /dm HTTP/1.1\r\nHost: iut\r\nContent-Type: application/vnd.oma.dm.initiation+json\r\n\
                    Content-Length: 100\r\n\r\n{\"Alert\"";
        s.write_all(head.as_bytes()).await.expect("write");
        std::future::pending::<()>().await;
    });
    let ex = bounded(&c.id, exec::execute(&c, &setup.env)).await;
    stalled.abort();
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-C-M"), "{r:?}");
    assert!(r.message.contains(&format!("within {STEP_MS} ms")), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_answer_without_the_data_a_capture_needs_is_inconc() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", Act::Done);
    let steps = r#"
[[case.steps]]
kind = "ut"
action = "session.start"
capture = { session = "/session_id" }
"#;
    let c = case(&with_id("TC-ROB-033", &format!("{steps}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Inconc);
    assert!(r.message.contains("could not capture session") && r.message.contains("/session_id"), "{r:?}");
    assert_eq!(r.step, Some(1), "{r:?}");
}

// Late traffic of an earlier state must not be taken for this case's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_arriving_before_the_reset_completes_are_dropped_not_judged() {
    let rig = Rig::new().await;
    rig.fake.set("reset", Act::PostThenDone { body: b"stale traffic of the previous case".to_vec() });
    rig.fake.set("session.start", post_after(good_package1(), 50));
    let reset = "\n[[case.steps]]\nkind = \"ut\"\naction = \"reset\"\n";
    let c = case(&with_id("TC-ROB-040", &format!("{reset}{SESSION_START}{AWAIT_P1}")), &rig.registry);
    let ex = rig.run(&c).await;
    assert_eq!(ex.verdict, Verdict::Pass, "{:?}", ex.reason);
    let trace = format!("{:?}", ex.trace.entries());
    assert!(trace.contains("dropped (arrived before the reset completed): POST /dm"), "{trace}");
}

// ---------------------------------------------------------------------------------------------
// (12) `when`: a step runs only when a value the case saw says it must (an EXEC answered 202
// announces an asynchronous result; one answered 200 announces none).

/// A case whose Package#1 is followed by a wait that runs only when `${status}` is 202, and a
/// `use` of a fixture that runs only when it is not.
fn conditional_case(id: &str, status: u16) -> String {
    format!(
        r#"
[[fixture]]
name = "wait-for-nothing"
params = ["item"]
steps = [
  {{ kind = "expect-silence", endpoint = "dm", scr = "${{param.item}}", duration_ms = 50 }},
]

{HEAD}id = "{id}"
{SESSION_START}{AWAIT_P1}
[[case.steps]]
kind = "set"
var = "status"
value = "{status}"

[[case.steps]]
kind = "await"
endpoint = "async"
scr = "DM-PACK-026-C-M"
timeout_ms = 300
when = {{ value = "${{status}}", equals = "202" }}

[[case.steps]]
kind = "use"
fixture = "wait-for-nothing"
with = {{ item = "DM-PACK-022-C-M" }}
when = {{ value = "${{status}}", not_equals = "202" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_when_does_not_hold_is_skipped_and_judges_nothing() {
    let rig = Rig::new().await;
    rig.fake.set("session.start", post_after(good_package1(), 50));
    // 200: the wait for the asynchronous result is skipped (it would fail: nothing comes), the
    // fixture's silence runs.
    let c = case(&conditional_case("TC-ROB-050", 200), &rig.registry);
    let ex = rig.run(&c).await;
    expect(&ex, Verdict::Pass);
    let trace = format!("{:?}", ex.trace.entries());
    assert!(
        trace.contains(r#"step 4 skipped: it runs when ${status} equals \"202\", and the value is \"200\""#),
        "{trace}"
    );
    assert!(!ex.evidence.contains_key("DM-PACK-026-C-M"), "{:?}", ex.evidence);
    assert_eq!(ex.evidence.get("DM-PACK-022-C-M").map(|e| e.held), Some(1), "{:?}", ex.evidence);
    // 202: the wait runs (and fails: nothing arrives), the fixture's steps are skipped.
    rig.fake.set("session.start", post_after(good_package1(), 50));
    let c = case(&conditional_case("TC-ROB-051", 202), &rig.registry);
    let ex = rig.run(&c).await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!((r.scr.as_deref(), r.step), (Some("DM-PACK-026-C-M"), Some(4)), "{r:?}");
}

#[test]
fn a_bad_when_is_a_catalog_error_with_its_line() {
    let reg = registry();
    let src = with_id(
        "TC-ROB-052",
        &format!("{SESSION_START}\n[[case.steps]]\nkind = \"set\"\nvar = \"x\"\nvalue = \"1\"\nwhen = {{ value = \"${{x}}\" }}\n"),
    );
    let e = Catalog::load_sources(&[(PathBuf::from("robustness.toml"), src)], &reg).unwrap_err().to_string();
    assert!(e.contains("robustness.toml:") && e.contains("exactly one of `equals` and `not_equals`"), "{e}");
}
