//! Loading an ICS file: TOML to typed values with defaults, every problem reported at once with
//! its line; then [`Ics::validate_against`] checks the `[support]` answers against the SCR
//! tables.
use super::{AccountPixit, IutPixit, NotificationPixit, SuitePixit, Timeouts};
use super::{Ics, IcsError, IcsProblem, IutIdentity, NotificationTransport, Pixit, DEFAULT_BINDING, SUITE_DEV_ID};
use crate::scr::{line_col, Registry, Role, Status};
use crate::upper_tester::UpperTesterConfig;
use crate::wire::dm2::Profile;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

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
    binding: Option<Spanned<String>>,
    #[serde(default)]
    implements: Vec<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawPixit {
    suite: SuitePixit,
    iut: IutPixit,
    account: AccountPixit,
    notification: NotificationPixit,
    upper_tester: Option<UpperTesterConfig>,
    tls: super::TlsPixit,
    timeouts: Timeouts,
    mo: BTreeMap<String, super::mo::MoValue>,
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

/// The DM server URL of an account: http(s), a host, and a path written out (the path is part
/// of the account, so "no path" is more likely a mistake than a request for `/`).
fn check_server_url(url: &str, line: Option<usize>, problems: &mut Vec<IcsProblem>) {
    let what = "PIXIT suite.server_url";
    let expected = "expected the DM server URL of the IUT's account, e.g. \"http://127.0.0.1:9988/path\"";
    let message = match reqwest::Url::parse(url) {
        Err(e) => format!("{what} {url:?} is not a URL ({e}); {expected}"),
        Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
            format!("{what} {url:?} has scheme {:?}; {expected} (http or https)", u.scheme())
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => format!("{what} {url:?} has no host; {expected}"),
        Ok(u) if u.fragment().is_some() => {
            format!("{what} {url:?} has a fragment, which never reaches a server; {expected}")
        }
        Ok(u) if !has_written_path(url, &u) => format!("{what} {url:?} has no path; {expected}"),
        Ok(_) => return,
    };
    problems.push(IcsProblem { line, message });
}

/// Whether the URL text has a path after its authority (`http://h:1/` does, `http://h:1` and
/// `http://h:1?q` do not): the parser normalises both to `/`.
fn has_written_path(text: &str, url: &reqwest::Url) -> bool {
    let rest = text.split_once("://").map(|(_, r)| r).unwrap_or(text);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    url.path() != "/" || rest[authority_end..].starts_with('/')
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
        let mut lines = lines;
        // Where each table of `implements` is named, for errors found against the registry.
        for t in &iut.implements {
            lines.entry(format!("iut.implements.{}", t.get_ref())).or_insert(line_col(src, t.span().start).0);
        }
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
        let binding = iut.binding.as_ref().map(|b| b.get_ref().clone()).unwrap_or_else(|| DEFAULT_BINDING.into());
        // DM 2.0's Package#0 digest uses both; DM 1.2's uses the server password alone (digest §9.3).
        let dm2 = crate::binding::family_of(&binding) == DEFAULT_BINDING;
        if dm2 && p.notification.secret.is_some() != p.notification.auth_data.is_some() {
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
        if let Some(u) = p.suite.server_url.clone() {
            let line = at("pixit.suite.server_url");
            match role {
                Role::Server => problems.push(IcsProblem {
                    line,
                    message: "PIXIT suite.server_url is the DM server URL of a client IUT's account; a server IUT's \
                              DM endpoint is [pixit.iut] server_uri"
                        .into(),
                }),
                Role::Client => {
                    let before = problems.len();
                    check_server_url(&u, line, &mut problems);
                    // Without `listen`, the suite listens where the account points, on loopback.
                    if problems.len() == before && !lines.contains_key("pixit.suite.listen") {
                        if let Some(port) = reqwest::Url::parse(&u).ok().and_then(|u| u.port_or_known_default()) {
                            p.suite.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                        }
                    }
                }
            }
        }
        if binding.trim().is_empty() {
            problems.push(IcsProblem {
                line: at("iut.binding"),
                message: format!("[iut] binding is empty; expected a protocol binding such as \"{DEFAULT_BINDING}\""),
            });
        }
        let mut implements: Vec<String> = Vec::new();
        for t in &iut.implements {
            let line = Some(line_col(src, t.span().start).0);
            if implements.contains(t.get_ref()) {
                problems.push(IcsProblem {
                    line,
                    message: format!("[iut] implements names {} twice; name each table once", t.get_ref()),
                });
            } else {
                implements.push(t.get_ref().clone());
            }
        }
        let mut mo_defaults = std::collections::BTreeSet::new();
        match role {
            Role::Client => {
                for (key, message) in super::mo::check(&mut p.mo) {
                    let line = lines.get(&format!("pixit.mo.{key}")).copied().or(at("pixit.mo"));
                    problems.push(IcsProblem { line, message });
                }
                mo_defaults = super::mo::apply_defaults(&mut p.mo);
                for (key, message) in super::mo::check_consistency(&p.mo) {
                    let line = lines.get(&format!("pixit.mo.{key}")).copied().or(at("pixit.mo"));
                    problems.push(IcsProblem { line, message });
                }
            }
            Role::Server => {
                // A server IUT has no tree; its [pixit.mo] names only what it manages.
                for key in p.mo.keys().filter(|k| !super::mo::SERVER_KEYS.contains(&k.as_str())) {
                    problems.push(IcsProblem {
                        line: lines.get(&format!("pixit.mo.{key}")).copied().or(at("pixit.mo")),
                        message: format!(
                            "PIXIT mo.{key} describes a client IUT's tree; a server IUT's [pixit.mo] gives only {}",
                            super::mo::SERVER_KEYS.join(", ")
                        ),
                    });
                }
            }
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
        let mut support = raw.support;
        // The session-security capabilities are DM 2.0's (scr/dm2/capabilities.toml).
        if dm2 {
            security_answers(role, &p, &mut support, &lines, &mut problems);
        }
        match upper_tester {
            Some(upper_tester) if problems.is_empty() => Ok(Ics {
                path: path.to_path_buf(),
                iut: IutIdentity {
                    role,
                    vendor: iut.vendor,
                    product: iut.product,
                    version: iut.version,
                    binding,
                    implements,
                },
                support,
                pixit: Pixit {
                    suite: p.suite,
                    iut: p.iut,
                    account: p.account,
                    notification: p.notification,
                    upper_tester,
                    tls: p.tls,
                    timeouts: p.timeouts,
                    mo: p.mo,
                    mo_defaults,
                },
                profile: raw.profile,
                lines,
                all_optional_supported: false,
            }),
            _ => Err(invalid(problems)),
        }
    }

    /// Checks the ICS against the SCR tables: `[iut] binding` is one the tables know and
    /// `[iut] implements` names tables of it; every optional item of the IUT's role in an
    /// implemented table is answered; no answers for unknown ids, items of tables not
    /// implemented, mandatory items or the other role's items; `ICS-*` answers only for the
    /// declared capabilities of the IUT's role and binding (an answer nothing reads would be
    /// silently ignored), and every capability that holds has the PIXIT values it names.
    pub fn validate_against(&self, reg: &Registry) -> Result<(), IcsError> {
        let role = self.iut.role;
        let binding = &self.iut.binding;
        let mut problems = Vec::new();
        let mut bindings: Vec<&str> = reg.tables().iter().flat_map(|t| t.bindings.iter().map(String::as_str)).collect();
        bindings.sort_unstable();
        bindings.dedup();
        if !bindings.contains(&binding.as_str()) {
            problems.push(IcsProblem {
                line: self.line_of("iut.binding").or(self.line_of("iut")),
                message: format!(
                    "[iut] binding = {binding:?}: no SCR table is for this binding; expected one of {}",
                    bindings.join(", ")
                ),
            });
        }
        for id in &self.iut.implements {
            let line = self.line_of(&format!("iut.implements.{id}")).or(self.line_of("iut.implements"));
            let message = match reg.table(id) {
                None => format!(
                    "[iut] implements names {id:?}, which is not an SCR table; expected one of {}",
                    reg.tables().iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
                Some(t) if !t.has_binding(binding) => format!(
                    "[iut] implements names {}, a table of binding {}; the IUT's binding is {binding}",
                    t.label(),
                    t.bindings.join(", ")
                ),
                Some(_) => continue,
            };
            problems.push(IcsProblem { line, message });
        }
        if !bindings.contains(&binding.as_str()) {
            // Every table is "not implemented" under an unknown binding: answers would only
            // repeat the binding problem.
            return Err(IcsError::Invalid { path: self.path.clone(), problems });
        }
        let implemented = |table: &str| reg.table(table).is_none_or(|t| self.implements_table(t).0);
        let capabilities = reg.capabilities_of(role, binding);
        let capability_ids = || {
            let ids: Vec<&str> = capabilities.iter().map(|c| c.id.as_str()).collect();
            if ids.is_empty() {
                "none are declared".to_string()
            } else {
                format!("expected one of {}", ids.join(", "))
            }
        };
        for key in self.support.keys() {
            let line = self.line_of(&format!("support.{key}")).or(self.line_of("support"));
            let message = match (reg.get(key), reg.capability(key)) {
                (None, Some(c)) if c.role == role && c.has_binding(binding) => continue,
                (None, Some(c)) if c.role != role => {
                    format!("[support] answers {key}, a capability of a {} IUT; the IUT is a {role}", c.role)
                }
                (None, Some(c)) => format!(
                    "[support] answers {key}, a capability of binding {}; the IUT's binding is {binding}",
                    c.bindings.join(", ")
                ),
                (None, None) if key.starts_with("ICS-") => format!(
                    "[support] answers {key:?}, which is no ICS capability (no case could read the answer); {} \
                     for a {binding} {role} (scr/{binding}/capabilities.toml): remove the line or correct the id",
                    capability_ids()
                ),
                (None, None) => format!(
                    "[support] answers {key:?}, which is not an SCR item; expected an optional {role} SCR item id or \
                     an ICS-* capability id"
                ),
                (Some(i), _) if !implemented(&i.table) => {
                    let label = reg.table(&i.table).map(|t| t.label()).unwrap_or_else(|| i.table.clone());
                    format!(
                        "[support] answers {key}, an item of table {label}, which the IUT does not implement: add \
                         \"{}\" to [iut] implements, or remove the answer",
                        i.table
                    )
                }
                (Some(i), _) if i.role != role => {
                    format!("[support] answers {key}, a {} item; the IUT is a {role}: answer only {role} items", i.role)
                }
                (Some(i), _) if i.status == Status::M => {
                    format!("[support] answers {key}, which is mandatory: only optional (-O) items are answered")
                }
                (Some(_), _) => continue,
            };
            problems.push(IcsProblem { line, message });
        }
        // An informational entry nothing could match would be silently ignored.
        for entry in self.profile.informational.iter().filter(|e| e.as_str() != "*") {
            let message = match reg.get(entry) {
                Some(i) if i.role == role => continue,
                Some(i) => format!(
                    "[profile] informational names {entry}, a {} item; the IUT is a {role}: name {role} items, or \"*\"",
                    i.role
                ),
                None => format!(
                    "[profile] informational names {entry:?}, which is not an SCR item; expected SCR item ids whose \
                     inferred judgements are informational, or \"*\" for all"
                ),
            };
            problems
                .push(IcsProblem { line: self.line_of("profile.informational").or(self.line_of("profile")), message });
        }
        if !self.all_optional_supported {
            let missing: Vec<&str> = reg
                .items()
                .iter()
                .filter(|i| i.role == role && i.status == Status::O && !self.support.contains_key(&i.id))
                .filter(|i| implemented(&i.table))
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
        // A device fact that holds needs the PIXIT values that describe it.
        {
            let flat = self.pixit_flat();
            for cap in &capabilities {
                let (holds, why) = self.capability_answer(cap);
                let missing: Vec<&str> =
                    cap.pixit.iter().filter(|p| !flat.contains_key(p.as_str())).map(String::as_str).collect();
                if holds && !missing.is_empty() {
                    problems.push(IcsProblem {
                        line: self.line_of(&format!("support.{}", cap.id)).or(self.line_of("pixit")),
                        message: format!(
                            "{} holds ({why}), but the PIXIT gives no {} (and there is no default): give {} in \
                             [pixit.{}], or answer {} = false in [support] if the IUT lacks it ({})",
                            cap.id,
                            missing.join(", "),
                            if missing.len() == 1 { "it" } else { "them" },
                            missing[0].split('.').next().unwrap_or("mo"),
                            cap.id,
                            cap.question
                        ),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(IcsError::Invalid { path: self.path.clone(), problems })
        }
    }
}

/// The session-security capabilities follow from the PIXIT (docs/security.md): HTTPS from
/// `[pixit.tls] enabled` (client) or an https:// `iut.server_uri` (server), HTTP credentials
/// from `account.username` and `account.password`. Unanswered, they are set from it; an answer
/// of true the PIXIT contradicts is a problem (the cases could not run as declared).
fn security_answers(
    role: crate::scr::Role,
    p: &RawPixit,
    support: &mut BTreeMap<String, bool>,
    lines: &BTreeMap<String, usize>,
    problems: &mut Vec<IcsProblem>,
) {
    use crate::scr::Role;
    let (tls_cap, auth_cap) = match role {
        Role::Client => (super::CAP_CLIENT_TLS, "ICS-DMC-HTTP-AUTH"),
        Role::Server => (super::CAP_SERVER_TLS, "ICS-DMS-HTTP-AUTH"),
    };
    let https = match role {
        Role::Client => p.tls.enabled,
        Role::Server => p.iut.server_uri.as_deref().is_some_and(|u| u.starts_with("https://")),
    };
    let creds = p.account.username.is_some() && p.account.password.is_some();
    let why_tls = match role {
        Role::Client => "[pixit.tls] enabled is not true",
        Role::Server => "PIXIT iut.server_uri is not https://",
    };
    for (cap, holds, why) in
        [(tls_cap, https, why_tls), (auth_cap, creds, "PIXIT account.username and account.password are not both given")]
    {
        match support.get(cap) {
            // Unanswered and false: the capability's default (false) says so already.
            None if holds => {
                support.insert(cap.to_string(), true);
            }
            None => {}
            Some(true) if !holds => problems.push(IcsProblem {
                line: lines.get(&format!("support.{cap}")).copied(),
                message: format!("{cap} = true, but {why}"),
            }),
            Some(_) => {}
        }
    }
}
