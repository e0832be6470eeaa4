//! The state of one running case and the helpers every step kind uses: verdicts with reasons,
//! templates, checks, captures and upper-tester calls.
use super::checks::{self, CheckCtx, Credentials, Observed};
use super::template::{self, Resolver, Vars};
use crate::binding::{Binding, Commands};
use crate::catalog::check::{Check, CheckKind, ContractCheck};
use crate::catalog::when::Condition;
use crate::catalog::Case;
use crate::peers::Listener;
use crate::runner::result::Informational;
use crate::scr::Registry;
use crate::trace::{Trace, TraceEvent};
use crate::upper_tester::{UpperTester, UtError, UtRequest, UtStatus};
use crate::verdict::{Reason, Verdict, VerdictState};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

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
    /// SERVER-ID the suite uses as DM server (client IUT).
    pub server_id: String,
    pub credentials: Option<Credentials>,
    pub transport: NotificationTransport,
    /// DevID: the client IUT's, or the one the suite uses as a device.
    pub dev_id: String,
    /// A server IUT's DM endpoint.
    pub server_uri: Option<String>,
    /// HTTP Basic credentials the suite sends as DM client.
    pub basic: Option<(String, String)>,
    /// Server IUT: its notifications come back in the upper tester's answer, not over HTTP.
    pub server_notifications_via_ut: bool,
    /// Flat PIXIT values for `${pixit.x}` templates (sensitive ones included: they are needed
    /// on the wire, and scrubbed from reports separately): text, or JSON for `[pixit.mo]` data.
    pub pixit: BTreeMap<String, Value>,
    /// The optional items and `ICS-*` capabilities the case's `applies_if` names that the ICS
    /// declares supported: an upper tester answering `unsupported` for them contradicts the ICS.
    pub declared_supported: Vec<String>,
    /// The SCR items the case's steps and checks name that the ICS declares supported, for
    /// `${ics.supports.ITEM}` (a step judging an optional item runs `when` the IUT has it).
    pub supports: BTreeSet<String>,
}

/// The environment of one case run.
pub struct CaseEnv {
    pub registry: Arc<Registry>,
    pub settings: CaseSettings,
    /// The protocol binding of the case, configured by the ICS profile.
    pub binding: Arc<dyn Binding>,
    pub ut: Arc<UpperTester>,
    pub listener: Arc<Listener>,
    pub http: reqwest::Client,
    /// The terminal's progress line (draws nothing unless the CLI installed one).
    pub progress: super::progress::Progress,
}

/// One running case.
pub struct Ctx<'a> {
    pub case: &'a Case,
    pub env: &'a CaseEnv,
    pub vars: Vars,
    pub verdict: VerdictState,
    pub trace: Trace,
    /// The 1-based step running.
    pub step: usize,
    /// Commands of the last command package the suite sent (client IUT) or received (server IUT).
    pub last_commands: Option<Commands>,
    /// Where the next reply goes (server IUT), moved by the server's packages (CONT).
    pub session_target: Option<String>,
    /// The session with a server IUT so far: every command package and reply (for checks on
    /// the whole session, whatever the server's batching).
    pub session: super::steps::session::SessionLog,
    /// How many requests had arrived when the suite last answered an awaited one (e.g. with
    /// END): resource-answered requests up to there cannot break a later silence.
    pub answered_through: usize,
    /// The judgements that held: (step, check index within the step), or (step, None) for the
    /// step's own SCR item (the awaited request came, the silence held...).
    pub held: BTreeSet<Judgement>,
    /// Steps whose `when` did not hold (1-based): they ran nothing and judged nothing.
    pub skipped: BTreeSet<usize>,
    /// Failed judgements that rest on an inference the profile makes informational: recorded,
    /// shown, and not counted for the verdict (nor as held).
    pub informational: Vec<(Judgement, Informational)>,
    /// The suite's download server of this case (`[case.download]`), if it has one.
    pub download: Option<Arc<crate::peers::download::DownloadServer>>,
}

