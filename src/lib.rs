//! dmcts — open conformance test suite for OMA Device Management.
//!
//! The module tree is the architecture:
//! - [`bundle`]: where the catalog comes from — built into the binary, or a directory.
//! - [`scr`]: Static Conformance Requirement tables (`scr/*.toml`) and their dependency expressions.
//! - [`ics`]: the vendor's Implementation Conformance Statement, its PIXIT parameters, and
//!   applicability of SCR items and cases.
//! - [`catalog`]: test cases (`cases/**/*.toml`): steps, checks, validation.
//! - [`binding`]: protocol bindings (DM 2.0 today): messages, built-in checks, profile.
//! - [`wire`]: protocol codecs, one sub-module per protocol.
//! - [`upper_tester`]: the one way the suite makes an IUT do what only its own side can start.
//! - [`peers`]: the suite's own protocol peers (DM server endpoints, DM client, notification sender).
//! - [`runner`]: executes cases, assigns verdicts, bounds every wait.
//! - [`report`]: JUnit, coverage, run.json and per-case traces.
//! - [`reference`]: the bundled reference DM client and server, with injected faults.
//! - [`certification`]: expected results, diff of runs, repeated runs, certification bundles.
//! - [`testfest`]: many IUTs at once, a live page, interop pairs (`dmcts testfest`).
pub mod bench;
pub mod bench_fumo;
pub mod bench_gwmo;
pub mod binding;
pub mod bundle;
pub mod catalog;
pub mod certification;
pub mod ics;
pub mod peers;
pub mod reference;
pub mod report;
pub mod runner;
pub mod scr;
pub mod selftest;
pub mod testfest;
pub mod trace;
pub mod upper_tester;
pub mod verdict;
pub mod wire;

/// Version of the suite, embedded in every report.
pub const SUITE_VERSION: &str = env!("CARGO_PKG_VERSION");
