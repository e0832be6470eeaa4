//! Package#1, Package#2 and Package#3 (JSON), and the Generic Alert.
//!
//! Parsing is strict: errors carry the JSON pointer of the offending value and what was
//! expected. Encoding goes through `serde_json::Value` so that peers can also build
//! deliberately malformed variants (see `crate::reference` faults and case tampering).
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A parse error with the JSON pointer of the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: expected {expected}, found {found}")]
pub struct WireError {
    /// JSON pointer ("" is the document root).
    pub pointer: String,
    pub expected: String,
    pub found: String,
}

impl WireError {
    pub fn new(pointer: impl Into<String>, expected: impl Into<String>, found: impl Into<String>) -> Self {
        WireError { pointer: pointer.into(), expected: expected.into(), found: found.into() }
    }
}

/// One element of the MOS array of Package#1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoEntry {
    #[serde(rename = "DDF", skip_serializing_if = "Option::is_none")]
    pub ddf: Option<String>,
    #[serde(rename = "MOID", skip_serializing_if = "Option::is_none")]
    pub moid: Option<String>,
    #[serde(rename = "MIID")]
    pub miid: Vec<String>,
}

/// A Generic Alert (seed, Change 4). `data` is any JSON value: its format is out of scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericAlert {
    #[serde(rename = "AlertType")]
    pub alert_type: String,
    #[serde(rename = "SourceURI", skip_serializing_if = "Option::is_none")]
    pub source_uri: Option<String>,
    #[serde(rename = "TargetURI", skip_serializing_if = "Option::is_none")]
    pub target_uri: Option<String>,
    #[serde(rename = "Mark", skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    #[serde(rename = "DataType", skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(rename = "Data", skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl GenericAlert {
    pub fn new(alert_type: impl Into<String>) -> Self {
        GenericAlert {
            alert_type: alert_type.into(),
            source_uri: None,
            target_uri: None,
            mark: None,
            data_type: None,
            data: None,
        }
    }
}

/// Package#1: session initiation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Package1 {
    #[serde(rename = "MOS", skip_serializing_if = "Option::is_none")]
    pub mos: Option<Vec<MoEntry>>,
    #[serde(rename = "Alert", skip_serializing_if = "Option::is_none")]
    pub alert: Option<Vec<GenericAlert>>,
}

