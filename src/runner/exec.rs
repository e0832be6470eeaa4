//! Executes one case: its steps in order, each wait bounded, the verdict sticky.
use super::checks::{self, CheckCtx, Observed};
use super::template::{self, Resolver, Vars};
use crate::catalog::check::Check;
use crate::catalog::step::{NotifyTamper, OnTimeout, Step};
use crate::catalog::{Answer, Case};
use crate::peers::listener::Taken;
use crate::peers::{notifier, HttpAnswer, Listener};
use crate::scr::Registry;
use crate::trace::{body_for_trace, Trace, TraceEvent};
use crate::upper_tester::{UpperTester, UtError, UtRequest, UtStatus};
use crate::verdict::{Reason, Verdict, VerdictState};
use crate::wire::dm2::notification::{self as n0, Notification, NotificationCredentials, NotificationFields, Tamper};
use crate::wire::dm2::{self, Package2, Profile};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How notifications reach a client IUT.
#[derive(Debug, Clone, PartialEq)]
pub enum NotificationTransport {
    UpperTester,
    Http { url: String },
}

/// Everything a case needs from the ICS/PIXIT, resolved once.
#[derive(Debug, Clone)]
pub struct CaseSettings {
    pub step_timeout: Duration,
    pub case_timeout: Duration,
    pub quiet_period: Duration,
    pub profile: Profile,
    /// SERVER-ID the suite uses as DM server (client IUT).
    pub server_id: String,
    pub credentials: Option<NotificationCredentials>,
    pub transport: NotificationTransport,
    /// DevID: the client IUT's (expected in OMADM-DevID), or the one the suite uses as a device.
    pub dev_id: String,
    /// A server IUT's DM endpoint.
    pub server_uri: Option<String>,
    /// HTTP Basic credentials the suite sends as DM client.
    pub basic: Option<(String, String)>,
    /// Server IUT: its notifications come back in the upper tester's answer, not over HTTP.
    pub server_notifications_via_ut: bool,
    /// Flat PIXIT values for `${pixit.x}` templates (sensitive ones included: they are needed
    /// on the wire, and scrubbed from reports separately).
    pub pixit: BTreeMap<String, String>,
    /// The optional items and `ICS-*` capabilities the case's `applies_if` names that the ICS
    /// declares supported: an upper tester answering `unsupported` for them contradicts the ICS.
    pub declared_supported: Vec<String>,
}

/// A per-run source of fresh NOTIFICATION-IDs (an IUT that remembers ids across cases must
/// not see a duplicate by accident).
static NEXT_NOTIFICATION_ID: AtomicU16 = AtomicU16::new(0);

fn fresh_notification_id() -> u16 {
    let seed = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
        % 30000) as u16;
    let _ = NEXT_NOTIFICATION_ID.compare_exchange(0, seed.max(1), Ordering::SeqCst, Ordering::SeqCst);
    NEXT_NOTIFICATION_ID.fetch_add(1, Ordering::SeqCst).max(1)
}

/// The environment of one case run.
pub struct CaseEnv {
    pub registry: Arc<Registry>,
    pub settings: CaseSettings,
    pub ut: Arc<UpperTester>,
    pub listener: Arc<Listener>,
    pub http: reqwest::Client,
}

/// The outcome of executing a case.
pub struct Execution {
    pub verdict: Verdict,
    pub reason: Option<Reason>,
    pub trace: Trace,
    pub duration: Duration,
}

struct Ctx<'a> {
    case: &'a Case,
    env: &'a CaseEnv,
    vars: Vars,
    verdict: VerdictState,
    trace: Trace,
    step: usize,
    /// Commands of the last Package#2 the suite sent (client IUT) or received (server IUT).
    last_package2: Option<Vec<Vec<String>>>,
    /// Where the next Package#3 goes (server IUT), moved by CONT.
    session_target: Option<String>,
    /// How many requests had arrived when the suite last answered an awaited one (e.g. with
    /// END): resource-answered requests up to there cannot break a later silence.
    answered_through: usize,
}

