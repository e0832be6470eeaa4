//! `[pixit.mo]`: where a client IUT's tree is addressed and what the cases send into it.
//!
//! Every ClientURI a client-role case names and every value it stores in the device (HGET data,
//! instance data, EXEC's download URL node) comes from here, never from the suite's own
//! reference MOs. Each value the shipped cases use is declared in [`MO_PIXIT`] with its kind
//! and, where one exists, a documented default that matches a typical DM 2.0 tree (DevInfo and
//! one FUMO instance); an ICS gives only what differs. Values without a default describe
//! device facts that are ICS capabilities (`scr/dm2/capabilities.toml`): a device that lacks the
//! fact declares so and the cases that need it are not applicable.
use crate::wire::dm2::client_uri::{ClientUri, Segment};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One `[pixit.mo]` value: text (a ClientURI, an MOID, a node value) or MO data (a table, sent
/// as the `MOData` of an MO serialization).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MoValue {
    Text(String),
    Data(Value),
}

impl MoValue {
    /// The value as a template sees it: text as a string, data as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            MoValue::Text(s) => Value::String(s.clone()),
            MoValue::Data(v) => v.clone(),
        }
    }

    /// The value as text: data as compact JSON.
    pub fn to_text(&self) -> String {
        match self {
            MoValue::Text(s) => s.clone(),
            MoValue::Data(v) => v.to_string(),
        }
    }
}

/// What a `[pixit.mo]` value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoKind {
    /// A ClientURI of one node or subtree (no wildcard, no x-name).
    Uri,
    /// A ClientURI of one leaf, ending in its node name (the `MOData` key of data stored there).
    Leaf,
    /// An MOID (a URN, no `/`).
    Moid,
    /// A node value (text; numbers and booleans are taken as their text).
    Text,
    /// MO data: a table, the `MOData` of an MO serialization (its top-level key is the MO root
    /// node's name).
    Data,
}

impl MoKind {
    fn expected(self) -> &'static str {
        match self {
            MoKind::Uri => "a ClientURI of one node, e.g. \"urn:oma:mo:oma-dm-devinfo:1.0//DevID\"",
            MoKind::Leaf => {
                "a ClientURI of one leaf ending in its node name, e.g. \
                 \"urn:oma:mo:oma-fumo:1.0//DownloadAndUpdate/PkgURL\""
            }
            MoKind::Moid => "an MOID, e.g. \"urn:oma:mo:oma-fumo:1.0\"",
            MoKind::Text => "a node value (a string)",
            MoKind::Data => {
                "MO data as a table keyed by the MO root node's name, e.g. { FUMO = { DownloadAndUpdate = { PkgURL = \
                 \"http://...\" } } }"
            }
        }
    }
}

/// One declared `[pixit.mo]` value.
#[derive(Debug, Clone, Copy)]
pub struct MoParam {
    /// The key under `[pixit.mo]` (`${pixit.mo.<key>}` in cases).
    pub key: &'static str,
    pub kind: MoKind,
    /// The default (JSON text for [`MoKind::Data`]); None: device-specific, no default.
    pub default: Option<&'static str>,
    /// What the cases do with it.
    pub about: &'static str,
}