/// One DM command of Package#2, with its positional parameters (digest §7; the parameter
/// order of EXEC, DEFAULT, SUB and UNSUB is UNVERIFIED and follows the digest's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Hget { server_uri: String, client_uri: Option<String> },
    Hput { server_uri: String, client_uris: Vec<String> },
    Hpost { server_uri: String, client_uris: Vec<String> },
    Delete { client_uri: String },
    Exec { client_uri: String, server_uri: Option<String> },
    Get { client_uri: String },
    Show { server_uri: String },
    Cont { server_uri: String },
    End,
    Default { moid: String, server_uri: String },
    Sub { server_uri: String, client_uri: String },
    Unsub { client_uri: String },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Hget { .. } => "HGET",
            Command::Hput { .. } => "HPUT",
            Command::Hpost { .. } => "HPOST",
            Command::Delete { .. } => "DELETE",
            Command::Exec { .. } => "EXEC",
            Command::Get { .. } => "GET",
            Command::Show { .. } => "SHOW",
            Command::Cont { .. } => "CONT",
            Command::End => "END",
            Command::Default { .. } => "DEFAULT",
            Command::Sub { .. } => "SUB",
            Command::Unsub { .. } => "UNSUB",
        }
    }

    /// The command as its JSON array of strings.
    pub fn to_array(&self) -> Vec<String> {
        let mut v = vec![self.name().to_string()];
        match self {
            Command::Hget { server_uri, client_uri } => {
                v.push(server_uri.clone());
                v.extend(client_uri.clone());
            }
            Command::Hput { server_uri, client_uris } | Command::Hpost { server_uri, client_uris } => {
                v.push(server_uri.clone());
                v.extend(client_uris.iter().cloned());
            }
            Command::Delete { client_uri } | Command::Get { client_uri } | Command::Unsub { client_uri } => {
                v.push(client_uri.clone())
            }
            Command::Exec { client_uri, server_uri } => {
                v.push(client_uri.clone());
                v.extend(server_uri.clone());
            }
            Command::Show { server_uri } | Command::Cont { server_uri } => v.push(server_uri.clone()),
            Command::End => {}
            Command::Default { moid, server_uri } => {
                v.push(moid.clone());
                v.push(server_uri.clone());
            }
            Command::Sub { server_uri, client_uri } => {
                v.push(server_uri.clone());
                v.push(client_uri.clone());
            }
        }
        v
    }

    /// Parses one command array; `pointer` locates it for error messages.
    pub fn from_array(arr: &[String], pointer: &str) -> Result<Command, WireError> {
        let name = arr.first().ok_or_else(|| WireError::new(pointer, "a command name", "an empty array"))?;
        let params = &arr[1..];
        let arity = |min: usize, max: Option<usize>| -> Result<(), WireError> {
            let n = params.len();
            if n < min || max.is_some_and(|m| n > m) {
                let want = match max {
                    Some(m) if m == min => format!("{name} with {min} parameter(s)"),
                    Some(m) => format!("{name} with {min} to {m} parameters"),
                    None => format!("{name} with at least {min} parameter(s)"),
                };
                return Err(WireError::new(pointer, want, format!("{n} parameter(s)")));
            }
            Ok(())
        };
        let p = |i: usize| params[i].clone();
        Ok(match name.as_str() {
            "HGET" => {
                arity(1, Some(2))?;
                Command::Hget { server_uri: p(0), client_uri: params.get(1).cloned() }
            }
            "HPUT" => {
                arity(2, None)?;
                Command::Hput { server_uri: p(0), client_uris: params[1..].to_vec() }
            }
            "HPOST" => {
                arity(2, None)?;
                Command::Hpost { server_uri: p(0), client_uris: params[1..].to_vec() }
            }
            "DELETE" => {
                arity(1, Some(1))?;
                Command::Delete { client_uri: p(0) }
            }
            "EXEC" => {
                arity(1, Some(2))?;
                Command::Exec { client_uri: p(0), server_uri: params.get(1).cloned() }
            }
            "GET" => {
                arity(1, Some(1))?;
                Command::Get { client_uri: p(0) }
            }
            "SHOW" => {
                arity(1, Some(1))?;
                Command::Show { server_uri: p(0) }
            }
            "CONT" => {
                arity(1, Some(1))?;
                Command::Cont { server_uri: p(0) }
            }
            "END" => {
                arity(0, Some(0))?;
                Command::End
            }
            "DEFAULT" => {
                arity(2, Some(2))?;
                Command::Default { moid: p(0), server_uri: p(1) }
            }
            "SUB" => {
                arity(2, Some(2))?;
                Command::Sub { server_uri: p(0), client_uri: p(1) }
            }
            "UNSUB" => {
                arity(1, Some(1))?;
                Command::Unsub { client_uri: p(0) }
            }
            other => {
                return Err(WireError::new(
                    format!("{pointer}/0"),
                    "one of HGET, HPUT, HPOST, DELETE, EXEC, GET, SHOW, CONT, END, DEFAULT, SUB, UNSUB",
                    format!("{other:?}"),
                ))
            }
        })
    }
}

/// Package#2: the ordered command list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Package2 {
    pub cmd: Vec<Command>,
}

/// One entry of Package#3's Status array. Extra members (e.g. GET data under the profile's
/// `get_data_member`) are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEntry {
    pub sc: u16,
    #[serde(rename = "URI", skip_serializing_if = "Option::is_none")]
    pub uri: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StatusEntry {
    pub fn new(sc: u16) -> Self {
        StatusEntry { sc, uri: None, extra: Map::new() }
    }
}

/// Package#3: statuses, one per command of the preceding Package#2, plus optional alerts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Package3 {
    #[serde(rename = "Status")]
    pub status: Vec<StatusEntry>,
    #[serde(rename = "Alert", skip_serializing_if = "Option::is_none")]
    pub alert: Option<Vec<GenericAlert>>,
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, WireError> {
    serde_json::from_slice(bytes).map_err(|e| {
        WireError::new("", "a JSON document", format!("invalid JSON at line {} column {}: {e}", e.line(), e.column()))
    })
}

