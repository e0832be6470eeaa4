//! The suite's own protocol peers. To test a DM client the suite plays DM server, data
//! repository, browser target and notification sender; to test a DM server it plays DM client
//! and notification listener. All HTTP the IUT sends to the suite lands in one [`listener`];
//! every HTTP body the suite reads from an IUT is bounded ([`http`]). [`endpoints`] lists
//! the addresses the IUT must be configured with.
pub mod download;
pub mod endpoints;
pub mod http;
pub mod listener;
pub mod notifier;

pub use listener::{HttpAnswer, Incoming, Listener};
