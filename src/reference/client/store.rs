//! The reference client's MO store: provisioned instances with the metadata a client keeps
//! (permanent, executable, exposed), ClientURI resolution over them through the shared
//! `wire::dm2::client_uri` model, and the MO serialization (digest §13.4).
//!
//! The exact provisioned state is documented in the parent module's docs; keep them in sync.
use crate::wire::dm2::client_uri::{self, ClientUri, Segment};
use crate::wire::dm2::mo::{MoInstance, MoNode};
use crate::wire::dm2::profile::InstanceSlash;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const MOID_DEVINFO: &str = "urn:oma:mo:oma-dm-devinfo:1.0";
pub const MOID_DMACC: &str = "urn:oma:mo:oma-dm-dmacc:1.2";
pub const MOID_TEST: &str = "urn:oma:mo:dmcts-test:1.0";
pub const MOID_FUMO: &str = "urn:oma:mo:oma-fumo:1.0";
/// The configuration MO of the reference client's local application: no instance is
/// provisioned, so a local configuration request needs the DEFAULT URI (digest §8.9).
pub const MOID_CONFIG: &str = "urn:oma:mo:dmcts-config:1.0";

/// Why a ClientURI could not be used; each maps to the status code the client reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a ClientURI at all (400).
    #[error("malformed ClientURI {uri:?}: {why}")]
    Malformed { uri: String, why: String },
    /// Well formed but matches nothing, or several targets without a wildcard (404).
    #[error("ClientURI {uri:?} cannot be resolved: {why}")]
    Unresolvable { uri: String, why: String },
    /// Addresses an MO this server has no permission on (the DMAcc) (403).
    #[error("ClientURI {uri:?} addresses an MO the server may not access")]
    Forbidden { uri: String },
}

impl UriError {
    pub fn status(&self) -> u16 {
        match self {
            UriError::Malformed { .. } => 400,
            UriError::Unresolvable { .. } => 404,
            UriError::Forbidden { .. } => 403,
        }
    }
}

/// One MO node: a leaf has a value, an interior node has children.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Option<Value>,
    pub children: BTreeMap<String, Node>,
    /// Cannot be deleted by the server (DELETE gives 405).
    pub permanent: bool,
    /// Executable (EXEC target); the value is the AlertType of its asynchronous result.
    pub exec_alert: Option<String>,
}

impl Node {
    pub(super) fn leaf(v: &str, permanent: bool) -> Node {
        Node { value: Some(Value::String(v.into())), children: BTreeMap::new(), permanent, exec_alert: None }
    }

    pub(super) fn interior(permanent: bool, children: Vec<(&str, Node)>) -> Node {
        Node {
            value: None,
            children: children.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            permanent,
            exec_alert: None,
        }
    }

    pub(super) fn exec(mut self, alert_type: &str) -> Node {
        self.exec_alert = Some(alert_type.into());
        self
    }

