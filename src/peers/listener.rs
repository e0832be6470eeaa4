//! One HTTP listener serving the suite's endpoints, at the DM server URL of the IUT's account.
//!
//! The `dm` endpoint is exactly the path of that URL (a real client cannot change it); every
//! other endpoint is derived under it: `<server URL>/<name>` for `cont`, `repo`, `browser`,
//! `async` and `notify`, with anything after the name being the path relative to the endpoint.
//! A request anywhere else is answered 404 at once and recorded as misdirected, so a wrong URL
//! is named in the failure instead of costing a step timeout.
//!
//! During a case every request is recorded in arrival order in the case's inbox and traced. A
//! request matching a static resource is answered at once; any other is held until a step
//! answers it, or the case ends (then the configurable case-end answer, 503 by default), so a
//! slow case never leaves an IUT hanging forever. Between cases a request is traffic after the
//! case ended: answered with the configurable between-cases answer (503 by default), traced in
//! the last case's trace, kept for [`Listener::take_late_traffic`], and never seen by the next
//! case.
use super::http::{push_limited, MAX_BODY_BYTES};
use crate::catalog::Resource;
use crate::trace::{body_for_trace, Trace, TraceEvent};
use axum::body::BodyDataStream;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// The suite's endpoints. `dm` is the DM server URL itself; the others are derived under it.
pub const ENDPOINTS: &[&str] = &["dm", "cont", "repo", "browser", "async", "notify"];

/// At most this many requests are kept per case (and between cases); more are answered 503
/// and only counted, so a flood cannot exhaust the suite's memory.
pub const MAX_KEPT_REQUESTS: usize = 1000;
/// At most this many request body bytes are kept per case; a request over the budget is
/// recorded as refused and answered 503.
pub const MAX_CASE_BODY_BYTES: usize = 4 * MAX_BODY_BYTES;
/// How much of a body is kept for traffic after a case (the report needs a prefix only).
pub const LATE_BODY_KEPT: usize = 16 * 1024;

/// Upper bound on how long a request may be held unanswered (the case timeout ends it earlier).
const MAX_HOLD: Duration = Duration::from_secs(600);
/// A request body must arrive within this time (408 otherwise), unless set with
/// [`Listener::set_body_timeout`].
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP answer the suite gives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn status(status: u16) -> Self {
        HttpAnswer { status, ..Default::default() }
    }

    fn text(status: u16, text: impl Into<String>) -> Self {
        HttpAnswer {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: text.into().into_bytes(),
        }
    }
}

/// A request the IUT sent to the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Arrival order within the case (1-based; misdirected requests count too), or within the
    /// listener's life for traffic between cases.
    pub seq: usize,
    /// The endpoint it was sent to (one of [`ENDPOINTS`]); empty for a misdirected request.
    pub endpoint: String,
    /// Path relative to the endpoint ("" or "/obj1"), with the query if any. For a misdirected
    /// request, the whole target.
    pub path: String,
    pub method: String,
    /// The request target as sent: path and query (e.g. `/oma/dm/repo/obj1?x=1`).
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The body; empty when it was [`refused`](Incoming::refused).
    pub body: Vec<u8>,
    /// Why the body was not read, when it was not: "larger than N bytes" (answered 413) or
    /// "not complete within N ms" (answered 408). Such a request has no content to judge.
    pub refused: Option<String>,
    /// Status already given (resources, refusals and misdirected requests answer at once).
    pub answered: Option<u16>,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A request to a path the suite does not serve; it was answered 404 at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Misdirected {
    pub seq: usize,
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// The DM server URL the listener serves, for the message.
    pub server_url: String,
}

impl Misdirected {
    /// "the IUT sent POST /path; the account's DM server URL is http://…/dm", for a reason.
    pub fn describe(&self) -> String {
        format!("the IUT sent {} {}; the account's DM server URL is {}", self.method, self.target, self.server_url)
    }
}

/// A request that arrived while no case was running ("traffic after the case ended").
#[derive(Debug, Clone, PartialEq)]
pub struct LateRequest {
    /// The case that ran last when it arrived (or during which it started to arrive); `None`
    /// before the first case, or when that case was begun without an id.
    pub after_case: Option<String>,
    /// The request, with the status it was answered in `answered`. Its body is cut to
    /// [`LATE_BODY_KEPT`] bytes; `body_len` is its real length.
    pub incoming: Incoming,
    pub body_len: usize,
    /// It was also sent to a path the suite does not serve (answered 404).
    pub misdirected: bool,
}

/// The traffic that arrived while no case was running ([`Listener::take_late_traffic`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LateTraffic {
    /// In arrival order, at most [`MAX_KEPT_REQUESTS`].
    pub requests: Vec<LateRequest>,
    /// Requests beyond those, answered but not kept.
    pub not_kept: usize,
}

/// How the suite answers a request outside a case step: given the request, the answer.
pub type AnswerFn = Arc<dyn Fn(&Incoming) -> HttpAnswer + Send + Sync>;

