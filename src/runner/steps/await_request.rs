//! `await`: wait for a request of the IUT at one of the suite's endpoints, judge it, answer it.
//!
//! The request is judged before it is answered (checks are pure and quick, so the IUT does not
//! wait on them): once the case has its verdict, a command answer is replaced by the binding's
//! session-ending one, so a faulty IUT's session ends with its case instead of running on into
//! the next.
use super::{Answer, Captures, Validation, ENDPOINTS};
use crate::catalog::check::Check;
use crate::peers::listener::{TakeOutcome, Taken};
use crate::peers::HttpAnswer;
use crate::runner::checks::Observed;
use crate::runner::ctx::{message_json, watch_iut, Ctx};
use crate::verdict::Verdict;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Await {
    pub endpoint: String,
    /// Only match this path (relative to the endpoint, e.g. "/obj1").
    #[serde(default)]
    pub path: Option<String>,
    /// The SCR item that demands this request; named when nothing arrives.
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Verdict when nothing arrives: fail (default) or inconc.
    #[serde(default)]
    pub on_timeout: OnTimeout,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub capture: Captures,
    #[serde(default)]
    pub save_as: Option<String>,
    #[serde(default)]
    pub answer: Option<Answer>,
    /// The demand for this request rests on an inference (see `Check::inferred`).
    #[serde(default)]
    pub inferred: Option<String>,
    /// The request must carry the account's HTTP credentials: without them it is challenged
    /// (401) and the IUT's next request must answer ([`super::auth`]).
    #[serde(default)]
    pub auth: Option<super::auth::AuthDemand>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    #[default]
    Fail,
    Inconc,
}