    /// The node as MOData: interior nodes become objects keyed by child name.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Some(v) if self.children.is_empty() => v.clone(),
            _ => Value::Object(self.children.iter().map(|(k, n)| (k.clone(), n.to_json())).collect()),
        }
    }

    /// The node in the shared MO model (what ClientURI resolution walks).
    fn to_mo(&self) -> MoNode {
        match self.leaf_string() {
            Some(v) if self.children.is_empty() => MoNode::Leaf(v),
            _ => MoNode::Interior(self.children.iter().map(|(k, c)| (k.clone(), c.to_mo())).collect()),
        }
    }

    /// A dynamic node built from MOData; leaves are stored as strings (digest §21 q18).
    pub fn from_json(v: &Value) -> Node {
        match v {
            Value::Object(o) => Node {
                value: None,
                children: o.iter().map(|(k, c)| (k.clone(), Node::from_json(c))).collect(),
                permanent: false,
                exec_alert: None,
            },
            Value::String(s) => Node::leaf(s, false),
            Value::Null => Node::leaf("", false),
            other => Node::leaf(&other.to_string(), false),
        }
    }

    /// Replaces this node's content by `data`, keeping permanent children (they cannot be
    /// removed) and the node's own permanence and executability.
    pub fn replace_with(&mut self, data: &Value) {
        match data {
            Value::Object(o) => {
                self.value = None;
                self.children.retain(|_, c| c.permanent);
                for (k, v) in o {
                    match self.children.get_mut(k) {
                        Some(c) => c.replace_with(v),
                        None => {
                            self.children.insert(k.clone(), Node::from_json(v));
                        }
                    }
                }
            }
            leaf => {
                let fresh = Node::from_json(leaf);
                self.value = fresh.value;
                self.children.retain(|_, c| c.permanent);
            }
        }
    }

    pub(super) fn leaf_string(&self) -> Option<String> {
        match &self.value {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => Some(v.to_string()),
            None => None,
        }
    }

    fn get_path(&self, path: &[String]) -> Option<&Node> {
        path.iter().try_fold(self, |n, seg| n.children.get(seg))
    }

    fn get_path_mut(&mut self, path: &[String]) -> Option<&mut Node> {
        path.iter().try_fold(self, |n, seg| n.children.get_mut(seg))
    }
}

/// One MO instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub moid: String,
    pub miid: String,
    pub ddf: String,
    /// Name of the MO root node, the top-level key of MOData for the whole instance.
    pub root_name: String,
    pub root: Node,
    /// Provisioned instances cannot be deleted; instances created by HGET can.
    pub permanent: bool,
    /// Listed in MOS and accessible to the server (false for the DMAcc).
    pub exposed: bool,
}

impl Instance {
    pub fn uri(&self) -> String {
        format!("{}/{}/", self.moid, self.miid)
    }
}

/// A resolved ClientURI target: an instance and a node path under its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub instance: usize,
    pub path: Vec<String>,
}

/// The whole store.
#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    pub instances: Vec<Instance>,
    /// Counter for client-assigned MIIDs of instances created by HGET.
    next_miid: u32,
    /// Whether ClientURIs need the "/" after mo-inst (profile client_uri_instance_slash).
    pub instance_slash: InstanceSlash,
}

/// DDF links reported in MOS (links only; nothing fetches them).
fn ddf_of(moid: &str) -> String {
    let name = match moid {
        MOID_DEVINFO => "oma-dm-devinfo-1.0",
        MOID_DMACC => "oma-dm-dmacc-1.2",
        MOID_TEST => "dmcts-test-1.0",
        MOID_FUMO => "oma-fumo-1.0",
        MOID_CONFIG => "dmcts-config-1.0",
        super::scomo::MOID => "oma-scomo-1.0",
        _ => "unknown",
    };
    format!("https://ddf.dmcts.example/{name}.ddf")
}

/// Root node name of the MO types whose instances HGET may create.
fn root_name_of(moid: &str) -> Option<&'static str> {
    match moid {
        MOID_TEST => Some("Test"),
        MOID_FUMO => Some("FUMO"),
        MOID_CONFIG => Some("Config"),
        _ => None,
    }
}

/// Prefix of the MIIDs the client assigns to instances created by HGET.
fn miid_prefix_of(moid: &str) -> &'static str {
    match moid {
        MOID_FUMO => "fw-",
        MOID_CONFIG => "cfg-",
        _ => "t",
    }
}

/// The permanent children an MO type creates together with a new instance (digest §13.1),
/// before the HGET data is stored: a FUMO instance always has its State, Idle (10).
fn instance_template(moid: &str) -> Node {
    match moid {
        MOID_FUMO => Node::interior(false, vec![("State", Node::leaf("10", true))]),
        _ => Node::interior(false, vec![]),
    }
}

