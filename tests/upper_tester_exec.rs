//! Exec back end with the shell hooks in tests/fixtures/ut/: an answer, exit 127, a failing
//! hook, garbage, and a hook that hangs and must be killed with its children.
#![cfg(unix)]
use dmcts::upper_tester::{UpperTester, UpperTesterConfig, UtError, UtRequest, UtStatus};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn base() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn hook(command: &[&str]) -> UpperTester {
    let command = command.iter().map(|s| s.to_string()).collect();
    UpperTester::from_config(&UpperTesterConfig::Exec { command }, base()).unwrap()
}

fn req(action: &str) -> UtRequest {
    UtRequest {
        action: action.into(),
        case: "TC-DMS-NOTIF-002".into(),
        step: 3,
        args: json!({"dev_id": "IMEI:1", "req_mos": true}),
    }
}

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn answer_on_stdout_with_request_on_stdin_and_env_vars() {
    // Relative to base_dir (the ICS folder), not the working directory.
    let a = hook(&["tests/fixtures/ut/answer.sh"]).call(&req("notification.send"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Done);
    assert_eq!(a.data["action"], "notification.send");
    assert_eq!(a.data["case"], "TC-DMS-NOTIF-002");
    assert_eq!(a.data["step"], "3");
    assert_eq!(
        a.data["request"],
        json!({"action": "notification.send", "case": "TC-DMS-NOTIF-002", "step": 3, "args": {"dev_id": "IMEI:1", "req_mos": true}})
    );
}

#[tokio::test]
async fn exit_127_without_json_is_unsupported() {
    let a = hook(&["tests/fixtures/ut/unsupported.sh"]).call(&req("notification.send"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Unsupported);
    assert!(a.message.contains("127"), "{}", a.message);
}

#[tokio::test]
async fn other_exit_codes_without_json_fail_with_the_last_stderr_lines() {
    let a = hook(&["tests/fixtures/ut/fail.sh"]).call(&req("reset"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Failed);
    assert!(
        a.message.contains("exited 3") && a.message.contains("device did not answer on the console"),
        "{}",
        a.message
    );
}

#[tokio::test]
async fn exit_0_with_garbage_is_a_bad_answer() {
    let r = hook(&["tests/fixtures/ut/garbage.sh"]).call(&req("reset"), T).await;
    assert!(matches!(&r, Err(UtError::BadAnswer(m)) if m.contains("OK, session started")), "{r:?}");
}

#[tokio::test]
async fn program_on_path_with_arguments() {
    // A bare name is looked up on PATH; exit 0 without output is `done`.
    let a = hook(&["sh", "-c", "cat >/dev/null; exit 0"]).call(&req("reset"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Done);
    assert!(a.data.is_null());
}

fn alive(pid: &str) -> bool {
    // Gone, or a zombie nobody has reaped yet, counts as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_hanging_hook_is_killed_with_its_children_on_timeout() {
    let pidfile = std::env::temp_dir().join(format!("dmcts-ut-hang-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    let u = hook(&["tests/fixtures/ut/hang.sh", pidfile.to_str().unwrap()]);
    let started = Instant::now();
    let r = u.call(&req("reset"), Duration::from_millis(500)).await;
    assert_eq!(r, Err(UtError::Timeout { after_ms: 500 }));
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let pids = std::fs::read_to_string(&pidfile).expect("the hook recorded its pids");
    let _ = std::fs::remove_file(&pidfile);
    let pids: Vec<&str> = pids.split_whitespace().collect();
    assert_eq!(pids.len(), 2);
    let deadline = Instant::now() + Duration::from_secs(2);
    while pids.iter().any(|p| alive(p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for p in &pids {
        assert!(!alive(p), "process {p} of the hung hook is still running");
    }
}

#[test]
fn configuration_errors() {
    let cfg = |c: &[&str]| UpperTesterConfig::Exec { command: c.iter().map(|s| s.to_string()).collect() };
    assert!(matches!(UpperTester::from_config(&cfg(&[]), base()), Err(UtError::Config(_))));
    match UpperTester::from_config(&cfg(&["hooks/missing.sh"]), base()) {
        Err(UtError::Config(m)) => assert!(m.contains("missing.sh"), "{m}"),
        other => panic!("expected Config, got {other:?}"),
    }
}

#[tokio::test]
async fn a_program_that_cannot_start_is_a_transport_error() {
    let r = hook(&["dmcts-no-such-program-on-path"]).call(&req("reset"), T).await;
    assert!(matches!(r, Err(UtError::Transport(_))), "{r:?}");
}

/// Ends a process the test's hook left behind (by its pid, never by name).
fn end(pid: &str) {
    if let Ok(p) = pid.trim().parse::<i32>() {
        // SAFETY: kill(2) has no memory effects.
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
}

/// A hook that answers, exits 0 and leaves a background process holding its stdout: the answer
/// counts as soon as the hook has exited (not at EOF, which would come only at the timeout),
/// and the background process, possibly the vendor's IUT, is left running.
async fn background_child_holding_stdout(mode: &str) {
    let pidfile = std::env::temp_dir().join(format!("dmcts-ut-bg-{mode}-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    let u = hook(&["tests/fixtures/ut/background.sh", pidfile.to_str().unwrap(), mode]);
    // The background `sleep` holds the pipe for 60 s; reading to EOF would end in this timeout.
    let r = u.call(&req("reset"), Duration::from_secs(5)).await;
    let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
    let _ = std::fs::remove_file(&pidfile);
    let still_running = alive(pid.trim());
    end(&pid);
    let a = r.expect("the hook's answer, read once it exited");
    assert_eq!(a.status, UtStatus::Done);
    assert_eq!(a.data, json!({"started": true}));
    assert!(still_running, "the background process {pid:?} must not be killed after a normal exit");
}

#[tokio::test]
async fn a_background_child_holding_stdout_does_not_hide_the_answer() {
    background_child_holding_stdout("plain").await;
}

#[tokio::test]
async fn a_setsid_background_child_holding_stdout_does_not_hide_the_answer() {
    background_child_holding_stdout("setsid").await;
}

#[tokio::test]
async fn stdout_over_the_answer_limit_is_a_bad_answer_with_a_short_prefix() {
    let r = hook(&["tests/fixtures/ut/flood.sh", "stdout"]).call(&req("reset"), T).await;
    match r {
        Err(UtError::BadAnswer(m)) => {
            let limit = dmcts::upper_tester::MAX_ANSWER_BYTES;
            assert!(m.contains(&format!("answer larger than {limit} bytes")), "{}", &m[..m.len().min(300)]);
            assert!(m.contains(r#"{"status":"done","data":"xxx"#), "{m}");
            assert!(m.len() < 1000, "only a prefix is quoted: {} bytes", m.len());
        }
        other => panic!("expected BadAnswer, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stderr_flood_is_drained_and_only_its_end_kept() {
    let a = hook(&["tests/fixtures/ut/flood.sh", "stderr"]).call(&req("reset"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Done);
    let a = hook(&["sh", "-c", "head -c 4194304 /dev/zero | tr '\\0' y | fold -w 100 >&2; echo 'the end' >&2; exit 4"])
        .call(&req("reset"), T)
        .await
        .unwrap();
    assert_eq!(a.status, UtStatus::Failed);
    assert!(a.message.contains("exited 4") && a.message.contains("the end") && a.message.len() < 2000, "{}", a.message);
}
