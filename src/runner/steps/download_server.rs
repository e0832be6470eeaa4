//! `download-server`: judge what the case's download server (`[case.download]`, DLOTA,
//! [`crate::peers::download`]) recorded: the requests for descriptors and objects (with their
//! ranges) and the installNotify status reports. The checks read the server's log as JSON
//! ([`DownloadServer::log_json`](crate::peers::download::DownloadServer::log_json)).
//!
//! - `await_request = "<name>"`: first wait (at most `timeouts.step_ms`) for a request of that
//!   descriptor or object; none is a failure of `scr`.
//! - `await_report = "<descriptor>"`: first wait (at most PIXIT `timeouts.step_ms`) for a status
//!   report POSTed to that descriptor's installNotifyURI; none is a failure of the step's `scr`.
//! - `silence = true`: first wait the quiet period; any request to the download server after
//!   the last status report (or, without one, after the step began) is a failure of `scr`
//!   (e.g. a download retried after its result was reported).
use super::Validation;
use crate::catalog::check::Check;
use crate::runner::checks::Observed;
use crate::runner::ctx::Ctx;
use crate::scr::Role;
use crate::verdict::Verdict;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadServerStep {
    /// The item the step's own judgement (the report came, the silence held) is charged to.
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
    /// Wait for a request of this descriptor or object (whatever its answer).
    #[serde(default)]
    pub await_request: Option<String>,
    /// Wait for the status report to this descriptor's installNotifyURI.
    #[serde(default)]
    pub await_report: Option<String>,
    /// Nothing may reach the download server for the quiet period.
    #[serde(default)]
    pub silence: bool,
    #[serde(default)]
    pub checks: Vec<Check>,
}

impl DownloadServerStep {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("download-server", Role::Client);
        if self.await_report.is_some() && self.silence {
            v.problem("a `download-server` step either awaits a report or expects silence, not both");
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let Some(server) = ctx.download.clone() else {
            return ctx.harness_error("case defect: a `download-server` step in a case without [case.download]");
        };
        if let Some(n) = &self.await_request {
            let Some(n) = ctx.render_text(n) else { return };
            let within = ctx.env.settings.step_timeout;
            let url = server.url(&n);
            let _wait = ctx.show_wait(within, || format!("waiting for a request of {url}"));
            let path = format!("/{n}");
            if !server.wait_until(within, |s| s.requests().iter().any(|r| r.path == path)).await {
                let scr = self.scr.clone();
                return ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    self.why.as_deref(),
                    format!("no request of {url} within {} ms", within.as_millis()),
                    format!("a GET of {url}"),
                    "no such request at the download server".into(),
                );
            }
        }
        if let Some(d) = &self.await_report {
            let Some(d) = ctx.render_text(d) else { return };
            if !server.config().descriptors.iter().any(|x| x.name == d) {
                return ctx
                    .harness_error(format!("case defect: await_report names no descriptor of [case.download]: {d:?}"));
            }
            let within = ctx.env.settings.step_timeout;
            let url = format!("{}/notify/{d}", server.url("").trim_end_matches('/'));
            let _wait = ctx.show_wait(within, || format!("waiting for the DLOTA status report at {url}"));
            let came = server.wait_until(within, |s| s.reports().iter().any(|r| r.descriptor == d)).await;
            if !came {
                let seen: Vec<String> =
                    server.requests().iter().map(|r| format!("{} {} {}", r.method, r.path, r.status)).collect();
                let scr = self.scr.clone();
                return ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    self.why.as_deref(),
                    format!(
                        "no DLOTA status report was POSTed to installNotifyURI {url} within {} ms",
                        within.as_millis()
                    ),
                    format!("a POST to {url}"),
                    if seen.is_empty() { "no request to the download server".into() } else { seen.join("; ") },
                );
            }
        }
        if self.silence {
            // The silence runs from the last status report (the download's end as the device
            // reports it), or from this step when there is none.
            let quiet = ctx.env.settings.quiet_period;
            let seen = server.requests();
            let from = seen.iter().rposition(|r| r.method == "POST" && r.path.starts_with("/notify/"));
            let before = from.map(|i| i + 1).unwrap_or(seen.len());
            let _wait = ctx.show_wait(quiet, || "quiet period: nothing may reach the download server".to_string());
            if server.wait_until(quiet, |s| s.requests().len() > before).await {
                let r = server.requests()[before].clone();
                let since = if from.is_some() { "after the DLOTA status report" } else { "during the quiet period" };
                let scr = self.scr.clone();
                return ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    self.why.as_deref(),
                    format!("the download server got {} {} {since}", r.method, r.path),
                    format!("no request to the download server {since} (quiet period {} ms)", quiet.as_millis()),
                    format!("{} {} (answered {})", r.method, r.path, r.status),
                );
            }
        }
        let log = server.log_json();
        ctx.trace.note(format!("download server log: {log}"));
        ctx.run_checks(&self.checks, &Observed::Json(&log));
    }
}