/// AlertType of the asynchronous result of an executable node.
pub const ALERT_FUMO_DOWNLOAD_AND_UPDATE: &str = "urn:oma:at:fumo:1.0:DownloadAndUpdate";
pub const ALERT_FUMO_UPDATE: &str = "urn:oma:at:fumo:1.0:Update";
/// FUMO nodes are marked with these; their result alerts follow the profile's `fumo_alert_type_*`
/// (the reference client's FUMO agent, `super::fumo`).
pub const ALERT_FUMO_DOWNLOAD: &str = "urn:oma:at:fumo:1.0:Download";
pub const ALERT_TEST_OP: &str = "urn:oma:at:dmcts-test:1.0:OpComplete";

/// Marks the executable nodes the MO type defines (also on instances created by HGET).
fn mark_exec(moid: &str, root: &mut Node) {
    let marks: &[(&str, &str)] = match moid {
        MOID_FUMO => &[
            ("DownloadAndUpdate", ALERT_FUMO_DOWNLOAD_AND_UPDATE),
            ("Update", ALERT_FUMO_UPDATE),
            ("Download", ALERT_FUMO_DOWNLOAD),
        ],
        MOID_TEST => &[("Op", ALERT_TEST_OP)],
        _ => &[],
    };
    for (name, alert) in marks {
        if let Some(n) = root.children.get_mut(*name) {
            n.exec_alert = Some(alert.to_string());
        }
    }
}

impl Store {
    /// The provisioned state (see the module docs of `reference::client`).
    pub fn provisioned(dev_id: &str, server_id: &str, server_uri: &str, noti: Option<(&[u8], &[u8])>) -> Store {
        let p = |v: &str| Node::leaf(v, true);
        let d = |v: &str| Node::leaf(v, false);
        let devinfo = Node::interior(
            true,
            vec![
                ("DevID", p(dev_id)),
                ("Man", p("dmcts")),
                ("Mod", p("reference-client")),
                ("DmV", p("2.0")),
                ("Lang", p("en-US")),
                ("DevType", p("reference")),
                ("OEM", p("dmcts")),
                ("FwV", p("1.0.0")),
                ("SwV", p("1.0.0")),
                ("HwV", p("1.0")),
            ],
        );
        let (secret, auth) = noti.map(|(s, a)| (hex::encode(s), hex::encode(a))).unwrap_or_default();
        let dmacc = Node::interior(
            true,
            vec![
                ("SrvID", p(server_id)),
                ("SrvURI", p(server_uri)),
                ("Name", p("dmcts reference server account")),
                (
                    "Auth",
                    Node::interior(
                        true,
                        vec![
                            (
                                "Noti",
                                Node::interior(
                                    true,
                                    vec![("Type", p("SHA256")), ("Data", p(&auth)), ("Secret", p(&secret))],
                                ),
                            ),
                            ("Trsp", Node::interior(true, vec![("Data", p("")), ("Secret", p(""))])),
                        ],
                    ),
                ),
            ],
        );
        let item = |name: &str, val: &str| Node::interior(false, vec![("Name", d(name)), ("Val", d(val))]);
        let test0 = Node::interior(
            true,
            vec![
                ("Perm", p("permanent")),
                ("Fixed", Node::interior(true, vec![("Leaf", p("fixed"))])),
                ("Dyn", Node::interior(true, vec![("Item1", item("alpha", "1")), ("Item2", item("beta", "2"))])),
                ("Scratch", d("scratch")),
                ("Op", p("").exec(ALERT_TEST_OP)),
                ("OpCount", p("0")),
            ],
        );
        let test1 = Node::interior(false, vec![("Name", d("second")), ("Val", d("10"))]);
        let fumo = Node::interior(
            true,
            vec![
                ("PkgName", p("base")),
                ("PkgVersion", p("1.0")),
                (
                    "DownloadAndUpdate",
                    Node::interior(true, vec![("PkgURL", p(""))]).exec(ALERT_FUMO_DOWNLOAD_AND_UPDATE),
                ),
                ("Download", Node::interior(true, vec![("PkgURL", p(""))]).exec(ALERT_FUMO_DOWNLOAD)),
                // PkgData holds no value in the tree: the FUMO agent keeps the delivered
                // package's length and digest (it is never held in memory).
                ("Update", Node::interior(true, vec![("PkgData", p(""))]).exec(ALERT_FUMO_UPDATE)),
                ("State", p("10")),
            ],
        );
        let inst = |moid: &str, miid: &str, root_name: &str, root: Node, permanent: bool, exposed: bool| Instance {
            moid: moid.into(),
            miid: miid.into(),
            ddf: ddf_of(moid),
            root_name: root_name.into(),
            root,
            permanent,
            exposed,
        };
        Store {
            instances: vec![
                inst(MOID_DEVINFO, "d0", "DevInfo", devinfo, true, true),
                inst(MOID_DMACC, "acc0", "DMAcc", dmacc, true, false),
                inst(MOID_TEST, "t0", "Test", test0, true, true),
                inst(MOID_TEST, "t1", "Test", test1, false, true),
                inst(MOID_FUMO, "fw-main", "FUMO", fumo, true, true),
                inst(
                    super::scomo::MOID,
                    super::scomo::MIID,
                    super::scomo::ROOT,
                    super::scomo::provisioned_root(),
                    true,
                    true,
                ),
            ],
            next_miid: 2,
            instance_slash: InstanceSlash::Required,
        }
    }

