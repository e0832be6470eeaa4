//! The fault catalog: every deliberate non-conformance a reference peer can be switched into.
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerRole {
    Client,
    Server,
}

/// One injectable fault.
#[derive(Debug, Clone, Serialize)]
pub struct FaultInfo {
    /// Stable name, e.g. `client.no-devid`; prefixed by the role.
    pub name: &'static str,
    pub role: PeerRole,
    /// What the faulty peer does differently.
    pub description: &'static str,
    /// The SCR item(s) this fault violates.
    pub violates: &'static [&'static str],
}

/// The whole catalog, client faults first.
pub fn catalog() -> Vec<FaultInfo> {
    super::client::FAULTS.iter().chain(super::server::FAULTS.iter()).cloned().collect()
}

/// Looks a fault up by name.
pub fn find(name: &str) -> Option<FaultInfo> {
    catalog().into_iter().find(|f| f.name == name)
}
