//! Interop self-play (issue 3): the bundled reference DM client and reference DM server run a
//! full DM 2.0 exchange against each other over real loopback sockets, with a small recording
//! HTTP server in this test playing the data repository (HGET/HPUT/HPOST/DEFAULT) and the web
//! page SHOW opens.
//!
//! Session 1 (Package#0 → Package#1 → three Package#2/#3 rounds): every command the server can
//! send, with two CONTs queued among them, so the server CONTs to its second endpoint twice and
//! ENDs once the queue is drained. Session 2: the client's asynchronous EXEC result (a Generic Alert in
//! a new Package#1). Then the client's `config.request` uses the DEFAULT URI, and session 3
//! reads the client's changed state back with GET.
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use dmcts::reference::client::{self, ClientConfig, RunningClient};
use dmcts::reference::server::{self, RunningServer, ServerConfig, CONT_PATH_PREFIX};
use dmcts::upper_tester::{UtAnswer, UtRequest, UtStatus};
use dmcts::wire::dm2::{ALERT_CLIENT_INITIATED, ALERT_SERVER_INITIATED, MEDIA_PACKAGE3};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Both peers are configured with this SrvID / SERVER-ID (explicitly, not by default values).
const SERVER_ID: &str = "dmcts-selfplay";
const SECRET: &str = "test-noti-secret";
const AUTH_DATA: &str = "test-noti-authdata";
const DEV: &str = client::DEFAULT_DEV_ID;

const DEVINFO: &str = "urn:oma:mo:oma-dm-devinfo:1.0";
const TEST: &str = "urn:oma:mo:dmcts-test:1.0";
const FUMO: &str = "urn:oma:mo:oma-fumo:1.0";
/// An MO the client implements but holds no instance of: its configuration comes via DEFAULT.
const CONFIG: &str = "urn:oma:mo:dmcts-config:1.0";

/// Bound of every single wait in this test.
const STEP: Duration = Duration::from_secs(20);

