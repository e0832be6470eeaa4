//! Reference DM 2.0 client.
use super::faults::FaultInfo;

/// Faults the reference client can be switched into.
pub const FAULTS: &[FaultInfo] = &[];
