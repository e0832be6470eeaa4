//! HTTPS for the suite's peers (rustls, aws-lc-rs provider).
//!
//! As server (the listener a client IUT talks to) the suite presents either the certificate and
//! key the PIXIT names (PEM files), or a certificate issued for the run by a CA generated for it
//! ([`RunCa`]), whose certificate is written into the report dir for the IUT to trust. A
//! security case may switch what the listener presents ([`Presented`]): a certificate from a CA
//! the IUT does not trust, an expired one, or one for another host; the IUT must refuse each.
//!
//! As client (towards a server IUT) the suite trusts only the CA the PIXIT names (never a
//! platform or built-in root set) and may present a client certificate. A failed verification
//! is reported with what was verified against what ([`describe_error`]).
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file name of a generated CA certificate in the report dir.
pub const CA_FILE: &str = "dmcts-ca.pem";

/// The crypto provider every TLS configuration of the suite uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Why TLS material cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("{0}")]
    Material(String),
}

fn material(e: impl std::fmt::Display) -> TlsError {
    TlsError::Material(e.to_string())
}

/// A certificate chain (leaf first) and its private key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity { chain, key: <redacted> }")
    }
}

impl Identity {
    /// Reads a certificate chain and a key from PEM files; each must hold what it is named for.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
        let id = Identity { chain_pem: read(cert)?, key_pem: read(key)? };
        if id.certs().is_empty() {
            return Err(TlsError::File { path: cert.into(), why: "no PEM CERTIFICATE in it".into() });
        }
        id.key().map_err(|_| TlsError::File { path: key.into(), why: "no PEM private key in it".into() })?;
        Ok(id)
    }

    pub fn certs(&self) -> Vec<CertificateDer<'static>> {
        certs_of(&self.chain_pem)
    }

    pub fn key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| material(format!("private key: {e}")))
    }

    fn certified(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let key = provider().key_provider.load_private_key(self.key()?).map_err(material)?;
        Ok(Arc::new(CertifiedKey::new(self.certs(), key)))
    }

    /// For reqwest: the chain and key in one PEM.
    pub fn to_pem(&self) -> String {
        format!("{}\n{}", self.chain_pem.trim_end(), self.key_pem)
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|e| TlsError::File { path: path.into(), why: format!("cannot read ({e})") })
}

fn certs_of(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok).collect()
}

/// Root certificates from PEM (a CA file); an empty or unreadable set is an error naming `path`.
pub fn roots_from_pem(pem: &str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in certs_of(pem) {
        roots.add(c).map_err(|e| TlsError::File { path: path.into(), why: format!("not a CA certificate ({e})") })?;
    }
    if roots.is_empty() {
        return Err(TlsError::File { path: path.into(), why: "no PEM CERTIFICATE in it".into() });
    }
    Ok(roots)
}

/// Reads a CA file (PEM) for trust.
pub fn read_roots(path: &Path) -> Result<(String, RootCertStore), TlsError> {
    let pem = read(path)?;
    let roots = roots_from_pem(&pem, path)?;
    Ok((pem, roots))
}

/// A CA generated for one run: it issues the suite's server certificate (and the reference
/// peers'), and the IUT is configured to trust its certificate.
pub struct RunCa {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for RunCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunCa")
    }
}

/// How long certificates issued for a run are valid, from a day before now.
const RUN_VALIDITY_DAYS: i64 = 30;

