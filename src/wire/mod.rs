//! Protocol codecs, one module per binding. Protocol specifics stay behind this module and
//! [`crate::peers`]: DM 2.0 (JSON) and SyncML DM 1.2 (XML, WBXML) side by side.
pub mod dm12;
pub mod dm2;
pub mod http_auth;
pub mod media;
