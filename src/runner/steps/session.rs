//! The suite as DM client of a server IUT: `open-session` (DM 2.0: Package#1), `reply` (the
//! statuses answering the server's commands; DM 2.0: Package#3) and `finish-session` (reply
//! until the server ends the session). The binding builds and parses the messages; this module
//! keeps the session: the server's last commands, where the next reply goes, and the record of
//! the whole session ([`SessionLog`]) that `finish-session` saves and judges — a server may
//! spread its commands over its packages as it chooses, so cases judge the session, not one
//! package.
use super::{Captures, Validation};
use crate::binding::Commands;
use crate::binding::{ClientMessage, ClientSpec};
use crate::catalog::check::Check;
use crate::peers::http::{read_limited, MAX_BODY_BYTES};
use crate::runner::checks::Observed;
use crate::runner::ctx::{message_json, watch_iut, CheckRun, Ctx, IutGone};
use crate::scr::Role;
use crate::trace::{body_for_trace, TraceEvent};
use crate::verdict::Verdict;
use crate::wire::http_auth;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// `open-session` and `reply`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSend {
    /// Target URL. Default: opening → the PIXIT server URI; reply → the session's current
    /// target (moved by the server, e.g. CONT).
    #[serde(default)]
    pub to: Option<String>,
    /// The message body (templated JSON the binding sends as its message), instead of the
    /// binding's default.
    #[serde(default)]
    pub body: Option<Value>,
    /// A raw body sent as is (negative cases: malformed messages).
    #[serde(default)]
    pub raw_body: Option<String>,
    /// Reply: one status of this code per command of the server's last package (the binding
    /// knows which commands get none, and which get an asynchronous code).
    #[serde(default)]
    pub auto_status: Option<u16>,
    /// With `auto_status`: the code for commands of these names instead (e.g. `{ DELETE = 405 }`).
    #[serde(default)]
    pub status_for: BTreeMap<String, u16>,
    /// With `auto_status`: members added to the status of commands of these names, in the
    /// binding's form (DM 2.0: `{ HGET = { URI = [...] } }`).
    #[serde(default)]
    pub status_members: BTreeMap<String, Value>,
    /// Alerts to add to the message.
    #[serde(default)]
    pub alerts: Vec<Value>,
    /// Opening: the notification the session answers (a value `expect-notification` saved,
    /// e.g. `"${noti}"`): the binding opens a session as the notified device does (DM 2.0:
    /// ServerInitiatedMgmt with the echoed NOTIFICATION-ID).
    #[serde(default)]
    pub notification: Option<String>,
    /// Opening: the management objects the device reports (the binding's entries; DM 2.0: MOS).
    #[serde(default)]
    pub objects: Vec<Value>,
    /// Options of the binding's message (templated; DM 1.2: `final`, `challenge`,
    /// `credentials`, `tree`, `chunk`; docs/dm12.md).
    #[serde(default)]
    pub options: Option<Value>,
    /// Header overrides; an empty value removes the header (and with `Authorization`, the
    /// suite's own answering of challenges).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Authenticate only in this scheme: no Basic unasked, only a challenge of this scheme
    /// answered (default: PIXIT account.auth; Basic is then sent unasked).
    #[serde(default)]
    pub auth: Option<http_auth::Scheme>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The SCR item a missing or broken HTTP answer is charged to (default: the case's first).
    #[serde(default)]
    pub scr: Option<String>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub capture: Captures,
    #[serde(default)]
    pub save_as: Option<String>,
}

