//! What a run is pointed at: a vendor's IUT described by an ICS file, or the bundled reference
//! peers (started in-process for each case, optionally switched into faults).
use super::exec::CaseEnv;
use super::plan::case_applicability;
use super::run::settings_from_ics;
use crate::catalog::Case;
use crate::ics::{Applicability, Ics};
use crate::peers::endpoints::Endpoints;
use crate::peers::Listener;
use crate::reference::{client, faults, server};
use crate::scr::{Registry, Role};
use crate::upper_tester::UpperTester;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub enum Target {
    Ics(Arc<Ics>),
    /// `tls`: the suite and the reference peers talk HTTPS, every certificate issued by a CA
    /// generated for the run (`--against reference --tls`).
    Reference {
        faults: BTreeSet<String>,
        tls: bool,
    },
}

impl Target {
    /// The reference target; unknown fault names are an error listing the catalog.
    pub fn reference(faults: BTreeSet<String>) -> anyhow::Result<Target> {
        for f in &faults {
            if faults::find(f).is_none() {
                let names: Vec<&str> = faults::catalog().iter().map(|f| f.name).collect();
                anyhow::bail!("unknown reference fault {f:?}; known faults: {}", names.join(", "));
            }
        }
        Ok(Target::Reference { faults, tls: false })
    }

    /// The same target over HTTPS (reference peers only; an ICS says so in `[pixit.tls]`).
    pub fn with_tls(self, on: bool) -> Target {
        match self {
            Target::Reference { faults, .. } => Target::Reference { faults, tls: on },
            other => other,
        }
    }
}

const LOOPBACK: &str = "127.0.0.1:0";

fn loopback() -> SocketAddr {
    LOOPBACK.parse().expect("static address")
}

/// The built-in ICS of a reference peer (every optional item supported).
pub fn reference_ics(role: Role, ut_url: &str, server_uri: Option<&str>) -> Ics {
    Ics::for_reference(role, ut_url, server_uri)
}

/// The reference ICS over HTTPS or not: `[pixit.tls] enabled` and the TLS capabilities
/// answered accordingly, so the security cases that need HTTPS apply exactly with `--tls`.
fn reference_ics_tls(role: Role, ut_url: &str, server_uri: Option<&str>, tls: bool) -> Ics {
    let mut ics = Ics::for_reference(role, ut_url, server_uri);
    ics.pixit.tls.enabled = tls;
    let cap = match role {
        Role::Client => crate::ics::CAP_CLIENT_TLS,
        Role::Server => crate::ics::CAP_SERVER_TLS,
    };
    ics.support.insert(cap.to_string(), tls);
    ics
}

/// The built-in ICS of a reference DM 1.2 peer: the DM 2.0 one with binding dm12, the DM 1.2
/// reference account (syncml:auth-md5 credentials, the Package#0 server password) and no TLS.
fn reference_ics12(role: Role, ut_url: &str, server_uri: Option<&str>) -> Ics {
    use crate::reference::dm12::client as c12;
    let dev_id = match role {
        Role::Client => c12::DEFAULT_DEV_ID,
        Role::Server => REFERENCE12_SUITE_DEV_ID,
    };
    let mut ics = Ics::for_reference_with(role, ut_url, server_uri, loopback(), dev_id);
    ics.iut.binding = crate::binding::dm12::NAME_XML.into();
    // The reference DM 1.2 peers manage firmware and software in the DM 1.x form (issue 11
    // item 5): the client holds FUMO and SCOMO MOs, the server drives them. In GwMO's DM 1.2
    // form (docs/gwmo.md) the client is also a DM Gateway and the server drives one.
    ics.iut.implements = vec!["FUMO".into(), "SCOMO".into(), "GWMO".into()];
    ics.iut.product = format!("{} (SyncML DM 1.2)", ics.iut.product);
    ics.support.clear();
    if role == Role::Server {
        // The reference server's ServerID happens to be the default's text: given explicitly,
        // so checks of the server's own identity may rest on it (Ics::pixit_values).
        ics.pixit.account.server_id = crate::reference::dm12::server::DEFAULT_SERVER_ID.into();
        ics.lines.insert("pixit.account.server_id".into(), 1);
    }
    ics.pixit.account.username = Some(c12::DEFAULT_USERNAME.into());
    ics.pixit.account.password = Some(c12::DEFAULT_PASSWORD.into());
    ics.pixit.notification.secret = Some(crate::reference::dm12::server::DEFAULT_SERVER_PASSWORD.into());
    ics.pixit.notification.auth_data = None;
    ics
}

