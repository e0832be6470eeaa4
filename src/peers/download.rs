//! The suite's download server (DLOTA, enablers digest §5): serves update packages and DLOTA
//! download descriptors, records every request, accepts the installNotify status report, and
//! injects the failures the failure-path cases need.
//!
//! - **Objects** (packages) have a configured name (their path), size, media type and seed.
//!   Their content is generated deterministically from the seed, chunk by chunk, as it is sent:
//!   a 64 MiB package is never held in memory. Its SHA-256 is computed the same way (streamed)
//!   and known in advance ([`DownloadServer::sha256`]). `Range: bytes=a-b` is honoured (206),
//!   since any offset can be generated directly.
//! - **Descriptors** (DD 1.0 XML, `application/vnd.oma.dd+xml`) name an object; `objectURI` and
//!   `installNotifyURI` point back at this server, `installParam` carries `sha256=<hex>` of the
//!   object (the reference client checks it; docs/fumo-scomo.md).
//! - **installNotify**: `POST /notify/<descriptor>`; the body is parsed as a DLOTA status report
//!   (900-954) and recorded, parsed or not; the answer is 200.
//! - **Failures** per object or descriptor: `not-found` (404), `truncate` (the body stops after
//!   N bytes although Content-Length promised more), `wrong-media-type`, a descriptor whose
//!   `size` or `type` differs from the object's, `slow` (a pause before each chunk, bounded in
//!   total by [`MAX_SLOW_TOTAL`]).
//!
//! Everything is loopback HTTP (axum); every request is recorded with method, path and Range.
use crate::wire::dm2::fumo::{DownloadDescriptor, StatusReport, MEDIA_DD};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Size of one generated chunk.
pub const CHUNK: usize = 64 * 1024;
/// The most a `slow` failure may delay one response in total.
pub const MAX_SLOW_TOTAL: Duration = Duration::from_secs(10);
/// Longest installNotify body kept.
const MAX_REPORT_BYTES: usize = 4096;

/// A failure injected into one object's or descriptor's answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Failure {
    /// 404 Not Found.
    NotFound,
    /// The body ends after `after` bytes; Content-Length still says the full size.
    Truncate { after: u64 },
    /// The object is served with this media type instead of its own.
    WrongMediaType { media_type: String },
    /// A pause of `chunk_delay_ms` before each chunk (bounded by [`MAX_SLOW_TOTAL`]).
    Slow { chunk_delay_ms: u64 },
}

/// One package the server serves at `/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    pub name: String,
    pub size: u64,
    #[serde(default = "octet_stream")]
    pub media_type: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub failure: Option<Failure>,
}

fn octet_stream() -> String {
    "application/octet-stream".into()
}

/// One download descriptor the server serves at `/<name>`, describing object `object`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptorSpec {
    pub name: String,
    pub object: String,
    /// Written into the DD's `size` instead of the object's (a wrong size).
    #[serde(default)]
    pub size: Option<u64>,
    /// Written into the DD's `type` instead of the object's media type.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Give `installNotifyURI` (default true).
    #[serde(default = "yes")]
    pub install_notify: bool,
    /// Give `installParam` `sha256=<hex>` (default true); `digest` overrides the value.
    #[serde(default = "yes")]
    pub install_param_digest: bool,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub failure: Option<Failure>,
}

fn yes() -> bool {
    true
}

/// What the server serves (PIXIT-shaped: a TOML table deserialises into it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadConfig {
    #[serde(default)]
    pub objects: Vec<ObjectSpec>,
    #[serde(default)]
    pub descriptors: Vec<DescriptorSpec>,
}

impl DownloadConfig {
    /// What is wrong with it, in words: names unique path segments (not `notify`), every
    /// descriptor naming a configured object.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let names = self.objects.iter().map(|o| &o.name).chain(self.descriptors.iter().map(|d| &d.name));
        for n in names {
            if n.is_empty() || n.contains('/') || n == "notify" {
                out.push(format!("download name {n:?}: one path segment, not `notify`"));
            }
            if !seen.insert(n.clone()) {
                out.push(format!("download name {n:?} is given twice"));
            }
        }
        for d in &self.descriptors {
            if !self.objects.iter().any(|o| o.name == d.object) {
                out.push(format!(
                    "descriptor {:?} names object {:?}, which is not among the objects",
                    d.name, d.object
                ));
            }
        }
        out
    }
}

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The `Range` header, as sent.
    pub range: Option<String>,
    pub status: u16,
}

/// One installNotify POST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub descriptor: String,
    pub body: String,
    /// The parsed report, or why it is not one.
    pub parsed: Result<StatusReport, String>,
}

