//! The reference DM 1.2 client against a tiny scripted DM 1.2 server written here with
//! `wire::dm12`, over real sockets on 127.0.0.1.
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use dmcts::reference::dm12::client::{spawn, Dm12ClientConfig, RunningDm12Client, DEFAULT_DEV_ID, FAULTS};
use dmcts::upper_tester::{UtAnswer, UtRequest, UtStatus};
use dmcts::wire::dm12::auth;
use dmcts::wire::dm12::notification::{self, Trigger, UiMode};
use dmcts::wire::dm12::{
    Alert, Chal, Command, Container, Data, Exec, Item, ItemCommand, LocRef, Message, Meta, Status, SyncBody, SyncHdr,
    MEDIA_WBXML, MEDIA_XML,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A scripted reply with this SessionID is sent as an undecodable body.
const GARBAGE: &str = "garbage";

/// One request the server received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    content_type: String,
    bytes: Vec<u8>,
    /// None: it did not decode (answered HTTP 400).
    msg: Option<Message>,
}

impl Seen {
    fn msg(&self) -> &Message {
        self.msg.as_ref().expect("a decodable message")
    }
}

/// What the server answers the n-th (from 0) request with; None: HTTP 400.
type Script = Arc<dyn Fn(usize, &Message) -> Option<Message> + Send + Sync>;

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(script: impl Fn(usize, &Message) -> Option<Message> + Send + Sync + 'static) -> Server {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Script = Arc::new(script);
        let (s2, sc) = (seen.clone(), script.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (seen, script) = (s2.clone(), sc.clone());
            async move {
                let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let msg = dmcts::wire::dm12::decode(&body, &ct).ok();
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push(Seen {
                        path: uri.path().into(),
                        content_type: ct.clone(),
                        bytes: body.to_vec(),
                        msg: msg.clone(),
                    });
                    s.len() - 1
                };
                let Some(m) = msg else { return (StatusCode::BAD_REQUEST, [("content-type", MEDIA_XML)], vec![]) };
                match script(n, &m) {
                    None => (StatusCode::BAD_REQUEST, [("content-type", MEDIA_XML)], vec![]),
                    // A body that is no SyncML message at all.
                    Some(reply) if reply.hdr.session_id == GARBAGE => {
                        (StatusCode::OK, [("content-type", MEDIA_XML)], b"<SyncML><SyncHdr>".to_vec())
                    }
                    Some(reply) if ct.contains("wbxml") => {
                        (StatusCode::OK, [("content-type", MEDIA_WBXML)], reply.to_wbxml().unwrap())
                    }
                    Some(reply) => {
                        (StatusCode::OK, [("content-type", MEDIA_XML)], reply.to_xml(false).unwrap().into_bytes())
                    }
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/dm", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server { url, seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---- building server messages ----

fn item_to(uri: &str) -> Item {
    Item { target: Some(LocRef::uri(uri)), ..Item::default() }
}

fn item_data(uri: &str, data: &str) -> Item {
    Item { data: Some(Data::Text(data.into())), ..item_to(uri) }
}

fn cmd(items: Vec<Item>) -> ItemCommand {
    ItemCommand { items, ..ItemCommand::default() }
}

fn get(uri: &str) -> Command {
    Command::Get(cmd(vec![item_to(uri)]))
}

fn add(uri: &str, data: &str) -> Command {
    Command::Add(cmd(vec![item_data(uri, data)]))
}

fn delete(uri: &str) -> Command {
    Command::Delete(cmd(vec![item_to(uri)]))
}

fn replace(uri: &str, data: &str) -> Command {
    Command::Replace(cmd(vec![item_data(uri, data)]))
}

fn alert(code: &str, items: &[&str]) -> Command {
    Command::Alert(Alert {
        data: Some(code.into()),
        items: items.iter().map(|d| Item { data: Some(Data::Text((*d).into())), ..Item::default() }).collect(),
        ..Alert::default()
    })
}

fn chal(nonce: &[u8]) -> Chal {
    Chal {
        meta: Meta {
            r#type: Some(auth::AUTH_MD5.into()),
            format: Some("b64".into()),
            next_nonce: Some(auth::encode_nonce(nonce)),
            ..Meta::default()
        },
    }
}

/// A server message answering `req`: Status for its SyncHdr (`code`, `chal`), a 200 for each
/// of its Alerts and Replaces, then `commands`; CmdIDs numbered here.
fn answer(req: &Message, msg_id: u32, code: u16, chal: Option<Chal>, commands: Vec<Command>, fin: bool) -> Message {
    let mut body = vec![Command::Status(Status {
        msg_ref: req.hdr.msg_id.clone(),
        cmd_ref: "0".into(),
        cmd: "SyncHdr".into(),
        chal,
        data: code.to_string(),
        ..Status::default()
    })];
    for c in &req.body.commands {
        if matches!(c, Command::Alert(_) | Command::Replace(_)) {
            body.push(Command::Status(Status {
                msg_ref: req.hdr.msg_id.clone(),
                cmd_ref: c.cmd_id().unwrap_or_default().into(),
                cmd: c.name().into(),
                data: if matches!(code, 401 | 407) { code.to_string() } else { "200".into() },
                ..Status::default()
            }));
        }
    }
    body.extend(commands);
    let mut n = 0;
    for c in &mut body {
        number(c, &mut n);
    }
    Message {
        hdr: SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: req.hdr.session_id.clone(),
            msg_id: msg_id.to_string(),
            target: LocRef::uri(req.hdr.source.loc_uri.clone()),
            source: LocRef::uri(req.hdr.target.loc_uri.clone()),
            ..SyncHdr::default()
        },
        body: SyncBody { commands: body, r#final: fin },
    }
}

fn number(c: &mut Command, n: &mut usize) {
    *n += 1;
    let id = n.to_string();
    match c {
        Command::Add(x) | Command::Copy(x) | Command::Delete(x) | Command::Get(x) | Command::Replace(x) => {
            x.cmd_id = id
        }
        Command::Exec(x) => x.cmd_id = id,
        Command::Alert(x) => x.cmd_id = id,
        Command::Atomic(x) | Command::Sequence(x) => {
            x.cmd_id = id;
            for m in &mut x.commands {
                number(m, n);
            }
        }
        Command::Status(x) => x.cmd_id = id,
        Command::Results(x) => x.cmd_id = id,
        Command::Other { cmd_id, .. } => *cmd_id = Some(id),
    }
}

/// The scripted server: Package#2 = `commands` (after a 212), then Statuses only.
fn commands_then_end(commands: Vec<Command>) -> impl Fn(usize, &Message) -> Option<Message> + Send + Sync {
    move |n, req| {
        Some(match n {
            0 => answer(req, 1, 212, None, commands.clone(), true),
            _ => answer(req, n as u32 + 1, 200, None, vec![], true),
        })
    }
}

// ---- reading client messages ----

fn header_status(m: &Message) -> Option<&Status> {
    m.body.commands.iter().find_map(|c| match c {
        Command::Status(s) if s.cmd == "SyncHdr" => Some(s),
        _ => None,
    })
}

/// (Cmd, CmdRef, TargetRef, code) of every Status but the header's.
fn statuses(m: &Message) -> Vec<(String, String, String, String)> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(s) if s.cmd != "SyncHdr" => Some((
                s.cmd.clone(),
                s.cmd_ref.clone(),
                s.target_refs.first().cloned().unwrap_or_default(),
                s.data.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn code_for(m: &Message, target: &str, cmd: &str) -> String {
    statuses(m)
        .into_iter()
        .find(|(c, _, t, _)| c == cmd && t == target)
        .map(|s| s.3)
        .unwrap_or_else(|| panic!("no {cmd} status for {target} in {:?}", statuses(m)))
}

/// (Source, Format, Data) of every Results Item.
fn results(m: &Message) -> Vec<(String, String, String)> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Results(r) => Some(r),
            _ => None,
        })
        .flat_map(|r| r.items.iter())
        .map(|i| {
            (
                i.source.as_ref().map(|s| s.loc_uri.clone()).unwrap_or_default(),
                i.meta.as_ref().and_then(|m| m.format.clone()).unwrap_or_default(),
                i.data.as_ref().and_then(|d| d.text().map(str::to_string)).unwrap_or_default(),
            )
        })
        .collect()
}

fn alerts(m: &Message) -> Vec<&Alert> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Alert(a) => Some(a),
            _ => None,
        })
        .collect()
}