/// The DevId the suite's device has towards the reference DM 1.2 server.
const REFERENCE12_SUITE_DEV_ID: &str = "IMEI:359881000000099";

enum Kind {
    External {
        ics: Arc<Ics>,
        ut: Arc<UpperTester>,
        listener: Arc<Listener>,
        http: reqwest::Client,
    },
    Reference {
        faults: BTreeSet<String>,
        client_ics: Box<Ics>,
        server_ics: Box<Ics>,
        /// The DM 1.2 reference peers' ICS (cases of binding dm12 / dm12-wbxml).
        client12_ics: Box<Ics>,
        server12_ics: Box<Ics>,
        tls: Option<Arc<SuiteTls>>,
    },
}

use crate::peers::tls::SuiteTls;

/// A target made ready for a run.
pub struct Prepared {
    kind: Kind,
    pub run_timeout: Duration,
    /// Effective, redacted ICS/PIXIT for the reports.
    pub iut_json: serde_json::Value,
    /// Values to scrub from traces.
    pub sensitive: Vec<String>,
    /// The IUT-facing endpoints as bound (an ICS run; the reference peers have their own per
    /// case).
    pub endpoints: Option<Endpoints>,
    /// The CA generated for the run (PEM), which the IUT must trust: written to the report dir
    /// by [`Prepared::write_tls_files`].
    pub generated_ca: Option<String>,
}

/// Everything one case runs with; `teardown` stops per-case peers.
pub struct CaseSetup {
    pub env: CaseEnv,
    peer: Option<Peer>,
}

enum Peer {
    Client(client::RunningClient),
    Server(server::RunningServer),
    Client12(crate::reference::dm12::client::RunningDm12Client),
    Server12(crate::reference::dm12::server::RunningDm12Server),
    /// The reference DM Gateway (GwMO), for the cases of a gateway IUT.
    Gateway(crate::reference::gwmo::RunningGateway),
}

impl CaseSetup {
    pub async fn teardown(self) {
        match self.peer {
            Some(Peer::Client(c)) => c.shutdown().await,
            Some(Peer::Server(s)) => s.shutdown().await,
            Some(Peer::Client12(c)) => c.shutdown().await,
            Some(Peer::Server12(s)) => s.shutdown().await,
            Some(Peer::Gateway(g)) => g.shutdown().await,
            None => {}
        }
    }
}

/// A session the IUT still holds when its case ends, or opens between cases, is ended with the
/// binding's session-ending answer (DM 2.0: a Package#2 with END) on the session endpoints,
/// so it never runs on into the next case.
fn end_sessions_with(listener: &Listener, binding: &Arc<dyn crate::binding::Binding>) {
    for endpoint in ["dm", "cont"] {
        let (a, b) = (binding.clone(), binding.clone());
        listener.set_case_end_answer(endpoint, move |inc| a.late_answer(inc));
        listener.set_between_cases_answer(endpoint, move |inc| b.late_answer(inc));
    }
}

/// The case's binding, configured by the ICS profile.
fn binding_for(case: &Case, ics: &Ics) -> anyhow::Result<Arc<dyn crate::binding::Binding>> {
    crate::binding::configured(&case.binding, &ics.profile).ok_or_else(|| {
        anyhow::anyhow!("case {} names binding {:?}, which this build does not have", case.id, case.binding)
    })
}