/// Every `[pixit.mo]` value the shipped client cases use. Defaults describe a typical DM 2.0
/// client: DevInfo, and one FUMO instance (whose `PkgName`, `PkgVersion` and `State` are
/// Get-only, so data sent into it sets `PkgURL` only). `.invalid` URLs never resolve.
pub const MO_PIXIT: &[MoParam] = &[
    MoParam {
        key: "devid_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-dm-devinfo:1.0//DevID"),
        about: "a leaf holding DevInfo/DevID: GET reads it back; HPUT uploads it where a case only needs an upload",
    },
    MoParam {
        key: "upload_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-dm-devinfo:1.0//"),
        about: "a subtree HPUT and HPOST upload",
    },
    MoParam {
        key: "permanent_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-dm-devinfo:1.0//Man"),
        about: "a node the server may not delete: DELETE must give 405 (capability ICS-DMC-NODE-PERMANENT)",
    },
    MoParam {
        key: "replace_uri",
        kind: MoKind::Leaf,
        default: Some("urn:oma:mo:oma-fumo:1.0//DownloadAndUpdate/PkgURL"),
        about: "a leaf HGET with a ClientURI replaces; the MOData sent is keyed by its node name \
                (capability ICS-DMC-NODE-REPLACE)",
    },
    MoParam {
        key: "replace_value",
        kind: MoKind::Text,
        default: Some("http://dmcts.invalid/firmware/replaced.bin"),
        about: "the value HGET stores at mo.replace_uri, looked for when the leaf is uploaded again",
    },
    MoParam {
        key: "instance_moid",
        kind: MoKind::Moid,
        default: Some("urn:oma:mo:oma-fumo:1.0"),
        about: "an MO whose instances HGET without a ClientURI creates and DELETE removes \
                (capability ICS-DMC-MO-CREATE)",
    },
    MoParam {
        key: "instance_data",
        kind: MoKind::Data,
        default: Some(r#"{"FUMO":{"DownloadAndUpdate":{"PkgURL":"http://dmcts.invalid/firmware/created.bin"}}}"#),
        about: "the MOData of the instance HGET creates",
    },
    MoParam {
        key: "instance_value",
        kind: MoKind::Text,
        default: Some("http://dmcts.invalid/firmware/created.bin"),
        about: "a leaf value of mo.instance_data, looked for when the new instance is uploaded",
    },
    MoParam {
        key: "exec_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-fumo:1.0//DownloadAndUpdate"),
        about: "a node EXEC executes (capability ICS-DMC-NODE-EXEC); executed as the device is after a reset, and \
                by the download case after mo.exec_url_uri was set",
    },
    MoParam {
        key: "exec_url_uri",
        kind: MoKind::Leaf,
        default: Some("urn:oma:mo:oma-fumo:1.0//DownloadAndUpdate/PkgURL"),
        about: "the leaf holding the URL executing mo.exec_uri downloads from; the case sets it to the suite's \
                repository (capability ICS-DMC-EXEC-DOWNLOAD)",
    },
    MoParam {
        key: "exec_effect_uri",
        kind: MoKind::Uri,
        default: None,
        about: "a node whose value shows that mo.exec_uri was executed (capability ICS-DMC-EXEC-EFFECT)",
    },
    MoParam {
        key: "exec_effect_value",
        kind: MoKind::Text,
        default: None,
        about: "the value of mo.exec_effect_uri after one EXEC of mo.exec_uri from a reset",
    },
    MoParam {
        key: "fumo_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-fumo:1.0//"),
        about: "the FUMO instance the FUMO cases update, ending in \"/\": its nodes are addressed as <fumo_uri>State, \
                <fumo_uri>Update/PkgData, <fumo_uri>DownloadAndUpdate/PkgURL... (cases/fumo/client)",
    },
    MoParam {
        key: "default_moid",
        kind: MoKind::Moid,
        default: None,
        about: "an MO whose configuration the tree lacks after a reset and a local application needs \
                (capability ICS-DMC-DEFAULT-FETCH)",
    },
    MoParam {
        key: "default_data",
        kind: MoKind::Data,
        default: None,
        about: "the MOData of that configuration, served at the URI DEFAULT gave",
    },
    MoParam {
        key: "scomo_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-scomo:1.0//"),
        about: "the root of the device's SCOMO instance, ending in \"/\" (the SCOMO cases address \
                <scomo_uri>Inventory/Delivered/..., <scomo_uri>Download/..., <scomo_uri>Inventory/Deployed)",
    },
    MoParam {
        key: "scomo_entry",
        kind: MoKind::Text,
        default: Some("dmcts-pkg1"),
        about: "the node name the SCOMO cases give the package they deliver (Inventory/Delivered/<x>, Download/<x>)",
    },
    MoParam {
        key: "scomo_package_id",
        kind: MoKind::Text,
        default: Some("com.dmcts.sample"),
        about: "the PkgID of the package the SCOMO cases deliver; the deployed component's PkgIDRef names it",
    },
    MoParam {
        key: "scomo_package_data",
        kind: MoKind::Text,
        default: Some("DMCTS-SCOMO-PACKAGE com.dmcts.sample 1.0"),
        about: "the content of a package the device installs (served as profile scomo_data_media_type)",
    },
    MoParam {
        key: "scomo_corrupt_data",
        kind: MoKind::Text,
        default: Some("dmcts: this is not a software package"),
        about: "the content of a package the device must refuse to install (SCOMO-012-C-O)",
    },
    MoParam {
        key: "gw_image_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-gwmo-imageinventory:1.0/img1/"),
        about: "GwMO gateways: the Image Inventory image instance the GwMO cases distribute, ending in \"/\" (its nodes \
                <gw_image_uri>ImageURI, <gw_image_uri>LocalImageURI, <gw_image_uri>Operations/Download; docs/gwmo.md)",
    },
    MoParam {
        key: "gw_fanout_uri",
        kind: MoKind::Uri,
        default: Some("urn:oma:mo:oma-gwmo-fanout:1.0/fo1/"),
        about: "GwMO gateways: the Fanout job the GwMO cases set up, ending in \"/\" (its nodes <gw_fanout_uri>DMCommands, \
                <gw_fanout_uri>TargetGroupRef, <gw_fanout_uri>Operations/Start; docs/gwmo.md)",
    },
    MoParam {
        key: "gw_end_devices",
        kind: MoKind::Text,
        default: Some("100"),
        about: "GwMO gateways: how many simulated End Devices the suite puts in the target group of a fan-out \
                (docs/gwmo.md)",
    },
    MoParam {
        key: "dm12_leaf_uri",
        kind: MoKind::Text,
        default: Some("./dmcts/Leaf"),
        about: "DM 1.2 clients: a leaf the server may Get, Replace and Add to (Add must then give 418)",
    },
    MoParam {
        key: "dm12_leaf_value",
        kind: MoKind::Text,
        default: Some("one"),
        about: "DM 1.2 clients: the value of mo.dm12_leaf_uri after a reset",
    },
    MoParam {
        key: "dm12_missing_uri",
        kind: MoKind::Text,
        default: Some("./dmcts/Missing"),
        about: "DM 1.2 clients: a node that does not exist (Get gives 404)",
    },
    MoParam {
        key: "dm12_interior_uri",
        kind: MoKind::Text,
        default: Some("./dmcts/Interior"),
        about: "DM 1.2 clients: an interior node whose children are mo.dm12_interior_children",
    },
    MoParam {
        key: "dm12_interior_children",
        kind: MoKind::Text,
        default: Some("A/B"),
        about: "DM 1.2 clients: the child names of mo.dm12_interior_uri, /-separated, in the order the device lists them",
    },
    MoParam {
        key: "dm12_new_uri",
        kind: MoKind::Text,
        default: Some("./dmcts/New"),
        about: "DM 1.2 clients: a leaf that does not exist after a reset and may be added",
    },
    MoParam {
        key: "dm12_permanent_uri",
        kind: MoKind::Text,
        default: Some("./DevInfo/Man"),
        about: "DM 1.2 clients: a permanent node (Delete gives 405)",
    },
    MoParam {
        key: "dm12_exec_uri",
        kind: MoKind::Text,
        default: Some("./Vendor/Exec"),
        about: "DM 1.2 clients: a node executed later (Exec with a Correlator gives 202, the result comes in a Generic Alert)",
    },
    MoParam {
        key: "dm12_fumo_uri",
        kind: MoKind::Text,
        default: Some("./FUMO/"),
        about: "DM 1.2 clients: the FUMO instance <x> the FUMO cases update, ending in \"/\" (<dm12_fumo_uri>State, \
                <dm12_fumo_uri>Update/PkgData, <dm12_fumo_uri>DownloadAndUpdate/PkgURL...; cases/fumo/client/fumo-dm12.toml)",
    },
    MoParam {
        key: "dm12_scomo_uri",
        kind: MoKind::Text,
        default: Some("./SCOMO/"),
        about: "DM 1.2 clients: the SCOMO root, ending in \"/\" (<dm12_scomo_uri>Inventory/Delivered/<scomo_entry>...; \
                cases/scomo/client/scomo-dm12.toml)",
    },
    MoParam {
        key: "dm12_gw_image_uri",
        kind: MoKind::Text,
        default: Some("./GWMO/ImageInventory/img1/"),
        about: "DM 1.2 GwMO gateways: the Image Inventory image instance, ending in \"/\" (<dm12_gw_image_uri>ImageURI, \
                <dm12_gw_image_uri>LocalImageURI, <dm12_gw_image_uri>Operations/Download; docs/gwmo.md)",
    },
    MoParam {
        key: "dm12_gw_fanout_uri",
        kind: MoKind::Text,
        default: Some("./GWMO/Fanout/fo1/"),
        about: "DM 1.2 GwMO gateways: the Fanout job, ending in \"/\" (<dm12_gw_fanout_uri>DMCommands, \
                <dm12_gw_fanout_uri>TargetGroupRef, <dm12_gw_fanout_uri>Operations/Start, \
                <dm12_gw_fanout_uri>Results/<r>/DeviceID|DevResultXML; seed 000's ./GWMO/Fanout/fo1/; docs/gwmo.md)",
    },
    MoParam {
        key: "dm12_scomo_component",
        kind: MoKind::Text,
        default: Some("dmcts-pkg1"),
        about: "DM 1.2 clients: the node name the device gives, under Inventory/Deployed, the component it installs \
                from the package mo.scomo_package_id",
    },
];

