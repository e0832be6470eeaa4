//! Executes cases against an IUT and assigns verdicts. Every wait is bounded.
pub mod checks;
pub mod exec;
pub mod interrupt;
pub mod plan;
pub mod result;
pub mod run;
pub mod target;
pub mod template;
