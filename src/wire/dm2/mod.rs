//! OMA DM 2.0 wire formats: Package#0 (binary notification), Package#1/#2/#3 (JSON), Generic
//! Alerts, ClientURI and the MO serialization.
//!
//! Points the spec digest marks UNVERIFIED are settings of [`profile::Profile`], never hard-coded.
pub mod cli;
pub mod client_uri;
pub mod fumo;
pub mod gwmo;
pub mod mo;
pub mod notification;
pub mod package;
pub mod profile;
pub mod scomo;

pub use cli::{decode_cli, encode_cli};
pub use client_uri::{ClientUri, ClientUriError, Instance, QueryField, ResolveError, Segment};
pub use mo::{MoInstance, MoNode, SerializedMo};
pub use notification::{DigestDiagnosis, Notification, NotificationError, NotificationFields, Tamper};
pub use package::{Command, GenericAlert, MoEntry, Package1, Package2, Package3, StatusEntry, WireError};
pub use profile::Profile;

/// Media type of Package#1 (client → server, session initiation).
pub const MEDIA_PACKAGE1: &str = "application/vnd.oma.dm.initiation+json";
/// Media type of Package#2 (server → client, commands).
pub const MEDIA_PACKAGE2: &str = "application/vnd.oma.dm.request+json";
/// Media type of Package#3 (client → server, statuses).
pub const MEDIA_PACKAGE3: &str = "application/vnd.oma.dm.response+json";
/// HTTP header carrying DevInfo/DevID on Package#1 and Package#3.
pub const HEADER_DEVID: &str = "OMADM-DevID";
/// HTTP header a server uses to advertise extra media types (spelling UNVERIFIED, profile default).
pub const HEADER_OMADM_ACCEPT: &str = "OMADM-Accept";

/// Session alert types of Package#1.
pub const ALERT_SERVER_INITIATED: &str = "urn:oma:at:dm:2.0:ServerInitiatedMgmt";
pub const ALERT_CLIENT_INITIATED: &str = "urn:oma:at:dm:2.0:ClientInitiatedMgmt";
pub const ALERT_BOOTSTRAP_COMPLETE: &str = "urn:oma:at:dm:2.0:BootstrapComplete";

/// The importance levels a Generic Alert's Mark may take (seed, Change 4).
pub const MARK_VALUES: [&str; 7] =
    ["fatal", "critical", "minor", "warning", "informational", "harmless", "indeterminate"];
