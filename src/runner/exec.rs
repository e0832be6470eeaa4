//! Executes one case: its steps in order, each wait bounded, the verdict sticky. What each step
//! does is its kind's business ([`super::steps`]); this is only the loop.
use super::ctx::Ctx;
use crate::catalog::{Case, Resource};
use crate::peers::HttpAnswer;
use crate::trace::Trace;
use crate::verdict::{Reason, Verdict};
use std::time::{Duration, Instant};

pub use super::ctx::{CaseEnv, CaseSettings, NotificationTransport};

/// The outcome of executing a case.
pub struct Execution {
    pub verdict: Verdict,
    pub reason: Option<Reason>,
    pub trace: Trace,
    pub duration: Duration,
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
    if tokio::time::timeout(case_timeout, run_steps(&mut ctx)).await.is_err() {
        ctx.inconc(format!(
            "case timeout: the case did not complete within {} ms (PIXIT timeouts.case_ms)",
            case_timeout.as_millis()
        ));
    }
    env.listener.end_case();
    let (verdict, reason) = ctx.verdict.into_parts();
    Execution { verdict, reason, trace, duration: start.elapsed() }
}

/// The case's static resources, rendered.
fn resolve_resources(case: &Case, env: &CaseEnv, trace: &Trace) -> Result<Vec<(Resource, HttpAnswer)>, String> {
    let ctx = Ctx::new(case, env, trace);
    case.resources.iter().map(|r| Ok((r.clone(), r.answer.build(&ctx, env.binding.as_ref())?.0))).collect()
}

async fn run_steps(ctx: &mut Ctx<'_>) {
    for (i, step) in ctx.case.steps.iter().enumerate() {
        ctx.step = i + 1;
        ctx.trace.set_step(ctx.step);
        ctx.trace.note(format!("step {} ({})", ctx.step, step.kind()));
        step.run(ctx).await;
        if ctx.verdict.is_final() {
            break;
        }
    }
}
