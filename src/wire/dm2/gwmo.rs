//! GwMO (Gateway Management Object) over DM 2.0: the MO identifiers, the DMCommands a server
//! stores in a Fanout instance, and the aggregated results a gateway sends in its Fanout alert
//! (enablers digest §4; seeds 000 "Image Distribution" and 003 "DM Commands Fanout").
//!
//! The seeds write DMCommands and the per-device results in SyncML (DM 1.2); their DM 2.0 form
//! is UNVERIFIED (digest §4.4, open questions 7, 8): it is the profile's
//! `gwmo_dmcommands_form` (default `"dm2-json"`, the Package#2 `CMD` form) and the
//! aggregate's form below, both documented in docs/gwmo.md.
use super::package::{type_name, WireError};
use super::Profile;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Image Inventory MO (digest §4.3, OMNA 0x0064).
pub const MOID_IMAGE_INVENTORY: &str = "urn:oma:mo:oma-gwmo-imageinventory:1.0";
/// Fanout MO (digest §4.4, OMNA 0x0063).
pub const MOID_FANOUT: &str = "urn:oma:mo:oma-gwmo-fanout:1.0";
/// Gateway Config MO (digest §4.5, OMNA 0x0060): the device groups.
pub const MOID_GATEWAY_CONFIG: &str = "urn:oma:mo:oma-gwmo-config:1.1";
/// Device Inventory MO (digest §4.6, OMNA 0x0061): one record per End Device.
pub const MOID_DEVICE_INVENTORY: &str = "urn:oma:mo:oma-gwmo-deviceinventory:1.1";

/// The Image Ready alert's Data member carrying the LocalImageURI (seed 000 step 4: "The
/// Image Ready Alert contains the value of the LocalImageURI"; the member name is ours).
pub const IMAGE_READY_MEMBER: &str = "LocalImageURI";
/// The Fanout alert's Data member listing the per-device results.
pub const RESULTS_MEMBER: &str = "Results";

/// How DMCommands are written in a Fanout instance (profile `gwmo_dmcommands_form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DmCommandsForm {
    /// The DM 2.0 Package#2 `CMD` form: a JSON array of command arrays (as MOData, or a string
    /// holding that JSON).
    #[default]
    Dm2Json,
}

/// Parses the DMCommands value of a Fanout instance: an array of command arrays of strings,
/// or a string holding that JSON. Errors carry the JSON pointer.
pub fn parse_dm_commands(v: &Value, _profile: &Profile) -> Result<Vec<Vec<String>>, WireError> {
    let owned;
    let v = match v {
        Value::String(s) => {
            owned = serde_json::from_str::<Value>(s).map_err(|e| {
                WireError::new(
                    "",
                    "DMCommands: a JSON array of DM 2.0 command arrays (gwmo_dmcommands_form = \"dm2-json\")",
                    format!("text that is not JSON: {e}"),
                )
            })?;
            &owned
        }
        other => other,
    };
    let arr = v.as_array().ok_or_else(|| WireError::new("", "DMCommands: an array of command arrays", type_name(v)))?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, c) in arr.iter().enumerate() {
        let p = format!("/{i}");
        let c = c.as_array().ok_or_else(|| WireError::new(&p, "a command array", type_name(c)))?;
        let mut cmd = Vec::with_capacity(c.len());
        for (j, s) in c.iter().enumerate() {
            cmd.push(
                s.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| WireError::new(format!("{p}/{j}"), "a string", type_name(s)))?,
            );
        }
        super::Command::from_array(&cmd, &p)?;
        out.push(cmd);
    }
    Ok(out)
}

/// One End Device's entry in the aggregated results (seed 003 step 6: DeviceID and that
/// device's response; DM 2.0: `DevResult` is the device's Package#3 as it came, the analogue
/// of DevResultXML; `Error` says why a device has no result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceResult {
    #[serde(rename = "DeviceID")]
    pub device_id: String,
    #[serde(rename = "DevResult", default, skip_serializing_if = "Option::is_none")]
    pub dev_result: Option<Value>,
    #[serde(rename = "Error", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DeviceResult {
    /// The status codes of the device's Package#3 (empty without a result).
    pub fn status_codes(&self) -> Vec<u16> {
        let Some(r) = &self.dev_result else { return Vec::new() };
        r.get("Status")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.get("sc").and_then(Value::as_u64)).map(|c| c as u16).collect())
            .unwrap_or_default()
    }

    /// The device answered and every command succeeded (2xx).
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.dev_result.is_some() && self.status_codes().iter().all(|c| (200..300).contains(c))
    }
}

/// Parses a Fanout alert's Data: `{"Results": [{DeviceID, DevResult | Error}, ...]}`.
pub fn parse_aggregate(data: Option<&Value>) -> Result<Vec<DeviceResult>, WireError> {
    let Some(data) = data else { return Err(WireError::new("/Data", "the aggregated results", "no Data")) };
    let list = data
        .get(RESULTS_MEMBER)
        .ok_or_else(|| WireError::new("/Data", format!("an object with {RESULTS_MEMBER:?}"), type_name(data)))?;
    let arr = list.as_array().ok_or_else(|| WireError::new("/Data/Results", "an array", type_name(list)))?;
    arr.iter()
        .enumerate()
        .map(|(i, e)| {
            serde_json::from_value::<DeviceResult>(e.clone()).map_err(|err| {
                WireError::new(format!("/Data/Results/{i}"), "{DeviceID, DevResult | Error}", err.to_string())
            })
        })
        .collect()
}

/// Builds the aggregate Data of a Fanout alert.
pub fn aggregate_data(results: &[DeviceResult]) -> Value {
    json!({ RESULTS_MEMBER: results })
}

/// The LocalImageURI an Image Ready alert's Data carries: `{"LocalImageURI": uri}`, or the bare
/// string.
pub fn local_image_uri_of(data: Option<&Value>) -> Option<&str> {
    match data? {
        Value::String(s) => Some(s),
        v => v.get(IMAGE_READY_MEMBER).and_then(Value::as_str),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_commands_in_both_spellings() {
        let p = Profile::default();
        let a = json!([["HGET", "http://gw/img/1", "urn:oma:mo:oma-scomo:1.0//Download/Pkg1/Data"]]);
        assert_eq!(parse_dm_commands(&a, &p).unwrap()[0][0], "HGET");
        assert_eq!(parse_dm_commands(&Value::String(a.to_string()), &p).unwrap().len(), 1);
        let e = parse_dm_commands(&json!([["HGET", 3]]), &p).unwrap_err();
        assert_eq!(e.pointer, "/0/1");
        assert!(parse_dm_commands(&json!([["NOPE"]]), &p).is_err());
    }

    #[test]
    fn aggregate_round_trip_and_failures() {
        let r = vec![
            DeviceResult { device_id: "a".into(), dev_result: Some(json!({"Status": [{"sc": 200}]})), error: None },
            DeviceResult { device_id: "b".into(), dev_result: None, error: Some("no session".into()) },
            DeviceResult { device_id: "c".into(), dev_result: Some(json!({"Status": [{"sc": 500}]})), error: None },
        ];
        let back = parse_aggregate(Some(&aggregate_data(&r))).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.iter().map(DeviceResult::succeeded).collect::<Vec<_>>(), [true, false, false]);
        assert!(parse_aggregate(Some(&json!({"Results": [{"X": 1}]})))
            .unwrap_err()
            .pointer
            .starts_with("/Data/Results/0"));
        assert_eq!(local_image_uri_of(Some(&json!({"LocalImageURI": "u"}))), Some("u"));
    }
}
