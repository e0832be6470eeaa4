//! `expect-silence`: nothing may arrive at `endpoint` ("any" for all) for the quiet period. The
//! upper tester's `idle` is asked first, so an IUT that can say it is idle is not waited on
//! blindly.
use super::{Validation, ENDPOINTS};
use crate::peers::HttpAnswer;
use crate::runner::ctx::Ctx;
use crate::runner::progress::seconds;
use crate::trace::TraceEvent;
use crate::upper_tester::{UtRequest, UtStatus};
use crate::verdict::Verdict;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSilence {
    #[serde(default = "any")]
    pub endpoint: String,
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The silence rests on an inference (see `Check::inferred`).
    #[serde(default)]
    pub inferred: Option<String>,
    /// Ask the upper tester `idle` first (default). `false` where the IUT is busy by design
    /// (the suite holds a session the IUT opened, to judge it after the silence): the whole
    /// quiet period is waited.
    #[serde(default = "yes")]
    pub ask_idle: bool,
}

fn any() -> String {
    "any".into()
}

fn yes() -> bool {
    true
}

impl ExpectSilence {
    pub fn validate(&self, v: &mut Validation) {
        if self.endpoint != "any" && !ENDPOINTS.contains(&self.endpoint.as_str()) {
            v.problem(format!("unknown endpoint {:?}; known: any, {}", self.endpoint, ENDPOINTS.join(", ")));
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let quiet = self.duration_ms.map(Duration::from_millis).unwrap_or(ctx.env.settings.quiet_period);
        let listener = ctx.env.listener.clone();
        for early in listener.settle_answered_through(&self.endpoint, ctx.answered_through) {
            ctx.trace.note(format!(
                "{} {} (request {}) came before the suite's last answer: not part of the silence",
                early.method, early.target, early.seq
            ));
        }
        // A request to a path the suite does not serve breaks the silence too.
        let misdirected_before = listener.misdirected().len();
        let ut = ctx.env.ut.clone();
        let req = UtRequest {
            action: crate::upper_tester::action::IDLE.into(),
            case: ctx.case.id.clone(),
            step: ctx.step,
            args: json!({}),
        };
        let step_timeout = ctx.env.settings.step_timeout;
        let trace = ctx.trace.clone();
        let waiter = ctx.waiter();
        let at = match self.endpoint.as_str() {
            "any" => String::new(),
            e => format!(" at {}", listener.endpoint_url(e)),
        };
        // Ask the IUT when it is idle; if it cannot say, wait the whole quiet period.
        let ask_idle = self.ask_idle;
        let idle = async move {
            if !ask_idle {
                trace.note(format!(
                    "the IUT is busy by design (ask_idle = false): waiting the quiet period ({} ms)",
                    quiet.as_millis()
                ));
                let _shown =
                    waiter.wait(quiet, || format!("quiet period: nothing may arrive{at} for {}", seconds(quiet)));
                tokio::time::sleep(quiet).await;
                return;
            }
            let asking = waiter.wait(step_timeout, || {
                format!("waiting for the upper tester's answer to idle (a quiet period of {} follows)", seconds(quiet))
            });
            let r = ut.call(&req, step_timeout).await;
            drop(asking);
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
                trace.note(format!(
                    "IUT cannot report idleness: waiting the full quiet period ({} ms)",
                    quiet.as_millis()
                ));
                let _shown =
                    waiter.wait(quiet, || format!("quiet period: nothing may arrive{at} for {}", seconds(quiet)));
                tokio::time::sleep(quiet).await;
            }
        };
        let endpoint = self.endpoint.as_str();
        let violation = tokio::select! {
            t = listener.take(endpoint, None, step_timeout + quiet) => t,
            _ = idle => listener.take(endpoint, None, Duration::ZERO).await,
        };
        let Some(t) = violation else {
            if let Some(m) = listener.misdirected().get(misdirected_before) {
                ctx.judgement_failed(
                    Verdict::Fail,
                    &self.scr,
                    self.why.as_deref(),
                    self.inferred.as_deref(),
                    None,
                    format!("a request arrived while silence was required ({})", m.describe()),
                    "no request for the quiet period".into(),
                    format!("{} {} (answered 404)", m.method, m.target),
                );
            }
            return;
        };
        let inc = t.incoming.clone();
        listener.answer(t, HttpAnswer::status(503));
        ctx.judgement_failed(
            Verdict::Fail,
            &self.scr,
            self.why.as_deref(),
            self.inferred.as_deref(),
            None,
            format!("a request arrived at {} while silence was required", inc.target),
            if endpoint == "any" {
                "no request at any suite endpoint for the quiet period".to_string()
            } else {
                format!("no request at /{endpoint} for the quiet period")
            },
            format!(
                "{} {} {}",
                inc.method,
                inc.target,
                crate::trace::truncate_marked(&String::from_utf8_lossy(&inc.body), 300)
            ),
        );
    }
}
