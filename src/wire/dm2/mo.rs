//! Management Object instances in memory, and the MO serialization of digest §13.4.
//!
//! An MO instance is addressed per (MOID, MIID); its root node carries the MO's root name
//! (e.g. `FUMO`), which appears only as the top-level `MOData` key when the whole instance is
//! serialized. ClientURI paths start at the root's children (digest §12.2 worked example).
//!
//! The serialization is a JSON array of `{DDF?, ClientURI, CV?, MOData}`. Parsing is strict on
//! types (errors carry a JSON pointer) and tolerant of unknown members. Leaf values may arrive
//! as JSON numbers or booleans; they are kept as their JSON text and always emitted as strings
//! (digest §21 q18 default).
use super::client_uri::ClientUri;
use super::package::{type_name, WireError};
use super::profile::InstanceSlash;
use serde_json::{Map, Value};

/// One node of an MO instance: interior (ordered children, no value) or leaf (a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoNode {
    Interior(Vec<(String, MoNode)>),
    Leaf(String),
}

/// Escapes one JSON-pointer reference token (RFC 6901).
pub(crate) fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

impl MoNode {
    /// An interior node from (name, child) pairs, in order.
    pub fn interior<N: Into<String>>(children: impl IntoIterator<Item = (N, MoNode)>) -> MoNode {
        MoNode::Interior(children.into_iter().map(|(n, c)| (n.into(), c)).collect())
    }

    pub fn leaf(value: impl Into<String>) -> MoNode {
        MoNode::Leaf(value.into())
    }

    /// The value of a leaf; `None` for an interior node.
    pub fn value(&self) -> Option<&str> {
        match self {
            MoNode::Leaf(v) => Some(v),
            MoNode::Interior(_) => None,
        }
    }

    /// The children of an interior node (empty for a leaf).
    pub fn children(&self) -> &[(String, MoNode)] {
        match self {
            MoNode::Interior(c) => c,
            MoNode::Leaf(_) => &[],
        }
    }

    pub fn child(&self, name: &str) -> Option<&MoNode> {
        self.children().iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut MoNode> {
        match self {
            MoNode::Interior(c) => c.iter_mut().find(|(n, _)| n == name).map(|(_, c)| c),
            MoNode::Leaf(_) => None,
        }
    }

    /// The node at `path` below this one (`[]` is this node).
    pub fn at<S: AsRef<str>>(&self, path: &[S]) -> Option<&MoNode> {
        path.iter().try_fold(self, |n, seg| n.child(seg.as_ref()))
    }

    pub fn at_mut<S: AsRef<str>>(&mut self, path: &[S]) -> Option<&mut MoNode> {
        path.iter().try_fold(self, |n, seg| n.child_mut(seg.as_ref()))
    }

    /// Puts `node` at `path` (replacing what is there), creating missing interior parents.
    /// Fails when a parent on the way is a leaf; `path` must not be empty.
    pub fn set<S: AsRef<str>>(&mut self, path: &[S], node: MoNode) -> Result<(), String> {
        let Some((last, parents)) = path.split_last() else {
            *self = node;
            return Ok(());
        };
        let mut cur = self;
        for (i, seg) in parents.iter().enumerate() {
            let MoNode::Interior(children) = cur else {
                return Err(format!("node {:?} is a leaf", path[..i].iter().map(|s| s.as_ref()).collect::<Vec<_>>()));
            };
            let idx = match children.iter().position(|(n, _)| n == seg.as_ref()) {
                Some(i) => i,
                None => {
                    children.push((seg.as_ref().to_string(), MoNode::Interior(Vec::new())));
                    children.len() - 1
                }
            };
            cur = &mut children[idx].1;
        }
        let MoNode::Interior(children) = cur else {
            return Err(format!("node {:?} is a leaf", parents.iter().map(|s| s.as_ref()).collect::<Vec<_>>()));
        };
        match children.iter_mut().find(|(n, _)| n == last.as_ref()) {
            Some((_, c)) => *c = node,
            None => children.push((last.as_ref().to_string(), node)),
        }
        Ok(())
    }

    /// Removes and returns the node at `path` (not the node itself: `path` must not be empty).
    pub fn remove<S: AsRef<str>>(&mut self, path: &[S]) -> Option<MoNode> {
        let (last, parents) = path.split_last()?;
        let MoNode::Interior(children) = self.at_mut(parents)? else { return None };
        let idx = children.iter().position(|(n, _)| n == last.as_ref())?;
        Some(children.remove(idx).1)
    }

    /// `MOData` JSON of this node's content: interior → object, leaf → string.
    pub fn to_json(&self) -> Value {
        match self {
            MoNode::Leaf(v) => Value::String(v.clone()),
            MoNode::Interior(c) => Value::Object(c.iter().map(|(n, c)| (n.clone(), c.to_json())).collect()),
        }
    }

    /// Parses `MOData` JSON at `pointer`: objects are interior nodes, strings leaves; numbers
    /// and booleans are accepted as leaves holding their JSON text.
    pub fn from_json(v: &Value, pointer: &str) -> Result<MoNode, WireError> {
        match v {
            Value::String(s) => Ok(MoNode::Leaf(s.clone())),
            Value::Number(n) => Ok(MoNode::Leaf(n.to_string())),
            Value::Bool(b) => Ok(MoNode::Leaf(b.to_string())),
            Value::Object(o) => o
                .iter()
                .map(|(k, c)| Ok((k.clone(), MoNode::from_json(c, &format!("{pointer}/{}", pointer_token(k)))?)))
                .collect::<Result<_, _>>()
                .map(MoNode::Interior),
            other => Err(WireError::new(
                pointer,
                "an MO node: an object (interior) or a string (leaf; numbers and booleans accepted)",
                type_name(other),
            )),
        }
    }
}

/// One MO instance held by a client: the pair (MOID, MIID) identifies it (digest §12.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoInstance {
    pub moid: String,
    pub miid: String,
    /// Name of the MO root node (e.g. `DevInfo`, `FUMO`): the `MOData` key when the whole
    /// instance is serialized. Not part of ClientURI paths.
    pub root_name: String,
    pub root: MoNode,
}