    /// The MOS array of Package#1: one entry per exposed MOID, in provisioning order.
    pub fn mos(&self) -> Vec<crate::wire::dm2::MoEntry> {
        let mut out: Vec<crate::wire::dm2::MoEntry> = Vec::new();
        for i in self.instances.iter().filter(|i| i.exposed) {
            match out.iter_mut().find(|e| e.moid.as_deref() == Some(i.moid.as_str())) {
                Some(e) => e.miid.push(i.miid.clone()),
                None => out.push(crate::wire::dm2::MoEntry {
                    ddf: Some(i.ddf.clone()),
                    moid: Some(i.moid.clone()),
                    miid: vec![i.miid.clone()],
                }),
            }
        }
        out
    }

    /// The MIIDs of every instance of `moid` (exposed or not): what the tree holds of it.
    pub fn miids_of(&self, moid: &str) -> Vec<String> {
        self.instances.iter().filter(|i| i.moid == moid).map(|i| i.miid.clone()).collect()
    }

    /// Resolves a ClientURI to its existing targets with the shared resolver (digest §12.2):
    /// wildcards may yield several, anything else exactly one.
    pub fn resolve(&self, uri: &str) -> Result<Vec<Target>, UriError> {
        let p = ClientUri::parse_with(uri, self.instance_slash)
            .map_err(|e| UriError::Malformed { uri: uri.into(), why: e.to_string() })?;
        self.resolve_parsed(uri, &p)
    }

    fn resolve_parsed(&self, uri: &str, p: &ClientUri) -> Result<Vec<Target>, UriError> {
        if self.instances.iter().any(|i| i.moid == p.moid && !i.exposed) {
            return Err(UriError::Forbidden { uri: uri.into() });
        }
        let view: Vec<MoInstance> = self
            .instances
            .iter()
            .map(|i| MoInstance::new(i.moid.clone(), i.miid.clone(), i.root_name.clone(), i.root.to_mo()))
            .collect();
        client_uri::resolve(p, &view)
            .map(|ts| ts.into_iter().map(|(instance, path)| Target { instance, path }).collect())
            .map_err(|e| UriError::Unresolvable { uri: uri.into(), why: e.to_string() })
    }

    pub fn node(&self, t: &Target) -> Option<&Node> {
        self.instances.get(t.instance)?.root.get_path(&t.path)
    }

    pub fn node_mut(&mut self, t: &Target) -> Option<&mut Node> {
        self.instances.get_mut(t.instance)?.root.get_path_mut(&t.path)
    }

    /// The canonical ClientURI of a target.
    pub fn uri_of(&self, t: &Target) -> String {
        let inst = &self.instances[t.instance];
        let mut s = inst.uri();
        s.push_str(&t.path.join("/"));
        s
    }

