//! Both reference peers start from the CLI on loopback ports and answer the upper tester.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dmcts reference <role> ARGS` and returns it with the upper-tester URL it printed.
fn start(args: &[&str]) -> (Peer, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dmcts starts");
    let stdout = child.stdout.take().unwrap();
    let peer = Peer(child);
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep reading to the end: closing the pipe early would kill the peer on its next line
    // (SIGPIPE), as it should any CLI whose reader went away.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://") && w.ends_with("/ut")) {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(10)).expect("the peer prints its upper-tester URL");
    (peer, url)
}

fn ut(url: &str, action: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
        loop {
            match client.post(url).json(&serde_json::json!({ "action": action })).send().await {
                Ok(r) => return r.json::<serde_json::Value>().await.unwrap(),
                Err(e) if Instant::now() > deadline => panic!("{url}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
}

#[test]
fn reference_server_starts_from_the_cli_and_answers_the_upper_tester() {
    let (_peer, url) = start(&["reference", "server", "--listen", "127.0.0.1:0"]);
    assert_eq!(ut(&url, "reset")["status"], "done");
    assert_eq!(ut(&url, "idle")["status"], "done");
}

#[test]
fn reference_client_starts_from_the_cli_and_answers_the_upper_tester() {
    let (_peer, url) =
        start(&["reference", "client", "--listen", "127.0.0.1:0", "--server-uri", "http://127.0.0.1:9/dm"]);
    assert_eq!(ut(&url, "reset")["status"], "done");
    assert_eq!(ut(&url, "no.such.action")["status"], "unsupported");
}

#[test]
fn an_unknown_fault_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["reference", "server", "--listen", "127.0.0.1:0", "--fault", "server.no-such-fault"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-fault"), "{err}");
}
