//! Executes one case: its steps in order, each wait bounded, the verdict sticky. What each step
//! does is its kind's business ([`super::steps`]); this is only the loop.
use super::ctx::Ctx;
use crate::catalog::{Case, Resource};
use crate::peers::download::DownloadServer;
use crate::peers::HttpAnswer;
use crate::trace::Trace;
use crate::verdict::{Reason, Verdict};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::runner::result::{Informational, ItemEvidence};

pub use super::ctx::{CaseEnv, CaseSettings, NotificationTransport};

/// The outcome of executing a case.
pub struct Execution {
    pub verdict: Verdict,
    pub reason: Option<Reason>,
    pub trace: Trace,
    pub duration: Duration,
    /// Per SCR item the case judges: how many of its judgements held.
    pub evidence: BTreeMap<String, ItemEvidence>,
    /// Per SCR item the case judged through an inference: why the requirement is read so.
    pub inferred: BTreeMap<String, Vec<String>>,
    /// Failed inferred judgements the profile makes informational.
    pub informational: Vec<Informational>,
}

/// Runs a case to its verdict. Never panics on IUT behaviour; every wait is bounded.
pub async fn execute(case: &Case, env: &CaseEnv) -> Execution {
    let start = Instant::now();
    let trace = Trace::new();
    let download = match start_download(case, env, &trace).await {
        Ok(d) => d,
        Err(e) => {
            return Execution {
                verdict: Verdict::Error,
                reason: Some(Reason::new(e)),
                trace,
                duration: start.elapsed(),
                evidence: BTreeMap::new(),
                inferred: BTreeMap::new(),
                informational: Vec::new(),
            }
        }
    };
    let resources = match resolve_resources(case, env, &trace, download.clone()) {
        Ok(r) => r,
        Err(e) => {
            stop_download(download).await;
            return Execution {
                verdict: Verdict::Error,
                reason: Some(Reason::new(format!("case defect: {e}"))),
                trace,
                duration: start.elapsed(),
                evidence: BTreeMap::new(),
                inferred: BTreeMap::new(),
                informational: Vec::new(),
            };
        }
    };
    env.listener.begin_case_with_id(&case.id, trace.clone(), resources);
    let mut ctx = Ctx::new(case, env, &trace);
    ctx.download = download.clone();
    let case_timeout = env.settings.case_timeout;
    if tokio::time::timeout(case_timeout, run_steps(&mut ctx)).await.is_err() {
        ctx.inconc(format!(
            "case timeout: the case did not complete within {} ms (PIXIT timeouts.case_ms)",
            case_timeout.as_millis()
        ));
    }
    env.listener.end_case();
    let evidence = evidence(case, &ctx);
    let inferred = inferred(case, &ctx);
    let informational = ctx.informational.iter().map(|(_, i)| i.clone()).collect();
    ctx.download = None;
    let end_devices = ctx.end_devices.take();
    let (verdict, reason) = ctx.verdict.into_parts();
    if let Some(d) = end_devices.and_then(|d| Arc::try_unwrap(d).ok()) {
        d.shutdown().await;
    }
    stop_download(download).await;
    Execution { verdict, reason, trace, duration: start.elapsed(), evidence, inferred, informational }
}

/// For every SCR item the case's steps and checks name: how many judgements name it, and how
/// many of them held. An item all of whose judgements held was shown to hold, whatever else
/// failed in the case (docs/reports.md, "How a case's verdict reaches its items").
fn evidence(case: &Case, ctx: &Ctx<'_>) -> BTreeMap<String, ItemEvidence> {
    let mut out: BTreeMap<String, ItemEvidence> = BTreeMap::new();
    for (item, judgements) in case.judgements() {
        // A step its `when` skipped judged nothing.
        let judgements: Vec<_> = judgements.into_iter().filter(|(step, _)| !ctx.skipped.contains(step)).collect();
        if judgements.is_empty() {
            continue;
        }
        let held = judgements.iter().filter(|j| ctx.held.contains(j)).count();
        out.insert(item, ItemEvidence { judgements: judgements.len(), held });
    }
    out
}

/// Why each item the case judged (in a step that was not skipped) through an inferred
/// judgement is read so.
fn inferred(case: &Case, ctx: &Ctx<'_>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |scr: &str, why: &str| {
        let whys = out.entry(scr.to_string()).or_default();
        if !whys.iter().any(|w| w == why) {
            whys.push(why.to_string());
        }
    };
    for (_, step) in case.steps.iter().enumerate().filter(|(i, _)| !ctx.skipped.contains(&(i + 1))) {
        if let Some(why) = step.inferred() {
            step.scr_refs().into_iter().for_each(|s| add(s, why));
        }
        for c in step.checks() {
            if let Some(why) = &c.inferred {
                add(&c.scr, why);
            }
        }
    }
    out
}

/// The case's download server (`[case.download]`), on a port of its own at the listener's
/// address (the IUT reaches it where it reaches the listener).
async fn start_download(case: &Case, env: &CaseEnv, trace: &Trace) -> Result<Option<Arc<DownloadServer>>, String> {
    let Some(config) = &case.download else { return Ok(None) };
    let listen = std::net::SocketAddr::new(env.listener.addr().ip(), 0);
    // Named as the IUT names the suite: the host of the DM server URL.
    let host = reqwest::Url::parse(env.listener.server_url()).ok().and_then(|u| u.host_str().map(str::to_string));
    let server = DownloadServer::spawn_as(listen, host.as_deref(), config.clone())
        .await
        .map_err(|e| format!("the download server could not listen on {listen}: {e}"))?;
    trace.note(format!("the suite's download server serves this case at {} (bound {})", server.url(""), server.addr));
    Ok(Some(Arc::new(server)))
}

async fn stop_download(download: Option<Arc<DownloadServer>>) {
    if let Some(server) = download.and_then(|d| Arc::try_unwrap(d).ok()) {
        server.shutdown().await;
    }
}

/// The case's static resources, rendered.
fn resolve_resources(
    case: &Case,
    env: &CaseEnv,
    trace: &Trace,
    download: Option<Arc<DownloadServer>>,
) -> Result<Vec<(Resource, HttpAnswer)>, String> {
    let mut ctx = Ctx::new(case, env, trace);
    ctx.download = download;
    case.resources.iter().map(|r| Ok((r.clone(), r.answer.build(&ctx, env.binding.as_ref())?.0))).collect()
}

async fn run_steps(ctx: &mut Ctx<'_>) {
    for (i, step) in ctx.case.steps.iter().enumerate() {
        ctx.step = i + 1;
        ctx.trace.set_step(ctx.step);
        ctx.env.progress.step(&ctx.case.id, ctx.step);
        match ctx.conditions_hold(&ctx.case.conditions[i]) {
            Some(true) => {}
            Some(false) => {
                ctx.skipped.insert(ctx.step);
                continue;
            }
            // A condition could not be resolved: the verdict (error) is set.
            None => break,
        }
        ctx.trace.note(format!("step {} ({})", ctx.step, step.kind()));
        step.run(ctx).await;
        if ctx.verdict.is_final() {
            break;
        }
        // The step's own item: the request came, the silence held, the session ended (unless
        // that judgement failed as informational).
        if !ctx.failed_informational((ctx.step, None)) {
            ctx.held.insert((ctx.step, None));
        }
    }
}