    /// One MO-serialization element for a target (digest §13.4).
    pub fn serialize(&self, t: &Target) -> Value {
        let inst = &self.instances[t.instance];
        let name = t.path.last().cloned().unwrap_or_else(|| inst.root_name.clone());
        let data = self.node(t).map(Node::to_json).unwrap_or(Value::Null);
        let mut md = Map::new();
        md.insert(name, data);
        json!({ "DDF": inst.ddf, "ClientURI": self.uri_of(t), "MOData": md })
    }

    /// HGET with a ClientURI: store `elements` (an MO serialization) at the addressed node(s),
    /// replacing what is there; a missing last node under an existing parent is created.
    /// Returns the ClientURIs written.
    pub fn store_at(&mut self, uri: &str, elements: &[Value]) -> Result<Vec<String>, UriError> {
        let p = ClientUri::parse_with(uri, self.instance_slash)
            .map_err(|e| UriError::Malformed { uri: uri.into(), why: e.to_string() })?;
        let data = moddata_of(elements).ok_or_else(|| UriError::Malformed {
            uri: uri.into(),
            why: "the repository body has no MOData to store".into(),
        })?;
        let targets = match self.resolve_parsed(uri, &p) {
            Ok(t) => t,
            Err(e @ UriError::Unresolvable { .. }) => {
                let mut parent = p.clone();
                let Some(Segment::Name(name)) = parent.path.pop() else { return Err(e) };
                let parents = self.resolve_parsed(uri, &parent)?;
                for t in &parents {
                    if let Some(n) = self.node_mut(t) {
                        n.value = None;
                        n.children.insert(name.clone(), Node::from_json(&Value::Null));
                    }
                }
                parents
                    .into_iter()
                    .map(|mut t| {
                        t.path.push(name.clone());
                        t
                    })
                    .collect()
            }
            Err(e) => return Err(e),
        };
        let mut written = Vec::new();
        for t in targets {
            let name = t.path.last().cloned().unwrap_or_else(|| self.instances[t.instance].root_name.clone());
            let content = unwrap_named(data, &name);
            if let Some(n) = self.node_mut(&t) {
                n.replace_with(content);
            }
            // An SCOMO entry the server created gets the nodes the client maintains (digest §3.2).
            if self.instances[t.instance].moid == super::scomo::MOID {
                super::scomo::complete_entries(&mut self.instances[t.instance].root);
            }
            written.push(self.uri_of(&t));
        }
        Ok(written)
    }

    /// HGET without a ClientURI: each element becomes a new instance of the MOID named by its
    /// ClientURI, with a client-assigned MIID. Returns the new instances' ClientURIs.
    pub fn create_instances(&mut self, elements: &[Value]) -> Result<Vec<String>, (u16, String)> {
        let mut created = Vec::new();
        for (i, e) in elements.iter().enumerate() {
            let uri = e.get("ClientURI").and_then(Value::as_str).ok_or((400, format!("/{i}/ClientURI missing")))?;
            let data = e.get("MOData").ok_or((400, format!("/{i}/MOData missing")))?;
            let moid = uri.split('/').next().unwrap_or("");
            let Some(root_name) = root_name_of(moid) else {
                return Err(match self.instances.iter().any(|x| x.moid == moid) {
                    true => (405, format!("instances of {moid} cannot be created")),
                    false => (404, format!("unsupported MOID {moid:?}")),
                });
            };
            let miid = loop {
                let m = format!("{}{}", miid_prefix_of(moid), self.next_miid);
                self.next_miid += 1;
                if !self.instances.iter().any(|x| x.moid == moid && x.miid == m) {
                    break m;
                }
            };
            let mut root = instance_template(moid);
            if let content @ Value::Object(_) = unwrap_named(data, root_name) {
                root.replace_with(content);
            }
            mark_exec(moid, &mut root);
            let inst = Instance {
                moid: moid.into(),
                miid,
                ddf: ddf_of(moid),
                root_name: root_name.into(),
                root,
                permanent: false,
                exposed: true,
            };
            created.push(inst.uri());
            self.instances.push(inst);
        }
        Ok(created)
    }