impl Resolver for Ctx<'_> {
    fn resolve(&self, expr: &str) -> Option<Value> {
        if let Some(p) = expr.strip_prefix("pixit.") {
            return self.env.settings.pixit.get(p).map(|s| Value::String(s.clone()));
        }
        if let Some(p) = expr.strip_prefix("profile.") {
            // Profile settings (UNVERIFIED points), so cases can follow them.
            let v = serde_json::to_value(&self.env.settings.profile).ok()?;
            return v.get(p).cloned();
        }
        if let Some(e) = expr.strip_prefix("endpoint.") {
            return Some(Value::String(self.env.listener.endpoint_url(e)));
        }
        match expr {
            "case.id" => Some(Value::String(self.case.id.clone())),
            "now" => Some(Value::from(unix_now())),
            _ => self.vars.lookup(expr),
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl<'a> Ctx<'a> {
    fn new(case: &'a Case, env: &'a CaseEnv, trace: &Trace) -> Ctx<'a> {
        Ctx {
            case,
            env,
            vars: Vars::default(),
            verdict: VerdictState::default(),
            trace: trace.clone(),
            step: 0,
            last_package2: None,
            session_target: None,
            answered_through: 0,
        }
    }

    fn set(&mut self, verdict: Verdict, mut reason: Reason) {
        reason.step = Some(self.step);
        self.trace.note(format!("verdict {verdict}: {}", reason.message));
        self.verdict.set(verdict, reason);
    }

    /// A defect of the case or the configuration, not of the IUT.
    fn harness_error(&mut self, msg: impl Into<String>) {
        self.set(Verdict::Error, Reason::new(msg));
    }

    fn requirement(&self, scr: &str, why: Option<&str>) -> Option<String> {
        if let Some(w) = why {
            return Some(w.to_string());
        }
        self.env.registry.get(scr).map(|i| i.requirement.clone().unwrap_or_else(|| i.function.clone()))
    }

    fn fail_scr(
        &mut self,
        verdict: Verdict,
        scr: &str,
        why: Option<&str>,
        message: String,
        expected: String,
        actual: String,
    ) {
        let reason = Reason {
            message,
            scr: Some(scr.to_string()),
            requirement: self.requirement(scr, why),
            expected: Some(expected),
            actual: Some(actual),
            step: None,
        };
        self.set(verdict, reason);
    }

    fn render(&mut self, v: &Value) -> Option<Value> {
        match template::render_value(v, self) {
            Ok(v) => Some(v),
            Err(e) => {
                self.harness_error(format!("case defect: {e}"));
                None
            }
        }
    }

    fn render_text(&mut self, s: &str) -> Option<String> {
        match template::render_text(s, self) {
            Ok(v) => Some(v),
            Err(e) => {
                self.harness_error(format!("case defect: {e}"));
                None
            }
        }
    }

    fn run_checks(&mut self, checks: &[Check], obs: &Observed) {
        for c in checks {
            let kind = match &c.kind {
                crate::catalog::check::CheckKind::Builtin { name, args } => {
                    // Built-in arguments may use templates too.
                    let as_json = serde_json::to_value(args).unwrap_or(Value::Null);
                    let Some(rendered) = self.render(&as_json) else { return };
                    let args: toml::Table = serde_json::from_value(rendered).unwrap_or_default();
                    crate::catalog::check::CheckKind::Builtin { name: name.clone(), args }
                }
                crate::catalog::check::CheckKind::JsonEquals { pointer, value } => {
                    let Some(value) = self.render(value) else { return };
                    crate::catalog::check::CheckKind::JsonEquals { pointer: pointer.clone(), value }
                }
                crate::catalog::check::CheckKind::Path { equals } => {
                    let Some(equals) = self.render_text(equals) else { return };
                    crate::catalog::check::CheckKind::Path { equals }
                }
                crate::catalog::check::CheckKind::MediaType { header, value } => {
                    let Some(value) = self.render_text(value) else { return };
                    crate::catalog::check::CheckKind::MediaType { header: header.clone(), value }
                }
                crate::catalog::check::CheckKind::HeaderEquals { header, value } => {
                    let Some(value) = self.render_text(value) else { return };
                    crate::catalog::check::CheckKind::HeaderEquals { header: header.clone(), value }
                }
                other => other.clone(),
            };
            let ctx = CheckCtx {
                profile: &self.env.settings.profile,
                last_package2: self.last_package2.as_deref(),
                credentials: self.env.settings.credentials.as_ref(),
            };
            if let Err(f) = checks::evaluate(&kind, obs, &ctx) {
                let what = check_label(&kind);
                let mut message = format!("check failed: {what}");
                if let Some(n) = &f.note {
                    message.push_str(&format!(" ({n})"));
                }
                self.fail_scr(Verdict::Fail, &c.scr, c.why.as_deref(), message, f.expected, f.actual);
                return;
            }
        }
    }

    /// Saves captured values; returns what could not be captured (the caller decides the
    /// verdict after the checks have judged the message).
    fn capture(&mut self, captures: &BTreeMap<String, String>, doc: &Value) -> Result<(), Box<Reason>> {
        for (var, pointer) in captures {
            match doc.pointer(pointer) {
                Some(v) => {
                    self.vars.0.insert(var.clone(), v.clone());
                }
                None => {
                    return Err(Box::new(Reason {
                        message: format!("could not capture {var}: nothing at {pointer}"),
                        expected: Some(format!("a value at {pointer}")),
                        actual: Some(crate::trace::truncate_marked(&doc.to_string(), 300)),
                        ..Default::default()
                    }));
                }
            }
        }
        Ok(())
    }

    /// A capture that failed makes the rest of the case meaningless: inconclusive, unless a
    /// check already judged the message.
    fn capture_failed(&mut self, reason: Option<Box<Reason>>) {
        if let Some(r) = reason {
            self.set(Verdict::Inconc, *r);
        }
    }
}

fn check_label(kind: &crate::catalog::check::CheckKind) -> String {
    use crate::catalog::check::CheckKind as K;
    match kind {
        K::Builtin { name, .. } => name.clone(),
        K::Status { .. } => "status".into(),
        K::Method { .. } => "method".into(),
        K::HeaderPresent { header } => format!("header-present {header}"),
        K::HeaderAbsent { header } => format!("header-absent {header}"),
        K::HeaderEquals { header, .. } => format!("header-equals {header}"),
        K::MediaType { header, .. } => format!("media-type {header}"),
        K::HeaderAccepts { header, .. } => format!("header-accepts {header}"),
        K::BodyEmpty {} => "body-empty".into(),
        K::Path { .. } => "path".into(),
        K::JsonExists { pointer } => format!("json-exists {pointer}"),
        K::JsonAbsent { pointer } => format!("json-absent {pointer}"),
        K::JsonEquals { pointer, .. } => format!("json-equals {pointer}"),
        K::JsonMatches { pointer, .. } => format!("json-matches {pointer}"),
        K::JsonType { pointer, .. } => format!("json-type {pointer}"),
        K::JsonLength { pointer, .. } => format!("json-length {pointer}"),
        K::JsonContains { pointer, .. } => format!("json-contains {pointer}"),
        K::JsonOneOf { pointer, .. } => format!("json-one-of {pointer}"),
        K::JsonNotContains { pointer, .. } => format!("json-not-contains {pointer}"),
    }
}

/// A JSON view of an HTTP message for `save_as`: method, path, status, headers, body.
fn message_json(
    method: Option<&str>,
    path: Option<&str>,
    status: Option<u16>,
    headers: &[(String, String)],
    body: &[u8],
) -> Value {
    let body_v =
        serde_json::from_slice::<Value>(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()));
    let hdrs: serde_json::Map<String, Value> =
        headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone()))).collect();
    json!({ "method": method, "path": path, "status": status, "headers": hdrs, "body": body_v })
}

