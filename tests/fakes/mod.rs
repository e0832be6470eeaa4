//! Small fake IUTs for the integration tests of issue 8: implementations the suite did not
//! write, each with switchable faults, on 127.0.0.1 only.
//!
//! [`FakeClient`] is a minimal DM 2.0 client behind an HTTP upper tester (axum): `session.start`
//! makes it POST Package#1 to the DM server URL of its account, process the commands of each
//! Package#2 (HGET, HPUT, END; anything else gets 200) against a tiny tree, and answer with
//! Package#3 until END. It answers `reset`, `idle` and `iut.state` too. It is deliberately not
//! the reference client: the suite must judge an implementation it did not write.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use dmcts::upper_tester::{UtAnswer, UtRequest};
use dmcts::wire::dm2::{ALERT_CLIENT_INITIATED, MEDIA_PACKAGE1, MEDIA_PACKAGE2, MEDIA_PACKAGE3};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// No exchange of a fake may take longer than this.
pub const FAKE_BOUND: Duration = Duration::from_secs(30);

/// How the fake tells the suite that its process has ended (after a crash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExitReport {
    /// `iut.state` is answered `{"status":"done","data":{"state":"exited","detail":"SIGSEGV"}}`.
    #[default]
    IutState,
    /// Every answer, `iut.state` included, is `failed` with `data.iut_state = "exited"` (an
    /// upper tester that wraps a dead process and says so the same way to every action).
    IutStateField,
}

/// The faults of the fake client; the default is a correct client.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// HGET fetches the data and reports 200, but stores nothing.
    pub hget_not_stored: bool,
    /// The process crashes (SIGSEGV) on an HGET without a ClientURI: no status, no more traffic.
    pub crash_on_hget_without_client_uri: bool,
    /// After a Package#2 without END the session is dropped: no Package#3 ever.
    pub no_package3: bool,
    /// Package#1 and Package#3 carry no OMADM-DevID header.
    pub devid_missing: bool,
    /// Package#3 is sent as application/json.
    pub p3_media_type_json: bool,
    /// After a Package#2 with END, one Package#3 is sent anyway, `stray_delay_ms` later.
    pub stray_p3_after_end: bool,
    pub stray_delay_ms: u64,
    /// Package#1 carries this many bytes of padding (whitespace) after its JSON.
    pub package1_padding: usize,
    /// `iut.state` is answered `unsupported` (the IUT cannot tell).
    pub no_iut_state: bool,
    pub exit_report: ExitReport,
    /// Once crashed, a reset does not bring the process back.
    pub stays_dead: bool,
}

/// What the fake saw and did.
#[derive(Default)]
pub struct FakeState {
    pub faults: Faults,
    /// The DM server URL of the account the client holds (where it POSTs Package#1).
    pub account_url: Option<String>,
    pub dev_id: String,
    /// ClientURI → MOData (what HPUT uploads).
    pub tree: BTreeMap<String, Value>,
    /// Sessions in progress.
    pub busy: usize,
    /// Set when the process has "crashed": the detail the upper tester reports.
    pub exited: Option<String>,
    /// Upper-tester actions received, in order.
    pub calls: Vec<String>,
    /// Every POST of Package#1/#3: (url, HTTP status or transport error, answer body).
    pub posts: Vec<(String, Result<u16, String>, String)>,
    /// Commands processed, in order (command name and its first argument).
    pub processed: Vec<(String, String)>,
    /// Sessions that ended (by END, an error answer, a fault), with why.
    pub session_ends: Vec<String>,
    pub instances: usize,
}

#[derive(Clone)]
pub struct FakeClient(pub Arc<Mutex<FakeState>>);

impl FakeClient {
    pub fn new(dev_id: &str, faults: Faults) -> FakeClient {
        let st = FakeState { faults, dev_id: dev_id.to_string(), ..Default::default() };
        let f = FakeClient(Arc::new(Mutex::new(st)));
        f.reset_tree();
        f
    }

    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    pub fn set_account_url(&self, url: &str) {
        self.lock().account_url = Some(url.to_string());
    }

    pub fn posts(&self) -> Vec<(String, Result<u16, String>, String)> {
        self.lock().posts.clone()
    }