    /// Whether any target is permanent: a provisioned instance, or a permanent node.
    pub fn is_permanent(&self, targets: &[Target]) -> bool {
        targets.iter().any(|t| match t.path.is_empty() {
            true => self.instances[t.instance].permanent,
            false => self.node(t).is_some_and(|n| n.permanent),
        })
    }

    /// DELETE: 405 when any target is permanent (nothing is deleted then).
    pub fn delete(&mut self, targets: &[Target], allow_permanent: bool) -> u16 {
        if self.is_permanent(targets) && !allow_permanent {
            return 405;
        }
        // Remove deepest/last first so earlier indices stay valid.
        let mut ts = targets.to_vec();
        ts.sort_by(|a, b| b.instance.cmp(&a.instance).then(b.path.len().cmp(&a.path.len())));
        for t in ts {
            match t.path.split_last() {
                None => {
                    self.instances.remove(t.instance);
                }
                Some((last, parent)) => {
                    if let Some(n) = self.instances[t.instance].root.get_path_mut(parent) {
                        n.children.remove(last);
                    }
                }
            }
        }
        200
    }

    /// The package URL an EXEC of this node downloads first: the value of its `PkgURL` child
    /// (FUMO `DownloadAndUpdate`), possibly empty. `None` when the node downloads nothing.
    pub fn download_url(&self, t: &Target) -> Option<String> {
        self.node(t)?.children.get("PkgURL").map(|u| u.leaf_string().unwrap_or_default())
    }

    /// EXEC's effect (documented in the module docs). `download` is the FUMO ResultCode of
    /// the download the node needed (see [`Store::download_url`]), if any. Returns the
    /// operation's ResultCode (200: success), or `None` when the node is not executable.
    pub fn execute(&mut self, t: &Target, download: Option<u16>) -> Option<u16> {
        self.node(t)?.exec_alert.as_ref()?;
        let result = download.unwrap_or(200);
        let inst = &mut self.instances[t.instance];
        match inst.moid.as_str() {
            MOID_TEST => {
                if let Some(c) = inst.root.children.get_mut("OpCount") {
                    let n = c.leaf_string().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
                    c.value = Some(Value::String((n + 1).to_string()));
                }
            }
            MOID_FUMO => {
                // Update Successful / No Data, or Download Failed (FUMO State values).
                if let Some(c) = inst.root.children.get_mut("State") {
                    c.value = Some(Value::String(if result == 200 { "100" } else { "20" }.into()));
                }
            }
            _ => {}
        }
        Some(result)
    }

    /// Whether executing the node is a long operation the client reports asynchronously even
    /// without a ServerURI (digest §8.4: the client decides by the nature of the operation):
    /// the FUMO operations, which download and install firmware.
    pub fn is_long_operation(&self, t: &Target) -> bool {
        self.instances.get(t.instance).is_some_and(|i| i.moid == MOID_FUMO) && self.exec_alert(t).is_some()
    }

    /// The node's async-result AlertType.
    pub fn exec_alert(&self, t: &Target) -> Option<String> {
        self.node(t).and_then(|n| n.exec_alert.clone())
    }
}

/// The MOData to store from an MO serialization body: the first element's MOData.
fn moddata_of(elements: &[Value]) -> Option<&Value> {
    elements.first().and_then(|e| e.get("MOData"))
}

