//! Interop pairs: a client IUT and a server IUT talking to each other through the suite's
//! relay, like an interop runner. The relay takes the suite's place at the client's DM server
//! URL (its ICS's `[pixit.suite] listen`, free once the client's own run has ended) and
//! forwards every request to the server IUT (`[pixit.iut] server_uri`) and every answer back,
//! naming itself in the answers where the server names its own address (CONT), so the whole
//! session passes through it. Each message is judged in isolation, both ways, by the binding's
//! built-in checks that need nothing but the message and the package it answers:
//!
//! - client → server, the session's first request (Package#1): `package1-valid`,
//!   `generic-alerts-valid`;
//! - client → server, after a Package#2 without END (Package#3): `package3-valid`,
//!   `status-matches-commands` (against the Package#2 it answers), `generic-alerts-valid`;
//! - server → client (Package#2): `package2-valid`;
//! - server → client, the notification (Package#0) the server built: `notification-conformant`
//!   for every SCR item of the server role, `notification-digest-valid` (with the client's
//!   notification credentials); the Package#1 of the session it opens also
//!   `session-alert` server-initiated with its NOTIFICATION-ID.
//!
//! The scenario is driven through the two upper testers, in two sessions. First the server
//! registers the client's device (`device.register`, notification address `null`) and queues
//! `GET DevID, CONT, GET DevID` for it (`commands.enqueue`); the client opens a session
//! (`session.start`). Then the server queues the same again and sends a notification
//! (`notification.send`, NOTIFICATION-ID [`NOTIFICATION_ID`]); the relay takes its bytes from the
//! answer (`data.bytes_b64`), checks them, and hands them to the client (`notification.deliver`,
//! or a POST to the client's PIXIT `notification.url` when its transport is `http`), which
//! opens the session the notification asks for. The pair passes when both sessions run to END
//! with every message passing its checks; it fails on a check that does not hold or a session
//! that does not end; it is inconclusive when an upper tester could not set the scenario up.
use super::board::PairRow;
use super::roster::RosterIut;
use crate::binding::{Binding, Commands};
use crate::runner::checks::{CheckCtx, Observed};
use crate::upper_tester::{action, UpperTester, UtRequest, UtStatus};
use crate::verdict::Verdict;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The NOTIFICATION-ID of the pair's notification.
pub const NOTIFICATION_ID: u16 = 4242;

/// One check of one relayed message.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub check: String,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

/// One relayed message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub n: usize,
    /// `client → server` or `server → client`.
    pub direction: &'static str,
    /// What the relay took it for: Package#1, Package#2, Package#3, or `other`.
    pub kind: String,
    pub method: Option<String>,
    pub target: String,
    pub status: Option<u16>,
    pub body: String,
    pub checks: Vec<CheckOutcome>,
}

/// What a pair run produced.
#[derive(Debug, Clone, Serialize)]
pub struct PairResult {
    pub client: String,
    pub server: String,
    pub verdict: Verdict,
    pub reason: String,
    pub messages: Vec<Message>,
    /// Upper-tester calls and what they answered.
    pub steps: Vec<String>,
}

impl PairResult {
    pub fn checks_failed(&self) -> usize {
        self.messages.iter().flat_map(|m| &m.checks).filter(|c| !c.passed).count()
    }

    pub fn file_stem(&self) -> String {
        format!("{}__{}", self.client, self.server)
    }

    pub fn row(&self) -> PairRow {
        PairRow {
            client: self.client.clone(),
            server: self.server.clone(),
            verdict: Some(self.verdict),
            reason: Some(self.reason.clone()),
            messages: self.messages.len(),
            checks_failed: self.checks_failed(),
            trace: Some(format!("pairs/{}.txt", self.file_stem())),
        }
    }

