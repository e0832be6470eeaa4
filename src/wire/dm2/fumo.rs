//! FUMO over DM 2.0 (enablers digest §2) and the DLOTA pieces it uses (§5): the operations and
//! their alert types, the ResultCode table, the State values and which final States agree with
//! a ResultCode, the download descriptor (DD) and the installNotify status report.
//!
//! The DM 2.0 forms the digest marks UNVERIFIED (alert-type strings, where Data carries the
//! ResultCode, the media type of package data, how the user answers) are `fumo_*` settings of
//! [`super::Profile`], read here.
use super::Profile;
use quick_xml::events::{BytesText, Event};
use std::fmt;

/// The FUMO MOID (digest §2.1, V FUMO-TS §10.1.1.1).
pub const MOID_FUMO: &str = "urn:oma:mo:oma-fumo:1.0";
/// Media type of a download descriptor (digest §5.2, V-impl S17, S31).
pub const MEDIA_DD: &str = "application/vnd.oma.dd+xml";
/// Namespace of the DD's `media` root (digest §5.2, V-impl S28, S19).
pub const DD_NAMESPACE: &str = "http://www.openmobilealliance.org/xmlns/dd";

/// The FUMO operations an EXEC starts (digest §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Download,
    Update,
    DownloadAndUpdate,
}

impl Operation {
    pub const ALL: [Operation; 3] = [Operation::Download, Operation::Update, Operation::DownloadAndUpdate];

    /// The operation node's name under `<x>`.
    pub fn node(self) -> &'static str {
        match self {
            Operation::Download => "Download",
            Operation::Update => "Update",
            Operation::DownloadAndUpdate => "DownloadAndUpdate",
        }
    }

    /// The operation whose node is `name`.
    pub fn from_node(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.node() == name)
    }

    /// The AlertType of the operation's result alert under `profile` (digest §2.5.1; the DM 2.0
    /// form is UNVERIFIED: profile `fumo_alert_type_*`).
    pub fn alert_type(self, profile: &Profile) -> &str {
        match self {
            Operation::Download => &profile.fumo_alert_type_download,
            Operation::Update => &profile.fumo_alert_type_update,
            Operation::DownloadAndUpdate => &profile.fumo_alert_type_download_and_update,
        }
    }

    /// The alert type FUMO itself defines for the operation's result (digest §2.5.1, V FUMO-TS
    /// §10.2.2.2): the string a SyncML DM 1.x client sends as the Generic Alert's Meta Type.
    pub fn oma_alert_type(self) -> &'static str {
        match self {
            Operation::Download => "org.openmobilealliance.dm.firmwareupdate.download",
            Operation::Update => "org.openmobilealliance.dm.firmwareupdate.update",
            Operation::DownloadAndUpdate => "org.openmobilealliance.dm.firmwareupdate.downloadandupdate",
        }
    }

    /// The operation whose FUMO-defined alert type is `t` (see [`Operation::oma_alert_type`]).
    pub fn from_oma_alert_type(t: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.oma_alert_type() == t)
    }

    /// The operation a result AlertType names under `profile`.
    pub fn from_alert_type(t: &str, profile: &Profile) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.alert_type(profile) == t)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.node())
    }
}

/// The FUMO ResultCodes the suite and the reference peers use by name (digest §2.6).
pub mod result {
    pub const SUCCESSFUL: u16 = 200;
    pub const USER_CANCELLED: u16 = 401;
    pub const CORRUPTED_PACKAGE: u16 = 402;
    pub const PACKAGE_NOT_ACCEPTABLE: u16 = 405;
    pub const UPDATE_FAILED: u16 = 410;
    pub const BAD_URL: u16 = 411;
    pub const DOWNLOAD_SERVER_UNAVAILABLE: u16 = 412;
    pub const DOWNLOAD_SERVER_ERROR: u16 = 500;
    pub const DOWNLOAD_OUT_OF_MEMORY: u16 = 501;
    pub const DOWNLOAD_NETWORK: u16 = 503;
}

/// Whether `code` is a value of the ResultCode table, ranges included (digest §2.6; 412 and
/// 500 kept per S5/S6).
pub fn is_result_code(code: i64) -> bool {
    matches!(code, 200 | 250..=299 | 400..=412 | 450..=499 | 500..=503 | 550..=599)
}

