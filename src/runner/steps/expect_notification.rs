//! `expect-notification`: obtain the notification a server IUT sent — from the suite's
//! notification listener, or from a saved upper-tester answer carrying `bytes_b64` — decode it
//! through the binding and check it.
use super::Validation;
use crate::catalog::check::Check;
use crate::peers::listener::TakeOutcome;
use crate::peers::HttpAnswer;
use crate::runner::checks::Observed;
use crate::runner::ctx::{watch_iut, Ctx};
use crate::scr::Role;
use crate::trace::TraceEvent;
use crate::verdict::Verdict;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectNotification {
    /// "listener" (await a POST at the notify endpoint), "ut:<saved name>" (the bytes_b64 of a
    /// saved upper-tester answer), or "configured:<saved name>" (either, as the PIXIT
    /// `notification.server_delivery` says).
    #[serde(default = "listener")]
    pub source: String,
    pub scr: String,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub save_as: Option<String>,
}

fn listener() -> String {
    "listener".into()
}

/// `listener`, `ut:<saved answer>` or `configured:<saved answer>`.
fn valid_source(source: &str) -> bool {
    source == "listener"
        || source.strip_prefix("ut:").or(source.strip_prefix("configured:")).is_some_and(|name| !name.is_empty())
}

impl ExpectNotification {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("expect-notification", Role::Server);
        if !valid_source(&self.source) {
            v.problem(format!(
                "source {:?}: expected \"listener\", \"ut:<saved answer>\" or \"configured:<saved answer>\"",
                self.source
            ));
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let Some(bytes) = self.obtain(ctx).await else { return };
        ctx.trace.record(TraceEvent::Notification {
            from: "iut".into(),
            to: "suite".into(),
            hex: hex::encode(&bytes),
            note: String::new(),
        });
        let json = match ctx.binding().decode_notification(&bytes) {
            Ok(j) => j,
            Err(e) => {
                return ctx.fail_scr(
                    Verdict::Fail,
                    &self.scr,
                    None,
                    "the notification does not decode".into(),
                    format!("byte {}: {}", e.offset, e.expected),
                    e.found,
                )
            }
        };
        ctx.run_checks(&self.checks, &Observed::Notification { bytes: &bytes, json: &json });
        ctx.save(self.save_as.as_deref(), json);
    }

    /// No notification came; `why` says how the wait ended.
    fn none(&self, ctx: &mut Ctx<'_>, why: &str) -> Option<Vec<u8>> {
        let url = ctx.env.listener.endpoint_url("notify");
        ctx.fail_scr(
            Verdict::Fail,
            &self.scr,
            None,
            format!("no notification arrived at {url}: {why}"),
            "a DM notification".into(),
            why.to_string(),
        );
        None
    }

    async fn obtain(&self, ctx: &mut Ctx<'_>) -> Option<Vec<u8>> {
        let timeout = self.timeout_ms.map(Duration::from_millis).unwrap_or(ctx.env.settings.step_timeout);
        // "configured:<name>": the PIXIT says whether the server delivers to the listener or
        // only hands the bytes to the upper tester (answer saved as <name>).
        let source = match self.source.strip_prefix("configured:") {
            Some(name) if ctx.env.settings.server_notifications_via_ut => format!("ut:{name}"),
            Some(_) => "listener".to_string(),
            None => self.source.clone(),
        };
        if source == "listener" {
            let listener = ctx.env.listener.clone();
            let shown = ctx.show_wait(timeout, || {
                let at = listener.endpoint_url("notify");
                match ctx.binding().inbound_message_name("notify", false) {
                    Some(name) => format!("waiting for {name} at {at}"),
                    None => format!("waiting for a notification at {at}"),
                }
            });
            let outcome = tokio::select! {
                o = listener.take_or_misdirected("notify", None, timeout) => o,
                gone = watch_iut(ctx) => match listener.take("notify", None, Duration::ZERO).await {
                    Some(t) => TakeOutcome::Taken(t),
                    None => return self.none(ctx, &gone.to_string()),
                },
            };
            drop(shown);
            return match outcome {
                TakeOutcome::Taken(t) if t.incoming.refused.is_some() => {
                    let why = t.incoming.refused.clone().unwrap_or_default();
                    let status = t.incoming.answered.unwrap_or(413);
                    ctx.env.listener.answer(t, HttpAnswer::status(status));
                    ctx.inconc(format!("the notification was refused by the suite ({why}): it could not be judged"));
                    None
                }
                TakeOutcome::Taken(t) => {
                    let b = t.incoming.body.clone();
                    ctx.env.listener.answer(t, HttpAnswer::status(204));
                    Some(b)
                }
                TakeOutcome::Misdirected(m) => self.none(ctx, &m.describe()),
                TakeOutcome::TimedOut => self.none(ctx, &format!("nothing within {} ms", timeout.as_millis())),
            };
        }
        let name = source.strip_prefix("ut:").unwrap_or_default();
        let b64 = ctx.vars.lookup(&format!("{name}#/bytes_b64"));
        match b64.as_ref().and_then(Value::as_str).map(|s| base64::engine::general_purpose::STANDARD.decode(s)) {
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => {
                ctx.fail_scr(
                    Verdict::Fail,
                    &self.scr,
                    None,
                    "the upper tester's bytes_b64 is not base64".into(),
                    "base64 notification bytes".into(),
                    e.to_string(),
                );
                None
            }
            None => {
                ctx.inconc(format!("the upper-tester answer saved as {name} carries no data.bytes_b64"));
                None
            }
        }
    }
}
