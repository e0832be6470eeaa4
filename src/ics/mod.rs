//! The vendor's Implementation Conformance Statement (ICS) and its PIXIT parameters: one TOML
//! file that says what the IUT is (`[iut]`), which optional SCR items and `ICS-*` capabilities
//! it supports (`[support]`), how to reach and drive it (`[pixit.*]`) and which protocol profile
//! settings apply (`[profile]`). See `examples/ics-client.toml` and `examples/ics-server.toml`.
//!
//! From it follows applicability: which SCR items and cases apply to this IUT, each with a
//! reason a human can check before any traffic is sent.
//!
//! By concern: the types are here; [`load`] parses and validates an ICS file (and checks it
//! against the SCR tables), [`applicability`] decides which items and cases apply and why,
//! [`redact`] flattens the PIXIT and hides its sensitive values, [`mo`] declares the `[pixit.mo]`
//! values client cases use, with their defaults. The built-in ICS of the
//! reference peers lives with them, in `crate::reference::ics`.
mod applicability;
mod load;
pub mod mo;
pub mod redact;

use crate::scr::Role;
use crate::upper_tester::UpperTesterConfig;
use crate::wire::dm2::Profile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The DevID the suite uses when it plays a device towards a server IUT and the ICS gives none.
pub const SUITE_DEV_ID: &str = "IMEI:990000000000017";

/// The capabilities that say the DM session runs over HTTPS (scr/dm2/capabilities.toml); an
/// ICS with `[pixit.tls] enabled` (client) or an https:// `iut.server_uri` (server) answers
/// them true unless it says otherwise.
pub const CAP_CLIENT_TLS: &str = "ICS-DMC-TLS";
pub const CAP_SERVER_TLS: &str = "ICS-DMS-TLS";

/// The protocol binding of an IUT whose ICS names none.
pub const DEFAULT_BINDING: &str = "dm2";

/// What the IUT is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IutIdentity {
    pub role: Role,
    pub vendor: String,
    pub product: String,
    pub version: String,
    /// The protocol binding the IUT speaks (`[iut] binding`, default [`DEFAULT_BINDING`]).
    pub binding: String,
    /// SCR tables the IUT implements beyond the base tables of its binding (`[iut] implements`).
    pub implements: Vec<String>,
}

/// `[pixit.suite]`: where the suite's own peers listen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuitePixit {
    /// Address of the suite's listener (DM server, repository, browser, notify endpoints).
    /// When `server_url` is given and `listen` is not, 127.0.0.1 and `server_url`'s port.
    pub listen: SocketAddr,
    /// Public base URL of the listener when the IUT must reach it through another name.
    pub base_url: Option<String>,
    /// Client IUT: the DM server URL (scheme, host, port, path) of the DM account the IUT
    /// holds, which it may not be able to change; the suite serves its DM server there.
    /// Default: `<base_url or http://<listen>>/dm` (see [`SuitePixit::dm_server_url`]).
    pub server_url: Option<String>,
}

impl Default for SuitePixit {
    fn default() -> Self {
        SuitePixit { listen: SocketAddr::from(([127, 0, 0, 1], 0)), base_url: None, server_url: None }
    }
}

impl SuitePixit {
    /// The DM server URL of the account: `server_url` when given, else `<base_url>/dm`, else
    /// `http://<bound>/dm`, where `bound` is the address the listener actually bound (the
    /// port of `listen` may be 0).
    pub fn dm_server_url(&self, bound: SocketAddr) -> String {
        if let Some(u) = &self.server_url {
            return u.clone();
        }
        let base = self.base_url.clone().unwrap_or_else(|| format!("http://{bound}"));
        format!("{}/dm", base.trim_end_matches('/'))
    }
}

/// `[pixit.iut]`: how the IUT identifies itself and where it is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IutPixit {
    /// Client IUT: the DevID it sends in OMADM-DevID. Server IUT: the DevID the suite uses as a
    /// device (defaults to [`SUITE_DEV_ID`]).
    pub dev_id: Option<String>,
    /// Server IUT: its DM endpoint (where Package#1 and Package#3 are POSTed).
    pub server_uri: Option<String>,
}

/// `[pixit.account]`: the DM account between the suite and the IUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountPixit {
    /// SERVER-ID of the DM server (the suite's, for a client IUT).
    pub server_id: String,
    /// HTTP credentials, when the DM account uses them.
    pub username: Option<String>,
    pub password: Option<String>,
    /// How they are sent: "basic" (default), "digest" (RFC 7616, SHA-256) or "digest-md5".
    /// The suite as DM server challenges with this scheme; as DM client it answers whichever
    /// challenge the server IUT sends, and sends Basic unasked only with "basic".
    pub auth: crate::wire::http_auth::Scheme,
}

impl Default for AccountPixit {
    fn default() -> Self {
        AccountPixit { server_id: "dmcts".into(), username: None, password: None, auth: Default::default() }
    }
}

/// How Package#0 reaches a client IUT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationTransport {
    /// The upper tester's `notification.deliver` hands the bytes to the IUT.
    #[default]
    UpperTester,
    /// HTTP POST of the bytes to `url`.
    Http,
}

