//! Scripted back end: first match wins, `once` entries are consumed, case globs, and a
//! request nothing matches is `failed`, never a silent `done`.
use dmcts::upper_tester::{UpperTester, UpperTesterConfig, UtError, UtRequest, UtStatus};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

fn base() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scripted(file: &str) -> Result<UpperTester, UtError> {
    UpperTester::from_config(&UpperTesterConfig::Scripted { file: file.into() }, base())
}

fn req(action: &str, case: &str) -> UtRequest {
    UtRequest { action: action.into(), case: case.into(), step: 1, args: json!({}) }
}

const T: Duration = Duration::from_secs(1);

#[tokio::test]
async fn first_match_wins_and_once_entries_are_consumed() {
    let u = scripted("tests/fixtures/ut/scripted.toml").unwrap();
    assert_eq!(u.call(&req("reset", "TC-DMC-SESS-001"), T).await.unwrap().message, "first reset");
    // A clone shares the consumed entries.
    let u2 = u.clone();
    assert_eq!(u2.call(&req("reset", "TC-DMC-SESS-002"), T).await.unwrap().message, "later reset");
    assert_eq!(u.call(&req("reset", "TC-DMC-SESS-003"), T).await.unwrap().message, "later reset");
}

#[tokio::test]
async fn case_globs_select_entries_and_data_becomes_json() {
    let u = scripted("tests/fixtures/ut/scripted.toml").unwrap();
    let a = u.call(&req("session.start", "TC-DMC-SESS-001"), T).await.unwrap();
    assert_eq!((a.status, a.data), (UtStatus::Done, json!({"queued": true})));
    let a = u.call(&req("session.start", "TC-DMS-SESS-001"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Failed);
    let a = u.call(&req("notification.send", "TC-DMS-NOTIF-001"), T).await.unwrap();
    assert_eq!(a.data, json!({"bytes_b64": "AAECAw=="}));
    let a = u.call(&req("idle", "TC-DMS-NOTIF-001"), T).await.unwrap();
    assert_eq!(a.status, UtStatus::Unsupported);
}

#[tokio::test]
async fn no_match_fails_naming_the_action_and_case() {
    let u = scripted("tests/fixtures/ut/scripted.toml").unwrap();
    for r in [req("alert.raise", "TC-DMC-ALERT-001"), req("session.start", "XX-1")] {
        let a = u.call(&r, T).await.unwrap();
        assert_eq!(a.status, UtStatus::Failed);
        assert!(a.message.contains(&r.action) && a.message.contains(&r.case), "{}", a.message);
    }
}

#[test]
fn load_errors_name_file_and_line() {
    match scripted("tests/fixtures/ut/scripted_bad.toml") {
        Err(UtError::Config(m)) => assert!(m.contains("scripted_bad.toml:7:") && m.contains("maybe"), "{m}"),
        other => panic!("expected Config, got {other:?}"),
    }
    match scripted("tests/fixtures/ut/no-such-file.toml") {
        Err(UtError::Config(m)) => assert!(m.contains("no-such-file.toml"), "{m}"),
        other => panic!("expected Config, got {other:?}"),
    }
}