/// The `[pixit.mo]` values a server IUT's ICS may give (no defaults are filled in for them:
/// whether the vendor gave one decides whether a check relying on it is a verdict):
/// `exec_uri`, an executable node the server manages (TC-DMS-ASYNC-001 falls back to the FUMO
/// DownloadAndUpdate node), and `exec_result_alert_type`, the AlertType of the asynchronous
/// EXEC result the server recognises (digest §11: MO-specific, UNVERIFIED).
pub const SERVER_KEYS: &[&str] = &[
    "exec_uri",
    "exec_result_alert_type",
    "fumo_uri",
    "gw_image_uri",
    "gw_fanout_uri",
    "dm12_gw_image_uri",
    "dm12_gw_fanout_uri",
];

/// The declared value `key`, if any.
pub fn param(key: &str) -> Option<&'static MoParam> {
    MO_PIXIT.iter().find(|p| p.key == key)
}

/// A declared value's default, parsed.
pub fn default_of(p: &MoParam) -> Option<MoValue> {
    let d = p.default?;
    Some(match p.kind {
        MoKind::Data => MoValue::Data(serde_json::from_str(d).expect("MO_PIXIT data defaults are JSON")),
        _ => MoValue::Text(d.to_string()),
    })
}

/// Checks and normalises the given values (numbers and booleans of text kinds become text);
/// each problem is `(key, message)`.
pub fn check(given: &mut BTreeMap<String, MoValue>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (key, value) in given.iter_mut() {
        let Some(p) = param(key) else { continue };
        if let Err(why) = check_one(p, value) {
            problems.push((key.clone(), format!("PIXIT mo.{key}: {why}; expected {}", p.kind.expected())));
        }
    }
    problems
}

