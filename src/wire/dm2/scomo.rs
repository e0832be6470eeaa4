//! SCOMO over DM 2.0: the MO identifier, node names of its tree (digest §3.2), State values
//! (§3.3), ResultCodes (§3.5) and the result alert's Data in the profile's form (§3.4; the
//! DM 2.0 form is UNVERIFIED: profile `scomo_result_data`).
use super::profile::{Profile, ScomoResultData};
use serde_json::{json, Value};

/// The SCOMO 1.0 MOID (digest §3.1, V S2).
pub const MOID: &str = "urn:oma:mo:oma-scomo:1.0";

/// Operations of a package waiting in `Download/<x>` (digest §3.2).
pub const DOWNLOAD_OPS: [&str; 3] = ["Download", "DownloadInstall", "DownloadInstallInactive"];
/// Operations of a delivered package `Inventory/Delivered/<x>`.
pub const DELIVERED_OPS: [&str; 3] = ["Install", "InstallInactive", "Remove"];
/// Operations of a deployed component `Inventory/Deployed/<x>`.
pub const DEPLOYED_OPS: [&str; 3] = ["Activate", "Deactivate", "Remove"];

/// `Inventory/Delivered/<x>/State` (digest §3.3).
pub const DP_DELIVERED: &str = "10";
pub const DP_INSTALLED: &str = "20";
/// `Inventory/Deployed/<x>/State` (digest §3.3).
pub const DC_INACTIVE: &str = "10";
pub const DC_ACTIVE: &str = "20";

/// ResultCodes (digest §3.5, V S10).
pub const RC_SUCCESS: u16 = 1200;
pub const RC_USER_CANCELLED: u16 = 1401;
pub const RC_DOWNLOAD_FAILED: u16 = 1402;
pub const RC_DOWNLOAD_NO_MEMORY: u16 = 1404;
pub const RC_INSTALL_FAILED: u16 = 1405;
pub const RC_VALIDATION_FAILED: u16 = 1407;
pub const RC_REMOVE_FAILED: u16 = 1408;
pub const RC_ACTIVATE_FAILED: u16 = 1409;
pub const RC_DEACTIVATE_FAILED: u16 = 1410;
pub const RC_UNDEFINED: u16 = 1412;
pub const RC_SERVER_ERROR: u16 = 1500;
pub const RC_SERVER_UNAVAILABLE: u16 = 1501;

/// Whether a ResultCode means success: 1200 and the vendor-specified 1250-1299 (digest §3.5).
pub fn is_success(code: u16) -> bool {
    code == RC_SUCCESS || (1250..=1299).contains(&code)
}

/// Whether a code is one the SCOMO ResultCode table defines or reserves (digest §3.5).
pub fn is_defined(code: u16) -> bool {
    is_success(code) || (1400..=1413).contains(&code) || (1450..=1501).contains(&code) || (1550..=1599).contains(&code)
}

/// Whether a code is one a failed download can give (digest §3.5): the client errors 1400-1404
/// (generic, user cancelled, download failed, authentication, no memory for the DP), 1412
/// Undefined, the vendor client errors and the alternate download server errors; not an
/// install, remove or activation failure, which a package never downloaded cannot have.
pub fn is_download_failure(code: u16) -> bool {
    (1400..=1404).contains(&code)
        || code == RC_UNDEFINED
        || (1450..=1499).contains(&code)
        || (1500..=1501).contains(&code)
        || (1550..=1599).contains(&code)
}

/// The DataType and Data of a result alert in the profile's form.
pub fn result_data(profile: &Profile, code: u16, identifier: Option<&str>) -> (&'static str, Value) {
    match profile.scomo_result_data {
        ScomoResultData::Dm1x => {
            let mut xml = format!("<ResultCode>{code}</ResultCode>");
            if let Some(id) = identifier {
                xml.push_str(&format!("<Identifier>{}</Identifier>", escape(id)));
            }
            ("text/xml", json!({ "DM1x": xml }))
        }
        ScomoResultData::Plain => {
            let mut d = json!({ "ResultCode": code });
            if let Some(id) = identifier {
                d["Identifier"] = json!(id);
            }
            ("application/json", d)
        }
    }
}

/// The ResultCode a result alert's Data carries, read in the profile's form; Err says what was
/// expected.
pub fn result_code(profile: &Profile, data: Option<&Value>) -> Result<u16, String> {
    let want = match profile.scomo_result_data {
        ScomoResultData::Dm1x => "Data {\"DM1x\": \"<ResultCode>NNNN</ResultCode>...\"}",
        ScomoResultData::Plain => "Data {\"ResultCode\": NNNN}",
    };
    let code = match (profile.scomo_result_data, data) {
        (ScomoResultData::Dm1x, Some(d)) => d.get("DM1x").and_then(Value::as_str).and_then(|x| {
            let start = x.find("<ResultCode>")? + "<ResultCode>".len();
            let end = start + x[start..].find("</ResultCode>")?;
            x[start..end].trim().parse::<u16>().ok()
        }),
        (ScomoResultData::Plain, Some(d)) => d.get("ResultCode").and_then(|c| match c {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }),
        (_, None) => None,
    };
    code.ok_or_else(|| want.to_string())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_data_round_trips_in_both_forms() {
        for form in [ScomoResultData::Dm1x, ScomoResultData::Plain] {
            let p = Profile { scomo_result_data: form, ..Profile::default() };
            let (_, d) = result_data(&p, 1405, Some("a<b"));
            assert_eq!(result_code(&p, Some(&d)), Ok(1405));
            let other = Profile {
                scomo_result_data: if form == ScomoResultData::Dm1x {
                    ScomoResultData::Plain
                } else {
                    ScomoResultData::Dm1x
                },
                ..Profile::default()
            };
            assert!(result_code(&other, Some(&d)).is_err(), "the other form is not read");
        }
        let (t, d) = result_data(&Profile::default(), 1200, Some("app7dc-id"));
        assert_eq!(t, "text/xml");
        assert_eq!(d, json!({"DM1x": "<ResultCode>1200</ResultCode><Identifier>app7dc-id</Identifier>"}));
        assert!(is_success(1200) && is_success(1251) && !is_success(1405));
        assert!(is_defined(1407) && is_defined(1551) && !is_defined(200) && !is_defined(1420));
        assert!(is_download_failure(1402) && is_download_failure(1500) && is_download_failure(1412));
        assert!(!is_download_failure(1200) && !is_download_failure(1405) && !is_download_failure(1408));
    }
}
