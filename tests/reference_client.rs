//! The reference DM client against a tiny fake DM server / repository / browser, over real
//! sockets on 127.0.0.1.
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine;
use dmcts::reference::client::{spawn, ClientConfig, RunningClient, FAULTS};
use dmcts::upper_tester::{UtAnswer, UtRequest, UtStatus};
use dmcts::wire::dm2::notification::{encode, NotificationCredentials};
use dmcts::wire::dm2::{NotificationFields, Profile, Tamper, MEDIA_PACKAGE1, MEDIA_PACKAGE2, MEDIA_PACKAGE3};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEVINFO: &str = "urn:oma:mo:oma-dm-devinfo:1.0";
const TEST: &str = "urn:oma:mo:dmcts-test:1.0";
const FUMO: &str = "urn:oma:mo:oma-fumo:1.0";
const CONFIG: &str = "urn:oma:mo:dmcts-config:1.0";

#[derive(Debug, Clone)]
struct Rec {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Rec {
    fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Clone)]
struct Resp {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn p2(cmds: Value) -> Resp {
    Resp {
        status: 200,
        content_type: MEDIA_PACKAGE2.into(),
        headers: vec![],
        body: serde_json::to_vec(&json!({ "CMD": cmds })).unwrap(),
    }
}

fn mo(body: Value) -> Resp {
    Resp { status: 200, content_type: "application/json".into(), headers: vec![], body: body.to_string().into_bytes() }
}

/// Fake DM server (`/dm`, `/cont`, `/async`), repository (`/repo/*`) and web server
/// (`/browser/*`): records everything, answers from per-path scripts, END by default.
#[derive(Clone, Default)]
struct Fake {
    base: String,
    rec: Arc<Mutex<Vec<Rec>>>,
    script: Arc<Mutex<HashMap<String, VecDeque<Resp>>>>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let f = Fake { base: format!("http://{}", listener.local_addr().unwrap()), ..Default::default() };
        let st = f.clone();
        let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let st = st.clone();
            async move { st.answer(m, u, h, b) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        f
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn push(&self, path: &str, r: Resp) {
        self.script.lock().unwrap().entry(path.into()).or_default().push_back(r);
    }

    fn answer(&self, m: Method, u: Uri, h: HeaderMap, b: Bytes) -> (StatusCode, HeaderMap, Vec<u8>) {
        let path = u.path().to_string();
        self.rec.lock().unwrap().push(Rec { method: m.to_string(), path: path.clone(), headers: h, body: b });
        let scripted = self.script.lock().unwrap().get_mut(&path).and_then(VecDeque::pop_front);
        let r = scripted.unwrap_or_else(|| match path.as_str() {
            p if p.starts_with("/repo") && m == Method::GET => {
                Resp { status: 404, content_type: "text/plain".into(), headers: vec![], body: vec![] }
            }
            p if p.starts_with("/repo") => {
                Resp { status: 204, content_type: "text/plain".into(), headers: vec![], body: vec![] }
            }
            p if p.starts_with("/browser") => {
                Resp { status: 200, content_type: "text/html".into(), headers: vec![], body: b"<html/>".to_vec() }
            }
            _ => p2(json!([["END"]])),
        });
        let mut hm = HeaderMap::new();
        hm.insert("content-type", r.content_type.parse().unwrap());
        for (k, v) in r.headers {
            hm.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        (StatusCode::from_u16(r.status).unwrap(), hm, r.body)
    }

    fn at(&self, path: &str) -> Vec<Rec> {
        self.rec.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    fn all(&self) -> Vec<Rec> {
        self.rec.lock().unwrap().clone()
    }

    /// Waits (≤ 5 s) until `n` requests arrived at `path`.
    async fn wait_n(&self, path: &str, n: usize) -> Vec<Rec> {
        for _ in 0..500 {
            let v = self.at(path);
            if v.len() >= n {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {n} request(s) at {path}: {:#?}", self.all().iter().map(|r| &r.path).collect::<Vec<_>>());
    }
}

async fn ut(c: &RunningClient, action: &str, args: Value) -> UtAnswer {
    let req = UtRequest { action: action.into(), case: "test".into(), step: 1, args };
    let resp = reqwest::Client::builder().no_proxy().build().unwrap().post(&c.ut_url).json(&req).send().await.unwrap();
    resp.json().await.unwrap()
}

async fn idle(c: &RunningClient) {
    assert_eq!(ut(c, "idle", Value::Null).await.status, UtStatus::Done, "client not idle: {:#?}", c.log());
}

async fn client(fake: &Fake, faults: &[&str]) -> RunningClient {
    let mut cfg = ClientConfig::new(fake.url("/dm"));
    cfg.faults = faults.iter().map(|s| s.to_string()).collect();
    spawn(cfg).await.unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn notification(server_id: &str, id: u16, tamper: Option<Tamper>, timestamp: u64) -> Vec<u8> {
    let creds =
        NotificationCredentials { secret: b"test-noti-secret".to_vec(), auth_data: b"test-noti-authdata".to_vec() };
    let fields = NotificationFields {
        server_id: server_id.into(),
        preferred_con_type: Some(0),
        notification_id: Some(id),
        timestamp: Some(timestamp),
        req_mos: true,
        digest: true,
    };
    encode(&fields, Some(&creds), &Profile::default(), tamper.as_ref())
}

async fn deliver(c: &RunningClient, bytes: &[u8]) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let a = ut(c, "notification.deliver", json!({ "bytes_b64": b64 })).await;
    assert_eq!(a.status, UtStatus::Done);
    a.data
}

#[tokio::test]
async fn notification_opens_session_with_package1() {
    let fake = Fake::start().await;
    let c = client(&fake, &[]).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http
        .post(&c.notify_url)
        .header("Content-Type", "application/vnd.oma.dm.notification")
        .body(notification("dmcts", 0x1234, None, now()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let p1 = fake.wait_n("/dm", 1).await.remove(0);
    assert_eq!(p1.method, "POST");
    assert_eq!(p1.header("OMADM-DevID"), Some("IMEI:359881000000017"));
    assert_eq!(p1.header("content-type"), Some(MEDIA_PACKAGE1));
    assert_eq!(p1.header("accept"), Some(MEDIA_PACKAGE2));
    let body = p1.json();
    assert_eq!(
        body["Alert"],
        json!([{ "AlertType": "urn:oma:at:dm:2.0:ServerInitiatedMgmt", "DataType": "int", "Data": { "NOTIFICATION-ID": 4660 } }])
    );
    let mos: Vec<(&str, Vec<&str>)> = body["MOS"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["MOID"].as_str().unwrap(), e["MIID"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect())
        })
        .collect();
    assert_eq!(
        mos,
        vec![
            (DEVINFO, vec!["d0"]),
            (TEST, vec!["t0", "t1"]),
            (FUMO, vec!["fw-main"]),
            ("urn:oma:mo:oma-scomo:1.0", vec!["sw-main"])
        ]
    );
    assert!(body["MOS"][0]["DDF"].is_string());
    // Same notification again: duplicate NOTIFICATION-ID, ignored. Another id via the UT: accepted.
    idle(&c).await;
    let again = deliver(&c, &notification("dmcts", 0x1234, None, now())).await;
    assert_eq!(again["accepted"], json!(false), "{again}");
    assert_eq!(deliver(&c, &notification("dmcts", 7, None, now())).await, json!({ "accepted": true }));
    fake.wait_n("/dm", 2).await;
    idle(&c).await;
    assert_eq!(fake.at("/dm").len(), 2, "END must close each session");
    c.shutdown().await;
}

#[tokio::test]
async fn rejected_notifications_open_no_session() {
    let fake = Fake::start().await;
    let c = client(&fake, &[]).await;
    let cases = [
        ("bad digest", notification("dmcts", 1, Some(Tamper::WrongDigest), now())),
        ("wrong VER", notification("dmcts", 2, Some(Tamper::WrongVersion(1)), now())),
        ("OC mismatch", notification("dmcts", 3, Some(Tamper::OcMismatch), now())),
        ("unknown server id", notification("other-server", 4, None, now())),
        ("stale timestamp", notification("dmcts", 5, None, now() - 3600)),
        ("garbage", vec![0xff]),
    ];
    for (what, bytes) in &cases {
        let d = deliver(&c, bytes).await;
        assert_eq!(d["accepted"], json!(false), "{what}: {d}");
        assert!(d["reason"].is_string(), "{what}: {d}");
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(&c.notify_url)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
    }
    idle(&c).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(fake.all().is_empty(), "no session may be opened: {:#?}", fake.all());
    c.shutdown().await;
}

#[tokio::test]
async fn package2_with_every_command() {
    let fake = Fake::start().await;
    let c = client(&fake, &[]).await;
    let repo = |p: &str| fake.url(&format!("/repo/{p}"));
    fake.push(
        "/repo/new",
        mo(json!([{ "ClientURI": format!("{TEST}/x/"), "MOData": { "Test": { "Name": "new", "Val": "7" } } }])),
    );
    fake.push(
        "/repo/pkgurl",
        mo(json!([{ "ClientURI": format!("{FUMO}/fw-main/DownloadAndUpdate/PkgURL"), "MOData": { "PkgURL": repo("fw.bin") } }])),
    );
    // The firmware package the EXEC of DownloadAndUpdate downloads.
    fake.push(
        "/repo/fw.bin",
        Resp { status: 200, content_type: "application/octet-stream".into(), headers: vec![], body: vec![0; 64] },
    );
    fake.push(
        "/repo/default",
        mo(json!([{ "ClientURI": format!("{CONFIG}/d/"), "MOData": { "Config": { "Name": "dflt" } } }])),
    );
    fake.push(
        "/dm",
        p2(json!([
            ["GET", format!("{DEVINFO}//FwV")],
            ["HGET", repo("new")],
            ["HGET", repo("pkgurl"), format!("{FUMO}/fw-main/DownloadAndUpdate/PkgURL")],
            ["HPUT", repo("up"), format!("{DEVINFO}/d0/")],
            ["HPOST", repo("post"), format!("{TEST}/t0/Perm")],
            ["DELETE", format!("{TEST}/t0/Perm")],
            ["DELETE", format!("{TEST}/t1/")],
            ["EXEC", format!("{FUMO}/fw-main/DownloadAndUpdate"), fake.url("/async")],
            ["EXEC", format!("{TEST}/t0/Op")],
            ["SHOW", fake.url("/browser/ui")],
            ["DEFAULT", CONFIG, repo("default")],
            ["FROB", "x"],
            ["GET"],
            ["CONT", fake.url("/cont")],
        ])),
    );
    assert_eq!(ut(&c, "session.start", Value::Null).await.status, UtStatus::Done);
    let p1 = fake.wait_n("/dm", 1).await.remove(0);
    assert_eq!(p1.json()["Alert"], json!([{ "AlertType": "urn:oma:at:dm:2.0:ClientInitiatedMgmt" }]));
    let p3 = fake.wait_n("/cont", 1).await.remove(0);
    assert_eq!(p3.header("content-type"), Some(MEDIA_PACKAGE3));
    assert_eq!(p3.header("OMADM-DevID"), Some("IMEI:359881000000017"));
    let st = p3.json()["Status"].as_array().unwrap().clone();
    let codes: Vec<u64> = st.iter().map(|s| s["sc"].as_u64().expect("sc is a number")).collect();
    assert_eq!(codes, [200, 200, 200, 200, 200, 405, 200, 202, 200, 200, 200, 501, 400, 200]);
    assert_eq!(
        st[0]["MOS"],
        json!([{ "DDF": "https://ddf.dmcts.example/oma-dm-devinfo-1.0.ddf", "ClientURI": format!("{DEVINFO}/d0/FwV"), "MOData": { "FwV": "1.0.0" } }])
    );
    assert_eq!(st[1]["URI"], json!([format!("{TEST}/t2/")]));
    // The asynchronous EXEC result: a NEW session to the EXEC ServerURI.
    let a = fake.wait_n("/async", 1).await.remove(0);
    assert_eq!(a.header("content-type"), Some(MEDIA_PACKAGE1));
    assert_eq!(
        a.json()["Alert"],
        json!([
            { "AlertType": "urn:oma:at:dm:2.0:ClientInitiatedMgmt" },
            // A FUMO result: the profile's fumo_alert_type_* and fumo_result_code_member (issue 10).
            { "AlertType": "org.openmobilealliance.dm.firmwareupdate.downloadandupdate", "SourceURI": format!("{FUMO}/fw-main/DownloadAndUpdate"),
              "Mark": "informational", "DataType": "int", "Data": { "DM1x": 200 } }
        ])
    );
    idle(&c).await;
    // The EXEC downloaded the package from PkgURL first.
    assert_eq!(fake.at("/repo/fw.bin").len(), 1, "{:#?}", c.log());
    // Repository and browser traffic.
    let put = fake.at("/repo/up").remove(0);
    assert_eq!(put.method, "PUT");
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(put.json()[0]["ClientURI"], json!(format!("{DEVINFO}/d0/")));
    assert_eq!(put.json()[0]["MOData"]["DevInfo"]["DevID"], json!("IMEI:359881000000017"));
    let post = fake.at("/repo/post").remove(0);
    assert_eq!((post.method.as_str(), post.json()[0]["MOData"].clone()), ("POST", json!({ "Perm": "permanent" })));
    assert_eq!(fake.at("/browser/ui").len(), 1);
    assert!(fake.at("/repo/default").is_empty(), "DEFAULT only stores the URI");
    // A second session reads back the effects.
    fake.push(
        "/dm",
        p2(json!([
            ["GET", format!("{TEST}/t2/")],
            ["GET", format!("{FUMO}/fw-main/DownloadAndUpdate/PkgURL")],
            ["GET", format!("{FUMO}/fw-main/State")],
            ["GET", format!("{TEST}/t0/OpCount")],
            ["GET", format!("{TEST}/t1/")],
            ["GET", format!("{TEST}/t0/Perm")],
        ])),
    );
    ut(&c, "session.start", Value::Null).await;
    let p3 = fake.wait_n("/dm", 3).await.remove(2);
    let st = p3.json()["Status"].clone();
    assert_eq!(st[0]["MOS"][0]["MOData"], json!({ "Test": { "Name": "new", "Val": "7" } }));
    assert_eq!(st[1]["MOS"][0]["MOData"], json!({ "PkgURL": fake.url("/repo/fw.bin") }));
    assert_eq!(st[2]["MOS"][0]["MOData"], json!({ "State": "100" }));
    assert_eq!(st[3]["MOS"][0]["MOData"], json!({ "OpCount": "1" }));
    assert_eq!((st[4]["sc"].clone(), st[5]["sc"].clone()), (json!(404), json!(200)));
    idle(&c).await;
    // DEFAULT fallback: configuration the tree lacks is fetched from the stored URI (the
    // HGET procedure, a new instance); configuration the tree has is not (digest §8.9).
    let a = ut(&c, "config.request", json!({ "moid": TEST })).await;
    assert_eq!(a.data["fetched"], json!(false), "{a:?}");
    assert!(a.data["reason"].as_str().unwrap().contains("already has"), "{a:?}");
    let a = ut(&c, "config.request", json!({ "moid": CONFIG })).await;
    assert_eq!(a.data["fetched"], json!(true), "{a:?}");
    assert_eq!(a.data["result"], json!({ "sc": 200, "URI": [format!("{CONFIG}/cfg-3/")] }), "{a:?}");
    assert_eq!(fake.at("/repo/default").len(), 1);
    // Now the tree has it: a second request fetches nothing.
    let a = ut(&c, "config.request", json!({ "moid": CONFIG })).await;
    assert_eq!(a.data["fetched"], json!(false), "{a:?}");
    assert_eq!(fake.at("/repo/default").len(), 1);
    // reset restores the provisioned state.
    ut(&c, "reset", Value::Null).await;
    fake.push("/dm", p2(json!([["GET", format!("{TEST}/t1/Name")], ["END"]])));
    ut(&c, "session.start", Value::Null).await;
    fake.wait_n("/dm", 4).await;
    idle(&c).await;
    assert_eq!(fake.at("/dm").len(), 4, "END: no Package#3");
    c.shutdown().await;
}

#[tokio::test]
async fn end_means_no_package3_and_cont_moves_it() {
    let fake = Fake::start().await;
    let c = client(&fake, &[]).await;
    fake.push("/dm", p2(json!([["GET", format!("{DEVINFO}//DevID")], ["END"]])));
    ut(&c, "session.start", Value::Null).await;
    fake.wait_n("/dm", 1).await;
    idle(&c).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.all().len(), 1, "no Package#3 after END: {:#?}", c.log());
    // CONT: the Package#3 goes to the CONT URI, and the next one too.
    fake.push("/dm", p2(json!([["CONT", fake.url("/cont")]])));
    fake.push("/cont", p2(json!([["GET", format!("{DEVINFO}//Man")]])));
    ut(&c, "session.start", Value::Null).await;
    let cont = fake.wait_n("/cont", 2).await;
    assert_eq!(cont[0].json(), json!({ "Status": [{ "sc": 200 }] }));
    assert_eq!(cont[1].json()["Status"][0]["MOS"][0]["MOData"], json!({ "Man": "dmcts" }));
    idle(&c).await;
    assert_eq!(fake.at("/dm").len(), 2);
    c.shutdown().await;
}

#[tokio::test]
async fn bad_package2_aborts_without_retry() {
    let fake = Fake::start().await;
    let c = client(&fake, &[]).await;
    let bad = [
        Resp { status: 200, content_type: MEDIA_PACKAGE2.into(), headers: vec![], body: b"{not json".to_vec() },
        Resp {
            status: 200,
            content_type: "text/plain".into(),
            headers: vec![],
            body: br#"{"CMD":[["END"]]}"#.to_vec(),
        },
        Resp {
            status: 500,
            content_type: MEDIA_PACKAGE2.into(),
            headers: vec![],
            body: br#"{"CMD":[["END"]]}"#.to_vec(),
        },
        Resp { status: 200, content_type: MEDIA_PACKAGE2.into(), headers: vec![], body: br#"{"CMD":5}"#.to_vec() },
    ];
    for (i, r) in bad.into_iter().enumerate() {
        fake.push("/dm", r);
        ut(&c, "session.start", Value::Null).await;
        fake.wait_n("/dm", i + 1).await;
        idle(&c).await;
        assert_eq!(fake.all().len(), i + 1, "aborted session must send nothing more (case {i})");
    }
    // Still healthy afterwards.
    fake.push("/dm", p2(json!([["GET", format!("{DEVINFO}//DmV")]])));
    ut(&c, "session.start", Value::Null).await;
    let p3 = fake.wait_n("/dm", 6).await.remove(5);
    assert_eq!(p3.json()["Status"][0]["sc"], json!(200));
    c.shutdown().await;
}

#[tokio::test]
async fn omadm_accept_without_our_type_gives_406() {
    let fake = Fake::start().await;
    let mut cfg = ClientConfig::new(fake.url("/dm"));
    cfg.basic = Some(("user".into(), "pass".into()));
    let c = spawn(cfg).await.unwrap();
    let mut r = p2(json!([["HPUT", fake.url("/repo/up"), format!("{DEVINFO}/d0/")]]));
    r.headers.push(("OMADM-Accept".into(), "application/cbor".into()));
    fake.push("/dm", r);
    ut(&c, "session.start", Value::Null).await;
    let dm = fake.wait_n("/dm", 2).await;
    assert_eq!(dm[1].json()["Status"], json!([{ "sc": 406 }]));
    assert_eq!(dm[0].header("authorization"), Some("Basic dXNlcjpwYXNz"));
    idle(&c).await;
    assert!(fake.at("/repo/up").is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn alert_raise_sends_generic_alert_in_package1() {
    let fake = Fake::start().await;
    let c = client(&fake, &[]).await;
    let alert = json!({ "AlertType": "urn:example:at:battery:1.0:Low", "Mark": "critical", "DataType": "int", "Data": { "level": 4 } });
    assert_eq!(ut(&c, "alert.raise", alert.clone()).await.status, UtStatus::Done);
    let p1 = fake.wait_n("/dm", 1).await.remove(0);
    assert_eq!(p1.json()["Alert"], json!([{ "AlertType": "urn:oma:at:dm:2.0:ClientInitiatedMgmt" }, alert]));
    assert_eq!(ut(&c, "alert.raise", json!({ "Data": {} })).await.status, UtStatus::Failed);
    c.shutdown().await;
}

#[tokio::test]
async fn faults_change_what_is_on_the_wire() {
    // p3-after-end: a Package#3 follows END.
    let fake = Fake::start().await;
    let c = client(&fake, &["client.p3-after-end"]).await;
    ut(&c, "session.start", Value::Null).await;
    let dm = fake.wait_n("/dm", 2).await;
    assert_eq!(dm[1].json(), json!({ "Status": [{ "sc": 200 }] }));
    c.shutdown().await;

    // cont-ignored: the Package#3 still goes to the session's first URI.
    let fake = Fake::start().await;
    let c = client(&fake, &["cont-ignored"]).await;
    fake.push("/dm", p2(json!([["CONT", fake.url("/cont")]])));
    ut(&c, "session.start", Value::Null).await;
    fake.wait_n("/dm", 2).await;
    idle(&c).await;
    assert!(fake.at("/cont").is_empty());
    c.shutdown().await;

    // hput-wrong-method and sc-as-string together: POST to the repository, "200" as a string.
    let fake = Fake::start().await;
    let c = client(&fake, &["hput-wrong-method", "sc-as-string"]).await;
    fake.push("/dm", p2(json!([["HPUT", fake.url("/repo/up"), format!("{DEVINFO}/d0/")]])));
    ut(&c, "session.start", Value::Null).await;
    let dm = fake.wait_n("/dm", 2).await;
    assert_eq!(fake.at("/repo/up")[0].method, "POST");
    assert_eq!(dm[1].json()["Status"], json!([{ "sc": "200" }]));
    c.shutdown().await;

    // accept-bad-digest: the tampered notification opens a session.
    let fake = Fake::start().await;
    let c = client(&fake, &["accept-bad-digest"]).await;
    assert_eq!(deliver(&c, &notification("dmcts", 9, Some(Tamper::WrongDigest), now())).await["accepted"], json!(true));
    fake.wait_n("/dm", 1).await;
    c.shutdown().await;
}

#[tokio::test]
async fn unknown_fault_is_a_clear_error() {
    let mut cfg = ClientConfig::new("http://127.0.0.1:9/dm");
    cfg.faults.insert("client.no-such-thing".into());
    let err = spawn(cfg).await.err().expect("unknown fault must be refused").to_string();
    assert!(err.contains("no-such-thing") && err.contains("client.devid-missing"), "{err}");
    assert!(FAULTS.iter().all(|f| f.name.starts_with("client.") && !f.violates.is_empty()));
}

/// DEFAULT (digest §8.9): one URI per MOID, a new DEFAULT replaces the old; a configuration
/// request fetches only what the tree lacks, from the stored URI, with no DM session; each
/// DEFAULT fault breaks exactly that.
#[tokio::test]
async fn default_uri_is_replaced_and_used_only_for_missing_configuration() {
    for (faults, fetched_from) in [
        (&[][..], Some("/repo/cfg-new")),
        (&["default-first-kept"][..], Some("/repo/cfg-old")),
        (&["default-ignored"][..], None),
    ] {
        let fake = Fake::start().await;
        let c = client(&fake, faults).await;
        let cfg =
            |name: &str| mo(json!([{ "ClientURI": format!("{CONFIG}/x/"), "MOData": { "Config": { "Name": name } } }]));
        fake.push("/repo/cfg-old", cfg("old"));
        fake.push("/repo/cfg-new", cfg("new"));
        fake.push(
            "/dm",
            p2(json!([
                ["DEFAULT", CONFIG, fake.url("/repo/cfg-old")],
                ["DEFAULT", CONFIG, fake.url("/repo/cfg-new")],
                ["DEFAULT", FUMO, fake.url("/repo/fumo")],
                ["END"],
            ])),
        );
        ut(&c, "session.start", Value::Null).await;
        fake.wait_n("/dm", 1).await;
        idle(&c).await;
        // The tree has a FUMO instance: nothing to fetch although a DEFAULT names the MOID.
        let a = ut(&c, "config.request", json!({ "moid": FUMO })).await;
        assert_eq!((a.status, &a.data["fetched"]), (UtStatus::Done, &json!(false)), "{faults:?}: {a:?}");
        assert!(a.data["reason"].as_str().unwrap().contains("fw-main"), "{a:?}");
        // It has no Config instance: fetched from the URI of the last DEFAULT.
        let a = ut(&c, "config.request", json!({ "moid": CONFIG })).await;
        assert_eq!(a.status, UtStatus::Done, "{a:?}");
        match fetched_from {
            Some(path) => {
                assert_eq!(a.data["fetched"], json!(true), "{faults:?}: {a:?}");
                assert_eq!(a.data["uri"], json!(fake.url(path)), "{faults:?}: {a:?}");
                assert_eq!(fake.at(path).len(), 1, "{faults:?}");
            }
            None => {
                assert_eq!(a.data["fetched"], json!(false), "{faults:?}: {a:?}");
                assert!(a.data["reason"].as_str().unwrap().contains("no DEFAULT URI"), "{a:?}");
            }
        }
        idle(&c).await;
        let repo: Vec<&str> =
            ["/repo/cfg-old", "/repo/cfg-new", "/repo/fumo"].into_iter().filter(|p| !fake.at(p).is_empty()).collect();
        assert_eq!(repo, fetched_from.into_iter().collect::<Vec<_>>(), "{faults:?}");
        assert_eq!(fake.at("/dm").len(), 1, "no status to any server for the fetch");
        c.shutdown().await;
    }
}
