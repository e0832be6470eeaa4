//! The fault catalog: every deliberate non-conformance a reference peer can be switched into.
use crate::scr::Role;
use serde::Serialize;
use std::collections::BTreeSet;

/// One injectable fault (declared with [`fault!`](super::common::fault)).
#[derive(Debug, Clone, Serialize)]
pub struct FaultInfo {
    /// Stable name, e.g. `client.no-devid`; prefixed by the role.
    pub name: &'static str,
    pub role: Role,
    /// What the faulty peer does differently.
    pub description: &'static str,
    /// The SCR item(s) this fault violates.
    pub violates: &'static [&'static str],
}

/// The whole catalog, client faults first.
pub fn catalog() -> Vec<FaultInfo> {
    faults_of(Role::Client).into_iter().chain(faults_of(Role::Server)).cloned().collect()
}

/// Looks a fault up by name.
pub fn find(name: &str) -> Option<FaultInfo> {
    catalog().into_iter().find(|f| f.name == name)
}

/// The prefix of a role's fault names (`client.` / `server.`).
pub fn prefix(role: Role) -> &'static str {
    match role {
        Role::Client => "client.",
        Role::Server => "server.",
    }
}

/// The faults of the reference peer that speaks the binding family `family` (see
/// [`crate::binding::family_of`]) in `role`: a fault of one protocol's peer cannot change what a
/// case of another protocol sees, so attribution tests pair them by family. The reference
/// gateway's faults (GwMO, `super::gwmo`) reach only the GwMO gateway cases, which
/// tests/gwmo_attribution.rs pairs with them.
pub fn of_family(role: Role, family: &str) -> Vec<FaultInfo> {
    let faults: &[FaultInfo] = match (role, family) {
        (Role::Client, crate::binding::dm12::NAME_XML) => super::dm12::client::FAULTS,
        (Role::Server, crate::binding::dm12::NAME_XML) => super::dm12::server::FAULTS,
        (Role::Client, _) => super::client::FAULTS,
        (Role::Server, _) => super::server::FAULTS,
    };
    faults.to_vec()
}

fn faults_of(role: Role) -> Vec<&'static FaultInfo> {
    match role {
        Role::Client => {
            let gateways = super::gwmo::FAULTS.iter().chain(super::dm12::client::gateway::FAULTS);
            super::client::FAULTS.iter().chain(super::dm12::client::FAULTS).chain(gateways).collect()
        }
        Role::Server => super::server::FAULTS.iter().chain(super::dm12::server::FAULTS).collect(),
    }
}

/// The faults a reference peer of one role is switched into, by short name (without prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveFaults(BTreeSet<String>);

impl ActiveFaults {
    /// Validates names (`<role>.x` or `x`); an unknown one is an error listing the valid ones.
    pub fn parse<I: IntoIterator<Item = S>, S: AsRef<str>>(role: Role, names: I) -> anyhow::Result<ActiveFaults> {
        let prefix = prefix(role);
        let mut set = BTreeSet::new();
        for n in names {
            let n = n.as_ref();
            let full = if n.starts_with(prefix) { n.to_string() } else { format!("{prefix}{n}") };
            if !faults_of(role).iter().any(|f| f.name == full) {
                let valid: Vec<&str> = faults_of(role).iter().map(|f| f.name).collect();
                anyhow::bail!("unknown reference {role} fault {n:?}; valid faults: {}", valid.join(", "));
            }
            set.insert(full[prefix.len()..].to_string());
        }
        Ok(ActiveFaults(set))
    }

    pub fn has(&self, short: &str) -> bool {
        self.0.contains(short)
    }
}