/// Runs a case to its verdict. Never panics on IUT behaviour; every wait is bounded.
pub async fn execute(case: &Case, env: &CaseEnv) -> Execution {
    let start = Instant::now();
    let trace = Trace::new();
    let resources = match resolve_resources(case, env, &trace) {
        Ok(r) => r,
        Err(e) => {
            return Execution {
                verdict: Verdict::Error,
                reason: Some(Reason::new(format!("case defect: {e}"))),
                trace,
                duration: start.elapsed(),
            }
        }
    };
    env.listener.begin_case(trace.clone(), resources);
    let mut ctx = Ctx::new(case, env, &trace);
    let case_timeout = env.settings.case_timeout;
    let timed_out = tokio::time::timeout(case_timeout, run_steps(&mut ctx)).await.is_err();
    if timed_out {
        ctx.set(
            Verdict::Inconc,
            Reason::new(format!(
                "case timeout: the case did not complete within {} ms (PIXIT timeouts.case_ms)",
                case_timeout.as_millis()
            )),
        );
    }
    env.listener.end_case();
    let (verdict, reason) = ctx.verdict.into_parts();
    Execution { verdict, reason, trace, duration: start.elapsed() }
}

fn resolve_resources(
    case: &Case,
    env: &CaseEnv,
    trace: &Trace,
) -> Result<Vec<(crate::catalog::Resource, HttpAnswer)>, String> {
    let ctx = Ctx::new(case, env, trace);
    case.resources.iter().map(|r| Ok((r.clone(), build_answer(&r.answer, &ctx)?.0))).collect()
}

/// Command arrays of a Package#2.
type CommandArrays = Vec<Vec<String>>;

/// Builds the HTTP answer of an `answer` table; also returns the Package#2 command arrays when it is one.
fn build_answer(a: &Answer, r: &dyn Resolver) -> Result<(HttpAnswer, Option<CommandArrays>), String> {
    let mut headers = Vec::new();
    let mut body = Vec::new();
    let mut p2 = None;
    if let Some(cmds) = &a.package2 {
        let mut rendered = Vec::new();
        for c in cmds {
            rendered.push(c.iter().map(|s| template::render_text(s, r)).collect::<Result<Vec<_>, _>>()?);
        }
        body = serde_json::to_vec(&json!({ "CMD": rendered })).unwrap_or_default();
        headers.push(("Content-Type".to_string(), dm2::MEDIA_PACKAGE2.to_string()));
        p2 = Some(rendered);
    } else if let Some(j) = &a.json {
        body = serde_json::to_vec(&template::render_value(j, r)?).unwrap_or_default();
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    } else if let Some(b) = &a.body {
        body = template::render_text(b, r)?.into_bytes();
    }
    if let Some(ct) = &a.content_type {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        headers.push(("Content-Type".to_string(), template::render_text(ct, r)?));
    }
    for (k, v) in &a.headers {
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        headers.push((k.clone(), template::render_text(v, r)?));
    }
    Ok((HttpAnswer { status: a.status.unwrap_or(200), headers, body }, p2))
}

async fn run_steps(ctx: &mut Ctx<'_>) {
    for (i, step) in ctx.case.steps.iter().enumerate() {
        ctx.step = i + 1;
        ctx.trace.set_step(ctx.step);
        ctx.trace.note(format!("step {} ({})", ctx.step, step.kind()));
        run_step(ctx, step).await;
        if ctx.verdict.is_final() {
            break;
        }
    }
}

