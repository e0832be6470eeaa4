//! The suite's own protocol peers. To test a DM client the suite plays DM server, data
//! repository, browser target and notification sender; to test a DM server it plays DM client
//! and notification listener. All HTTP the IUT sends to the suite lands in one [`listener`];
//! every HTTP body the suite reads from an IUT is bounded ([`http`]). [`endpoints`] lists
//! the addresses the IUT must be configured with.
pub mod download;
pub mod end_devices;
pub mod endpoints;
pub mod http;
pub mod listener;
pub mod notifier;
pub mod serving;
pub mod tls;

pub use listener::{HttpAnswer, Incoming, Listener};

/// A loopback port nothing listens on now, for a process that binds it itself (the `dmcts`
/// process a test or the bench starts on an ICS). Chosen below the kernel's ephemeral range
/// (Linux: 32768–60999), where `bind(:0)` never hands ports out: a port taken from `:0` and
/// released may be handed straight to the next `:0` bind (another peer of the same test), and
/// the process that meant to bind it finds it in use.
pub fn free_loopback_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    for _ in 0..2_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + ((seed.wrapping_add(n.wrapping_mul(7_919))) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    // Everything tried is taken: fall back to the kernel's choice.
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}