impl RunCa {
    /// A fresh CA named `name` (its common name).
    pub fn generate(name: &str) -> Result<RunCa, TlsError> {
        let key = KeyPair::generate().map_err(material)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(material)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(RUN_VALIDITY_DAYS);
        let cert = params.self_signed(&key).map_err(material)?;
        Ok(RunCa { ca_pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate (PEM), for the IUT to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn roots(&self) -> RootCertStore {
        roots_from_pem(&self.ca_pem, Path::new("<generated CA>")).unwrap_or_else(|_| RootCertStore::empty())
    }

    fn issue(&self, hosts: &[String], client: bool, expired: bool) -> Result<Identity, TlsError> {
        let key = KeyPair::generate().map_err(material)?;
        let mut params = CertificateParams::new(hosts.to_vec()).map_err(material)?;
        params.distinguished_name.push(DnType::CommonName, hosts.first().map_or("dmcts", String::as_str));
        params.extended_key_usages =
            vec![if client { ExtendedKeyUsagePurpose::ClientAuth } else { ExtendedKeyUsagePurpose::ServerAuth }];
        let now = time::OffsetDateTime::now_utc();
        if expired {
            params.not_before = now - time::Duration::days(60);
            params.not_after = now - time::Duration::days(30);
        } else {
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(RUN_VALIDITY_DAYS);
        }
        let cert = params.signed_by(&key, &self.issuer).map_err(material)?;
        Ok(Identity { chain_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A server certificate for `hosts` (DNS names or IP addresses).
    pub fn issue_server(&self, hosts: &[String]) -> Result<Identity, TlsError> {
        self.issue(hosts, false, false)
    }

    /// A client certificate named `name`.
    pub fn issue_client(&self, name: &str) -> Result<Identity, TlsError> {
        self.issue(&[name.to_string()], true, false)
    }

    /// Writes the CA certificate into `dir` and returns its path.
    pub fn write_ca(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(CA_FILE);
        std::fs::write(&path, &self.ca_pem)?;
        Ok(path)
    }
}

/// The host names a certificate for a URL's listener covers: the URL's host, plus the loopback
/// names (the suite and the reference peers listen on 127.0.0.1).
pub fn hosts_for(url: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    if let Some(h) =
        reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
    {
        hosts.push(h);
    }
    for h in ["127.0.0.1", "localhost"] {
        if !hosts.iter().any(|x| x == h) {
            hosts.push(h.to_string());
        }
    }
    hosts
}

/// What the suite's listener presents in the TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presented {
    /// The configured certificate (the one the IUT is set up to trust).
    Trusted,
    /// A certificate for the right host from a CA the IUT was never given.
    UntrustedCa,
    /// A certificate of the trusted CA whose validity ended.
    Expired,
    /// A certificate of the trusted CA for another host (`wrong-host.dmcts.invalid`).
    WrongHost,
}

impl Presented {
    pub const ALL: [Presented; 4] =
        [Presented::Trusted, Presented::UntrustedCa, Presented::Expired, Presented::WrongHost];

    pub fn name(self) -> &'static str {
        match self {
            Presented::Trusted => "trusted",
            Presented::UntrustedCa => "untrusted-ca",
            Presented::Expired => "expired",
            Presented::WrongHost => "wrong-host",
        }
    }

    /// What the certificate is, for traces and reasons.
    pub fn describe(self) -> &'static str {
        match self {
            Presented::Trusted => "the configured server certificate",
            Presented::UntrustedCa => "a certificate from a CA the IUT was not given",
            Presented::Expired => "a certificate of the trusted CA whose validity has ended",
            Presented::WrongHost => "a certificate of the trusted CA for another host (wrong-host.dmcts.invalid)",
        }
    }
}

/// The host name of the wrong-host certificate.
pub const WRONG_HOST: &str = "wrong-host.dmcts.invalid";

/// The listener's TLS side: its certificates by [`Presented`], which one is presented now,
/// and the CA client certificates must chain to (when it asks for them).
#[derive(Clone)]
pub struct ServerTls {
    keys: Arc<BTreeMap<Presented, Arc<CertifiedKey>>>,
    current: Arc<Mutex<Presented>>,
    client_roots: Option<Arc<RootCertStore>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("presents", &self.keys.keys().collect::<Vec<_>>()).finish()
    }
}

impl ServerTls {
    /// A server presenting `identity`. With `ca` (the CA that issued it, generated for the run)
    /// it can also present the expired and wrong-host certificates; the untrusted-CA one is
    /// always possible (its CA is made here and thrown away).
    pub fn new(identity: &Identity, ca: Option<&RunCa>, hosts: &[String]) -> Result<ServerTls, TlsError> {
        let mut keys = BTreeMap::new();
        keys.insert(Presented::Trusted, identity.certified()?);
        let stranger = RunCa::generate("dmcts untrusted CA")?;
        keys.insert(Presented::UntrustedCa, stranger.issue_server(hosts)?.certified()?);
        if let Some(ca) = ca {
            keys.insert(Presented::Expired, ca.issue(hosts, false, true)?.certified()?);
            keys.insert(Presented::WrongHost, ca.issue_server(&[WRONG_HOST.to_string()])?.certified()?);
        }
        Ok(ServerTls { keys: Arc::new(keys), current: Arc::new(Mutex::new(Presented::Trusted)), client_roots: None })
    }

    /// Ask every client for a certificate chaining to `roots`, and refuse one without.
    pub fn require_client_certificates(mut self, roots: RootCertStore) -> ServerTls {
        self.client_roots = Some(Arc::new(roots));
        self
    }

    /// Whether this server can present `p`.
    pub fn can_present(&self, p: Presented) -> bool {
        self.keys.contains_key(&p)
    }

    /// Presents `p` from the next handshake on (`false` if it cannot).
    pub fn present(&self, p: Presented) -> bool {
        if !self.can_present(p) {
            return false;
        }
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = p;
        true
    }

    pub fn presenting(&self) -> Presented {
        *self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rustls configuration (HTTP/1.1 only: DM 2.0 is specified over HTTP/1.1).
    pub fn config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(material)?;
        let builder = match &self.client_roots {
            Some(roots) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider()).build().map_err(material)?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut cfg =
            builder.with_cert_resolver(Arc::new(Resolver { keys: self.keys.clone(), current: self.current.clone() }));
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

#[derive(Debug)]
struct Resolver {
    keys: Arc<BTreeMap<Presented, Arc<CertifiedKey>>>,
    current: Arc<Mutex<Presented>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let p = *self.current.lock().unwrap_or_else(|e| e.into_inner());
        self.keys.get(&p).or_else(|| self.keys.get(&Presented::Trusted)).cloned()
    }
}

/// The suite's (or a reference peer's) HTTPS client side: whom it trusts and what it presents.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// The CA certificates (PEM) a server's certificate must chain to.
    pub ca_pem: String,
    /// Where they came from, for messages.
    pub ca_source: String,
    /// A client certificate to present, if any.
    pub identity: Option<Identity>,
    /// Accept any server certificate (a reference-peer fault only; never the suite).
    pub accept_any: bool,
}

impl ClientTls {
    /// The rustls configuration.
    pub fn config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(material)?;
        let builder = if self.accept_any {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny))
        } else {
            builder.with_root_certificates(roots_from_pem(&self.ca_pem, Path::new(&self.ca_source))?)
        };
        let mut cfg = match &self.identity {
            Some(id) => builder.with_client_auth_cert(id.certs(), id.key()?).map_err(material)?,
            None => builder.with_no_client_auth(),
        };
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }

    /// A reqwest builder using this configuration.
    pub fn apply(&self, b: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, TlsError> {
        Ok(b.tls_backend_preconfigured(self.config()?))
    }
}

