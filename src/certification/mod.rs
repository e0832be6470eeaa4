//! Tools for vendors and certification labs around a run's reports (docs/certification.md):
//! - [`expect`]: expected results (`dmcts run --expect FILE`): known defects and waivers, so
//!   the exit code counts only what is unexpected.
//! - [`diff`]: `dmcts diff A B`, what changed between two runs and whether B regresses.
//! - [`repeat`]: `dmcts run --repeat N`, cases whose verdict varies between repetitions.
//! - [`cert_bundle`]: `dmcts bundle`, the certification bundle: one archive of a run's
//!   reports with a SHA-256 manifest, and its verification. (Not [`crate::bundle`], which is
//!   the catalog built into the binary.)
pub mod cert_bundle;
pub mod diff;
pub mod expect;
pub mod repeat;