fn check_one(p: &MoParam, value: &mut MoValue) -> Result<(), String> {
    if let (MoKind::Text, MoValue::Data(v @ (Value::Number(_) | Value::Bool(_)))) = (p.kind, &*value) {
        *value = MoValue::Text(v.to_string());
    }
    match (p.kind, &*value) {
        (MoKind::Data, MoValue::Data(Value::Object(o))) if !o.is_empty() => Ok(()),
        (MoKind::Data, v) => Err(format!("{} is not a non-empty table", v.to_text())),
        (_, MoValue::Data(v)) => Err(format!("{v} is not a string")),
        (MoKind::Text, MoValue::Text(_)) => Ok(()),
        (MoKind::Moid, MoValue::Text(s)) => {
            if s.starts_with("urn:") && !s.contains('/') && s.len() > 4 {
                Ok(())
            } else {
                Err(format!("{s:?} is not an MOID"))
            }
        }
        (MoKind::Uri | MoKind::Leaf, MoValue::Text(s)) => {
            let uri = ClientUri::parse(s).map_err(|e| format!("{s:?} is not a ClientURI ({e})"))?;
            if uri.has_wildcard() || uri.path.iter().any(|s| !matches!(s, Segment::Name(_))) {
                return Err(format!("{s:?} addresses several nodes or uses an x-name; a case needs one node"));
            }
            if p.kind == MoKind::Leaf && !matches!(uri.path.last(), Some(Segment::Name(_))) {
                return Err(format!("{s:?} does not end in a node name (the key of the MOData stored there)"));
            }
            Ok(())
        }
    }
}

