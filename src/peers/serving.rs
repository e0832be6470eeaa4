//! An axum app served on a bound listener until it is shut down: the suite's own peers (the
//! simulated End Devices, the download server) and the reference peers alike.
use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;

/// How long a shutdown lets in-flight requests finish before the server task is aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A peer's HTTP endpoints being served, until [`Listening::shutdown`].
pub struct Listening {
    /// The real listen address (port 0 resolved).
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    /// Binds the address a peer serves on (port 0: any free port).
    pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))
    }

    /// Serves `app` on `listener` on the current tokio runtime.
    pub fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> anyhow::Result<Listening> {
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Listening { addr, stop: Some(tx), task })
    }

    /// Serves `app` over HTTPS with `config` (handshakes as in the suite's listener).
    pub fn serve_tls(
        listener: tokio::net::TcpListener,
        app: axum::Router,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> anyhow::Result<Listening> {
        let addr = listener.local_addr()?;
        let incoming = crate::peers::tls::TlsIncoming::new(listener, config, std::sync::Arc::new(|_| {}))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(incoming, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Listening { addr, stop: Some(tx), task })
    }

    /// Stops accepting connections; requests in flight go on.
    pub fn stop_accepting(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Stops accepting, lets in-flight requests finish (bounded), then ends the server task.
    pub async fn shutdown(mut self) {
        self.stop_accepting();
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await;
        self.task.abort();
    }
}