impl ClientSend {
    pub fn validate(&self, kind: &str, message: ClientMessage, v: &mut Validation) {
        v.needs_role(kind, Role::Server);
        if self.body.is_some() && self.raw_body.is_some() {
            v.problem("give `body` or `raw_body`, not both");
        }
        let auto = self.auto_status.is_some() || !self.status_for.is_empty() || !self.status_members.is_empty();
        if message == ClientMessage::Open && auto {
            v.problem("`auto_status` answers the server's commands: it belongs to `reply`, not `open-session`");
        }
        if !self.status_for.is_empty() && self.auto_status.is_none() {
            v.problem("`status_for` varies the codes of `auto_status`: give `auto_status` too");
        }
        if !self.status_members.is_empty() && self.auto_status.is_none() {
            v.problem("`status_members` adds to the statuses of `auto_status`: give `auto_status` too");
        }
        if message == ClientMessage::Reply && (self.notification.is_some() || !self.objects.is_empty()) {
            v.problem("`notification` and `objects` shape the opening message: they belong to `open-session`");
        }
        if self.body.is_some() && (self.notification.is_some() || !self.objects.is_empty()) {
            v.problem("`notification` and `objects` build the binding's message: give them or `body`, not both");
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>, message: ClientMessage) {
        send(ctx, message, self, None, None).await;
    }
}

/// `finish-session`: see the session to its end. If the server's last package ended it,
/// nothing is sent; otherwise the suite replies (`auto_status` per command) until a package
/// ends the session, at most `max_packages` times, then fails `scr`. The spec says the server
/// ends the session, not in which package, so any of them will do. Then `session_checks`
/// judge the whole session (every package since `open-session`), and `save_as` keeps it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishSession {
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default = "two_hundred")]
    pub auto_status: u16,
    /// The code for commands of these names instead of `auto_status`.
    #[serde(default)]
    pub status_for: BTreeMap<String, u16>,
    /// Members added to the status of commands of these names (see [`ClientSend`]).
    #[serde(default)]
    pub status_members: BTreeMap<String, Value>,
    #[serde(default = "max_packages")]
    pub max_packages: usize,
    /// Checks on every package the server answers a reply with.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// The item a reply is charged to when it went where the server moved the session (DM 2.0:
    /// CONT) and its answer fails a check or never comes: the move is what failed.
    #[serde(default)]
    pub moved_scr: Option<String>,
    /// Checks on the whole session once it has ended ([`SessionLog::to_json`]).
    #[serde(default)]
    pub session_checks: Vec<Check>,
    /// Save the session record under this name.
    #[serde(default)]
    pub save_as: Option<String>,
}

fn two_hundred() -> u16 {
    200
}
/// Enough for a server that sends each queued command of a case in a package of its own.
fn max_packages() -> usize {
    8
}

impl FinishSession {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("finish-session", Role::Server);
        if self.max_packages == 0 {
            v.problem("max_packages must be at least 1");
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let Some(mut last) = ctx.last_commands.clone() else {
            return ctx.harness_error("finish-session needs a command package received earlier in the case");
        };
        let reply = ClientSend {
            to: None,
            body: None,
            raw_body: None,
            auto_status: Some(self.auto_status),
            status_for: self.status_for.clone(),
            status_members: self.status_members.clone(),
            alerts: Vec::new(),
            notification: None,
            objects: Vec::new(),
            options: None,
            headers: BTreeMap::new(),
            auth: None,
            timeout_ms: None,
            scr: Some(self.scr.clone()),
            checks: self.checks.clone(),
            capture: Captures::new(),
            save_as: None,
        };
        let mut sent = 0;
        while !ctx.binding().ends_session(&last) {
            if sent == self.max_packages {
                let names: Vec<String> = last.iter().filter_map(|c| c.first().cloned()).collect();
                return ctx.fail_scr(
                    Verdict::Fail,
                    &self.scr,
                    self.why.as_deref(),
                    format!("the server did not end the session within {} further packages", self.max_packages),
                    "a command package that ends the session".into(),
                    format!("the last package carried [{}]", names.join(", ")),
                );
            }
            sent += 1;
            ctx.trace.note(format!("the session goes on: reply {sent} of at most {} to see it end", self.max_packages));
            let moved = ctx.session.moved;
            let charge_to = if moved { self.moved_scr.as_deref() } else { None };
            let received =
                send(ctx, ClientMessage::Reply, &reply, Some(charge_to.unwrap_or(&self.scr)), charge_to).await;
            if ctx.verdict.is_final() {
                return;
            }
            match (received, &ctx.last_commands) {
                (true, Some(c)) => last = c.clone(),
                _ => {
                    return ctx.inconc(
                        "the server's answer to the reply is not a command package: the end of the session cannot be \
                         seen",
                    )
                }
            }
        }
        let record = ctx.session.to_json();
        ctx.trace.note(format!("the session: {}", ctx.session.summary()));
        let run = CheckRun { first_index: self.checks.len(), charge_to: None };
        ctx.run_checks_with(&self.session_checks, &Observed::Json(&record), run);
        ctx.save(self.save_as.as_deref(), record);
    }
}

