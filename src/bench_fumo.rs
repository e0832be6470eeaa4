//! One FUMO DownloadAndUpdate end to end, for `dmcts bench` and the download-server tests: the
//! reference client's firmware update agent downloads a generated package through a download
//! descriptor from the suite's download server ([`crate::peers::download`]), installs it and
//! reports the result in a new session. A minimal DM server drives it: Package#2 with the HGET
//! of DownloadAndUpdate/PkgURL and the EXEC (with a ServerURI), END, and the result session.
//!
//! The package is generated and streamed on both sides, so memory stays bounded whatever its
//! size; [`Measured::peak_rss_kib`] is the process's VmHWM after the peak was reset
//! (`/proc/self/clear_refs`), i.e. the peak of this run alone (suite, client and download
//! server share the process).
use crate::peers::download::{DescriptorSpec, DownloadConfig, DownloadServer, Failure, ObjectSpec, Recorded, Report};
use crate::reference::client::{self, ClientConfig};
use crate::upper_tester::{action, UtRequest};
use crate::wire::dm2::fumo::{self, MOID_FUMO};
use crate::wire::dm2::MEDIA_PACKAGE2;
use axum::extract::State;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one run measured and saw.
#[derive(Debug, Clone)]
pub struct Measured {
    pub wall: Duration,
    /// VmHWM (KiB) of this process during the run; None where /proc is not available.
    pub peak_rss_kib: Option<u64>,
    /// The ResultCode the client reported, if a result alert came.
    pub result: Option<i64>,
    pub requests: Vec<Recorded>,
    pub reports: Vec<Report>,
    pub sha256: String,
}

/// How the download server misbehaves in a run.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub size: u64,
    pub object_failure: Option<Failure>,
    pub descriptor_size: Option<u64>,
    pub descriptor_type: Option<String>,
}

struct Stub {
    base: String,
    dd_url: String,
    p1_seen: Mutex<bool>,
    result: Mutex<Option<Value>>,
    done: tokio::sync::Notify,
}

const FW: &str = "urn:oma:mo:oma-fumo:1.0/fw-main";

fn p2(cmds: Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    ([("content-type", MEDIA_PACKAGE2)], json!({ "CMD": cmds }).to_string()).into_response()
}

async fn dm(State(s): State<Arc<Stub>>) -> axum::response::Response {
    let first = {
        let mut seen = s.p1_seen.lock().unwrap_or_else(|p| p.into_inner());
        !std::mem::replace(&mut *seen, true)
    };
    if first {
        p2(json!([
            ["HGET", format!("{}/pkgurl", s.base), format!("{FW}/DownloadAndUpdate/PkgURL")],
            ["EXEC", format!("{FW}/DownloadAndUpdate"), format!("{}/async", s.base)],
        ]))
    } else {
        p2(json!([["END"]]))
    }
}

async fn pkgurl(State(s): State<Arc<Stub>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = json!([{ "ClientURI": format!("{FW}/DownloadAndUpdate/PkgURL"), "MOData": { "PkgURL": s.dd_url } }]);
    ([("content-type", "application/json")], body.to_string()).into_response()
}

async fn result(State(s): State<Arc<Stub>>, body: axum::body::Bytes) -> axum::response::Response {
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        if v.get("Alert").is_some() {
            *s.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
            s.done.notify_waiters();
        }
    }
    p2(json!([["END"]]))
}

/// Resets this process's peak RSS (Linux: writing 5 to clear_refs), so VmHWM measures what
/// follows.
pub(crate) fn reset_peak() {
    // Heap an earlier measurement freed goes back to the system first, so that it does not
    // count in this one's peak.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's allocator; it takes no pointer.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM of this process, KiB.
pub fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Runs one DownloadAndUpdate of a `setup.size`-byte package, bounded by `limit`.
pub async fn download_and_update(setup: Setup, limit: Duration) -> anyhow::Result<Measured> {
    let config = DownloadConfig {
        objects: vec![ObjectSpec {
            name: "fw.bin".into(),
            size: setup.size,
            media_type: "application/octet-stream".into(),
            seed: 42,
            failure: setup.object_failure.clone(),
        }],
        descriptors: vec![DescriptorSpec {
            name: "fw.dd".into(),
            object: "fw.bin".into(),
            size: setup.descriptor_size,
            media_type: setup.descriptor_type.clone(),
            install_notify: true,
            install_param_digest: true,
            digest: None,
            failure: None,
        }],
    };
    let dl = DownloadServer::spawn(SocketAddr::from(([127, 0, 0, 1], 0)), config).await?;
    let sha256 = dl.sha256("fw.bin").unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stub = Arc::new(Stub {
        base: base.clone(),
        dd_url: dl.url("fw.dd"),
        p1_seen: Mutex::new(false),
        result: Mutex::new(None),
        done: tokio::sync::Notify::new(),
    });
    let app = axum::Router::new()
        .route("/dm", axum::routing::post(dm))
        .route("/pkgurl", axum::routing::get(pkgurl))
        .route("/async", axum::routing::post(result))
        .with_state(stub.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut cfg = ClientConfig::new(format!("{base}/dm"));
    cfg.http_timeout = limit;
    let cli = client::spawn(cfg).await?;
    reset_peak();
    let t = Instant::now();
    let done = stub.done.notified();
    tokio::pin!(done);
    done.as_mut().enable();
    cli.ut(UtRequest { action: action::SESSION_START.into(), case: "bench".into(), step: 1, args: json!({}) }).await;
    let finished = tokio::time::timeout(limit, done).await.is_ok();
    let wall = t.elapsed();
    let peak = vm_hwm_kib();
    let profile = crate::wire::dm2::Profile::default();
    let result = stub.result.lock().unwrap_or_else(|p| p.into_inner()).clone().and_then(|p1| {
        p1["Alert"].as_array()?.iter().find_map(|a| {
            let src = a.get("SourceURI")?.as_str()?;
            src.starts_with(MOID_FUMO).then(|| fumo::result_code_of(a.get("Data"), &profile)).flatten()
        })
    });
    // Let the installNotify land (it precedes the result session) before reading the records.
    let requests = dl.requests();
    let reports = dl.reports();
    cli.shutdown().await;
    dl.shutdown().await;
    server.abort();
    if !finished {
        anyhow::bail!("no result alert within {limit:?}");
    }
    Ok(Measured { wall, peak_rss_kib: peak, result, requests, reports, sha256 })
}

/// The `dmcts bench` line for a 64 MiB DownloadAndUpdate.
pub fn bench_line(rt: &tokio::runtime::Runtime) -> String {
    const SIZE: u64 = 64 * 1024 * 1024;
    let before = vm_hwm_kib();
    match rt.block_on(download_and_update(Setup { size: SIZE, ..Setup::default() }, Duration::from_secs(300))) {
        Ok(m) => format!(
            "FUMO DownloadAndUpdate, 64 MiB package via a descriptor (download server -> reference client, \
             streamed): {:.2} s, ResultCode {}, peak RSS (VmHWM, whole process) {} (process peak before: {})\n",
            m.wall.as_secs_f64(),
            m.result.map(|r| r.to_string()).unwrap_or("none".into()),
            m.peak_rss_kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or("n/a".into()),
            before.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or("n/a".into()),
        ),
        Err(e) => format!("FUMO DownloadAndUpdate, 64 MiB: FAILED: {e}\n"),
    }
}