/// Whether a case tests a DM Gateway (a client-role case of the GwMO table): the reference
/// target runs it against the reference gateway.
fn is_gateway_case(case: &Case) -> bool {
    case.role == Role::Client && case.covers.iter().any(|c| c.starts_with("GWMO-"))
}

/// Whether a case speaks SyncML DM 1.2 (either encoding).
fn is_dm12(binding: &str) -> bool {
    crate::binding::family_of(binding) == crate::binding::dm12::NAME_XML
}

/// A case of the DM 1.2 binding against the reference DM 1.2 client or server, in its own
/// process-local peer with the case's faults (plain HTTP: the DM 1.2 table has no TLS item).
async fn reference_dm12_env(
    case: &Case,
    registry: Arc<Registry>,
    faults: &BTreeSet<String>,
) -> anyhow::Result<CaseSetup> {
    use crate::reference::dm12::{client as c12, server as s12};
    let listener = Arc::new(Listener::bind_with(loopback(), None, None).await?);
    let prefix = if case.role == Role::Client { "client." } else { "server." };
    let faults: BTreeSet<String> = faults.iter().filter(|f| f.starts_with(prefix)).cloned().collect();
    let (ics, peer) = match case.role {
        Role::Client => {
            let mut cfg = c12::Dm12ClientConfig::new(listener.endpoint_url("dm"));
            cfg.faults = faults;
            let running = c12::spawn(cfg).await?;
            let ics = reference_ics12(Role::Client, &running.ut_url, None);
            (ics, Peer::Client12(running))
        }
        Role::Server => {
            let cfg = s12::Dm12ServerConfig { faults, ..s12::Dm12ServerConfig::default() };
            let running = s12::spawn(cfg).await?;
            let ics = reference_ics12(Role::Server, &running.ut_url, Some(&running.dm_url));
            (ics, Peer::Server12(running))
        }
    };
    let ut = UpperTester::from_config(&ics.pixit.upper_tester, std::path::Path::new("."))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let binding = binding_for(case, &ics)?;
    end_sessions_with(&listener, &binding);
    Ok(CaseSetup {
        env: CaseEnv {
            registry,
            settings: settings_from_ics(&ics, case),
            binding,
            ut: Arc::new(ut),
            listener,
            http: http_client(),
            progress: super::progress::installed(),
        },
        peer: Some(peer),
    })
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap_or_default()
}

fn tls_error(e: crate::peers::tls::TlsError) -> anyhow::Error {
    anyhow::anyhow!("{e} (PIXIT [pixit.tls])")
}