async fn ut_call(ctx: &mut Ctx<'_>, action: &str, args: Value, optional: bool) -> Option<Value> {
    let req = UtRequest { action: action.to_string(), case: ctx.case.id.clone(), step: ctx.step, args };
    let timeout = ctx.env.settings.step_timeout;
    let res = ctx.env.ut.call(&req, timeout).await;
    let answer_json = match &res {
        Ok(a) => serde_json::to_value(a).unwrap_or(Value::Null),
        Err(e) => json!({ "error": e.to_string() }),
    };
    ctx.trace.record(TraceEvent::UpperTester {
        action: action.to_string(),
        request: serde_json::to_value(&req).unwrap_or(Value::Null),
        answer: answer_json,
    });
    match res {
        Ok(a) => match a.status {
            UtStatus::Done => Some(a.data),
            UtStatus::Unsupported if optional => None,
            // `reset` is the harness's own hook, not a feature; for any other action an
            // `unsupported` answer contradicts an ICS that declares the case's features supported.
            UtStatus::Unsupported if action != "reset" && !ctx.env.settings.declared_supported.is_empty() => {
                let items = ctx.env.settings.declared_supported.clone();
                let scr = items.iter().find(|i| ctx.env.registry.get(i).is_some()).cloned();
                let requirement = scr.as_deref().and_then(|i| ctx.requirement(i, None));
                ctx.set(
                    Verdict::Fail,
                    Reason {
                        message: format!(
                            "upper tester answered `unsupported` to {action}, but the ICS declares {} supported",
                            items.join(", ")
                        ),
                        scr,
                        requirement,
                        expected: Some(format!("{action} done (the ICS declares {} supported)", items.join(", "))),
                        actual: Some(format!("unsupported: {}", a.message)),
                        step: None,
                    },
                );
                None
            }
            UtStatus::Unsupported => {
                ctx.set(
                    Verdict::Inconc,
                    Reason::new(format!("upper tester: action {action} is unsupported by the IUT: {}", a.message)),
                );
                None
            }
            UtStatus::Failed => {
                ctx.set(Verdict::Inconc, Reason::new(format!("upper tester: action {action} failed: {}", a.message)));
                None
            }
        },
        Err(UtError::RequiresOperator { prompt_id }) => {
            ctx.set(Verdict::Skipped, Reason::new(format!("requires-operator (prompt {prompt_id})")));
            None
        }
        Err(UtError::Timeout { after_ms }) => {
            ctx.set(Verdict::Inconc, Reason::new(format!("upper tester: no answer to {action} within {after_ms} ms")));
            None
        }
        Err(e) => {
            ctx.set(Verdict::Error, Reason::new(format!("upper tester: {e}")));
            None
        }
    }
}