impl MoInstance {
    pub fn new(moid: impl Into<String>, miid: impl Into<String>, root_name: impl Into<String>, root: MoNode) -> Self {
        MoInstance { moid: moid.into(), miid: miid.into(), root_name: root_name.into(), root }
    }

    /// The node at a resolved path (see [`super::client_uri::resolve`]).
    pub fn node<S: AsRef<str>>(&self, path: &[S]) -> Option<&MoNode> {
        self.root.at(path)
    }

    /// Serializes the node at `path` as one MO serialization element: `MOData` is keyed by
    /// the node's name (the root name for the instance root). `None` if no node is there.
    pub fn serialize<S: AsRef<str>>(&self, path: &[S], client_uri: impl Into<String>) -> Option<SerializedMo> {
        let node = self.node(path)?;
        let name = path.last().map_or(self.root_name.as_str(), |s| s.as_ref());
        Some(SerializedMo {
            ddf: None,
            client_uri: client_uri.into(),
            cv: None,
            mo_data: vec![(name.to_string(), node.clone())],
        })
    }
}

/// One element of the MO serialization array (digest §13.4, example §19.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializedMo {
    pub ddf: Option<String>,
    /// Address of the serialized instance or subtree (checked against the §12.2 grammar on parse).
    pub client_uri: String,
    /// Cache validator of the instance (§13.5).
    pub cv: Option<String>,
    /// The `MOData` object's members: normally one, keyed by the serialized node's name.
    pub mo_data: Vec<(String, MoNode)>,
}

impl SerializedMo {
    /// Parses a whole MO serialization document (a JSON array); same as [`parse_serialization`].
    pub fn parse(bytes: &[u8]) -> Result<Vec<SerializedMo>, WireError> {
        parse_serialization(bytes)
    }

    /// Encodes a whole MO serialization document; same as [`encode_serialization`].
    pub fn encode(items: &[SerializedMo]) -> Value {
        encode_serialization(items)
    }

    /// Strict parse of one element at `pointer`. Unknown members are ignored.
    pub fn from_value(v: &Value, pointer: &str) -> Result<SerializedMo, WireError> {
        SerializedMo::from_value_with(v, pointer, InstanceSlash::Required)
    }

