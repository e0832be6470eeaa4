//! The reference SyncML DM 1.2 server over real sockets on 127.0.0.1, with a tiny DM 1.2
//! client written here (wire::dm12 + reqwest) playing the device.
use base64::Engine;
use dmcts::reference::dm12::server::{spawn, Dm12ServerConfig, RunningDm12Server};
use dmcts::upper_tester::{UtAnswer, UtStatus};
use dmcts::wire::dm12::auth::{self, AUTH_MD5};
use dmcts::wire::dm12::notification::Notification;
use dmcts::wire::dm12::{
    Alert, Chal, Command, Cred, Data, Item, ItemCommand, LocRef, Message, Meta, Results, Status, SyncBody, SyncHdr,
    MEDIA_WBXML, MEDIA_XML,
};
use serde_json::{json, Value};
use std::time::Duration;

const DEV: &str = "IMEI:359881000000012";
const USER: &str = "dmcts-client";
const PASSWORD: &str = "client-secret";

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap()
}

async fn start(faults: &[&str]) -> RunningDm12Server {
    let mut c = Dm12ServerConfig::new();
    c.faults = faults.iter().map(|s| format!("server.dm12-{s}")).collect();
    spawn(c).await.unwrap()
}

async fn ut(srv: &RunningDm12Server, action: &str, args: Value) -> UtAnswer {
    let r = http()
        .post(&srv.ut_url)
        .json(&json!({ "action": action, "case": "test", "step": 1, "args": args }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn ut_done(srv: &RunningDm12Server, action: &str, args: Value) -> Value {
    let a = ut(srv, action, args).await;
    assert_eq!(a.status, UtStatus::Done, "{action}: {}", a.message);
    a.data
}

async fn register(srv: &RunningDm12Server) {
    let d = ut_done(
        srv,
        "device.register",
        json!({ "dev_id": DEV, "credentials": { "username": USER, "password": PASSWORD } }),
    )
    .await;
    assert_eq!(d["dev_id"], DEV);
}

async fn enqueue(srv: &RunningDm12Server, commands: Value) {
    ut_done(srv, "commands.enqueue", json!({ "dev_id": DEV, "commands": commands })).await;
}

async fn report(srv: &RunningDm12Server) -> Value {
    ut_done(srv, "device.report", json!({ "dev_id": DEV })).await
}

/// The device side of one session.
struct Device {
    url: String,
    session_id: String,
    msg_id: u32,
    wbxml: bool,
    /// The last NextNonce the server issued (decoded).
    nonce: Option<Vec<u8>>,
    /// The MsgID of the last server message and its Target/Source (for the SyncHdr Status).
    last_server: Option<(String, String, String)>,
}

impl Device {
    fn new(srv: &RunningDm12Server, session_id: &str) -> Device {
        Device {
            url: srv.dm_url.clone(),
            session_id: session_id.into(),
            msg_id: 0,
            wbxml: false,
            nonce: None,
            last_server: None,
        }
    }

    /// A message with `commands` after the Status for the server's last SyncHdr (when there
    /// was one); `cred`: an md5 Cred with the last nonce.
    fn message(&mut self, commands: Vec<Command>, r#final: bool, cred: bool) -> Message {
        self.msg_id += 1;
        let mut body = Vec::new();
        if let Some((msg, target, source)) = &self.last_server {
            body.push(Command::Status(Status {
                cmd_id: "1".into(),
                msg_ref: msg.clone(),
                cmd_ref: "0".into(),
                cmd: "SyncHdr".into(),
                target_refs: vec![target.clone()],
                source_refs: vec![source.clone()],
                data: "200".into(),
                ..Status::default()
            }));
        }
        body.extend(commands);
        let cred = cred.then(|| Cred {
            meta: Some(Meta { r#type: Some(AUTH_MD5.into()), format: Some("b64".into()), ..Meta::default() }),
            data: Data::Text(auth::md5_cred(USER, PASSWORD, self.nonce.as_deref().unwrap_or_default())),
        });
        Message {
            hdr: SyncHdr {
                ver_dtd: "1.2".into(),
                ver_proto: "DM/1.2".into(),
                session_id: self.session_id.clone(),
                msg_id: self.msg_id.to_string(),
                target: LocRef::uri(&self.url),
                source: LocRef { loc_uri: DEV.into(), loc_name: Some(USER.into()) },
                cred,
                ..SyncHdr::default()
            },
            body: SyncBody { commands: body, r#final },
        }
    }

    /// POSTs `m`, checks the HTTP envelope, decodes the answer, follows its RespURI and
    /// remembers its NextNonce.
    async fn send(&mut self, m: &Message) -> Message {
        let (ct, body) = if self.wbxml {
            (MEDIA_WBXML, m.to_wbxml().unwrap())
        } else {
            (MEDIA_XML, m.to_xml(false).unwrap().into_bytes())
        };
        let r = http().post(&self.url).header("content-type", ct).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let rct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(rct, ct, "answered in the request's encoding");
        let bytes = r.bytes().await.unwrap();
        let a = dmcts::wire::dm12::decode(&bytes, &rct).unwrap();
        assert_eq!((a.hdr.ver_dtd.as_str(), a.hdr.ver_proto.as_str()), ("1.2", "DM/1.2"));
        assert_eq!(a.hdr.target.loc_uri, DEV);
        if let Some(n) = hdr_status(&a).and_then(|s| s.chal.as_ref()).and_then(|c| c.meta.next_nonce.as_deref()) {
            self.nonce = Some(auth::decode_nonce(n).expect("NextNonce is base64"));
        }
        if let Some(u) = &a.hdr.resp_uri {
            self.url = u.clone();
        }
        self.last_server = Some((a.hdr.msg_id.clone(), a.hdr.target.loc_uri.clone(), a.hdr.source.loc_uri.clone()));
        a
    }

    /// Package#1 (Alert 1201 + DevInfo, `extra` after them) through the 407 challenge; answers
    /// the server's Package#2.
    async fn authenticated_package1(&mut self, extra: Vec<Command>) -> Message {
        let m = self.message(package1(extra.clone()), true, false);
        let a = self.send(&m).await;
        assert_eq!(hdr_status(&a).unwrap().data, "407");
        let m = self.message(package1(extra), true, true);
        let a = self.send(&m).await;
        assert_eq!(hdr_status(&a).unwrap().data, "212");
        a
    }
}

fn alert(cmd_id: &str, code: &str) -> Command {
    Command::Alert(Alert { cmd_id: cmd_id.into(), data: Some(code.into()), ..Alert::default() })
}

fn package1(extra: Vec<Command>) -> Vec<Command> {
    let item = |node: &str, v: &str| Item {
        source: Some(LocRef::uri(format!("./DevInfo/{node}"))),
        data: Some(Data::from(v)),
        ..Item::default()
    };
    let mut out = vec![
        alert("2", "1201"),
        Command::Replace(ItemCommand {
            cmd_id: "3".into(),
            items: vec![
                item("DevId", DEV),
                item("Man", "dmcts"),
                item("Mod", "EX-100"),
                item("DmV", "1.2"),
                item("Lang", "en"),
            ],
            ..ItemCommand::default()
        }),
    ];
    out.extend(extra);
    out
}

fn hdr_status(m: &Message) -> Option<&Status> {
    m.body.commands.iter().find_map(|c| match c {
        Command::Status(s) if s.cmd == "SyncHdr" => Some(s),
        _ => None,
    })
}

fn statuses(m: &Message) -> Vec<(String, String, String)> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(s) => Some((s.cmd.clone(), s.cmd_ref.clone(), s.data.clone())),
            _ => None,
        })
        .collect()
}

/// The commands that are not Statuses.
fn commands(m: &Message) -> Vec<&Command> {
    m.body.commands.iter().filter(|c| !matches!(c, Command::Status(_))).collect()
}

fn status_for(msg_ref: &str, c: &Command, code: &str) -> Command {
    Command::Status(Status {
        cmd_id: "9".into(),
        msg_ref: msg_ref.into(),
        cmd_ref: c.cmd_id().unwrap().into(),
        cmd: c.name().into(),
        data: code.into(),
        ..Status::default()
    })
}

fn first_item(c: &Command) -> &Item {
    match c {
        Command::Add(x) | Command::Replace(x) | Command::Get(x) | Command::Delete(x) | Command::Copy(x) => &x.items[0],
        _ => panic!("not an item command: {c:?}"),
    }
}

#[tokio::test]
async fn md5_session_through_the_challenge_delivers_the_queue_and_ends() {
    let srv = start(&[]).await;
    register(&srv).await;
    enqueue(
        &srv,
        json!([
            ["Get", "./DevInfo/Mod"],
            ["Replace", "./A/B", "x"],
            ["Add", "./A"],
            ["Add", "./A/C", "eA==", "b64", "application/octet-stream"],
            ["Atomic", "2"],
            ["Add", "./X/1", "a"],
            ["Delete", "./X/2"],
            ["Alert", "1101", "MINDT=10", "Install?"],
            ["Exec", "./F/Update", "", "corr-1"]
        ]),
    )
    .await;
    let mut d = Device::new(&srv, "1A");

    // Package#1 without Cred: 407 + Chal, Statuses only, Final.
    let m = d.message(package1(vec![]), true, false);
    let a = d.send(&m).await;
    assert_eq!((a.hdr.session_id.as_str(), a.hdr.msg_id.as_str()), ("1A", "1"));
    assert_eq!(a.hdr.source.loc_uri, srv.dm_url);
    let h = hdr_status(&a).unwrap();
    assert_eq!((h.cmd_id.as_str(), h.msg_ref.as_str(), h.cmd_ref.as_str()), ("1", "1", "0"));
    assert_eq!((h.target_refs.clone(), h.source_refs.clone()), (vec![srv.dm_url.clone()], vec![DEV.to_string()]));
    let chal = &h.chal.as_ref().expect("Chal with the 407").meta;
    assert_eq!((chal.r#type.as_deref(), chal.format.as_deref()), (Some(AUTH_MD5), Some("b64")));
    let n1 = d.nonce.clone().unwrap();
    assert_eq!(n1.len(), 16);
    assert_eq!(
        statuses(&a),
        [("SyncHdr", "0", "407"), ("Alert", "2", "407"), ("Replace", "3", "407")].map(|(a, b, c)| (
            a.to_string(),
            b.to_string(),
            c.to_string()
        ))
    );
    assert!(commands(&a).is_empty() && a.body.r#final);
    let resp_uri = a.hdr.resp_uri.clone().unwrap();
    assert!(resp_uri.starts_with(&format!("{}?s=", srv.dm_url)), "{resp_uri}");

    // Package#1 again with the md5 Cred: 212 + a new NextNonce, then every queued command.
    let m = d.message(package1(vec![]), true, true);
    let a = d.send(&m).await;
    assert_eq!(a.hdr.msg_id, "2");
    let h = hdr_status(&a).unwrap();
    assert_eq!((h.data.as_str(), h.msg_ref.as_str()), ("212", "2"));
    assert_ne!(d.nonce.as_ref().unwrap(), &n1, "a new NextNonce for the next session");
    let s = statuses(&a);
    assert_eq!(
        s[1..].to_vec(),
        [("Alert", "2", "200"), ("Replace", "3", "200")].map(|(a, b, c)| (a.into(), b.into(), c.into()))
    );
    let cmds = commands(&a);
    let names: Vec<&str> = cmds.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["Get", "Replace", "Add", "Add", "Atomic", "Alert", "Exec"]);
    assert!(a.body.r#final);
    let mut ids: Vec<String> = a.body.commands.iter().filter_map(|c| c.cmd_id().map(String::from)).collect();
    if let Command::Atomic(c) = cmds[4] {
        assert_eq!(c.commands.len(), 2);
        ids.extend(c.commands.iter().filter_map(|c| c.cmd_id().map(String::from)));
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "CmdIDs unique in the message: {ids:?}");
    assert_eq!(first_item(cmds[0]).target.as_ref().unwrap().loc_uri, "./DevInfo/Mod");
    assert_eq!(first_item(cmds[2]).meta.as_ref().unwrap().format.as_deref(), Some("node"));
    assert!(first_item(cmds[2]).data.is_none());
    let b64 = first_item(cmds[3]).meta.as_ref().unwrap();
    assert_eq!((b64.format.as_deref(), b64.r#type.as_deref()), (Some("b64"), Some("application/octet-stream")));
    assert!(first_item(cmds[1]).meta.is_none(), "chr Replace needs no Meta");
    let Command::Exec(e) = cmds[6] else { panic!() };
    assert_eq!(e.correlator.as_deref(), Some("corr-1"));
    let Command::Alert(al) = cmds[5] else { panic!() };
    assert_eq!(al.items.len(), 2);

    // Package#3: statuses and the Results of the Get; the server ends with Statuses only.
    let mut answer: Vec<Command> = cmds.iter().map(|c| status_for("2", c, "200")).collect();
    answer.insert(
        1,
        Command::Results(Results {
            cmd_id: "20".into(),
            msg_ref: Some("2".into()),
            cmd_ref: cmds[0].cmd_id().unwrap().into(),
            items: vec![Item {
                source: Some(LocRef::uri("./DevInfo/Mod")),
                meta: Some(Meta { format: Some("chr".into()), ..Meta::default() }),
                data: Some(Data::from("EX-100")),
                ..Item::default()
            }],
            ..Results::default()
        }),
    );
    for (k, c) in answer.iter_mut().enumerate() {
        if let Command::Status(s) = c {
            s.cmd_id = (k + 2).to_string();
        }
    }
    let m = d.message(answer, true, false);
    let a = d.send(&m).await;
    assert_eq!(a.hdr.msg_id, "3");
    assert_eq!(
        statuses(&a),
        vec![("SyncHdr".into(), "0".into(), "200".into())],
        "no Status for a Results that is fine"
    );
    assert!(commands(&a).is_empty() && a.body.r#final);
    ut_done(&srv, "idle", json!({})).await;

    let r = report(&srv).await;
    assert_eq!(r["sessions"], 1);
    assert_eq!(r["statuses"], json!([[], [200], [200, 200, 200, 200, 200, 200, 200, 200]]));
    assert_eq!(r["results"], json!([{"source": "./DevInfo/Mod", "data": "EX-100", "format": "chr"}]));
    assert_eq!(r["devinfo"]["./DevInfo/Mod"], "EX-100");

    // The next session starts with the NextNonce of the 212: accepted at once.
    let mut d2 = Device::new(&srv, "1B");
    d2.nonce = d.nonce.clone();
    let m = d2.message(package1(vec![]), true, true);
    let a = d2.send(&m).await;
    assert_eq!(hdr_status(&a).unwrap().data, "212");
    assert!(commands(&a).is_empty() && a.body.r#final);
    // A stale nonce (the one just used) in a third session: 401 + a fresh challenge.
    let mut d3 = Device::new(&srv, "1C");
    d3.nonce = d2.nonce.clone().map(|mut n| {
        n[0] ^= 1;
        n
    });
    let m = d3.message(package1(vec![]), true, true);
    let a = d3.send(&m).await;
    assert_eq!(hdr_status(&a).unwrap().data, "401");
    assert!(hdr_status(&a).unwrap().chal.is_some());
    assert_eq!(statuses(&a).len(), 3);
    let m = d3.message(package1(vec![]), true, true);
    assert_eq!(hdr_status(&d3.send(&m).await).unwrap().data, "212", "the retry with the fresh nonce is accepted");
    assert_eq!(report(&srv).await["sessions"], 3);
    srv.shutdown().await;
}

#[tokio::test]
async fn wbxml_session_is_answered_in_wbxml_and_unregistered_devices_get_no_commands() {
    let srv = start(&[]).await;
    register(&srv).await;
    enqueue(&srv, json!([["Get", "./DevDetail/FwV"]])).await;
    let mut d = Device::new(&srv, "2");
    d.wbxml = true;
    let a = d.authenticated_package1(vec![]).await;
    assert_eq!(commands(&a).len(), 1);
    // An unknown device: 407 without Cred, 401 with one, never commands.
    let other = |cred: bool| {
        let mut m = Device::new(&srv, "3").message(package1(vec![]), true, cred);
        m.hdr.source.loc_uri = "IMEI:000".into();
        m
    };
    for (cred, code) in [(false, "407"), (true, "401")] {
        let r = http()
            .post(&srv.dm_url)
            .header("content-type", MEDIA_XML)
            .body(other(cred).to_xml(false).unwrap())
            .send()
            .await
            .unwrap();
        let a = Message::from_xml(&r.text().await.unwrap()).unwrap();
        assert_eq!(hdr_status(&a).unwrap().data, code);
        assert!(commands(&a).is_empty());
    }
    // Garbage: HTTP 400, no panic; the server goes on.
    let r = http()
        .post(&srv.dm_url)
        .header("content-type", MEDIA_WBXML)
        .body(vec![3, 1, 0x6a, 0, 0x45])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    srv.shutdown().await;

    // The fault: a WBXML request answered in XML.
    let srv = start(&["answers-xml-to-wbxml"]).await;
    register(&srv).await;
    let m = Device::new(&srv, "2").message(package1(vec![]), true, false);
    let r =
        http().post(&srv.dm_url).header("content-type", MEDIA_WBXML).body(m.to_wbxml().unwrap()).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], MEDIA_XML);
    srv.shutdown().await;
}

#[tokio::test]
async fn multi_message_packages_and_large_results_get_1222() {
    let srv = start(&[]).await;
    register(&srv).await;
    enqueue(&srv, json!([["Get", "./Big"], ["Get", "./Big2"]])).await;
    let mut d = Device::new(&srv, "4");
    let a = d.authenticated_package1(vec![]).await;
    let cmds: Vec<Command> = commands(&a).into_iter().cloned().collect();
    let chunk = |cmd: &Command, data: &str, size: Option<&str>, more: bool| {
        Command::Results(Results {
            cmd_id: "5".into(),
            msg_ref: Some("2".into()),
            cmd_ref: cmd.cmd_id().unwrap().into(),
            items: vec![Item {
                source: Some(LocRef::uri(&first_item(cmd).target.as_ref().unwrap().loc_uri)),
                meta: size.map(|s| Meta { size: Some(s.into()), ..Meta::default() }),
                data: Some(Data::from(data)),
                more_data: more,
                target: None,
            }],
            ..Results::default()
        })
    };
    // Message 1 of Package#3: a first chunk, no Final → SyncHdr Status, 213, Alert 1222, no Final.
    let m = d.message(vec![status_for("2", &cmds[0], "200"), chunk(&cmds[0], "abc", Some("6"), true)], false, false);
    let a = d.send(&m).await;
    let s = statuses(&a);
    assert_eq!((s.len(), s[0].2.as_str(), s[1].0.as_str(), s[1].2.as_str()), (2, "200", "Results", "213"));
    let c = commands(&a);
    assert!(matches!(c.as_slice(), [Command::Alert(x)] if x.data.as_deref() == Some("1222")), "{c:?}");
    assert!(!a.body.r#final);
    // Message 2: the last chunk, a second object with a wrong Size, Final → 424 for it, then the end.
    let m = d.message(
        vec![
            chunk(&cmds[0], "def", None, false),
            status_for("2", &cmds[1], "200"),
            chunk(&cmds[1], "x", Some("9"), true),
        ],
        false,
        false,
    );
    let a = d.send(&m).await;
    assert!(!a.body.r#final);
    let m = d.message(vec![chunk(&cmds[1], "y", None, false)], true, false);
    let a = d.send(&m).await;
    let s = statuses(&a);
    assert_eq!((s.len(), s[1].0.as_str(), s[1].2.as_str()), (2, "Results", "424"));
    assert!(commands(&a).is_empty() && a.body.r#final);
    assert_eq!(report(&srv).await["results"], json!([{"source": "./Big", "data": "abcdef", "format": null}]));
    srv.shutdown().await;
}

#[tokio::test]
async fn generic_alert_200_unknown_alert_406_abort_and_client_challenge() {
    let srv = start(&[]).await;
    ut_done(
        &srv,
        "device.register",
        json!({ "dev_id": DEV, "credentials": { "username": USER, "password": PASSWORD },
                "server_credentials": { "password": "server-secret" } }),
    )
    .await;
    enqueue(&srv, json!([["Get", "./A"]])).await;
    let generic = Command::Alert(Alert {
        cmd_id: "4".into(),
        data: Some("1226".into()),
        correlator: Some("corr-9".into()),
        items: vec![Item {
            source: Some(LocRef::uri("./FUMO/fw/DownloadAndUpdate")),
            meta: Some(Meta {
                r#type: Some("org.openmobilealliance.dm.firmwareupdate.downloadandupdate".into()),
                format: Some("int".into()),
                ..Meta::default()
            }),
            data: Some(Data::from("200")),
            ..Item::default()
        }],
        ..Alert::default()
    });
    let mut d = Device::new(&srv, "5");
    let a = d.authenticated_package1(vec![generic, alert("5", "1299")]).await;
    let s = statuses(&a);
    assert_eq!(
        s[3..5].to_vec(),
        [("Alert", "4", "200"), ("Alert", "5", "406")].map(|(a, b, c)| (a.into(), b.into(), c.into()))
    );
    assert_eq!(a.hdr.cred, None, "no server Cred unasked without a client nonce");
    let get = commands(&a)[0].clone();
    // The client challenges the server and refuses the Get: the server authenticates with the
    // client's nonce and sends the Get again.
    let mut m = d.message(vec![status_for("2", &get, "407")], true, false);
    if let Command::Status(h) = &mut m.body.commands[0] {
        h.data = "407".into();
        h.chal = Some(Chal {
            meta: Meta {
                r#type: Some(AUTH_MD5.into()),
                format: Some("b64".into()),
                next_nonce: Some(auth::encode_nonce(b"cli-nonce")),
                ..Meta::default()
            },
        });
    }
    let a = d.send(&m).await;
    let cred = a.hdr.cred.as_ref().expect("the server's Cred after the challenge");
    assert_eq!(cred.meta.as_ref().unwrap().r#type.as_deref(), Some(AUTH_MD5));
    assert_eq!(cred.data.text().unwrap(), auth::md5_cred("dmcts", "server-secret", b"cli-nonce"));
    assert_eq!(commands(&a).iter().map(|c| c.name()).collect::<Vec<_>>(), ["Get"]);
    // Session Abort: Statuses, no command, the session is over.
    let m = d.message(vec![alert("3", "1223")], true, false);
    let a = d.send(&m).await;
    assert_eq!(statuses(&a).last().unwrap().2, "200");
    assert!(commands(&a).is_empty() && a.body.r#final);
    ut_done(&srv, "idle", json!({})).await;
    let r = report(&srv).await;
    assert_eq!(r["alerts"][0]["code"], "1226");
    assert_eq!(r["alerts"][0]["correlator"], "corr-9");
    assert_eq!(r["alerts"][0]["source"], "./FUMO/fw/DownloadAndUpdate");
    assert_eq!(r["alerts"][0]["data"], "200");

    // Package#0: digest with the server password and the last nonce the client issued.
    let n = ut_done(&srv, "notification.send", json!({ "dev_id": DEV, "session_id": 42 })).await;
    let bytes = base64::engine::general_purpose::STANDARD.decode(n["bytes_b64"].as_str().unwrap()).unwrap();
    let p0 = Notification::decode(&bytes).unwrap();
    assert_eq!(
        (p0.version, p0.session_id, p0.server_id.as_str(), p0.session_id_text()),
        (11, 42, "dmcts", "2A".into())
    );
    assert!(p0.verifies(&bytes, "server-secret", b"cli-nonce"));
    assert_eq!(ut(&srv, "session.start", json!({})).await.status, UtStatus::Unsupported);
    srv.shutdown().await;
}

#[tokio::test]
async fn faults_change_only_their_point() {
    // no-auth-required: no Cred, yet 200 and the commands.
    let srv = start(&["no-auth-required"]).await;
    register(&srv).await;
    enqueue(&srv, json!([["Get", "./A"]])).await;
    let mut d = Device::new(&srv, "6");
    let m = d.message(package1(vec![]), true, false);
    let a = d.send(&m).await;
    assert_eq!(hdr_status(&a).unwrap().data, "200");
    assert_eq!(commands(&a).len(), 1);
    srv.shutdown().await;

    // no-final + msgid-repeats + generic-alert-406, each on its point only.
    let srv = start(&["no-final", "msgid-repeats", "generic-alert-406"]).await;
    register(&srv).await;
    enqueue(&srv, json!([["Get", "./A"]])).await;
    let mut d = Device::new(&srv, "7");
    let a = d.authenticated_package1(vec![alert("4", "1226")]).await;
    assert!(!a.body.r#final, "no Final with commands");
    assert_eq!(a.hdr.msg_id, "1");
    assert_eq!(statuses(&a)[3].2, "406");
    let get = commands(&a)[0].clone();
    let m = d.message(vec![status_for("1", &get, "200")], true, false);
    let a = d.send(&m).await;
    assert!(a.body.r#final, "the Statuses-only end keeps its Final");
    srv.shutdown().await;

    // never-ends: Gets of ./DevInfo/DevId, at most 10.
    let srv = start(&["never-ends"]).await;
    register(&srv).await;
    let mut d = Device::new(&srv, "8");
    let mut a = d.authenticated_package1(vec![]).await;
    let mut gets = 0;
    while let Some(c) = commands(&a).first().map(|c| (*c).clone()) {
        assert_eq!(first_item(&c).target.as_ref().unwrap().loc_uri, "./DevInfo/DevId");
        gets += 1;
        let m = d.message(vec![status_for(&a.hdr.msg_id, &c, "200")], true, false);
        a = d.send(&m).await;
    }
    assert_eq!(gets, 10);
    srv.shutdown().await;

    // drops-last-command + no-format-meta: the Get never goes out, the interior Add has no Format.
    let srv = start(&["drops-last-command", "no-format-meta"]).await;
    register(&srv).await;
    enqueue(&srv, json!([["Add", "./N"], ["Get", "./A"]])).await;
    let a = Device::new(&srv, "9").authenticated_package1(vec![]).await;
    let c = commands(&a);
    assert_eq!(c.iter().map(|c| c.name()).collect::<Vec<_>>(), ["Add"]);
    assert_eq!(first_item(c[0]).meta, None);
    srv.shutdown().await;

    // status-no-cmdref: only the SyncHdr Status keeps its CmdRef.
    let srv = start(&["status-no-cmdref"]).await;
    register(&srv).await;
    let mut d = Device::new(&srv, "A");
    let m = d.message(package1(vec![]), true, false);
    let r = http().post(&d.url).header("content-type", MEDIA_XML).body(m.to_xml(false).unwrap()).send().await.unwrap();
    let xml = r.text().await.unwrap();
    assert_eq!((xml.matches("<Status>").count(), xml.matches("<CmdRef>").count()), (3, 1), "{xml}");
    srv.shutdown().await;
}

#[tokio::test]
async fn large_object_chunks_go_out_in_consecutive_messages() {
    let srv = start(&[]).await;
    register(&srv).await;
    enqueue(
        &srv,
        json!([
            ["Replace", "./F/PkgData", "AAAA", "b64", "application/octet-stream", "size=8", "more"],
            ["Replace", "./F/PkgData", "BBBB", "b64", "application/octet-stream"],
            ["Get", "./X"]
        ]),
    )
    .await;
    let mut d = Device::new(&srv, "B");
    let a = d.authenticated_package1(vec![]).await;
    let c = commands(&a);
    assert_eq!(c.len(), 1);
    let first = first_item(c[0]);
    assert!(first.more_data && !a.body.r#final);
    assert_eq!(first.meta.as_ref().unwrap().size.as_deref(), Some("8"));
    // 213 + Alert 1222, no Final: the next chunk, then the rest, Final.
    let m = d.message(vec![status_for(&a.hdr.msg_id, c[0], "213"), alert("3", "1222")], false, false);
    let a = d.send(&m).await;
    assert_eq!(statuses(&a)[1], ("Alert".into(), "3".into(), "200".into()));
    let c = commands(&a);
    assert_eq!(c.iter().map(|c| c.name()).collect::<Vec<_>>(), ["Replace", "Get"]);
    let last = first_item(c[0]);
    assert!(!last.more_data && last.meta.as_ref().unwrap().size.is_none() && a.body.r#final);
    srv.shutdown().await;
}

/// One session as a lenient device (no assertion on the answers), through every point a
/// server fault can break: Package#1 without Cred, with a wrong Cred, with the right one plus a
/// Generic Alert and an unknown alert; then a two-message Package#3 (a Results chunk, the
/// client challenging the server) while one more command is queued; then its statuses.
async fn standard_run(faults: &[&str]) -> Vec<(String, Message)> {
    let srv = start(faults).await;
    register(&srv).await;
    enqueue(
        &srv,
        json!([["Add", "./N"], ["Replace", "./B", "eA==", "b64", "application/octet-stream"], ["Get", "./A"]]),
    )
    .await;
    let mut d = Device::new(&srv, "S");
    d.wbxml = true;
    let mut out: Vec<(String, Message)> = Vec::new();
    async fn send(d: &mut Device, m: &Message, out: &mut Vec<(String, Message)>) {
        let r =
            http().post(&d.url).header("content-type", MEDIA_WBXML).body(m.to_wbxml().unwrap()).send().await.unwrap();
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        let a = dmcts::wire::dm12::decode(&r.bytes().await.unwrap(), &ct).unwrap();
        if let Some(n) = hdr_status(&a).and_then(|s| s.chal.as_ref()).and_then(|c| c.meta.next_nonce.as_deref()) {
            d.nonce = Some(auth::decode_nonce(n).unwrap_or(n.as_bytes().to_vec()));
        }
        d.last_server = Some((a.hdr.msg_id.clone(), a.hdr.target.loc_uri.clone(), a.hdr.source.loc_uri.clone()));
        out.push((ct, a));
    }
    let m = d.message(package1(vec![]), true, false);
    send(&mut d, &m, &mut out).await;
    let good = d.nonce.clone();
    d.nonce = good.clone().map(|mut n| {
        n.push(b'x');
        n
    });
    let m = d.message(package1(vec![]), true, true);
    send(&mut d, &m, &mut out).await;
    let generic = Command::Alert(Alert {
        cmd_id: "4".into(),
        data: Some("1226".into()),
        items: vec![Item {
            meta: Some(Meta { r#type: Some("x.test".into()), format: Some("chr".into()), ..Meta::default() }),
            data: Some(Data::from("d")),
            ..Item::default()
        }],
        ..Alert::default()
    });
    let m = d.message(package1(vec![generic, alert("5", "1299")]), true, true);
    send(&mut d, &m, &mut out).await;
    enqueue(&srv, json!([["Get", "./Later"]])).await;
    let a3 = out[2].1.clone();
    let mut part1: Vec<Command> = commands(&a3).iter().map(|c| status_for(&a3.hdr.msg_id, c, "200")).collect();
    if let Some(get) = commands(&a3).iter().find(|c| c.name() == "Get") {
        part1.push(Command::Results(Results {
            cmd_id: "20".into(),
            msg_ref: Some(a3.hdr.msg_id.clone()),
            cmd_ref: get.cmd_id().unwrap().into(),
            items: vec![Item {
                source: Some(LocRef::uri("./A")),
                meta: Some(Meta { size: Some("2".into()), ..Meta::default() }),
                data: Some(Data::from("a")),
                more_data: true,
                target: None,
            }],
            ..Results::default()
        }));
    }
    let mut m = d.message(part1, false, false);
    if let Some(Command::Status(h)) = m.body.commands.first_mut() {
        h.data = "407".into();
        let next_nonce = Some(auth::encode_nonce(b"cn"));
        h.chal = Some(Chal {
            meta: Meta { r#type: Some(AUTH_MD5.into()), format: Some("b64".into()), next_nonce, ..Meta::default() },
        });
    }
    send(&mut d, &m, &mut out).await;
    let part2 = vec![Command::Results(Results {
        cmd_id: "21".into(),
        msg_ref: Some(a3.hdr.msg_id.clone()),
        cmd_ref: "9".into(),
        items: vec![Item { source: Some(LocRef::uri("./A")), data: Some(Data::from("b")), ..Item::default() }],
        ..Results::default()
    })];
    let m = d.message(part2, true, false);
    send(&mut d, &m, &mut out).await;
    let a5 = out[4].1.clone();
    let answers = commands(&a5).iter().map(|c| status_for(&a5.hdr.msg_id, c, "200")).collect();
    let m = d.message(answers, true, false);
    send(&mut d, &m, &mut out).await;
    srv.shutdown().await;
    out
}

fn status_code(m: &Message, cmd: &str, cmd_ref: &str) -> Option<String> {
    statuses(m).into_iter().find(|(c, r, _)| c == cmd && r == cmd_ref).map(|(_, _, code)| code)
}

#[tokio::test]
async fn every_fault_breaks_its_point_and_no_other() {
    type Broken = fn(&[(String, Message)]) -> bool;
    let hdr = |m: &Message| hdr_status(m).map(|s| s.data.clone()).unwrap_or_default();
    let points: Vec<(&str, Broken)> = vec![
        ("answers-xml-to-wbxml", |r| r[0].0 == MEDIA_XML),
        ("wrong-session-id", |r| r[0].1.hdr.session_id != "S"),
        ("msgid-repeats", |r| r[1].1.hdr.msg_id == "1"),
        ("duplicate-cmdid", |r| {
            r.iter().any(|(_, m)| {
                let ids: Vec<_> = m.body.commands.iter().filter_map(|c| c.cmd_id()).collect();
                ids.iter().collect::<std::collections::BTreeSet<_>>().len() != ids.len()
            })
        }),
        ("no-synchdr-status", |r| hdr_status(&r[0].1).is_none()),
        ("no-alert-status", |r| status_code(&r[0].1, "Alert", "2").is_none()),
        ("no-devinfo-status", |r| status_code(&r[0].1, "Replace", "3").is_none()),
        ("no-auth-required", |r| hdr_status(&r[0].1).is_some_and(|s| s.data == "200")),
        ("accepts-wrong-cred", |r| hdr_status(&r[1].1).is_some_and(|s| s.data == "212")),
        ("nextnonce-not-b64", |r| {
            let n = hdr_status(&r[2].1).and_then(|s| s.chal.as_ref()).and_then(|c| c.meta.next_nonce.clone());
            n.is_some_and(|n| auth::decode_nonce(&n).is_none())
        }),
        ("ignores-client-challenge", |r| hdr_status(&r[3].1).is_some() && r[3].1.hdr.cred.is_none()),
        ("commands-before-final", |r| {
            commands(&r[3].1).iter().any(|c| !matches!(c, Command::Alert(a) if a.data.as_deref() == Some("1222")))
        }),
        ("no-final", |r| !commands(&r[2].1).is_empty() && !r[2].1.body.r#final),
        ("never-ends", |r| !commands(&r[5].1).is_empty()),
        ("generic-alert-406", |r| status_code(&r[2].1, "Alert", "4").as_deref() == Some("406")),
        ("unknown-alert-200", |r| status_code(&r[2].1, "Alert", "5").as_deref() == Some("200")),
        ("lo-no-213", |r| statuses(&r[3].1).iter().any(|(c, _, code)| c == "Results" && code == "200")),
        ("no-format-meta", |r| {
            commands(&r[2].1)
                .iter()
                .any(|c| c.name() == "Add" && first_item(c).meta.as_ref().and_then(|m| m.format.as_ref()).is_none())
        }),
        ("drops-last-command", |r| {
            let c = commands(&r[2].1);
            !c.is_empty() && !c.iter().any(|c| c.name() == "Get")
        }),
    ];
    let clean = standard_run(&[]).await;
    let broken: Vec<&str> = points.iter().filter(|(_, p)| p(&clean)).map(|(n, _)| *n).collect();
    assert!(broken.is_empty(), "the clean server breaks {broken:?}");
    // The clean run as a whole: challenge, refusal, acceptance with commands, 1222 with 213,
    // the queued Get after the complete package, then the end.
    assert_eq!([hdr(&clean[0].1), hdr(&clean[1].1), hdr(&clean[2].1)], ["407", "401", "212"]);
    assert_eq!(commands(&clean[2].1).len(), 3);
    assert_eq!(
        clean[3].1.hdr.cred.as_ref().unwrap().data.text().unwrap(),
        auth::md5_cred("dmcts", "server-secret", b"cn")
    );
    assert_eq!(
        commands(&clean[4].1)
            .iter()
            .map(|c| first_item(c).target.as_ref().unwrap().loc_uri.clone())
            .collect::<Vec<_>>(),
        ["./Later"]
    );
    assert!(commands(&clean[5].1).is_empty() && clean[5].1.body.r#final);
    for (fault, _) in &points {
        let run = standard_run(&[fault]).await;
        let broken: Vec<&str> = points.iter().filter(|(_, p)| p(&run)).map(|(n, _)| *n).collect();
        assert_eq!(broken, [*fault], "server.dm12-{fault} breaks {broken:?}");
    }
}

#[tokio::test]
async fn a_package_larger_than_the_clients_max_msg_size_goes_in_several_messages() {
    let srv = start(&[]).await;
    register(&srv).await;
    let big = "v".repeat(300);
    enqueue(&srv, json!([["Replace", "./A", big], ["Replace", "./B", big], ["Replace", "./C", big]])).await;
    let mut d = Device::new(&srv, "C");
    let with_max = |mut m: Message| {
        m.hdr.meta = Some(Meta { max_msg_size: Some("1500".into()), ..Meta::default() });
        m
    };
    let m = with_max(d.message(package1(vec![]), true, false));
    d.send(&m).await;
    let m = with_max(d.message(package1(vec![]), true, true));
    let mut a = d.send(&m).await;
    let mut targets = Vec::new();
    let mut messages = 0;
    loop {
        messages += 1;
        let c: Vec<Command> = commands(&a).into_iter().cloned().collect();
        assert!(!c.is_empty());
        let xml = a.to_xml(false).unwrap();
        assert!(xml.len() <= 1500, "{} bytes", xml.len());
        targets.extend(c.iter().map(|c| first_item(c).target.as_ref().unwrap().loc_uri.clone()));
        if a.body.r#final {
            break;
        }
        let mut answer: Vec<Command> = c.iter().map(|c| status_for(&a.hdr.msg_id, c, "200")).collect();
        answer.push(alert("8", "1222"));
        let m = d.message(answer, false, false);
        a = d.send(&m).await;
    }
    assert_eq!(targets, ["./A", "./B", "./C"]);
    assert!(messages >= 2, "the package was split");
    srv.shutdown().await;
}

#[tokio::test]
async fn an_interrupted_large_object_gets_1225_and_incomplete_generic_alerts_412() {
    let srv = start(&[]).await;
    register(&srv).await;
    enqueue(&srv, json!([["Get", "./Big"], ["Get", "./Small"]])).await;
    let mut d = Device::new(&srv, "D");
    let bare = Command::Alert(Alert { cmd_id: "4".into(), data: Some("1226".into()), ..Alert::default() });
    let a = d.authenticated_package1(vec![bare]).await;
    assert_eq!(statuses(&a)[3], ("Alert".into(), "4".into(), "412".into()), "a Generic Alert without Item");
    let c: Vec<Command> = commands(&a).into_iter().cloned().collect();
    let result = |cmd: &Command, more: bool| {
        Command::Results(Results {
            cmd_id: "5".into(),
            msg_ref: Some("2".into()),
            cmd_ref: cmd.cmd_id().unwrap().into(),
            items: vec![Item {
                source: Some(LocRef::uri(&first_item(cmd).target.as_ref().unwrap().loc_uri)),
                data: Some(Data::from("x")),
                more_data: more,
                ..Item::default()
            }],
            ..Results::default()
        })
    };
    // A chunk of ./Big, then (Final) a whole ./Small: ./Big is dropped with an Alert 1225.
    let m = d.message(vec![status_for("2", &c[0], "200"), result(&c[0], true)], false, false);
    d.send(&m).await;
    let m = d.message(vec![status_for("2", &c[1], "200"), result(&c[1], false)], true, false);
    let a = d.send(&m).await;
    let alerts: Vec<&Alert> =
        a.body.commands.iter().filter_map(|c| if let Command::Alert(x) = c { Some(x) } else { None }).collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].data.as_deref(), Some("1225"));
    assert_eq!(alerts[0].items[0].target.as_ref().unwrap().loc_uri, "./Big");
    assert_eq!(report(&srv).await["results"], json!([{"source": "./Small", "data": "x", "format": null}]));
    srv.shutdown().await;
}

// ---- FUMO and SCOMO (issue 11 item 5) ----

async fn start_with(faults: &[&str]) -> RunningDm12Server {
    let mut c = Dm12ServerConfig::new();
    c.faults = faults.iter().map(|s| format!("server.{s}")).collect();
    spawn(c).await.unwrap()
}

fn result_alert(correlator: &str, source: &str, r#type: &str, format: &str, data: &str) -> Command {
    Command::Alert(Alert {
        cmd_id: "4".into(),
        data: Some("1226".into()),
        correlator: Some(correlator.into()),
        items: vec![Item {
            source: Some(LocRef::uri(source)),
            meta: Some(Meta { r#type: Some(r#type.into()), format: Some(format.into()), ..Meta::default() }),
            data: Some(Data::from(data)),
            ..Item::default()
        }],
        ..Alert::default()
    })
}

/// One session: the server's commands answered 200, Exec 202; the commands it sent.
async fn operation_session(srv: &RunningDm12Server, session_id: &str) -> Vec<Command> {
    let mut d = Device::new(srv, session_id);
    let a = d.authenticated_package1(vec![]).await;
    let sent: Vec<Command> = commands(&a).into_iter().cloned().collect();
    let answers =
        sent.iter().map(|c| status_for(&a.hdr.msg_id, c, if c.name() == "Exec" { "202" } else { "200" })).collect();
    let m = d.message(answers, true, false);
    let end = d.send(&m).await;
    assert!(commands(&end).is_empty(), "the session ends: {end:?}");
    sent
}

/// A later session whose Package#1 carries `alert`; the server's Status for it.
async fn report_result(srv: &RunningDm12Server, session_id: &str, alert: Command) -> String {
    let mut d = Device::new(srv, session_id);
    let a = d.authenticated_package1(vec![alert]).await;
    statuses(&a).into_iter().find(|s| s.0 == "Alert" && s.1 == "4").expect("a Status for the alert").2
}

fn exec_of(c: &Command) -> Option<(String, Option<String>)> {
    match c {
        Command::Exec(x) => Some((x.items[0].target.as_ref()?.loc_uri.clone(), x.correlator.clone())),
        _ => None,
    }
}

#[tokio::test]
async fn firmware_update_sends_the_package_before_the_exec_and_takes_the_result_by_correlator() {
    let srv = start_with(&[]).await;
    register(&srv).await;
    let started = ut_done(
        &srv,
        "firmware.update",
        json!({ "dev_id": DEV, "mode": "dm", "package_url": "http://dmcts.invalid/fw.bin", "fumo_uri": "./FUMO/" }),
    )
    .await;
    assert_eq!(started["exec"], json!(["Exec", "./FUMO/Update", "", "dmcts-fw-0"]));
    let sent = operation_session(&srv, "1").await;
    assert_eq!(sent.iter().map(Command::name).collect::<Vec<_>>(), ["Replace", "Exec"]);
    assert_eq!(first_item(&sent[0]).target.as_ref().unwrap().loc_uri, "./FUMO/Update/PkgData");
    assert_eq!(exec_of(&sent[1]), Some(("./FUMO/Update".into(), Some("dmcts-fw-0".into()))));
    let r = report(&srv).await;
    assert_eq!((r["firmware"][0]["finished"].clone(), r["firmware"][0]["status"].clone()), (json!(false), json!(202)));
    let t = "org.openmobilealliance.dm.firmwareupdate.update";
    assert_eq!(report_result(&srv, "2", result_alert("dmcts-fw-0", "./FUMO/Update", t, "int", "412")).await, "200");
    let f = &report(&srv).await["firmware"][0];
    assert_eq!(
        (f["finished"].clone(), f["result_code"].clone(), f["success"].clone()),
        (json!(true), json!(412), json!(false))
    );
    srv.shutdown().await;

    // The faults: the Exec first; no Correlator; a 202 taken as the end.
    for (fault, broken) in [
        ("fumo12-exec-before-package", "order"),
        ("fumo12-no-correlator", "correlator"),
        ("fumo12-202-final", "finished"),
    ] {
        let srv = start_with(&[fault]).await;
        register(&srv).await;
        let args =
            json!({ "dev_id": DEV, "mode": "download_and_update", "package_url": "http://dmcts.invalid/fw.bin" });
        ut_done(&srv, "firmware.update", args).await;
        let sent = operation_session(&srv, "1").await;
        let names: Vec<&str> = sent.iter().map(Command::name).collect();
        assert_eq!(names == ["Exec", "Replace"], broken == "order", "{fault}: {names:?}");
        let corr = sent.iter().find_map(exec_of).unwrap().1;
        assert_eq!(corr.is_none(), broken == "correlator", "{fault}: {corr:?}");
        let finished = report(&srv).await["firmware"][0]["finished"].clone();
        assert_eq!(finished == json!(true), broken == "finished", "{fault}");
        srv.shutdown().await;
    }
}

#[tokio::test]
async fn software_install_delivers_then_execs_and_reports_pending_then_succeeded() {
    let srv = start_with(&[]).await;
    register(&srv).await;
    let args = json!({ "dev_id": DEV, "package_id": "com.x", "data": "pkg", "mode": "dm", "entry": "p1", "scomo_uri": "./SCOMO/" });
    let started = ut_done(&srv, "software.install", args).await;
    let install = "./SCOMO/Inventory/Delivered/p1/Operations/Install";
    assert_eq!(started["exec"], json!(["Exec", install, "", "dmcts-sw-0"]));
    let sent = operation_session(&srv, "1").await;
    let targets: Vec<String> = sent
        .iter()
        .map(|c| exec_of(c).map(|e| e.0).unwrap_or_else(|| first_item(c).target.as_ref().unwrap().loc_uri.clone()))
        .collect();
    assert_eq!(
        targets,
        [
            "./SCOMO/Inventory/Delivered/p1",
            "./SCOMO/Inventory/Delivered/p1/PkgID",
            "./SCOMO/Inventory/Delivered/p1/Data",
            install
        ]
    );
    assert_eq!(report(&srv).await["software"][0]["outcome"], "pending");
    let t = "urn:oma:at:scomo:1.0:OperationComplete";
    let data = "<ResultCode>1200</ResultCode><Identifier>com.x</Identifier>";
    assert_eq!(report_result(&srv, "2", result_alert("dmcts-sw-0", install, t, "xml", data)).await, "200");
    let s = &report(&srv).await["software"][0];
    assert_eq!((s["outcome"].clone(), s["result_code"].clone()), (json!("succeeded"), json!(1200)));
    srv.shutdown().await;
}