fn as_object<'a>(v: &'a Value, pointer: &str) -> Result<&'a Map<String, Value>, WireError> {
    v.as_object().ok_or_else(|| WireError::new(pointer, "an object", type_name(v)))
}

fn as_array<'a>(v: &'a Value, pointer: &str) -> Result<&'a Vec<Value>, WireError> {
    v.as_array().ok_or_else(|| WireError::new(pointer, "an array", type_name(v)))
}

fn as_string(v: &Value, pointer: &str) -> Result<String, WireError> {
    v.as_str().map(str::to_string).ok_or_else(|| WireError::new(pointer, "a string", type_name(v)))
}

fn opt_string(obj: &Map<String, Value>, key: &str, pointer: &str) -> Result<Option<String>, WireError> {
    obj.get(key).map(|v| as_string(v, &format!("{pointer}/{key}"))).transpose()
}

/// Parses the `Alert` array member, if present.
fn parse_alerts(obj: &Map<String, Value>) -> Result<Option<Vec<GenericAlert>>, WireError> {
    let Some(v) = obj.get("Alert") else { return Ok(None) };
    let arr = as_array(v, "/Alert")?;
    arr.iter()
        .enumerate()
        .map(|(i, a)| GenericAlert::from_value(a, &format!("/Alert/{i}")))
        .collect::<Result<_, _>>()
        .map(Some)
}

impl GenericAlert {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("GenericAlert serializes")
    }

    /// Strict parse of one alert object at `pointer`: AlertType required, every property a
    /// string except Data, and DataType present whenever Data is (seed, Change 4).
    pub fn from_value(v: &Value, pointer: &str) -> Result<GenericAlert, WireError> {
        let o = as_object(v, pointer)?;
        let alert_type = match o.get("AlertType") {
            Some(t) => as_string(t, &format!("{pointer}/AlertType"))?,
            None => return Err(WireError::new(format!("{pointer}/AlertType"), "the required AlertType", "nothing")),
        };
        let data = o.get("Data").cloned();
        let data_type = opt_string(o, "DataType", pointer)?;
        if data.is_some() && data_type.is_none() {
            return Err(WireError::new(
                format!("{pointer}/DataType"),
                "DataType, required when Data is present",
                "nothing",
            ));
        }
        Ok(GenericAlert {
            alert_type,
            source_uri: opt_string(o, "SourceURI", pointer)?,
            target_uri: opt_string(o, "TargetURI", pointer)?,
            mark: opt_string(o, "Mark", pointer)?,
            data_type,
            data,
        })
    }
}

impl Package1 {
    pub fn parse(bytes: &[u8]) -> Result<Package1, WireError> {
        Self::from_value(&parse_json(bytes)?)
    }

    /// Strict parse of an already-decoded document; unknown members are ignored (digest §6).
    pub fn from_value(doc: &Value) -> Result<Package1, WireError> {
        let obj = as_object(doc, "")?;
        let mos = match obj.get("MOS") {
            None => None,
            Some(v) => {
                let arr = as_array(v, "/MOS")?;
                let mut out = Vec::new();
                for (i, e) in arr.iter().enumerate() {
                    let p = format!("/MOS/{i}");
                    let o = as_object(e, &p)?;
                    let miid_v = o
                        .get("MIID")
                        .ok_or_else(|| WireError::new(format!("{p}/MIID"), "the required MIID array", "nothing"))?;
                    let miid = as_array(miid_v, &format!("{p}/MIID"))?
                        .iter()
                        .enumerate()
                        .map(|(j, m)| as_string(m, &format!("{p}/MIID/{j}")))
                        .collect::<Result<_, _>>()?;
                    out.push(MoEntry { ddf: opt_string(o, "DDF", &p)?, moid: opt_string(o, "MOID", &p)?, miid });
                }
                Some(out)
            }
        };
        Ok(Package1 { mos, alert: parse_alerts(obj)? })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("Package1 serializes")
    }
}

impl Package2 {
    pub fn parse(bytes: &[u8]) -> Result<Package2, WireError> {
        let doc = parse_json(bytes)?;
        Self::from_value(&doc)
    }