/// Accepts every server certificate: the reference client's `client.tls-accept-any` fault.
#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

/// A reqwest error with its causes, and for a certificate problem what the suite verified
/// against: "TLS: the server's certificate was not accepted (invalid peer certificate:
/// UnknownIssuer); the suite trusts only the CA in ca.pem (PIXIT tls.ca)".
pub fn describe_error(e: &reqwest::Error, trust: Option<&ClientTls>) -> String {
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("handshake") || lower.contains("tls") {
        let trust = trust.map_or_else(
            || "no CA is configured (PIXIT [pixit.tls] ca)".to_string(),
            |t| format!("the suite trusts only the CA in {}", t.ca_source),
        );
        return format!("TLS handshake failed ({chain}); {trust}");
    }
    chain
}

/// The TLS of one run, from the PIXIT ([`SuiteTls::from_pixit`]) or for the reference peers
/// ([`SuiteTls::generated`]).
#[derive(Default)]
pub struct SuiteTls {
    /// What the suite's listener presents (`None`: it serves plain HTTP).
    pub server: Option<ServerTlsSource>,
    /// Whom the suite trusts as HTTPS client, and what it presents.
    pub client: Option<ClientTls>,
    /// The CA generated for the run, when the suite made one.
    pub generated: Option<Arc<RunCa>>,
}