/// Per-endpoint answers with a default ("any").
#[derive(Clone)]
struct Answers {
    by_endpoint: HashMap<String, AnswerFn>,
    default: AnswerFn,
}

impl Answers {
    fn new(default: AnswerFn) -> Self {
        Answers { by_endpoint: HashMap::new(), default }
    }

    fn set(&mut self, endpoint: &str, f: AnswerFn) {
        if endpoint == "any" {
            self.default = f;
        } else {
            self.by_endpoint.insert(endpoint.to_string(), f);
        }
    }

    fn get(&self, endpoint: &str) -> AnswerFn {
        self.by_endpoint.get(endpoint).unwrap_or(&self.default).clone()
    }
}

/// The DM server URL the listener serves and the paths derived from it.
#[derive(Debug, Clone)]
struct Routes {
    /// As the IUT's account holds it (with the bound port when it said port 0).
    server_url: String,
    /// The `dm` endpoint's path, exactly.
    dm_path: String,
    /// `dm_path` without a trailing `/`: the other endpoints are `<base_path>/<name>`.
    base_path: String,
}

impl Routes {
    #[cfg(test)]
    fn new(server_url: Option<&str>, bound: SocketAddr) -> Result<Routes, BindError> {
        Routes::with_scheme(server_url, bound, "http")
    }

