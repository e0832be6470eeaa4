//! The life of a `dmcts run` as a process: the report directory is checked before the first
//! case and cleared of an earlier run's reports; SIGINT/SIGTERM end the run with the reports
//! of the cases that ran, marked interrupted; the end of PIXIT `timeouts.run_ms` leaves the
//! unrun cases not-tested; an `--ics` run never runs two cases against its IUT at once.
//!
//! The real binary runs against a fake upper tester (axum on 127.0.0.1:0) that answers every
//! action after a delay, or never. Every wait is bounded by [`BOUND`].
use axum::extract::State;
use axum::Json;
use dmcts::upper_tester::UtAnswer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Nothing here may take longer than this; tripping it means the suite hung.
const BOUND: Duration = Duration::from_secs(20);

/// How the fake upper tester answers every action.
#[derive(Clone, Copy)]
enum Answer {
    /// `failed`, after this many milliseconds.
    FailedAfter(u64),
    /// Never.
    Never,
}

/// A fake upper tester that counts calls and the most calls it ever had in flight at once.
#[derive(Clone)]
struct FakeUt {
    answer: Answer,
    calls: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl FakeUt {
    fn new(answer: Answer) -> FakeUt {
        FakeUt { answer, calls: Arc::default(), in_flight: Arc::default(), max_in_flight: Arc::default() }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Starts the fake on `rt`; returns its URL.
    fn start(&self, rt: &tokio::runtime::Runtime) -> String {
        let tcp = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind the fake upper tester");
        let addr = tcp.local_addr().expect("local addr");
        let app = axum::Router::new().route("/ut", axum::routing::post(handler)).with_state(self.clone());
        rt.spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        format!("http://{addr}/ut")
    }
}

async fn handler(State(fake): State<FakeUt>) -> Json<UtAnswer> {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    let now = fake.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    fake.max_in_flight.fetch_max(now, Ordering::SeqCst);
    match fake.answer {
        Answer::FailedAfter(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Answer::Never => std::future::pending::<()>().await,
    }
    fake.in_flight.fetch_sub(1, Ordering::SeqCst);
    Json(UtAnswer::failed("the fake IUT tried and failed"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dmcts-lifecycle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A client ICS (the example's answers and `[pixit.mo]`) pointed at the fake upper tester.
fn write_ics(dir: &Path, ut_url: &str, listen: &str, timeouts: &str) -> PathBuf {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ics-client.toml"))
        .expect("the example ICS");
    let timeouts_at = example.find("[pixit.timeouts]").expect("a timeouts table");
    let mo_at = example.find("[pixit.mo]").expect("a mo table");
    let ics = format!("{}[pixit.timeouts]\n{timeouts}\n\n{}", &example[..timeouts_at], &example[mo_at..])
        .replace("listen = \"127.0.0.1:8700\"", &format!("listen = \"{listen}\""))
        .replace("url = \"http://127.0.0.1:8701/ut\"", &format!("url = \"{ut_url}\""));
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics).unwrap();
    path
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dmcts starts")
}

fn wait(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + BOUND;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what} hung\nstdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn dmcts(args: &[&str]) -> Output {
    wait(spawn(args), &format!("dmcts {args:?}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("JSON")
}

fn verdicts(run: &Value) -> Vec<(String, String, String)> {
    run["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
                c["reason"]["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_report_dir_that_cannot_be_written_ends_the_run_before_any_traffic() {
    let rt = runtime();
    let fake = FakeUt::new(Answer::FailedAfter(0));
    let url = fake.start(&rt);
    let dir = temp_dir("unwritable");
    let ics = write_ics(&dir, &url, "127.0.0.1:0", "step_ms = 2000\ncase_ms = 4000\nrun_ms = 60000");
    // A regular file where the report dir's parent should be: no user, not even root, can
    // create the directory.
    std::fs::write(dir.join("blocker"), "a file").unwrap();
    let reports = dir.join("blocker").join("reports");
    let out = dmcts(&["run", "--ics", path_str(&ics), "--report-dir", path_str(&reports)]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write reports to") && err.contains("--report-dir"), "{err}");
    assert!(err.contains("blocker"), "names the path: {err}");
    assert_eq!(fake.calls(), 0, "the upper tester was called");
    assert!(!text(&out.stdout).contains("running"), "cases started: {}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_reports_of_an_earlier_run_are_removed_and_nothing_else() {
    let dir = temp_dir("stale");
    let reports = dir.join("reports");
    std::fs::create_dir_all(reports.join("traces")).unwrap();
    for name in ["junit.xml", "coverage.json", "coverage.md", "run.json", "traces/TC-STALE-001.txt", "keep.txt"] {
        std::fs::write(reports.join(name), "stale").unwrap();
    }
    // A run that ends before its first case (its listener port is taken) leaves no reports at
    // all: none of the earlier run's can pass for its own.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = busy.local_addr().unwrap().to_string();
    let ics = write_ics(&dir, "http://127.0.0.1:9/ut", &listen, "step_ms = 2000\ncase_ms = 4000\nrun_ms = 60000");
    let out = dmcts(&["run", "--ics", path_str(&ics), "--report-dir", path_str(&reports)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot listen"), "{}", text(&out.stderr));
    let mut left: Vec<String> =
        std::fs::read_dir(&reports).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, vec!["keep.txt"], "only the file that is not a report is left");
    drop(busy);

    // A run that completes writes its own reports; the stale trace does not come back.
    std::fs::create_dir_all(reports.join("traces")).unwrap();
    std::fs::write(reports.join("traces/TC-STALE-001.txt"), "stale").unwrap();
    std::fs::write(reports.join("run.json"), "stale").unwrap();
    let out = dmcts(&["run", "--against", "reference", "--report-dir", path_str(&reports), "--", "TC-DMC-SESS-001"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(!reports.join("traces/TC-STALE-001.txt").exists());
    assert!(reports.join("traces/TC-DMC-SESS-001.txt").exists());
    assert!(reports.join("keep.txt").exists());
    assert_eq!(read_json(&reports.join("run.json"))["interrupted"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGINT or SIGTERM while a case waits on an IUT that never answers: the running case ends
/// at once, no further case starts, the reports are written and say the run was interrupted.
fn interrupted_run_writes_reports(signal: i32, code: i32, name: &str) {
    let rt = runtime();
    let fake = FakeUt::new(Answer::Never);
    let url = fake.start(&rt);
    let dir = temp_dir(&format!("signal-{signal}"));
    let ics = write_ics(&dir, &url, "127.0.0.1:0", "step_ms = 30000\ncase_ms = 60000\nrun_ms = 600000");
    let reports = dir.join("reports");
    let child = spawn(&["run", "--ics", path_str(&ics), "--report-dir", path_str(&reports), "--", "TC-DMC-SESS"]);
    let deadline = Instant::now() + BOUND;
    while fake.calls() == 0 {
        assert!(Instant::now() < deadline, "the first case never called the upper tester");
        std::thread::sleep(Duration::from_millis(20));
    }
    let signalled = Instant::now();
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let out = wait(child, "the interrupted run");
    assert!(signalled.elapsed() < Duration::from_secs(10), "the run took {:?} to stop", signalled.elapsed());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("{name} received")), "{stderr}");
    assert!(stdout.contains("run interrupted"), "{stdout}");
    assert_eq!(fake.calls(), 1, "a case started after the signal");

    let run = read_json(&reports.join("run.json"));
    assert_eq!(run["interrupted"], true);
    let v = verdicts(&run);
    let selected: Vec<_> = v.iter().filter(|(id, _, _)| id.starts_with("TC-DMC-SESS")).collect();
    assert!(selected.len() >= 2, "{v:?}");
    assert!(selected.iter().all(|(_, verdict, _)| verdict == "not-tested"), "{v:?}");
    let running = &selected[0].2;
    assert!(running.contains("run interrupted") && running.contains("while this case was running"), "{running}");
    assert!(selected[1].2.contains(&format!("run interrupted ({name}) before this case started")), "{v:?}");
    assert_eq!(run["summary"]["not-tested"], selected.len());
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"type="not-tested""#), "{junit}");
    let cov = read_json(&reports.join("coverage.json"));
    let item = cov["items"].as_array().unwrap().iter().find(|i| i["id"] == "DM-PACK-011-C-M").unwrap();
    assert_eq!(item["verdict"], "not-tested", "{item}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_stops_the_run_and_writes_reports_marked_interrupted() {
    interrupted_run_writes_reports(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_stops_the_run_and_writes_reports_marked_interrupted() {
    interrupted_run_writes_reports(libc::SIGTERM, 143, "SIGTERM");
}

#[test]
fn cases_left_by_the_end_of_run_ms_are_not_tested_and_the_run_exits_1() {
    let rt = runtime();
    // The first case's first action takes longer than the whole run may.
    let fake = FakeUt::new(Answer::FailedAfter(1500));
    let url = fake.start(&rt);
    let dir = temp_dir("run-ms");
    let ics = write_ics(&dir, &url, "127.0.0.1:0", "step_ms = 5000\ncase_ms = 10000\nrun_ms = 1000");
    let reports = dir.join("reports");
    let out = dmcts(&["run", "--ics", path_str(&ics), "--report-dir", path_str(&reports), "--", "TC-DMC-SESS"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let run = read_json(&reports.join("run.json"));
    assert_eq!(run["interrupted"], false);
    let v = verdicts(&run);
    let selected: Vec<_> = v.iter().filter(|(id, _, _)| id.starts_with("TC-DMC-SESS")).collect();
    assert!(selected.len() >= 2, "{v:?}");
    assert_ne!(selected[0].1, "not-tested", "the first case ran: {v:?}");
    for (id, verdict, reason) in &selected[1..] {
        assert_eq!(verdict, "not-tested", "{id}: {reason}");
        assert!(reason.contains("timeouts.run_ms"), "{id}: {reason}");
    }
    assert!(v.iter().all(|(_, verdict, _)| verdict != "error"), "{v:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_ics_run_runs_one_case_at_a_time_whatever_test_threads_says() {
    let rt = runtime();
    let fake = FakeUt::new(Answer::FailedAfter(100));
    let url = fake.start(&rt);
    let dir = temp_dir("threads");
    let ics = write_ics(&dir, &url, "127.0.0.1:0", "step_ms = 5000\ncase_ms = 10000\nrun_ms = 60000");
    let reports = dir.join("reports");
    let out = dmcts(&[
        "run",
        "--ics",
        path_str(&ics),
        "--report-dir",
        path_str(&reports),
        "--",
        "--test-threads",
        "4",
        "TC-DMC-SESS",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let notes: Vec<&str> = stderr.lines().filter(|l| l.starts_with("note: running one case at a time")).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(notes[0].contains("not 4") && notes[0].contains("one IUT"), "{stderr}");
    assert!(fake.calls() >= 3, "{} calls", fake.calls());
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 1, "two cases called the upper tester at once");

    // The reference peers are started per case: their runs keep their parallelism, no note.
    let out = dmcts(&[
        "run",
        "--against",
        "reference",
        "--report-dir",
        path_str(&reports),
        "--",
        "--test-threads",
        "4",
        "TC-DMC-SESS",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("note: running one case at a time"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
