//! The case catalog (loader lands with the SCR registry).
pub mod check;
pub mod step;
pub use step::{Answer, Resource, Step};
