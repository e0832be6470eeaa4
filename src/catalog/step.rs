//! The step vocabulary of a case procedure: one variant per step kind. Each kind's struct, its
//! load-time validation and its execution live in [`crate::runner::steps`].
use super::check::Check;
use crate::binding::ClientMessage;
use crate::runner::ctx::Ctx;
use crate::runner::steps::tls::{ExpectTlsRefusal, PresentCertificate};
use crate::runner::steps::{
    await_request::Await, download_server::DownloadServerStep, end_devices::EndDevicesStep,
    expect_notification::ExpectNotification, expect_silence::ExpectSilence, fetch_hget::FetchHget, notify::Notify,
    report::Report, session::ClientSend, session::FinishSession, set::Set, ut::Ut, Validation,
};
use serde::Deserialize;

pub use crate::runner::steps::{Answer, Captures, Resource};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// Ask the IUT, through the upper tester, to do something only its own side can start.
    Ut(Ut),
    /// Send a notification to a client IUT.
    Notify(Notify),
    /// Wait for a request at one of the suite's endpoints, check it and answer it.
    Await(Await),
    /// As DM client, open a session with a server IUT and check its answer.
    OpenSession(ClientSend),
    /// As DM client, reply to the server's commands (statuses) and check its answer.
    Reply(ClientSend),
    /// Reply until the server ends the session.
    FinishSession(FinishSession),
    /// Obtain a notification a server IUT sent and check it.
    ExpectNotification(ExpectNotification),
    /// Nothing may arrive for the quiet period.
    ExpectSilence(ExpectSilence),
    /// Ask a server IUT what it recorded (`device.report`) and check it.
    Report(Report),
    /// Set a variable from a template.
    Set(Set),
    /// Switch the certificate the suite's HTTPS listener presents (security cases).
    PresentCertificate(PresentCertificate),
    /// The client IUT must refuse the TLS handshake.
    ExpectTlsRefusal(ExpectTlsRefusal),
    /// Judge what the case's download server recorded (DLOTA fetches, status reports).
    DownloadServer(DownloadServerStep),
    /// The simulated End Devices behind a gateway IUT: start them, or judge what reached them.
    EndDevices(EndDevicesStep),
    /// Server IUT: fetch the data an HGET of the session points at, and check it.
    FetchHget(FetchHget),
}

/// Every step kind's name, for error messages.
pub const KINDS: &[&str] = &[
    "ut",
    "notify",
    "await",
    "open-session",
    "reply",
    "finish-session",
    "expect-notification",
    "expect-silence",
    "report",
    "set",
    "present-certificate",
    "expect-tls-refusal",
    "download-server",
    "end-devices",
    "fetch-hget",
];

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Ut(_) => "ut",
            Step::Notify(_) => "notify",
            Step::Await(_) => "await",
            Step::OpenSession(_) => "open-session",
            Step::Reply(_) => "reply",
            Step::FinishSession(_) => "finish-session",
            Step::ExpectNotification(_) => "expect-notification",
            Step::ExpectSilence(_) => "expect-silence",
            Step::Report(_) => "report",
            Step::Set(_) => "set",
            Step::PresentCertificate(_) => "present-certificate",
            Step::ExpectTlsRefusal(_) => "expect-tls-refusal",
            Step::DownloadServer(_) => "download-server",
            Step::EndDevices(_) => "end-devices",
            Step::FetchHget(_) => "fetch-hget",
        }
    }

    /// The step's checks, in the order their judgements are numbered (a `finish-session`'s
    /// checks on each package, then its checks on the whole session).
    pub fn checks(&self) -> Vec<&Check> {
        match self {
            Step::Await(s) => s.checks.iter().collect(),
            Step::OpenSession(s) | Step::Reply(s) => s.checks.iter().collect(),
            Step::FinishSession(s) => s.checks.iter().chain(&s.session_checks).collect(),
            Step::ExpectNotification(s) => s.checks.iter().collect(),
            Step::Report(s) => s.checks.iter().collect(),
            Step::DownloadServer(s) => s.checks.iter().collect(),
            Step::EndDevices(s) => s.checks.iter().collect(),
            Step::FetchHget(s) => s.checks.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// SCR items named by the step itself (not its checks).
    pub fn scr_refs(&self) -> Vec<&str> {
        match self {
            Step::Await(s) => std::iter::once(s.scr.as_str()).chain(s.auth.as_ref().map(|a| a.scr.as_str())).collect(),
            Step::ExpectNotification(s) => vec![s.scr.as_str()],
            Step::ExpectSilence(s) => vec![s.scr.as_str()],
            Step::ExpectTlsRefusal(s) => vec![s.scr.as_str()],
            Step::DownloadServer(s) => vec![s.scr.as_str()],
            Step::EndDevices(s) => vec![s.scr.as_str()],
            Step::FetchHget(s) => vec![s.scr.as_str()],
            Step::FinishSession(s) => std::iter::once(s.scr.as_str()).chain(s.moved_scr.as_deref()).collect(),
            Step::OpenSession(s) | Step::Reply(s) => s.scr.iter().map(String::as_str).collect(),
            _ => vec![],
        }
    }

    /// Why the step's own judgement (its `scr`) rests on an inference, if it does.
    pub fn inferred(&self) -> Option<&str> {
        match self {
            Step::Await(s) => s.inferred.as_deref(),
            Step::ExpectSilence(s) => s.inferred.as_deref(),
            _ => None,
        }
    }

    /// The upper-tester action the step calls, if it is a `ut` step.
    pub fn ut_action(&self) -> Option<&str> {
        match self {
            Step::Ut(u) => Some(&u.action),
            _ => None,
        }
    }

    /// What the catalog checks about the step beyond its shape.
    pub fn validate(&self, v: &mut Validation) {
        match self {
            Step::Ut(s) => s.validate(v),
            Step::Notify(s) => s.validate(v),
            Step::Await(s) => s.validate(v),
            Step::OpenSession(s) => s.validate("open-session", ClientMessage::Open, v),
            Step::Reply(s) => s.validate("reply", ClientMessage::Reply, v),
            Step::FinishSession(s) => s.validate(v),
            Step::ExpectNotification(s) => s.validate(v),
            Step::ExpectSilence(s) => s.validate(v),
            Step::Report(s) => s.validate(v),
            Step::Set(_) => {}
            Step::PresentCertificate(s) => s.validate(v),
            Step::ExpectTlsRefusal(s) => s.validate(v),
            Step::DownloadServer(s) => s.validate(v),
            Step::EndDevices(s) => s.validate(v),
            Step::FetchHget(s) => s.validate(v),
        }
    }

    /// Performs the step.
    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        match self {
            Step::Ut(s) => s.run(ctx).await,
            Step::Notify(s) => s.run(ctx).await,
            Step::Await(s) => s.run(ctx).await,
            Step::OpenSession(s) => s.run(ctx, ClientMessage::Open).await,
            Step::Reply(s) => s.run(ctx, ClientMessage::Reply).await,
            Step::FinishSession(s) => s.run(ctx).await,
            Step::ExpectNotification(s) => s.run(ctx).await,
            Step::ExpectSilence(s) => s.run(ctx).await,
            Step::Report(s) => s.run(ctx).await,
            Step::Set(s) => s.run(ctx),
            Step::PresentCertificate(s) => s.run(ctx),
            Step::ExpectTlsRefusal(s) => s.run(ctx).await,
            Step::DownloadServer(s) => s.run(ctx).await,
            Step::EndDevices(s) => s.run(ctx).await,
            Step::FetchHget(s) => s.run(ctx).await,
        }
    }
}