/// 2xx: success; 4xx and 5xx: a failure that ended the activity (digest §2.6).
pub fn is_success(code: i64) -> bool {
    (200..300).contains(&code)
}

/// The values of `<x>/State` (digest §2.3, V FUMO-TS §10.1.1.10).
pub mod state {
    pub const IDLE: u16 = 10;
    pub const DOWNLOAD_FAILED: u16 = 20;
    pub const DOWNLOAD_PROGRESSING: u16 = 30;
    pub const DOWNLOAD_COMPLETE: u16 = 40;
    pub const READY_TO_UPDATE: u16 = 50;
    pub const UPDATE_PROGRESSING: u16 = 60;
    pub const UPDATE_FAILED_HAVE_DATA: u16 = 70;
    pub const UPDATE_FAILED_NO_DATA: u16 = 80;
    pub const UPDATE_SUCCESSFUL_HAVE_DATA: u16 = 90;
    pub const UPDATE_SUCCESSFUL_NO_DATA: u16 = 100;
    pub const ALL: [u16; 10] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
}

/// How an operation ended, for the States that agree with it (digest §2.3, derived from the
/// definitions and fig 10.2; 10 is allowed throughout since clean-up may have run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// ResultCode 2xx of an update: 90, 100 or 10.
    Updated,
    /// An update that failed after the package was present: 70, 80 or 10.
    UpdateFailed,
    /// A download that failed: 20 or 10.
    DownloadFailed,
    /// A successful Download (not yet updated): 50, or the transient 40 (or 10 after clean-up).
    Downloaded,
    /// The package delivered by DM, waiting for EXEC Update: 50.
    Delivered,
}

impl Outcome {
    pub fn states(self) -> &'static [u16] {
        match self {
            Outcome::Updated => &[90, 100, 10],
            Outcome::UpdateFailed => &[70, 80, 10],
            Outcome::DownloadFailed => &[20, 10],
            Outcome::Downloaded => &[50, 40, 10],
            Outcome::Delivered => &[50],
        }
    }
}

/// The ResultCode of a result alert's Data under `profile` (`fumo_result_code_member`,
/// UNVERIFIED: the digest proposes `{"DM1x": 200}` from the TS's DCMO example). A bare integer
/// Data is read too when the member is empty.
pub fn result_code_of(data: Option<&serde_json::Value>, profile: &Profile) -> Option<i64> {
    let d = data?;
    let member = profile.fumo_result_code_member.as_str();
    if member.is_empty() {
        return d.as_i64();
    }
    d.get(member)?.as_i64()
}

/// The result alert Data carrying `code` under `profile`.
pub fn result_data(code: u16, profile: &Profile) -> serde_json::Value {
    let member = profile.fumo_result_code_member.as_str();
    if member.is_empty() {
        serde_json::json!(code)
    } else {
        serde_json::json!({ member: code })
    }
}

// ---- DLOTA ----

/// DLOTA 1.0 status codes of the installNotify report (digest §5.3).
pub const DLOTA_STATUS: &[(u16, &str)] = &[
    (900, "Success"),
    (901, "Insufficient memory"),
    (902, "User Cancelled"),
    (903, "Loss of Service"),
    (905, "Attribute mismatch"),
    (906, "Invalid descriptor"),
    (951, "Invalid DDVersion"),
    (952, "Device Aborted"),
    (953, "Non-Acceptable Content"),
    (954, "Loader Error"),
];

/// The text of a DLOTA status code.
pub fn dlota_text(code: u16) -> Option<&'static str> {
    DLOTA_STATUS.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// A parsed installNotify report: the body starts with a 3-digit status code, then a reason
/// phrase (digest §5.3, V-impl S17: `900 Success` and a line break).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusReport {
    pub code: u16,
    pub phrase: String,
    /// Whether the code is one of DLOTA's (900-954 as listed).
    pub known: bool,
}

impl StatusReport {
    pub fn parse(body: &[u8]) -> Result<StatusReport, String> {
        let text = std::str::from_utf8(body).map_err(|_| "the report is not UTF-8 text".to_string())?;
        let t = text.trim_start();
        let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() != 3 {
            return Err(format!("the report does not start with a 3-digit status code: {:?}", first_line(t)));
        }
        let code: u16 = digits.parse().map_err(|_| "unreadable code".to_string())?;
        let phrase = first_line(&t[3..]).trim().to_string();
        Ok(StatusReport { code, phrase, known: dlota_text(code).is_some() })
    }

