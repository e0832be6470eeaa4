//! One HTTP listener serving the suite's endpoints. The first path segment names the endpoint
//! (`/dm`, `/cont/...`, `/repo/...`, `/browser/...`, `/async/...`, `/notify`).
//!
//! Every request is recorded in arrival order in the current case's inbox and traced. A
//! request matching a static resource is answered at once; any other is held until a step
//! answers it, or the case ends (then 503), so a slow case never leaves an IUT hanging forever.
use crate::catalog::Resource;
use crate::trace::{body_for_trace, Trace, TraceEvent};
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// Upper bound on how long a request may be held unanswered (the case timeout ends it earlier).
const MAX_HOLD: Duration = Duration::from_secs(600);
/// Bodies larger than this are refused (413): no IUT may exhaust the suite's memory.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// A request body must arrive within this time (408 otherwise).
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

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
}

/// A request the IUT sent to the suite.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub seq: usize,
    pub endpoint: String,
    /// Path relative to the endpoint ("" or "/obj1").
    pub path: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Status already given (resources answer at once), if any.
    pub answered: Option<u16>,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct Held {
    incoming: Incoming,
    consumed: bool,
    responder: Option<oneshot::Sender<HttpAnswer>>,
}

struct CaseInbox {
    trace: Trace,
    resources: Vec<(Resource, HttpAnswer)>,
    requests: Vec<Held>,
}

struct Shared {
    state: Mutex<Option<CaseInbox>>,
    arrived: Notify,
}

/// The running listener.
pub struct Listener {
    addr: SocketAddr,
    base_url: String,
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

impl Listener {
    /// Binds `addr` (port 0 for an ephemeral port). `base_url` overrides the URL the IUT is
    /// told to use (e.g. behind NAT); default `http://<bound addr>`.
    pub async fn bind(addr: SocketAddr, base_url: Option<String>) -> std::io::Result<Listener> {
        let tcp = tokio::net::TcpListener::bind(addr).await?;
        let addr = tcp.local_addr()?;
        let shared = Arc::new(Shared { state: Mutex::new(None), arrived: Notify::new() });
        let s2 = shared.clone();
        let app = axum::Router::new().fallback(move |req: Request| handle(s2.clone(), req));
        let task = tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        let base_url = base_url.unwrap_or_else(|| format!("http://{addr}")).trim_end_matches('/').to_string();
        Ok(Listener { addr, base_url, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of an endpoint, e.g. `http://127.0.0.1:8700/dm`.
    pub fn endpoint_url(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.base_url)
    }

    /// Starts a case: a fresh inbox, the case's static resources, its trace.
    pub fn begin_case(&self, trace: Trace, resources: Vec<(Resource, HttpAnswer)>) {
        let old = self.lock().replace(CaseInbox { trace, resources, requests: Vec::new() });
        drop(old);
    }

    /// Ends a case: every request still held is answered 503.
    pub fn end_case(&self) {
        let inbox = self.lock().take();
        if let Some(inbox) = inbox {
            for h in inbox.requests {
                if let Some(tx) = h.responder {
                    inbox.trace.note(format!(
                        "case ended: {} {}{} answered 503",
                        h.incoming.method, h.incoming.endpoint, h.incoming.path
                    ));
                    let ans = HttpAnswer::status(503);
                    trace_response(&inbox.trace, &ans);
                    let _ = tx.send(ans);
                }
            }
        }
    }

    /// Takes the first unconsumed request at `endpoint` (and `path`, when given), waiting at
    /// most `timeout`.
    pub async fn take(&self, endpoint: &str, path: Option<&str>, timeout: Duration) -> Option<Taken> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(t) = self.try_take(endpoint, path) {
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.try_take(endpoint, path);
            }
        }
    }

    fn try_take(&self, endpoint: &str, path: Option<&str>) -> Option<Taken> {
        let mut g = self.lock();
        let inbox = g.as_mut()?;
        let h = inbox.requests.iter_mut().find(|h| {
            !h.consumed
                && (endpoint == "any" || h.incoming.endpoint == endpoint)
                && path.is_none_or(|p| h.incoming.path == p)
        })?;
        h.consumed = true;
        Some(Taken { incoming: h.incoming.clone(), responder: h.responder.take() })
    }

    /// Unconsumed requests at `endpoint` ("any" for all), without consuming them.
    pub fn pending(&self, endpoint: &str) -> Vec<Incoming> {
        let g = self.lock();
        g.as_ref()
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
        self.lock().as_ref().map_or(0, |i| i.requests.len())
    }

