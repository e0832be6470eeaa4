//! Reference DM 2.0 server.
use super::faults::FaultInfo;

/// Faults the reference server can be switched into.
pub const FAULTS: &[FaultInfo] = &[];
