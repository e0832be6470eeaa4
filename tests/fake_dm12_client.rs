//! SyncML DM 1.2 clients the reference client is not: small fakes on loopback, run through an
//! ICS file as a vendor would. A client that crashes in the middle of a session, one that sends
//! bytes that are no SyncML, and one that sends its Statuses without CmdRef (a quirk of real
//! clients, digest §13 H1), and one that names a node in its Results without the leading `./`.
//! The verdicts must be the spec's, each with what was seen, and the
//! suite must neither hang nor end in `error`.
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Behaviour {
    /// Package#1, then the process "dies": nothing more is sent and iut.state says `exited`.
    CrashAfterPackage1,
    /// Package#1 is not SyncML at all.
    Garbage,
    /// Answers a Get with a Status that has no CmdRef (and its Results).
    StatusWithoutCmdRef,
    /// Answers as it should, but names the node in its Results Source without the leading
    /// `./` (`DevInfo/Mod` for `./DevInfo/Mod`: the same node, digest §11.1).
    SourceWithoutDot,
}

struct Fake {
    behaviour: Behaviour,
    server_url: String,
    http: reqwest::Client,
    crashed: Mutex<bool>,
}

const DEV_ID: &str = "IMEI:490154203237518";

fn package1() -> String {
    format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>SERVER</LocURI></Target><Source><LocURI>{DEV_ID}</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Replace><CmdID>2</CmdID><Item><Source><LocURI>./DevInfo/DevId</LocURI></Source><Data>{DEV_ID}</Data></Item><Item><Source><LocURI>./DevInfo/Man</LocURI></Source><Data>Fake</Data></Item><Item><Source><LocURI>./DevInfo/Mod</LocURI></Source><Data>fake-1</Data></Item><Item><Source><LocURI>./DevInfo/DmV</LocURI></Source><Data>1.2</Data></Item><Item><Source><LocURI>./DevInfo/Lang</LocURI></Source><Data>en-US</Data></Item></Replace><Final/></SyncBody></SyncML>"#
    )
}

impl Fake {
    async fn post(&self, body: String) -> Option<dmcts::wire::dm12::Message> {
        let resp = self
            .http
            .post(&self.server_url)
            .header("content-type", "application/vnd.syncml.dm+xml")
            .body(body)
            .send()
            .await
            .ok()?;
        let bytes = resp.bytes().await.ok()?;
        dmcts::wire::dm12::Message::from_xml(std::str::from_utf8(&bytes).ok()?).ok()
    }

    /// One session, as the behaviour has it.
    async fn session(self: Arc<Self>) {
        if self.behaviour == Behaviour::Garbage {
            self.post("this is no SyncML message\u{1}\u{2}".into()).await;
            return;
        }
        let Some(reply) = self.post(package1().replace("SERVER", &self.server_url)).await else { return };
        if self.behaviour == Behaviour::CrashAfterPackage1 {
            *self.crashed.lock().unwrap() = true;
            return;
        }
        // StatusWithoutCmdRef: a Status per command of the server, without CmdRef; Results
        // for each Get, with the value the PIXIT default names.
        let mut body = format!(
            "<Status><CmdID>1</CmdID><MsgRef>{m}</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>",
            m = reply.hdr.msg_id
        );
        let mut id = 2;
        for c in &reply.body.commands {
            let Some(cmd_id) = c.cmd_id() else { continue };
            if matches!(c, dmcts::wire::dm12::Command::Status(_) | dmcts::wire::dm12::Command::Results(_)) {
                continue;
            }
            let cmd_ref = match self.behaviour {
                Behaviour::SourceWithoutDot => format!("<CmdRef>{cmd_id}</CmdRef>"),
                _ => String::new(),
            };
            body.push_str(&format!(
                "<Status><CmdID>{id}</CmdID><MsgRef>{m}</MsgRef>{cmd_ref}<Cmd>{n}</Cmd><Data>200</Data></Status>",
                m = reply.hdr.msg_id,
                n = c.name()
            ));
            id += 1;
            if let dmcts::wire::dm12::Command::Get(g) = c {
                let mut target =
                    g.items.first().and_then(|i| i.target.as_ref()).map(|t| t.loc_uri.clone()).unwrap_or_default();
                if self.behaviour == Behaviour::SourceWithoutDot {
                    target = target.trim_start_matches("./").to_string();
                }
                body.push_str(&format!(
                    "<Results><CmdID>{id}</CmdID><MsgRef>{m}</MsgRef><CmdRef>{cmd_id}</CmdRef><Item><Source><LocURI>{target}</LocURI></Source><Data>one</Data></Item></Results>",
                    m = reply.hdr.msg_id
                ));
                id += 1;
            }
        }
        let msg = format!(
            r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID><Target><LocURI>{}</LocURI></Target><Source><LocURI>{DEV_ID}</LocURI></Source></SyncHdr><SyncBody>{body}<Final/></SyncBody></SyncML>"#,
            self.server_url
        );
        self.post(msg).await;
    }
}