    /// Consumes the requests a resource already answered that arrived up to `seq` (inclusive),
    /// and returns them: they happened before a later point of the exchange (e.g. before the
    /// suite answered with END) and cannot break a silence that starts after it.
    pub fn settle_answered_through(&self, seq: usize) -> Vec<Incoming> {
        let mut g = self.lock();
        let Some(inbox) = g.as_mut() else { return Vec::new() };
        inbox
            .requests
            .iter_mut()
            .filter(|h| !h.consumed && h.incoming.seq <= seq && h.incoming.answered.is_some())
            .map(|h| {
                h.consumed = true;
                h.incoming.clone()
            })
            .collect()
    }

    /// Drops every request not yet taken by a step: held ones are answered 503. Returns them.
    /// Used after the IUT confirmed a `reset`: what it sent before belongs to its old state.
    pub fn drop_pending(&self) -> Vec<Incoming> {
        let mut g = self.lock();
        let Some(inbox) = g.as_mut() else { return Vec::new() };
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

    /// Answers a taken request (no-op for one a resource already answered). The answer is
    /// traced here, so it appears under the step that gave it.
    pub fn answer(&self, taken: Taken, answer: HttpAnswer) {
        if let Some(tx) = taken.responder {
            if let Some(inbox) = self.lock().as_ref() {
                trace_response(&inbox.trace, &answer);
            }
            let _ = tx.send(answer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CaseInbox>> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.end_case();
        self.task.abort();
    }
}

fn split_endpoint(path: &str) -> (String, String) {
    let p = path.trim_start_matches('/');
    match p.find('/') {
        Some(i) => (p[..i].to_string(), p[i..].to_string()),
        None => (p.to_string(), String::new()),
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

fn trace_response(trace: &Trace, a: &HttpAnswer) {
    trace.record(TraceEvent::HttpResponse {
        from: "suite".into(),
        to: "iut".into(),
        status: a.status,
        headers: a.headers.clone(),
        body: body_for_trace(&a.body),
    });
}

async fn handle(shared: Arc<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // A body too large, or one that stalls, is still recorded (with a marker instead of the
    // body), so the step waiting for it can say what the IUT sent.
    let (body, refused): (Bytes, Option<u16>) =
        match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(Ok(b)) => (b, None),
            Ok(Err(_)) => (Bytes::from(format!("[body refused: larger than {MAX_BODY} bytes]")), Some(413)),
            Err(_) => (Bytes::from(format!("[body incomplete after {} s]", BODY_TIMEOUT.as_secs())), Some(408)),
        };
    let (endpoint, path) = split_endpoint(parts.uri.path());
    let path = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut incoming = Incoming {
        seq: 0,
        endpoint,
        path,
        method: parts.method.as_str().to_string(),
        headers,
        body: body.to_vec(),
        answered: None,
    };
    let (rx, trace) = {
        let mut g = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(inbox) = g.as_mut() else {
            // Between cases nobody is listening: a late request from an earlier case.
            return (StatusCode::SERVICE_UNAVAILABLE, "no case is running").into_response();
        };
        incoming.seq = inbox.requests.len() + 1;
        inbox.trace.record(TraceEvent::HttpRequest {
            from: "iut".into(),
            to: "suite".into(),
            method: incoming.method.clone(),
            url: format!("/{}{}", incoming.endpoint, incoming.path),
            headers: incoming.headers.clone(),
            body: body_for_trace(&incoming.body),
        });
        // A notification listener needs no case-controlled answer: answering at once keeps a
        // server that waits for the delivery from blocking its own upper-tester answer.
        let auto = match refused {
            Some(code) => Some(HttpAnswer::status(code)),
            None => (incoming.endpoint == "notify").then(|| HttpAnswer::status(204)),
        };
        let resource = inbox.resources.iter().find(|(r, _)| resource_matches(r, &incoming)).map(|(_, a)| a.clone());
        if let Some(ans) = resource.or(auto) {
            incoming.answered = Some(ans.status);
            trace_response(&inbox.trace, &ans);
            inbox.requests.push(Held { incoming, consumed: false, responder: None });
            shared.arrived.notify_waiters();
            return to_response(ans);
        }
        let (tx, rx) = oneshot::channel();
        inbox.requests.push(Held { incoming, consumed: false, responder: Some(tx) });
        shared.arrived.notify_waiters();
        (rx, inbox.trace.clone())
    };
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
