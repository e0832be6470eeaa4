//! The reference DM 1.2 client's management tree (digest §11), in memory: URIs relative to
//! the root `.`, interior nodes and leaves, permanent and read-only nodes, and the tree
//! operations with the status codes of digest §4 (the command layer in `exec.rs` adds the
//! protocol around them).
use std::collections::BTreeMap;

/// One node. A leaf has a value; an interior node has none (Format `node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `None`: interior node.
    pub value: Option<Vec<u8>>,
    /// Meta Format (`node` for interior nodes, `chr` by default for leaves).
    pub format: String,
    pub r#type: Option<String>,
    /// Cannot be deleted (digest §4.5: 405).
    pub permanent: bool,
    /// Get only: Add below, Replace and Delete are refused with 405 (DevInfo, DevDetail).
    pub read_only: bool,
    /// Exec runs it.
    pub executable: bool,
}

impl Node {
    pub fn leaf(value: &str) -> Node {
        Node {
            value: Some(value.as_bytes().to_vec()),
            format: "chr".into(),
            r#type: Some("text/plain".into()),
            permanent: false,
            read_only: false,
            executable: false,
        }
    }

    pub fn interior() -> Node {
        Node { value: None, format: "node".into(), r#type: None, permanent: false, read_only: false, executable: false }
    }

    pub fn permanent(mut self) -> Node {
        self.permanent = true;
        self
    }

    fn read_only(mut self) -> Node {
        self.permanent = true;
        self.read_only = true;
        self
    }

    pub fn is_interior(&self) -> bool {
        self.value.is_none()
    }
}

/// The tree: node path (`DevInfo/DevId`; the root is ``) → node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

/// What the provisioned tree holds besides constants.
pub struct Provision<'a> {
    pub dev_id: &'a str,
    pub server_id: &'a str,
    pub server_uri: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub server_password: &'a str,
}

/// DevInfo values (digest §11.5); DevId comes from the configuration.
pub const MAN: &str = "dmcts";
pub const MOD: &str = "reference-dm12-client";
pub const DMV: &str = "1.2";
pub const LANG: &str = "en-US";
/// The asynchronous executable node (Exec with Correlator → 202, then a Generic Alert).
pub const EXEC_NODE: &str = "./Vendor/Exec";

/// A URI as a tree path: `./A/B`, `A/B` and `A/B/` are `A/B`; `.` is the root ``. Properties
/// and `?list=` are not supported (406); empty, `.` and `..` segments resolve nowhere (404).
pub fn path_of(uri: &str) -> Result<String, u16> {
    if uri.contains('?') {
        return Err(406);
    }
    let u = uri.trim();
    if u == "." || u == "./" {
        return Ok(String::new());
    }
    let u = u.strip_prefix("./").unwrap_or(u);
    let u = u.strip_suffix('/').unwrap_or(u);
    if u.is_empty() || u.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(404);
    }
    Ok(u.to_string())
}

fn parent_of(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('/').map(|(p, _)| p).unwrap_or(""))
}