/// One request the repository / web server received.
#[derive(Debug, Clone)]
struct Hit {
    method: String,
    path: String,
    content_type: String,
    body: Vec<u8>,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// The data repository and web server: records every request, serves MO serializations.
#[derive(Clone, Default)]
struct Repo {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

/// Where the firmware package is: `GET /repo/pkgurl` serves its URL (the content of HGET with
/// a ClientURI), and the EXEC of DownloadAndUpdate downloads it.
const PKG_PATH: &str = "/fw/2.0.bin";

impl Repo {
    async fn start() -> Result<Repo, std::io::Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let repo = Repo { base: format!("http://{}", listener.local_addr()?), ..Default::default() };
        let st = repo.clone();
        let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let st = st.clone();
            async move { st.answer(m, u, h, b) }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(repo)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn answer(
        &self,
        m: Method,
        u: Uri,
        h: HeaderMap,
        b: Bytes,
    ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
        let content_type = h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let path = u.path().to_string();
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).push(Hit {
            method: m.to_string(),
            path: path.clone(),
            content_type,
            body: b.to_vec(),
        });
        let mo = |v: Value| (StatusCode::OK, [("content-type", "application/json")], v.to_string());
        match (m.as_str(), path.as_str()) {
            ("GET", "/repo/pkgurl") => mo(json!([{
                "ClientURI": format!("{FUMO}/fw-main/DownloadAndUpdate/PkgURL"),
                "MOData": { "PkgURL": self.url(PKG_PATH) }
            }])),
            ("GET", PKG_PATH) => (StatusCode::OK, [("content-type", "application/octet-stream")], "firmware".into()),
            ("GET", "/repo/new-test") => mo(json!([{
                "ClientURI": format!("{TEST}/new/"),
                "MOData": { "Test": { "Name": "fetched", "Val": "42" } }
            }])),
            ("GET", "/repo/default-config") => mo(json!([{
                "DDF": "https://ddf.dmcts.example/dmcts-config-1.0.ddf",
                "ClientURI": format!("{CONFIG}/default/"),
                "MOData": { "Config": { "Name": "from-default", "Val": "3" } }
            }])),
            ("PUT", "/repo/upload") => (StatusCode::NO_CONTENT, [("content-type", "text/plain")], String::new()),
            ("POST", "/repo/upload") => (StatusCode::CREATED, [("content-type", "text/plain")], String::new()),
            ("GET", "/browser/page") => (StatusCode::OK, [("content-type", "text/html")], "<html/>".into()),
            _ => (StatusCode::NOT_FOUND, [("content-type", "text/plain")], "not here".into()),
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn at(&self, method: &str, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.method == method && h.path == path).collect()
    }
}

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(STEP, f).await.map_err(|_| format!("{what}: no answer within {STEP:?}"))
}

/// An upper-tester call over HTTP (the peer's real `/ut` endpoint), bounded.
async fn ut(http: &reqwest::Client, url: &str, action: &str, args: Value) -> Result<UtAnswer, String> {
    let req = UtRequest { action: action.into(), case: "selfplay".into(), step: 1, args };
    let call = async {
        let r = http.post(url).json(&req).send().await.map_err(|e| format!("{action}: POST {url}: {e}"))?;
        r.json::<UtAnswer>().await.map_err(|e| format!("{action}: not an upper-tester answer: {e}"))
    };
    bounded(action, call).await?
}

/// `ut`, and the answer must be `done`; returns its data.
async fn ut_done(http: &reqwest::Client, url: &str, action: &str, args: Value) -> Result<Value, String> {
    let a = ut(http, url, action, args).await?;
    assert_eq!(a.status, UtStatus::Done, "{action} at {url}: {}", a.message);
    Ok(a.data)
}

/// Polls the upper tester `idle` action until it answers `done` (each call waits ≤ 5 s inside
/// the peer), bounded overall.
async fn wait_idle(http: &reqwest::Client, url: &str, who: &str) -> Result<(), String> {
    let poll = async {
        loop {
            match ut(http, url, "idle", json!({})).await? {
                a if a.status == UtStatus::Done => return Ok::<(), String>(()),
                a if a.status == UtStatus::Failed => continue,
                a => return Err(format!("{who}: idle answered {:?}: {}", a.status, a.message)),
            }
        }
    };
    bounded(&format!("{who} idle"), poll).await?
}

fn codes(statuses: &Value) -> Vec<Value> {
    statuses.as_array().map(|a| a.iter().map(|s| s["sc"].clone()).collect()).unwrap_or_default()
}

/// The single MOData of a GET status entry (`profile.get_data_member` = `MOS`).
fn got(status: &Value) -> Value {
    status["MOS"][0]["MOData"].clone()
}

/// Whether the client log shows a Package#3 POSTed to `url`.
fn p3_posted_to(cli: &RunningClient, url: &str) -> bool {
    let prefix = format!("-> POST {url} Package#3 ({MEDIA_PACKAGE3})");
    cli.log().iter().any(|l| l.starts_with(&prefix))
}

fn dump(cli: &RunningClient, srv: &RunningServer) -> String {
    format!("client log:\n{}\nserver log:\n{}", cli.log().join("\n"), srv.log().join("\n"))
}

#[tokio::test]
async fn reference_peers_self_play_every_command() -> TestResult {
    let http = reqwest::Client::builder().no_proxy().timeout(STEP).build()?;
    let repo = Repo::start().await?;

    let mut sc = ServerConfig::new();
    sc.server_id = SERVER_ID.into();
    let srv = server::spawn(sc).await?;
    let mut cc = ClientConfig::new(srv.dm_url.clone());
    cc.server_id = SERVER_ID.into();
    let cli = client::spawn(cc).await?;

    done_register(&http, &srv, &cli).await?;

    // ---- Session 1: two queued CONTs → CONT, CONT, END.
    let pkg_url = format!("{FUMO}/fw-main/DownloadAndUpdate/PkgURL");
    let dl_update = format!("{FUMO}/fw-main/DownloadAndUpdate");
    let op = format!("{TEST}/t0/Op");
    let batch1 = json!([
        ["HGET", repo.url("/repo/pkgurl"), pkg_url],
        ["HGET", repo.url("/repo/new-test")],
        ["HPUT", repo.url("/repo/upload"), format!("{DEVINFO}//FwV")],
        ["HPOST", repo.url("/repo/upload"), format!("{TEST}/t0/Dyn")],
        ["DELETE", format!("{TEST}/t0/Perm")],
        ["DELETE", format!("{TEST}/t1/")],
        ["EXEC", op],
        ["CONT"],
    ]);
    let batch2 = json!([
        ["EXEC", dl_update, srv.dm_url],
        ["GET", format!("{TEST}/t0/OpCount")],
        ["GET", format!("{FUMO}/fw-main/State")],
        ["SHOW", repo.url("/browser/page")],
        ["DEFAULT", CONFIG, repo.url("/repo/default-config")],
        ["CONT"],
    ]);
    // Two calls append to one queue.
    for (batch, queued) in [(batch1, 8), (batch2, 14)] {
        let q = ut_done(&http, &srv.ut_url, "commands.enqueue", json!({ "dev_id": DEV, "commands": batch })).await?;
        assert_eq!(q["queued"], queued, "{q}");
    }
    let sent = ut_done(&http, &srv.ut_url, "notification.send", json!({ "dev_id": DEV, "req_mos": true })).await?;
    assert_eq!(sent["address"], cli.notify_url.as_str(), "{sent}");
    assert_eq!(sent["http_status"], 204, "Package#0 delivery: {sent}");

    // Client first (its asynchronous-result session included), then the server.
    wait_idle(&http, &cli.ut_url, "client").await?;
    wait_idle(&http, &srv.ut_url, "server").await?;
    let r = ut_done(&http, &srv.ut_url, "device.report", json!({ "dev_id": DEV })).await?;
    let ctx = || format!("{r:#}\n{}", dump(&cli, &srv));
    assert_eq!(r["errors"], json!([]), "{}", ctx());
    assert_eq!(r["status_count_mismatches"], json!([]), "{}", ctx());
    assert!(cli.log().iter().any(|l| l.starts_with("Package#0 via HTTP POST /notify")), "{}", ctx());

    // Sessions: the notified one (3 Package#2, 2 Package#3), then the async-result one.
    let sessions = r["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 2, "{}", ctx());
    assert_eq!(sessions[0]["alert_type"], ALERT_SERVER_INITIATED, "{}", ctx());
    assert_eq!(sessions[0]["notification_id"], sent["notification_id"], "{}", ctx());
    assert_eq!(sessions[0]["notification_matched"], true, "the server matched its own notification: {}", ctx());
    assert_eq!((&sessions[0]["package2"], &sessions[0]["package3"]), (&json!(3), &json!(2)), "{}", ctx());
    assert_eq!(sessions[0]["end"], "END sent", "{}", ctx());
    assert_eq!(sessions[1]["alert_type"], ALERT_CLIENT_INITIATED, "{}", ctx());
    assert_eq!((&sessions[1]["package2"], &sessions[1]["package3"]), (&json!(1), &json!(0)), "{}", ctx());
    assert_eq!(sessions[1]["end"], "END sent", "{}", ctx());
    assert!(sessions.iter().all(|s| s["open"] == false), "{}", ctx());
    assert_eq!(r["session_open"], false);
    assert_eq!(r["queued_commands"], 0, "{}", ctx());

    // Package#1 of session 1 carries the MOS (REQ-MOS) of the provisioned state.
    let mos = &r["package1"][0]["MOS"];
    let miids = |moid: &str, mos: &Value| -> Value {
        mos.as_array()
            .and_then(|a| a.iter().find(|e| e["MOID"] == moid))
            .map(|e| e["MIID"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(miids(TEST, mos), json!(["t0", "t1"]), "{}", ctx());
    assert_eq!(miids(FUMO, mos), json!(["fw-main"]), "{}", ctx());

    // Package#2s: the commands up to each CONT to the server's second endpoint (a fresh token
    // each time), then END.
    let p2 = r["package2"].as_array().cloned().unwrap_or_default();
    assert_eq!(p2.len(), 4, "3 in session 1, 1 in the async-result session: {}", ctx());
    // Generic Alerts are never answered: a Package#2 is exactly {"CMD": [...]}.
    assert!(p2.iter().all(|p| p.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("CMD"))), "{}", ctx());
    let cont_of = |p: &Value| -> Option<String> {
        let last = p["CMD"].as_array()?.last()?.as_array()?.clone();
        (last.first()? == "CONT").then(|| last.get(1)?.as_str().map(str::to_string))?
    };
    let cont1 = cont_of(&p2[0]).unwrap_or_default();
    let cont2 = cont_of(&p2[1]).unwrap_or_default();
    let cont_base = format!("{}{CONT_PATH_PREFIX}", srv.base_url);
    assert!(cont1.starts_with(&cont_base) && cont2.starts_with(&cont_base), "{}", ctx());
    assert_ne!(cont1, cont2, "each CONT names a fresh token");
    assert_eq!(p2[0]["CMD"].as_array().map(Vec::len), Some(8), "{}", ctx());
    assert_eq!(p2[1]["CMD"].as_array().map(Vec::len), Some(6), "{}", ctx());
    assert_eq!(p2[2]["CMD"], json!([["END"]]), "{}", ctx());
    assert_eq!(p2[3]["CMD"], json!([["END"]]), "async-result session: {}", ctx());
    // The client moved its Package#3s to the CONT URIs (and sent none to /dm, nor after END).
    assert!(p3_posted_to(&cli, &cont1) && p3_posted_to(&cli, &cont2), "{}", ctx());
    assert!(!p3_posted_to(&cli, &srv.dm_url), "{}", ctx());

    // Statuses, per Package#3, in command order.
    let statuses = r["statuses"].as_array().cloned().unwrap_or_default();
    assert_eq!(statuses.len(), 2, "no Package#3 after END: {}", ctx());
    let s1 = &statuses[0];
    let s2 = &statuses[1];
    // HGET+CU, HGET, HPUT, HPOST, DELETE permanent, DELETE dynamic instance, EXEC sync, CONT.
    assert_eq!(codes(s1), [200, 200, 200, 200, 405, 200, 200, 200].map(|c| json!(c)), "{}", ctx());
    assert_eq!(s1[1]["URI"], json!([format!("{TEST}/t2/")]), "HGET without ClientURI: {}", ctx());
    assert_eq!(r["hget_locations"], json!([format!("{TEST}/t2/")]), "the server took the location: {}", ctx());
    // EXEC with ServerURI, GET, GET, SHOW, DEFAULT, CONT.
    assert_eq!(codes(s2), [202, 200, 200, 200, 200, 200].map(|c| json!(c)), "{}", ctx());
    assert_eq!(got(&s2[1]), json!({ "OpCount": "1" }), "synchronous EXEC ran once: {}", ctx());
    // The FUMO operation runs after the session (issue 10): in it, State shows the EXEC's edge
    // of fig 10.2, 10 → 30 (Download Progressing).
    assert_eq!(got(&s2[2]), json!({ "State": "30" }), "EXEC of DownloadAndUpdate accepted: {}", ctx());
    assert_eq!(s2[1]["MOS"][0]["ClientURI"], format!("{TEST}/t0/OpCount"), "{}", ctx());

    // The asynchronous EXEC result, delivered in the second session's Package#1.
    let results = r["exec_results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1, "{}", ctx());
    assert_eq!(results[0]["exec"], json!(["EXEC", dl_update, srv.dm_url]), "{}", ctx());
    assert_eq!(results[0]["package"], "Package#1", "{}", ctx());
    let alert = &results[0]["alert"];
    assert_eq!(alert["AlertType"], "org.openmobilealliance.dm.firmwareupdate.downloadandupdate", "{}", ctx());
    assert_eq!(alert["SourceURI"], dl_update.as_str(), "{}", ctx());
    assert_eq!(alert["Mark"], "informational", "{}", ctx());
    assert_eq!((&alert["DataType"], &alert["Data"]), (&json!("int"), &json!({ "DM1x": 200 })), "{}", ctx());
    assert_eq!(r["package1"][1]["Alert"][0]["AlertType"], ALERT_CLIENT_INITIATED, "{}", ctx());
    assert_eq!(r["ignored_alerts"], json!([]), "{}", ctx());

    // What the repository / web server saw.
    let put = repo.at("PUT", "/repo/upload");
    let post = repo.at("POST", "/repo/upload");
    assert_eq!((put.len(), post.len()), (1, 1), "HPUT as PUT, HPOST as POST: {:#?}", repo.hits());
    assert_eq!(put[0].content_type, "application/json");
    assert_eq!(put[0].json()[0]["ClientURI"], format!("{DEVINFO}/d0/FwV"));
    assert_eq!(put[0].json()[0]["MOData"], json!({ "FwV": "1.0.0" }));
    assert_eq!(post[0].content_type, "application/json");
    assert_eq!(post[0].json()[0]["ClientURI"], format!("{TEST}/t0/Dyn"));
    assert_eq!(
        post[0].json()[0]["MOData"],
        json!({ "Dyn": { "Item1": { "Name": "alpha", "Val": "1" }, "Item2": { "Name": "beta", "Val": "2" } } })
    );
    assert_eq!(repo.at("GET", "/repo/pkgurl").len(), 1);
    assert_eq!(repo.at("GET", "/repo/new-test").len(), 1);
    assert_eq!(repo.at("GET", "/browser/page").len(), 1, "SHOW's browser GET: {:#?}", repo.hits());
    assert_eq!(repo.at("GET", PKG_PATH).len(), 1, "EXEC of DownloadAndUpdate downloaded: {:#?}", repo.hits());
    assert!(repo.at("GET", "/repo/default-config").is_empty(), "DEFAULT alone fetches nothing");

    // ---- The client uses the DEFAULT URI when configuration the tree lacks is needed,
    // silently (no DM session); configuration it has is not fetched.
    let cfg = ut_done(&http, &cli.ut_url, "config.request", json!({ "moid": FUMO })).await?;
    assert_eq!(cfg["fetched"], false, "{cfg}");
    let cfg = ut_done(&http, &cli.ut_url, "config.request", json!({ "moid": CONFIG })).await?;
    assert_eq!(cfg["fetched"], true, "{cfg}");
    assert_eq!(cfg["uri"], repo.url("/repo/default-config"), "{cfg}");
    assert_eq!(cfg["result"]["sc"], 200, "{cfg}");
    assert_eq!(cfg["result"]["URI"], json!([format!("{CONFIG}/cfg-3/")]), "{cfg}");
    assert_eq!(repo.at("GET", "/repo/default-config").len(), 1, "{:#?}", repo.hits());
    wait_idle(&http, &cli.ut_url, "client").await?;

    // ---- Session 3: read the client's state back.
    let check = json!([
        ["GET", pkg_url],
        ["GET", format!("{TEST}/t2/")],
        ["GET", format!("{CONFIG}/cfg-3/Name")],
        ["GET", format!("{TEST}/t1/")],
        ["GET", format!("{TEST}/t0/Perm")],
        ["CONT"],
    ]);
    ut_done(&http, &srv.ut_url, "commands.enqueue", json!({ "dev_id": DEV, "commands": check })).await?;
    let sent2 = ut_done(&http, &srv.ut_url, "notification.send", json!({ "dev_id": DEV, "req_mos": true })).await?;
    assert_eq!(sent2["http_status"], 204, "{sent2}");
    assert_ne!(sent2["notification_id"], sent["notification_id"]);
    wait_idle(&http, &cli.ut_url, "client").await?;
    wait_idle(&http, &srv.ut_url, "server").await?;
    let r = ut_done(&http, &srv.ut_url, "device.report", json!({ "dev_id": DEV })).await?;
    let ctx = || format!("{r:#}\n{}", dump(&cli, &srv));
    assert_eq!(r["errors"], json!([]), "{}", ctx());
    let sessions = r["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 3, "{}", ctx());
    assert_eq!(sessions[2]["alert_type"], ALERT_SERVER_INITIATED, "{}", ctx());
    assert_eq!(sessions[2]["notification_id"], sent2["notification_id"], "{}", ctx());
    assert_eq!(sessions[2]["notification_matched"], true, "{}", ctx());
    assert_eq!(sessions[2]["end"], "END sent", "{}", ctx());
    // MOS now lists the HGET-created t2 and the DEFAULT-created cfg-3, not the deleted t1.
    let mos = &r["package1"][2]["MOS"];
    assert_eq!(&r["mos"], mos, "the server keeps the last MOS list: {}", ctx());
    assert_eq!(miids(TEST, mos), json!(["t0", "t2"]), "{}", ctx());
    assert_eq!(miids(FUMO, mos), json!(["fw-main"]), "{}", ctx());
    assert_eq!(miids(CONFIG, mos), json!(["cfg-3"]), "{}", ctx());
    let statuses = r["statuses"].as_array().cloned().unwrap_or_default();
    assert_eq!(statuses.len(), 3, "{}", ctx());
    let s3 = &statuses[2];
    assert_eq!(codes(s3), [200, 200, 200, 404, 200, 200].map(|c| json!(c)), "{}", ctx());
    assert_eq!(got(&s3[0]), json!({ "PkgURL": repo.url(PKG_PATH) }), "HGET with ClientURI stored: {}", ctx());
    assert_eq!(got(&s3[1]), json!({ "Test": { "Name": "fetched", "Val": "42" } }), "{}", ctx());
    assert_eq!(got(&s3[2]), json!({ "Name": "from-default" }), "{}", ctx());
    assert_eq!(got(&s3[4]), json!({ "Perm": "permanent" }), "the refused DELETE kept it: {}", ctx());
    assert_eq!(r["exec_results"].as_array().map(Vec::len), Some(1), "{}", ctx());

    // Nothing else reached the repository.
    assert_eq!(repo.hits().len(), 7, "{:#?}", repo.hits());

    bounded("client shutdown", cli.shutdown()).await?;
    bounded("server shutdown", srv.shutdown()).await?;
    Ok(())
}

/// Registers the client's DevID with its notification address and credentials.
async fn done_register(http: &reqwest::Client, srv: &RunningServer, cli: &RunningClient) -> Result<(), String> {
    let args = json!({
        "dev_id": DEV,
        "credentials": null,
        "notification": { "address": cli.notify_url, "secret": SECRET, "auth_data": AUTH_DATA },
    });
    let d = ut_done(http, &srv.ut_url, "device.register", args).await?;
    assert_eq!(d["dev_id"], DEV);
    Ok(())
}