// ---- driving the client ----

async fn client(url: &str, faults: &[&str]) -> RunningDm12Client {
    let mut cfg = Dm12ClientConfig::new(url);
    cfg.faults = faults.iter().map(|f| f.to_string()).collect();
    cfg.http_timeout = Duration::from_secs(5);
    spawn(cfg).await.unwrap()
}

async fn ut(c: &RunningDm12Client, action: &str, args: Value) -> UtAnswer {
    c.ut(UtRequest { action: action.into(), case: "t".into(), step: 1, args }).await
}

async fn idle(c: &RunningDm12Client) {
    let a = ut(c, "idle", Value::Null).await;
    assert_eq!(a.status, UtStatus::Done, "{a:?}");
}

/// One client-initiated session against `script`; the requests the server saw.
async fn session(
    faults: &[&str],
    args: Value,
    script: impl Fn(usize, &Message) -> Option<Message> + Send + Sync + 'static,
) -> Vec<Seen> {
    let server = Server::start(script).await;
    let c = client(&server.url, faults).await;
    assert_eq!(ut(&c, "session.start", args).await.status, UtStatus::Done);
    idle(&c).await;
    c.shutdown().await;
    server.seen()
}

#[tokio::test]
async fn a_client_initiated_session_sends_package1_and_ends_on_a_commandless_answer() {
    let seen = session(&[], Value::Null, |_, req| Some(answer(req, 1, 212, None, vec![], true))).await;
    assert_eq!(seen.len(), 1, "no message after a package without commands: {seen:?}");
    let s = &seen[0];
    assert_eq!((s.path.as_str(), s.content_type.as_str()), ("/dm", MEDIA_XML));
    let m = s.msg();
    let h = &m.hdr;
    assert_eq!((h.ver_dtd.as_str(), h.ver_proto.as_str()), ("1.2", "DM/1.2"));
    assert_eq!((h.session_id.as_str(), h.msg_id.as_str()), ("1", "1"));
    assert!(h.target.loc_uri.ends_with("/dm"));
    assert_eq!(h.source.loc_uri, DEFAULT_DEV_ID);
    assert_eq!(h.meta.as_ref().and_then(|m| m.max_msg_size.as_deref()), Some("16384"));
    assert!(h.cred.is_none(), "no nonce yet: no Cred");
    assert!(m.body.r#final);
    assert_eq!(alerts(m)[0].data.as_deref(), Some("1201"));
    let Some(Command::Replace(r)) = m.body.commands.get(1) else { panic!("Replace second: {m:?}") };
    let devinfo: Vec<(String, String)> = r
        .items
        .iter()
        .map(|i| (i.source.clone().unwrap().loc_uri, i.data.as_ref().unwrap().text().unwrap().to_string()))
        .collect();
    let uris: Vec<&str> = devinfo.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(uris, ["./DevInfo/DevId", "./DevInfo/Man", "./DevInfo/Mod", "./DevInfo/DmV", "./DevInfo/Lang"]);
    assert_eq!(devinfo[0].1, DEFAULT_DEV_ID);
    let ids: Vec<&str> = m.body.commands.iter().filter_map(|c| c.cmd_id()).collect();
    assert_eq!(ids, ["1", "2"]);
}

/// The server challenges Package#1 (407 + md5 nonce-1), accepts the retry (212 + nonce-2);
/// a second session's Package#1 carries a Cred over nonce-2.
async fn challenge_round(faults: &[&str]) -> Vec<Seen> {
    let server = Server::start(|n, req| {
        Some(match n {
            0 => answer(req, 1, 407, Some(chal(b"nonce-1")), vec![], true),
            1 => answer(req, 2, 212, Some(chal(b"nonce-2")), vec![], true),
            _ => answer(req, 1, 212, None, vec![], true),
        })
    })
    .await;
    let c = client(&server.url, faults).await;
    ut(&c, "session.start", Value::Null).await;
    idle(&c).await;
    ut(&c, "session.start", Value::Null).await;
    idle(&c).await;
    c.shutdown().await;
    server.seen()
}

fn cred_of(m: &Message) -> Option<String> {
    m.hdr.cred.as_ref().map(|c| c.data.text().unwrap().to_string())
}

#[tokio::test]
async fn an_md5_challenge_is_answered_and_the_next_nonce_used_in_the_next_session() {
    let seen = challenge_round(&[]).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    let (first, retry, next) = (seen[0].msg(), seen[1].msg(), seen[2].msg());
    assert!(first.hdr.cred.is_none());
    let cred = retry.hdr.cred.as_ref().expect("a Cred in the retry");
    let meta = cred.meta.as_ref().unwrap();
    assert_eq!((meta.r#type.as_deref(), meta.format.as_deref()), (Some(auth::AUTH_MD5), Some("b64")));
    assert_eq!(cred_of(retry).unwrap(), auth::md5_cred("dmcts-client", "client-secret", b"nonce-1"));
    assert_eq!(retry.hdr.source.loc_name.as_deref(), Some("dmcts-client"));
    assert_eq!((retry.hdr.session_id.as_str(), retry.hdr.msg_id.as_str()), ("1", "2"));
    let hs = header_status(retry).expect("a Status for the server's SyncHdr");
    assert_eq!((hs.msg_ref.as_str(), hs.cmd_ref.as_str(), hs.data.as_str()), ("1", "0", "200"));
    assert_eq!(alerts(retry)[0].data.as_deref(), Some("1201"));
    assert!(retry.body.commands.iter().any(|c| matches!(c, Command::Replace(_))), "DevInfo again");
    assert_eq!(next.hdr.session_id, "2");
    assert_eq!(cred_of(next).unwrap(), auth::md5_cred("dmcts-client", "client-secret", b"nonce-2"));
}

#[tokio::test]
async fn the_auth_faults_break_only_their_point() {
    let seen = challenge_round(&["dm12-md5-nonce-not-decoded"]).await;
    let b64 = auth::encode_nonce(b"nonce-1");
    assert_eq!(cred_of(seen[1].msg()).unwrap(), auth::md5_cred("dmcts-client", "client-secret", b64.as_bytes()));
    let seen = challenge_round(&["dm12-ignores-challenge"]).await;
    assert!(seen[1].msg().hdr.cred.is_none());
    assert_eq!(seen[1].msg().hdr.msg_id, "2");
    let seen = challenge_round(&["dm12-reuses-old-nonce"]).await;
    assert_eq!(cred_of(seen[1].msg()).unwrap(), auth::md5_cred("dmcts-client", "client-secret", b"nonce-1"));
    assert_eq!(cred_of(seen[2].msg()).unwrap(), auth::md5_cred("dmcts-client", "client-secret", b"nonce-1"));
}

fn management_commands() -> Vec<Command> {
    vec![
        get("./dmcts/Leaf"),
        get("./dmcts/Interior"),
        get("./dmcts/Missing"),
        add("./dmcts/Leaf", "two"),
        add("./dmcts/New", "x"),
        delete("./DevInfo"),
        delete("./dmcts/Interior"),
        get("./dmcts/Interior/A"),
        Command::Atomic(Container {
            commands: vec![add("./dmcts/InAtomic", "v"), add("./dmcts/Leaf", "dup")],
            ..Container::default()
        }),
        get("./dmcts/InAtomic"),
        Command::Other { name: "Sync".into(), cmd_id: None },
        get("./dmcts/New"),
        replace("./dmcts/Leaf", "three"),
        replace("./dmcts/Nope", "x"),
        Command::Copy(cmd(vec![Item { source: Some(LocRef::uri("./dmcts/Leaf")), ..item_to("./dmcts/Copied") }])),
        get("./dmcts/Copied"),
        Command::Add(ItemCommand {
            meta: Some(Meta { format: Some("node".into()), ..Meta::default() }),
            ..cmd(vec![item_to("./dmcts/Dir")])
        }),
        get("./dmcts/Dir"),
        Command::Exec(Exec { items: vec![item_to("./dmcts/Leaf")], ..Exec::default() }),
    ]
}

#[tokio::test]
async fn management_commands_get_their_statuses_and_results() {
    let seen = session(&[], Value::Null, commands_then_end(management_commands())).await;
    assert_eq!(seen.len(), 2, "Package#1, Package#3; then the end: {seen:?}");
    let p3 = seen[1].msg();
    assert!(p3.body.r#final);
    let hs = header_status(p3).unwrap();
    assert_eq!((hs.msg_ref.as_str(), hs.cmd_ref.as_str(), hs.cmd.as_str()), ("1", "0", "SyncHdr"));
    assert!(matches!(p3.body.commands[0], Command::Status(ref s) if s.cmd == "SyncHdr"), "header Status first");
    let st = statuses(p3);
    let expect = [
        ("Get", "./dmcts/Leaf", "200"),
        ("Get", "./dmcts/Interior", "200"),
        ("Get", "./dmcts/Missing", "404"),
        ("Add", "./dmcts/Leaf", "418"),
        ("Add", "./dmcts/New", "200"),
        ("Delete", "./DevInfo", "405"),
        ("Delete", "./dmcts/Interior", "200"),
        ("Get", "./dmcts/Interior/A", "404"),
        ("Atomic", "", "507"),
        ("Add", "./dmcts/InAtomic", "216"),
        ("Add", "./dmcts/Leaf", "418"),
        ("Get", "./dmcts/InAtomic", "404"),
        ("Sync", "", "406"),
        ("Get", "./dmcts/New", "200"),
        ("Replace", "./dmcts/Leaf", "200"),
        ("Replace", "./dmcts/Nope", "404"),
        ("Copy", "./dmcts/Copied", "200"),
        ("Get", "./dmcts/Copied", "200"),
        ("Add", "./dmcts/Dir", "200"),
        ("Get", "./dmcts/Dir", "200"),
        ("Exec", "./dmcts/Leaf", "405"),
    ];
    let got: Vec<(&str, &str, &str)> = st.iter().map(|(c, _, t, d)| (c.as_str(), t.as_str(), d.as_str())).collect();
    assert_eq!(got, expect);
    // CmdRefs name the server's commands (the Status of the first Get: CmdID 4, after the
    // three Statuses of the server's Package#2).
    assert_eq!(st[0].1, "4");
    assert!(st.iter().all(|s| !s.1.is_empty() || s.0 == "Sync"));
    assert_eq!(
        results(p3),
        [
            ("./dmcts/Leaf".into(), "chr".into(), "one".into()),
            ("./dmcts/Interior".into(), "node".into(), "A/B".into()),
            ("./dmcts/New".into(), "chr".into(), "x".into()),
            ("./dmcts/Copied".into(), "chr".into(), "three".into()),
            ("./dmcts/Dir".into(), "node".into(), "".into()),
        ]
    );
    // Results follow the Status of their Get.
    let Command::Results(r) = &p3.body.commands[2] else { panic!("Results after the first Get's Status: {p3:?}") };
    assert_eq!((r.cmd_ref.as_str(), r.msg_ref.as_deref()), ("4", Some("1")));
    let ids: Vec<&str> = p3.body.commands.iter().filter_map(|c| c.cmd_id()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "CmdIDs unique: {ids:?}");
}

#[tokio::test]
async fn command_faults_change_exactly_their_status() {
    let run =
        |f: &'static str| async move { session(&[f], Value::Null, commands_then_end(management_commands())).await };
    let p3 = run("dm12-missing-node-200").await[1].msg().clone();
    assert_eq!(code_for(&p3, "./dmcts/Missing", "Get"), "200");
    assert_eq!(code_for(&p3, "./dmcts/Leaf", "Add"), "418");
    let p3 = run("dm12-add-existing-200").await[1].msg().clone();
    assert_eq!(code_for(&p3, "./dmcts/Leaf", "Add"), "200");
    assert_eq!(code_for(&p3, "./dmcts/Missing", "Get"), "404");
    let p3 = run("dm12-delete-permanent-200").await[1].msg().clone();
    assert_eq!(code_for(&p3, "./DevInfo", "Delete"), "200");
    let p3 = run("dm12-atomic-no-rollback").await[1].msg().clone();
    assert_eq!(code_for(&p3, "./dmcts/InAtomic", "Add"), "216");
    assert_eq!(code_for(&p3, "./dmcts/InAtomic", "Get"), "200", "the Atomic's Add stayed");
    let p3 = run("dm12-unknown-command-200").await[1].msg().clone();
    assert_eq!(statuses(&p3).iter().find(|s| s.0 == "Sync").unwrap().3, "200");
    let p3 = run("dm12-interior-get-wrong").await[1].msg().clone();
    assert_eq!(results(&p3)[1].1, "chr");
    let p3 = run("dm12-get-no-results").await[1].msg().clone();
    assert!(results(&p3).is_empty());
    assert_eq!(code_for(&p3, "./dmcts/Leaf", "Get"), "200");
    let p3 = run("dm12-status-no-cmdref").await[1].msg().clone();
    assert_eq!(statuses(&p3)[0].1, "3", "the Get's Status names the command before it");
}

#[tokio::test]
async fn ui_confirm_answers_and_sequences() {
    let seq = || {
        vec![Command::Sequence(Container {
            commands: vec![alert("1101", &["MAXDT=10", "Go?"]), replace("./dmcts/Leaf", "new"), get("./dmcts/Leaf")],
            ..Container::default()
        })]
    };
    for (answer_, faults, alert_code, rest) in [
        ("yes", vec![], "200", "200"),
        ("no", vec![], "304", "215"),
        ("cancel", vec![], "214", "215"),
        ("timeout", vec![], "408", "200"),
        ("no", vec!["dm12-ui-confirm-ignores-no"], "200", "200"),
    ] {
        let server = Server::start(commands_then_end(seq())).await;
        let c = client(&server.url, &faults).await;
        assert_eq!(ut(&c, "ui.answer", json!({ "answer": answer_ })).await.status, UtStatus::Done);
        ut(&c, "session.start", Value::Null).await;
        idle(&c).await;
        c.shutdown().await;
        let p3 = server.seen()[1].msg().clone();
        let st = statuses(&p3);
        assert_eq!(st[0].0, "Sequence");
        assert_eq!(st[0].3, "200");
        assert_eq!((st[1].0.as_str(), st[1].3.as_str()), ("Alert", alert_code), "{answer_}");
        assert_eq!(st[2].3, rest, "{answer_}: the Replace");
    }
    // Sequence order: Add then Get inside one Sequence.
    let order = vec![Command::Sequence(Container {
        commands: vec![add("./dmcts/Seq", "1"), get("./dmcts/Seq")],
        ..Container::default()
    })];
    let p3 = session(&[], Value::Null, commands_then_end(order.clone())).await[1].msg().clone();
    assert_eq!(code_for(&p3, "./dmcts/Seq", "Get"), "200");
    let p3 = session(&["dm12-sequence-reordered"], Value::Null, commands_then_end(order)).await[1].msg().clone();
    assert_eq!(code_for(&p3, "./dmcts/Seq", "Get"), "404");
    assert_eq!(
        ut(&client("http://127.0.0.1:1/dm", &[]).await, "bogus", Value::Null).await.status,
        UtStatus::Unsupported
    );
}

fn exec_with_correlator() -> Vec<Command> {
    vec![Command::Exec(Exec {
        correlator: Some("job-7".into()),
        items: vec![item_to("./Vendor/Exec")],
        ..Exec::default()
    })]
}

#[tokio::test]
async fn an_async_exec_is_reported_by_a_generic_alert_with_its_correlator() {
    let seen = session(&[], Value::Null, commands_then_end(exec_with_correlator())).await;
    assert_eq!(seen.len(), 3, "Package#1, Package#3, then the new session: {seen:?}");
    assert_eq!(code_for(seen[1].msg(), "./Vendor/Exec", "Exec"), "202");
    let p1 = seen[2].msg();
    assert_eq!(p1.hdr.msg_id, "1");
    assert_ne!(p1.hdr.session_id, seen[0].msg().hdr.session_id);
    let a = alerts(p1);
    assert_eq!(a[0].data.as_deref(), Some("1201"));
    assert_eq!(a[1].data.as_deref(), Some("1226"));
    assert_eq!(a[1].correlator.as_deref(), Some("job-7"));
    let item = &a[1].items[0];
    assert_eq!(item.source.as_ref().unwrap().loc_uri, "./Vendor/Exec");
    let meta = item.meta.as_ref().unwrap();
    assert!(meta.r#type.as_deref().is_some_and(|t| !t.is_empty()));
    assert_eq!(meta.format.as_deref(), Some("int"));
    assert_eq!(item.data.as_ref().unwrap().text(), Some("200"));

    let seen = session(&["dm12-exec-no-correlator"], Value::Null, commands_then_end(exec_with_correlator())).await;
    assert_eq!(alerts(seen[2].msg())[1].correlator, None);
    let seen = session(&["dm12-generic-alert-no-meta"], Value::Null, commands_then_end(exec_with_correlator())).await;
    assert_eq!(alerts(seen[2].msg())[1].correlator.as_deref(), Some("job-7"));
    assert!(alerts(seen[2].msg())[1].items[0].meta.is_none());
}

#[tokio::test]
async fn alert_raise_sends_a_generic_alert_in_package1() {
    let args = json!({ "type": "org.example.test", "format": "chr", "data": "hello", "source": "./dmcts/Leaf", "mark": "warning" });
    let server = Server::start(|_, req| Some(answer(req, 1, 212, None, vec![], true))).await;
    let c = client(&server.url, &[]).await;
    assert_eq!(ut(&c, "alert.raise", args).await.status, UtStatus::Done);
    idle(&c).await;
    c.shutdown().await;
    let p1 = server.seen()[0].msg().clone();
    let a = alerts(&p1);
    assert_eq!((a[0].data.as_deref(), a[1].data.as_deref()), (Some("1201"), Some("1226")));
    let meta = a[1].items[0].meta.clone().unwrap();
    assert_eq!(
        (meta.r#type.as_deref(), meta.format.as_deref(), meta.mark.as_deref()),
        (Some("org.example.test"), Some("chr"), Some("warning"))
    );
}

/// Replace of ./dmcts/Leaf in two chunks ("hello " + "world", Size `size`), then a Get.
fn large_object(size: usize) -> impl Fn(usize, &Message) -> Option<Message> + Send + Sync {
    move |n, req| {
        let chunk = |data: &str, more: bool, size: Option<usize>| {
            Command::Replace(cmd(vec![Item {
                meta: size.map(|s| Meta { size: Some(s.to_string()), ..Meta::default() }),
                more_data: more,
                ..item_data("./dmcts/Leaf", data)
            }]))
        };
        Some(match n {
            0 => answer(req, 1, 212, None, vec![chunk("hello ", true, Some(size))], false),
            1 => answer(req, 2, 200, None, vec![chunk("world", false, None)], true),
            2 => answer(req, 3, 200, None, vec![get("./dmcts/Leaf")], true),
            _ => answer(req, 4, 200, None, vec![], true),
        })
    }
}

#[tokio::test]
async fn a_large_object_is_buffered_with_213_then_committed() {
    let seen = session(&[], Value::Null, large_object(11)).await;
    assert_eq!(seen.len(), 4, "{seen:?}");
    let m = seen[1].msg();
    assert_eq!(code_for(m, "./dmcts/Leaf", "Replace"), "213");
    assert!(alerts(m).iter().any(|a| a.data.as_deref() == Some("1222")), "Next Message asked");
    assert!(!m.body.r#final, "no Final before the server's package is complete");
    let m = seen[2].msg();
    assert_eq!(code_for(m, "./dmcts/Leaf", "Replace"), "200");
    assert!(m.body.r#final);
    assert_eq!(results(seen[3].msg())[0].2, "hello world");

    let seen = session(&[], Value::Null, large_object(12)).await;
    assert_eq!(code_for(seen[2].msg(), "./dmcts/Leaf", "Replace"), "424");
    assert_eq!(results(seen[3].msg())[0].2, "one", "nothing committed");

    let seen = session(&["dm12-lo-no-213"], Value::Null, large_object(11)).await;
    assert_eq!(code_for(seen[1].msg(), "./dmcts/Leaf", "Replace"), "200");
}

#[tokio::test]
async fn wbxml_sessions_are_wbxml_both_ways() {
    let seen = session(&[], json!({ "encoding": "wbxml" }), commands_then_end(vec![get("./DevInfo/Man")])).await;
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.content_type, MEDIA_WBXML);
        assert_eq!(&s.bytes[..3], &[0x02, 0xA4, 0x01], "WBXML 1.2, public id 0x1201");
    }
    assert_eq!(results(seen[1].msg())[0].2, "dmcts");
    let seen = session(&["dm12-wbxml-string-table-garbage"], json!({ "encoding": "wbxml" }), |_, _| None).await;
    assert_eq!(seen.len(), 1);
    assert!(seen[0].msg.is_none(), "the malformed WBXML does not decode");
    // The XML sessions are not touched by it.
    let seen = session(&["dm12-wbxml-string-table-garbage"], Value::Null, |_, req| {
        Some(answer(req, 1, 212, None, vec![], true))
    })
    .await;
    assert!(seen[0].msg.is_some());
}

#[tokio::test]
async fn message_faults_break_only_their_point() {
    let end = || commands_then_end(vec![get("./dmcts/Leaf")]);
    let seen = session(&["dm12-wrong-verproto"], Value::Null, end()).await;
    assert_eq!(seen[1].msg().hdr.ver_proto, "DM/1.1");
    assert_eq!(statuses(seen[1].msg())[0].3, "200");
    let seen = session(&["dm12-msgid-repeats"], Value::Null, end()).await;
    assert_eq!((seen[0].msg().hdr.msg_id.as_str(), seen[1].msg().hdr.msg_id.as_str()), ("1", "1"));
    let seen = session(&[], Value::Null, end()).await;
    assert_eq!(seen[1].msg().hdr.msg_id, "2");
    assert_eq!(seen[1].msg().hdr.session_id, seen[0].msg().hdr.session_id);
    let seen = session(&["dm12-session-id-changes"], Value::Null, end()).await;
    assert_ne!(seen[1].msg().hdr.session_id, seen[0].msg().hdr.session_id);
    let seen = session(&["dm12-no-final"], Value::Null, end()).await;
    assert!(seen[0].msg().body.r#final && !seen[1].msg().body.r#final);
    let seen = session(&["dm12-no-synchdr-status"], Value::Null, end()).await;
    assert!(header_status(seen[1].msg()).is_none());
    assert_eq!(statuses(seen[1].msg())[0].3, "200");
    let seen = session(&["dm12-duplicate-cmdid"], Value::Null, end()).await;
    let ids: Vec<&str> = seen[0].msg().body.commands.iter().filter_map(|c| c.cmd_id()).collect();
    assert_eq!(ids, ["1", "1"]);
    let seen = session(&["dm12-no-devinfo"], Value::Null, end()).await;
    let Command::Replace(r) = &seen[0].msg().body.commands[1] else { panic!() };
    assert_eq!(r.items.len(), 4);
    let seen = session(&["dm12-wrong-content-type"], Value::Null, end()).await;
    assert_eq!(seen[0].content_type, "application/vnd.syncml+xml");
    let seen = session(&["dm12-initiated-1200"], Value::Null, end()).await;
    assert_eq!(alerts(seen[0].msg())[0].data.as_deref(), Some("1200"));
    let seen = session(&["dm12-talks-after-end"], Value::Null, end()).await;
    assert_eq!(seen.len(), 3, "one message after the end");
    // RespURI: the next message goes there (unless the fault).
    let resp = |n: usize, req: &Message| {
        let mut m = commands_then_end(vec![get("./dmcts/Leaf")])(n, req)?;
        m.hdr.resp_uri = Some(req.hdr.target.loc_uri.replace("/dm", "/dm/next"));
        Some(m)
    };
    let seen = session(&[], Value::Null, resp).await;
    assert_eq!((seen[0].path.as_str(), seen[1].path.as_str()), ("/dm", "/dm/next"));
    assert!(seen[1].msg().hdr.target.loc_uri.ends_with("/dm/next"));
    let seen = session(&["dm12-ignores-respuri"], Value::Null, resp).await;
    assert_eq!(seen[1].path, "/dm");
}

fn package0(session_id: u16, password: &str, nonce: &[u8]) -> String {
    let t = Trigger {
        version: notification::VERSION_1_1,
        ui_mode: UiMode::Background,
        server_initiated: true,
        session_id,
        server_id: "dmcts".into(),
        vendor: vec![],
    };
    base64::engine::general_purpose::STANDARD.encode(notification::encode(&t, password, nonce).unwrap())
}

#[tokio::test]
async fn a_valid_package0_opens_a_notified_session_a_bad_one_none() {
    for (faults, alert_code, sid) in [
        (vec![], "1200", "2A"),
        (vec!["dm12-notified-1201"], "1201", "2A"),
        (vec!["dm12-session-id-decimal"], "1200", "42"),
    ] {
        let server = Server::start(|_, req| Some(answer(req, 1, 212, None, vec![], true))).await;
        let c = client(&server.url, &faults).await;
        let bad = ut(&c, "notification.deliver", json!({ "bytes_b64": package0(0x2A, "wrong", &[0; 4]) })).await;
        assert_eq!(bad.data["accepted"], false);
        idle(&c).await;
        assert!(server.seen().is_empty(), "a bad digest starts no session");
        let good =
            ut(&c, "notification.deliver", json!({ "bytes_b64": package0(0x2A, "server-secret", &[0; 4]) })).await;
        assert_eq!(good.data["accepted"], true, "{good:?}");
        idle(&c).await;
        // Over HTTP as well.
        let bytes = base64::engine::general_purpose::STANDARD.decode(package0(0x2B, "server-secret", &[0; 4])).unwrap();
        let r = reqwest::Client::new()
            .post(&c.notify_url)
            .header("content-type", notification::MEDIA_NOTIFICATION)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        idle(&c).await;
        c.shutdown().await;
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        let m = seen[0].msg();
        assert_eq!((m.hdr.session_id.as_str(), alerts(m)[0].data.as_deref()), (sid, Some(alert_code)));
        assert_eq!(seen[1].msg().hdr.session_id, if sid == "42" { "43" } else { "2B" });
    }
}

#[tokio::test]
async fn server_authentication_when_demanded() {
    let server = Server::start(|n, req| {
        // First answer without Cred (the client must refuse the Get: 407), then with the
        // right Cred over the nonce the client issued.
        let mut m = answer(req, n as u32 + 1, 212, None, vec![get("./dmcts/Leaf")], true);
        if n == 1 {
            let hs = header_status(req).unwrap();
            let nonce = auth::decode_nonce(hs.chal.as_ref().unwrap().meta.next_nonce.as_deref().unwrap()).unwrap();
            m.hdr.cred = Some(dmcts::wire::dm12::Cred {
                meta: Some(Meta { r#type: Some(auth::AUTH_MD5.into()), format: Some("b64".into()), ..Meta::default() }),
                data: Data::Text(auth::md5_cred("dmcts", "server-secret", &nonce)),
            });
        }
        if n >= 2 {
            m = answer(req, n as u32 + 1, 200, None, vec![], true);
        }
        Some(m)
    })
    .await;
    let mut cfg = Dm12ClientConfig::new(&server.url);
    cfg.server_password = Some("server-secret".into());
    let c = spawn(cfg).await.unwrap();
    ut(&c, "session.start", Value::Null).await;
    idle(&c).await;
    c.shutdown().await;
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let hs = header_status(seen[1].msg()).unwrap();
    assert_eq!(hs.data, "407");
    assert!(hs.chal.as_ref().is_some_and(|c| c.meta.next_nonce.is_some()));
    assert_eq!(code_for(seen[1].msg(), "./dmcts/Leaf", "Get"), "407");
    assert!(results(seen[1].msg()).is_empty(), "nothing executed for an unauthenticated server");
    assert_eq!(header_status(seen[2].msg()).unwrap().data, "212");
    assert_eq!(results(seen[2].msg())[0].2, "one");
}

#[test]
fn every_fault_is_named_and_charged() {
    assert!(FAULTS.len() >= 30);
    for f in FAULTS {
        // The protocol's faults break DM12 items; the FUMO/SCOMO MOs' faults their tables'.
        let table = ["dm12", "fumo12", "scomo12"]
            .into_iter()
            .find(|p| f.name.starts_with(&format!("client.{p}-")))
            .unwrap_or_else(|| panic!("{}: client.dm12-, client.fumo12- or client.scomo12-", f.name));
        let item_prefix = table.trim_end_matches("12").to_uppercase();
        let item_prefix = if table == "dm12" { "DM12".to_string() } else { item_prefix };
        assert!(
            f.violates.iter().all(|v| v.starts_with(&format!("{item_prefix}-")) && v.contains("-C-")),
            "{}",
            f.name
        );
        assert!(dmcts::reference::faults::find(f.name).is_some());
    }
}

#[tokio::test]
async fn an_undecodable_answer_or_a_session_abort_ends_the_session_quietly() {
    let seen = session(&[], Value::Null, |_, req| {
        let mut m = answer(req, 1, 212, None, vec![get("./dmcts/Leaf")], true);
        m.hdr.session_id = GARBAGE.into();
        Some(m)
    })
    .await;
    assert_eq!(seen.len(), 1);
    let seen = session(&[], Value::Null, commands_then_end(vec![get("./dmcts/Leaf"), alert("1223", &[])])).await;
    assert_eq!(seen.len(), 1, "no answer to a Session Abort");
    // A Next Message response to a complete package: nothing more to send.
    let seen = session(&[], Value::Null, |n, req| {
        Some(match n {
            0 => answer(req, 1, 212, None, vec![alert("1222", &[])], false),
            _ => answer(req, 2, 200, None, vec![], true),
        })
    })
    .await;
    assert_eq!(seen.len(), 1);
}

#[tokio::test]
async fn a_package_larger_than_the_servers_max_msg_size_is_split_over_next_message_responses() {
    const MAX: usize = 1500;
    let seen = session(&[], Value::Null, |n, req| {
        let mut m = if n == 0 {
            answer(req, 1, 212, None, (0..8).map(|_| get("./DevInfo/DevId")).collect(), true)
        } else if !req.body.r#final {
            answer(req, n as u32 + 1, 200, None, vec![alert("1222", &[])], false)
        } else {
            answer(req, n as u32 + 1, 200, None, vec![], true)
        };
        m.hdr.meta = Some(Meta { max_msg_size: Some(MAX.to_string()), ..Meta::default() });
        Some(m)
    })
    .await;
    assert!(seen.len() >= 3, "Package#3 in several messages: {}", seen.len());
    let parts = &seen[1..];
    for (i, s) in parts.iter().enumerate() {
        assert!(s.bytes.len() <= MAX, "message {i}: {} bytes", s.bytes.len());
        assert_eq!(s.msg().body.r#final, i == parts.len() - 1, "Final only in the last message");
        assert!(header_status(s.msg()).is_some());
    }
    let gets: usize = parts.iter().map(|s| statuses(s.msg()).iter().filter(|x| x.0 == "Get").count()).sum();
    let res: usize = parts.iter().map(|s| results(s.msg()).len()).sum();
    assert_eq!((gets, res), (8, 8));
    let ids: Vec<&str> = seen.iter().map(|s| s.msg().hdr.msg_id.as_str()).collect();
    assert_eq!(ids, (1..=seen.len()).map(|i| i.to_string()).collect::<Vec<_>>());
}

// ---- FUMO and SCOMO (issue 11 item 5) ----

/// A download server on 127.0.0.1 serving `body` at `/pkg`; counts the GETs.
async fn download_server(body: &'static str) -> (String, Arc<Mutex<usize>>, tokio::task::JoinHandle<()>) {
    let hits: Arc<Mutex<usize>> = Arc::default();
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/pkg",
        axum::routing::get(move || {
            let h = h.clone();
            async move {
                *h.lock().unwrap() += 1;
                body
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/pkg", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, hits, task)
}

fn exec(uri: &str, correlator: &str) -> Command {
    Command::Exec(Exec { correlator: Some(correlator.into()), items: vec![item_to(uri)], ..Exec::default() })
}

/// The first Generic Alert Item of a message, with its Alert's Correlator.
fn result_of(m: &Message) -> (Option<String>, Item) {
    let a = alerts(m).into_iter().find(|a| a.data.as_deref() == Some("1226")).expect("a Generic Alert");
    (a.correlator.clone(), a.items[0].clone())
}

#[tokio::test]
async fn a_fumo_download_and_update_is_accepted_202_fetched_applied_and_reported() {
    let (url, hits, dl) = download_server("dmcts firmware").await;
    let commands = vec![replace("./FUMO/DownloadAndUpdate/PkgURL", &url), exec("./FUMO/DownloadAndUpdate", "fw-1")];
    let seen = session(&[], Value::Null, commands_then_end(commands.clone())).await;
    assert_eq!(seen.len(), 3, "Package#1, Package#3, the result session: {seen:?}");
    assert_eq!(code_for(seen[1].msg(), "./FUMO/DownloadAndUpdate/PkgURL", "Replace"), "200");
    assert_eq!(code_for(seen[1].msg(), "./FUMO/DownloadAndUpdate", "Exec"), "202");
    assert_eq!(*hits.lock().unwrap(), 1, "the package is fetched once");
    let (corr, item) = result_of(seen[2].msg());
    assert_eq!(corr.as_deref(), Some("fw-1"));
    assert_eq!(item.source.unwrap().loc_uri, "./FUMO/DownloadAndUpdate");
    let meta = item.meta.unwrap();
    assert_eq!(meta.r#type.as_deref(), Some("org.openmobilealliance.dm.firmwareupdate.downloadandupdate"));
    assert_eq!(meta.format.as_deref(), Some("int"));
    assert_eq!(item.data.unwrap().text(), Some("200"));

    // Each fault changes its own point only.
    let seen = session(&["fumo12-no-202"], Value::Null, commands_then_end(commands.clone())).await;
    assert_eq!(code_for(seen[1].msg(), "./FUMO/DownloadAndUpdate", "Exec"), "200");
    let seen = session(&["fumo12-alert-wrong-type"], Value::Null, commands_then_end(commands.clone())).await;
    let (_, item) = result_of(seen[2].msg());
    assert_eq!(item.meta.unwrap().r#type.as_deref(), Some("org.openmobilealliance.dm.firmwareupdate.devicerequest"));
    let seen = session(&["fumo12-result-not-integer"], Value::Null, commands_then_end(commands.clone())).await;
    assert_eq!(result_of(seen[2].msg()).1.data.unwrap().text(), Some("success"));
    let seen = session(&["fumo12-no-result-alert"], Value::Null, commands_then_end(commands)).await;
    assert_eq!(seen.len(), 2, "no result session: {seen:?}");
    dl.abort();
}

#[tokio::test]
async fn a_fumo_pkgdata_large_object_sets_state_50_and_a_bad_url_is_reported_as_a_failure() {
    // PkgData in two chunks (213, then 200), then a Get of State.
    let first = Command::Replace(ItemCommand {
        meta: Some(Meta { size: Some("6".into()), ..Meta::default() }),
        items: vec![Item { more_data: true, ..item_data("./FUMO/Update/PkgData", "abc") }],
        ..ItemCommand::default()
    });
    let seen = session(&[], Value::Null, move |n, req| {
        Some(match n {
            0 => answer(req, 1, 212, None, vec![first.clone()], false),
            1 => answer(req, 2, 200, None, vec![replace("./FUMO/Update/PkgData", "def")], true),
            2 => answer(req, 3, 200, None, vec![get("./FUMO/State")], true),
            _ => answer(req, n as u32 + 1, 200, None, vec![], true),
        })
    })
    .await;
    assert_eq!(code_for(seen[1].msg(), "./FUMO/Update/PkgData", "Replace"), "213");
    assert_eq!(code_for(seen[2].msg(), "./FUMO/Update/PkgData", "Replace"), "200");
    assert_eq!(results(seen[3].msg())[0].2, "50");
    // An empty PkgURL: 202, then ResultCode 411 (bad URL), Mark critical.
    let seen = session(&[], Value::Null, commands_then_end(vec![exec("./FUMO/DownloadAndUpdate", "fw-2")])).await;
    let (_, item) = result_of(seen[2].msg());
    assert_eq!(item.data.unwrap().text(), Some("411"));
    assert_eq!(item.meta.unwrap().mark.as_deref(), Some("critical"));
}

#[tokio::test]
async fn a_scomo_install_deploys_the_component_and_reports_operation_complete() {
    let dp = "./SCOMO/Inventory/Delivered/p1";
    let commands = vec![
        Command::Add(ItemCommand {
            items: vec![Item { meta: Some(Meta { format: Some("node".into()), ..Meta::default() }), ..item_to(dp) }],
            ..ItemCommand::default()
        }),
        add(&format!("{dp}/PkgID"), "com.example.p1"),
        add(&format!("{dp}/Data"), "package bytes"),
        get(&format!("{dp}/State")),
        exec(&format!("{dp}/Operations/Install"), "sw-1"),
    ];
    let seen = session(&[], Value::Null, commands_then_end(commands)).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(results(seen[1].msg())[0].2, "10", "Delivered");
    assert_eq!(code_for(seen[1].msg(), &format!("{dp}/Operations/Install"), "Exec"), "202");
    let (corr, item) = result_of(seen[2].msg());
    assert_eq!(corr.as_deref(), Some("sw-1"));
    assert_eq!(item.source.unwrap().loc_uri, format!("{dp}/Operations/Install"));
    assert_eq!(item.target.unwrap().loc_uri, "./SCOMO/Inventory/Deployed/p1");
    assert_eq!(item.meta.unwrap().r#type.as_deref(), Some("urn:oma:at:scomo:1.0:OperationComplete"));
    let data = item.data.unwrap().text().unwrap().to_string();
    assert!(data.contains("<ResultCode>1200</ResultCode>") && data.contains("com.example.p1"), "{data}");
}
