//! Plumbing both reference peers share: poison-tolerant locking, the exchange log, bounded
//! waits, the HTTP listener with graceful shutdown, the outgoing HTTP client, profile files,
//! the CLI loop, and the [`fault!`] macro that names a fault after its peer's role.
use super::faults::FaultInfo;
use crate::wire::dm2::Profile;
use anyhow::Context;
use std::future::Future;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Declares one [`FaultInfo`](crate::reference::faults::FaultInfo) of a reference peer:
/// `fault!(Client, "devid-missing", "what it does", ["DM-PACK-011-C-M"])`. The name gets the
/// role's prefix (`client.` / `server.`).
macro_rules! fault {
    (Client, $($rest:tt)+) => { $crate::reference::common::fault!(@ Client, "client.", $($rest)+) };
    (Server, $($rest:tt)+) => { $crate::reference::common::fault!(@ Server, "server.", $($rest)+) };
    (@ $role:ident, $prefix:literal, $name:literal, $desc:expr, [$($scr:literal),+ $(,)?]) => {
        $crate::reference::faults::FaultInfo {
            name: concat!($prefix, $name),
            role: $crate::scr::Role::$role,
            description: $desc,
            violates: &[$($scr),+],
        }
    };
}
pub(crate) use fault;

/// Locks `m` even if a panic elsewhere poisoned it: a peer must not wedge on one bad request.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The exchange log a peer keeps (and, in CLI mode, echoes to stderr).
pub(crate) struct ExchangeLog {
    /// `Some(prefix)`: every line is also printed to stderr after `[prefix] `.
    echo: Option<&'static str>,
    lines: Mutex<Vec<String>>,
}

impl ExchangeLog {
    pub fn new(echo: Option<&'static str>) -> ExchangeLog {
        ExchangeLog { echo, lines: Mutex::new(Vec::new()) }
    }

    pub fn push(&self, line: String) {
        if let Some(prefix) = self.echo {
            eprintln!("[{prefix}] {line}");
        }
        lock(&self.lines).push(line);
    }

    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }
}

/// Polls `cond` every 10 ms until it holds (true) or `limit` has passed (false).
pub(crate) async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Seconds since the POSIX epoch (0 if the clock is before it).
pub(crate) fn posix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The HTTP client a peer sends its own traffic with: never through a proxy, every request
/// bounded by `timeout`, connecting bounded by `connect_timeout`.
#[allow(dead_code)] // the peers build theirs with `http_client_tls`; kept for new peers
pub(crate) fn http_client(timeout: Duration, connect_timeout: Duration) -> anyhow::Result<reqwest::Client> {
    http_client_tls(timeout, connect_timeout, None)
}

/// As [`http_client`], trusting (and presenting) what `tls` says for HTTPS.
pub(crate) fn http_client_tls(
    timeout: Duration,
    connect_timeout: Duration,
    tls: Option<&crate::peers::tls::ClientTls>,
) -> anyhow::Result<reqwest::Client> {
    let b = reqwest::Client::builder();
    let b = match tls {
        Some(t) => t.apply(b).context("configuring HTTPS")?,
        None => b,
    };
    b.no_proxy().timeout(timeout).connect_timeout(connect_timeout).build().context("building the HTTP client")
}

pub(crate) use crate::peers::serving::Listening;

/// Reads a DM 2.0 profile TOML file (`--profile`).
pub(crate) fn read_profile(path: &Path) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}: not a DM 2.0 profile", path.display()))
}

/// `--list-faults`: one line per fault, the name padded to `width`.
pub(crate) fn print_faults(faults: &[FaultInfo], width: usize) {
    for f in faults {
        println!("{:width$} {} [{}]", f.name, f.description, f.violates.join(", "));
    }
}

/// CLI mode: runs until Ctrl-C, then awaits `shutdown`.
pub(crate) async fn until_ctrl_c(shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    shutdown.await;
    Ok(())
}

/// A running reference peer: what it serves, its background worker, its upper tester and its
/// exchange log, and the addresses its kind publishes (`U`, read through `Deref`:
/// `peer.ut_url`). Every peer stops the same way ([`RunningPeer::shutdown`]).
pub struct RunningPeer<U> {
    urls: U,
    ut: super::ut_server::UtHandler,
    log: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    listening: Vec<Listening>,
    worker: Option<tokio::task::JoinHandle<()>>,
    on_stop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl<U> RunningPeer<U> {
    /// A peer serving `listening` (the first is its main listener), answering its upper tester
    /// with `ut` and showing its exchange log through `log`.
    pub(crate) fn new(
        urls: U,
        ut: super::ut_server::UtHandler,
        log: impl Fn() -> Vec<String> + Send + Sync + 'static,
        listening: Vec<Listening>,
    ) -> RunningPeer<U> {
        RunningPeer { urls, ut, log: Box::new(log), listening, worker: None, on_stop: None }
    }

    /// Its background worker, aborted on shutdown, after which `on_stop` runs (e.g. a reset
    /// that cancels the sessions still running).
    pub(crate) fn with_worker(
        mut self,
        worker: tokio::task::JoinHandle<()>,
        on_stop: impl FnOnce() + Send + Sync + 'static,
    ) -> RunningPeer<U> {
        self.worker = Some(worker);
        self.on_stop = Some(Box::new(on_stop));
        self
    }

    /// The exchange log so far.
    pub fn log(&self) -> Vec<String> {
        (self.log)()
    }

    /// The upper tester, in process (same behaviour as `POST /ut`).
    pub async fn ut(&self, req: crate::upper_tester::UtRequest) -> crate::upper_tester::UtAnswer {
        (self.ut)(req).await
    }

    /// Stops accepting, cancels the worker and what it runs, then lets in-flight requests
    /// finish (bounded) and stops serving.
    pub async fn shutdown(mut self) {
        self.listening.iter_mut().for_each(Listening::stop_accepting);
        if let Some(w) = self.worker.take() {
            w.abort();
        }
        if let Some(f) = self.on_stop.take() {
            f();
        }
        for l in self.listening {
            l.shutdown().await;
        }
    }
}

impl<U> std::ops::Deref for RunningPeer<U> {
    type Target = U;
    fn deref(&self) -> &U {
        &self.urls
    }
}
