//! Executes cases against an IUT and assigns verdicts. Every wait is bounded.
//!
//! - [`run`]: a selection of cases as trials; [`target`]: what a run is pointed at;
//!   [`plan`]: applicability before any traffic;
//! - [`exec`]: the step loop of one case; [`ctx`]: its state; [`steps`]: one module per step
//!   kind; [`checks`]: the checks steps apply; [`template`]: `${...}` in case data;
//! - [`console`]: the result lines; [`progress`]: the terminal's line saying what a step awaits.
pub mod checks;
pub mod console;
pub mod ctx;
pub mod exec;
pub mod interrupt;
pub mod plan;
pub mod progress;
pub mod result;
pub mod run;
pub mod steps;
pub mod target;
pub mod template;