async fn ut(State(f): State<Arc<Fake>>, Json(req): Json<Value>) -> Json<Value> {
    let done = |data: Value| Json(json!({ "status": "done", "message": "", "data": data }));
    match req["action"].as_str().unwrap_or("") {
        "reset" | "idle" => done(Value::Null),
        "iut.state" => {
            let state = if *f.crashed.lock().unwrap() { "exited" } else { "idle" };
            done(json!({ "state": state, "detail": "fake crash after Package#1" }))
        }
        "session.start" => {
            tokio::spawn(f.clone().session());
            done(json!({ "queued": true }))
        }
        other => Json(json!({ "status": "unsupported", "message": format!("the fake does not do {other}") })),
    }
}

/// Starts the fake's upper tester; its URL.
async fn start(behaviour: Behaviour, server_url: String) -> String {
    let fake = Arc::new(Fake { behaviour, server_url, http: reqwest::Client::new(), crashed: Mutex::new(false) });
    let app = axum::Router::new().route("/ut", axum::routing::post(ut)).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ut", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// `dmcts run --ics` of the example client ICS pointed at the fake, for the one case named; the
/// cases that ran and how long it took.
async fn run(behaviour: Behaviour, id: &str) -> (Vec<Value>, Duration) {
    let port = dmcts::peers::free_loopback_port();
    let ut_url = start(behaviour, format!("http://127.0.0.1:{port}/dm")).await;
    let ics = std::fs::read_to_string("examples/ics-dm12-client.toml")
        .unwrap()
        .replace("127.0.0.1:8700", &format!("127.0.0.1:{port}"))
        .replace("http://127.0.0.1:8800/ut", &ut_url)
        + "\n[pixit.timeouts]\nstep_ms = 3000\ncase_ms = 20000\nquiet_period_ms = 300\n";
    let dir = std::env::temp_dir().join(format!("dmcts-fake-dm12-{behaviour:?}-{id}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ics.toml"), ics).unwrap();
    let args = ["run", "--ics", "ics.toml", "--report-dir", "reports", "--", "--exact", id].map(String::from);
    let started = Instant::now();
    let d = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).current_dir(&d).output().unwrap()
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let run: Value = serde_json::from_slice(&std::fs::read(dir.join("reports/run.json")).unwrap_or_default())
        .unwrap_or_else(|e| panic!("no run.json ({e}):\n{text}"));
    let _ = std::fs::remove_dir_all(&dir);
    let picked = run["cases"].as_array().unwrap().iter().filter(|c| c["verdict"] != "skipped").cloned().collect();
    (picked, took)
}

fn case<'a>(cases: &'a [Value], id: &str) -> &'a Value {
    cases.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} not run: {cases:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_dies_mid_session_fails_at_once_naming_it() {
    let (cases, took) = run(Behaviour::CrashAfterPackage1, "TC-DM12C-SES-002").await;
    let c = case(&cases, "TC-DM12C-SES-002");
    assert_eq!(c["verdict"], "fail", "{c}");
    let reason = c["reason"].to_string();
    assert!(reason.contains("exited") && reason.contains("fake crash after Package#1"), "{reason}");
    // The upper tester said the IUT exited: the suite does not sit out the step timeout.
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_no_syncml_fail_the_message_item_with_the_decoder_error() {
    let (cases, _) = run(Behaviour::Garbage, "TC-DM12C-SES-001").await;
    let c = case(&cases, "TC-DM12C-SES-001");
    assert_eq!(c["verdict"], "fail", "{c}");
    assert_eq!(c["reason"]["scr"], "DM12-001-C-M", "{c}");
    assert!(c["reason"]["actual"].as_str().unwrap_or("").contains("byte"), "the decoder says where: {c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_without_cmdref_fails_only_the_status_item() {
    // The Get is answered 200 with its Results: the Get case passes whatever the CmdRef; the
    // session case, which judges the Statuses' references, fails DM12-013 naming the Status.
    let (cases, _) = run(Behaviour::StatusWithoutCmdRef, "TC-DM12C-CMD-001").await;
    let get = case(&cases, "TC-DM12C-CMD-001");
    assert_eq!(get["verdict"], "pass", "{get}");
    let (cases, _) = run(Behaviour::StatusWithoutCmdRef, "TC-DM12C-SES-002").await;
    let s = case(&cases, "TC-DM12C-SES-002");
    assert_eq!(s["verdict"], "fail", "{s}");
    assert_eq!(s["reason"]["scr"], "DM12-013-C-M", "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_source_without_its_dot_names_the_same_node() {
    // `DevInfo/Mod` and `./DevInfo/Mod` address the same node (digest §11.1): the Get case passes.
    let (cases, _) = run(Behaviour::SourceWithoutDot, "TC-DM12C-CMD-001").await;
    let get = case(&cases, "TC-DM12C-CMD-001");
    assert_eq!(get["verdict"], "pass", "{get}");
}