/// MOData is keyed by the node's own name (`{"PkgURL": "..."}`); accept the bare content too.
fn unwrap_named<'a>(data: &'a Value, name: &str) -> &'a Value {
    match data.as_object() {
        Some(o) if o.len() == 1 && o.contains_key(name) => &o[name],
        _ => data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::provisioned("IMEI:1", "dmcts", "http://127.0.0.1:1/dm", Some((b"s", b"a")))
    }

    #[test]
    fn resolves_client_uri_forms() {
        let s = store();
        let one = |u: &str| s.resolve(u).map(|t| t.iter().map(|t| s.uri_of(t)).collect::<Vec<_>>());
        assert_eq!(one("urn:oma:mo:oma-dm-devinfo:1.0//DevID").unwrap(), ["urn:oma:mo:oma-dm-devinfo:1.0/d0/DevID"]);
        assert_eq!(one("urn:oma:mo:dmcts-test:1.0//Perm").unwrap_err().status(), 404);
        assert_eq!(one("urn:oma:mo:dmcts-test:1.0/*/").unwrap().len(), 2);
        assert_eq!(
            one("urn:oma:mo:dmcts-test:1.0/t0/Dyn/(b)/Val?nv=(b)/Name:beta").unwrap(),
            ["urn:oma:mo:dmcts-test:1.0/t0/Dyn/Item2/Val"]
        );
        assert_eq!(one("urn:oma:mo:dmcts-test:1.0/(a)/Val?nv=(a)/Name:second").unwrap().len(), 1);
        assert_eq!(one("urn:oma:mo:dmcts-test:1.0/t0/Dyn/*/Val").unwrap().len(), 2);
        assert_eq!(one("urn:oma:mo:dmcts-test:1.0/t0/(b)/").unwrap_err().status(), 400);
        assert_eq!(one("urn:oma:mo:oma-dm-dmacc:1.2/acc0/SrvID").unwrap_err().status(), 403);
        assert_eq!(one("nothing").unwrap_err().status(), 400);
    }

    #[test]
    fn delete_respects_permanence() {
        let mut s = store();
        let t = s.resolve("urn:oma:mo:dmcts-test:1.0/t0/Perm").unwrap();
        assert_eq!(s.delete(&t, false), 405);
        let t = s.resolve("urn:oma:mo:dmcts-test:1.0/t0/Dyn/Item1").unwrap();
        assert_eq!(s.delete(&t, false), 200);
        assert!(s.resolve("urn:oma:mo:dmcts-test:1.0/t0/Dyn/Item1").is_err());
        let t = s.resolve("urn:oma:mo:dmcts-test:1.0/t1/").unwrap();
        assert_eq!(s.delete(&t, false), 200);
        assert_eq!(s.mos()[1].miid, ["t0"]);
    }

    /// The `[pixit.mo]` defaults proposed for a typical DM 2.0 tree (DevInfo and one FUMO
    /// instance) work on the reference tree as the cases use them.
    #[test]
    fn typical_tree_defaults_work() {
        let mut s = store();
        let devinfo = "urn:oma:mo:oma-dm-devinfo:1.0";
        let fumo = "urn:oma:mo:oma-fumo:1.0";
        let uris = |s: &Store, u: &str| s.resolve(u).map(|t| t.iter().map(|t| s.uri_of(t)).collect::<Vec<_>>());
        // devid_uri, and upload_uri: the DevInfo instance by its empty MIID.
        assert_eq!(uris(&s, &format!("{devinfo}//DevID")).unwrap(), [format!("{devinfo}/d0/DevID")]);
        let up = s.resolve(&format!("{devinfo}//")).unwrap();
        assert_eq!(s.serialize(&up[0])["MOData"]["DevInfo"]["DevID"], json!("IMEI:1"));
        // permanent_uri: a DevInfo leaf cannot be deleted.
        let man = s.resolve(&format!("{devinfo}//Man")).unwrap();
        assert_eq!(s.delete(&man, false), 405);
        // replace_uri / replace_value: HGET with a ClientURI replaces PkgURL.
        let pkg = format!("{fumo}//DownloadAndUpdate/PkgURL");
        let body = vec![json!({"ClientURI": pkg, "MOData": {"PkgURL": "http://dmcts.invalid/fw/replaced.bin"}})];
        assert_eq!(s.store_at(&pkg, &body).unwrap(), [format!("{fumo}/fw-main/DownloadAndUpdate/PkgURL")]);
        let t = s.resolve(&pkg).unwrap();
        assert_eq!(
            s.download_url(&s.resolve(&format!("{fumo}//DownloadAndUpdate")).unwrap()[0]).unwrap(),
            "http://dmcts.invalid/fw/replaced.bin"
        );
        assert_eq!(s.serialize(&t[0])["MOData"], json!({"PkgURL": "http://dmcts.invalid/fw/replaced.bin"}));
        // instance_moid / instance_data: HGET without a ClientURI creates a FUMO instance with
        // its permanent State; it is dynamic (DELETE removes it) and its DownloadAndUpdate runs.
        let data = json!({"FUMO": {"DownloadAndUpdate": {"PkgURL": "http://dmcts.invalid/fw/created.bin"}}});
        let created = s.create_instances(&[json!({"ClientURI": format!("{fumo}//"), "MOData": data})]).unwrap();
        assert_eq!(created, [format!("{fumo}/fw-2/")]);
        let inst = s.resolve(&created[0]).unwrap();
        assert_eq!(
            s.serialize(&inst[0])["MOData"],
            json!({"FUMO": {"State": "10", "DownloadAndUpdate": {"PkgURL": "http://dmcts.invalid/fw/created.bin"}}})
        );
        let state = s.resolve(&format!("{fumo}/fw-2/State")).unwrap();
        assert_eq!(s.delete(&state, false), 405, "State came with the instance: permanent");
        let dlu = s.resolve(&format!("{fumo}/fw-2/DownloadAndUpdate")).unwrap();
        assert_eq!(s.exec_alert(&dlu[0]).as_deref(), Some(ALERT_FUMO_DOWNLOAD_AND_UPDATE));
        assert_eq!(s.delete(&inst, false), 200);
        assert_eq!(s.miids_of(fumo), ["fw-main"]);
        // exec_uri: DownloadAndUpdate downloads PkgURL; its outcome sets State.
        let dlu = s.resolve(&format!("{fumo}//DownloadAndUpdate")).unwrap();
        let state = s.resolve(&format!("{fumo}//State")).unwrap();
        assert_eq!(s.execute(&dlu[0], Some(503)), Some(503));
        assert_eq!(s.node(&state[0]).unwrap().to_json(), json!("20"), "Download Failed");
        assert_eq!(s.execute(&dlu[0], Some(200)), Some(200));
        assert_eq!(s.node(&state[0]).unwrap().to_json(), json!("100"), "Update Successful");
        assert_eq!(s.execute(&state[0], None), None, "State is not executable");
    }

    #[test]
    fn config_mo_has_no_instance_until_fetched() {
        let mut s = store();
        assert!(s.miids_of(MOID_CONFIG).is_empty());
        assert!(s.mos().iter().all(|e| e.moid.as_deref() != Some(MOID_CONFIG)));
        let body = vec![json!({"ClientURI": format!("{MOID_CONFIG}/x/"), "MOData": {"Config": {"Name": "n"}}})];
        assert_eq!(s.create_instances(&body).unwrap(), [format!("{MOID_CONFIG}/cfg-2/")]);
        assert_eq!(s.miids_of(MOID_CONFIG), ["cfg-2"]);
    }

    #[test]
    fn hget_stores_and_creates() {
        let mut s = store();
        let body = vec![json!({"ClientURI": "x", "MOData": {"PkgURL": "http://fw"}})];
        let w = s.store_at("urn:oma:mo:oma-fumo:1.0/fw-main/DownloadAndUpdate/PkgURL", &body).unwrap();
        assert_eq!(w, ["urn:oma:mo:oma-fumo:1.0/fw-main/DownloadAndUpdate/PkgURL"]);
        let t = s.resolve(&w[0]).unwrap();
        assert_eq!(s.node(&t[0]).unwrap().to_json(), json!("http://fw"));
        let body = vec![json!({"ClientURI": "urn:oma:mo:oma-fumo:1.0/x/", "MOData": {"FUMO": {"State": "10"}}})];
        let c = s.create_instances(&body).unwrap();
        assert_eq!(c, ["urn:oma:mo:oma-fumo:1.0/fw-2/"]);
        assert_eq!(s.serialize(&s.resolve(&c[0]).unwrap()[0])["MOData"], json!({"FUMO": {"State": "10"}}));
    }
}