    /// Strict parse of an already-decoded document; unknown top-level members are ignored.
    pub fn from_value(doc: &Value) -> Result<Package2, WireError> {
        let obj = as_object(doc, "")?;
        let cmd_v = obj.get("CMD").ok_or_else(|| WireError::new("/CMD", "the required CMD array", "nothing"))?;
        let cmds = as_array(cmd_v, "/CMD")?;
        let mut out = Vec::with_capacity(cmds.len());
        for (i, c) in cmds.iter().enumerate() {
            let p = format!("/CMD/{i}");
            let arr = as_array(c, &p)?
                .iter()
                .enumerate()
                .map(|(j, s)| as_string(s, &format!("{p}/{j}")))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Command::from_array(&arr, &p)?);
        }
        Ok(Package2 { cmd: out })
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({ "CMD": self.cmd.iter().map(Command::to_array).collect::<Vec<_>>() })
    }
}

impl Package3 {
    pub fn parse(bytes: &[u8]) -> Result<Package3, WireError> {
        Self::from_value(&parse_json(bytes)?)
    }

    /// Strict parse of an already-decoded document; members other than `sc` and `URI` of a
    /// status entry are kept in `extra` (GET data, digest §9), other unknown members ignored.
    pub fn from_value(doc: &Value) -> Result<Package3, WireError> {
        let obj = as_object(doc, "")?;
        let st_v =
            obj.get("Status").ok_or_else(|| WireError::new("/Status", "the required Status array", "nothing"))?;
        let mut status = Vec::new();
        for (i, e) in as_array(st_v, "/Status")?.iter().enumerate() {
            let p = format!("/Status/{i}");
            let o = as_object(e, &p)?;
            let sc_v =
                o.get("sc").ok_or_else(|| WireError::new(format!("{p}/sc"), "the required sc number", "nothing"))?;
            let sc =
                sc_v.as_u64().filter(|n| (100..=999).contains(n)).ok_or_else(|| {
                    WireError::new(format!("{p}/sc"), "a status code number 100..999", sc_v.to_string())
                })? as u16;
            let uri = match o.get("URI") {
                None => None,
                Some(u) => Some(
                    as_array(u, &format!("{p}/URI"))?
                        .iter()
                        .enumerate()
                        .map(|(j, s)| as_string(s, &format!("{p}/URI/{j}")))
                        .collect::<Result<_, _>>()?,
                ),
            };
            let extra =
                o.iter().filter(|(k, _)| *k != "sc" && *k != "URI").map(|(k, v)| (k.clone(), v.clone())).collect();
            status.push(StatusEntry { sc, uri, extra });
        }
        Ok(Package3 { status, alert: parse_alerts(obj)? })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("Package3 serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn package2_round_trips() {
        let p2 = Package2 {
            cmd: vec![
                Command::Hget { server_uri: "http://r/x".into(), client_uri: None },
                Command::Exec { client_uri: "urn:x:1.0/a/Op".into(), server_uri: Some("http://s/async".into()) },
                Command::End,
            ],
        };
        let bytes = serde_json::to_vec(&p2.to_json()).unwrap();
        assert_eq!(Package2::parse(&bytes).unwrap(), p2);
    }

    #[test]
    fn errors_carry_json_pointer() {
        let e = Package2::parse(br#"{"CMD":[["END"],["GET",5]]}"#).unwrap_err();
        assert_eq!(e.pointer, "/CMD/1/1");
        let e = Package3::parse(br#"{"Status":[{"sc":"200"}]}"#).unwrap_err();
        assert_eq!(e.pointer, "/Status/0/sc");
        let e = Package1::parse(br#"{"Alert":[{"Data":{}}]}"#).unwrap_err();
        assert_eq!(e.pointer, "/Alert/0/AlertType");
    }

    /// Every strictness rule, with the pointer and expectation it reports.
    #[test]
    fn error_pointers_for_each_rule() {
        let p1: [(&str, &str, &str); 9] = [
            ("[]", "", "an object"),
            (r#"{"MOS":{}}"#, "/MOS", "an array"),
            (r#"{"MOS":[1]}"#, "/MOS/0", "an object"),
            (r#"{"MOS":[{}]}"#, "/MOS/0/MIID", "MIID"),
            (r#"{"MOS":[{"MIID":"a"}]}"#, "/MOS/0/MIID", "an array"),
            (r#"{"MOS":[{"MIID":["a",2]}]}"#, "/MOS/0/MIID/1", "a string"),
            (r#"{"MOS":[{"MIID":[],"MOID":1}]}"#, "/MOS/0/MOID", "a string"),
            (r#"{"Alert":[{"AlertType":"x","Data":{}}]}"#, "/Alert/0/DataType", "DataType"),
            (r#"{"Alert":[{"AlertType":"x","Mark":3}]}"#, "/Alert/0/Mark", "a string"),
        ];
        for (doc, ptr, want) in p1 {
            let e = Package1::parse(doc.as_bytes()).unwrap_err();
            assert_eq!((e.pointer.as_str(), e.expected.contains(want)), (ptr, true), "{doc}: {e}");
        }
        let p2: [(&str, &str, &str); 6] = [
            ("{}", "/CMD", "CMD"),
            (r#"{"CMD":[[]]}"#, "/CMD/0", "command name"),
            (r#"{"CMD":["END"]}"#, "/CMD/0", "an array"),
            (r#"{"CMD":[["FOO"]]}"#, "/CMD/0/0", "HGET"),
            (r#"{"CMD":[["END"],["HPUT","http://r"]]}"#, "/CMD/1", "at least 2"),
            (r#"{"CMD":[["GET","a","b"]]}"#, "/CMD/0", "GET with 1"),
        ];
        for (doc, ptr, want) in p2 {
            let e = Package2::parse(doc.as_bytes()).unwrap_err();
            assert_eq!((e.pointer.as_str(), e.expected.contains(want)), (ptr, true), "{doc}: {e}");
        }
        let p3: [(&str, &str, &str); 6] = [
            ("{}", "/Status", "Status"),
            (r#"{"Status":[{}]}"#, "/Status/0/sc", "sc"),
            (r#"{"Status":[{"sc":99}]}"#, "/Status/0/sc", "100..999"),
            (r#"{"Status":[{"sc":200.5}]}"#, "/Status/0/sc", "100..999"),
            (r#"{"Status":[{"sc":200,"URI":["a",{}]}]}"#, "/Status/0/URI/1", "a string"),
            (r#"{"Status":[],"Alert":[{"AlertType":5}]}"#, "/Alert/0/AlertType", "a string"),
        ];
        for (doc, ptr, want) in p3 {
            let e = Package3::parse(doc.as_bytes()).unwrap_err();
            assert_eq!((e.pointer.as_str(), e.expected.contains(want)), (ptr, true), "{doc}: {e}");
        }
        let e = Package3::parse(b"{\"Status\":").unwrap_err();
        assert_eq!(e.pointer, "");
        assert!(e.found.contains("line 1"), "{e}");
    }

    #[test]
    fn unknown_members_are_ignored_and_status_extras_kept() {
        let p1 = Package1::parse(br#"{"MgmtTree":{},"MOS":[{"MIID":["d0"],"X":1}]}"#).unwrap();
        assert_eq!(p1.mos.unwrap()[0].miid, vec!["d0"]);
        let p2 = Package2::parse(br#"{"CMD":[["END"]],"Debug":true}"#).unwrap();
        assert_eq!(p2.cmd, vec![Command::End]);
        let p3 = Package3::parse(br#"{"Status":[{"sc":200,"MOS":[]}],"X":0}"#).unwrap();
        assert_eq!(p3.status[0].extra.get("MOS"), Some(&json!([])));
    }

    fn arb_s() -> impl Strategy<Value = String> {
        "\\PC{0,8}"
    }

    fn arb_alert() -> impl Strategy<Value = GenericAlert> {
        let data = prop_oneof![
            Just(json!({})),
            any::<i64>().prop_map(|n| json!({ "n": n })),
            arb_s().prop_map(|s| json!({ "DM1x": s })),
            any::<u16>().prop_map(|n| json!(n)),
        ];
        (arb_s(), proptest::option::of(arb_s()), proptest::option::of(arb_s()), proptest::option::of(arb_s()))
            .prop_flat_map(move |(t, src, tgt, mark)| {
                (proptest::option::of((arb_s(), data.clone())), proptest::option::of(arb_s())).prop_map(
                    move |(with_data, bare_type)| {
                        let mut a = GenericAlert::new(t.clone());
                        a.source_uri = src.clone();
                        a.target_uri = tgt.clone();
                        a.mark = mark.clone();
                        // Data requires DataType; DataType alone is allowed
                        match with_data {
                            Some((dt, d)) => (a.data_type, a.data) = (Some(dt), Some(d)),
                            None => a.data_type = bare_type,
                        }
                        a
                    },
                )
            })
    }

    fn arb_command() -> impl Strategy<Value = Command> {
        let uris = || prop::collection::vec(arb_s(), 1..3);
        prop_oneof![
            (arb_s(), proptest::option::of(arb_s()))
                .prop_map(|(server_uri, client_uri)| Command::Hget { server_uri, client_uri }),
            (arb_s(), uris()).prop_map(|(server_uri, client_uris)| Command::Hput { server_uri, client_uris }),
            (arb_s(), uris()).prop_map(|(server_uri, client_uris)| Command::Hpost { server_uri, client_uris }),
            arb_s().prop_map(|client_uri| Command::Delete { client_uri }),
            (arb_s(), proptest::option::of(arb_s()))
                .prop_map(|(client_uri, server_uri)| Command::Exec { client_uri, server_uri }),
            arb_s().prop_map(|client_uri| Command::Get { client_uri }),
            arb_s().prop_map(|server_uri| Command::Show { server_uri }),
            arb_s().prop_map(|server_uri| Command::Cont { server_uri }),
            Just(Command::End),
            (arb_s(), arb_s()).prop_map(|(moid, server_uri)| Command::Default { moid, server_uri }),
            (arb_s(), arb_s()).prop_map(|(server_uri, client_uri)| Command::Sub { server_uri, client_uri }),
            arb_s().prop_map(|client_uri| Command::Unsub { client_uri }),
        ]
    }

    fn arb_status() -> impl Strategy<Value = StatusEntry> {
        (
            100u16..=999,
            proptest::option::of(prop::collection::vec(arb_s(), 0..3)),
            prop::collection::btree_map(
                "[A-Za-z]{1,6}",
                prop_oneof![arb_s().prop_map(Value::from), any::<i32>().prop_map(Value::from)],
                0..3,
            ),
        )
            .prop_map(|(sc, uri, extra)| StatusEntry {
                sc,
                uri,
                extra: extra.into_iter().filter(|(k, _)| k != "sc" && k != "URI").collect(),
            })
    }

    proptest! {
        #[test]
        fn generic_alert_round_trips(a in arb_alert()) {
            prop_assert_eq!(GenericAlert::from_value(&a.to_json(), "/x"), Ok(a));
        }

        #[test]
        fn package1_round_trips(
            mos in proptest::option::of(prop::collection::vec(
                (proptest::option::of(arb_s()), proptest::option::of(arb_s()), prop::collection::vec(arb_s(), 0..3))
                    .prop_map(|(ddf, moid, miid)| MoEntry { ddf, moid, miid }),
                0..3,
            )),
            alert in proptest::option::of(prop::collection::vec(arb_alert(), 0..3)),
        ) {
            let p = Package1 { mos, alert };
            let bytes = serde_json::to_vec(&p.to_json()).unwrap();
            prop_assert_eq!(Package1::parse(&bytes), Ok(p));
        }

        #[test]
        fn package2_round_trips_any(cmd in prop::collection::vec(arb_command(), 0..6)) {
            let p = Package2 { cmd };
            let bytes = serde_json::to_vec(&p.to_json()).unwrap();
            prop_assert_eq!(Package2::parse(&bytes), Ok(p));
        }

        #[test]
        fn package3_round_trips(
            status in prop::collection::vec(arb_status(), 0..4),
            alert in proptest::option::of(prop::collection::vec(arb_alert(), 0..2)),
        ) {
            let p = Package3 { status, alert };
            let bytes = serde_json::to_vec(&p.to_json()).unwrap();
            prop_assert_eq!(Package3::parse(&bytes), Ok(p));
        }

        #[test]
        fn parsers_never_panic(doc in "\\PC{0,64}") {
            let _ = (Package1::parse(doc.as_bytes()), Package2::parse(doc.as_bytes()), Package3::parse(doc.as_bytes()));
        }
    }
}
