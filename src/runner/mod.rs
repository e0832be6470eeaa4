//! Executes cases against an IUT and assigns verdicts. Every wait is bounded.
pub mod checks;
pub mod result;
pub mod template;