/// One judgement of a case: a check (step, index) or a step's own item (step, None).
pub type Judgement = (usize, Option<usize>);

/// How [`Ctx::run_checks_with`] runs a list of checks.
#[derive(Debug, Default, Clone, Copy)]
pub struct CheckRun<'a> {
    /// The index of the first check within its step (a step may hold several lists).
    pub first_index: usize,
    /// Charge a failure to this item instead of the check's own.
    pub charge_to: Option<&'a str>,
}

impl Resolver for Ctx<'_> {
    fn resolve(&self, expr: &str) -> Option<Value> {
        if let Some(p) = expr.strip_prefix("pixit.") {
            return self.env.settings.pixit.get(p).cloned();
        }
        if let Some(p) = expr.strip_prefix("profile.") {
            // Profile settings (UNVERIFIED points), so cases can follow them.
            return self.env.binding.profile_json().get(p).cloned();
        }
        if let Some(item) = expr.strip_prefix("ics.supports.") {
            return Some(Value::Bool(self.env.settings.supports.contains(item)));
        }
        if let Some(d) = expr.strip_prefix("download.") {
            // `download.<name>.url | sha256 | size`; a name may hold dots (`fw.bin`).
            let server = self.download.as_ref()?;
            let (name, what) = d.rsplit_once('.')?;
            return match what {
                "url" => Some(Value::String(server.url(name))).filter(|_| {
                    let c = server.config();
                    c.objects.iter().any(|o| o.name == name) || c.descriptors.iter().any(|d| d.name == name)
                }),
                "sha256" => server.sha256(name).map(Value::String),
                "size" => server.config().objects.iter().find(|o| o.name == name).map(|o| Value::from(o.size)),
                _ => None,
            };
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

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl<'a> Ctx<'a> {
    pub fn new(case: &'a Case, env: &'a CaseEnv, trace: &Trace) -> Ctx<'a> {
        Ctx {
            case,
            env,
            vars: Vars::default(),
            verdict: VerdictState::default(),
            trace: trace.clone(),
            step: 0,
            last_commands: None,
            session_target: None,
            session: Default::default(),
            answered_through: 0,
            held: BTreeSet::new(),
            skipped: BTreeSet::new(),
            informational: Vec::new(),
            download: None,
        }
    }

    pub fn binding(&self) -> &dyn Binding {
        self.env.binding.as_ref()
    }

    /// Shows this step's waits on the progress line (for futures the step waits on).
    pub fn waiter(&self) -> super::progress::Waiter {
        self.env.progress.waiter(&self.case.id, self.step)
    }

    /// Shows on the progress line that this step waits, at most `within`, for what `what`
    /// says ("waiting for ... at URL"), until the returned guard is dropped.
    pub fn show_wait(&self, within: Duration, what: impl FnOnce() -> String) -> super::progress::Wait {
        self.waiter().wait(within, what)
    }

    pub fn set(&mut self, verdict: Verdict, mut reason: Reason) {
        reason.step = Some(self.step);
        self.trace.note(format!("verdict {verdict}: {}", reason.message));
        self.verdict.set(verdict, reason);
    }

    /// A defect of the case or the configuration, not of the IUT.
    pub fn harness_error(&mut self, msg: impl Into<String>) {
        self.set(Verdict::Error, Reason::new(msg));
    }

    /// An inconclusive outcome: the IUT's behaviour or its upper tester prevented a judgement.
    pub fn inconc(&mut self, msg: impl Into<String>) {
        self.set(Verdict::Inconc, Reason::new(msg));
    }

    pub fn requirement(&self, scr: &str, why: Option<&str>) -> Option<String> {
        if let Some(w) = why {
            return Some(w.to_string());
        }
        self.env.registry.get(scr).map(|i| i.requirement.clone().unwrap_or_else(|| i.function.clone()))
    }

    /// A verdict on SCR item `scr`, with expected and actual.
    pub fn fail_scr(
        &mut self,
        verdict: Verdict,
        scr: &str,
        why: Option<&str>,
        message: String,
        expected: String,
        actual: String,
    ) {
        self.judgement_failed(verdict, scr, why, None, None, message, expected, actual);
    }

    /// A failed judgement of `scr` (a check's, numbered `check` within the step, or the step's
    /// own): the verdict with its reason, which says when the judgement rests on an inference.
    /// An inferred `fail` whose item the profile makes informational (the binding's
    /// `informational`, e.g. DM 2.0 profile `informational = ["DM-PACK-003-C-M"]`, or `"*"`) is
    /// recorded instead and sets no verdict. True when the verdict was set.
    #[allow(clippy::too_many_arguments)]
    pub fn judgement_failed(
        &mut self,
        verdict: Verdict,
        scr: &str,
        why: Option<&str>,
        inferred: Option<&str>,
        check: Option<usize>,
        message: String,
        expected: String,
        actual: String,
    ) -> bool {
        let requirement = self.requirement(scr, why);
        if let Some(inference) = inferred.filter(|_| verdict == Verdict::Fail && self.is_informational(scr)) {
            self.trace.note(format!(
                "informational (profile: inferred judgements of {scr} do not count for the verdict): {message};                  expected {expected}, actual {actual}"
            ));
            let record = Informational {
                step: self.step,
                scr: scr.to_string(),
                message,
                requirement,
                expected,
                actual,
                inferred: inference.to_string(),
            };
            self.informational.push(((self.step, check), record));
            return false;
        }
        let reason = Reason {
            message,
            scr: Some(scr.to_string()),
            requirement,
            expected: Some(expected),
            actual: Some(actual),
            step: None,
            inferred: inferred.map(str::to_string),
        };
        self.set(verdict, reason);
        true
    }

    /// Whether the profile makes the inferred judgements of `scr` informational.
    fn is_informational(&self, scr: &str) -> bool {
        self.env.binding.informational().iter().any(|i| i == "*" || i == scr)
    }

    /// Whether a judgement failed as informational (it neither held nor set the verdict).
    pub fn failed_informational(&self, j: Judgement) -> bool {
        self.informational.iter().any(|(k, _)| *k == j)
    }

    pub fn render(&mut self, v: &Value) -> Option<Value> {
        match template::render_value(v, self) {
            Ok(v) => Some(v),
            Err(e) => {
                self.harness_error(format!("case defect: {e}"));
                None
            }
        }
    }

    pub fn render_text(&mut self, s: &str) -> Option<String> {
        match template::render_text(s, self) {
            Ok(v) => Some(v),
            Err(e) => {
                self.harness_error(format!("case defect: {e}"));
                None
            }
        }
    }

    /// Whether a step's `when` conditions all hold (the trace says why a step is skipped); None
    /// when one could not be resolved (a case defect: the verdict is set).
    pub fn conditions_hold(&mut self, conditions: &[Condition]) -> Option<bool> {
        for c in conditions {
            let actual = self.render(&Value::String(c.value.clone()))?;
            let expected = self.render(c.expected())?;
            if !c.holds(&actual, &expected) {
                self.trace.note(format!(
                    "step {} skipped: it runs when {}, and the value is {actual}",
                    self.step,
                    c.describe(&expected)
                ));
                return Some(false);
            }
        }
        Some(true)
    }

    /// A check with its templates resolved (None: a template failed, the verdict is set).
    fn rendered(&mut self, kind: &CheckKind) -> Option<CheckKind> {
        Some(match kind {
            CheckKind::Builtin { name, args } => {
                let as_json = serde_json::to_value(args).unwrap_or(Value::Null);
                let rendered = self.render(&as_json)?;
                let args: toml::Table = match serde_json::from_value(rendered) {
                    Ok(a) => a,
                    Err(e) => {
                        self.harness_error(format!("case defect: arguments of {name} after templates: {e}"));
                        return None;
                    }
                };
                CheckKind::Builtin { name: name.clone(), args }
            }
            CheckKind::JsonEquals { pointer, value } => {
                CheckKind::JsonEquals { pointer: pointer.clone(), value: self.render(value)? }
            }
            CheckKind::Path { equals } => CheckKind::Path { equals: self.render_text(equals)? },
            CheckKind::MediaType { header, value } => {
                CheckKind::MediaType { header: header.clone(), value: self.render_text(value)? }
            }
            CheckKind::HeaderEquals { header, value } => {
                CheckKind::HeaderEquals { header: header.clone(), value: self.render_text(value)? }
            }
            other => other.clone(),
        })
    }

    /// Runs checks in order; the first failure sets the verdict (fail on the check's SCR item,
    /// or error when the case itself is at fault) and stops.
    /// A message of the IUT not in the binding's encoding fails the case's `encoding_scr` item
    /// before any check reads it (checks of other items could only fail for want of a message).
    /// True when it did.
    pub fn encoding_failed(&mut self, endpoint: Option<&str>, headers: &[(String, String)], body: &[u8]) -> bool {
        let Some(scr) = self.case.encoding_scr.clone() else { return false };
        let Some(f) = self.env.binding.encoding_defect(endpoint, headers, body) else { return false };
        let message = format!("the message is not in the encoding of binding {}", self.env.binding.name());
        self.judgement_failed(Verdict::Fail, &scr, None, None, None, message, f.expected, f.actual);
        true
    }

    pub fn run_checks(&mut self, checks: &[Check], obs: &Observed) {
        self.run_checks_with(checks, obs, CheckRun::default())
    }

    /// [`Ctx::run_checks`], numbering the checks from `run.first_index` within the step (for the
    /// evidence of its items) and charging a failure to `run.charge_to` when given.
    pub fn run_checks_with(&mut self, checks: &[Check], obs: &Observed, run: CheckRun<'_>) {
        for (i, c) in checks.iter().enumerate() {
            let Some(kind) = self.rendered(&c.kind) else { return };
            let ctx = CheckCtx {
                last_commands: self.last_commands.as_deref(),
                credentials: self.env.settings.credentials.as_ref(),
                saved: Some(&self.vars.0),
            };
            if let Err(f) = checks::evaluate(&kind, obs, &ctx, self.env.binding.as_ref()) {
                let what = c.kind.label();
                if f.case_defect {
                    self.harness_error(format!("case defect in check {what}: expected {}", f.expected));
                    return;
                }
                let scr = run.charge_to.unwrap_or(&c.scr).to_string();
                // A failure that rests on a value the vendor never confirmed proves nothing.
                if let Some(r) = c.relies_on.as_ref().filter(|r| !self.env.settings.pixit.contains_key(&r.pixit)) {
                    let note = template::render_text(&r.note, self).unwrap_or_else(|_| r.note.clone());
                    let reason = Reason {
                        message: format!(
                            "check {what} failed, but it relies on PIXIT {}, which the ICS does not give: {note} \
                             (give PIXIT {} to make this a verdict)",
                            r.pixit, r.pixit
                        ),
                        scr: Some(scr.clone()),
                        requirement: self.requirement(&scr, c.why.as_deref()),
                        expected: Some(f.expected),
                        actual: Some(f.actual),
                        step: None,
                        inferred: c.inferred.clone(),
                    };
                    self.set(Verdict::Inconc, reason);
                    return;
                }
                let mut message = format!("check failed: {what}");
                if let Some(n) = &f.note {
                    message.push_str(&format!(" ({n})"));
                }
                let verdict = match c.on_fail {
                    _ if f.cannot_judge => {
                        message.push_str("; the check could not judge: what it reads is missing");
                        Verdict::Inconc
                    }
                    crate::catalog::check::OnFail::Fail => Verdict::Fail,
                    crate::catalog::check::OnFail::Inconc => {
                        message.push_str(
                            "; the check guards a preparation made through another command: the case could not be \
                             carried out",
                        );
                        Verdict::Inconc
                    }
                };
                let index = Some(run.first_index + i);
                if self.judgement_failed(
                    verdict,
                    &scr,
                    c.why.as_deref(),
                    c.inferred.as_deref(),
                    index,
                    message,
                    f.expected,
                    f.actual,
                ) {
                    return;
                }
                // Informational: recorded; the next check judges on.
                continue;
            }
            self.held.insert((self.step, Some(run.first_index + i)));
        }
    }

    /// Judges an upper-tester answer against what the contract asks of it (`contract` checks):
    /// the first that fails makes the case `inconc` naming the contract point (`action`'s
    /// section of docs/upper-tester.md), never a protocol verdict. False when one failed.
    pub fn run_contract(&mut self, action: &str, checks: &[ContractCheck], data: &Value) -> bool {
        for c in checks {
            let Some(kind) = self.rendered(&c.kind) else { return false };
            let ctx = CheckCtx {
                last_commands: None,
                credentials: self.env.settings.credentials.as_ref(),
                saved: Some(&self.vars.0),
            };
            if let Err(f) = checks::evaluate(&kind, &Observed::Json(data), &ctx, self.env.binding.as_ref()) {
                let what = c.kind.label();
                if f.case_defect {
                    self.harness_error(format!("case defect in contract check {what}: expected {}", f.expected));
                    return false;
                }
                self.set(
                    Verdict::Inconc,
                    Reason {
                        message: format!(
                            "upper-tester contract (docs/upper-tester.md, `{action}`): the answer does not show that \
                             {action} was done as asked ({what}); not a protocol verdict"
                        ),
                        scr: None,
                        requirement: c.why.clone(),
                        expected: Some(f.expected),
                        actual: Some(f.actual),
                        step: None,
                        inferred: None,
                    },
                );
                return false;
            }
        }
        true
    }

    /// Saves captured values; returns what could not be captured (the caller decides the
    /// verdict after the checks have judged the message).
    pub fn capture(&mut self, captures: &BTreeMap<String, String>, doc: &Value) -> Result<(), Box<Reason>> {
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
    pub fn capture_failed(&mut self, reason: Option<Box<Reason>>) {
        if let Some(r) = reason {
            self.set(Verdict::Inconc, *r);
        }
    }

    pub fn save(&mut self, name: Option<&str>, value: Value) {
        if let Some(n) = name {
            self.vars.0.insert(n.to_string(), value);
        }
    }

    /// Asks the upper tester once whether the IUT process has exited (`iut.state`); None when it
    /// is running, idle, or the upper tester cannot say.
    pub async fn iut_exited_now(&mut self) -> Option<crate::upper_tester::IutExit> {
        let req = UtRequest {
            action: crate::upper_tester::action::IUT_STATE.into(),
            case: self.case.id.clone(),
            step: self.step,
            args: json!({}),
        };
        let answer = self.env.ut.call(&req, self.env.settings.step_timeout).await;
        self.trace.record(TraceEvent::UpperTester {
            action: req.action.clone(),
            request: serde_json::to_value(&req).unwrap_or(Value::Null),
            answer: match &answer {
                Ok(a) => serde_json::to_value(a).unwrap_or(Value::Null),
                Err(e) => json!({ "error": e.to_string() }),
            },
        });
        match iut_state_of(&answer.ok()?)? {
            crate::upper_tester::IutState::Exited(e) => Some(e),
            _ => None,
        }
    }

    /// Calls the upper tester; returns the answer's data when it is `done`. Any other outcome
    /// sets the verdict (see docs/upper-tester.md "How answers become verdicts").
    pub async fn ut_call(&mut self, action: &str, args: Value, optional: bool) -> Option<Value> {
        let req = UtRequest { action: action.to_string(), case: self.case.id.clone(), step: self.step, args };
        let timeout = self.env.settings.step_timeout;
        // An operator's prompt says what it waits for and how long, on the line the progress
        // line would take.
        let shown = (!self.env.ut.is_interactive())
            .then(|| self.show_wait(timeout, || format!("waiting for the upper tester's answer to {action}")));
        // The operator's prompt takes the line: the run's progress is not drawn over it.
        let _held = self.env.ut.is_interactive().then(|| self.env.progress.hold());
        let call = self.env.ut.call(&req, timeout);
        let res = if action == crate::upper_tester::action::RESET {
            // What arrives while the IUT resets belongs to its old state (e.g. the last
            // Package#3 of a failed case's session): answered at once, never held, so an IUT
            // that ends its session before confirming the reset does not wait on the suite.
            let trace = self.trace.clone();
            let drop_old = self.env.listener.drop_arrivals(move |inc| {
                trace.note(format!(
                    "dropped (arrived before the reset completed): {} /{}{}",
                    inc.method, inc.endpoint, inc.path
                ))
            });
            tokio::select! {
                r = call => r,
                _ = drop_old => unreachable!("drop_arrivals never returns"),
            }
        } else {
            call.await
        };
        drop(shown);
        let answer_json = match &res {
            Ok(a) => serde_json::to_value(a).unwrap_or(Value::Null),
            Err(e) => json!({ "error": e.to_string() }),
        };
        self.trace.record(TraceEvent::UpperTester {
            action: action.to_string(),
            request: serde_json::to_value(&req).unwrap_or(Value::Null),
            answer: answer_json,
        });
        if let Some(exit) = res.as_ref().ok().and_then(|a| a.iut_exited()) {
            self.inconc(format!("upper tester: {action} could not be carried out: {exit}"));
            return None;
        }
        match res {
            Ok(a) => match a.status {
                UtStatus::Done => Some(a.data),
                UtStatus::Unsupported if optional => None,
                // `reset` is the harness's own hook, not a feature; for any other action an
                // `unsupported` answer contradicts an ICS that declares the case's features
                // supported. Still not a protocol verdict: what the upper tester cannot start
                // could not be tested (issue 8 §5), and the reason says which side to correct.
                UtStatus::Unsupported
                    if action != crate::upper_tester::action::RESET
                        && !self.env.settings.declared_supported.is_empty() =>
                {
                    let items = self.env.settings.declared_supported.clone();
                    let scr = items.iter().find(|i| self.env.registry.get(i).is_some()).cloned();
                    let requirement = scr.as_deref().and_then(|i| self.requirement(i, None));
                    self.set(
                        Verdict::Inconc,
                        Reason {
                            message: format!(
                                "upper tester answered `unsupported` to {action}, but the ICS declares {} supported: \
                                 the feature could not be tested (correct the ICS or the upper tester)",
                                items.join(", ")
                            ),
                            scr,
                            requirement,
                            expected: Some(format!("{action} done (the ICS declares {} supported)", items.join(", "))),
                            actual: Some(format!("unsupported: {}", a.message)),
                            step: None,
                            inferred: None,
                        },
                    );
                    None
                }
                UtStatus::Unsupported => {
                    self.inconc(format!("upper tester: action {action} is unsupported by the IUT: {}", a.message));
                    None
                }
                UtStatus::Failed => {
                    self.inconc(format!("upper tester: action {action} failed: {}", a.message));
                    None
                }
            },
            Err(UtError::RequiresOperator { prompt_id }) => {
                self.set(Verdict::Skipped, Reason::new(format!("requires-operator (prompt {prompt_id})")));
                None
            }
            Err(UtError::Timeout { after_ms }) => {
                self.inconc(format!("upper tester: no answer to {action} within {after_ms} ms"));
                None
            }
            Err(e) => {
                self.harness_error(format!("upper tester: {e}"));
                None
            }
        }
    }
}

/// Why a wait for the IUT ended before its timeout, as the upper tester's `iut.state` said.
#[derive(Debug, Clone, PartialEq)]
pub enum IutGone {
    /// The IUT process has exited: nothing more will come.
    Exited(crate::upper_tester::IutExit),
    /// No session, notification or queued work is in progress: what is awaited will not come.
    Idle,
}

impl std::fmt::Display for IutGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IutGone::Exited(e) => write!(f, "{e}"),
            IutGone::Idle => {
                f.write_str("the upper tester reports the IUT idle (iut.state): it is not going to send it")
            }
        }
    }
}