async fn run_step(ctx: &mut Ctx<'_>, step: &Step) {
    match step {
        Step::Ut { action, args, save_as, capture, optional, note } => {
            if let Some(n) = note {
                ctx.trace.note(n.clone());
            }
            let Some(args) = ctx.render(args) else { return };
            let args = if args.is_null() { json!({}) } else { args };
            let answered = ut_call(ctx, action, args, *optional).await;
            if action == crate::upper_tester::action::RESET && !ctx.verdict.is_final() {
                // Requests that arrived before the IUT confirmed its reset (a previous case's
                // late traffic) must not be taken for this case's.
                for inc in ctx.env.listener.drop_pending() {
                    ctx.trace.note(format!(
                        "dropped (arrived before the reset completed): {} /{}{}",
                        inc.method, inc.endpoint, inc.path
                    ));
                }
            }
            if let Some(data) = answered {
                let e = ctx.capture(capture, &data).err();
                ctx.capture_failed(e);
                if let Some(name) = save_as {
                    ctx.vars.0.insert(name.clone(), data);
                }
            }
        }
        Step::Notify {
            server_id,
            preferred_con_type,
            notification_id,
            timestamp_offset_s,
            stale_timestamp,
            no_timestamp,
            req_mos,
            digest,
            tamper,
            save_as,
        } => {
            let s = &ctx.env.settings;
            let server_id = match server_id {
                Some(t) => match ctx.render_text(t) {
                    Some(v) => v,
                    None => return,
                },
                None => s.server_id.clone(),
            };
            let id = notification_id.unwrap_or_else(fresh_notification_id);
            let offset = if *stale_timestamp {
                -(ctx.env.settings.profile.timestamp_window_s as i64 + 60)
            } else {
                timestamp_offset_s.unwrap_or(0)
            };
            let timestamp = (!*no_timestamp).then(|| (unix_now() + offset).max(0) as u64);
            let fields = NotificationFields {
                server_id: server_id.clone(),
                preferred_con_type: Some(preferred_con_type.unwrap_or(0)),
                notification_id: Some(id),
                timestamp,
                req_mos: *req_mos,
                digest: *digest,
            };
            if *digest && s.credentials.is_none() {
                ctx.harness_error("PIXIT notification.secret/auth_data are needed to compute SHA256-DIGEST");
                return;
            }
            let tamper = tamper.as_ref().map(|t| match t {
                NotifyTamper::WrongDigest => Tamper::WrongDigest,
                NotifyTamper::WrongVersion => {
                    Tamper::WrongVersion(s.profile.notification_version.wrapping_add(1) & 0x0f)
                }
                NotifyTamper::OcMismatch => Tamper::OcMismatch,
                NotifyTamper::OptionsOutOfOrder => Tamper::OptionsOutOfOrder,
            });
            let bytes = n0::encode(&fields, s.credentials.as_ref(), &s.profile, tamper.as_ref());
            let saved = json!({
                "notification_id": id, "server_id": server_id, "hex": hex::encode(&bytes),
                "timestamp": timestamp, "req_mos": req_mos,
            });
            if let Some(name) = save_as {
                ctx.vars.0.insert(name.clone(), saved);
            }
            match s.transport.clone() {
                NotificationTransport::UpperTester => {
                    ctx.trace.record(TraceEvent::Notification {
                        from: "suite".into(),
                        to: "iut (upper tester notification.deliver)".into(),
                        hex: hex::encode(&bytes),
                        note: format!("{fields:?}; tamper {tamper:?}"),
                    });
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    ut_call(ctx, crate::upper_tester::action::NOTIFICATION_DELIVER, json!({ "bytes_b64": b64 }), false)
                        .await;
                }
                NotificationTransport::Http { url } => {
                    let r = notifier::post_notification(
                        &ctx.env.http,
                        &url,
                        &bytes,
                        &s.profile.notification_media_type,
                        s.step_timeout,
                        &ctx.trace,
                    )
                    .await;
                    match r {
                        Ok(st) if (200..300).contains(&st) => {}
                        Ok(st) => {
                            ctx.set(Verdict::Inconc, Reason::new(format!("notification POST answered HTTP {st}")))
                        }
                        Err(e) => ctx.set(Verdict::Inconc, Reason::new(e)),
                    }
                }
            }
        }
        Step::Await { endpoint, path, scr, why, timeout_ms, on_timeout, checks, capture, save_as, answer } => {
            let timeout = timeout_ms.map(Duration::from_millis).unwrap_or(ctx.env.settings.step_timeout);
            let path = match path {
                Some(p) => match ctx.render_text(p) {
                    Some(p) => Some(p),
                    None => return,
                },
                None => None,
            };
            let Some(taken) = ctx.env.listener.take(endpoint, path.as_deref(), timeout).await else {
                let verdict = match on_timeout {
                    OnTimeout::Fail => Verdict::Fail,
                    OnTimeout::Inconc => Verdict::Inconc,
                };
                let where_ = format!("/{endpoint}{}", path.as_deref().unwrap_or(""));
                // What the IUT sent elsewhere meanwhile often explains the miss (e.g. a
                // Package#3 to the old URI after CONT).
                let elsewhere: Vec<String> = ctx
                    .env
                    .listener
                    .pending("any")
                    .iter()
                    .map(|i| format!("{} /{}{}", i.method, i.endpoint, i.path))
                    .collect();
                let actual = if elsewhere.is_empty() {
                    "nothing".to_string()
                } else {
                    format!("nothing there; meanwhile the IUT sent {}", elsewhere.join(", "))
                };
                ctx.fail_scr(
                    verdict,
                    scr,
                    why.as_deref(),
                    format!("no request arrived at {where_} within {} ms", timeout.as_millis()),
                    format!("an HTTP request at {where_}"),
                    actual,
                );
                return;
            };
            await_taken(ctx, taken, checks, capture, save_as.as_deref(), answer.as_ref());
        }
        Step::Send {
            package,
            to,
            body,
            raw_body,
            auto_status,
            alerts,
            headers,
            timeout_ms,
            scr,
            checks,
            capture,
            save_as,
        } => {
            send_package(
                ctx,
                SendSpec {
                    package: *package,
                    to: to.as_deref(),
                    body: body.as_ref(),
                    raw_body: raw_body.as_deref(),
                    auto_status: *auto_status,
                    alerts,
                    headers,
                    timeout_ms: *timeout_ms,
                    scr: scr.as_deref(),
                    checks,
                    capture,
                    save_as: save_as.as_deref(),
                },
            )
            .await
        }
        Step::ExpectNotification { source, scr, timeout_ms, checks, save_as } => {
            let timeout = timeout_ms.map(Duration::from_millis).unwrap_or(ctx.env.settings.step_timeout);
            // "configured:<name>": the PIXIT says whether the server delivers to the listener or
            // only hands the bytes to the upper tester (answer saved as <name>).
            let source = match source.strip_prefix("configured:") {
                Some(name) if ctx.env.settings.server_notifications_via_ut => format!("ut:{name}"),
                Some(_) => "listener".to_string(),
                None => source.clone(),
            };
            let bytes = if source == "listener" {
                match ctx.env.listener.take("notify", None, timeout).await {
                    Some(t) => {
                        let b = t.incoming.body.clone();
                        ctx.env.listener.answer(t, HttpAnswer::status(204));
                        b
                    }
                    None => {
                        ctx.fail_scr(
                            Verdict::Fail,
                            scr,
                            None,
                            format!("no notification arrived at /notify within {} ms", timeout.as_millis()),
                            "a DM notification (Package#0)".into(),
                            "nothing".into(),
                        );
                        return;
                    }
                }
            } else if let Some(name) = source.strip_prefix("ut:") {
                let b64 = ctx.vars.lookup(&format!("{name}#/bytes_b64"));
                match b64.as_ref().and_then(Value::as_str).map(|s| base64::engine::general_purpose::STANDARD.decode(s))
                {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => {
                        ctx.fail_scr(
                            Verdict::Fail,
                            scr,
                            None,
                            "the upper tester's bytes_b64 is not base64".into(),
                            "base64 notification bytes".into(),
                            e.to_string(),
                        );
                        return;
                    }
                    None => {
                        ctx.set(
                            Verdict::Inconc,
                            Reason::new(format!("the upper-tester answer saved as {name} carries no data.bytes_b64")),
                        );
                        return;
                    }
                }
            } else {
                ctx.harness_error(format!("case defect: source {source:?}: expected \"listener\" or \"ut:<name>\""));
                return;
            };
            ctx.trace.record(TraceEvent::Notification {
                from: "iut".into(),
                to: "suite".into(),
                hex: hex::encode(&bytes),
                note: String::new(),
            });
            let decoded = match Notification::decode(&bytes) {
                Ok(n) => n,
                Err(e) => {
                    ctx.fail_scr(
                        Verdict::Fail,
                        scr,
                        None,
                        "the notification does not decode".into(),
                        format!("byte {}: {}", e.offset, e.expected),
                        e.found,
                    );
                    return;
                }
            };
            // The same JSON `dmcts notification decode` prints (the digest is judged by its own check).
            let j = dm2::cli::decode_cli(&hex::encode(&bytes), None, None, &ctx.env.settings.profile)
                .unwrap_or(Value::Null);
            ctx.run_checks(checks, &Observed::Notification { notification: &decoded, json: &j });
            if let Some(name) = save_as {
                ctx.vars.0.insert(name.to_string(), j);
            }
        }
        Step::ExpectSilence { endpoint, scr, why, duration_ms } => {
            let quiet = duration_ms.map(Duration::from_millis).unwrap_or(ctx.env.settings.quiet_period);
            expect_silence(ctx, endpoint, scr, why.as_deref(), quiet).await;
        }
        Step::Report { args, checks, save_as } => {
            let Some(mut args) = ctx.render(args) else { return };
            if args.is_null() {
                args = json!({ "dev_id": ctx.env.settings.dev_id });
            }
            if let Some(data) = ut_call(ctx, crate::upper_tester::action::DEVICE_REPORT, args, false).await {
                ctx.run_checks(checks, &Observed::Json(&data));
                if let Some(name) = save_as {
                    ctx.vars.0.insert(name.clone(), data);
                }
            }
        }
        Step::FinishSession { scr, why, auto_status, max_packages } => {
            finish_session(ctx, scr, why.as_deref(), *auto_status, *max_packages).await
        }
        Step::Set { var, value } => {
            if let Some(v) = ctx.render(&Value::String(value.clone())) {
                ctx.vars.0.insert(var.clone(), v);
            }
        }
    }
}

