//! ClientURI (digest §12.2): typed model, strict parser, canonical `Display`, and a resolver
//! over in-memory MO instances.
//!
//! ```text
//! ClientURI = MOID "/" mo-inst "/" [ path ] [ "?" query ]
//! mo-inst   = MIID / x-name / "" / "*"
//! path      = segment *( "/" segment ) ; segment = node-name / x-name / "*"
//! x-name    = "(" ALPHA ")"
//! query     = field *( "&" field )     ; "nv=" x-name "/" rel-path ":" value / "cv=" validator
//! ```
//!
//! Points the digest leaves open follow its defaults (§21 q28): the "/" after mo-inst is
//! required even when the path is empty; an x-name is exactly one ASCII letter in parentheses,
//! used at most once per ClientURI and backed by at least one `nv` field; an `nv` value is
//! percent-decoded after splitting on `&`, the first `=` and the first `:`. Node names, `cv`
//! and other query fields are kept verbatim. The MOID must be a URN (`urn:` prefix).
use super::mo::MoInstance;
use super::profile::InstanceSlash;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use std::fmt;

/// A parsed ClientURI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientUri {
    pub moid: String,
    pub instance: Instance,
    pub path: Vec<Segment>,
    pub query: Vec<QueryField>,
}

/// The mo-inst component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instance {
    Miid(String),
    XName(char),
    /// Allowed only when exactly one instance of the MOID exists.
    Empty,
    /// `*`: all instances.
    Wildcard,
}

/// One path segment below the instance root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Name(String),
    XName(char),
    /// `*`: all nodes at that level.
    Wildcard,
}

/// One query field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryField {
    /// `nv=(x)/rel/path:value`: x-name `x` binds to nodes whose leaf at `rel_path` equals
    /// `value` (percent-decoded). Several `nv` fields for one x-name must all hold.
    Nv { xname: char, rel_path: Vec<String>, value: String },
    /// `cv=validator`: cache validator (digest §13.5), verbatim.
    Cv(String),
    /// Any other `key=value` field, verbatim.
    Other { key: String, value: String },
}

/// A ClientURI syntax error at a char offset (0-based, counted in Unicode scalar values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ClientURI char {offset}: expected {expected}, found {found}")]
pub struct ClientUriError {
    pub offset: usize,
    pub expected: String,
    pub found: String,
}

/// Characters percent-encoded when an `nv` value is written back: those that would split the
/// query, plus controls, space and non-ASCII (which `utf8_percent_encode` always encodes).
const NV_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'&').add(b'#').add(b'?');

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instance::Miid(m) => f.write_str(m),
            Instance::XName(c) => write!(f, "({c})"),
            Instance::Empty => Ok(()),
            Instance::Wildcard => f.write_str("*"),
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Name(n) => f.write_str(n),
            Segment::XName(c) => write!(f, "({c})"),
            Segment::Wildcard => f.write_str("*"),
        }
    }
}

impl fmt::Display for QueryField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryField::Nv { xname, rel_path, value } => {
                write!(f, "nv=({xname})/{}:{}", rel_path.join("/"), utf8_percent_encode(value, NV_VALUE))
            }
            QueryField::Cv(v) => write!(f, "cv={v}"),
            QueryField::Other { key, value } => write!(f, "{key}={value}"),
        }
    }
}

impl fmt::Display for ClientUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/", self.moid, self.instance)?;
        for (i, s) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{s}")?;
        }
        for (i, q) in self.query.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{q}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ClientUri {
    type Err = ClientUriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientUri::parse(s)
    }
}

/// Parser state: the input, so byte offsets can be reported as char offsets.
struct P<'a> {
    s: &'a str,
}