pub async fn prepare(target: &Target, _registry: &Registry) -> anyhow::Result<Prepared> {
    match target {
        Target::Ics(ics) => {
            // The DM server URL of the IUT's account (PIXIT suite.server_url), served exactly.
            let server_url = crate::peers::listener::pixit_server_url(
                ics.pixit.suite.server_url.as_deref(),
                ics.pixit.suite.base_url.as_deref(),
            );
            let base = ics.path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
            let tls = SuiteTls::from_pixit(&ics.pixit.tls, &base, server_url.as_deref()).map_err(tls_error)?;
            let host_url = server_url.clone().unwrap_or_else(|| format!("https://{}/", ics.pixit.suite.listen));
            let server_tls = match &tls.server {
                Some(s) => Some(s.server_tls(&crate::peers::tls::hosts_for(&host_url)).map_err(tls_error)?),
                None => None,
            };
            if ics.pixit.iut.server_uri.as_deref().is_some_and(|u| u.starts_with("https:")) && tls.client.is_none() {
                anyhow::bail!(
                    "PIXIT iut.server_uri is https://, but [pixit.tls] names no ca: the suite trusts only the CA it is \
                     given (tls.ca = \"<PEM file>\")"
                );
            }
            let http = tls.http_client().map_err(tls_error)?;
            let listener = Listener::bind_with(ics.pixit.suite.listen, server_url.as_deref(), server_tls)
                .await
                .map_err(|e| anyhow::anyhow!("{e} (PIXIT [pixit.suite], [pixit.tls])"))?;
            // Bound first, so an operator's prompts can name the real URLs.
            let endpoints = Endpoints::bound(ics, &listener);
            let ut = UpperTester::from_config(&ics.pixit.upper_tester, &base)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .with_endpoints(&endpoints);
            let binding = crate::binding::configured(&ics.iut.binding, &ics.profile).ok_or_else(|| {
                anyhow::anyhow!("the ICS names binding {:?}, which this build does not have", ics.iut.binding)
            })?;
            end_sessions_with(&listener, &binding);
            Ok(Prepared {
                run_timeout: ics.pixit.timeouts.run(),
                iut_json: ics.redacted_json(),
                sensitive: ics.sensitive_values(),
                endpoints: Some(endpoints),
                generated_ca: tls.generated.as_ref().map(|c| c.ca_pem().to_string()),
                kind: Kind::External { ics: ics.clone(), ut: Arc::new(ut), listener: Arc::new(listener), http },
            })
        }
        Target::Reference { faults, tls } => {
            let tls = match tls {
                true => Some(Arc::new(SuiteTls::generated().map_err(|e| anyhow::anyhow!("{e}"))?)),
                false => None,
            };
            let on = tls.is_some();
            let client_ics = reference_ics_tls(Role::Client, "http://127.0.0.1:9/ut", None, on);
            let server_ics =
                reference_ics_tls(Role::Server, "http://127.0.0.1:9/ut", Some("http://127.0.0.1:9/dm"), on);
            let iut_json = serde_json::json!({
                "reference": true,
                "tls": on,
                "faults": faults,
                "client": client_ics.redacted_json(),
                "server": server_ics.redacted_json(),
            });
            Ok(Prepared {
                run_timeout: client_ics.pixit.timeouts.run(),
                iut_json,
                sensitive: Vec::new(),
                endpoints: None,
                generated_ca: tls.as_ref().and_then(|t| t.generated.as_ref()).map(|c| c.ca_pem().to_string()),
                kind: Kind::Reference {
                    faults: faults.clone(),
                    client_ics: Box::new(client_ics),
                    server_ics: Box::new(server_ics),
                    client12_ics: Box::new(reference_ics12(Role::Client, "http://127.0.0.1:9/ut", None)),
                    server12_ics: Box::new(reference_ics12(
                        Role::Server,
                        "http://127.0.0.1:9/ut",
                        Some("http://127.0.0.1:9/dm"),
                    )),
                    tls,
                },
            })
        }
    }
}

impl Prepared {
    /// What the start of a run prints: the endpoints as bound, so the vendor can point the
    /// device at them before the first case; for the reference peers, one line.
    pub fn start_note(&self) -> String {
        let tls = match &self.generated_ca {
            Some(_) => format!(
                "HTTPS: the suite presents a certificate of a CA generated for this run; its certificate is \
                 written to <report dir>/{} for the IUT to trust\n",
                crate::peers::tls::CA_FILE
            ),
            None => String::new(),
        };
        tls + &match &self.endpoints {
            Some(e) => e.render("Endpoints of this run"),
            None => format!("{}\n", crate::peers::endpoints::REFERENCE_NOTE),
        }
    }

    /// Writes the generated CA certificate into the report dir (before the first case, so an
    /// operator can install it); returns its path.
    pub fn write_tls_files(&self, dir: &std::path::Path) -> std::io::Result<Option<std::path::PathBuf>> {
        let Some(pem) = &self.generated_ca else { return Ok(None) };
        std::fs::create_dir_all(dir)?;
        let path = dir.join(crate::peers::tls::CA_FILE);
        std::fs::write(&path, pem)?;
        Ok(Some(path))
    }