/// What the suite saw of the session with a server IUT since the last `open-session`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionLog {
    /// Every command package the server sent, in order.
    pub packages: Vec<PackageLog>,
    /// Every reply the suite sent, in order.
    pub replies: Vec<ReplyLog>,
    /// The server has moved the session (DM 2.0: CONT): replies go where it said.
    pub moved: bool,
    /// The server's Digest challenge of this session and the last nonce count used with it:
    /// later messages answer it unasked (RFC 7616 section 3.4).
    pub digest: Option<(crate::wire::http_auth::Challenge, u32)>,
}

/// One command package of the server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageLog {
    /// Its commands as sent.
    pub commands: Commands,
    /// It ends the session.
    pub ends: bool,
    /// Where it moves the session, if it does.
    pub continue_at: Option<String>,
    /// The message it answered went where the server had moved the session.
    pub moved: bool,
}

/// One reply of the suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplyLog {
    pub to: String,
    /// It went where the server had moved the session.
    pub moved: bool,
    /// The status codes it carried, in order.
    pub status_codes: Vec<i64>,
}

impl SessionLog {
    /// The record checks judge and `save_as` keeps: `packages` (each `commands`, `ends`,
    /// `continue_at`, `moved`), `replies` (each `to`, `moved`, `status_codes`), and, over the
    /// whole session, `commands` (every command in order), `status_codes` (every code the
    /// suite sent in order) and `ended`.
    pub fn to_json(&self) -> Value {
        let commands: Vec<&Vec<String>> = self.packages.iter().flat_map(|p| &p.commands).collect();
        let codes: Vec<i64> = self.replies.iter().flat_map(|r| r.status_codes.iter().copied()).collect();
        json!({
            "packages": self.packages,
            "replies": self.replies,
            "commands": commands,
            "status_codes": codes,
            "ended": self.packages.last().is_some_and(|p| p.ends),
        })
    }

    /// One line for the trace: the commands of each package, and where replies went.
    pub fn summary(&self) -> String {
        let packages: Vec<String> = self
            .packages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let names: Vec<&str> = p.commands.iter().filter_map(|c| c.first().map(String::as_str)).collect();
                format!("#{} [{}]{}", i + 1, names.join(", "), if p.moved { " (moved)" } else { "" })
            })
            .collect();
        format!("{} package(s) {}; {} reply(ies)", self.packages.len(), packages.join(" "), self.replies.len())
    }
}

