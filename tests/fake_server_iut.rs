//! Issue 8 against DM server endpoints the suite did not write: unreachable, not HTTP, closing
//! mid-answer, redirecting forever, crashed; and a server that never notifies while its upper
//! tester says it is idle. The real runner (`Target::Ics`, `exec::execute`) plays the device.
//!
//! The fake upper tester answers `done` to every action and, for `iut.state`, what the test
//! sets. Every wait is bounded by [`BOUND`].
#[path = "fakes/server_ics.rs"]
mod server_ics;
use axum::extract::State;
use axum::Json;
use dmcts::catalog::{Case, Catalog};
use dmcts::ics::Ics;
use dmcts::runner::exec::{self, Execution};
use dmcts::runner::target::{self, Target};
use dmcts::scr::Registry;
use dmcts::upper_tester::{UtAnswer, UtRequest};
use dmcts::verdict::{Reason, Verdict};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Nothing here may take longer than this; tripping it means the suite hung.
const BOUND: Duration = Duration::from_secs(40);
/// Long, so that "ended at once" and "waited it out" differ by seconds.
const STEP_MS: u64 = 8000;

/// The fake upper tester: `done` to everything (confirming the DevID it registers, as the
/// contract asks); `iut.state` answered with `state`.
#[derive(Clone, Default)]
struct FakeUt {
    /// The answer to `iut.state` (None: unsupported).
    state: Arc<Mutex<Option<Value>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

async fn ut(State(f): State<FakeUt>, Json(req): Json<UtRequest>) -> Json<UtAnswer> {
    f.calls.lock().unwrap().push(req.action.clone());
    if req.action == "iut.state" {
        return Json(match f.state.lock().unwrap().clone() {
            Some(data) => UtAnswer::done(data),
            None => UtAnswer::unsupported("this fake cannot tell"),
        });
    }
    if req.action == "device.register" {
        return Json(UtAnswer::done(json!({ "dev_id": req.args.get("dev_id") })));
    }
    Json(UtAnswer::done(json!({})))
}

impl FakeUt {
    fn with_state(state: Option<Value>) -> FakeUt {
        FakeUt { state: Arc::new(Mutex::new(state)), ..FakeUt::default() }
    }

    async fn start(&self) -> String {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake upper tester");
        let addr = tcp.local_addr().expect("addr");
        let app = axum::Router::new().route("/ut", axum::routing::post(ut)).with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        format!("http://{addr}/ut")
    }
}

fn ics(server_uri: &str, ut_url: &str, step_ms: u64) -> Arc<Ics> {
    server_ics::server_ics(server_uri, ut_url, "", step_ms)
}

/// The suite opens a session with the server: the exchange the §9 scenarios break.
const OPEN: &str = r#"
[[case]]
id = "TC-FAKE-SRV-001"
title = "open a session"
purpose = "the server answers Package#1 with Package#2"
role = "server"
covers = ["DM-PACK-011-S-M"]

[[case.steps]]
kind = "ut"
action = "commands.enqueue"
args = { dev_id = "${pixit.iut.dev_id}", commands = [["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"]] }

[[case.steps]]
kind = "open-session"
scr = "DM-PACK-011-S-M"
checks = [
  { check = "status", equals = 200, scr = "DM-PACK-011-S-M" },
  { check = "builtin", name = "package2-valid", scr = "DM-PACK-012-S-M" },
]
"#;

fn registry() -> Arc<Registry> {
    Arc::new(Registry::load_dir(Path::new("scr")).expect("the SCR tables load"))
}

fn open_case(reg: &Registry) -> Case {
    Catalog::load_sources(&[(PathBuf::from("open.toml"), OPEN.to_string())], reg)
        .unwrap_or_else(|e| panic!("the case does not load:\n{e}"))
        .cases
        .remove(0)
}

fn shipped_case(id: &str, reg: &Registry) -> Case {
    Catalog::load_dir(Path::new("cases"), reg).expect("the shipped catalog").get(id).expect("the case").clone()
}

/// Runs `case` against the server at `server_uri`, with a fake upper tester answering
/// `iut.state` with `state`.
async fn run(case: &Case, reg: Arc<Registry>, server_uri: &str, state: Option<Value>) -> Execution {
    run_with_step(case, reg, server_uri, state, STEP_MS).await
}

async fn run_with_step(
    case: &Case,
    reg: Arc<Registry>,
    server_uri: &str,
    state: Option<Value>,
    step_ms: u64,
) -> Execution {
    let fake = FakeUt::with_state(state);
    let ut_url = fake.start().await;
    let ics = ics(server_uri, &ut_url, step_ms);
    let prepared = target::prepare(&Target::Ics(ics), &reg).await.expect("the target prepares");
    let setup = prepared.case_env(case, reg.clone()).await.expect("case env");
    let ex = match tokio::time::timeout(BOUND, exec::execute(case, &setup.env)).await {
        Ok(ex) => ex,
        Err(_) => panic!("{}: no verdict within {BOUND:?}: the suite hung", case.id),
    };
    setup.teardown().await;
    ex
}

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

/// A loopback port nobody listens on.
fn dead_port() -> u16 {
    dmcts::peers::free_loopback_port()
}

/// A raw TCP server: for each connection, reads the request head, then does `reply`.
async fn raw_server(reply: fn() -> Option<&'static [u8]>) -> u16 {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await;
                match reply() {
                    Some(bytes) => {
                        let _ = s.write_all(bytes).await;
                        let _ = s.shutdown().await;
                    }
                    // Keep the connection open, answering nothing.
                    None => tokio::time::sleep(BOUND).await,
                }
            });
        }
    });
    port
}