impl Tree {
    /// The tree as provisioned (what `reset` restores).
    pub fn provisioned(p: &Provision) -> Tree {
        let mut nodes = BTreeMap::new();
        let mut put = |path: &str, n: Node| {
            nodes.insert(path.to_string(), n);
        };
        put("", Node::interior().read_only());
        put("DevInfo", Node::interior().read_only());
        for (name, v) in [("DevId", p.dev_id), ("Man", MAN), ("Mod", MOD), ("DmV", DMV), ("Lang", LANG)] {
            put(&format!("DevInfo/{name}"), Node::leaf(v).read_only());
        }
        put("DevDetail", Node::interior().read_only());
        for (name, v) in [
            ("DevTyp", "reference"),
            ("OEM", "dmcts"),
            ("FwV", "1.0.0"),
            ("SwV", "1.0.0"),
            ("HwV", "1.0"),
            ("LrgObj", "true"),
        ] {
            put(&format!("DevDetail/{name}"), Node::leaf(v).read_only());
        }
        put("DevDetail/URI", Node::interior().read_only());
        for (name, v) in [("MaxDepth", "0"), ("MaxTotLen", "0"), ("MaxSegLen", "0")] {
            put(&format!("DevDetail/URI/{name}"), Node::leaf(v).read_only());
        }
        put("DMAcc", Node::interior().permanent());
        let acc = "DMAcc/dmcts";
        put(acc, Node::interior().permanent());
        for (name, v) in [("AppID", "w7"), ("ServerID", p.server_id), ("Name", "dmcts"), ("PrefConRef", "")] {
            put(&format!("{acc}/{name}"), Node::leaf(v));
        }
        for n in ["AppAddr", "AppAddr/1", "AppAuth", "AppAuth/1", "AppAuth/2"] {
            put(&format!("{acc}/{n}"), Node::interior());
        }
        put(&format!("{acc}/AppAddr/1/Addr"), Node::leaf(p.server_uri));
        put(&format!("{acc}/AppAddr/1/AddrType"), Node::leaf("URI"));
        for (x, level, name, secret) in
            [("1", "CLCRED", p.username, p.password), ("2", "SRVCRED", p.server_id, p.server_password)]
        {
            put(&format!("{acc}/AppAuth/{x}/AAuthLevel"), Node::leaf(level));
            put(&format!("{acc}/AppAuth/{x}/AAuthType"), Node::leaf("DIGEST"));
            put(&format!("{acc}/AppAuth/{x}/AAuthName"), Node::leaf(name));
            put(&format!("{acc}/AppAuth/{x}/AAuthSecret"), Node::leaf(secret));
            put(&format!("{acc}/AppAuth/{x}/AAuthData"), Node::leaf(""));
        }
        put("dmcts", Node::interior().permanent());
        put("dmcts/Leaf", Node::leaf("one"));
        put("dmcts/Perm", Node::leaf("permanent").permanent());
        put("dmcts/Interior", Node::interior());
        put("dmcts/Interior/A", Node::leaf("a"));
        put("dmcts/Interior/B", Node::leaf("b"));
        put("Vendor", Node::interior().permanent());
        let exec = path_of(EXEC_NODE).expect("a valid URI");
        put(&exec, Node { executable: true, ..Node::leaf("").permanent() });
        let mut t = Tree { nodes };
        super::enablers::provision(&mut t);
        super::gateway::provision(&mut t);
        t
    }