    /// As [`Routes::new`]; `scheme` is what the listener serves (`https` with TLS), and a
    /// given URL must use it.
    fn with_scheme(server_url: Option<&str>, bound: SocketAddr, scheme: &str) -> Result<Routes, BindError> {
        let given = server_url.map(str::to_string).unwrap_or_else(|| format!("{scheme}://{bound}/dm"));
        let bad = |why: &str| BindError::ServerUrl { url: given.clone(), why: why.to_string() };
        let mut url = reqwest::Url::parse(&given).map_err(|e| bad(&format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("expected an http:// or https:// URL"));
        }
        if scheme == "https" && url.scheme() != "https" {
            return Err(bad("the listener serves HTTPS ([pixit.tls] enabled), so the URL must be https://"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a query or fragment cannot be served; give the URL without them"));
        }
        // Port 0 means "the port the listener got" (ephemeral ports, in tests and reference runs).
        if url.port() == Some(0) {
            url.set_port(Some(bound.port())).map_err(|_| bad("cannot set the bound port"))?;
        }
        let dm_path = url.path().to_string();
        let base_path = dm_path.trim_end_matches('/').to_string();
        Ok(Routes { server_url: url.to_string(), dm_path, base_path })
    }

    /// The endpoint and relative path a request path is for, or `None` if the suite does not
    /// serve it.
    fn route(&self, path: &str) -> Option<(String, String)> {
        if path == self.dm_path {
            return Some(("dm".into(), String::new()));
        }
        let rest = path.strip_prefix(&self.base_path)?.strip_prefix('/')?;
        let (name, sub) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        (name != "dm" && ENDPOINTS.contains(&name)).then(|| (name.to_string(), sub.to_string()))
    }

    fn endpoint_url(&self, endpoint: &str) -> String {
        endpoint_url_under(&self.server_url, endpoint)
    }
}

/// The URL of an endpoint under a DM server URL: the URL itself for `dm`, else
/// `<server URL>/<endpoint>` (one rule for the listener and for `plan`, which derives the URLs
/// before anything is bound).
pub fn endpoint_url_under(server_url: &str, endpoint: &str) -> String {
    if endpoint == "dm" {
        return server_url.to_string();
    }
    format!("{}/{endpoint}", server_url.trim_end_matches('/'))
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The DM server URL cannot be served (PIXIT `suite.server_url` / `suite.base_url`).
    #[error("the DM server URL {url:?} cannot be served: {why}")]
    ServerUrl { url: String, why: String },
    /// The TLS material cannot be used (PIXIT `[pixit.tls]`).
    #[error("cannot serve HTTPS: {0}")]
    Tls(String),
    /// The address cannot be bound (PIXIT `suite.listen`).
    #[error("cannot listen on {addr}: {source}")]
    Io {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The DM server URL to serve, from the PIXIT: `server_url` when given, else
/// `<base_url>/dm`, else `None` (then [`Listener::bind`] serves `http://<bound addr>/dm`).
pub fn pixit_server_url(server_url: Option<&str>, base_url: Option<&str>) -> Option<String> {
    server_url.map(str::to_string).or_else(|| base_url.map(|b| format!("{}/dm", b.trim_end_matches('/'))))
}

struct Held {
    incoming: Incoming,
    consumed: bool,
    responder: Option<oneshot::Sender<HttpAnswer>>,
}

struct CaseInbox {
    id: Option<String>,
    trace: Trace,
    resources: Vec<(Resource, HttpAnswer)>,
    requests: Vec<Held>,
    /// Misdirected requests, and whether a waiting step has already been told about each.
    misdirected: Vec<(Misdirected, bool)>,
    /// TLS handshakes that failed during the case (the IUT refused the suite's certificate, or
    /// the suite refused the IUT's).
    handshake_failures: Vec<super::tls::HandshakeFailure>,
    last_seq: usize,
    /// Body bytes kept so far, against [`MAX_CASE_BODY_BYTES`].
    body_bytes: usize,
    /// Requests answered 503 without being kept ([`MAX_KEPT_REQUESTS`]).
    not_kept: usize,
}

struct State {
    case: Option<CaseInbox>,
    /// Changes whenever a case begins or ends: a request belongs to the case its head arrived in.
    generation: u64,
    /// The case that ran last, and its trace (late traffic is traced there).
    last_case: Option<(Option<String>, Trace)>,
    late: LateTraffic,
    late_seq: usize,
    between_cases: Answers,
    at_case_end: Answers,
}

struct Shared {
    state: Mutex<State>,
    tls: Option<super::tls::ServerTls>,
    arrived: Notify,
    routes: Routes,
    body_timeout_ms: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A TLS handshake failed: noted in the running case's trace (or the last case's, between
    /// cases) and kept for the case's steps.
    fn handshake_failed(&self, f: super::tls::HandshakeFailure) {
        let mut st = self.lock();
        let presented = self.tls.as_ref().map(|t| t.presenting().describe()).unwrap_or("");
        let note = format!("TLS handshake with {} failed while the suite presented {presented}: {}", f.peer, f.error);
        match st.case.as_mut() {
            Some(inbox) => {
                inbox.trace.note(note);
                inbox.handshake_failures.push(f);
            }
            None => {
                if let Some((_, t)) = &st.last_case {
                    t.note(format!("between cases: {note}"));
                }
            }
        }
        drop(st);
        self.arrived.notify_waiters();
    }
}

/// The running listener.
pub struct Listener {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// A request taken from the inbox by a step; answer it with [`Listener::answer`].
pub struct Taken {
    pub incoming: Incoming,
    responder: Option<oneshot::Sender<HttpAnswer>>,
}

impl Taken {
    pub fn is_held(&self) -> bool {
        self.responder.is_some()
    }
}

/// How a wait for a request ended ([`Listener::take_or_misdirected`]).
pub enum TakeOutcome {
    Taken(Taken),
    /// The IUT sent a request to a path the suite does not serve (already answered 404), and
    /// nothing arrived where the step waits: most likely the IUT holds another DM server URL.
    Misdirected(Misdirected),
    TimedOut,
}

fn service_unavailable(_: &Incoming) -> HttpAnswer {
    HttpAnswer::text(503, "no test case is running")
}

impl Listener {
    /// Binds `addr` (port 0 for an ephemeral port) and serves the DM server URL the IUT's
    /// account holds, `server_url` (scheme, host, port, path; port 0 means the bound port).
    /// Without one it serves `http://<bound addr>/dm`. See [`pixit_server_url`].
    pub async fn bind(addr: SocketAddr, server_url: Option<&str>) -> Result<Listener, BindError> {
        Listener::bind_with(addr, server_url, None).await
    }

    /// As [`Listener::bind`], serving HTTPS with `tls` when given (the default DM server URL
    /// is then `https://<bound addr>/dm`, and a given one must be https://). A failed handshake
    /// is noted in the running case's trace and kept ([`Listener::handshake_failures`]).
    pub async fn bind_with(
        addr: SocketAddr,
        server_url: Option<&str>,
        tls: Option<super::tls::ServerTls>,
    ) -> Result<Listener, BindError> {
        let tcp = tokio::net::TcpListener::bind(addr).await.map_err(|source| BindError::Io { addr, source })?;
        let addr = tcp.local_addr().map_err(|source| BindError::Io { addr, source })?;
        let routes = Routes::with_scheme(server_url, addr, if tls.is_some() { "https" } else { "http" })?;
        let config = match &tls {
            Some(t) => Some(t.config().map_err(|e| BindError::Tls(e.to_string()))?),
            None => None,
        };
        let state = State {
            case: None,
            generation: 0,
            last_case: None,
            late: LateTraffic::default(),
            late_seq: 0,
            between_cases: Answers::new(Arc::new(service_unavailable)),
            at_case_end: Answers::new(Arc::new(|_: &Incoming| HttpAnswer::status(503))),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            tls,
            arrived: Notify::new(),
            routes,
            body_timeout_ms: AtomicU64::new(BODY_TIMEOUT.as_millis() as u64),
        });
        let s2 = shared.clone();
        let app = axum::Router::new().fallback(move |req: Request| handle(s2.clone(), req));
        let task = match config {
            None => tokio::spawn(async move {
                let _ = axum::serve(tcp, app).await;
            }),
            Some(config) => {
                let s3 = shared.clone();
                let on_failure: super::tls::OnFailure = Arc::new(move |f| s3.handshake_failed(f));
                let incoming = super::tls::TlsIncoming::new(tcp, config, on_failure)
                    .map_err(|source| BindError::Io { addr, source })?;
                tokio::spawn(async move {
                    let _ = axum::serve(incoming, app).await;
                })
            }
        };
        Ok(Listener { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listener's TLS side, when it serves HTTPS (security cases switch the certificate it
    /// presents; a case's end switches back to the trusted one).
    pub fn tls(&self) -> Option<&super::tls::ServerTls> {
        self.shared.tls.as_ref()
    }

    /// The TLS handshakes that failed during the current case, in order.
    pub fn handshake_failures(&self) -> Vec<super::tls::HandshakeFailure> {
        self.shared.lock().case.as_ref().map(|c| c.handshake_failures.clone()).unwrap_or_default()
    }

    /// Waits until a handshake fails in the current case or a request no step has taken arrives
    /// (whichever is first), at most `timeout`: `Ok(failure)`, `Err(Some(request))` when a request came
    /// instead, `Err(None)` on timeout.
    pub async fn wait_handshake_failure(
        &self,
        timeout: Duration,
    ) -> Result<super::tls::HandshakeFailure, Option<Incoming>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.shared.lock();
                if let Some(c) = st.case.as_ref() {
                    if let Some(r) = c.requests.iter().find(|r| !r.consumed) {
                        return Err(Some(r.incoming.clone()));
                    }
                    if let Some(f) = c.handshake_failures.first() {
                        return Ok(f.clone());
                    }
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(None);
            }
        }
    }

    /// The DM server URL served (the `dm` endpoint), e.g. `http://127.0.0.1:8700/dm`.
    pub fn server_url(&self) -> &str {
        &self.shared.routes.server_url
    }

    /// The URL of an endpoint: the DM server URL for `dm`, `<server URL>/<endpoint>` for the
    /// others (e.g. `http://127.0.0.1:8700/dm/repo`).
    pub fn endpoint_url(&self, endpoint: &str) -> String {
        self.shared.routes.endpoint_url(endpoint)
    }

    /// How long a request body may take to arrive before it is refused with 408 (default
    /// [`BODY_TIMEOUT`]).
    pub fn set_body_timeout(&self, timeout: Duration) {
        self.shared.body_timeout_ms.store(timeout.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    /// Starts a case without an id; see [`Listener::begin_case_with_id`].
    pub fn begin_case(&self, trace: Trace, resources: Vec<(Resource, HttpAnswer)>) {
        self.start(None, trace, resources);
    }

    /// Starts case `case_id`: a fresh inbox, the case's static resources, its trace. Traffic
    /// after it ends is reported with this id. A case still running is ended first.
    pub fn begin_case_with_id(&self, case_id: &str, trace: Trace, resources: Vec<(Resource, HttpAnswer)>) {
        self.start(Some(case_id.to_string()), trace, resources);
    }

    fn start(&self, id: Option<String>, trace: Trace, resources: Vec<(Resource, HttpAnswer)>) {
        self.end_case();
        let mut st = self.shared.lock();
        st.generation += 1;
        st.case = Some(CaseInbox {
            id,
            trace,
            resources,
            requests: Vec::new(),
            misdirected: Vec::new(),
            handshake_failures: Vec::new(),
            last_seq: 0,
            body_bytes: 0,
            not_kept: 0,
        });
    }

    /// Ends a case: every request still held gets the case-end answer of its endpoint (503
    /// unless set with [`Listener::set_case_end_answer`]). From now on, requests are traffic
    /// after the case ended.
    pub fn end_case(&self) {
        if let Some(t) = &self.shared.tls {
            t.present(super::tls::Presented::Trusted);
        }
        let (inbox, answers) = {
            let mut st = self.shared.lock();
            let Some(inbox) = st.case.take() else { return };
            st.generation += 1;
            st.last_case = Some((inbox.id.clone(), inbox.trace.clone()));
            (inbox, st.at_case_end.clone())
        };
        for h in inbox.requests {
            if let Some(tx) = h.responder {
                let ans = answers.get(&h.incoming.endpoint)(&h.incoming);
                inbox
                    .trace
                    .note(format!("case ended: {} {} answered {}", h.incoming.method, h.incoming.target, ans.status));
                trace_response(&inbox.trace, &ans);
                let _ = tx.send(ans);
            }
        }
    }

    /// How requests still held when a case ends are answered, per endpoint ("any" for every
    /// endpoint without its own): e.g. a session-ending Package#2 for `dm`, so the IUT's
    /// session ends with its case. Default: 503.
    pub fn set_case_end_answer(
        &self,
        endpoint: &str,
        answer: impl Fn(&Incoming) -> HttpAnswer + Send + Sync + 'static,
    ) {
        self.shared.lock().at_case_end.set(endpoint, Arc::new(answer));
    }

    /// How requests that arrive while no case runs are answered, per endpoint ("any" for every
    /// endpoint without its own). Default: 503 "no test case is running". A path the suite does
    /// not serve is answered 404 whatever this says.
    pub fn set_between_cases_answer(
        &self,
        endpoint: &str,
        answer: impl Fn(&Incoming) -> HttpAnswer + Send + Sync + 'static,
    ) {
        self.shared.lock().between_cases.set(endpoint, Arc::new(answer));
    }

    /// Returns and forgets the traffic that arrived while no case was running, in arrival
    /// order, for the run report ("traffic after the case ended").
    pub fn take_late_traffic(&self) -> LateTraffic {
        std::mem::take(&mut self.shared.lock().late)
    }

    /// Requests of the current case to paths the suite does not serve (each answered 404).
    pub fn misdirected(&self) -> Vec<Misdirected> {
        self.shared
            .lock()
            .case
            .as_ref()
            .map(|c| c.misdirected.iter().map(|(m, _)| m.clone()).collect())
            .unwrap_or_default()
    }

    /// Takes the first unconsumed request at `endpoint` (and `path`, when given), waiting at
    /// most `timeout`.
    pub async fn take(&self, endpoint: &str, path: Option<&str>, timeout: Duration) -> Option<Taken> {
        match self.wait(endpoint, path, timeout, false).await {
            TakeOutcome::Taken(t) => Some(t),
            _ => None,
        }
    }

    /// Like [`Listener::take`], but a misdirected request of this case that no earlier wait
    /// has reported ends the wait at once (when nothing is there to take): a wrong DM server
    /// URL does not cost a full step timeout. Each misdirected request ends at most one wait.
    pub async fn take_or_misdirected(&self, endpoint: &str, path: Option<&str>, timeout: Duration) -> TakeOutcome {
        self.wait(endpoint, path, timeout, true).await
    }

    async fn wait(&self, endpoint: &str, path: Option<&str>, timeout: Duration, misdirected: bool) -> TakeOutcome {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(out) = self.try_take(endpoint, path, misdirected) {
                return out;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.try_take(endpoint, path, misdirected).unwrap_or(TakeOutcome::TimedOut);
            }
        }
    }

    fn try_take(&self, endpoint: &str, path: Option<&str>, misdirected: bool) -> Option<TakeOutcome> {
        let mut st = self.shared.lock();
        let inbox = st.case.as_mut()?;
        let found = inbox.requests.iter_mut().find(|h| {
            !h.consumed
                && (endpoint == "any" || h.incoming.endpoint == endpoint)
                && path.is_none_or(|p| h.incoming.path == p)
        });
        if let Some(h) = found {
            h.consumed = true;
            return Some(TakeOutcome::Taken(Taken { incoming: h.incoming.clone(), responder: h.responder.take() }));
        }
        if misdirected {
            if let Some((m, seen)) = inbox.misdirected.iter_mut().find(|(_, seen)| !*seen) {
                *seen = true;
                return Some(TakeOutcome::Misdirected(m.clone()));
            }
        }
        None
    }

    /// Unconsumed requests at `endpoint` ("any" for all), without consuming them.
    /// Misdirected requests are not among them (see [`Listener::misdirected`]).
    pub fn pending(&self, endpoint: &str) -> Vec<Incoming> {
        let st = self.shared.lock();
        st.case
            .as_ref()
            .map(|i| {
                i.requests
                    .iter()
                    .filter(|h| !h.consumed && (endpoint == "any" || h.incoming.endpoint == endpoint))
                    .map(|h| h.incoming.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many requests have arrived in this case so far (the last one's `seq`).
    pub fn arrived(&self) -> usize {
        self.shared.lock().case.as_ref().map_or(0, |i| i.last_seq)
    }

    /// Consumes the requests at `endpoint` ("any" for all) a resource already answered that
    /// arrived up to `seq` (inclusive), and returns them: they happened before a later point of
    /// the exchange (e.g. before the suite answered with END) and cannot break a silence at that
    /// endpoint that starts after it. Requests at other endpoints stay for the steps awaiting
    /// them (a new session the client opened right after END, answered by a resource).
    pub fn settle_answered_through(&self, endpoint: &str, seq: usize) -> Vec<Incoming> {
        let mut st = self.shared.lock();
        let Some(inbox) = st.case.as_mut() else { return Vec::new() };
        inbox
            .requests
            .iter_mut()
            .filter(|h| !h.consumed && h.incoming.seq <= seq && h.incoming.answered.is_some())
            .filter(|h| endpoint == "any" || h.incoming.endpoint == endpoint)
            .map(|h| {
                h.consumed = true;
                h.incoming.clone()
            })
            .collect()
    }

    /// Drops every request not yet taken by a step: held ones are answered 503. Returns them.
    /// Used after the IUT confirmed a `reset`: what it sent before belongs to its old state
    /// (so misdirected requests before it no longer end a wait either).
    pub fn drop_pending(&self) -> Vec<Incoming> {
        let mut st = self.shared.lock();
        let Some(inbox) = st.case.as_mut() else { return Vec::new() };
        for (_, seen) in inbox.misdirected.iter_mut() {
            *seen = true;
        }
        let mut dropped = Vec::new();
        for h in inbox.requests.iter_mut().filter(|h| !h.consumed) {
            h.consumed = true;
            if let Some(tx) = h.responder.take() {
                let ans = HttpAnswer::status(503);
                trace_response(&inbox.trace, &ans);
                let _ = tx.send(ans);
            }
            dropped.push(h.incoming.clone());
        }
        dropped
    }

    /// Drops every request of the case not yet taken, as [`Listener::drop_pending`] does, as
    /// soon as it arrives, handing each to `dropped`; never returns (race it against what it
    /// covers). While the IUT carries out a `reset`, what it sends is traffic of its old state:
    /// answered at once, an IUT whose reset waits for its last request's answer (a session it
    /// ends gracefully) is not left waiting until the reset times out.
    pub async fn drop_arrivals(&self, dropped: impl Fn(Incoming)) {
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            for inc in self.drop_pending() {
                dropped(inc);
            }
            notified.await;
        }
    }

    /// Answers a taken request (no-op for one already answered). The answer is traced here,
    /// so it appears under the step that gave it.
    pub fn answer(&self, taken: Taken, answer: HttpAnswer) {
        if let Some(tx) = taken.responder {
            if let Some(inbox) = self.shared.lock().case.as_ref() {
                trace_response(&inbox.trace, &answer);
            }
            let _ = tx.send(answer);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.end_case();
        self.task.abort();
    }
}

fn resource_matches(r: &Resource, inc: &Incoming) -> bool {
    r.endpoint == inc.endpoint
        && r.path == inc.path
        && r.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(&inc.method))
}

fn to_response(a: HttpAnswer) -> Response {
    let mut resp =
        (StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), a.body).into_response();
    for (k, v) in a.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

fn trace_request(trace: &Trace, inc: &Incoming) {
    trace.record(TraceEvent::HttpRequest {
        from: "iut".into(),
        to: "suite".into(),
        method: inc.method.clone(),
        url: inc.target.clone(),
        headers: inc.headers.clone(),
        body: body_for_trace(&inc.body),
    });
    if let Some(why) = &inc.refused {
        trace.note(format!("body refused: {why}; the request has no content to judge"));
    }
}

fn trace_response(trace: &Trace, a: &HttpAnswer) {
    trace.record(TraceEvent::HttpResponse {
        from: "suite".into(),
        to: "iut".into(),
        status: a.status,
        headers: a.headers.clone(),
        body: body_for_trace(&a.body),
    });
}

/// A body the listener refused but still reads and discards, so the IUT sees the 413 instead
/// of a reset connection; beyond this many bytes the connection is simply dropped.
const MAX_DRAIN: u64 = 4 * MAX_BODY_BYTES as u64;

/// What reading a request body gave.
struct ReadBody {
    body: Vec<u8>,
    /// Why it was refused, and the status that says so.
    refused: Option<(String, u16)>,
    /// The unread rest of a body refused for its size, to be drained before answering.
    rest: Option<BodyDataStream>,
}

/// Reads a request body, at most [`MAX_BODY_BYTES`] within `timeout`; otherwise says why not
/// and which status answers it. A declared length over the limit is refused unread.
async fn read_body(declared: Option<u64>, body: axum::body::Body, timeout: Duration) -> ReadBody {
    let too_large = |rest| ReadBody {
        body: Vec::new(),
        refused: Some((format!("larger than {MAX_BODY_BYTES} bytes"), 413)),
        rest: Some(rest),
    };
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large(stream);
    }
    let read = async {
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Some(format!("could not be read ({e})")))?;
            if push_limited(&mut buf, &chunk, MAX_BODY_BYTES) {
                return Err(None);
            }
        }
        Ok(buf)
    };
    let refused = |why: String, status| ReadBody { body: Vec::new(), refused: Some((why, status)), rest: None };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(body)) => ReadBody { body, refused: None, rest: None },
        Ok(Err(None)) => too_large(stream),
        Ok(Err(Some(why))) => refused(why, 400),
        Err(_) => refused(format!("not complete within {} ms", timeout.as_millis()), 408),
    }
}

/// Reads and discards what is left of a refused body, at most [`MAX_DRAIN`] bytes within
/// `timeout`.
async fn drain(mut rest: BodyDataStream, timeout: Duration) {
    let _ = tokio::time::timeout(timeout, async {
        let mut seen = 0u64;
        while let Some(Ok(chunk)) = rest.next().await {
            seen += chunk.len() as u64;
            if seen > MAX_DRAIN {
                break;
            }
        }
    })
    .await;
}

/// Where a request's head arrived: in which case (by generation), and whose trace it goes to.
struct Arrival {
    generation: u64,
    case_id: Option<String>,
    trace: Option<Trace>,
}

async fn handle(shared: Arc<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // A request belongs to the case its head arrived in, not to the one running when its body
    // is complete: a slow body must not slip into the next case.
    let arrival = {
        let st = shared.lock();
        match &st.case {
            Some(c) => Arrival { generation: st.generation, case_id: c.id.clone(), trace: Some(c.trace.clone()) },
            None => Arrival {
                generation: st.generation,
                case_id: st.last_case.as_ref().and_then(|(id, _)| id.clone()),
                trace: st.last_case.as_ref().map(|(_, t)| t.clone()),
            },
        }
    };
    let route = shared.routes.route(parts.uri.path());
    // A refused body is recorded as refused (not as a body), so no step judges a marker as
    // the IUT's content.
    let declared = parts.headers.get("content-length").and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let timeout = Duration::from_millis(shared.body_timeout_ms.load(Ordering::Relaxed));
    let ReadBody { body, refused, rest } = read_body(declared, body, timeout).await;
    let target = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_string(), |pq| pq.as_str().to_string());
    let (endpoint, path) = match &route {
        Some((e, p)) => (e.clone(), p.clone()),
        None => (String::new(), target.clone()),
    };
    let path = match (&route, parts.uri.query()) {
        (Some(_), Some(q)) => format!("{path}?{q}"),
        _ => path,
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let incoming = Incoming {
        seq: 0,
        endpoint,
        path,
        method: parts.method.as_str().to_string(),
        target,
        headers,
        body,
        refused: refused.as_ref().map(|(why, _)| why.clone()),
        answered: None,
    };
    match admit(&shared, &arrival, route, incoming, refused) {
        Admitted::Now(answer) => {
            // Recorded already, so a waiting step is not delayed by the drain.
            if let Some(rest) = rest {
                drain(rest, timeout).await;
            }
            to_response(answer)
        }
        Admitted::Held(rx, trace) => {
            let ans = match tokio::time::timeout(MAX_HOLD, rx).await {
                Ok(Ok(a)) => a,
                _ => {
                    let a = HttpAnswer::status(503);
                    trace.note("request held too long: answered 503");
                    trace_response(&trace, &a);
                    a
                }
            };
            to_response(ans)
        }
    }
}

/// What becomes of a request once read: answered now, or held for a step.
enum Admitted {
    Now(HttpAnswer),
    Held(oneshot::Receiver<HttpAnswer>, Trace),
}

/// Records a request where it belongs (the case it arrived in, or the late traffic) and
/// decides its answer; never waits.
fn admit(
    shared: &Shared,
    arrival: &Arrival,
    route: Option<(String, String)>,
    mut incoming: Incoming,
    refused: Option<(String, u16)>,
) -> Admitted {
    let server_url = &shared.routes.server_url;
    let misdirected_answer = || {
        HttpAnswer::text(
            404,
            format!("not a dmcts endpoint: the account's DM server URL is {server_url}, and the other endpoints are under it"),
        )
    };

    let mut st = shared.lock();
    let in_case = st.generation == arrival.generation && st.case.is_some();
    if !in_case {
        // Traffic after the case ended: answered, traced in the last case's trace, reported;
        // never put in a case's inbox.
        let answer = match (&route, &refused) {
            (None, _) => misdirected_answer(),
            (_, Some((_, status))) => HttpAnswer::status(*status),
            (Some((endpoint, _)), None) => {
                let f = st.between_cases.get(endpoint);
                drop(st);
                let a = f(&incoming);
                st = shared.lock();
                a
            }
        };
        st.late_seq += 1;
        incoming.seq = st.late_seq;
        incoming.answered = Some(answer.status);
        if st.late.requests.len() < MAX_KEPT_REQUESTS {
            let mut kept = incoming.clone();
            let body_len = kept.body.len();
            kept.body.truncate(LATE_BODY_KEPT);
            st.late.requests.push(LateRequest {
                after_case: arrival.case_id.clone(),
                incoming: kept,
                body_len,
                misdirected: route.is_none(),
            });
        } else {
            st.late.not_kept += 1;
        }
        drop(st);
        if let Some(trace) = &arrival.trace {
            trace_request(trace, &incoming);
            let case = arrival.case_id.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
            let what = if route.is_none() { "; not a suite endpoint" } else { "" };
            trace.note(format!(
                "traffic after the case{case} ended{what}: {} {} answered {}",
                incoming.method, incoming.target, answer.status
            ));
            trace_response(trace, &answer);
        }
        shared.arrived.notify_waiters();
        return Admitted::Now(answer);
    }
    let Some(inbox) = st.case.as_mut() else { return Admitted::Now(HttpAnswer::status(503)) };
    if inbox.requests.len() + inbox.misdirected.len() >= MAX_KEPT_REQUESTS {
        inbox.not_kept += 1;
        if inbox.not_kept == 1 {
            inbox.trace.note(format!(
                "more than {MAX_KEPT_REQUESTS} requests in this case: further ones are answered 503 and not kept"
            ));
        }
        return Admitted::Now(HttpAnswer::status(503));
    }
    let mut refused = refused;
    if inbox.body_bytes + incoming.body.len() > MAX_CASE_BODY_BYTES {
        let why = format!("over the case's budget of {MAX_CASE_BODY_BYTES} bytes of request bodies");
        incoming.body = Vec::new();
        incoming.refused = Some(why.clone());
        refused = Some((why, 503));
    }
    inbox.body_bytes += incoming.body.len();
    inbox.last_seq += 1;
    incoming.seq = inbox.last_seq;
    trace_request(&inbox.trace, &incoming);
    if route.is_none() {
        let answer = misdirected_answer();
        inbox.trace.note(format!(
            "answered 404: {} is not a suite endpoint; the account's DM server URL is {server_url}",
            incoming.target
        ));
        trace_response(&inbox.trace, &answer);
        inbox.misdirected.push((
            Misdirected {
                seq: incoming.seq,
                method: incoming.method.clone(),
                target: incoming.target.clone(),
                server_url: server_url.clone(),
            },
            false,
        ));
        drop(st);
        shared.arrived.notify_waiters();
        return Admitted::Now(answer);
    }
    // A notification listener needs no case-controlled answer: answering at once keeps a
    // server that waits for the delivery from blocking its own upper-tester answer.
    let auto = match &refused {
        Some((_, status)) => Some(HttpAnswer::status(*status)),
        None => (incoming.endpoint == "notify").then(|| HttpAnswer::status(204)),
    };
    let resource = match &refused {
        Some(_) => None,
        None => inbox.resources.iter().find(|(r, _)| resource_matches(r, &incoming)).map(|(_, a)| a.clone()),
    };
    if let Some(ans) = resource.or(auto) {
        incoming.answered = Some(ans.status);
        trace_response(&inbox.trace, &ans);
        inbox.requests.push(Held { incoming, consumed: false, responder: None });
        drop(st);
        shared.arrived.notify_waiters();
        return Admitted::Now(ans);
    }
    let (tx, rx) = oneshot::channel();
    inbox.requests.push(Held { incoming, consumed: false, responder: Some(tx) });
    let trace = inbox.trace.clone();
    drop(st);
    shared.arrived.notify_waiters();
    Admitted::Held(rx, trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(url: &str) -> Routes {
        Routes::new(Some(url), "127.0.0.1:8700".parse().unwrap()).unwrap()
    }

    #[test]
    fn the_dm_endpoint_is_the_exact_path_and_the_others_are_under_it() {
        let r = routes("http://localhost:9988/path");
        assert_eq!(r.route("/path"), Some(("dm".into(), "".into())));
        assert_eq!(r.route("/path/repo/obj"), Some(("repo".into(), "/obj".into())));
        assert_eq!(r.route("/path/cont"), Some(("cont".into(), "".into())));
        assert_eq!(r.route("/path/notify"), Some(("notify".into(), "".into())));
        for wrong in ["/", "/dm", "/path/", "/path/dm", "/pathx", "/path/unknown/x", "/repo/obj"] {
            assert_eq!(r.route(wrong), None, "{wrong}");
        }
        assert_eq!(r.endpoint_url("dm"), "http://localhost:9988/path");
        assert_eq!(r.endpoint_url("repo"), "http://localhost:9988/path/repo");
    }

    #[test]
    fn a_root_or_slash_ended_url() {
        let r = routes("http://10.0.0.5:80/");
        assert_eq!(r.server_url, "http://10.0.0.5/");
        assert_eq!(r.route("/"), Some(("dm".into(), "".into())));
        assert_eq!(r.route("/repo/x"), Some(("repo".into(), "/x".into())));
        assert_eq!(r.endpoint_url("repo"), "http://10.0.0.5/repo");
        let r = routes("http://h:1/oma/dm/");
        assert_eq!(r.route("/oma/dm/"), Some(("dm".into(), "".into())));
        assert_eq!(r.route("/oma/dm"), None);
        assert_eq!(r.route("/oma/dm/async/r1"), Some(("async".into(), "/r1".into())));
    }

    #[test]
    fn port_zero_is_the_bound_port_and_the_default_is_dm_under_the_bound_address() {
        assert_eq!(routes("http://127.0.0.1:0/x").server_url, "http://127.0.0.1:8700/x");
        let r = Routes::new(None, "127.0.0.1:8700".parse().unwrap()).unwrap();
        assert_eq!(r.server_url, "http://127.0.0.1:8700/dm");
        assert_eq!(pixit_server_url(None, Some("http://nat.example:81/")), Some("http://nat.example:81/dm".into()));
        assert_eq!(pixit_server_url(Some("http://a/b"), Some("http://c")), Some("http://a/b".into()));
        assert_eq!(pixit_server_url(None, None), None);
    }

    #[test]
    fn urls_that_cannot_be_served_say_why() {
        let bound: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for (url, why) in [
            ("dm", "not a URL"),
            ("ftp://h/dm", "http://"),
            ("http://h/dm?x=1", "query"),
            ("http://h/dm#f", "fragment"),
        ] {
            let e = Routes::new(Some(url), bound).unwrap_err().to_string();
            assert!(e.contains(url) && e.contains(why), "{url}: {e}");
        }
    }
}
