//! The fault catalog: every deliberate non-conformance a reference peer can be switched into.
use serde::Serialize;
use std::collections::BTreeSet;

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

impl PeerRole {
    /// The prefix of this role's fault names.
    pub fn prefix(self) -> &'static str {
        match self {
            PeerRole::Client => "client.",
            PeerRole::Server => "server.",
        }
    }

    fn faults(self) -> &'static [FaultInfo] {
        match self {
            PeerRole::Client => super::client::FAULTS,
            PeerRole::Server => super::server::FAULTS,
        }
    }
}

/// The faults a reference peer of one role is switched into, by short name (without prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveFaults(BTreeSet<String>);

impl ActiveFaults {
    /// Validates names (`<role>.x` or `x`); an unknown one is an error listing the valid ones.
    pub fn parse<I: IntoIterator<Item = S>, S: AsRef<str>>(role: PeerRole, names: I) -> anyhow::Result<ActiveFaults> {
        let prefix = role.prefix();
        let mut set = BTreeSet::new();
        for n in names {
            let n = n.as_ref();
            let full = if n.starts_with(prefix) { n.to_string() } else { format!("{prefix}{n}") };
            if !role.faults().iter().any(|f| f.name == full) {
                let valid: Vec<&str> = role.faults().iter().map(|f| f.name).collect();
                let role_name = prefix.trim_end_matches('.');
                anyhow::bail!("unknown reference {role_name} fault {n:?}; valid faults: {}", valid.join(", "));
            }
            set.insert(full[prefix.len()..].to_string());
        }
        Ok(ActiveFaults(set))
    }

    pub fn has(&self, short: &str) -> bool {
        self.0.contains(short)
    }
}