impl P<'_> {
    fn err(&self, byte: usize, expected: impl Into<String>, found: impl Into<String>) -> ClientUriError {
        let offset = self.s.get(..byte).map_or(byte, |p| p.chars().count());
        ClientUriError { offset, expected: expected.into(), found: found.into() }
    }

    fn found_at(&self, byte: usize) -> String {
        match self.s.get(byte..).and_then(|r| r.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => "end of ClientURI".into(),
        }
    }

    /// Parses "(x)" at `at` (the whole of `text`).
    fn xname(&self, text: &str, at: usize) -> Result<char, ClientUriError> {
        let mut cs = text.chars();
        match (cs.next(), cs.next(), cs.next(), cs.next()) {
            (Some('('), Some(c), Some(')'), None) if c.is_ascii_alphabetic() => Ok(c),
            _ => Err(self.err(at, "an x-name: one ASCII letter in parentheses, e.g. \"(x)\"", format!("{text:?}"))),
        }
    }

    fn segment(&self, text: &str, at: usize) -> Result<Segment, ClientUriError> {
        if text.is_empty() {
            return Err(self.err(at, "a node name, an x-name or \"*\"", "an empty path segment"));
        }
        Ok(match text {
            "*" => Segment::Wildcard,
            t if t.starts_with('(') => Segment::XName(self.xname(t, at)?),
            t => Segment::Name(t.to_string()),
        })
    }

    /// Checks that every "%" in `text` (at byte `at`) starts a two-hex-digit escape, then
    /// decodes to UTF-8.
    fn decode(&self, text: &str, at: usize) -> Result<String, ClientUriError> {
        let b = text.as_bytes();
        for (i, _) in text.match_indices('%') {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)) {
                return Err(self.err(at + i, "a percent escape \"%\" HEX HEX", self.found_at(at + i)));
            }
        }
        percent_decode_str(text)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| self.err(at, "percent escapes that decode to UTF-8", format!("{text:?}")))
    }

    /// One query field at byte `at`.
    fn field(&self, text: &str, at: usize) -> Result<QueryField, ClientUriError> {
        if text.is_empty() {
            return Err(self.err(at, "a query field \"key=value\"", "an empty field"));
        }
        let Some(eq) = text.find('=') else {
            return Err(self.err(
                at + text.len(),
                "\"=\" in query field \"key=value\"",
                self.found_at(at + text.len()),
            ));
        };
        let (key, value) = (&text[..eq], &text[eq + 1..]);
        let vat = at + eq + 1;
        match key {
            "" => Err(self.err(at, "a query field key", "\"=\"")),
            "cv" => Ok(QueryField::Cv(value.to_string())),
            "nv" => {
                let Some(close) = value.find(')') else {
                    return Err(self.err(vat, "an x-name \"(x)\" starting the nv value", format!("{value:?}")));
                };
                let xname = self.xname(&value[..=close], vat)?;
                let rest = &value[close + 1..];
                let rat = vat + close + 1;
                if !rest.starts_with('/') {
                    return Err(self.err(rat, "\"/\" after the nv x-name", self.found_at(rat)));
                }
                let Some(colon) = rest.find(':') else {
                    return Err(self.err(at + text.len(), "\":\" before the nv value", "end of field"));
                };
                let mut rel_path = Vec::new();
                let mut sat = rat + 1;
                for seg in rest[1..colon].split('/') {
                    if seg.is_empty() || seg == "*" || seg.starts_with('(') {
                        return Err(self.err(sat, "a node name in the nv relative path", format!("{seg:?}")));
                    }
                    rel_path.push(seg.to_string());
                    sat += seg.len() + 1;
                }
                let value = self.decode(&rest[colon + 1..], rat + colon + 1)?;
                Ok(QueryField::Nv { xname, rel_path, value })
            }
            _ => Ok(QueryField::Other { key: key.to_string(), value: value.to_string() }),
        }
    }
}

impl ClientUri {
    /// Strict parse (see the module doc for the grammar and the defaults applied).
    pub fn parse(s: &str) -> Result<ClientUri, ClientUriError> {
        ClientUri::parse_with(s, InstanceSlash::Required)
    }