/// The deterministic content of an object: chunk `i` is a splitmix64 stream seeded by
/// `seed` and `i`, so any byte range is generated without the bytes before it.
pub fn chunk(seed: u64, index: u64, len: usize) -> Vec<u8> {
    let mut x = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The bytes `[start, end)` of an object of `size` bytes, chunk by chunk.
fn pieces(seed: u64, size: u64, start: u64, end: u64) -> impl Iterator<Item = Bytes> {
    let end = end.min(size);
    let first = start / CHUNK as u64;
    let last = if end == 0 { 0 } else { (end - 1) / CHUNK as u64 + 1 };
    (first..last).filter_map(move |i| {
        let c0 = i * CHUNK as u64;
        let len = (size - c0).min(CHUNK as u64) as usize;
        let data = chunk(seed, i, len);
        let lo = start.saturating_sub(c0) as usize;
        let hi = (end - c0).min(len as u64) as usize;
        (lo < hi).then(|| Bytes::copy_from_slice(&data[lo..hi]))
    })
}

/// SHA-256 of an object's content (streamed).
pub fn sha256_of(seed: u64, size: u64) -> String {
    let mut h = Sha256::new();
    for p in pieces(seed, size, 0, size) {
        h.update(&p);
    }
    hex::encode(h.finalize())
}

struct Shared {
    config: DownloadConfig,
    base: String,
    digests: Mutex<BTreeMap<String, String>>,
    requests: Mutex<Vec<Recorded>>,
    reports: Mutex<Vec<Report>>,
    /// Woken at every recorded request, so a case waits for one instead of polling.
    arrived: tokio::sync::Notify,
}

impl Shared {
    fn object(&self, name: &str) -> Option<&ObjectSpec> {
        self.config.objects.iter().find(|o| o.name == name)
    }

    fn digest(&self, o: &ObjectSpec) -> String {
        if let Some(d) = lock(&self.digests).get(&o.name) {
            return d.clone();
        }
        let d = sha256_of(o.seed, o.size);
        lock(&self.digests).insert(o.name.clone(), d.clone());
        d
    }

    fn record(&self, method: &Method, path: &str, headers: &HeaderMap, status: u16) {
        let range = headers.get("range").and_then(|v| v.to_str().ok()).map(str::to_string);
        lock(&self.requests).push(Recorded { method: method.to_string(), path: path.to_string(), range, status });
        self.arrived.notify_waiters();
    }

    fn descriptor_xml(&self, d: &DescriptorSpec) -> Option<String> {
        let o = self.object(&d.object)?;
        let digest = d.digest.clone().unwrap_or_else(|| self.digest(o));
        let dd = DownloadDescriptor {
            dd_version: Some("1.0".into()),
            name: Some(d.object.clone()),
            types: vec![d.media_type.clone().unwrap_or_else(|| o.media_type.clone())],
            size: d.size.unwrap_or(o.size),
            object_uri: format!("{}/{}", self.base, o.name),
            install_notify_uri: d.install_notify.then(|| format!("{}/notify/{}", self.base, d.name)),
            vendor: Some("dmcts".into()),
            install_param: d.install_param_digest.then(|| format!("sha256={digest}")),
            ..Default::default()
        };
        Some(dd.to_xml())
    }
}

/// `Range: bytes=a-b` | `bytes=a-` | `bytes=-n` over `size` bytes; None: absent or not one
/// satisfiable range (then the whole object is served).
fn parse_range(h: Option<&str>, size: u64) -> Option<(u64, u64)> {
    let spec = h?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.saturating_add(1).min(size)),
    };
    (start < end && end <= size).then_some((start, end))
}

