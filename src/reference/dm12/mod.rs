//! The reference SyncML DM 1.2 peers (digest `shared/spec/dm12-protocol.md`).
pub mod server;