    /// The body a download agent sends: `900 Success` and a line break.
    pub fn body(code: u16) -> String {
        format!("{code} {}\n", dlota_text(code).unwrap_or("Unknown"))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// A DLOTA 1.0 download descriptor (digest §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownloadDescriptor {
    /// `DDVersion`; absent means 1.0.
    pub dd_version: Option<String>,
    pub name: Option<String>,
    /// `type`, one per acceptable media type (required, may repeat).
    pub types: Vec<String>,
    /// `size` in bytes (required, > 0).
    pub size: u64,
    /// `objectURI` (required).
    pub object_uri: String,
    pub install_notify_uri: Option<String>,
    pub next_url: Option<String>,
    pub vendor: Option<String>,
    pub description: Option<String>,
    pub install_param: Option<String>,
}

/// Why a descriptor cannot be used, with the DLOTA status it leads to (906 or 951).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdError {
    pub status: u16,
    pub why: String,
}

impl fmt::Display for DdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {})", self.why, self.status, dlota_text(self.status).unwrap_or(""))
    }
}

impl DownloadDescriptor {
    /// The DD as XML, elements in the order of the digest's example.
    pub fn to_xml(&self) -> String {
        let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
        let el = |w: &mut quick_xml::Writer<Vec<u8>>, name: &str, text: &str| {
            // Writing into a Vec cannot fail.
            let _ = w.create_element(name).write_text_content(BytesText::new(text));
        };
        let _ = w.create_element("media").with_attribute(("xmlns", DD_NAMESPACE)).write_inner_content(|w| {
            if let Some(v) = &self.dd_version {
                el(w, "DDVersion", v);
            }
            if let Some(v) = &self.name {
                el(w, "name", v);
            }
            for t in &self.types {
                el(w, "type", t);
            }
            el(w, "size", &self.size.to_string());
            el(w, "objectURI", &self.object_uri);
            for (n, v) in [
                ("installNotifyURI", &self.install_notify_uri),
                ("nextURL", &self.next_url),
                ("vendor", &self.vendor),
                ("description", &self.description),
                ("installParam", &self.install_param),
            ] {
                if let Some(v) = v {
                    el(w, n, v);
                }
            }
            Ok::<_, std::io::Error>(())
        });
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&String::from_utf8_lossy(&w.into_inner()));
        out.push('\n');
        out
    }

    /// Parses a DD as a download agent does (digest §5.2, V-impl S17): root `media` in the DD
    /// namespace; `type`, `size` > 0 and `objectURI` required (else 906); a `DDVersion` not
    /// starting with `1.` gets 951. Unknown elements are ignored.
    pub fn parse(bytes: &[u8]) -> Result<DownloadDescriptor, DdError> {
        let invalid = |why: String| DdError { status: 906, why };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("the descriptor is not UTF-8".into()))?;
        // Text is trimmed per element at its end, not per event: spaces next to an entity stay.
        let mut r = quick_xml::Reader::from_str(text);
        let mut dd = DownloadDescriptor::default();
        let mut path: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut size_text: Option<String> = None;
        let mut root_seen = false;
        loop {
            let ev = r.read_event().map_err(|e| invalid(format!("not well-formed XML: {e}")))?;
            match ev {
                Event::Start(s) => {
                    let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                    if path.is_empty() {
                        if name != "media" {
                            return Err(invalid(format!("the root element is <{name}>, not <media>")));
                        }
                        let ns = s
                            .attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == b"xmlns")
                            .map(|a| String::from_utf8_lossy(&a.value).into_owned());
                        if ns.as_deref() != Some(DD_NAMESPACE) {
                            return Err(invalid(format!("<media> is not in the DD namespace {DD_NAMESPACE}")));
                        }
                        root_seen = true;
                    }
                    path.push(name);
                    current.clear();
                }
                Event::Text(t) => current.push_str(&t.decode().map_err(|e| invalid(e.to_string()))?),
                Event::CData(t) => current.push_str(&String::from_utf8_lossy(&t.into_inner())),
                Event::GeneralRef(g) => {
                    let raw = format!("&{};", g.decode().map_err(|e| invalid(e.to_string()))?);
                    let s = quick_xml::escape::unescape(&raw).map_err(|e| invalid(e.to_string()))?;
                    current.push_str(&s);
                }
                Event::End(_) => {
                    let name = path.pop().unwrap_or_default();
                    if path.len() == 1 {
                        let v = std::mem::take(&mut current).trim().to_string();
                        match name.as_str() {
                            "DDVersion" => dd.dd_version = Some(v),
                            "name" => dd.name = Some(v),
                            "type" => dd.types.push(v),
                            "size" => size_text = Some(v),
                            "objectURI" => dd.object_uri = v,
                            "installNotifyURI" => dd.install_notify_uri = Some(v),
                            "nextURL" => dd.next_url = Some(v),
                            "vendor" => dd.vendor = Some(v),
                            "description" => dd.description = Some(v),
                            "installParam" => dd.install_param = Some(v),
                            _ => {}
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !root_seen {
            return Err(invalid("no <media> element".into()));
        }
        if dd.types.is_empty() {
            return Err(invalid("no <type>".into()));
        }
        dd.size = match size_text.as_deref().map(str::parse::<u64>) {
            Some(Ok(n)) if n > 0 => n,
            Some(_) => return Err(invalid(format!("<size> is not a positive number: {:?}", size_text.unwrap()))),
            None => return Err(invalid("no <size>".into())),
        };
        if dd.object_uri.is_empty() {
            return Err(invalid("no <objectURI>".into()));
        }
        if let Some(v) = &dd.dd_version {
            if !v.starts_with("1.") {
                return Err(DdError { status: 951, why: format!("DDVersion {v:?} is not 1.x") });
            }
        }
        Ok(dd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dd() -> DownloadDescriptor {
        DownloadDescriptor {
            dd_version: Some("1.0".into()),
            name: Some("Firmware 2.1 & more".into()),
            types: vec!["application/octet-stream".into()],
            size: 1048576,
            object_uri: "http://dl.example.test/pkg/fw-2.1.bin".into(),
            install_notify_uri: Some("http://dl.example.test/notify/fw-2.1".into()),
            vendor: Some("ExampleCo".into()),
            description: Some("Delta <2.0> to 2.1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_descriptor_written_reads_back_the_same() {
        let xml = dd().to_xml();
        assert!(xml.contains("<media xmlns=\"http://www.openmobilealliance.org/xmlns/dd\">"), "{xml}");
        assert!(xml.contains("&amp; more"), "{xml}");
        assert_eq!(DownloadDescriptor::parse(xml.as_bytes()).unwrap(), dd());
    }

    #[test]
    fn invalid_descriptors_get_906_or_951() {
        let mut d = dd();
        d.object_uri.clear();
        assert_eq!(DownloadDescriptor::parse(d.to_xml().as_bytes()).unwrap_err().status, 906);
        let mut d = dd();
        d.dd_version = Some("2.0".into());
        assert_eq!(DownloadDescriptor::parse(d.to_xml().as_bytes()).unwrap_err().status, 951);
        let wrong_ns = "<media xmlns=\"urn:x\"><type>a/b</type><size>1</size><objectURI>u</objectURI></media>";
        assert_eq!(DownloadDescriptor::parse(wrong_ns.as_bytes()).unwrap_err().status, 906);
        assert_eq!(DownloadDescriptor::parse(b"<media").unwrap_err().status, 906);
        let zero = dd().to_xml().replace("<size>1048576</size>", "<size>0</size>");
        assert!(DownloadDescriptor::parse(zero.as_bytes()).unwrap_err().why.contains("size"));
    }

    #[test]
    fn status_reports_parse() {
        assert_eq!(
            StatusReport::parse(b"900 Success\n").unwrap(),
            StatusReport { code: 900, phrase: "Success".into(), known: true }
        );
        assert!(!StatusReport::parse(b"999 what").unwrap().known);
        assert!(StatusReport::parse(b"OK").is_err());
        assert_eq!(StatusReport::body(954), "954 Loader Error\n");
    }

    #[test]
    fn result_codes_and_states() {
        assert!(is_result_code(200) && is_result_code(412) && is_result_code(599) && !is_result_code(300));
        assert!(!is_result_code(413) && !is_result_code(504) && !is_result_code(600));
        assert!(is_success(250) && !is_success(401));
        let p = Profile::default();
        assert_eq!(result_code_of(Some(&result_data(402, &p)), &p), Some(402));
        assert_eq!(Operation::from_alert_type(Operation::Update.alert_type(&p), &p), Some(Operation::Update));
    }
}