fn await_taken(
    ctx: &mut Ctx<'_>,
    taken: Taken,
    checks: &[Check],
    capture: &BTreeMap<String, String>,
    save_as: Option<&str>,
    answer: Option<&Answer>,
) {
    let inc = taken.incoming.clone();
    let doc = message_json(Some(&inc.method), Some(&inc.path), None, &inc.headers, &inc.body);
    // Captures first: the answer may use them (e.g. a GET of the instance an HGET just created).
    let body = doc.get("body").cloned().unwrap_or(Value::Null);
    let capture_error = ctx.capture(capture, &body).err();
    // Answer before judging: the IUT must not hang on a failed check.
    let (http_answer, p2) = match answer {
        Some(a) => match build_answer(a, ctx) {
            Ok(x) => x,
            Err(e) => {
                ctx.env.listener.answer(taken, HttpAnswer::status(500));
                let obs = Observed::Http {
                    status: None,
                    method: Some(&inc.method),
                    path: Some(&inc.path),
                    headers: &inc.headers,
                    body: &inc.body,
                };
                ctx.run_checks(checks, &obs);
                if capture_error.is_some() {
                    // The answer needed a value the message lacked; the checks have spoken first.
                    ctx.capture_failed(capture_error);
                } else {
                    ctx.harness_error(format!("case defect: {e}"));
                }
                return;
            }
        },
        None => (HttpAnswer::status(200), None),
    };
    if !taken.is_held() && answer.is_some() {
        ctx.trace.note("the request was already answered by a static resource; the step's answer is not used");
    }
    let status = inc.answered.unwrap_or(http_answer.status);
    ctx.env.listener.answer(taken, http_answer);
    ctx.answered_through = ctx.env.listener.arrived();
    let obs = Observed::Http {
        status: Some(status),
        method: Some(&inc.method),
        path: Some(&inc.path),
        headers: &inc.headers,
        body: &inc.body,
    };
    // Checks judge the request against the Package#2 answered before it; only then does this
    // step's answer become the one the next Package#3 must match.
    ctx.run_checks(checks, &obs);
    ctx.capture_failed(capture_error);
    if p2.is_some() {
        ctx.last_package2 = p2;
    }
    if let Some(name) = save_as {
        ctx.vars.0.insert(name.to_string(), doc);
    }
}

fn carries_end(p2: Option<&Vec<Vec<String>>>) -> bool {
    p2.is_some_and(|cmds| cmds.iter().any(|c| c.first().map(String::as_str) == Some("END")))
}

