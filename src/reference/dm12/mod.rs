//! The bundled reference SyncML DM 1.2 peers (digest `dm12-protocol.md`): a client and a
//! server, driven by the upper-tester contract, with injectable faults.
pub mod client;
pub mod server;