/// Cross-checks between values: the value a read-back looks for must be among the data sent.
pub fn check_consistency(mo: &BTreeMap<String, MoValue>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (data, value) in [("instance_data", "instance_value")] {
        if let (Some(MoValue::Data(d)), Some(MoValue::Text(v))) = (mo.get(data), mo.get(value)) {
            // The same test as the read-back's `body-contains`.
            if !crate::runner::checks::json_has_leaf(d, v) {
                problems.push((
                    value.to_string(),
                    format!(
                        "PIXIT mo.{value} {v:?} is not a leaf value of mo.{data} ({d}): the case sends mo.{data} and \
                         looks for mo.{value} when the data is uploaded again; give both"
                    ),
                ));
            }
        }
    }
    problems
}

/// Fills in the default of every declared value the ICS does not give; returns the keys filled.
pub fn apply_defaults(mo: &mut BTreeMap<String, MoValue>) -> BTreeSet<String> {
    let mut filled = BTreeSet::new();
    for p in MO_PIXIT {
        if mo.contains_key(p.key) {
            continue;
        }
        if let Some(d) = default_of(p) {
            mo.insert(p.key.to_string(), d);
            filled.insert(p.key.to_string());
        }
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_values_of_their_kind() {
        let mut mo = BTreeMap::new();
        let filled = apply_defaults(&mut mo);
        assert_eq!(filled.len(), MO_PIXIT.iter().filter(|p| p.default.is_some()).count());
        assert!(check(&mut mo).is_empty(), "{:?}", check(&mut mo));
        assert!(check_consistency(&mo).is_empty());
    }

    #[test]
    fn values_are_checked_by_kind() {
        let mut mo: BTreeMap<String, MoValue> = [
            ("replace_uri", MoValue::Text("urn:oma:mo:oma-fumo:1.0//".into())),
            ("exec_uri", MoValue::Text("urn:x:1.0/*/Op".into())),
            ("instance_moid", MoValue::Text("urn:x:1.0//".into())),
            ("instance_data", MoValue::Text("{}".into())),
            ("exec_effect_value", MoValue::Data(Value::from(3))),
            ("custom_key", MoValue::Data(Value::from(3))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let keys: Vec<String> = check(&mut mo).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["exec_uri", "instance_data", "instance_moid", "replace_uri"]);
        assert_eq!(mo["exec_effect_value"], MoValue::Text("3".into()), "a number is taken as its text");
    }

    #[test]
    fn the_read_back_value_must_be_in_the_data() {
        let mut mo = BTreeMap::new();
        apply_defaults(&mut mo);
        mo.insert("instance_value".into(), MoValue::Text("elsewhere".into()));
        assert_eq!(check_consistency(&mo).len(), 1);
    }
}