/// What an answer to `iut.state` says: its `data.state`, or an exit said the way any answer
/// may say it (`data.iut_state = "exited"`, whatever the status: an upper tester wrapping a
/// dead process may answer every action so).
fn iut_state_of(a: &crate::upper_tester::UtAnswer) -> Option<crate::upper_tester::IutState> {
    a.iut_exited().map(crate::upper_tester::IutState::Exited).or_else(|| a.iut_state())
}

/// When the first `iut.state` question is asked during a wait, and how often after that.
const IUT_STATE_FIRST: Duration = Duration::from_millis(300);
const IUT_STATE_EVERY: Duration = Duration::from_millis(500);

/// Asks the upper tester `iut.state` while a step waits for the IUT, and resolves when the
/// answer says the awaited message cannot come (the IUT exited, or is idle); never resolves
/// when the IUT is running or the upper tester cannot say (the step's timeout decides then).
pub fn watch_iut(ctx: &Ctx<'_>) -> impl std::future::Future<Output = IutGone> + Send + 'static {
    let ut = ctx.env.ut.clone();
    let trace = ctx.trace.clone();
    let (case, step) = (ctx.case.id.clone(), ctx.step);
    let timeout = ctx.env.settings.step_timeout;
    async move {
        tokio::time::sleep(IUT_STATE_FIRST).await;
        let mut running = 0usize;
        loop {
            let req = UtRequest {
                action: crate::upper_tester::action::IUT_STATE.into(),
                case: case.clone(),
                step,
                args: json!({}),
            };
            let answer = ut.call(&req, timeout).await;
            let state = answer.as_ref().ok().and_then(iut_state_of);
            let record = |answer: &Result<crate::upper_tester::UtAnswer, UtError>| {
                trace.record(TraceEvent::UpperTester {
                    action: req.action.clone(),
                    request: serde_json::to_value(&req).unwrap_or(Value::Null),
                    answer: match answer {
                        Ok(a) => serde_json::to_value(a).unwrap_or(Value::Null),
                        Err(e) => json!({ "error": e.to_string() }),
                    },
                })
            };
            match state {
                Some(crate::upper_tester::IutState::Running) => {
                    running += 1;
                    tokio::time::sleep(IUT_STATE_EVERY).await;
                }
                Some(crate::upper_tester::IutState::Idle) => {
                    record(&answer);
                    // Whatever the IUT sent before it became idle is on the loopback already.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return IutGone::Idle;
                }
                Some(crate::upper_tester::IutState::Exited(e)) => {
                    record(&answer);
                    return IutGone::Exited(e);
                }
                None => {
                    // The upper tester cannot say: stop asking, the step's timeout decides.
                    record(&answer);
                    if running > 0 {
                        trace.note(format!("iut.state: {running} answer(s) \"running\" before this one"));
                    }
                    return std::future::pending().await;
                }
            }
        }
    }
}

/// A JSON view of an HTTP message for `save_as`: method, path, status, headers, body.
pub fn message_json(
    method: Option<&str>,
    path: Option<&str>,
    status: Option<u16>,
    headers: &[(String, String)],
    body: &[u8],
) -> Value {
    let ct = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str());
    // A SyncML DM 1.2 body is kept as its JSON view, so cases read it like a JSON one.
    let body_v = serde_json::from_slice::<Value>(body)
        .ok()
        .or_else(|| crate::wire::dm12::json::view(body, ct.unwrap_or("")))
        .unwrap_or_else(|| Value::String(String::from_utf8_lossy(body).into()));
    let hdrs: serde_json::Map<String, Value> =
        headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone()))).collect();
    json!({ "method": method, "path": path, "status": status, "headers": hdrs, "body": body_v })
}