    /// [`ClientUri::parse`] with the profile's rule for the "/" after mo-inst (`Optional`:
    /// `MOID/mo-inst` without it addresses the instance root too; digest §21 q28).
    pub fn parse_with(s: &str, instance_slash: InstanceSlash) -> Result<ClientUri, ClientUriError> {
        let p = P { s };
        if let Some((i, c)) = s.char_indices().find(|(_, c)| c.is_control() || c.is_whitespace()) {
            return Err(p.err(i, "URI characters (no spaces or control characters)", format!("{c:?}")));
        }
        let (head, query) = match s.find('?') {
            Some(q) => (&s[..q], Some((&s[q + 1..], q + 1))),
            None => (s, None),
        };
        let Some(slash) = head.find('/') else {
            return Err(p.err(head.len(), "\"/\" after the MOID", p.found_at(head.len())));
        };
        let moid = &head[..slash];
        if !moid.get(..4).is_some_and(|u| u.eq_ignore_ascii_case("urn:")) || moid.len() < 5 {
            return Err(p.err(0, "a MOID URN, e.g. \"urn:oma:mo:oma-dm-devinfo:1.0\"", format!("{moid:?}")));
        }
        let iat = slash + 1;
        let rest = &head[iat..];
        let islash = match (rest.find('/'), instance_slash) {
            (Some(i), _) => i,
            // Without the "/", everything after the MOID is the mo-inst, and the path is empty.
            (None, InstanceSlash::Optional) if !rest.is_empty() => rest.len(),
            (None, _) => {
                return Err(p.err(
                    head.len(),
                    "\"/\" after the mo-inst (required even with an empty path: profile client_uri_instance_slash \
                     = \"required\", the UNVERIFIED default of digest §21 q28)",
                    p.found_at(head.len()),
                ))
            }
        };
        let inst = &rest[..islash];
        let instance = match inst {
            "" => Instance::Empty,
            "*" => Instance::Wildcard,
            t if t.starts_with('(') => Instance::XName(p.xname(t, iat)?),
            t => Instance::Miid(t.to_string()),
        };
        // (x-name, byte offset) in order of use, to enforce once-per-URI and nv backing.
        let mut used: Vec<(char, usize)> = Vec::new();
        if let Instance::XName(c) = instance {
            used.push((c, iat));
        }
        let mut path = Vec::new();
        let path_str = rest.get(islash + 1..).unwrap_or("");
        if !path_str.is_empty() {
            let mut at = iat + islash + 1;
            for seg in path_str.split('/') {
                let s = p.segment(seg, at)?;
                if let Segment::XName(c) = s {
                    if used.iter().any(|(u, _)| *u == c) {
                        return Err(p.err(at, format!("an x-name other than ({c}): each is used once"), seg));
                    }
                    used.push((c, at));
                }
                path.push(s);
                at += seg.len() + 1;
            }
        }
        let mut fields = Vec::new();
        if let Some((q, qat)) = query {
            let mut at = qat;
            for f in q.split('&') {
                let field = p.field(f, at)?;
                if let QueryField::Nv { xname, .. } = &field {
                    if !used.iter().any(|(u, _)| u == xname) {
                        return Err(p.err(at, "nv fields only for x-names used in the address", format!("{f:?}")));
                    }
                }
                fields.push(field);
                at += f.len() + 1;
            }
        }
        for (c, at) in &used {
            if !fields.iter().any(|f| matches!(f, QueryField::Nv { xname, .. } if xname == c)) {
                return Err(p.err(*at, format!("an nv field for x-name ({c}) in the query"), "none"));
            }
        }
        Ok(ClientUri { moid: moid.to_string(), instance, path, query: fields })
    }

    pub fn is_well_formed(s: &str) -> bool {
        Self::parse(s).is_ok()
    }

    /// The canonical ClientURI of one node: `MOID/MIID/` followed by `path` (what a client
    /// returns in a status `URI` array, e.g. after HGET created an instance).
    pub fn of_node<S: AsRef<str>>(moid: &str, miid: &str, path: &[S]) -> ClientUri {
        ClientUri {
            moid: moid.to_string(),
            instance: Instance::Miid(miid.to_string()),
            path: path.iter().map(|s| Segment::Name(s.as_ref().to_string())).collect(),
            query: Vec::new(),
        }
    }