async fn finish_session(ctx: &mut Ctx<'_>, scr: &str, why: Option<&str>, auto_status: u16, max_packages: usize) {
    if ctx.last_package2.is_none() {
        return ctx.harness_error("finish-session needs a Package#2 received earlier in the case");
    }
    // A Package#2 that is not one ends the loop through these checks (DM-PACK-012).
    let checks = [
        Check {
            scr: "DM-PACK-012-S-M".into(),
            why: None,
            kind: crate::catalog::check::CheckKind::Status { equals: 200 },
        },
        Check {
            scr: "DM-PACK-012-S-M".into(),
            why: None,
            kind: crate::catalog::check::CheckKind::Builtin { name: "package2-valid".into(), args: toml::Table::new() },
        },
    ];
    let mut sent = 0;
    while !carries_end(ctx.last_package2.as_ref()) {
        if sent == max_packages {
            let last: Vec<String> = ctx.last_package2.iter().flatten().filter_map(|c| c.first().cloned()).collect();
            return ctx.fail_scr(
                Verdict::Fail,
                scr,
                why,
                format!("the server did not end the session with END within {max_packages} further Package#2s"),
                "a Package#2 carrying END".into(),
                format!("the last Package#2 carried [{}]", last.join(", ")),
            );
        }
        sent += 1;
        ctx.trace.note(format!("no END yet: Package#3 {sent} of at most {max_packages} to see the session end"));
        let no_alerts: [Value; 0] = [];
        let no_headers = BTreeMap::new();
        let no_capture = BTreeMap::new();
        send_package(
            ctx,
            SendSpec {
                package: 3,
                to: None,
                body: None,
                raw_body: None,
                auto_status: Some(auto_status),
                alerts: &no_alerts,
                headers: &no_headers,
                timeout_ms: None,
                scr: Some(scr),
                checks: &checks,
                capture: &no_capture,
                save_as: None,
            },
        )
        .await;
        if ctx.verdict.is_final() {
            return;
        }
    }
}

struct SendSpec<'a> {
    package: u8,
    to: Option<&'a str>,
    body: Option<&'a Value>,
    raw_body: Option<&'a str>,
    auto_status: Option<u16>,
    alerts: &'a [Value],
    headers: &'a BTreeMap<String, String>,
    timeout_ms: Option<u64>,
    scr: Option<&'a str>,
    checks: &'a [Check],
    capture: &'a BTreeMap<String, String>,
    save_as: Option<&'a str>,
}

async fn send_package(ctx: &mut Ctx<'_>, spec: SendSpec<'_>) {
    let s = ctx.env.settings.clone();
    let scr = spec.scr.map(str::to_string).unwrap_or_else(|| ctx.case.covers[0].clone());
    let url = match spec.to {
        Some(t) => match ctx.render_text(t) {
            Some(u) => u,
            None => return,
        },
        None if spec.package == 1 => match &s.server_uri {
            Some(u) => u.clone(),
            None => return ctx.harness_error("PIXIT iut.server_uri is needed to send Package#1"),
        },
        None => match ctx.session_target.clone().or_else(|| s.server_uri.clone()) {
            Some(u) => u,
            None => return ctx.harness_error("no session target for Package#3 (send Package#1 first)"),
        },
    };
    // Body.
    let body: Vec<u8> = if let Some(raw) = spec.raw_body {
        match ctx.render_text(raw) {
            Some(r) => r.into_bytes(),
            None => return,
        }
    } else {
        let mut doc = match (spec.body, spec.auto_status) {
            (Some(b), _) => match ctx.render(b) {
                Some(v) => v,
                None => return,
            },
            (None, Some(code)) => {
                let Some(cmds) = ctx.last_package2.clone() else {
                    return ctx.harness_error("auto_status needs a Package#2 received earlier in the case");
                };
                let status: Vec<Value> = cmds
                    .iter()
                    .filter(|c| s.profile.has_status(c.first().map(String::as_str).unwrap_or("")))
                    .map(|c| {
                        let async_exec = c.first().map(String::as_str) == Some("EXEC") && c.len() > 2;
                        json!({ "sc": if async_exec { 202 } else { code } })
                    })
                    .collect();
                json!({ "Status": status })
            }
            (None, None) if spec.package == 1 => json!({ "Alert": [ { "AlertType": dm2::ALERT_CLIENT_INITIATED } ] }),
            (None, None) => json!({ "Status": [] }),
        };
        if !spec.alerts.is_empty() {
            let Some(extra) = ctx.render(&Value::Array(spec.alerts.to_vec())) else { return };
            if let (Some(obj), Value::Array(extra)) = (doc.as_object_mut(), extra) {
                let arr = obj.entry("Alert").or_insert_with(|| Value::Array(vec![]));
                if let Some(a) = arr.as_array_mut() {
                    a.extend(extra);
                }
            }
        }
        serde_json::to_vec(&doc).unwrap_or_default()
    };
    // Headers: defaults, then overrides (an empty value removes).
    let mut headers: Vec<(String, String)> = vec![
        ("Content-Type".into(), if spec.package == 1 { dm2::MEDIA_PACKAGE1 } else { dm2::MEDIA_PACKAGE3 }.to_string()),
        ("Accept".into(), dm2::MEDIA_PACKAGE2.to_string()),
        (dm2::HEADER_DEVID.into(), s.dev_id.clone()),
    ];
    for (k, v) in spec.headers {
        let Some(v) = ctx.render_text(v) else { return };
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        if !v.is_empty() {
            headers.push((k.clone(), v));
        }
    }
    if let Some((u, p)) = &s.basic {
        if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case("authorization")) {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            headers.push(("Authorization".into(), format!("Basic {token}")));
        }
    }
    ctx.trace.record(TraceEvent::HttpRequest {
        from: "suite".into(),
        to: "iut".into(),
        method: "POST".into(),
        url: url.clone(),
        headers: headers.clone(),
        body: body_for_trace(&body),
    });
    let mut req = ctx.env.http.post(&url).body(body);
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let timeout = spec.timeout_ms.map(Duration::from_millis).unwrap_or(s.step_timeout);
    let resp = match tokio::time::timeout(timeout, async {
        let r = req.send().await?;
        let status = r.status().as_u16();
        let hdrs: Vec<(String, String)> = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let b = r.bytes().await?;
        Ok::<_, reqwest::Error>((status, hdrs, b.to_vec()))
    })
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            ctx.fail_scr(
                Verdict::Fail,
                &scr,
                None,
                format!("Package#{} POST to {url} failed", spec.package),
                "an HTTP response".into(),
                e.to_string(),
            );
            return;
        }
        Err(_) => {
            ctx.fail_scr(
                Verdict::Fail,
                &scr,
                None,
                format!("no HTTP response to Package#{} within {} ms", spec.package, timeout.as_millis()),
                "an HTTP response".into(),
                "nothing".into(),
            );
            return;
        }
    };
    let (status, rh, rb) = resp;
    ctx.trace.record(TraceEvent::HttpResponse {
        from: "iut".into(),
        to: "suite".into(),
        status,
        headers: rh.clone(),
        body: body_for_trace(&rb),
    });
    if spec.package == 1 {
        ctx.session_target = Some(url.clone());
    }
    // Track the session: the commands received, and CONT moving the next Package#3.
    if let Ok(p2) = Package2::parse(&rb) {
        for c in &p2.cmd {
            if let dm2::Command::Cont { server_uri } = c {
                ctx.session_target = Some(server_uri.clone());
            }
        }
        ctx.last_package2 = Some(p2.cmd.iter().map(|c| c.to_array()).collect());
    }
    let obs = Observed::Http { status: Some(status), method: None, path: None, headers: &rh, body: &rb };
    ctx.run_checks(spec.checks, &obs);
    let doc = message_json(None, None, Some(status), &rh, &rb);
    if !ctx.verdict.is_final() {
        let body = doc.get("body").cloned().unwrap_or(Value::Null);
        let e = ctx.capture(spec.capture, &body).err();
        ctx.capture_failed(e);
    }
    if let Some(name) = spec.save_as {
        ctx.vars.0.insert(name.to_string(), doc);
    }
}