    /// Applicability of a case, and why (None: the target decides nothing, run it).
    pub fn applicability(&self, case: &Case, reg: &Registry) -> Option<(bool, String)> {
        Some(match &self.kind {
            Kind::External { ics, .. } => case_applicability(case, ics, reg),
            Kind::Reference { client_ics, server_ics, client12_ics, server12_ics, .. } => {
                let dm12 = is_dm12(&case.binding);
                let ics = match (case.role, dm12) {
                    (Role::Client, false) => client_ics,
                    (Role::Server, false) => server_ics,
                    (Role::Client, true) => client12_ics,
                    (Role::Server, true) => server12_ics,
                };
                case_applicability(case, ics, reg)
            }
        })
    }

    /// Applicability of every SCR item (both roles for the reference target).
    pub fn item_applicability(&self, reg: &Registry) -> Vec<Applicability> {
        match &self.kind {
            Kind::External { ics, .. } => ics.item_applicability(reg),
            Kind::Reference { client_ics, server_ics, client12_ics, server12_ics, .. } => {
                let c = client_ics.item_applicability(reg);
                let s = server_ics.item_applicability(reg);
                let c12 = client12_ics.item_applicability(reg);
                let s12 = server12_ics.item_applicability(reg);
                reg.items()
                    .iter()
                    .filter_map(|i| {
                        // An item of a DM 1.2 table is judged by the DM 1.2 peers' ICS; an item
                        // of a table of both bindings (FUMO, SCOMO) applies when either peer's
                        // ICS makes it apply.
                        let table = reg.table_of(i);
                        let dm12 = table.is_some_and(|t| t.has_binding(crate::binding::dm12::NAME_XML));
                        let dm2 = table.is_none_or(|t| t.has_binding(crate::binding::DEFAULT_BINDING));
                        let (v2, v12) = match i.role {
                            Role::Client => (&c, &c12),
                            Role::Server => (&s, &s12),
                        };
                        let find = |from: &Vec<crate::ics::Applicability>| from.iter().find(|a| a.id == i.id).cloned();
                        match (dm2, dm12) {
                            (true, true) => match find(v2) {
                                Some(a) if !a.applicable => find(v12).filter(|b| b.applicable).or(Some(a)),
                                other => other,
                            },
                            (false, true) => find(v12),
                            _ => find(v2),
                        }
                    })
                    .collect()
            }
        }
    }