    /// True when the address uses `*` for the instance or any segment.
    pub fn has_wildcard(&self) -> bool {
        self.instance == Instance::Wildcard || self.path.contains(&Segment::Wildcard)
    }

    /// The cache validator, if the query carries `cv`.
    pub fn cv(&self) -> Option<&str> {
        self.query.iter().find_map(|q| match q {
            QueryField::Cv(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The `nv` conditions for one x-name: (relative path, value).
    fn conditions(&self, x: char) -> impl Iterator<Item = (&[String], &str)> {
        self.query.iter().filter_map(move |q| match q {
            QueryField::Nv { xname, rel_path, value } if *xname == x => Some((rel_path.as_slice(), value.as_str())),
            _ => None,
        })
    }
}

/// Why a ClientURI cannot be resolved. The digest proposes 404 for all (UNVERIFIED, §12.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no instance of MOID {moid} exists")]
    UnknownMoid { moid: String },
    #[error("{0} (an address without a wildcard must match exactly one target)")]
    Ambiguous(String),
    #[error("{0}")]
    NoMatch(String),
}

impl ResolveError {
    /// The status code the digest proposes for an unresolvable ClientURI (UNVERIFIED: 404).
    pub fn status_code(&self) -> u16 {
        404
    }
}

/// Resolves `uri` against `instances`: the targets as (index into `instances`, node path from
/// the instance root), in instance order then child order. Rules (digest §12.2): an empty
/// mo-inst needs exactly one instance; an x-name must bind to exactly one node in its context
/// (several `nv` fields for one x-name are ANDed); `*` yields every node at that level; no
/// target at all is unresolvable. `cv` and unknown query fields do not affect resolution.
pub fn resolve(uri: &ClientUri, instances: &[MoInstance]) -> Result<Vec<(usize, Vec<String>)>, ResolveError> {
    let of_moid: Vec<usize> = (0..instances.len()).filter(|&i| instances[i].moid == uri.moid).collect();
    if of_moid.is_empty() {
        return Err(ResolveError::UnknownMoid { moid: uri.moid.clone() });
    }
    let holds = |x: char, node: &super::mo::MoNode| {
        uri.conditions(x).all(|(rel, want)| node.at(rel).and_then(|n| n.value()) == Some(want))
    };
    let chosen: Vec<usize> = match &uri.instance {
        Instance::Miid(m) => {
            let v: Vec<usize> = of_moid.iter().copied().filter(|&i| instances[i].miid == *m).collect();
            if v.is_empty() {
                return Err(ResolveError::NoMatch(format!("no instance {m:?} of MOID {}", uri.moid)));
            }
            v
        }
        Instance::Empty if of_moid.len() == 1 => of_moid,
        Instance::Empty => {
            return Err(ResolveError::Ambiguous(format!(
                "empty mo-inst but {} instances of MOID {} exist",
                of_moid.len(),
                uri.moid
            )))
        }
        Instance::Wildcard => of_moid,
        Instance::XName(x) => {
            let v: Vec<usize> = of_moid.iter().copied().filter(|&i| holds(*x, &instances[i].root)).collect();
            match v.len() {
                0 => {
                    return Err(ResolveError::NoMatch(format!(
                        "no instance of {} satisfies the nv fields of ({x})",
                        uri.moid
                    )))
                }
                1 => v,
                n => return Err(ResolveError::Ambiguous(format!("x-name ({x}) matches {n} instances"))),
            }
        }
    };
    let mut targets: Vec<(usize, Vec<String>)> = chosen.into_iter().map(|i| (i, Vec::new())).collect();
    for seg in &uri.path {
        let mut next = Vec::new();
        for (i, path) in targets {
            let Some(node) = instances[i].root.at(&path) else { continue };
            let mut push = |name: &str| {
                let mut p = path.clone();
                p.push(name.to_string());
                next.push((i, p));
            };
            match seg {
                Segment::Name(n) => {
                    if node.child(n).is_some() {
                        push(n)
                    }
                }
                Segment::Wildcard => node.children().iter().for_each(|(n, _)| push(n)),
                Segment::XName(x) => {
                    let m: Vec<&String> =
                        node.children().iter().filter(|(_, c)| holds(*x, c)).map(|(n, _)| n).collect();
                    if m.len() > 1 {
                        return Err(ResolveError::Ambiguous(format!(
                            "x-name ({x}) matches {} nodes under {}/{}",
                            m.len(),
                            instances[i].miid,
                            path.join("/")
                        )));
                    }
                    if let Some(n) = m.first() {
                        push(n)
                    }
                }
            }
        }
        targets = next;
    }
    if targets.is_empty() {
        return Err(ResolveError::NoMatch(format!("no node matches {uri}")));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dm2::mo::MoNode;
    use proptest::prelude::*;

    const M: &str = "urn:example:mo:sensor:1.0";

    /// The invented tree of the digest's §12.2 worked example.
    fn sensors() -> Vec<MoInstance> {
        let log = |ts: &str, val: &str| MoNode::interior([("Ts", MoNode::leaf(ts)), ("Val", MoNode::leaf(val))]);
        vec![
            MoInstance::new(
                M,
                "s1",
                "Sensor",
                MoNode::interior([
                    ("ID", MoNode::leaf("Temp")),
                    ("Mode", MoNode::leaf("eco")),
                    ("Log", MoNode::interior([("1", log("100", "20")), ("2", log("200", "21"))])),
                ]),
            ),
            MoInstance::new(
                M,
                "s2",
                "Sensor",
                MoNode::interior([
                    ("ID", MoNode::leaf("Hum")),
                    ("Mode", MoNode::leaf("eco")),
                    ("Log", MoNode::interior([("1", log("100", "55"))])),
                ]),
            ),
        ]
    }

    /// Renders resolution results as "miid/path" strings, or "unresolvable".
    fn run(uri: &str) -> Vec<String> {
        let inst = sensors();
        let u = ClientUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        match resolve(&u, &inst) {
            Ok(t) => t.iter().map(|(i, p)| format!("{}/{}", inst[*i].miid, p.join("/"))).collect(),
            Err(e) => {
                assert_eq!(e.status_code(), 404);
                vec!["unresolvable".into()]
            }
        }
    }

    #[test]
    fn worked_example_table_of_digest_12_2() {
        let table: [(&str, &[&str]); 9] = [
            ("/s1/", &["s1/"]),
            ("//", &["unresolvable"]),
            ("/(a)/Mode?nv=(a)/ID:Hum", &["s2/Mode"]),
            ("/s1/Log/(b)/Val?nv=(b)/Ts:200", &["s1/Log/2/Val"]),
            ("/(a)/Log/(b)/Val?nv=(a)/ID:Temp&nv=(b)/Ts:100", &["s1/Log/1/Val"]),
            ("/*/Mode", &["s1/Mode", "s2/Mode"]),
            ("/(a)/Log/*/Val?nv=(a)/ID:Temp", &["s1/Log/1/Val", "s1/Log/2/Val"]),
            ("/(a)/Log/*/Val?nv=(a)/ID:Temp&nv=(a)/Mode:off", &["unresolvable"]),
            ("/*/Log/*/Val", &["s1/Log/1/Val", "s1/Log/2/Val", "s2/Log/1/Val"]),
        ];
        for (suffix, want) in table {
            let uri = format!("{M}{suffix}");
            assert_eq!(run(&uri), want, "{uri}");
            assert_eq!(ClientUri::parse(&uri).unwrap().to_string(), uri, "Display round-trip");
        }
    }

    #[test]
    fn more_resolution_rules() {
        assert_eq!(run(&format!("{M}/s3/")), ["unresolvable"]);
        assert_eq!(run(&format!("{M}/s1/Nope")), ["unresolvable"]);
        assert_eq!(run(&format!("{M}/(a)/?nv=(a)/Mode:eco")), ["unresolvable"], "x-name matching two instances");
        assert_eq!(run(&format!("{M}/*/Log/(b)/Val?nv=(b)/Ts:100")), ["s1/Log/1/Val", "s2/Log/1/Val"]);
        assert_eq!(run(&format!("{M}/s1/Log/*?cv=rev-1")), ["s1/Log/1", "s1/Log/2"]);
        let u = ClientUri::parse("urn:other:mo:x:1.0/s1/").unwrap();
        assert!(matches!(resolve(&u, &sensors()), Err(ResolveError::UnknownMoid { .. })));
        let one = &sensors()[..1];
        let u = ClientUri::parse(&format!("{M}//Mode")).unwrap();
        assert_eq!(resolve(&u, one).unwrap(), vec![(0, vec!["Mode".to_string()])]);
    }

    #[test]
    fn the_slash_after_mo_inst_follows_the_profile() {
        let bare = "urn:oma:mo:oma-fumo:1.0/fw-main";
        let e = ClientUri::parse(bare).unwrap_err().to_string();
        assert!(e.contains("client_uri_instance_slash") && e.contains("UNVERIFIED"), "{e}");
        let u = ClientUri::parse_with(bare, InstanceSlash::Optional).unwrap();
        assert_eq!((u.instance.clone(), u.path.len()), (Instance::Miid("fw-main".into()), 0));
        // The canonical form has it; with a query too.
        assert_eq!(u.to_string(), "urn:oma:mo:oma-fumo:1.0/fw-main/");
        let q = ClientUri::parse_with("urn:oma:mo:oma-fumo:1.0/fw-main?cv=7", InstanceSlash::Optional).unwrap();
        assert_eq!(q.cv(), Some("7"));
        // The MOID still needs its "/", and a path is unchanged.
        assert!(ClientUri::parse_with("urn:oma:mo:oma-fumo:1.0", InstanceSlash::Optional).is_err());
        assert!(ClientUri::parse_with("urn:oma:mo:oma-fumo:1.0/", InstanceSlash::Optional).is_err());
        let p = ClientUri::parse_with("urn:oma:mo:oma-fumo:1.0/fw-main/State", InstanceSlash::Optional).unwrap();
        assert_eq!(p, ClientUri::parse("urn:oma:mo:oma-fumo:1.0/fw-main/State").unwrap());
    }

    #[test]
    fn parses_digest_examples() {
        for s in [
            "urn:oma:mo:oma-dm-devinfo:1.0//FwV",
            "urn:oma:mo:oma-fumo:1.0/fw-main/DownloadAndUpdate/PkgURL",
            "urn:oma:mo:oma-dm-devinfo:1.0//",
            "urn:oma:mo:oma-fumo:1.0/fw-modem/",
            "urn:example:mo:battery:1.0/b0/Level",
            "urn:oma:mo:oma-fumo:1.0/fw-main/?cv=rev-0042",
        ] {
            let u = ClientUri::parse(s).unwrap();
            assert_eq!(u.to_string(), s);
        }
        let u = ClientUri::parse("urn:oma:mo:oma-fumo:1.0/fw-main/?cv=rev-0042&x=1").unwrap();
        assert_eq!(u.cv(), Some("rev-0042"));
        assert_eq!(u.query[1], QueryField::Other { key: "x".into(), value: "1".into() });
        assert_eq!(u.instance, Instance::Miid("fw-main".into()));
        assert_eq!(ClientUri::of_node("urn:a:b", "i", &["X", "Y"]).to_string(), "urn:a:b/i/X/Y");
    }

    #[test]
    fn nv_values_are_percent_decoded_after_splitting() {
        let u = ClientUri::parse("urn:a:b/(a)/?nv=(a)/Sub/ID:x%3Ay%26z:w%C3%A9").unwrap();
        assert_eq!(
            u.query,
            vec![QueryField::Nv { xname: 'a', rel_path: vec!["Sub".into(), "ID".into()], value: "x:y&z:wé".into() }]
        );
        let again = ClientUri::parse(&u.to_string()).unwrap();
        assert_eq!(again, u);
    }

    #[test]
    fn errors_carry_char_offset_and_expectation() {
        let cases: [(&str, usize, &str); 16] = [
            ("", 0, "after the MOID"),
            ("urn:a:b", 7, "after the MOID"),
            ("urn:a:b/s1", 10, "after the mo-inst"),
            ("http://x/y/", 0, "MOID URN"),
            ("urn:a:b/(ab)/", 8, "x-name"),
            ("urn:a:b/(1)/", 8, "x-name"),
            ("urn:a:b/s1//X", 11, "empty path segment"),
            ("urn:a:b/s1/X/", 13, "empty path segment"),
            ("urn:a:b/s1/X Y", 12, "no spaces"),
            ("urn:a:b/(a)/", 8, "nv field for x-name (a)"),
            ("urn:a:b/(a)/(a)?nv=(a)/I:1", 12, "each is used once"),
            ("urn:a:b/s1/?nv=(a)/I:1", 12, "only for x-names used"),
            ("urn:a:b/s1/?", 12, "query field"),
            ("urn:a:b/s1/?cv", 14, "\"=\""),
            ("urn:a:b/(a)/?nv=(a)/I:%4", 22, "percent escape"),
            ("urn:é:b/(a)/?nv=(a)I:1", 19, "\"/\" after the nv x-name"),
        ];
        for (s, offset, expected) in cases {
            let e = ClientUri::parse(s).expect_err(s);
            assert_eq!(e.offset, offset, "{s}: {e}");
            assert!(e.to_string().contains(expected), "{s}: {e}");
            assert!(!ClientUri::is_well_formed(s));
        }
    }

    fn arb_name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_.-]{1,6}"
    }

    fn arb_uri() -> impl Strategy<Value = ClientUri> {
        let inst = prop_oneof![
            arb_name().prop_map(Instance::Miid),
            Just(Instance::Empty),
            Just(Instance::Wildcard),
            Just(Instance::XName('a')),
        ];
        let seg = prop_oneof![arb_name().prop_map(Segment::Name), Just(Segment::Wildcard), Just(Segment::XName('b'))];
        (
            inst,
            prop::collection::vec(seg, 0..4),
            "\\PC{0,6}",
            prop::collection::vec(arb_name(), 1..3),
            proptest::option::of("[A-Za-z0-9-]{0,6}"),
        )
            .prop_map(|(instance, mut path, value, rel_path, cv)| {
                // keep x-name (b) at most once, as the grammar requires
                let mut seen = false;
                path.retain(|s| !matches!(s, Segment::XName(_)) || !std::mem::replace(&mut seen, true));
                let mut query = Vec::new();
                for x in ['a', 'b'] {
                    let used = instance == Instance::XName(x) || path.contains(&Segment::XName(x));
                    if used {
                        query.push(QueryField::Nv { xname: x, rel_path: rel_path.clone(), value: value.clone() });
                    }
                }
                query.extend(cv.map(QueryField::Cv));
                ClientUri { moid: "urn:oma:mo:test:1.0".into(), instance, path, query }
            })
    }

    proptest! {
        #[test]
        fn display_parse_round_trips(u in arb_uri()) {
            let s = u.to_string();
            prop_assert_eq!(ClientUri::parse(&s).map_err(|e| e.to_string()), Ok(u));
            prop_assert_eq!(ClientUri::parse(&s).unwrap().to_string(), s);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = ClientUri::parse(&s);
        }

        #[test]
        fn parse_never_panics_near_grammar(s in "urn:a:b/[a-z()*/?&=:%0-9A-F]{0,24}") {
            if let Ok(u) = ClientUri::parse(&s) {
                prop_assert_eq!(ClientUri::parse(&u.to_string()), Ok(u));
            }
        }
    }
}
