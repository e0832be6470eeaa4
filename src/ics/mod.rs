//! The vendor's Implementation Conformance Statement (ICS) and its PIXIT parameters: one TOML
//! file that says what the IUT is (`[iut]`), which optional SCR items and `ICS-*` capabilities
//! it supports (`[support]`), how to reach and drive it (`[pixit.*]`) and which protocol profile
//! settings apply (`[profile]`). See `examples/ics-client.toml` and `examples/ics-server.toml`.
//!
//! From it follows applicability: which SCR items and cases apply to this IUT, each with a
//! reason a human can check before any traffic is sent.
use crate::scr::{line_col, Expr, Registry, Role, ScrItem, Status};
use crate::upper_tester::UpperTesterConfig;
use crate::wire::dm2::Profile;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The DevID the suite uses when it plays a device towards a server IUT and the ICS gives none.
pub const SUITE_DEV_ID: &str = "IMEI:990000000000017";
/// The DevID the built-in reference ICS expects from (client) or uses towards (server) the
/// reference peers, unless `Ics::for_reference_with` is given another.
/// It is the reference client's own DevID, so `${pixit.iut.dev_id}` checks agree with it.
pub const REFERENCE_DEV_ID: &str = crate::reference::client::DEFAULT_DEV_ID;
/// Notification credentials of the built-in reference ICS (test values, not secrets); the same
/// as `reference::client::ClientConfig::new`, so digests of the suite's Package#0 verify.
pub const REFERENCE_SECRET: &str = "test-noti-secret";
pub const REFERENCE_AUTH_DATA: &str = "test-noti-authdata";
/// ClientURI of DevInfo/DevID used by the reference ICS (`pixit.mo.devid_uri`).
pub const REFERENCE_DEVID_URI: &str = "urn:oma:mo:oma-dm-devinfo:1.0//DevID";

const REDACTED: &str = "<redacted>";
/// PIXIT values that must never appear in reports or traces (dotted paths under `pixit`).
const SENSITIVE: [&str; 3] = ["account.password", "notification.secret", "notification.auth_data"];

/// What the IUT is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IutIdentity {
    pub role: Role,
    pub vendor: String,
    pub product: String,
    pub version: String,
}

/// `[pixit.suite]`: where the suite's own peers listen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuitePixit {
    /// Address of the suite's listener (DM server, repository, browser, notify endpoints).
    pub listen: SocketAddr,
    /// Public base URL of the listener when the IUT must reach it through another name.
    pub base_url: Option<String>,
}