    pub async fn case_env(&self, case: &Case, registry: Arc<Registry>) -> anyhow::Result<CaseSetup> {
        match &self.kind {
            Kind::External { ics, ut, listener, http } => Ok(CaseSetup {
                env: CaseEnv {
                    registry,
                    settings: settings_from_ics(ics, case),
                    binding: binding_for(case, ics)?,
                    ut: ut.clone(),
                    listener: listener.clone(),
                    http: http.clone(),
                    progress: super::progress::installed(),
                },
                peer: None,
            }),
            Kind::Reference { faults, .. } if is_dm12(&case.binding) => {
                reference_dm12_env(case, registry, faults).await
            }
            Kind::Reference { faults, tls, .. } => {
                let server_tls = match tls.as_ref().and_then(|t| t.server.as_ref()) {
                    Some(s) => Some(s.server_tls(&crate::peers::tls::hosts_for("https://127.0.0.1/"))?),
                    None => None,
                };
                let listener = Arc::new(Listener::bind_with(loopback(), None, server_tls).await?);
                let client_tls = tls.as_ref().and_then(|t| t.client.clone());
                let prefix = if case.role == Role::Client { "client." } else { "server." };
                let faults: BTreeSet<String> = faults.iter().filter(|f| f.starts_with(prefix)).cloned().collect();
                let (ics, peer) = match case.role {
                    Role::Client if is_gateway_case(case) => {
                        let mut cfg = crate::reference::gwmo::GatewayConfig::new(listener.endpoint_url("dm"));
                        cfg.faults = faults;
                        cfg.tls = client_tls.clone();
                        let running = crate::reference::gwmo::spawn(cfg).await?;
                        let ics = reference_ics_tls(Role::Client, &running.ut_url, None, tls.is_some());
                        (ics, Peer::Gateway(running))
                    }
                    Role::Client => {
                        let mut cfg = client::ClientConfig::new(listener.endpoint_url("dm"));
                        cfg.listen = loopback();
                        cfg.faults = faults;
                        cfg.tls = client_tls.clone();
                        // Credentials only when a 401 asks: the other cases see no Authorization.
                        cfg.basic = Some((
                            crate::reference::ics::REFERENCE_USER.into(),
                            crate::reference::ics::REFERENCE_PASSWORD.into(),
                        ));
                        cfg.basic_unasked = false;
                        let running = client::spawn(cfg).await?;
                        let ics = reference_ics_tls(Role::Client, &running.ut_url, None, tls.is_some());
                        (ics, Peer::Client(running))
                    }
                    Role::Server => {
                        let mut cfg = server::ServerConfig::new();
                        cfg.listen = loopback();
                        cfg.faults = faults;
                        cfg.tls = tls.as_ref().and_then(|t| t.server.clone());
                        cfg.trust = client_tls.clone();
                        let running = server::spawn(cfg).await?;
                        let ics =
                            reference_ics_tls(Role::Server, &running.ut_url, Some(&running.dm_url), tls.is_some());
                        (ics, Peer::Server(running))
                    }
                };
                let ut = UpperTester::from_config(&ics.pixit.upper_tester, std::path::Path::new("."))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let binding = binding_for(case, &ics)?;
                end_sessions_with(&listener, &binding);
                Ok(CaseSetup {
                    env: CaseEnv {
                        registry,
                        settings: settings_from_ics(&ics, case),
                        binding,
                        ut: Arc::new(ut),
                        listener,
                        http: match &tls {
                            Some(t) => t.http_client()?,
                            None => http_client(),
                        },
                        progress: super::progress::installed(),
                    },
                    peer: Some(peer),
                })
            }
        }
    }

    pub async fn shutdown(&self) {}

    /// The reference SyncML DM 1.2 peers of the selftest: the ICS of `role`.
    pub fn reference_ics12(&self, role: Role) -> Option<&Ics> {
        match &self.kind {
            Kind::Reference { client12_ics, server12_ics, .. } => Some(match role {
                Role::Client => client12_ics,
                Role::Server => server12_ics,
            }),
            Kind::External { .. } => None,
        }
    }

    /// At the end of an ICS run: waits (at most a step timeout) while the upper tester's
    /// `iut.state` says the IUT is still at work, so that what it sends after the last case is
    /// recorded as traffic after the case ended rather than lost with the listener. An IUT that
    /// cannot tell is not waited for.
    pub async fn settle(&self) {
        let Kind::External { ics, ut, .. } = &self.kind else { return };
        let deadline = tokio::time::Instant::now() + ics.pixit.timeouts.step();
        let req = crate::upper_tester::UtRequest {
            action: crate::upper_tester::action::IUT_STATE.into(),
            case: String::new(),
            step: 0,
            args: serde_json::json!({}),
        };
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let state = ut.call(&req, left).await.ok().and_then(|a| a.iut_state());
            if !matches!(state, Some(crate::upper_tester::IutState::Running)) || left.is_zero() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Whatever it sent before saying so is on the loopback already.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// The IUT's requests that arrived while no case was running (an ICS run: one listener for
    /// the whole run). The reference peers' listeners live and die with their case.
    pub fn late_traffic(&self) -> Vec<crate::runner::result::LateRequest> {
        let Kind::External { listener, .. } = &self.kind else { return Vec::new() };
        listener
            .take_late_traffic()
            .requests
            .into_iter()
            .map(|r| crate::runner::result::LateRequest {
                after_case: r.after_case,
                method: r.incoming.method.clone(),
                target: r.incoming.target.clone(),
                answered: r.incoming.answered,
                body: crate::trace::body_for_trace(&r.incoming.body),
                body_len: r.body_len,
                misdirected: r.misdirected,
            })
            .collect()
    }
}