/// Sends one client message and judges the answer; true when the answer was a command package.
/// `scr_override` names the item a missing answer is charged to; `charge_to` the item every
/// failed check is charged to (a reply where the server moved the session).
async fn send(
    ctx: &mut Ctx<'_>,
    message: ClientMessage,
    spec: &ClientSend,
    scr_override: Option<&str>,
    charge_to: Option<&str>,
) -> bool {
    let s = ctx.env.settings.clone();
    let scr = scr_override.or(spec.scr.as_deref()).map(str::to_string).unwrap_or_else(|| ctx.case.covers[0].clone());
    let url = match &spec.to {
        Some(t) => match ctx.render_text(t) {
            Some(u) => u,
            None => return false,
        },
        None if message == ClientMessage::Open => match &s.server_uri {
            Some(u) => u.clone(),
            None => {
                ctx.harness_error("PIXIT iut.server_uri is needed to open a session");
                return false;
            }
        },
        None => match ctx.session_target.clone().or_else(|| s.server_uri.clone()) {
            Some(u) => u,
            None => {
                ctx.harness_error("no session to reply in (open a session first)");
                return false;
            }
        },
    };
    let body = match &spec.body {
        Some(b) => match ctx.render(b) {
            Some(v) => Some(v),
            None => return false,
        },
        None => None,
    };
    let alerts = if spec.alerts.is_empty() {
        Vec::new()
    } else {
        match ctx.render(&Value::Array(spec.alerts.clone())) {
            Some(Value::Array(a)) => a,
            _ => return false,
        }
    };
    let notification = match &spec.notification {
        Some(n) => match ctx.render(&Value::String(n.clone())) {
            Some(v) => Some(v),
            None => return false,
        },
        None => None,
    };
    let objects = if spec.objects.is_empty() {
        Vec::new()
    } else {
        match ctx.render(&Value::Array(spec.objects.clone())) {
            Some(Value::Array(a)) => a,
            _ => return false,
        }
    };
    let status_members: BTreeMap<String, Value> = if spec.status_members.is_empty() {
        BTreeMap::new()
    } else {
        match ctx.render(&serde_json::to_value(&spec.status_members).unwrap_or(Value::Null)) {
            Some(Value::Object(m)) => m.into_iter().collect(),
            _ => return false,
        }
    };
    let options = match &spec.options {
        Some(o) => match ctx.render(o) {
            Some(v) => v,
            None => return false,
        },
        None => Value::Null,
    };
    let built = ctx.binding().client_message(ClientSpec {
        message,
        body,
        auto_status: spec.auto_status,
        status_for: &spec.status_for,
        status_members: &status_members,
        alerts,
        notification,
        objects,
        last_commands: ctx.last_commands.as_deref(),
        dev_id: &s.dev_id,
        to: &url,
        credentials: s.basic.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        options: &options,
    });
    let mut out = match built {
        Ok(o) => o,
        Err(e) => {
            ctx.harness_error(format!("case defect: {e}"));
            return false;
        }
    };
    if let Some(raw) = &spec.raw_body {
        match ctx.render_text(raw) {
            Some(r) => out.body = r.into_bytes(),
            None => return false,
        }
    }
    // Header overrides (an empty value removes), then HTTP Basic from the PIXIT.
    for (k, v) in &spec.headers {
        let Some(v) = ctx.render_text(v) else { return false };
        out.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        if !v.is_empty() {
            out.headers.push((k.clone(), v));
        }
    }
    // A case that sets (or removes) Authorization itself gets no help with it.
    // A binding that authenticates inside its messages (DM 1.2) gets no HTTP credentials.
    let case_sets_auth =
        spec.headers.keys().any(|h| h.eq_ignore_ascii_case("authorization")) || !ctx.binding().http_credentials();
    let scheme = spec.auth.unwrap_or_else(|| super::auth::account_scheme(ctx));
    if message == ClientMessage::Open {
        ctx.session.digest = None;
    }
    let target = reqwest::Url::parse(&url).map(|u| target_of(&u)).unwrap_or_else(|_| url.clone());
    if let (Some((u, p)), false) = (&s.basic, case_sets_auth) {
        if let Some((c, nc)) = ctx.session.digest.as_mut() {
            // The session's challenge, answered unasked with the next nonce count.
            *nc += 1;
            let a = c.answer("POST", &target, u, p, &http_auth::fresh_nonce(), *nc);
            out.headers.push(("Authorization".into(), a.header()));
        } else if scheme == http_auth::Scheme::Basic {
            out.headers.push(("Authorization".into(), http_auth::basic_header(u, p)));
        }
    }
    // The record of the session: a new one begins with its opening message.
    let moved = message == ClientMessage::Reply && ctx.session.moved;
    let digest_kept = ctx.session.digest.clone();
    match message {
        ClientMessage::Open => ctx.session = SessionLog { digest: digest_kept, ..Default::default() },
        ClientMessage::Reply => ctx.session.replies.push(ReplyLog {
            to: url.clone(),
            moved,
            status_codes: ctx.binding().reply_status_codes(&out.body),
        }),
    }
    ctx.trace.record(TraceEvent::HttpRequest {
        from: "suite".into(),
        to: "iut".into(),
        method: "POST".into(),
        url: url.clone(),
        headers: out.headers.clone(),
        body: body_for_trace(&out.body),
    });
    let build = {
        let (http, url, body, headers) = (ctx.env.http.clone(), url.clone(), out.body.clone(), out.headers.clone());
        move |auth: Option<&str>| {
            let mut req = http.post(&url).body(body.clone());
            for (k, v) in &headers {
                if auth.is_none() || !k.eq_ignore_ascii_case("authorization") {
                    req = req.header(k, v);
                }
            }
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req
        }
    };
    // A 401 is answered once: with the credentials of the PIXIT, in the scheme the server
    // asks for (Digest preferred), unless the case handles Authorization itself.
    let creds = s.basic.clone().filter(|_| !case_sets_auth);
    // Only a step that demands Digest refuses to answer a Basic challenge.
    let digest_only = spec.auth.is_some_and(|a| a != http_auth::Scheme::Basic);
    let (trace, target2) = (ctx.trace.clone(), target.clone());
    let sent_auth = out.headers.iter().find(|(h, _)| h.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone());
    let challenge_used: std::sync::Arc<std::sync::Mutex<Option<http_auth::Challenge>>> = Default::default();
    let challenge_slot = challenge_used.clone();
    let what = match message {
        ClientMessage::Open => "the session-opening message",
        ClientMessage::Reply => "the reply",
    };
    let timeout = spec.timeout_ms.map(Duration::from_millis).unwrap_or(s.step_timeout);
    let shown = ctx.show_wait(timeout, || {
        let sent = ctx.binding().client_message_name(message).unwrap_or_else(|| what.to_string());
        format!("waiting for the answer to {sent} from {url}")
    });
    let exchange = tokio::time::timeout(timeout, async {
        let mut r = build(None).send().await?;
        if r.status().as_u16() == 401 {
            if let Some((u, p)) = &creds {
                let answered = answer_challenge(&r, &target2, u, p, sent_auth.as_deref(), &challenge_slot);
                if let Some(auth) = answered.filter(|a| !digest_only || a.starts_with("Digest")) {
                    trace.record(TraceEvent::HttpResponse {
                        from: "iut".into(),
                        to: "suite".into(),
                        status: 401,
                        headers: header_pairs(r.headers()),
                        body: body_for_trace(b""),
                    });
                    trace.note(format!(
                        "answering the server's challenge with {}",
                        auth.split(' ').next().unwrap_or("")
                    ));
                    r = build(Some(&auth)).send().await?;
                }
            }
        }
        let status = r.status().as_u16();
        let hdrs: Vec<(String, String)> = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        // Never more than the limit in memory, whatever the server sends.
        let b = read_limited(r, MAX_BODY_BYTES).await?;
        Ok::<_, reqwest::Error>((status, hdrs, b))
    });
    // The exchange ends early when the upper tester says the IUT process has exited: a
    // proxy in front of a dead server may hold the connection open until the step timeout.
    // (An idle IUT says nothing about a request it is still answering: keep waiting.)
    let gone = watch_iut(ctx);
    let exited = async move {
        match gone.await {
            IutGone::Exited(e) => e,
            IutGone::Idle => std::future::pending().await,
        }
    };
    let resp = tokio::select! {
        r = exchange => r,
        exit = exited => {
            ctx.fail_scr(
                Verdict::Fail,
                &scr,
                None,
                format!("no HTTP response to {what} from {url}: {exit}"),
                "an HTTP response".into(),
                exit.to_string(),
            );
            return false;
        }
    };
    drop(shown);
    if let Some(c) = challenge_used.lock().unwrap_or_else(|e| e.into_inner()).take() {
        ctx.session.digest = Some((c, 1));
    }
    let (status, rh, limited) = match resp {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let cause = transport_cause(&e);
            // A crash is the IUT's failure to handle what it was sent; anything else at the
            // transport level says nothing about the protocol (docs/reports.md: error) — unless
            // the server itself named this URL by moving the session there.
            if moved {
                ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    None,
                    format!("no HTTP response to {what} at {url}, where the server moved the session"),
                    "an HTTP response from the target the server named".into(),
                    cause,
                );
            } else if let Some(exit) = ctx.iut_exited_now().await {
                ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    None,
                    format!("no HTTP response to {what} from {url}: {exit}"),
                    "an HTTP response".into(),
                    format!("{cause}; {exit}"),
                );
            } else {
                ctx.harness_error(format!(
                    "cannot exchange {what} with the IUT at {url}: {cause} (is PIXIT iut.server_uri right, and the IUT \
                     running?)"
                ));
            }
            return false;
        }
        Err(_) => {
            match ctx.iut_exited_now().await {
                Some(exit) => ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    None,
                    format!("no HTTP response to {what} from {url}: {exit}"),
                    "an HTTP response".into(),
                    exit.to_string(),
                ),
                // No connection at all (nothing answers the address: a firewall dropping
                // packets, a wrong host) says nothing about the protocol: an error, as for
                // a refused connection.
                None => match connect_fails(&url, timeout).await {
                    Some(why) => ctx.harness_error(format!(
                        "cannot exchange {what} with the IUT at {url}: {why} (is PIXIT iut.server_uri right, and the \
                         IUT running?)"
                    )),
                    None => ctx.fail_scr(
                        Verdict::Fail,
                        &scr,
                        None,
                        format!("no HTTP response to {what} within {} ms", timeout.as_millis()),
                        "an HTTP response".into(),
                        "nothing: the connection stayed open without an answer".into(),
                    ),
                },
            }
            return false;
        }
    };
    ctx.trace.record(TraceEvent::HttpResponse {
        from: "iut".into(),
        to: "suite".into(),
        status,
        headers: rh.clone(),
        body: body_for_trace(&limited.bytes[..limited.bytes.len().min(crate::trace::MAX_TRACE_BODY)]),
    });
    if let Some(over) = limited.overflow() {
        ctx.inconc(format!("the answer to {what} was {over}: the suite did not judge it"));
        return false;
    }
    // A step demanding a scheme (`auth`) judges the authentication itself: a final 401 means
    // the server offered no usable challenge of that scheme, or refused the suite's answer.
    if let (401, Some(demanded)) = (status, spec.auth) {
        let offered: Vec<&str> =
            rh.iter().filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate")).map(|(_, v)| v.as_str()).collect();
        let actual = match offered.is_empty() {
            true => "401 without a challenge".to_string(),
            false => format!("401 offering {}", offered.join(" | ")),
        };
        ctx.fail_scr(
            Verdict::Fail,
            &scr,
            None,
            format!("the server did not accept {} authentication of {what}: {actual}", demanded.name()),
            format!("a {} challenge, and the answer to it accepted", demanded.name()),
            actual,
        );
        return false;
    }
    let rb = limited.bytes;
    if message == ClientMessage::Open {
        ctx.session_target = Some(url.clone());
    }
    // Track the session: the commands received, and where the next reply goes.
    let parsed = ctx.binding().parse_server_package(&rb);
    let received = parsed.is_some();
    if let Some(p) = parsed {
        ctx.session.packages.push(PackageLog {
            commands: p.commands.clone(),
            ends: p.ends_session,
            continue_at: p.continue_at.clone(),
            moved,
        });
        if let Some(next) = p.continue_at {
            ctx.session_target = Some(next);
            ctx.session.moved = true;
        }
        ctx.last_commands = Some(p.commands);
    }
    let obs = Observed::Http { status: Some(status), method: None, path: None, headers: &rh, body: &rb };
    if !ctx.encoding_failed(None, &rh, &rb) {
        ctx.run_checks_with(&spec.checks, &obs, CheckRun { first_index: 0, charge_to });
    }
    let doc = message_json(None, None, Some(status), &rh, &rb);
    if !ctx.verdict.is_final() {
        let body = doc.get("body").cloned().unwrap_or(Value::Null);
        let e = ctx.capture(&spec.capture, &body).err();
        ctx.capture_failed(e);
    }
    ctx.save(spec.save_as.as_deref(), doc);
    received
}