impl Default for SuitePixit {
    fn default() -> Self {
        SuitePixit { listen: SocketAddr::from(([127, 0, 0, 1], 0)), base_url: None }
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
    /// HTTP Basic credentials, when the DM account uses them.
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Default for AccountPixit {
    fn default() -> Self {
        AccountPixit { server_id: "dmcts".into(), username: None, password: None }
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
    pub timeouts: Timeouts,
    /// `[pixit.mo]`: device-specific ClientURIs cases need (e.g. `devid_uri`, `permanent_uri`).
    pub mo: BTreeMap<String, String>,
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
    lines: BTreeMap<String, usize>,
    /// The built-in reference ICS supports every optional item without listing them.
    all_optional_supported: bool,
}

/// Whether one SCR item applies to the IUT, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applicability {
    pub id: String,
    pub applicable: bool,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIcs {
    iut: Option<RawIut>,
    #[serde(default)]
    support: BTreeMap<String, bool>,
    #[serde(default)]
    pixit: RawPixit,
    #[serde(default)]
    profile: Profile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIut {
    role: Spanned<Role>,
    vendor: String,
    product: String,
    version: String,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawPixit {
    suite: SuitePixit,
    iut: IutPixit,
    account: AccountPixit,
    notification: NotificationPixit,
    upper_tester: Option<UpperTesterConfig>,
    timeouts: Timeouts,
    mo: BTreeMap<String, String>,
}

/// Lines of the tables and keys of interest: `iut`, `support`, `support.<key>`, `pixit.<table>`.
fn key_lines(src: &str, root: &DeTable<'_>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let line = |off: usize| line_col(src, off).0;
    for (k, v) in root.iter() {
        let name = k.get_ref().to_string();
        out.insert(name.clone(), line(k.span().start));
        if let DeValue::Table(t) = v.get_ref() {
            for (k2, v2) in t.iter() {
                let sub = format!("{name}.{}", k2.get_ref());
                out.insert(sub.clone(), line(k2.span().start));
                if let DeValue::Table(t3) = v2.get_ref() {
                    for (k3, _) in t3.iter() {
                        out.insert(format!("{sub}.{}", k3.get_ref()), line(k3.span().start));
                    }
                }
            }
        }
    }
    out
}

fn check_url(what: &str, url: &str, line: Option<usize>, problems: &mut Vec<IcsProblem>) {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
        Ok(u) => problems
            .push(IcsProblem { line, message: format!("{what} {url:?} has scheme {:?}, expected http", u.scheme()) }),
        Err(e) => problems.push(IcsProblem {
            line,
            message: format!("{what} {url:?} is not a URL ({e}), expected http://host:port/path"),
        }),
    }
}

impl Ics {
    /// Reads and validates an ICS file (without the SCR registry; see [`Ics::validate_against`]).
    pub fn load(path: &Path) -> Result<Ics, IcsError> {
        let src = std::fs::read_to_string(path).map_err(|source| IcsError::Io { path: path.to_path_buf(), source })?;
        Ics::from_str(&src, path)
    }

    /// Parses an ICS from a string; `path` names it in errors and anchors relative paths.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(src: &str, path: &Path) -> Result<Ics, IcsError> {
        let toml_err = |e: toml::de::Error| {
            let (line, col) = line_col(src, e.span().map(|s| s.start).unwrap_or(0));
            IcsError::Toml { path: path.to_path_buf(), line, col, message: e.message().trim().to_string() }
        };
        let root = DeTable::parse(src).map_err(toml_err)?;
        if root.get_ref().is_empty() {
            return Err(IcsError::Empty { path: path.to_path_buf() });
        }
        let lines = key_lines(src, root.get_ref());
        let raw: RawIcs = toml::from_str(src).map_err(toml_err)?;
        let invalid = |problems| IcsError::Invalid { path: path.to_path_buf(), problems };
        let Some(iut) = raw.iut else {
            return Err(invalid(vec![IcsProblem {
                line: None,
                message:
                    "no [iut] table: an ICS must declare [iut] role = \"client\" or \"server\", vendor, product and \
                          version"
                        .into(),
            }]));
        };
        let role = *iut.role.get_ref();
        let role_line = Some(line_col(src, iut.role.span().start).0);
        let at = |key: &str| lines.get(key).copied().or(role_line);
        let mut problems = Vec::new();
        let mut p = raw.pixit;

        match role {
            Role::Client => {
                if p.iut.dev_id.as_deref().is_none_or(|d| d.trim().is_empty()) {
                    problems.push(IcsProblem {
                        line: at("pixit.iut"),
                        message: "PIXIT iut.dev_id is required for a client IUT: the DevID it sends in OMADM-DevID \
                                  (e.g. [pixit.iut] dev_id = \"IMEI:...\")"
                            .into(),
                    });
                }
                if p.notification.transport == NotificationTransport::Http {
                    match &p.notification.url {
                        None => problems.push(IcsProblem {
                            line: at("pixit.notification"),
                            message: "PIXIT notification.url is required when notification.transport = \"http\": \
                                      where the suite POSTs Package#0"
                                .into(),
                        }),
                        Some(u) => check_url("PIXIT notification.url", u, at("pixit.notification"), &mut problems),
                    }
                }
            }
            Role::Server => {
                match &p.iut.server_uri {
                    None => problems.push(IcsProblem {
                        line: at("pixit.iut"),
                        message:
                            "PIXIT iut.server_uri is required for a server IUT: its DM endpoint (e.g. [pixit.iut] \
                                  server_uri = \"http://127.0.0.1:8080/dm\")"
                                .into(),
                    }),
                    Some(u) => check_url("PIXIT iut.server_uri", u, at("pixit.iut"), &mut problems),
                }
                if p.iut.dev_id.is_none() {
                    p.iut.dev_id = Some(SUITE_DEV_ID.to_string());
                }
            }
        }
        if p.notification.secret.is_some() != p.notification.auth_data.is_some() {
            problems.push(IcsProblem {
                line: at("pixit.notification"),
                message: "PIXIT notification.secret and notification.auth_data go together (the SHA256-DIGEST uses \
                          both): give both or neither"
                    .into(),
            });
        }
        if let Some(u) = &p.suite.base_url {
            check_url("PIXIT suite.base_url", u, at("pixit.suite"), &mut problems);
        }
        let t = &p.timeouts;
        for (name, v) in [("step_ms", t.step_ms), ("case_ms", t.case_ms), ("run_ms", t.run_ms)] {
            if v == 0 {
                problems.push(IcsProblem {
                    line: at("pixit.timeouts"),
                    message: format!("PIXIT timeouts.{name} is 0, expected a positive number of milliseconds"),
                });
            }
        }
        if t.step_ms > t.case_ms {
            problems.push(IcsProblem {
                line: at("pixit.timeouts"),
                message: format!(
                    "PIXIT timeouts.step_ms ({}) exceeds timeouts.case_ms ({}): a step must fit in its case",
                    t.step_ms, t.case_ms
                ),
            });
        }
        let upper_tester = match p.upper_tester.take() {
            Some(u) => Some(u),
            None => {
                problems.push(IcsProblem {
                    line: at("pixit").or(role_line),
                    message: "PIXIT [pixit.upper_tester] is required: how the suite makes the IUT act (backend = \
                              \"http\" with url, \"exec\" with command, \"interactive\", or \"scripted\" with file)"
                        .into(),
                });
                None
            }
        };
        for (k, _) in raw.support.iter() {
            if k.trim().is_empty() {
                problems.push(IcsProblem { line: at("support"), message: "[support] has an empty key".into() });
            }
        }
        match upper_tester {
            Some(upper_tester) if problems.is_empty() => Ok(Ics {
                path: path.to_path_buf(),
                iut: IutIdentity { role, vendor: iut.vendor, product: iut.product, version: iut.version },
                support: raw.support,
                pixit: Pixit {
                    suite: p.suite,
                    iut: p.iut,
                    account: p.account,
                    notification: p.notification,
                    upper_tester,
                    timeouts: p.timeouts,
                    mo: p.mo,
                },
                profile: raw.profile,
                lines,
                all_optional_supported: false,
            }),
            _ => Err(invalid(problems)),
        }
    }

    /// Device-specific ClientURIs of the reference client that client-role cases use (`[pixit.mo]`),
    /// matching the provisioned state documented in `crate::reference::client`.
    fn reference_mo() -> BTreeMap<String, String> {
        [
            ("devid_uri", REFERENCE_DEVID_URI),
            // A permanent node: DELETE must be refused (405).
            ("permanent_uri", "urn:oma:mo:dmcts-test:1.0/t0/Perm"),
            // A dynamic leaf the server may replace with HGET and remove with DELETE.
            ("dynamic_uri", "urn:oma:mo:dmcts-test:1.0/t0/Scratch"),
            // A MOID the server may create instances of with HGET (no ClientURI).
            ("instance_moid", "urn:oma:mo:dmcts-test:1.0"),
            // A MOID whose configuration the tree lacks after reset (DEFAULT, config.request).
            ("default_moid", "urn:oma:mo:dmcts-config:1.0"),
            // A subtree the client uploads with HPUT/HPOST.
            ("upload_uri", "urn:oma:mo:oma-dm-devinfo:1.0/d0/"),
            // An executable node, and a node whose value shows the execution took effect.
            ("exec_uri", "urn:oma:mo:dmcts-test:1.0/t0/Op"),
            ("exec_effect_uri", "urn:oma:mo:dmcts-test:1.0/t0/OpCount"),
            ("exec_effect_value", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The built-in ICS of a reference peer (see [`Ics::for_reference_with`]), listening on
    /// 127.0.0.1 with an OS-chosen port and using [`REFERENCE_DEV_ID`].
    pub fn for_reference(role: Role, ut_url: &str, server_uri: Option<&str>) -> Ics {
        Ics::for_reference_with(role, ut_url, server_uri, SocketAddr::from(([127, 0, 0, 1], 0)), REFERENCE_DEV_ID)
    }

    /// The built-in ICS used with `dmcts run --against reference`: every optional SCR item
    /// supported, the upper tester over HTTP at `ut_url`, Package#0 through the upper tester,
    /// reference notification credentials, short timeouts and quiet period.
    pub fn for_reference_with(
        role: Role,
        ut_url: &str,
        server_uri: Option<&str>,
        listen: SocketAddr,
        dev_id: &str,
    ) -> Ics {
        let product = match role {
            Role::Client => "reference DM client",
            Role::Server => "reference DM server",
        };
        Ics {
            path: PathBuf::from(format!("<built-in reference {role} ICS>")),
            iut: IutIdentity {
                role,
                vendor: "dmcts".into(),
                product: product.into(),
                version: crate::SUITE_VERSION.into(),
            },
            support: BTreeMap::new(),
            pixit: Pixit {
                suite: SuitePixit { listen, base_url: None },
                iut: IutPixit { dev_id: Some(dev_id.to_string()), server_uri: server_uri.map(str::to_string) },
                account: AccountPixit::default(),
                notification: NotificationPixit {
                    transport: NotificationTransport::UpperTester,
                    url: None,
                    secret: Some(REFERENCE_SECRET.into()),
                    auth_data: Some(REFERENCE_AUTH_DATA.into()),
                    server_delivery: ServerDelivery::Listener,
                },
                upper_tester: UpperTesterConfig::Http { url: ut_url.to_string() },
                // In-process peers answer in milliseconds; long waits would only slow selftests.
                timeouts: Timeouts { step_ms: 5_000, case_ms: 30_000, run_ms: 600_000, quiet_period_ms: 150 },
                mo: Self::reference_mo(),
            },
            profile: Profile::default(),
            lines: BTreeMap::new(),
            all_optional_supported: true,
        }
    }

    fn line_of(&self, key: &str) -> Option<usize> {
        self.lines.get(key).copied()
    }

    /// Checks the `[support]` answers against the SCR tables: every optional item of the IUT's
    /// role answered; no answers for unknown ids, mandatory items or the other role's items.
    /// `ICS-*` capability ids are free-form.
    pub fn validate_against(&self, reg: &Registry) -> Result<(), IcsError> {
        let role = self.iut.role;
        let mut problems = Vec::new();
        for key in self.support.keys() {
            let line = self.line_of(&format!("support.{key}")).or(self.line_of("support"));
            let message = match reg.get(key) {
                None if key.starts_with("ICS-") => continue,
                None => format!(
                    "[support] answers {key:?}, which is not an SCR item; expected an optional {role} SCR item id or \
                     an ICS-* capability id"
                ),
                Some(i) if i.role != role => {
                    format!("[support] answers {key}, a {} item; the IUT is a {role}: answer only {role} items", i.role)
                }
                Some(i) if i.status == Status::M => {
                    format!("[support] answers {key}, which is mandatory: only optional (-O) items are answered")
                }
                Some(_) => continue,
            };
            problems.push(IcsProblem { line, message });
        }
        if !self.all_optional_supported {
            let missing: Vec<&str> = reg
                .items()
                .iter()
                .filter(|i| i.role == role && i.status == Status::O && !self.support.contains_key(&i.id))
                .map(|i| i.id.as_str())
                .collect();
            if !missing.is_empty() {
                problems.push(IcsProblem {
                    line: self.line_of("support"),
                    message: format!(
                        "[support] does not answer {} optional {role} item(s): {}; declare each `= true` or `= false`",
                        missing.len(),
                        missing.join(", ")
                    ),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(IcsError::Invalid { path: self.path.clone(), problems })
        }
    }

    /// The declared answer for an optional item (None: not declared).
    /// Whether the ICS answers "supported" for an optional SCR item or `ICS-*` capability.
    pub fn declares_supported(&self, id: &str) -> bool {
        self.declared(id) == Some(true)
    }

    fn declared(&self, id: &str) -> Option<bool> {
        if self.all_optional_supported {
            return Some(self.support.get(id).copied().unwrap_or(true));
        }
        self.support.get(id).copied()
    }

    /// Applicability of every SCR item of both roles, in table order.
    pub fn item_applicability(&self, reg: &Registry) -> Vec<Applicability> {
        let mut memo = BTreeMap::new();
        reg.items()
            .iter()
            .map(|item| {
                let (applicable, reason) = self.item_verdict(item, reg, &mut memo, &mut Vec::new());
                Applicability { id: item.id.clone(), applicable, reason }
            })
            .collect()
    }

    /// Whether `item` applies, and why; `stack` guards against cycles (the registry rejects
    /// them, but an item table built by hand might not).
    fn item_verdict(
        &self,
        item: &ScrItem,
        reg: &Registry,
        memo: &mut BTreeMap<String, (bool, String)>,
        stack: &mut Vec<String>,
    ) -> (bool, String) {
        if let Some(v) = memo.get(&item.id) {
            return v.clone();
        }
        if stack.contains(&item.id) {
            return (false, format!("dependency cycle through {}", item.id));
        }
        let role = self.iut.role;
        let result = if item.role != role {
            (false, format!("{} item; the IUT is a {role}", item.role))
        } else {
            let (base_ok, base) = match item.status {
                Status::M => (true, "mandatory".to_string()),
                Status::O => match self.declared(&item.id) {
                    Some(true) if self.all_optional_supported => {
                        (true, "optional, supported by the reference implementation".into())
                    }
                    Some(true) => (true, "optional, declared supported in the ICS".into()),
                    Some(false) => (false, "optional, declared not supported in the ICS".into()),
                    None => (false, "optional, not declared in the ICS (treated as not supported)".into()),
                },
            };
            match (&item.requires, base_ok) {
                (Some(expr), true) => {
                    stack.push(item.id.clone());
                    let mut phrases: BTreeMap<String, (bool, String)> = BTreeMap::new();
                    let (holds, deciding) = expr.eval_deciding(&mut |atom| {
                        let v = self.atom_phrase(atom, reg, memo, stack);
                        let ok = v.0;
                        phrases.insert(atom.to_string(), v);
                        ok
                    });
                    stack.pop();
                    let reason = if let Expr::Atom(a) = expr {
                        format!(
                            "{base}, conditional on {a}, which {}",
                            phrases.get(a).map(|p| p.1.as_str()).unwrap_or("?")
                        )
                    } else {
                        let why: Vec<String> = deciding
                            .iter()
                            .map(|a| format!("{a} {}", phrases.get(a).map(|p| p.1.as_str()).unwrap_or("?")))
                            .collect();
                        format!(
                            "{base}, conditional on {expr}, which {}{}{}",
                            if holds { "holds" } else { "does not hold" },
                            if why.is_empty() { "" } else { ": " },
                            why.join("; ")
                        )
                    };
                    (holds, reason)
                }
                _ => (base_ok, base),
            }
        };
        memo.insert(item.id.clone(), result.clone());
        result
    }

    /// Whether an SCR atom of a `requires` expression holds, as a phrase following "which".
    fn atom_phrase(
        &self,
        atom: &str,
        reg: &Registry,
        memo: &mut BTreeMap<String, (bool, String)>,
        stack: &mut Vec<String>,
    ) -> (bool, String) {
        let Some(dep) = reg.get(atom) else {
            return (false, "is not an SCR item".into());
        };
        let (ok, why) = self.item_verdict(dep, reg, memo, stack);
        let phrase = match (dep.role == self.iut.role, dep.status, ok, self.declared(atom)) {
            (false, ..) => format!("is a {} item, not applicable to a {} IUT", dep.role, self.iut.role),
            (true, Status::O, true, _) if self.all_optional_supported => {
                "the reference implementation supports".to_string()
            }
            (true, Status::O, true, _) => "the ICS declares supported".into(),
            (true, Status::O, false, Some(false)) => "the ICS declares not supported".into(),
            (true, Status::O, false, None) => "the ICS does not declare (treated as not supported)".into(),
            (true, _, true, _) => "is applicable".into(),
            (true, _, false, _) => format!("is not applicable ({why})"),
        };
        (ok, phrase)
    }

    /// Evaluates a case's `applies_if`: SCR ids hold iff the item is applicable, `ICS-*` (and
    /// any other) ids hold iff declared true in `[support]`. The reason names the deciding atoms.
    pub fn eval_applies_if(&self, expr: &Expr, reg: &Registry) -> (bool, String) {
        let applicability: BTreeMap<String, (bool, String)> = {
            let mut memo = BTreeMap::new();
            for a in expr.atoms() {
                if let Some(item) = reg.get(a) {
                    self.item_verdict(item, reg, &mut memo, &mut Vec::new());
                }
            }
            memo
        };
        let mut phrases: BTreeMap<String, String> = BTreeMap::new();
        let (holds, deciding) = expr.eval_deciding(&mut |atom| {
            let (ok, phrase) = if let Some((ok, why)) = applicability.get(atom) {
                (*ok, format!("{} ({why})", if *ok { "applicable" } else { "not applicable" }))
            } else {
                match self.support.get(atom) {
                    Some(true) => (true, "declared true in the ICS".to_string()),
                    Some(false) => (false, "declared false in the ICS".to_string()),
                    None => (false, "not declared in the ICS (treated as false)".to_string()),
                }
            };
            phrases.insert(atom.to_string(), phrase);
            ok
        });
        let why: Vec<String> = deciding.iter().map(|a| format!("{a} {}", phrases[a])).collect();
        let reason = match (holds, why.is_empty()) {
            (true, true) => "holds (constant)".to_string(),
            (false, true) => "does not hold (constant)".to_string(),
            (true, false) => format!("holds: {}", why.join("; ")),
            (false, false) => format!("does not hold: {}", why.join("; ")),
        };
        (holds, reason)
    }

    /// Every PIXIT value as `dotted.key → text` (sensitive ones included: they are needed on the
    /// wire; reports scrub them with [`Ics::sensitive_values`]). Absent optional values are
    /// left out.
    pub fn pixit_flat(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let v = serde_json::to_value(&self.pixit).unwrap_or(Value::Null);
        flatten("", &v, &mut out);
        out
    }

    /// One PIXIT value by dotted path (`account.server_id`, `iut.dev_id`,
    /// `timeouts.quiet_period_ms`, `mo.devid_uri`); a leading `pixit.` is accepted.
    pub fn pixit_lookup(&self, dotted: &str) -> Option<String> {
        let key = dotted.strip_prefix("pixit.").unwrap_or(dotted);
        self.pixit_flat().remove(key)
    }

    /// The effective ICS, PIXIT and profile as JSON, sensitive values replaced by "<redacted>".
    pub fn redacted_json(&self) -> Value {
        let mut pixit = serde_json::to_value(&self.pixit).unwrap_or(Value::Null);
        for s in SENSITIVE {
            let pointer = format!("/{}", s.replace('.', "/"));
            if let Some(v) = pixit.pointer_mut(&pointer) {
                if !v.is_null() {
                    *v = Value::String(REDACTED.into());
                }
            }
        }
        serde_json::json!({
            "path": self.path.display().to_string(),
            "iut": self.iut,
            "support": self.support,
            "all_optional_supported": self.all_optional_supported,
            "pixit": pixit,
            "profile": self.profile,
        })
    }

    /// The sensitive values in use, so traces and reports can scrub them wherever they appear.
    pub fn sensitive_values(&self) -> Vec<String> {
        let flat = self.pixit_flat();
        SENSITIVE.iter().filter_map(|k| flat.get(*k)).filter(|v| !v.is_empty()).cloned().collect()
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

impl fmt::Display for IutIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} ({})", self.vendor, self.product, self.version, self.role)
    }
}