async fn get(State(sh): State<Arc<Shared>>, method: Method, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("/{name}");
    if let Some(d) = sh.config.descriptors.iter().find(|d| d.name == name) {
        if d.failure == Some(Failure::NotFound) {
            sh.record(&method, &path, &headers, 404);
            return StatusCode::NOT_FOUND.into_response();
        }
        let Some(xml) = sh.descriptor_xml(d) else {
            sh.record(&method, &path, &headers, 500);
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("descriptor {name} names no object")).into_response();
        };
        sh.record(&method, &path, &headers, 200);
        return ([("content-type", MEDIA_DD)], xml).into_response();
    }
    let Some(o) = sh.object(&name).cloned() else {
        sh.record(&method, &path, &headers, 404);
        return StatusCode::NOT_FOUND.into_response();
    };
    if o.failure == Some(Failure::NotFound) {
        sh.record(&method, &path, &headers, 404);
        return StatusCode::NOT_FOUND.into_response();
    }
    let media = match &o.failure {
        Some(Failure::WrongMediaType { media_type }) => media_type.clone(),
        _ => o.media_type.clone(),
    };
    let range = parse_range(headers.get("range").and_then(|v| v.to_str().ok()), o.size);
    let (start, end, status) = match range {
        Some((s, e)) => (s, e, StatusCode::PARTIAL_CONTENT),
        None => (0, o.size, StatusCode::OK),
    };
    sh.record(&method, &path, &headers, status.as_u16());
    let mut resp = Response::builder()
        .status(status)
        .header("content-type", media)
        .header("content-length", (end - start).to_string())
        .header("accept-ranges", "bytes");
    if range.is_some() {
        resp = resp.header("content-range", format!("bytes {start}-{}/{}", end - 1, o.size));
    }
    if method == Method::HEAD {
        return resp.body(Body::empty()).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    // The body is generated as it is sent; a truncation ends the stream with an error, so the
    // connection is cut short of Content-Length.
    let cut = match o.failure {
        Some(Failure::Truncate { after }) => Some(start + after),
        _ => None,
    };
    let delay = match o.failure {
        Some(Failure::Slow { chunk_delay_ms }) => Duration::from_millis(chunk_delay_ms),
        _ => Duration::ZERO,
    };
    let stop = cut.unwrap_or(end).min(end);
    let mut it = pieces(o.seed, o.size, start, stop);
    let truncated = cut.is_some_and(|c| c < end);
    let mut slept = Duration::ZERO;
    let stream = futures::stream::poll_fn(move |_| std::task::Poll::Ready(it.next()))
        .then(move |b| {
            let pause = if slept + delay <= MAX_SLOW_TOTAL { delay } else { Duration::ZERO };
            slept += pause;
            async move {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                Ok::<_, std::io::Error>(b)
            }
        })
        // Yield first, so what was sent is flushed before the connection is cut.
        .chain(futures::stream::iter(truncated.then_some(())).then(|_| async {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "truncated by the download server"))
        }));
    resp.body(Body::from_stream(stream)).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

use futures::StreamExt;

