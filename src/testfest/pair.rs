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
//! - server → client (Package#2): `package2-valid`.
//!
//! The scenario is driven through the two upper testers: the server registers the client's
//! device and queues `GET DevID, CONT, GET DevID` for it (`device.register`,
//! `commands.enqueue`), then the client opens a session (`session.start`). The pair passes
//! when that session runs to END with every message passing its checks; it fails on a check
//! that does not hold or a session that does not end; it is inconclusive when an upper tester
//! could not set the scenario up.
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

fn run_checks(binding: &dyn Binding, names: &[&str], obs: &Observed, ctx: &CheckCtx) -> Vec<CheckOutcome> {
    let args = toml::Table::new();
    names
        .iter()
        .map(|name| match binding.run_builtin(name, &args, obs, ctx) {
            Some(Ok(())) => CheckOutcome { check: name.to_string(), passed: true, expected: None, actual: None },
            Some(Err(f)) => CheckOutcome {
                check: name.to_string(),
                passed: false,
                expected: Some(f.expected),
                actual: Some(f.actual),
            },
            None => CheckOutcome {
                check: name.to_string(),
                passed: false,
                expected: Some(format!("a built-in check {name} of binding {}", binding.name())),
                actual: Some("none".into()),
            },
        })
        .collect()
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
                (
                    "Package#1".to_string(),
                    run_checks(r.binding.as_ref(), &["package1-valid", "generic-alerts-valid"], &obs, &ctx),
                )
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
            steps.push(format!("{who} {action}: done"));
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
pub async fn run_pair(client: &RosterIut, server: &RosterIut, report_dir: &Path) -> PairResult {
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
    let setup = async {
        let _ = ut_call(&sut, "server", action::RESET, serde_json::json!({}), &mut steps, step).await;
        let _ = ut_call(&cut, "client", action::RESET, serde_json::json!({}), &mut steps, step).await;
        let mut register = serde_json::json!({
            "dev_id": dev_id,
            "notification": {
                "address": null,
                "secret": cics.pixit.notification.secret,
                "auth_data": cics.pixit.notification.auth_data,
            },
        });
        if let (Some(u), Some(p)) = (&cics.pixit.account.username, &cics.pixit.account.password) {
            register["credentials"] = serde_json::json!({ "username": u, "password": p });
        }
        ut_call(&sut, "server", action::DEVICE_REGISTER, register, &mut steps, step).await?;
        let devid = "urn:oma:mo:oma-dm-devinfo:1.0//DevID";
        let cmds = serde_json::json!({ "dev_id": dev_id, "commands": [["GET", devid], ["CONT"], ["GET", devid]] });
        ut_call(&sut, "server", action::COMMANDS_ENQUEUE, cmds, &mut steps, step).await?;
        ut_call(&cut, "client", action::SESSION_START, serde_json::json!({}), &mut steps, step).await?;
        Ok::<(), String>(())
    };
    let set_up = setup.await;
    // The session: until it ends (and a quiet moment after, for a package sent after END), or
    // the client's case timeout.
    let mut ended = false;
    if set_up.is_ok() {
        let deadline = tokio::time::Instant::now() + cics.pixit.timeouts.case();
        loop {
            let notified = relay.changed.notified();
            if relay.log.lock().unwrap_or_else(|p| p.into_inner()).sessions_ended > 0 {
                ended = true;
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        if ended {
            tokio::time::sleep(cics.pixit.timeouts.quiet_period()).await;
        }
    }
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
    let after_end = {
        // A package after the END that closed the session.
        let end_at = messages.iter().position(|m| m.kind == "Package#2" && m.body.contains("\"END\""));
        end_at.and_then(|i| {
            messages[i + 1..].iter().find(|m| m.direction == "client → server" && m.method.is_some()).map(|m| m.n)
        })
    };
    let (verdict, reason) = if let Some(f) = first_failure {
        (Verdict::Fail, f)
    } else if let Some(n) = after_end {
        (Verdict::Fail, format!("message #{n}: the client sent a package after the Package#2 that ended the session"))
    } else if let Err(e) = set_up {
        (Verdict::Inconc, format!("the scenario could not be set up: {e}"))
    } else if !ended {
        (
            Verdict::Fail,
            format!("the session did not end within the client's case timeout ({} message(s) relayed)", messages.len()),
        )
    } else {
        let n = messages.len();
        (Verdict::Pass, format!("{n} message(s) relayed, every check held, the session ended"))
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