// ---------------------------------------------------------------------------------------------
// §9: an IUT endpoint the suite cannot exchange with is an error naming the cause, not a fail.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_an_unreachable_server_is_an_error_naming_connection_refused() {
    let reg = registry();
    let url = format!("http://127.0.0.1:{}/dm", dead_port());
    let started = Instant::now();
    let ex = run(&open_case(&reg), reg.clone(), &url, None).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("connection refused") && r.message.contains(&url), "{r:?}");
    assert!(r.scr.is_none(), "no SCR item is charged: {r:?}");
    assert!(started.elapsed() < Duration::from_millis(STEP_MS / 2), "at once: {:?}", started.elapsed());

    // The same through a shipped case: nothing about the IUT is concluded.
    let ex = run(&shipped_case("TC-DMS-SESS-001", &reg), reg, &url, None).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("connection refused"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_a_server_answering_non_http_garbage_is_an_error_naming_that() {
    let reg = registry();
    let port = raw_server(|| Some(b"\x00\x01GARBAGE, NOT HTTP\r\n\r\n")).await;
    let url = format!("http://127.0.0.1:{port}/dm");
    let ex = run(&open_case(&reg), reg, &url, None).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("not HTTP") && r.message.contains(&url), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_a_server_closing_the_connection_without_an_answer_is_an_error_naming_that() {
    let reg = registry();
    let port = raw_server(|| Some(b"")).await;
    let url = format!("http://127.0.0.1:{port}/dm");
    let ex = run(&open_case(&reg), reg, &url, None).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("connection reset or closed"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_a_server_redirecting_forever_is_an_error_naming_the_redirect_loop() {
    let reg = registry();
    let port = raw_server(|| {
        Some(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /dm\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/dm");
    let ex = run(&open_case(&reg), reg, &url, None).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains("redirect loop"), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// §7: a server that crashed, as its upper tester says, fails the exchange with that reason.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_a_server_that_crashed_fails_the_exchange_saying_the_process_ended() {
    let reg = registry();
    // The process died: its port is closed, and its upper tester says so.
    let url = format!("http://127.0.0.1:{}/dm", dead_port());
    let exited = Some(json!({ "state": "exited", "detail": "SIGSEGV" }));
    let ex = run(&open_case(&reg), reg, &url, exited).await;
    let r = expect(&ex, Verdict::Fail);
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-S-M"), "{r:?}");
    assert!(r.message.contains("the IUT process has exited (SIGSEGV)"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_a_server_whose_connection_stays_open_after_it_exited_fails_at_once_saying_so() {
    // A dead server behind a proxy: the connection is accepted and held, nothing answers.
    let reg = registry();
    let port = raw_server(|| None).await;
    let url = format!("http://127.0.0.1:{port}/dm");
    let exited = Some(json!({ "state": "exited", "detail": "exit code 139" }));
    let started = Instant::now();
    let ex = run(&open_case(&reg), reg, &url, exited).await;
    let took = started.elapsed();
    let r = expect(&ex, Verdict::Fail);
    assert!(r.message.contains("the IUT process has exited (exit code 139)"), "{r:?}");
    assert!(took < Duration::from_millis(STEP_MS / 2), "ended at once, not after the step timeout: {took:?}");
}

// ---------------------------------------------------------------------------------------------
// §8: a server its upper tester reports idle is not waited on for a notification.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_a_server_reported_idle_ends_the_wait_for_its_notification_at_once() {
    let reg = registry();
    // notification.send is answered `done`, but no Package#0 ever reaches the listener.
    let case = shipped_case("TC-DMS-P0-001", &reg);
    let url = format!("http://127.0.0.1:{}/dm", dead_port());
    let started = Instant::now();
    let ex = run(&case, reg, &url, Some(json!({ "state": "idle" }))).await;
    let took = started.elapsed();
    let r = expect(&ex, Verdict::Fail);
    assert!(r.message.contains("no notification arrived") && r.message.contains("idle (iut.state)"), "{r:?}");
    assert!(took < Duration::from_millis(STEP_MS / 2), "ended at once, not after the step timeout: {took:?}");
}

/// A loopback port whose listener never accepts and whose backlog is full: a connection
/// attempt gets no answer at all (the SYN is dropped), like an address behind a firewall that
/// drops packets. Returns the port and what keeps it so.
fn black_hole() -> (u16, Vec<std::net::TcpStream>, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh descriptor that the OwnedFd then owns.
    let fd = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        addr.sin_port = 0;
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        std::os::fd::OwnedFd::from_raw_fd(fd)
    };
    let port = {
        use std::os::fd::AsRawFd;
        // SAFETY: getsockname on the descriptor just bound.
        unsafe {
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            libc::getsockname(fd.as_raw_fd(), &mut addr as *mut _ as *mut libc::sockaddr, &mut len);
            u16::from_be(addr.sin_port)
        }
    };
    // Fill the backlog (a listen(0) queue still takes one or two).
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
        {
            held.push(s);
        }
    }
    (port, held, fd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_a_server_address_nothing_answers_is_an_error_naming_the_timeout_not_a_fail() {
    let reg = registry();
    let (port, _held, _fd) = black_hole();
    let url = format!("http://127.0.0.1:{port}/dm");
    let ex = run_with_step(&open_case(&reg), reg, &url, None, 1000).await;
    let r = expect(&ex, Verdict::Error);
    assert!(r.message.contains(&url), "{r:?}");
    // (A kernel set to reset overflowing connections, tcp_abort_on_overflow, refuses instead.)
    assert!(
        r.message.contains("timeout: nothing answers a connection attempt") || r.message.contains("connection re"),
        "{r:?}"
    );
    assert!(r.scr.is_none(), "no SCR item is charged: {r:?}");
}