async fn expect_silence(ctx: &mut Ctx<'_>, endpoint: &str, scr: &str, why: Option<&str>, quiet: Duration) {
    let listener = ctx.env.listener.clone();
    for early in listener.settle_answered_through(ctx.answered_through) {
        ctx.trace.note(format!(
            "{} /{}{} (request {}) came before the suite's last answer: not part of the silence",
            early.method, early.endpoint, early.path, early.seq
        ));
    }
    let ut = ctx.env.ut.clone();
    let req = UtRequest {
        action: crate::upper_tester::action::IDLE.into(),
        case: ctx.case.id.clone(),
        step: ctx.step,
        args: json!({}),
    };
    let step_timeout = ctx.env.settings.step_timeout;
    let trace = ctx.trace.clone();
    // Ask the IUT when it is idle; if it cannot say, wait the whole quiet period.
    let idle = async move {
        let r = ut.call(&req, step_timeout).await;
        let done = matches!(&r, Ok(a) if a.status == UtStatus::Done);
        trace.record(TraceEvent::UpperTester {
            action: req.action.clone(),
            request: serde_json::to_value(&req).unwrap_or(Value::Null),
            answer: match &r {
                Ok(a) => serde_json::to_value(a).unwrap_or(Value::Null),
                Err(e) => json!({ "error": e.to_string() }),
            },
        });
        if done {
            // Idle means nothing already started can still arrive; a short settle covers
            // requests in flight on the loopback.
            tokio::time::sleep(quiet.min(Duration::from_millis(20))).await;
        } else {
            trace.note(format!("IUT cannot report idleness: waiting the full quiet period ({} ms)", quiet.as_millis()));
            tokio::time::sleep(quiet).await;
        }
    };
    let violation = tokio::select! {
        t = listener.take(endpoint, None, step_timeout + quiet) => t,
        _ = idle => listener.take(endpoint, None, Duration::ZERO).await,
    };
    if let Some(t) = violation {
        let inc = t.incoming.clone();
        listener.answer(t, HttpAnswer::status(503));
        ctx.fail_scr(
            Verdict::Fail,
            scr,
            why,
            format!("a request arrived at /{}{} while silence was required", inc.endpoint, inc.path),
            if endpoint == "any" {
                "no request at any suite endpoint for the quiet period".to_string()
            } else {
                format!("no request at /{endpoint} for the quiet period")
            },
            format!(
                "{} /{}{} {}",
                inc.method,
                inc.endpoint,
                inc.path,
                crate::trace::truncate_marked(&String::from_utf8_lossy(&inc.body), 300)
            ),
        );
    }
}