/// Where the listener's certificate comes from: the PIXIT's, or one the run's CA issues.
#[derive(Clone, Debug)]
pub struct ServerTlsSource {
    pub identity: Identity,
    pub ca: Option<Arc<RunCa>>,
    pub client_roots: Option<RootCertStore>,
}

impl ServerTlsSource {
    /// A fresh [`ServerTls`] (each listener switches what it presents on its own).
    pub fn server_tls(&self, hosts: &[String]) -> Result<ServerTls, TlsError> {
        let t = ServerTls::new(&self.identity, self.ca.as_deref(), hosts)?;
        Ok(match &self.client_roots {
            Some(r) => t.require_client_certificates(r.clone()),
            None => t,
        })
    }
}

impl SuiteTls {
    /// From `[pixit.tls]` (paths relative to `base`). `listener_url` is the DM server URL the
    /// listener serves (its host goes into a generated certificate).
    pub fn from_pixit(p: &crate::ics::TlsPixit, base: &Path, listener_url: Option<&str>) -> Result<SuiteTls, TlsError> {
        let path = |f: &PathBuf| if f.is_absolute() { f.clone() } else { base.join(f) };
        let pair = |a: &Option<PathBuf>, b: &Option<PathBuf>, an: &str, bn: &str| match (a, b) {
            (Some(a), Some(b)) => Ok(Some((path(a), path(b)))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(TlsError::Material(format!("PIXIT tls.{an} is given without tls.{bn}"))),
            (None, Some(_)) => Err(TlsError::Material(format!("PIXIT tls.{bn} is given without tls.{an}"))),
        };
        let mut out = SuiteTls::default();
        if p.enabled {
            let (identity, ca) = match pair(&p.cert, &p.key, "cert", "key")? {
                Some((c, k)) => (Identity::from_files(&c, &k)?, None),
                None => {
                    let ca = Arc::new(RunCa::generate("dmcts run CA")?);
                    let id = ca.issue_server(&hosts_for(listener_url.unwrap_or("https://127.0.0.1/")))?;
                    out.generated = Some(ca.clone());
                    (id, Some(ca))
                }
            };
            let client_roots = match &p.client_ca {
                Some(f) => Some(read_roots(&path(f))?.1),
                None => None,
            };
            out.server = Some(ServerTlsSource { identity, ca, client_roots });
        }
        let identity = match pair(&p.client_cert, &p.client_key, "client_cert", "client_key")? {
            Some((c, k)) => Some(Identity::from_files(&c, &k)?),
            None => None,
        };
        if let Some(f) = &p.ca {
            let f = path(f);
            let (ca_pem, _) = read_roots(&f)?;
            out.client = Some(ClientTls { ca_pem, ca_source: f.display().to_string(), identity, accept_any: false });
        } else if identity.is_some() {
            return Err(TlsError::Material("PIXIT tls.client_cert is given without tls.ca (whom to trust)".into()));
        }
        Ok(out)
    }

    /// For the reference peers: a CA generated for the run issues every certificate, and
    /// every side trusts it.
    pub fn generated() -> Result<SuiteTls, TlsError> {
        let ca = Arc::new(RunCa::generate("dmcts run CA")?);
        let identity = ca.issue_server(&hosts_for("https://127.0.0.1/"))?;
        Ok(SuiteTls {
            server: Some(ServerTlsSource { identity, ca: Some(ca.clone()), client_roots: None }),
            client: Some(ClientTls {
                ca_pem: ca.ca_pem().to_string(),
                ca_source: "the CA generated for the run".into(),
                identity: None,
                accept_any: false,
            }),
            generated: Some(ca),
        })
    }

    /// The suite's HTTP client: no proxy; HTTPS trusting only the configured CA.
    pub fn http_client(&self) -> Result<reqwest::Client, TlsError> {
        let b = reqwest::Client::builder().no_proxy();
        let b = match &self.client {
            Some(c) => c.apply(b)?,
            None => b,
        };
        b.build().map_err(material)
    }
}

/// A TLS handshake that failed at a listener: who, and rustls's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeFailure {
    pub peer: std::net::SocketAddr,
    pub error: String,
}

