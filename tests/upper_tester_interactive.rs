//! Interactive back end: without a terminal every prompt ends as requires-operator; with an
//! operator (here a scripted input stream) replies become answers.
use dmcts::upper_tester::{UpperTester, UpperTesterConfig, UtError, UtRequest, UtStatus};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn req(action: &str, args: serde_json::Value) -> UtRequest {
    UtRequest { action: action.into(), case: "TC-DMC-SESS-001".into(), step: 2, args }
}

#[tokio::test]
async fn without_a_terminal_the_step_requires_an_operator_at_once() {
    if std::io::stdin().is_terminal() {
        eprintln!("stdin is a terminal here; run with </dev/null to exercise this path");
        return;
    }
    let u = UpperTester::from_config(&UpperTesterConfig::Interactive, Path::new(".")).unwrap();
    assert!(u.is_interactive());
    let started = Instant::now();
    let r = u.call(&req("session.start", json!({})), Duration::from_secs(30)).await;
    assert_eq!(r, Err(UtError::RequiresOperator { prompt_id: "UT-SESSION.START".into() }));
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Collects the prompts written for the operator.
#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);
impl Write for Screen {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn operator_replies_become_answers() {
    let screen = Screen::default();
    let input = "\nmaybe\ndone\nfailed device is off\ndone AAECAw==\n";
    let u = UpperTester::interactive_with_io(std::io::Cursor::new(input), screen.clone());
    let t = Duration::from_secs(5);
    let a = u.call(&req("session.start", json!({})), t).await.unwrap();
    assert_eq!(a.status, UtStatus::Done);
    let a = u.call(&req("alert.raise", json!({"AlertType": "urn:oma:at:dm:2.0:Test"})), t).await.unwrap();
    assert_eq!((a.status, a.message.as_str()), (UtStatus::Failed, "device is off"));
    let a = u.call(&req("notification.send", json!({"dev_id": "IMEI:1"})), t).await.unwrap();
    assert_eq!(a.data, json!({"bytes_b64": "AAECAw=="}));
    let shown = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
    assert!(shown.contains("[UT-SESSION.START] TC-DMC-SESS-001 step 2"), "{shown}");
    assert!(shown.contains("expected `done`"), "the bad reply was explained: {shown}");
    assert!(shown.contains("[UT-ALERT.RAISE]") && shown.contains("urn:oma:at:dm:2.0:Test"), "{shown}");
    // Input ended: no operator is left to answer.
    let r = u.call(&req("reset", json!({})), t).await;
    assert_eq!(r, Err(UtError::RequiresOperator { prompt_id: "UT-RESET".into() }));
}

#[cfg(unix)]
#[tokio::test]
async fn an_operator_who_does_not_answer_times_out() {
    // A reader that never yields a line, like a terminal nobody types at.
    let (_keep, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let u = UpperTester::interactive_with_io(std::io::BufReader::new(rx), std::io::sink());
    let started = Instant::now();
    let r = u.call(&req("reset", json!({})), Duration::from_millis(200)).await;
    assert_eq!(r, Err(UtError::Timeout { after_ms: 200 }));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn query_actions_are_never_put_to_an_operator() {
    // With an operator at the keyboard: no prompt, no line consumed, `unsupported` at once.
    let screen = Screen::default();
    let u = UpperTester::interactive_with_io(std::io::Cursor::new("done\n"), screen.clone());
    for action in ["idle", "iut.state"] {
        let a = u.call(&req(action, json!({})), Duration::from_secs(30)).await.unwrap();
        assert_eq!(a.status, UtStatus::Unsupported, "{action}");
    }
    assert!(screen.0.lock().unwrap().is_empty(), "nothing was shown");
    let a = u.call(&req("reset", json!({})), Duration::from_secs(5)).await.unwrap();
    assert_eq!(a.status, UtStatus::Done, "the typed line still answers the next real prompt");
    // Without a terminal: `unsupported` too, not requires-operator (which would skip the case).
    if !std::io::stdin().is_terminal() {
        let u = UpperTester::from_config(&UpperTesterConfig::Interactive, Path::new(".")).unwrap();
        let a = u.call(&req("iut.state", json!({})), Duration::from_secs(30)).await.unwrap();
        assert_eq!(a.status, UtStatus::Unsupported);
    }
}

/// The prompts that send the device somewhere name the suite's URL (issue 14 point 1): the
/// target gives the back end the endpoint table of the run.
#[tokio::test]
async fn prompts_name_the_url_the_device_must_use() {
    let src = std::fs::read_to_string("examples/ics-client.toml")
        .unwrap()
        .replace("server_url = \"http://127.0.0.1:8700/dm\"", "server_url = \"http://localhost:9988/path\"");
    let ics = dmcts::ics::Ics::from_str(&src, Path::new("ics.toml")).unwrap();
    let endpoints = dmcts::peers::endpoints::Endpoints::for_ics(&ics);
    let screen = Screen::default();
    let u = UpperTester::interactive_with_io(std::io::Cursor::new("done\ndone\n"), screen.clone())
        .with_endpoints(&endpoints);
    let t = Duration::from_secs(5);
    u.call(&req("session.start", json!({})), t).await.unwrap();
    u.call(&req("alert.raise", json!({"AlertType": "urn:oma:at:dm:2.0:Test"})), t).await.unwrap();
    let shown = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
    assert!(
        shown.contains(
            "open a client-initiated DM session (send Package#1) to its DM server at http://localhost:9988/path now."
        ),
        "{shown}"
    );
    assert!(shown.contains("to its DM server at http://localhost:9988/path; the full alert"), "{shown}");

    // A server IUT: notification.send names the listener the suite registered.
    let ics =
        dmcts::ics::Ics::from_str(&std::fs::read_to_string("examples/ics-server.toml").unwrap(), Path::new("ics.toml"))
            .unwrap();
    let screen = Screen::default();
    let u = UpperTester::interactive_with_io(std::io::Cursor::new("done\n"), screen.clone())
        .with_endpoints(&dmcts::peers::endpoints::Endpoints::for_ics(&ics));
    u.call(&req("notification.send", json!({"dev_id": "IMEI:1"})), t).await.unwrap();
    let shown = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
    assert!(
        shown.contains("went to the registered notification address at http://127.0.0.1:8710/dm/notify,"),
        "{shown}"
    );
}