/// The request target of a URL (path and query), what Digest's `uri` names.
fn target_of(u: &reqwest::Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

fn header_pairs(h: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    h.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

/// The `Authorization` answering a 401's challenges (Digest preferred, else Basic), unless the
/// same credentials were already refused in that scheme. A Digest challenge used is kept in
/// `slot` for the rest of the session.
fn answer_challenge(
    r: &reqwest::Response,
    target: &str,
    user: &str,
    password: &str,
    sent: Option<&str>,
    slot: &std::sync::Mutex<Option<http_auth::Challenge>>,
) -> Option<String> {
    let values: Vec<&str> = r.headers().get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok()).collect();
    let sent_scheme = sent.and_then(|s| s.split_whitespace().next()).map(str::to_ascii_lowercase);
    if let Ok(Some(c)) = http_auth::Challenge::pick(values.iter().copied()) {
        // A refused Digest answer is retried only when the server says its nonce was stale.
        if sent_scheme.as_deref() == Some("digest") && !c.stale {
            return None;
        }
        let a = c.answer("POST", target, user, password, &http_auth::fresh_nonce(), 1);
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
        return Some(a.header());
    }
    let basic = values.iter().any(|v| v.trim_start().to_ascii_lowercase().starts_with("basic"));
    (basic && sent_scheme.as_deref() != Some("basic")).then(|| http_auth::basic_header(user, password))
}

/// After an exchange that got no answer in time: why no TCP connection to the URL's host can
/// be made, if none can (the exchange then never reached the IUT).
async fn connect_fails(url: &str, bound: Duration) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let port = u.port_or_known_default()?;
    // An IPv6 host comes in brackets; connect takes it bare.
    let host = u.host_str()?.trim_start_matches('[').trim_end_matches(']').to_string();
    let probe = bound.min(Duration::from_secs(2));
    match tokio::time::timeout(probe, tokio::net::TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("cannot connect ({e})")),
        Err(_) => Some(format!(
            "timeout: nothing answers a connection attempt to {host}:{port} (a new attempt waited {} ms)",
            probe.as_millis()
        )),
    }
}

/// Names the transport-level cause of a failed exchange: refused, reset, redirect loop, not
/// HTTP, timeout.
fn transport_cause(e: &reqwest::Error) -> String {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let lower = chain.to_lowercase();
    if lower.contains("certificate") || lower.contains("handshake") || lower.contains("tls") {
        return format!(
            "TLS handshake failed: the server's certificate was not accepted ({}); the suite trusts only the CA of \
             PIXIT tls.ca (with --against reference --tls: the CA generated for the run)",
            crate::trace::truncate_marked(&chain, 300)
        );
    }
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_redirect() {
        "redirect loop (too many redirects)"
    } else if lower.contains("connection refused") {
        "connection refused"
    } else if lower.contains("reset") || lower.contains("connection closed") || lower.contains("incomplete message") {
        "connection reset or closed before the answer was complete"
    } else if lower.contains("invalid http") || lower.contains("parse") || lower.contains("version") {
        "the answer is not HTTP"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    format!("{what} ({})", crate::trace::truncate_marked(&chain, 300))
}