impl Await {
    pub fn validate(&self, v: &mut Validation) {
        if !ENDPOINTS.contains(&self.endpoint.as_str()) {
            v.problem(format!("unknown endpoint {:?}; known: {}", self.endpoint, ENDPOINTS.join(", ")));
        }
        if let Some(a) = &self.answer {
            a.validate(v);
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let timeout = self.timeout_ms.map(Duration::from_millis).unwrap_or(ctx.env.settings.step_timeout);
        let path = match &self.path {
            Some(p) => match ctx.render_text(p) {
                Some(p) => Some(p),
                None => return,
            },
            None => None,
        };
        let listener = ctx.env.listener.clone();
        let shown = ctx.show_wait(timeout, || self.awaited(ctx, path.as_deref()));
        // The wait ends early when the IUT sends to a URL the suite does not serve, or when the
        // upper tester says the IUT has exited or is idle: nothing will come then.
        let outcome = tokio::select! {
            o = listener.take_or_misdirected(&self.endpoint, path.as_deref(), timeout) => Ok(o),
            gone = watch_iut(ctx) => Err(gone),
        };
        drop(shown);
        let outcome = match outcome {
            Ok(o) => o,
            Err(gone) => match listener.take(&self.endpoint, path.as_deref(), Duration::ZERO).await {
                Some(t) => TakeOutcome::Taken(t),
                None => return self.nothing_arrived(ctx, path.as_deref(), &gone.to_string()),
            },
        };
        match outcome {
            TakeOutcome::Taken(taken) if taken.incoming.refused.is_some() => self.refused(ctx, taken),
            TakeOutcome::Taken(taken) => match &self.auth {
                Some(demand) => {
                    let endpoint = self.endpoint.clone();
                    if let Some(t) =
                        super::auth::authenticate(ctx, demand, &endpoint, path.as_deref(), taken, timeout).await
                    {
                        self.judge_and_answer(ctx, t)
                    }
                }
                None => self.judge_and_answer(ctx, taken),
            },
            TakeOutcome::Misdirected(m) => self.nothing_arrived(ctx, path.as_deref(), &m.describe()),
            TakeOutcome::TimedOut => {
                self.nothing_arrived(ctx, path.as_deref(), &format!("nothing within {} ms", timeout.as_millis()))
            }
        }
    }

    /// What the step awaits, for the progress line: the message in the binding's words (or the
    /// request the step's item demands) and the URL it must come to.
    fn awaited(&self, ctx: &Ctx<'_>, path: Option<&str>) -> String {
        let at = format!("{}{}", ctx.env.listener.endpoint_url(&self.endpoint), path.unwrap_or(""));
        // Commands the suite answered that did not end the session: the IUT's next message
        // answers them.
        let in_session = ctx.last_commands.as_deref().is_some_and(|c| !ctx.binding().ends_session(c));
        match ctx.binding().inbound_message_name(&self.endpoint, in_session) {
            Some(name) => format!("waiting for {name} at {at}"),
            None => format!("waiting for the request {} demands at {at}", self.scr),
        }
    }

    /// Nothing arrived where the step waits; `why` says how the wait ended.
    fn nothing_arrived(&self, ctx: &mut Ctx<'_>, path: Option<&str>, why: &str) {
        let verdict = match self.on_timeout {
            OnTimeout::Fail => Verdict::Fail,
            OnTimeout::Inconc => Verdict::Inconc,
        };
        let where_ = format!("{}{}", ctx.env.listener.endpoint_url(&self.endpoint), path.unwrap_or(""));
        // What the IUT sent elsewhere meanwhile often explains the miss (e.g. a Package#3 to
        // the old URI after CONT, or to another DM server URL).
        let mut elsewhere: Vec<String> =
            ctx.env.listener.pending("any").iter().map(|i| format!("{} {}", i.method, i.target)).collect();
        elsewhere
            .extend(ctx.env.listener.misdirected().iter().map(|m| format!("{} {} (answered 404)", m.method, m.target)));
        let actual = if elsewhere.is_empty() {
            why.to_string()
        } else {
            format!("{why}; meanwhile the IUT sent {}", elsewhere.join(", "))
        };
        ctx.judgement_failed(
            verdict,
            &self.scr,
            self.why.as_deref(),
            self.inferred.as_deref(),
            None,
            format!("no request arrived at {where_}: {why}"),
            format!("an HTTP request at {where_}"),
            actual,
        );
    }

    /// The request's body was refused (too large, or too slow): there is nothing to judge.
    fn refused(&self, ctx: &mut Ctx<'_>, taken: Taken) {
        let inc = taken.incoming.clone();
        let why = inc.refused.clone().unwrap_or_default();
        ctx.inconc(format!(
            "the IUT's {} {} was refused by the suite ({why}): its content could not be judged",
            inc.method, inc.target
        ));
        ctx.env.listener.answer(taken, HttpAnswer::status(inc.answered.unwrap_or(413)));
    }

    fn judge_and_answer(&self, ctx: &mut Ctx<'_>, taken: Taken) {
        let inc = taken.incoming.clone();
        let doc = message_json(Some(&inc.method), Some(&inc.path), None, &inc.headers, &inc.body);
        ctx.binding().observe_inbound(&self.endpoint, &inc.headers, &inc.body);
        // Captures first: the answer may use them (e.g. a GET of the instance an HGET just created).
        let body = doc.get("body").cloned().unwrap_or(Value::Null);
        let capture_error = ctx.capture(&self.capture, &body).err();
        let built = match &self.answer {
            Some(a) => a.build(ctx, ctx.binding()).map(Some),
            None => Ok(None),
        };
        let (answer, commands) = match built {
            Ok(Some((a, c))) => (a, c),
            Ok(None) => (HttpAnswer::status(200), None),
            Err(e) => {
                ctx.env.listener.answer(taken, HttpAnswer::status(500));
                self.judge(ctx, &inc, None);
                if capture_error.is_some() {
                    // The answer needed a value the message lacked; the checks have spoken first.
                    ctx.capture_failed(capture_error);
                } else {
                    ctx.harness_error(format!("case defect: {e}"));
                }
                return;
            }
        };
        if !taken.is_held() && self.answer.is_some() {
            ctx.trace.note("the request was already answered by a static resource; the step's answer is not used");
        }
        let status = inc.answered.unwrap_or(answer.status);
        // Judge against the commands answered before this request; only then do this step's
        // commands become the ones the next status package must match.
        self.judge(ctx, &inc, Some(status));
        ctx.capture_failed(capture_error);
        let answer = if ctx.verdict.is_final() && commands.is_some() {
            ctx.trace
                .note("the case has its verdict: the session is ended instead of sending the case's next commands");
            ctx.binding().session_end_answer()
        } else {
            answer
        };
        ctx.env.listener.answer(taken, answer);
        ctx.answered_through = ctx.env.listener.arrived();
        if commands.is_some() && !ctx.verdict.is_final() {
            ctx.last_commands = commands;
        }
        ctx.save(self.save_as.as_deref(), doc);
    }

    fn judge(&self, ctx: &mut Ctx<'_>, inc: &crate::peers::Incoming, status: Option<u16>) {
        if ctx.encoding_failed(Some(&self.endpoint), &inc.headers, &inc.body) {
            return;
        }
        let obs = Observed::Http {
            status,
            method: Some(&inc.method),
            path: Some(&inc.path),
            headers: &inc.headers,
            body: &inc.body,
        };
        ctx.run_checks(&self.checks, &obs);
    }
}