    pub fn processed(&self) -> Vec<(String, String)> {
        self.lock().processed.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Waits (bounded) until no session of the fake is in progress.
    pub async fn wait_idle(&self) {
        let deadline = Instant::now() + FAKE_BOUND;
        while self.lock().busy > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (bounded) until the fake has made `n` POSTs of Package#1/#3.
    pub async fn wait_posts(&self, n: usize) -> Vec<(String, Result<u16, String>, String)> {
        let deadline = Instant::now() + FAKE_BOUND;
        loop {
            let p = self.posts();
            if p.len() >= n || Instant::now() > deadline {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn reset_tree(&self) {
        let mut st = self.lock();
        let dev_id = st.dev_id.clone();
        st.tree.clear();
        st.tree.insert("urn:oma:mo:oma-dm-devinfo:1.0//DevID".into(), json!({ "DevID": dev_id }));
        st.tree.insert("urn:oma:mo:oma-dm-devinfo:1.0/d0/".into(), json!({ "DevInfo": { "DevID": dev_id } }));
        st.tree.insert("urn:oma:mo:dmcts-test:1.0/t0/Scratch".into(), json!({ "Scratch": "fake-initial" }));
    }

    /// Starts the fake's upper tester on 127.0.0.1; returns its URL.
    pub async fn start(&self) -> String {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake upper tester");
        let addr = tcp.local_addr().expect("local addr");
        let app = axum::Router::new().route("/ut", axum::routing::post(ut)).with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        format!("http://{addr}/ut")
    }

    /// The answer every action gets once the process has ended, if it reports it that way.
    fn dead_answer(&self) -> Option<UtAnswer> {
        let st = self.lock();
        let detail = st.exited.clone()?;
        (st.faults.exit_report == ExitReport::IutStateField).then(|| UtAnswer {
            status: dmcts::upper_tester::UtStatus::Failed,
            message: "the DM client process is gone".into(),
            data: json!({ "iut_state": "exited", "detail": detail }),
        })
    }
}

async fn ut(State(fake): State<FakeClient>, body: Bytes) -> Json<UtAnswer> {
    let Ok(req) = serde_json::from_slice::<UtRequest>(&body) else {
        return Json(UtAnswer::failed("not an upper-tester request"));
    };
    fake.lock().calls.push(req.action.clone());
    if req.action != "reset" || fake.lock().faults.stays_dead {
        if let Some(a) = fake.dead_answer() {
            return Json(a);
        }
    }
    Json(match req.action.as_str() {
        "reset" => {
            // A restarted process: a fresh tree, no crash.
            fake.wait_idle().await;
            fake.lock().exited = None;
            fake.reset_tree();
            UtAnswer::done(Value::Null)
        }
        "session.start" => {
            if fake.lock().exited.is_some() {
                return Json(UtAnswer::failed("the DM client is not running"));
            }
            fake.lock().busy += 1;
            let f = fake.clone();
            tokio::spawn(async move { session(f).await });
            UtAnswer::done(json!({ "queued": true }))
        }
        "idle" => {
            fake.wait_idle().await;
            UtAnswer::done(Value::Null)
        }
        "iut.state" => {
            let st = fake.lock();
            if st.faults.no_iut_state {
                UtAnswer::unsupported("this fake cannot tell")
            } else if let Some(d) = &st.exited {
                UtAnswer::done(json!({ "state": "exited", "detail": d }))
            } else if st.busy > 0 {
                UtAnswer::done(json!({ "state": "running" }))
            } else {
                UtAnswer::done(json!({ "state": "idle" }))
            }
        }
        _ => UtAnswer::unsupported("this fake client does not do that"),
    })
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(FAKE_BOUND).build().expect("an HTTP client")
}

/// POSTs one package; returns the answer (status, content type, body) when there was one.
async fn post(fake: &FakeClient, f: &Faults, url: &str, media: &str, body: Vec<u8>) -> Option<(u16, String, Vec<u8>)> {
    let (dev_id, devid_missing) = (fake.lock().dev_id.clone(), f.devid_missing);
    let mut req = http().post(url).header("Content-Type", media).header("Accept", MEDIA_PACKAGE2).body(body);
    if !devid_missing {
        req = req.header("OMADM-DevID", dev_id);
    }
    let r = req.send().await;
    let out = match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let b = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            Ok((status, ct, b))
        }
        Err(e) => Err(e.to_string()),
    };
    let (rec, ret) = match out {
        Ok((s, ct, b)) => ((Ok(s), String::from_utf8_lossy(&b).into_owned()), Some((s, ct, b))),
        Err(e) => ((Err(e), String::new()), None),
    };
    fake.lock().posts.push((url.to_string(), rec.0, rec.1));
    ret
}

/// One client-initiated session, from Package#1 to END (or the first fault or error).
async fn session(fake: FakeClient) {
    // The faults as they were when the session started, whatever the test switches meanwhile.
    let faults = fake.lock().faults.clone();
    let why = run_rounds(&fake, &faults).await;
    let mut st = fake.lock();
    st.session_ends.push(why);
    st.busy = st.busy.saturating_sub(1);
}

async fn run_rounds(fake: &FakeClient, f: &Faults) -> String {
    let Some(mut url) = fake.lock().account_url.clone() else { return "no account URL".into() };
    let padding = f.package1_padding;
    let mut body =
        serde_json::to_vec(&json!({ "Alert": [ { "AlertType": ALERT_CLIENT_INITIATED } ] })).expect("Package#1");
    body.extend(std::iter::repeat_n(b' ', padding));
    let mut media = MEDIA_PACKAGE1;
    for _round in 0..5 {
        let Some((status, ct, reply)) = post(fake, f, &url, media, body).await else { return "transport error".into() };
        if status != 200 || !ct.starts_with(MEDIA_PACKAGE2) {
            return format!("aborted: HTTP {status} ({ct})");
        }
        let cmds: Vec<Vec<String>> = match serde_json::from_slice::<Value>(&reply) {
            Ok(v) => serde_json::from_value(v.get("CMD").cloned().unwrap_or(Value::Null)).unwrap_or_default(),
            Err(_) => return "aborted: Package#2 is not JSON".into(),
        };
        let mut statuses = Vec::new();
        let mut ended = false;
        for c in &cmds {
            let name = c.first().cloned().unwrap_or_default();
            fake.lock().processed.push((name.clone(), c.get(1).cloned().unwrap_or_default()));
            match name.as_str() {
                "HGET" => match hget(fake, f, c).await {
                    Some(st) => statuses.push(st),
                    None => return "crashed".into(),
                },
                "HPUT" => statuses.push(hput(fake, c).await),
                "END" => ended = true,
                "DELETE" => {
                    // The tree's permanent node cannot be deleted (405); others can.
                    let uri = c.get(1).cloned().unwrap_or_default();
                    let sc = if uri.ends_with("/Perm") {
                        405
                    } else if fake.lock().tree.remove(&uri).is_some() {
                        200
                    } else {
                        404
                    };
                    statuses.push(json!({ "sc": sc }));
                }
                "CONT" => {
                    if let Some(u) = c.get(1) {
                        url = u.clone();
                    }
                    statuses.push(json!({ "sc": 200 }));
                }
                _ => statuses.push(json!({ "sc": 200 })),
            }
        }
        let p3 = |statuses: Vec<Value>| serde_json::to_vec(&json!({ "Status": statuses })).expect("Package#3");
        let p3_media = if f.p3_media_type_json { "application/json" } else { MEDIA_PACKAGE3 };
        if ended {
            if f.stray_p3_after_end {
                tokio::time::sleep(Duration::from_millis(f.stray_delay_ms)).await;
                post(fake, f, &url, p3_media, p3(statuses)).await;
                return "END (then a stray Package#3)".into();
            }
            return "END".into();
        }
        if f.no_package3 {
            return "dropped without Package#3".into();
        }
        body = p3(statuses);
        media = p3_media;
    }
    "five rounds without END".into()
}

/// HGET: fetch the ServerURI and store each element; None when the process crashed.
async fn hget(fake: &FakeClient, f: &Faults, c: &[String]) -> Option<Value> {
    let (server_uri, client_uri) = (c.get(1).cloned().unwrap_or_default(), c.get(2).cloned());
    if client_uri.is_none() && f.crash_on_hget_without_client_uri {
        fake.lock().exited = Some("SIGSEGV".into());
        return None;
    }
    let r = http().get(&server_uri).header("Accept", "application/json").send().await;
    let Ok(r) = r else { return Some(json!({ "sc": 500 })) };
    if !r.status().is_success() {
        return Some(json!({ "sc": r.status().as_u16() }));
    }
    let doc: Value = match r.json().await {
        Ok(d) => d,
        Err(_) => return Some(json!({ "sc": 400 })),
    };
    let elements = doc.as_array().cloned().unwrap_or_default();
    let mut st = fake.lock();
    let mut created = Vec::new();
    for e in elements {
        let data = e.get("MOData").cloned().unwrap_or(Value::Null);
        let target = match &client_uri {
            Some(cu) => cu.clone(),
            None => {
                // A new instance of the element's MOID ("<moid>//"): the client picks the MIID.
                st.instances += 1;
                let moid = e.get("ClientURI").and_then(Value::as_str).unwrap_or_default().trim_end_matches('/');
                let uri = format!("{moid}/fake{}/", st.instances);
                created.push(uri.clone());
                uri
            }
        };
        if !f.hget_not_stored {
            st.tree.insert(target, data);
        }
    }
    Some(if client_uri.is_none() { json!({ "sc": 200, "URI": created }) } else { json!({ "sc": 200 }) })
}

/// HPUT: PUT the MO serialization of the ClientURIs to the ServerURI.
async fn hput(fake: &FakeClient, c: &[String]) -> Value {
    let server_uri = c.get(1).cloned().unwrap_or_default();
    let items: Vec<Value> = {
        let st = fake.lock();
        c.iter()
            .skip(2)
            .map(|cu| {
                let data = st.tree.get(cu).cloned().unwrap_or_else(|| json!({ "Empty": "" }));
                json!({ "ClientURI": cu, "MOData": data })
            })
            .collect()
    };
    let r = http()
        .put(&server_uri)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&items).unwrap_or_default())
        .send()
        .await;
    match r {
        Ok(r) if r.status().is_success() => json!({ "sc": 200 }),
        Ok(r) => json!({ "sc": r.status().as_u16() }),
        Err(_) => json!({ "sc": 500 }),
    }
}