    /// [`SerializedMo::from_value`] with the profile's rule for the "/" after mo-inst.
    pub fn from_value_with(v: &Value, pointer: &str, slash: InstanceSlash) -> Result<SerializedMo, WireError> {
        let o = v.as_object().ok_or_else(|| WireError::new(pointer, "an MO serialization object", type_name(v)))?;
        let opt_string = |key: &str| -> Result<Option<String>, WireError> {
            match o.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(WireError::new(format!("{pointer}/{key}"), "a string", type_name(other))),
            }
        };
        let client_uri = opt_string("ClientURI")?.ok_or_else(|| {
            WireError::new(format!("{pointer}/ClientURI"), "the required ClientURI string", "nothing")
        })?;
        if let Err(e) = ClientUri::parse_with(&client_uri, slash) {
            return Err(WireError::new(
                format!("{pointer}/ClientURI"),
                format!("a ClientURI (digest §12.2): {} at char {}", e.expected, e.offset),
                format!("{client_uri:?}"),
            ));
        }
        let md_ptr = format!("{pointer}/MOData");
        let mo_data = match o.get("MOData") {
            None => return Err(WireError::new(md_ptr, "the required MOData object", "nothing")),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, c)| Ok((k.clone(), MoNode::from_json(c, &format!("{md_ptr}/{}", pointer_token(k)))?)))
                .collect::<Result<_, WireError>>()?,
            Some(other) => return Err(WireError::new(md_ptr, "an object", type_name(other))),
        };
        Ok(SerializedMo { ddf: opt_string("DDF")?, client_uri, cv: opt_string("CV")?, mo_data })
    }

    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(d) = &self.ddf {
            o.insert("DDF".into(), Value::String(d.clone()));
        }
        o.insert("ClientURI".into(), Value::String(self.client_uri.clone()));
        if let Some(cv) = &self.cv {
            o.insert("CV".into(), Value::String(cv.clone()));
        }
        o.insert("MOData".into(), MoNode::Interior(self.mo_data.clone()).to_json());
        Value::Object(o)
    }

    /// The single (name, node) of `MOData`, when it has exactly one member.
    pub fn single(&self) -> Option<(&str, &MoNode)> {
        match self.mo_data.as_slice() {
            [(n, node)] => Some((n, node)),
            _ => None,
        }
    }
}

/// Parses an MO serialization document (HGET response body, HPUT/HPOST body).
pub fn parse_serialization(bytes: &[u8]) -> Result<Vec<SerializedMo>, WireError> {
    parse_serialization_with(bytes, InstanceSlash::Required)
}

/// [`parse_serialization`] with the profile's rule for the "/" after mo-inst in ClientURIs.
pub fn parse_serialization_with(bytes: &[u8], slash: InstanceSlash) -> Result<Vec<SerializedMo>, WireError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        WireError::new("", "a JSON document", format!("invalid JSON at line {} column {}: {e}", e.line(), e.column()))
    })?;
    let arr = doc.as_array().ok_or_else(|| WireError::new("", "an MO serialization array", type_name(&doc)))?;
    arr.iter().enumerate().map(|(i, e)| SerializedMo::from_value_with(e, &format!("/{i}"), slash)).collect()
}

/// Parses an already-decoded MO serialization array (e.g. the `MOS` member of a GET status).
pub fn serialization_from_value(doc: &Value) -> Result<Vec<SerializedMo>, WireError> {
    let arr = doc.as_array().ok_or_else(|| WireError::new("", "an MO serialization array", type_name(doc)))?;
    arr.iter().enumerate().map(|(i, e)| SerializedMo::from_value(e, &format!("/{i}"))).collect()
}

/// Encodes an MO serialization document.
pub fn encode_serialization(items: &[SerializedMo]) -> Value {
    Value::Array(items.iter().map(SerializedMo::to_json).collect())
}

