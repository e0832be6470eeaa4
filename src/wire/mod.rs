//! Protocol codecs, one module per binding. Protocol specifics stay behind this module and
//! [`crate::peers`] so that a SyncML DM 1.2 binding can be added beside DM 2.0.
pub mod dm2;
pub mod http_auth;
pub mod media;