/// `[pixit.notification]`: Package#0 delivery and its digest credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationPixit {
    pub transport: NotificationTransport,
    /// Where to POST Package#0 when `transport = "http"`.
    pub url: Option<String>,
    /// SHA256-DIGEST credentials shared with the IUT (sensitive).
    pub secret: Option<String>,
    pub auth_data: Option<String>,
    /// Server IUT: how the suite obtains the Package#0 the server sends.
    pub server_delivery: ServerDelivery,
}

/// How a server IUT's notifications reach the suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerDelivery {
    /// The server POSTs Package#0 to the address it was registered with (the suite's
    /// notification listener).
    #[default]
    Listener,
    /// The server's transport cannot reach the suite (SMS, push...): the bytes come back in the
    /// `bytes_b64` of the `notification.send` answer.
    UpperTester,
}

/// `[pixit.tls]`: HTTPS between the suite and the IUT (docs/security.md). Paths are PEM files,
/// relative to the ICS file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsPixit {
    /// The suite's listener serves HTTPS (client IUT: the DM server URL is https://). A server
    /// IUT is reached over HTTPS when its `iut.server_uri` is https://.
    pub enabled: bool,
    /// The certificate chain and key the suite's listener presents. Absent: a CA is generated
    /// for the run, its certificate written to `<report dir>/dmcts-ca.pem` for the IUT to trust.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The CA a server IUT's certificate must chain to (nothing else is trusted).
    pub ca: Option<PathBuf>,
    /// The client certificate and key the suite presents to a server IUT.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// When given, the suite's listener requires a client certificate chaining to this CA.
    pub client_ca: Option<PathBuf>,
}

/// `[pixit.timeouts]`: every wait of the suite is bounded by one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    pub step_ms: u64,
    pub case_ms: u64,
    pub run_ms: u64,
    /// How long "nothing arrives" must hold for an expect-silence step.
    pub quiet_period_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { step_ms: 10_000, case_ms: 60_000, run_ms: 3_600_000, quiet_period_ms: 3_000 }
    }
}

impl Timeouts {
    pub fn step(&self) -> Duration {
        Duration::from_millis(self.step_ms)
    }
    pub fn case(&self) -> Duration {
        Duration::from_millis(self.case_ms)
    }
    pub fn run(&self) -> Duration {
        Duration::from_millis(self.run_ms)
    }
    pub fn quiet_period(&self) -> Duration {
        Duration::from_millis(self.quiet_period_ms)
    }
}

/// All PIXIT values, typed, defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pixit {
    pub suite: SuitePixit,
    pub iut: IutPixit,
    pub account: AccountPixit,
    pub notification: NotificationPixit,
    pub upper_tester: UpperTesterConfig,
    pub tls: TlsPixit,
    pub timeouts: Timeouts,
    /// `[pixit.mo]`: where the client IUT's tree is addressed and what cases send into it
    /// (declared in [`mo::MO_PIXIT`]; defaults applied for a client IUT).
    pub mo: BTreeMap<String, mo::MoValue>,
    /// The `[pixit.mo]` keys whose value is the documented default, not the ICS's.
    #[serde(skip)]
    pub mo_defaults: std::collections::BTreeSet<String>,
}

/// The effective ICS of one IUT.
#[derive(Debug, Clone)]
pub struct Ics {
    pub path: PathBuf,
    pub iut: IutIdentity,
    /// Answers for optional SCR items of the IUT's role and `ICS-*` capabilities.
    pub support: BTreeMap<String, bool>,
    pub pixit: Pixit,
    pub profile: Profile,
    /// Where each `[support]` key and table was written, for error messages.
    pub(crate) lines: BTreeMap<String, usize>,
    /// The built-in reference ICS supports every optional item without listing them.
    pub(crate) all_optional_supported: bool,
}

/// Whether one SCR item applies to the IUT, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applicability {
    pub id: String,
    pub applicable: bool,
    pub reason: String,
}

/// Whether the IUT implements one SCR table, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableApplicability {
    pub id: String,
    pub implemented: bool,
    pub reason: String,
}

/// One problem in an ICS, with the line it concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsProblem {
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IcsError {
    #[error("cannot read ICS file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "ICS file {} is empty: an ICS must declare at least [iut] role = \"client\" or \"server\", vendor, product \
         and version, and the PIXIT the role needs (see examples/ics-client.toml); refusing to run rather than test \
         nothing",
        path.display()
    )]
    Empty { path: PathBuf },
    #[error("{}:{line}:{col}: {message}", path.display())]
    Toml { path: PathBuf, line: usize, col: usize, message: String },
    #[error("{} problem(s) in ICS file {}:\n{}", problems.len(), path.display(), render(path, problems))]
    Invalid { path: PathBuf, problems: Vec<IcsProblem> },
}

fn render(path: &Path, problems: &[IcsProblem]) -> String {
    problems
        .iter()
        .map(|p| match p.line {
            Some(l) => format!("  {}:{l}: {}", path.display(), p.message),
            None => format!("  {}: {}", path.display(), p.message),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Ics {
    fn line_of(&self, key: &str) -> Option<usize> {
        self.lines.get(key).copied()
    }
}

impl fmt::Display for IutIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} ({})", self.vendor, self.product, self.version, self.role)
    }
}