/// Called for every failed handshake (the listener records it in the running case's trace).
pub type OnFailure = Arc<dyn Fn(HandshakeFailure) + Send + Sync>;

/// How long a client may take to complete a handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A TCP listener whose connections are TLS: handshakes run concurrently (a slow or failing
/// client never holds up another), and only completed ones are handed to the HTTP server.
pub struct TlsIncoming {
    rx: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<tokio::net::TcpStream>, std::net::SocketAddr)>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsIncoming {
    pub fn new(
        tcp: tokio::net::TcpListener,
        config: Arc<rustls::ServerConfig>,
        on_failure: OnFailure,
    ) -> std::io::Result<TlsIncoming> {
        let addr = tcp.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                };
                let (acceptor, tx, on_failure) = (acceptor.clone(), tx.clone(), on_failure.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => on_failure(HandshakeFailure { peer, error: e.to_string() }),
                        Err(_) => on_failure(HandshakeFailure {
                            peer,
                            error: format!("not complete within {} s", HANDSHAKE_TIMEOUT.as_secs()),
                        }),
                    }
                });
            }
        });
        Ok(TlsIncoming { rx, addr, task })
    }
}

impl Drop for TlsIncoming {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsIncoming {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task ended (never, short of an abort): serve nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_ca_issues_server_and_client_certificates_that_load() {
        let ca = RunCa::generate("t").unwrap();
        let id = ca.issue_server(&hosts_for("https://127.0.0.1:0/dm")).unwrap();
        assert_eq!(id.certs().len(), 1);
        assert!(id.key().is_ok());
        let tls = ServerTls::new(&id, Some(&ca), &["127.0.0.1".into()]).unwrap();
        for p in Presented::ALL {
            assert!(tls.can_present(p), "{p:?}");
        }
        assert!(tls.config().is_ok());
        let client = ClientTls {
            ca_pem: ca.ca_pem().into(),
            ca_source: "x".into(),
            identity: Some(ca.issue_client("dev").unwrap()),
            accept_any: false,
        };
        assert!(client.config().is_ok());
    }

    #[test]
    fn without_the_ca_key_only_the_untrusted_alternative_exists() {
        let ca = RunCa::generate("t").unwrap();
        let id = ca.issue_server(&["127.0.0.1".into()]).unwrap();
        let tls = ServerTls::new(&id, None, &["127.0.0.1".into()]).unwrap();
        assert!(tls.can_present(Presented::UntrustedCa));
        assert!(!tls.present(Presented::Expired));
        assert_eq!(tls.presenting(), Presented::Trusted);
    }

    #[test]
    fn hosts_cover_the_url_and_loopback() {
        assert_eq!(hosts_for("https://dm.example:443/x"), ["dm.example", "127.0.0.1", "localhost"]);
        assert_eq!(hosts_for("https://127.0.0.1:1/x"), ["127.0.0.1", "localhost"]);
    }
}
