//! Executes cases against an IUT and assigns verdicts. Every wait is bounded.
pub mod result;
