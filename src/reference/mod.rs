//! The bundled reference DM 2.0 client and server, driven by the upper-tester contract, with
//! switchable injected faults (each breaking one requirement) so that every case is shown to
//! pass on a correct peer and fail on an incorrect one.
pub mod client;
mod common;
pub use common::RunningPeer;
pub mod dm12;
pub mod faults;
mod gateway_record;
pub mod gwmo;
pub mod ics;
pub mod server;
pub mod ut_server;