/// JSON pointers (relative to `MOData`) of leaves that were not JSON strings: accepted on
/// input (§21 q18) but worth recording as informational evidence.
pub fn non_string_leaves(mo_data: &Value) -> Vec<String> {
    fn walk(v: &Value, ptr: String, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => o.iter().for_each(|(k, c)| walk(c, format!("{ptr}/{}", pointer_token(k)), out)),
            Value::String(_) => {}
            _ => out.push(ptr),
        }
    }
    let mut out = Vec::new();
    walk(mo_data, String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The digest's §19.7 example.
    const EXAMPLE: &str = r#"[
      { "DDF": "https://ddf.example.test/fumo-1.0.ddf",
        "ClientURI": "urn:oma:mo:oma-fumo:1.0/fw-main/",
        "CV": "rev-0042",
        "MOData": { "FUMO": { "PkgName": "base", "PkgVersion": "2.1",
                              "DownloadAndUpdate": { "PkgURL": "https://fw.example.test/2.1.bin" },
                              "State": "10" } } }
    ]"#;

    #[test]
    fn parses_and_reencodes_the_digest_example() {
        let items = parse_serialization(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(items.len(), 1);
        let (name, root) = items[0].single().unwrap();
        assert_eq!(name, "FUMO");
        assert_eq!(root.at(&["DownloadAndUpdate", "PkgURL"]).unwrap().value(), Some("https://fw.example.test/2.1.bin"));
        assert_eq!(items[0].cv.as_deref(), Some("rev-0042"));
        let back = encode_serialization(&items);
        assert_eq!(back, serde_json::from_str::<Value>(EXAMPLE).unwrap());
    }

    #[test]
    fn numbers_and_booleans_become_string_leaves() {
        let doc = br#"[{"ClientURI":"urn:x:mo:a:1.0/i/","MOData":{"A":{"n":5,"f":1.5,"b":true}},"Extra":1}]"#;
        let items = parse_serialization(doc).unwrap();
        let root = items[0].single().unwrap().1;
        assert_eq!(root.child("n").unwrap().value(), Some("5"));
        assert_eq!(root.child("f").unwrap().value(), Some("1.5"));
        assert_eq!(root.child("b").unwrap().value(), Some("true"));
        assert_eq!(items[0].to_json()["MOData"]["A"]["n"], Value::String("5".into()));
        let v: Value = serde_json::from_slice(doc).unwrap();
        assert_eq!(non_string_leaves(&v[0]["MOData"]), vec!["/A/n", "/A/f", "/A/b"]);
    }

    #[test]
    fn errors_carry_json_pointers() {
        let cases: [(&[u8], &str); 8] = [
            (b"{}", ""),
            (b"[5]", "/0"),
            (br#"[{"MOData":{}}]"#, "/0/ClientURI"),
            (br#"[{"ClientURI":7,"MOData":{}}]"#, "/0/ClientURI"),
            (br#"[{"ClientURI":"no-urn/x/","MOData":{}}]"#, "/0/ClientURI"),
            (br#"[{"ClientURI":"urn:a:b/i/"}]"#, "/0/MOData"),
            (br#"[{"ClientURI":"urn:a:b/i/","MOData":{"A":{"a/b":[1]}}}]"#, "/0/MOData/A/a~1b"),
            (br#"[{"ClientURI":"urn:a:b/i/","MOData":{},"CV":1}]"#, "/0/CV"),
        ];
        for (doc, ptr) in cases {
            let e = parse_serialization(doc).unwrap_err();
            assert_eq!(e.pointer, ptr, "{}: {e}", String::from_utf8_lossy(doc));
        }
        assert!(parse_serialization(b"[").unwrap_err().found.contains("line 1"));
    }

    #[test]
    fn tree_edits() {
        let mut root = MoNode::interior([("ID", MoNode::leaf("Temp"))]);
        root.set(&["Log", "1", "Ts"], MoNode::leaf("100")).unwrap();
        assert_eq!(root.at(&["Log", "1", "Ts"]).unwrap().value(), Some("100"));
        root.set(&["ID"], MoNode::leaf("Hum")).unwrap();
        assert_eq!(root.child("ID").unwrap().value(), Some("Hum"));
        assert!(root.set(&["ID", "x"], MoNode::leaf("1")).is_err());
        assert_eq!(root.remove(&["Log", "1"]).unwrap().child("Ts").unwrap().value(), Some("100"));
        assert!(root.at(&["Log", "1"]).is_none());
        let inst = MoInstance::new("urn:x:mo:s:1.0", "s1", "Sensor", root);
        let whole = inst.serialize::<&str>(&[], "urn:x:mo:s:1.0/s1/").unwrap();
        assert_eq!(whole.single().unwrap().0, "Sensor");
        let id = inst.serialize(&["ID"], "urn:x:mo:s:1.0/s1/ID").unwrap();
        assert_eq!(id.to_json()["MOData"], serde_json::json!({"ID": "Hum"}));
        assert!(inst.serialize(&["Nope"], "u").is_none());
    }

    fn arb_node() -> impl Strategy<Value = MoNode> {
        let leaf = "[ -~]{0,8}".prop_map(MoNode::Leaf);
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map("[A-Za-z0-9_]{1,6}", inner, 0..4)
                .prop_map(|m| MoNode::Interior(m.into_iter().collect()))
        })
    }

    proptest! {
        #[test]
        fn serialization_round_trips(
            data in prop::collection::btree_map("[A-Za-z]{1,6}", arb_node(), 0..3),
            ddf in proptest::option::of("[a-z:/.]{1,12}"),
            cv in proptest::option::of("[ -~]{0,8}"),
        ) {
            let item = SerializedMo {
                ddf, client_uri: "urn:oma:mo:test:1.0/i1/".into(), cv, mo_data: data.into_iter().collect(),
            };
            let bytes = serde_json::to_vec(&encode_serialization(std::slice::from_ref(&item))).unwrap();
            prop_assert_eq!(parse_serialization(&bytes).unwrap(), vec![item]);
        }
    }
}