async fn notify(
    State(sh): State<Arc<Shared>>,
    method: Method,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    sh.record(&method, &format!("/notify/{name}"), &headers, 200);
    let kept = &body[..body.len().min(MAX_REPORT_BYTES)];
    lock(&sh.reports).push(Report {
        descriptor: name,
        body: String::from_utf8_lossy(kept).into_owned(),
        parsed: StatusReport::parse(kept),
    });
    sh.arrived.notify_waiters();
    StatusCode::OK
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running download server.
pub struct DownloadServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl DownloadServer {
    /// Serves `config` on `listen` (port 0: any free port).
    pub async fn spawn(listen: SocketAddr, config: DownloadConfig) -> anyhow::Result<DownloadServer> {
        Self::spawn_as(listen, None, config).await
    }

    /// Serves `config` on `listen`; its URLs (objectURI, installNotifyURI, [`Self::url`]) name
    /// `host` (the name the IUT reaches the suite by) with the bound port, or the bound address.
    pub async fn spawn_as(
        listen: SocketAddr,
        host: Option<&str>,
        config: DownloadConfig,
    ) -> anyhow::Result<DownloadServer> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let base = match host {
            Some(h) if h.contains(':') && !h.starts_with('[') => format!("http://[{h}]:{}", addr.port()),
            Some(h) => format!("http://{h}:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        let shared = Arc::new(Shared {
            config,
            base,
            digests: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(Vec::new()),
            reports: Mutex::new(Vec::new()),
            arrived: tokio::sync::Notify::new(),
        });
        let app = axum::Router::new()
            .route("/notify/{name}", axum::routing::post(notify))
            .route("/{name}", axum::routing::get(get).head(get))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(DownloadServer { addr, shared, stop, task })
    }

    /// The URL of an object or descriptor.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.shared.base)
    }

    /// The SHA-256 (hex) of an object's content.
    pub fn sha256(&self, object: &str) -> Option<String> {
        self.shared.object(object).map(|o| self.shared.digest(o))
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    pub fn reports(&self) -> Vec<Report> {
        lock(&self.shared.reports).clone()
    }

    /// The configuration it serves.
    pub fn config(&self) -> &DownloadConfig {
        &self.shared.config
    }

    /// Waits until `holds` is true of the server's log, at most `within`; whether it held.
    pub async fn wait_until(&self, within: Duration, holds: impl Fn(&DownloadServer) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if holds(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return holds(self);
            }
        }
    }

    /// What the server served and recorded, as the case language's checks read it:
    /// `objects` (name → size, media_type, sha256), `descriptors` (name → object), `requests`
    /// (method, path, range, status, in arrival order) and `reports` (the installNotify POSTs:
    /// descriptor, body, and code and phrase when the body parsed as a status report, else
    /// `error`).
    pub fn log_json(&self) -> serde_json::Value {
        use serde_json::json;
        let objects: serde_json::Map<String, serde_json::Value> = self
            .shared
            .config
            .objects
            .iter()
            .map(|o| {
                (o.name.clone(), json!({ "size": o.size, "media_type": o.media_type, "sha256": self.shared.digest(o) }))
            })
            .collect();
        let descriptors: serde_json::Map<String, serde_json::Value> =
            self.shared.config.descriptors.iter().map(|d| (d.name.clone(), json!({ "object": d.object }))).collect();
        let reports: Vec<serde_json::Value> = self
            .reports()
            .into_iter()
            .map(|r| match r.parsed {
                Ok(p) => json!({ "descriptor": r.descriptor, "body": r.body, "code": p.code, "phrase": p.phrase }),
                Err(e) => json!({ "descriptor": r.descriptor, "body": r.body, "error": e }),
            })
            .collect();
        json!({ "objects": objects, "descriptors": descriptors, "requests": self.requests(), "reports": reports })
    }

    /// Stops serving; an answer still streaming is cut off.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.abort();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_deterministic_and_any_range_matches_the_whole() {
        let whole: Vec<u8> = pieces(7, 200_000, 0, 200_000).flat_map(|b| b.to_vec()).collect();
        assert_eq!(whole.len(), 200_000);
        let again: Vec<u8> = pieces(7, 200_000, 0, 200_000).flat_map(|b| b.to_vec()).collect();
        assert_eq!(whole, again);
        let part: Vec<u8> = pieces(7, 200_000, 65_530, 131_080).flat_map(|b| b.to_vec()).collect();
        assert_eq!(part, whole[65_530..131_080]);
        assert_ne!(pieces(8, 16, 0, 16).next(), pieces(7, 16, 0, 16).next());
        assert_eq!(sha256_of(7, 200_000), hex::encode(Sha256::digest(&whole)));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Some((0, 10)));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Some((90, 100)));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Some((90, 100)));
        assert_eq!(parse_range(Some("bytes=100-"), 100), None);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), None);
        assert_eq!(parse_range(None, 100), None);
    }

    #[test]
    fn config_reads_from_toml() {
        let c: DownloadConfig = toml::from_str(
            "[[objects]]\nname = \"fw.bin\"\nsize = 1024\nfailure = { kind = \"truncate\", after = 10 }\n\
             [[descriptors]]\nname = \"fw.dd\"\nobject = \"fw.bin\"\nsize = 2048\n",
        )
        .unwrap();
        assert_eq!(c.objects[0].failure, Some(Failure::Truncate { after: 10 }));
        assert_eq!(c.descriptors[0].size, Some(2048));
        assert!(c.descriptors[0].install_notify);
        assert!(toml::from_str::<DownloadConfig>("[[objects]]\nname = \"x\"\nsize = 1\nbogus = 1\n").is_err());
    }

    #[test]
    fn a_case_download_config_names_its_problems() {
        let c: DownloadConfig = toml::from_str(
            "[[objects]]\nname = \"fw.bin\"\nsize = 1\n[[objects]]\nname = \"fw.bin\"\nsize = 2\n\
             [[descriptors]]\nname = \"notify\"\nobject = \"nope\"\n",
        )
        .unwrap();
        let p = c.problems().join("\n");
        assert!(p.contains("\"fw.bin\" is given twice"), "{p}");
        assert!(p.contains("\"notify\": one path segment"), "{p}");
        assert!(p.contains("names object \"nope\""), "{p}");
        assert!(DownloadConfig::default().problems().is_empty());
    }

    #[tokio::test]
    async fn urls_name_the_host_the_iut_reaches_the_suite_by() {
        let c = DownloadConfig {
            objects: vec![ObjectSpec { name: "o".into(), size: 3, media_type: octet_stream(), seed: 1, failure: None }],
            ..Default::default()
        };
        let s = DownloadServer::spawn_as("127.0.0.1:0".parse().unwrap(), Some("dut-lab.example"), c).await.unwrap();
        assert_eq!(s.url("o"), format!("http://dut-lab.example:{}/o", s.addr.port()));
        assert!(s.log_json()["objects"]["o"]["sha256"].as_str().is_some_and(|h| h.len() == 64));
        s.shutdown().await;
    }
}