    /// Sets the node at `path` as is (the MOs' own bookkeeping; no protocol rule applies).
    pub fn insert(&mut self, path: &str, node: Node) {
        self.nodes.insert(path.to_string(), node);
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Child names of an interior node, in name order.
    pub fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
        self.nodes
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// Whether a node may be created at `path`: the nearest existing ancestor is interior and
    /// writable (missing interior ancestors are created implicitly, digest §4.1).
    fn creatable(&self, path: &str) -> Result<(), u16> {
        let mut p = parent_of(path);
        while let Some(a) = p {
            if let Some(n) = self.nodes.get(a) {
                return if n.is_interior() && !n.read_only { Ok(()) } else { Err(405) };
            }
            p = parent_of(a);
        }
        Err(404)
    }

    fn create_ancestors(&mut self, path: &str) {
        let mut p = parent_of(path);
        while let Some(a) = p {
            if self.nodes.contains_key(a) {
                break;
            }
            self.nodes.insert(a.to_string(), Node::interior());
            p = parent_of(a);
        }
    }

    /// Add: 418 when the node exists, 405 below a leaf or a read-only node, else 200.
    pub fn add(&mut self, path: &str, value: Option<Vec<u8>>, format: Option<&str>, r#type: Option<&str>) -> u16 {
        if self.nodes.contains_key(path) {
            return 418;
        }
        self.put(path, value, format, r#type)
    }

    /// Add without the 418 check (the fault `add-existing-200` overwrites).
    pub fn put(&mut self, path: &str, value: Option<Vec<u8>>, format: Option<&str>, r#type: Option<&str>) -> u16 {
        if let Some(n) = self.nodes.get(path) {
            if n.read_only {
                return 405;
            }
        } else if let Err(code) = self.creatable(path) {
            return code;
        }
        self.create_ancestors(path);
        let node = match value {
            None => Node::interior(),
            Some(v) => Node {
                value: Some(v),
                format: format.unwrap_or("chr").to_string(),
                r#type: r#type.map(str::to_string),
                ..Node::leaf("")
            },
        };
        let permanent = self.nodes.get(path).is_some_and(|n| n.permanent);
        self.nodes.insert(path.to_string(), Node { permanent, ..node });
        200
    }

    /// Replace of a leaf's value: 404 missing, 405 read-only or interior, else 200.
    pub fn replace(&mut self, path: &str, value: Vec<u8>, format: Option<&str>, r#type: Option<&str>) -> u16 {
        let Some(n) = self.nodes.get_mut(path) else { return 404 };
        if n.read_only || n.is_interior() {
            return 405;
        }
        n.value = Some(value);
        n.format = format.unwrap_or("chr").to_string();
        n.r#type = r#type.map(str::to_string);
        200
    }

    /// Delete of a node and its subtree: 404 missing, 405 root, permanent or read-only (or a
    /// permanent node inside the subtree), else 200. `force`: the fault deleting permanent nodes.
    pub fn delete(&mut self, path: &str, force: bool) -> u16 {
        if path.is_empty() {
            return 405;
        }
        let Some(n) = self.nodes.get(path) else { return 404 };
        let prefix = format!("{path}/");
        let subtree: Vec<String> =
            self.nodes.keys().filter(|k| *k == path || k.starts_with(&prefix)).cloned().collect();
        if !force && (n.permanent || subtree.iter().any(|k| self.nodes[k].permanent)) {
            return 405;
        }
        for k in subtree {
            self.nodes.remove(&k);
        }
        200
    }

    /// Copy of a leaf's value onto another leaf (digest §4.4: the source value overwrites the
    /// target; a missing target leaf is created): 404 source missing, 405 interior source or
    /// target, read-only target.
    pub fn copy(&mut self, target: &str, source: &str) -> u16 {
        let Some(src) = self.nodes.get(source).cloned() else { return 404 };
        if src.is_interior() {
            return 405;
        }
        match self.nodes.get(target) {
            Some(t) if t.is_interior() || t.read_only => 405,
            Some(_) => self.replace(target, src.value.unwrap_or_default(), Some(&src.format), src.r#type.as_deref()),
            None => self.add(target, src.value, Some(&src.format), src.r#type.as_deref()),
        }
    }
}

/// The provisioned tree of a made-up device, for the unit tests of the tree and the MOs on it.
#[cfg(test)]
pub(super) fn for_tests() -> Tree {
    Tree::provisioned(&Provision {
        dev_id: "IMEI:1",
        server_id: "dmcts",
        server_uri: "http://x/dm",
        username: "u",
        password: "p",
        server_password: "s",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        for_tests()
    }

    #[test]
    fn uris_resolve_to_paths() {
        assert_eq!(path_of("./DevInfo/DevId"), Ok("DevInfo/DevId".into()));
        assert_eq!(path_of("DevInfo/DevId/"), Ok("DevInfo/DevId".into()));
        assert_eq!(path_of("."), Ok(String::new()));
        assert_eq!(path_of("./a?list=Struct"), Err(406));
        assert_eq!(path_of("./a//b"), Err(404));
        assert_eq!(path_of("./a/../b"), Err(404));
    }

    #[test]
    fn operations_give_the_digests_codes() {
        let mut t = tree();
        assert_eq!(t.children("dmcts/Interior"), ["A", "B"]);
        assert_eq!(t.children(""), ["DMAcc", "DevDetail", "DevInfo", "FUMO", "GWMO", "SCOMO", "Vendor", "dmcts"]);
        assert_eq!(t.add("dmcts/Leaf", Some(b"x".to_vec()), None, None), 418);
        assert_eq!(t.add("dmcts/New/Deep", Some(b"x".to_vec()), None, None), 200);
        assert!(t.get("dmcts/New").unwrap().is_interior());
        assert_eq!(t.add("dmcts/Leaf/Below", None, None, None), 405);
        assert_eq!(t.add("DevInfo/Ext", None, None, None), 405);
        assert_eq!(t.replace("DevInfo/Mod", b"x".to_vec(), None, None), 405);
        assert_eq!(t.replace("dmcts/Nope", b"x".to_vec(), None, None), 404);
        assert_eq!(t.delete("DevInfo", false), 405);
        assert_eq!(t.delete("dmcts/Perm", false), 405);
        assert_eq!(t.delete("", true), 405);
        assert_eq!(t.delete("dmcts/Interior", false), 200);
        assert!(t.get("dmcts/Interior/A").is_none());
        assert_eq!(t.delete("dmcts/Interior", false), 404);
        assert_eq!(t.copy("dmcts/Copy", "dmcts/Leaf"), 200);
        assert_eq!(t.get("dmcts/Copy").unwrap().value.as_deref(), Some(&b"one"[..]));
        assert_eq!(t.copy("dmcts/Copy", "dmcts"), 405);
        assert_eq!(t.copy("dmcts/Copy", "dmcts/Missing"), 404);
    }
}
