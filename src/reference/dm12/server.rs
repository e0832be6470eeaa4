//! Reference DM 1.2 server (helper s12).
