//! Issue 14 §2: on a terminal, a waiting step shows what it awaits, where, and the time left on
//! one updating line, erased when the wait ends; piped, or in CI, nothing of it.
//!
//! `dmcts run` runs TC-DMC-SESS-001 against a client IUT that never sends its Package#1 (a
//! scripted upper tester answers `session.start` and sends nothing), on a pseudo-terminal whose
//! screen a terminal emulator (vt100) keeps, as a vendor's terminal would show it.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The step timeout: long enough to see the seconds count down, short enough for a test.
const STEP_MS: u64 = 3000;
/// Nothing here may take longer; tripping it means the run hung.
const BOUND: Duration = Duration::from_secs(40);
const COLS: u16 = 120;
/// Rows enough that the whole run's output stays on the screen.
const ROWS: u16 = 100;

/// A client ICS whose upper tester answers `reset` and `session.start` and nothing else (no
/// `iut.state`: the suite waits out the step timeout), with the account's DM server URL on a
/// free loopback port. Returns the ICS path.
fn silent_client(name: &str) -> (PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("dmcts-progress-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = dmcts::peers::free_loopback_port();
    std::fs::write(
        dir.join("ut.toml"),
        "[[answer]]\naction = \"reset\"\nstatus = \"done\"\n\n[[answer]]\naction = \"session.start\"\nstatus = \"done\"\n",
    )
    .unwrap();
    let ics = format!(
        r#"[iut]
role = "client"
vendor = "Test"
product = "A client that never sends Package#1"
version = "1"

[support]
"DM-PACK-002-C-O" = true
"DM-PACK-007-C-O" = true
"DM-PACK-008-C-O" = true
"DM-PACK-009-C-O" = false
"DM-PACK-019-C-O" = true
"DM-PACK-020-C-O" = false
"DM-PACK-023-C-O" = false

[pixit.suite]
server_url = "http://127.0.0.1:{port}/path"

[pixit.iut]
dev_id = "IMEI:490154203237518"

[pixit.account]
server_id = "dmcts"

[pixit.notification]
transport = "upper-tester"
secret = "s"
auth_data = "a"

[pixit.upper_tester]
backend = "scripted"
file = "ut.toml"

[pixit.timeouts]
step_ms = {STEP_MS}
case_ms = 20000
run_ms = 60000
quiet_period_ms = 300
"#
    );
    std::fs::write(dir.join("ics.toml"), ics).unwrap();
    (dir.join("ics.toml"), port)
}

fn run_args(ics: &Path) -> Vec<String> {
    let dir = ics.parent().unwrap();
    ["run", "--ics", ics.to_str().unwrap(), "--report-dir", dir.join("reports").to_str().unwrap()]
        .into_iter()
        .chain(["--", "TC-DMC-SESS-001", "--exact"])
        .map(String::from)
        .collect()
}

/// What a terminal showed of a run: every screen the output produced (one per read), the last
/// screen, the raw bytes and the exit code.
struct OnTerminal {
    screens: Vec<Vec<String>>,
    last: Vec<String>,
    raw: Vec<u8>,
    code: Option<i32>,
}

/// Runs `dmcts` on a pseudo-terminal of [`ROWS`] × [`COLS`] (stdin, stdout and stderr), with
/// `TERM` set, no colours, and `CI` as given.
fn on_terminal(args: &[String], ci: Option<&str>) -> OnTerminal {
    let (mut pty, pts) = pty_process::blocking::open().expect("a pseudo-terminal");
    pty.resize(pty_process::Size::new(ROWS, COLS)).unwrap();
    let mut cmd = pty_process::blocking::Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(args)
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .env_remove("CI");
    if let Some(v) = ci {
        cmd = cmd.env("CI", v);
    }
    let mut child = cmd.spawn(pts).expect("dmcts starts on the pseudo-terminal");
    let size = |n: u16| std::num::NonZeroU16::new(n).unwrap();
    let seen =
        Arc::new(Mutex::new((vt100::Parser::new(size(ROWS), size(COLS), 0), Vec::<Vec<String>>::new(), Vec::new())));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends when the child has gone and the terminal is closed (EIO).
            while let Ok(n @ 1..) = pty.read(&mut buf) {
                let mut s = seen.lock().unwrap();
                s.0.process(&buf[..n]);
                let rows: Vec<String> = s.0.screen().rows(0, COLS).collect();
                s.1.push(rows);
                s.2.extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dmcts run hung on the pseudo-terminal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = reader.join();
    let mut seen = seen.lock().unwrap();
    let last = seen.0.screen().rows(0, COLS).collect();
    OnTerminal { screens: std::mem::take(&mut seen.1), last, raw: std::mem::take(&mut seen.2), code: status.code() }
}

fn waiting_rows(screen: &[String]) -> Vec<&String> {
    screen.iter().filter(|r| r.contains("waiting for")).collect()
}

#[test]
fn a_waiting_step_shows_what_it_awaits_where_and_the_time_left_on_one_line() {
    let (ics, port) = silent_client("tty");
    let t = on_terminal(&run_args(&ics), None);
    let text = String::from_utf8_lossy(&t.raw).into_owned();
    assert_eq!(t.code, Some(1), "the case fails: nothing came\n{text}");

    // While the step waits: one line, and only one, saying what, where, and the time left.
    let waits: Vec<&Vec<String>> = t.screens.iter().filter(|s| !waiting_rows(s).is_empty()).collect();
    assert!(!waits.is_empty(), "no progress line on the terminal:\n{text}");
    for s in &waits {
        assert_eq!(waiting_rows(s).len(), 1, "one line, not several:\n{}", s.join("\n"));
    }
    let line = waiting_rows(waits[0])[0].trim_end().to_string();
    assert!(line.contains(&format!("http://127.0.0.1:{port}/path")), "{line}");
    insta::with_settings!({
        filters => vec![
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
            (r"— \d+ s left", "— [n] s left"),
            (r"^\[0/1 · [^\]]+\]", "[0/1 · [elapsed]]"),
        ]
    }, {
        insta::assert_snapshot!("waiting_for_package1", line);
    });
    // The run's progress leads the line: cases done of total, the time elapsed.
    assert!(line.starts_with("[0/1 · "), "{line}");
    // The line counts down as the time runs.
    let mut lefts: Vec<String> = waits
        .iter()
        .map(|s| {
            let row = waiting_rows(s)[0];
            row[row.rfind('—').unwrap()..].trim().to_string()
        })
        .collect();
    lefts.dedup();
    assert!(lefts.len() >= 2, "the time left never changed: {lefts:?}");

    // When the wait ends the line is gone, replaced by the case's result line, whole.
    assert!(waiting_rows(&t.last).is_empty(), "the progress line outlived its wait:\n{}", t.last.join("\n"));
    assert!(
        !t.last.iter().any(|r| r.contains("[0/1 ·") || r.contains("[1/1 ·")),
        "the run's progress outlived the run:\n{}",
        t.last.join("\n")
    );
    assert!(
        t.last.iter().any(|r| r.trim_end() == "test [client] TC-DMC-SESS-001 ... FAILED"),
        "the result line is not whole on its own line:\n{}",
        t.last.join("\n")
    );
    let _ = std::fs::remove_dir_all(ics.parent().unwrap());
}

#[test]
fn piped_output_holds_no_progress_line() {
    let (ics, _) = silent_client("piped");
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(run_args(&ics))
        .env("TERM", "xterm-256color")
        .env_remove("CI")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("dmcts runs");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("test [client] TC-DMC-SESS-001 ... FAILED"), "{all}");
    assert!(!all.contains("waiting for") && !all.contains(" s left"), "a progress line in piped output:\n{all}");
    assert!(!all.contains('\x1b') && !all.contains('\r'), "terminal control codes in piped output:\n{all:?}");
    let _ = std::fs::remove_dir_all(ics.parent().unwrap());
}

#[test]
fn in_ci_a_terminal_shows_no_progress_line() {
    let (ics, _) = silent_client("ci");
    let t = on_terminal(&run_args(&ics), Some("true"));
    let text = String::from_utf8_lossy(&t.raw).into_owned();
    assert_eq!(t.code, Some(1), "{text}");
    assert!(text.contains("TC-DMC-SESS-001 ... FAILED"), "{text}");
    assert!(!text.contains("waiting for"), "a progress line in CI:\n{text}");
    let _ = std::fs::remove_dir_all(ics.parent().unwrap());
}