    /// The pair's trace for humans.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} pair {} (client) × {} (server)\nreason: {}\n\nupper tester:\n",
            self.verdict.as_str().to_uppercase(),
            self.client,
            self.server,
            self.reason
        );
        for s in &self.steps {
            out.push_str(&format!("  {s}\n"));
        }
        out.push_str("\nrelayed messages:\n");
        for m in &self.messages {
            let head = match (&m.method, m.status) {
                (Some(meth), _) => format!("{meth} {}", m.target),
                (None, Some(st)) => format!("{st} answer to {}", m.target),
                _ => m.target.clone(),
            };
            out.push_str(&format!("\n#{} {} {} — {}\n", m.n, m.direction, m.kind, head));
            for c in &m.checks {
                if c.passed {
                    out.push_str(&format!("  check {}: ok\n", c.check));
                } else {
                    out.push_str(&format!(
                        "  check {}: FAILED — expected {}, actual {}\n",
                        c.check,
                        c.expected.as_deref().unwrap_or("?"),
                        c.actual.as_deref().unwrap_or("?")
                    ));
                }
            }
            out.push_str(&format!("  body: {}\n", m.body));
        }
        out
    }
}

struct Relay {
    binding: Arc<dyn Binding>,
    /// The client's DM server URL (the relay's address as the client knows it).
    client_url: String,
    /// The server IUT's DM endpoint.
    server_uri: String,
    server_origin: String,
    relay_origin: String,
    http: reqwest::Client,
    log: Mutex<RelayLog>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct RelayLog {
    messages: Vec<Message>,
    /// The commands of the last Package#2 that did not end the session.
    pending: Option<Commands>,
    sessions_ended: usize,
    /// The NOTIFICATION-ID the next Package#1 must echo (a session the notification opened).
    notified: Option<u16>,
}

fn origin_of(url: &str) -> String {
    match url.find("://").map(|i| i + 3) {
        Some(start) => match url[start..].find('/') {
            Some(slash) => url[..start + slash].to_string(),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn path_of(url: &str) -> String {
    let origin = origin_of(url);
    let p = &url[origin.len()..];
    if p.is_empty() {
        "/".into()
    } else {
        p.to_string()
    }
}

fn outcome(name: &str, r: Option<Result<(), crate::runner::checks::Failure>>) -> CheckOutcome {
    match r {
        Some(Ok(())) => CheckOutcome { check: name.to_string(), passed: true, expected: None, actual: None },
        Some(Err(f)) => {
            CheckOutcome { check: name.to_string(), passed: false, expected: Some(f.expected), actual: Some(f.actual) }
        }
        None => CheckOutcome {
            check: name.to_string(),
            passed: false,
            expected: Some(format!("a built-in check {name} of the IUTs' binding")),
            actual: Some("none".into()),
        },
    }
}

fn run_checks(binding: &dyn Binding, names: &[&str], obs: &Observed, ctx: &CheckCtx) -> Vec<CheckOutcome> {
    let args = toml::Table::new();
    names.iter().map(|name| outcome(name, binding.run_builtin(name, &args, obs, ctx))).collect()
}

/// The checks of a notification the server built: conformance for every server SCR item
/// (problems are charged to items; one outcome lists them all) and the digest.
fn notification_checks(
    binding: &dyn Binding,
    registry: &crate::scr::Registry,
    bytes: &[u8],
    credentials: Option<&crate::runner::checks::Credentials>,
) -> Vec<CheckOutcome> {
    let json = match binding.decode_notification(bytes) {
        Ok(j) => j,
        Err(e) => {
            return vec![CheckOutcome {
                check: "notification-decodes".into(),
                passed: false,
                expected: Some(format!("a notification: byte {}: {}", e.offset, e.expected)),
                actual: Some(e.found),
            }]
        }
    };
    let obs = Observed::Notification { bytes, json: &json };
    let ctx = CheckCtx { last_commands: None, credentials, saved: None };
    let mut problems = Vec::new();
    for item in registry.items_of(crate::scr::Role::Server) {
        let mut args = toml::Table::new();
        args.insert("item".into(), item.id.clone().into());
        if let Some(Err(f)) = binding.run_builtin("notification-conformant", &args, &obs, &ctx) {
            problems.push(format!("{}: {}", item.id, f.actual));
        }
    }
    let conformant = if problems.is_empty() {
        CheckOutcome { check: "notification-conformant".into(), passed: true, expected: None, actual: None }
    } else {
        CheckOutcome {
            check: "notification-conformant".into(),
            passed: false,
            expected: Some("a notification without problems charged to any server SCR item".into()),
            actual: Some(problems.join("; ")),
        }
    };
    let mut out = vec![conformant];
    if credentials.is_some() {
        out.push(outcome(
            "notification-digest-valid",
            binding.run_builtin("notification-digest-valid", &toml::Table::new(), &obs, &ctx),
        ));
    }
    out
}

async fn relay(State(r): State<Arc<Relay>>, req: Request) -> Response {
    let method = req.method().clone();
    let path_q = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length" | "connection" | "transfer-encoding"))
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = axum::body::to_bytes(req.into_body(), 16 << 20).await.unwrap_or_default();
    // Where it goes: the client's DM server path maps onto the server's DM endpoint; anything
    // else keeps its path on the server's origin.
    let client_path = path_of(&r.client_url);
    let target = match path_q.strip_prefix(client_path.trim_end_matches('/')) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => {
            format!("{}{rest}", r.server_uri.trim_end_matches('/'))
        }
        _ => format!("{}{path_q}", r.server_origin),
    };
    // Judge the request.
    let is_package = method == axum::http::Method::POST;
    let (kind, checks) = {
        let log = r.log.lock().unwrap_or_else(|p| p.into_inner());
        let obs = Observed::Http {
            status: None,
            method: Some(method.as_str()),
            path: Some(&path_q),
            headers: &headers,
            body: &body,
        };
        match (is_package, &log.pending) {
            (false, _) => ("other".to_string(), Vec::new()),
            (true, None) => {
                let ctx = CheckCtx { last_commands: None, credentials: None, saved: None };
                let mut checks =
                    run_checks(r.binding.as_ref(), &["package1-valid", "generic-alerts-valid"], &obs, &ctx);
                // The session the notification asked for: announced as such, echoing its id.
                if let Some(id) = log.notified {
                    let mut args = toml::Table::new();
                    args.insert("type".into(), "server-initiated".into());
                    args.insert("notification_id".into(), i64::from(id).into());
                    checks.push(outcome("session-alert", r.binding.run_builtin("session-alert", &args, &obs, &ctx)));
                }
                ("Package#1".to_string(), checks)
            }
            (true, Some(cmds)) => {
                let ctx = CheckCtx { last_commands: Some(cmds), credentials: None, saved: None };
                let names = ["package3-valid", "status-matches-commands", "generic-alerts-valid"];
                ("Package#3".to_string(), run_checks(r.binding.as_ref(), &names, &obs, &ctx))
            }
        }
    };
    {
        let mut log = r.log.lock().unwrap_or_else(|p| p.into_inner());
        if is_package && log.pending.is_none() {
            log.notified = None;
        }
        let n = log.messages.len() + 1;
        log.messages.push(Message {
            n,
            direction: "client → server",
            kind,
            method: Some(method.to_string()),
            target: target.clone(),
            status: None,
            body: crate::trace::body_for_trace(&body),
            checks,
        });
    }
    r.changed.notify_waiters();
    let mut fwd = r.http.request(method.clone(), &target).body(body.to_vec());
    for (k, v) in &headers {
        fwd = fwd.header(k, v);
    }
    let answer = match fwd.send().await {
        Ok(a) => a,
        Err(e) => {
            let mut log = r.log.lock().unwrap_or_else(|p| p.into_inner());
            let n = log.messages.len() + 1;
            log.messages.push(Message {
                n,
                direction: "server → client",
                kind: "none".into(),
                method: None,
                target: target.clone(),
                status: None,
                body: format!("(the server IUT did not answer: {e})"),
                checks: vec![CheckOutcome {
                    check: "server-answers".into(),
                    passed: false,
                    expected: Some("an HTTP answer from the server IUT".into()),
                    actual: Some(e.to_string()),
                }],
            });
            drop(log);
            r.changed.notify_waiters();
            return (axum::http::StatusCode::BAD_GATEWAY, "the server IUT did not answer").into_response();
        }
    };
    let status = answer.status().as_u16();
    let resp_headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "content-length" | "connection" | "transfer-encoding"))
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let resp_body = answer.bytes().await.unwrap_or_default();
    {
        let mut log = r.log.lock().unwrap_or_else(|p| p.into_inner());
        let answers_package = is_package && status == 200;
        let (kind, checks) = if answers_package {
            let obs = Observed::Http {
                status: Some(status),
                method: None,
                path: None,
                headers: &resp_headers,
                body: &resp_body,
            };
            let ctx = CheckCtx { last_commands: None, credentials: None, saved: None };
            let checks = run_checks(r.binding.as_ref(), &["package2-valid"], &obs, &ctx);
            match r.binding.parse_server_package(&resp_body) {
                Some(p) if !p.ends_session => log.pending = Some(p.commands),
                _ => {
                    log.pending = None;
                    log.sessions_ended += 1;
                }
            }
            ("Package#2".to_string(), checks)
        } else {
            if is_package {
                // A refused package ends the exchange: nothing answers it.
                log.pending = None;
                log.sessions_ended += 1;
            }
            ("other".to_string(), Vec::new())
        };
        let n = log.messages.len() + 1;
        log.messages.push(Message {
            n,
            direction: "server → client",
            kind,
            method: None,
            target: target.clone(),
            status: Some(status),
            body: crate::trace::body_for_trace(&resp_body),
            checks,
        });
    }
    r.changed.notify_waiters();
    // Where the server names itself (CONT), the client must keep talking to the relay.
    let text = String::from_utf8_lossy(&resp_body)
        .replace(&r.server_uri, &r.client_url)
        .replace(&r.server_origin, &r.relay_origin);
    let mut out = Response::builder().status(status);
    for (k, v) in &resp_headers {
        out = out.header(k, v);
    }
    out.body(Body::from(text)).unwrap_or_else(|_| axum::http::StatusCode::BAD_GATEWAY.into_response())
}

async fn ut_call(
    ut: &UpperTester,
    who: &str,
    action: &str,
    args: serde_json::Value,
    steps: &mut Vec<String>,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let req = UtRequest { action: action.into(), case: "PAIR".into(), step: steps.len() + 1, args };
    match ut.call(&req, timeout).await {
        Ok(a) if a.status == UtStatus::Done => {
            let data = if a.data.is_null() { String::new() } else { format!(" {}", a.data) };
            steps.push(format!("{who} {action}: done{data}"));
            Ok(a.data)
        }
        Ok(a) => {
            let s = format!("{who} {action}: {:?} {}", a.status, a.message);
            steps.push(s.clone());
            Err(s)
        }
        Err(e) => {
            let s = format!("{who} {action}: no answer ({e})");
            steps.push(s.clone());
            Err(s)
        }
    }
}

/// Runs the pair scenario between `client` and `server` through a relay at the client's
/// suite address.
pub async fn run_pair(
    client: &RosterIut,
    server: &RosterIut,
    registry: &crate::scr::Registry,
    report_dir: &Path,
) -> PairResult {
    let mut steps = Vec::new();
    let result = |verdict: Verdict, reason: String, messages: Vec<Message>, steps: Vec<String>| PairResult {
        client: client.name.clone(),
        server: server.name.clone(),
        verdict,
        reason,
        messages,
        steps,
    };
    let (cics, sics) = (&client.ics, &server.ics);
    let listen: SocketAddr = cics.pixit.suite.listen;
    let client_url = crate::peers::listener::pixit_server_url(
        cics.pixit.suite.server_url.as_deref(),
        cics.pixit.suite.base_url.as_deref(),
    )
    .unwrap_or_else(|| format!("http://{listen}/dm"));
    let Some(server_uri) = sics.pixit.iut.server_uri.clone() else {
        return result(
            Verdict::Error,
            format!("server {}: its ICS has no [pixit.iut] server_uri", server.name),
            vec![],
            steps,
        );
    };
    let binding = match crate::binding::configured(&cics.iut.binding, &cics.profile) {
        Some(b) => b,
        None => return result(Verdict::Error, format!("binding {:?} unknown", cics.iut.binding), vec![], steps),
    };
    let uts = (
        UpperTester::from_config(&cics.pixit.upper_tester, cics.path.parent().unwrap_or(Path::new("."))),
        UpperTester::from_config(&sics.pixit.upper_tester, sics.path.parent().unwrap_or(Path::new("."))),
    );
    let (cut, sut) = match uts {
        (Ok(c), Ok(s)) => (c, s),
        (Err(e), _) | (_, Err(e)) => return result(Verdict::Error, format!("upper tester: {e}"), vec![], steps),
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => return result(Verdict::Error, format!("the relay cannot bind {listen}: {e}"), vec![], steps),
    };
    let relay = Arc::new(Relay {
        binding,
        client_url: client_url.clone(),
        server_origin: origin_of(&server_uri),
        server_uri,
        relay_origin: origin_of(&client_url),
        http: reqwest::Client::builder().no_proxy().timeout(cics.pixit.timeouts.step()).build().unwrap_or_default(),
        log: Mutex::default(),
        changed: tokio::sync::Notify::new(),
    });
    let app = axum::Router::new().fallback(relay_handler).with_state(relay.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    let step = cics.pixit.timeouts.step().max(sics.pixit.timeouts.step());
    let dev_id = cics.pixit.iut.dev_id.clone().unwrap_or_default();
    let devid = "urn:oma:mo:oma-dm-devinfo:1.0//DevID";
    let queue = serde_json::json!({ "dev_id": dev_id, "commands": [["GET", devid], ["CONT"], ["GET", devid]] });
    let credentials = match (&cics.pixit.notification.secret, &cics.pixit.notification.auth_data) {
        (Some(s), Some(a)) => {
            Some(crate::runner::checks::Credentials { secret: s.as_bytes().to_vec(), auth_data: a.as_bytes().to_vec() })
        }
        _ => None,
    };
    // Until `sessions` sessions have ended (and a quiet moment after, for a package sent
    // after END), or the client's case timeout.
    let wait_sessions = |sessions: usize| {
        let relay = relay.clone();
        let (case, quiet) = (cics.pixit.timeouts.case(), cics.pixit.timeouts.quiet_period());
        async move {
            let deadline = tokio::time::Instant::now() + case;
            loop {
                let notified = relay.changed.notified();
                if relay.log.lock().unwrap_or_else(|p| p.into_inner()).sessions_ended >= sessions {
                    tokio::time::sleep(quiet).await;
                    return true;
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    return false;
                }
            }
        }
    };
    let mut ended = 0usize;
    let scenario = async {
        let _ = ut_call(&sut, "server", action::RESET, serde_json::json!({}), &mut steps, step).await;
        let _ = ut_call(&cut, "client", action::RESET, serde_json::json!({}), &mut steps, step).await;
        let register = serde_json::json!({
            "dev_id": dev_id,
            "notification": {
                "address": null,
                "secret": cics.pixit.notification.secret,
                "auth_data": cics.pixit.notification.auth_data,
            },
        });
        // No HTTP credentials: a pair judges the DM messages both ways; HTTP authentication is
        // the conformance runs' business (table DM-SEC), and its 401 rounds are not packages.
        ut_call(&sut, "server", action::DEVICE_REGISTER, register, &mut steps, step).await?;
        // Session 1: client-initiated.
        ut_call(&sut, "server", action::COMMANDS_ENQUEUE, queue.clone(), &mut steps, step).await?;
        ut_call(&cut, "client", action::SESSION_START, serde_json::json!({}), &mut steps, step).await?;
        if !wait_sessions(1).await {
            return Ok(());
        }
        ended = 1;
        // Session 2: opened by the server's notification.
        ut_call(&sut, "server", action::COMMANDS_ENQUEUE, queue.clone(), &mut steps, step).await?;
        let send = serde_json::json!({ "dev_id": dev_id, "req_mos": false, "notification_id": NOTIFICATION_ID });
        let data = ut_call(&sut, "server", action::NOTIFICATION_SEND, send, &mut steps, step).await?;
        let bytes = data
            .get("bytes_b64")
            .and_then(|b| b.as_str())
            .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
            .ok_or_else(|| "server notification.send: the answer has no data.bytes_b64 to relay".to_string())?;
        {
            let mut log = relay.log.lock().unwrap_or_else(|p| p.into_inner());
            let n = log.messages.len() + 1;
            let checks = notification_checks(relay.binding.as_ref(), registry, &bytes, credentials.as_ref());
            log.messages.push(Message {
                n,
                direction: "server → client",
                kind: "Package#0".into(),
                method: None,
                target: "notification.send → notification.deliver".into(),
                status: None,
                body: hex::encode(&bytes),
                checks,
            });
            log.notified = Some(NOTIFICATION_ID);
        }
        match &cics.pixit.notification {
            crate::ics::NotificationPixit {
                transport: crate::ics::NotificationTransport::Http,
                url: Some(url),
                ..
            } => {
                let posted = relay
                    .http
                    .post(url)
                    .header("content-type", relay.binding.notification_media_type())
                    .body(bytes.clone())
                    .send()
                    .await;
                steps.push(match posted {
                    Ok(a) => format!("relay POST {url}: {}", a.status()),
                    Err(e) => format!("relay POST {url}: {e}"),
                });
            }
            _ => {
                let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
                let args = serde_json::json!({ "bytes_b64": b64 });
                ut_call(&cut, "client", action::NOTIFICATION_DELIVER, args, &mut steps, step).await?;
            }
        }
        if wait_sessions(2).await {
            ended = 2;
        }
        Ok::<(), String>(())
    };
    let set_up = scenario.await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    let messages = relay.log.lock().unwrap_or_else(|p| p.into_inner()).messages.clone();
    let first_failure = messages.iter().find_map(|m| {
        m.checks.iter().find(|c| !c.passed).map(|c| {
            format!(
                "message #{} ({} {}): check {} expected {}, actual {}",
                m.n,
                m.direction,
                m.kind,
                c.check,
                c.expected.as_deref().unwrap_or("?"),
                c.actual.as_deref().unwrap_or("?")
            )
        })
    });
    // A Package#3 right after the Package#2 that ended the session (the relay took it for a new
    // session's Package#1, as no commands were pending): statuses, no session alert.
    let after_end = messages.windows(2).find_map(|w| {
        let ended = w[0].kind == "Package#2" && w[0].body.contains(r#""END""#);
        let body: serde_json::Value = serde_json::from_str(&w[1].body).unwrap_or_default();
        let p3 = w[1].kind == "Package#1" && body.get("Status").is_some() && body.get("Alert").is_none();
        (ended && p3).then_some(w[1].n)
    });
    // A client accepts notifications only from its account's server (SERVER-ID).
    let srv_id_note = match (&cics.pixit.account.server_id, &sics.pixit.account.server_id) {
        (c, s) if ended == 1 && c != s => format!(
            "; note: the client's account names SERVER-ID {c:?}, the server's ICS {s:?}: a client ignores a \
             notification from a server that is not its account's"
        ),
        _ => String::new(),
    };
    let (verdict, reason) = if let Some(f) = first_failure {
        (Verdict::Fail, f)
    } else if let Some(n) = after_end {
        (Verdict::Fail, format!("message #{n}: the client sent a package after the Package#2 that ended the session"))
    } else if let Err(e) = set_up {
        (Verdict::Inconc, format!("the scenario could not be set up: {e}"))
    } else if ended < 2 {
        (
            Verdict::Fail,
            format!(
                "session {} ({}) did not end within the client's case timeout ({} message(s) relayed)",
                ended + 1,
                if ended == 0 { "client-initiated" } else { "opened by the notification" },
                messages.len()
            ) + &srv_id_note,
        )
    } else {
        let n = messages.len();
        (Verdict::Pass, format!("{n} message(s) relayed in 2 sessions, every check held, both sessions ended"))
    };
    let out = result(verdict, reason, messages, steps);
    let dir = report_dir.join(super::PAIRS_DIR);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{}.txt", out.file_stem())), out.text());
    let _ = std::fs::write(
        dir.join(format!("{}.json", out.file_stem())),
        serde_json::to_string_pretty(&out).unwrap_or_default(),
    );
    out
}

async fn relay_handler(state: State<Arc<Relay>>, req: Request) -> Response {
    relay(state, req).await
}
