//! SyncML DM 1.2 messages as typed models (digest §3, §4): the header, the body's commands,
//! Status and Results, items and their meta information.
//!
//! Parsing accepts the children of an element in any order — real peers break the DTD order
//! (digest §3.1, §13); the order is a check's business, not the parser's — but refuses what
//! is not SyncML DM: an unknown child, a second single child, a missing mandatory one, text
//! where elements belong. Every error names the byte offset and the element path. Writing
//! follows the DTD order (digest §3.5).
use super::tree::{DecodeError, Element, Encoding, Node};

/// A SyncML message: `SyncHdr` and `SyncBody`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub hdr: SyncHdr,
    pub body: SyncBody,
}

/// The header (digest §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncHdr {
    /// `1.2`.
    pub ver_dtd: String,
    /// `DM/1.2`.
    pub ver_proto: String,
    pub session_id: String,
    pub msg_id: String,
    pub target: LocRef,
    pub source: LocRef,
    pub resp_uri: Option<String>,
    pub no_resp: bool,
    pub cred: Option<Cred>,
    pub meta: Option<Meta>,
}

/// `Target` / `Source`: a `LocURI` and an optional `LocName`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocRef {
    pub loc_uri: String,
    pub loc_name: Option<String>,
}

impl LocRef {
    pub fn uri(uri: impl Into<String>) -> LocRef {
        LocRef { loc_uri: uri.into(), loc_name: None }
    }
}

/// Credentials (`Cred`): the scheme in `Meta/Type`, the encoding in `Meta/Format`, `Data`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cred {
    pub meta: Option<Meta>,
    pub data: Data,
}

/// A challenge (`Chal`): its `Meta` (Type, Format, NextNonce).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chal {
    pub meta: Meta,
}

/// Meta information (`syncml:metinf`, digest §3.6). Child order is free.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    pub format: Option<String>,
    pub r#type: Option<String>,
    pub mark: Option<String>,
    pub size: Option<String>,
    pub next_nonce: Option<String>,
    pub max_msg_size: Option<String>,
    pub max_obj_size: Option<String>,
    pub version: Option<String>,
    pub emi: Vec<String>,
}

/// The content of a `Data` element: text, or opaque bytes (WBXML OPAQUE, XML CDATA); a value
/// that arrived in several pieces is joined (digest §10.6). Two values are equal when their
/// bytes are: text or opaque is how a value was carried, not what it says (libwbxml, for one,
/// sends b64 data as OPAQUE, and any CDATA too).
#[derive(Debug, Clone, Eq)]
pub enum Data {
    Text(String),
    Opaque(Vec<u8>),
}

impl Default for Data {
    fn default() -> Self {
        Data::Text(String::new())
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Data {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Data::Text(t) => t.as_bytes(),
            Data::Opaque(b) => b,
        }
    }

    /// The data as text, when it is UTF-8 (opaque data usually is: RTK sends text as OPAQUE).
    pub fn text(&self) -> Option<&str> {
        match self {
            Data::Text(t) => Some(t),
            Data::Opaque(b) => std::str::from_utf8(b).ok(),
        }
    }
}

impl From<&str> for Data {
    fn from(t: &str) -> Data {
        Data::Text(t.to_string())
    }
}

/// `SyncBody`: commands, Status and Results in order, then `Final` or not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncBody {
    pub commands: Vec<Command>,
    /// `<Final/>`: the last message of the package.
    pub r#final: bool,
}

/// One element of `SyncBody`, `Atomic` or `Sequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Add(ItemCommand),
    Copy(ItemCommand),
    Delete(ItemCommand),
    Get(ItemCommand),
    Replace(ItemCommand),
    Exec(Exec),
    Alert(Alert),
    Atomic(Container),
    Sequence(Container),
    Status(Status),
    Results(Results),
    /// A SyncML command DM does not use (Sync, Map, Put, Search, Move…, digest §3.7): kept
    /// with its CmdID so a DM client can answer it (406 or 501).
    Other {
        name: String,
        cmd_id: Option<String>,
    },
}

impl Command {
    /// The element name (what a Status's `Cmd` names).
    pub fn name(&self) -> &str {
        match self {
            Command::Add(_) => "Add",
            Command::Copy(_) => "Copy",
            Command::Delete(_) => "Delete",
            Command::Get(_) => "Get",
            Command::Replace(_) => "Replace",
            Command::Exec(_) => "Exec",
            Command::Alert(_) => "Alert",
            Command::Atomic(_) => "Atomic",
            Command::Sequence(_) => "Sequence",
            Command::Status(_) => "Status",
            Command::Results(_) => "Results",
            Command::Other { name, .. } => name,
        }
    }

    pub fn cmd_id(&self) -> Option<&str> {
        Some(match self {
            Command::Add(c) | Command::Copy(c) | Command::Delete(c) | Command::Get(c) | Command::Replace(c) => {
                &c.cmd_id
            }
            Command::Exec(c) => &c.cmd_id,
            Command::Alert(c) => &c.cmd_id,
            Command::Atomic(c) | Command::Sequence(c) => &c.cmd_id,
            Command::Status(c) => &c.cmd_id,
            Command::Results(c) => &c.cmd_id,
            Command::Other { cmd_id, .. } => return cmd_id.as_deref(),
        })
    }

    /// Gives the command the CmdID `id`.
    pub fn set_cmd_id(&mut self, id: String) {
        match self {
            Command::Add(x) | Command::Copy(x) | Command::Delete(x) | Command::Get(x) | Command::Replace(x) => {
                x.cmd_id = id
            }
            Command::Exec(x) => x.cmd_id = id,
            Command::Alert(x) => x.cmd_id = id,
            Command::Atomic(x) | Command::Sequence(x) => x.cmd_id = id,
            Command::Status(x) => x.cmd_id = id,
            Command::Results(x) => x.cmd_id = id,
            Command::Other { cmd_id, .. } => *cmd_id = Some(id),
        }
    }
}

/// Add, Copy, Delete, Get, Replace: `CmdID, NoResp?, Cred?, Meta?, Item+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemCommand {
    pub cmd_id: String,
    pub no_resp: bool,
    pub cred: Option<Cred>,
    pub meta: Option<Meta>,
    pub items: Vec<Item>,
}

/// `Exec`: `CmdID, NoResp?, Cred?, Meta?, Correlator?, Item`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exec {
    pub cmd_id: String,
    pub no_resp: bool,
    pub cred: Option<Cred>,
    pub meta: Option<Meta>,
    pub correlator: Option<String>,
    pub items: Vec<Item>,
}

/// `Alert`: `CmdID, NoResp?, Cred?, Data?, Correlator?, Item*` (the code in `Data`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alert {
    pub cmd_id: String,
    pub no_resp: bool,
    pub cred: Option<Cred>,
    pub data: Option<String>,
    pub correlator: Option<String>,
    pub items: Vec<Item>,
}

/// `Atomic`, `Sequence`: `CmdID, NoResp?, Meta?, (commands)+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Container {
    pub cmd_id: String,
    pub no_resp: bool,
    pub meta: Option<Meta>,
    pub commands: Vec<Command>,
}

/// `Status`: `CmdID, MsgRef, CmdRef, Cmd, TargetRef*, SourceRef*, Cred?, Chal?, Data, Item*`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub cmd_id: String,
    pub msg_ref: String,
    pub cmd_ref: String,
    pub cmd: String,
    pub target_refs: Vec<String>,
    pub source_refs: Vec<String>,
    pub cred: Option<Cred>,
    pub chal: Option<Chal>,
    /// The status code.
    pub data: String,
    pub items: Vec<Item>,
}

/// `Results`: `CmdID, MsgRef?, CmdRef, Meta?, TargetRef?, SourceRef?, Item+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Results {
    pub cmd_id: String,
    pub msg_ref: Option<String>,
    pub cmd_ref: String,
    pub meta: Option<Meta>,
    pub target_ref: Option<String>,
    pub source_ref: Option<String>,
    pub items: Vec<Item>,
}

/// `Item`: `Target?, Source?, Meta?, Data?, MoreData?`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    pub target: Option<LocRef>,
    pub source: Option<LocRef>,
    pub meta: Option<Meta>,
    pub data: Option<Data>,
    /// `<MoreData/>`: a Large Object chunk follows (digest §5.7).
    pub more_data: bool,
}

// ---- parsing ----

type Result<T> = std::result::Result<T, DecodeError>;

/// Reads an element's children by name, in any order, with the element's path for errors.
struct Children<'a> {
    el: &'a Element,
    path: String,
    encoding: Encoding,
}

impl<'a> Children<'a> {
    fn of(el: &'a Element, parent: &str, encoding: Encoding) -> Result<Children<'a>> {
        Children::at(el, format!("{parent}/{}", el.name), encoding)
    }

    /// The `n`th (from 1) of its parent's children, for a path that says which.
    fn of_nth(el: &'a Element, parent: &str, n: usize, encoding: Encoding) -> Result<Children<'a>> {
        Children::at(el, format!("{parent}/{}[{n}]", el.name), encoding)
    }

    fn at(el: &'a Element, path: String, encoding: Encoding) -> Result<Children<'a>> {
        let c = Children { el, path, encoding };
        let stray = el.children.iter().any(|n| match n {
            Node::Text(t) => !t.trim().is_empty(),
            Node::Opaque(_) => true,
            Node::Element(_) => false,
        });
        if stray {
            return Err(c.error(el.offset, format!("elements inside <{}>, not text", el.name)));
        }
        Ok(c)
    }

    fn error(&self, offset: usize, expected: String) -> DecodeError {
        DecodeError { encoding: self.encoding, offset, path: self.path.clone(), expected }
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &'a Element> + '_ {
        let name = name.to_string();
        self.el.elements().filter(move |e| e.name == name)
    }

    fn opt(&self, name: &str) -> Result<Option<&'a Element>> {
        let mut it = self.all(name);
        let first = it.next();
        if let Some(second) = it.next() {
            return Err(self.error(second.offset, format!("one <{name}> in <{}>; got a second", self.el.name)));
        }
        Ok(first)
    }

    fn one(&self, name: &str) -> Result<&'a Element> {
        self.opt(name)?.ok_or_else(|| self.error(self.el.offset, format!("a <{name}> in <{}>", self.el.name)))
    }

    /// Refuses any child not in `allowed`.
    fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.el.elements().find(|e| !allowed.contains(&e.name.as_str())) {
            Some(e) => {
                Err(self
                    .error(e.offset, format!("only {} in <{}>; got <{}>", allowed.join(", "), self.el.name, e.name)))
            }
            None => Ok(()),
        }
    }

    fn text(&self, el: &Element) -> Result<String> {
        leaf_text(el, &self.path, self.encoding)
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>> {
        self.opt(name)?.map(|e| self.text(e)).transpose()
    }

    fn one_text(&self, name: &str) -> Result<String> {
        self.text(self.one(name)?)
    }

    /// An empty element such as `<Final/>` (also accepted: `<Final></Final>`, digest §3.5).
    fn flag(&self, name: &str) -> Result<bool> {
        match self.opt(name)? {
            None => Ok(false),
            Some(e) if e.children.iter().all(|c| matches!(c, Node::Text(t) if t.trim().is_empty())) => Ok(true),
            Some(e) => Err(self.error(e.offset, format!("an empty <{name}/>"))),
        }
    }

    fn meta(&self) -> Result<Option<Meta>> {
        self.opt("Meta")?.map(|m| parse_meta(m, &self.path, self.encoding)).transpose()
    }

    fn cred(&self) -> Result<Option<Cred>> {
        self.opt("Cred")?.map(|c| parse_cred(c, &self.path, self.encoding)).transpose()
    }

    fn items(&self) -> Result<Vec<Item>> {
        self.all("Item").enumerate().map(|(n, i)| parse_item(i, &self.path, n + 1, self.encoding)).collect()
    }
}

/// The text of a leaf element; opaque pieces count when they are UTF-8 (RTK sends text as
/// OPAQUE, digest §10.6).
fn leaf_text(el: &Element, parent: &str, encoding: Encoding) -> Result<String> {
    let mut out = String::new();
    for c in &el.children {
        match c {
            Node::Text(t) => out.push_str(t),
            Node::Opaque(b) => match std::str::from_utf8(b) {
                Ok(t) => out.push_str(t),
                Err(_) => {
                    return Err(DecodeError {
                        encoding,
                        offset: el.offset,
                        path: format!("{parent}/{}", el.name),
                        expected: format!("UTF-8 text in <{}>; got binary opaque data", el.name),
                    });
                }
            },
            Node::Element(e) => {
                return Err(DecodeError {
                    encoding,
                    offset: e.offset,
                    path: format!("{parent}/{}", el.name),
                    expected: format!("text in <{}>; got <{}>", el.name, e.name),
                });
            }
        }
    }
    Ok(out)
}

fn parse_data(el: &Element, parent: &str, encoding: Encoding) -> Result<Data> {
    if el.children.iter().any(|c| matches!(c, Node::Opaque(_))) {
        let mut bytes = Vec::new();
        for c in &el.children {
            match c {
                Node::Text(t) => bytes.extend_from_slice(t.as_bytes()),
                Node::Opaque(b) => bytes.extend_from_slice(b),
                Node::Element(e) => {
                    return Err(DecodeError {
                        encoding,
                        offset: e.offset,
                        path: format!("{parent}/Data"),
                        expected: format!("text or opaque data in <Data>; got <{}>", e.name),
                    });
                }
            }
        }
        return Ok(Data::Opaque(bytes));
    }
    leaf_text(el, parent, encoding).map(Data::Text)
}

fn parse_locref(el: &Element, parent: &str, encoding: Encoding) -> Result<LocRef> {
    let c = Children::of(el, parent, encoding)?;
    c.only(&["LocURI", "LocName"])?;
    Ok(LocRef { loc_uri: c.one_text("LocURI")?, loc_name: c.opt_text("LocName")? })
}

fn parse_meta(el: &Element, parent: &str, encoding: Encoding) -> Result<Meta> {
    let c = Children::of(el, parent, encoding)?;
    c.only(&["Format", "Type", "Mark", "Size", "NextNonce", "MaxMsgSize", "MaxObjSize", "Version", "EMI"])?;
    Ok(Meta {
        format: c.opt_text("Format")?,
        r#type: c.opt_text("Type")?,
        mark: c.opt_text("Mark")?,
        size: c.opt_text("Size")?,
        next_nonce: c.opt_text("NextNonce")?,
        max_msg_size: c.opt_text("MaxMsgSize")?,
        max_obj_size: c.opt_text("MaxObjSize")?,
        version: c.opt_text("Version")?,
        emi: c.all("EMI").map(|e| c.text(e)).collect::<Result<_>>()?,
    })
}

fn parse_cred(el: &Element, parent: &str, encoding: Encoding) -> Result<Cred> {
    let c = Children::of(el, parent, encoding)?;
    c.only(&["Meta", "Data"])?;
    Ok(Cred { meta: c.meta()?, data: parse_data(c.one("Data")?, &c.path, encoding)? })
}

fn parse_item(el: &Element, parent: &str, n: usize, encoding: Encoding) -> Result<Item> {
    let c = Children::of_nth(el, parent, n, encoding)?;
    c.only(&["Target", "Source", "Meta", "Data", "MoreData"])?;
    Ok(Item {
        target: c.opt("Target")?.map(|t| parse_locref(t, &c.path, encoding)).transpose()?,
        source: c.opt("Source")?.map(|t| parse_locref(t, &c.path, encoding)).transpose()?,
        meta: c.meta()?,
        data: c.opt("Data")?.map(|d| parse_data(d, &c.path, encoding)).transpose()?,
        more_data: c.flag("MoreData")?,
    })
}

/// Commands are the SyncML elements that may stand in SyncBody.
const COMMANDS: &[&str] =
    &["Add", "Alert", "Atomic", "Copy", "Delete", "Exec", "Get", "Replace", "Results", "Sequence", "Status"];
/// SyncML commands DM does not use (digest §3.7): parsed as [`Command::Other`].
pub const OTHER_COMMANDS: &[&str] = &["Sync", "Map", "Put", "Search", "Move"];

/// The `n`th (from 1) element of a SyncBody, Atomic or Sequence at `parent`.
fn parse_command(el: &Element, parent: &str, n: usize, encoding: Encoding) -> Result<Command> {
    let c = Children::of_nth(el, parent, n, encoding)?;
    let item_command = |c: &Children| -> Result<ItemCommand> {
        c.only(&["CmdID", "NoResp", "Cred", "Meta", "Item"])?;
        let items = c.items()?;
        if items.is_empty() {
            return Err(c.error(el.offset, format!("at least one <Item> in <{}>", el.name)));
        }
        Ok(ItemCommand {
            cmd_id: c.one_text("CmdID")?,
            no_resp: c.flag("NoResp")?,
            cred: c.cred()?,
            meta: c.meta()?,
            items,
        })
    };
    Ok(match el.name.as_str() {
        "Add" => Command::Add(item_command(&c)?),
        "Copy" => Command::Copy(item_command(&c)?),
        "Delete" => Command::Delete(item_command(&c)?),
        "Get" => Command::Get(item_command(&c)?),
        "Replace" => Command::Replace(item_command(&c)?),
        "Exec" => {
            c.only(&["CmdID", "NoResp", "Cred", "Meta", "Correlator", "Item"])?;
            let items = c.items()?;
            if items.is_empty() {
                return Err(c.error(el.offset, "at least one <Item> in <Exec>".into()));
            }
            Command::Exec(Exec {
                cmd_id: c.one_text("CmdID")?,
                no_resp: c.flag("NoResp")?,
                cred: c.cred()?,
                meta: c.meta()?,
                correlator: c.opt_text("Correlator")?,
                items,
            })
        }
        "Alert" => {
            c.only(&["CmdID", "NoResp", "Cred", "Data", "Correlator", "Item"])?;
            Command::Alert(Alert {
                cmd_id: c.one_text("CmdID")?,
                no_resp: c.flag("NoResp")?,
                cred: c.cred()?,
                data: c.opt_text("Data")?,
                correlator: c.opt_text("Correlator")?,
                items: c.items()?,
            })
        }
        "Atomic" | "Sequence" => {
            let mut allowed = vec!["CmdID", "NoResp", "Meta"];
            allowed.extend(COMMANDS.iter().filter(|n| !matches!(**n, "Status" | "Results" | "Alert")));
            allowed.extend(OTHER_COMMANDS);
            allowed.push("Alert");
            c.only(&allowed)?;
            let commands = el
                .elements()
                .enumerate()
                .filter(|(_, e)| !matches!(e.name.as_str(), "CmdID" | "NoResp" | "Meta"))
                .map(|(n, e)| parse_command(e, &c.path, n + 1, encoding))
                .collect::<Result<Vec<_>>>()?;
            let container =
                Container { cmd_id: c.one_text("CmdID")?, no_resp: c.flag("NoResp")?, meta: c.meta()?, commands };
            if el.name == "Atomic" {
                Command::Atomic(container)
            } else {
                Command::Sequence(container)
            }
        }
        "Status" => {
            c.only(&["CmdID", "MsgRef", "CmdRef", "Cmd", "TargetRef", "SourceRef", "Cred", "Chal", "Data", "Item"])?;
            let chal = match c.opt("Chal")? {
                None => None,
                Some(ch) => {
                    let cc = Children::of(ch, &c.path, encoding)?;
                    cc.only(&["Meta"])?;
                    Some(Chal { meta: parse_meta(cc.one("Meta")?, &cc.path, encoding)? })
                }
            };
            Command::Status(Status {
                cmd_id: c.one_text("CmdID")?,
                msg_ref: c.one_text("MsgRef")?,
                // Real clients leave CmdRef out of the SyncHdr's Status (digest §13, H1, E1):
                // parsed as empty, judged by the checks (rules::answer_rules, the DTD check).
                cmd_ref: c.opt_text("CmdRef")?.unwrap_or_default(),
                cmd: c.one_text("Cmd")?,
                target_refs: c.all("TargetRef").map(|e| c.text(e)).collect::<Result<_>>()?,
                source_refs: c.all("SourceRef").map(|e| c.text(e)).collect::<Result<_>>()?,
                cred: c.cred()?,
                chal,
                data: c.one_text("Data")?,
                items: c.items()?,
            })
        }
        "Results" => {
            c.only(&["CmdID", "MsgRef", "CmdRef", "Meta", "TargetRef", "SourceRef", "Item"])?;
            Command::Results(Results {
                cmd_id: c.one_text("CmdID")?,
                msg_ref: c.opt_text("MsgRef")?,
                cmd_ref: c.one_text("CmdRef")?,
                meta: c.meta()?,
                target_ref: c.opt_text("TargetRef")?,
                source_ref: c.opt_text("SourceRef")?,
                items: c.items()?,
            })
        }
        name if OTHER_COMMANDS.contains(&name) => {
            Command::Other { name: name.to_string(), cmd_id: c.opt("CmdID")?.map(|e| c.text(e)).transpose()? }
        }
        name => {
            return Err(DecodeError {
                encoding,
                offset: el.offset,
                path: parent.to_string(),
                expected: format!("a SyncML command; got <{name}>"),
            });
        }
    })
}

/// Every command of `commands`, containers' members included, in document (and execution)
/// order: a container, then its commands.
pub fn all_commands(commands: &[Command]) -> Vec<&Command> {
    let mut out = Vec::new();
    for c in commands {
        out.push(c);
        if let Command::Atomic(x) | Command::Sequence(x) = c {
            out.extend(all_commands(&x.commands));
        }
    }
    out
}

impl Message {
    /// The message a decoded tree holds.
    pub fn from_tree(root: &Element, encoding: Encoding) -> Result<Message> {
        if root.name != "SyncML" {
            return Err(DecodeError {
                encoding,
                offset: root.offset,
                path: String::new(),
                expected: format!("<SyncML>; got <{}>", root.name),
            });
        }
        let c = Children::of(root, "", encoding)?;
        c.only(&["SyncHdr", "SyncBody"])?;
        let h = Children::of(c.one("SyncHdr")?, &c.path, encoding)?;
        h.only(&["VerDTD", "VerProto", "SessionID", "MsgID", "Target", "Source", "RespURI", "NoResp", "Cred", "Meta"])?;
        let hdr = SyncHdr {
            ver_dtd: h.one_text("VerDTD")?,
            ver_proto: h.one_text("VerProto")?,
            session_id: h.one_text("SessionID")?,
            msg_id: h.one_text("MsgID")?,
            target: parse_locref(h.one("Target")?, &h.path, encoding)?,
            source: parse_locref(h.one("Source")?, &h.path, encoding)?,
            resp_uri: h.opt_text("RespURI")?,
            no_resp: h.flag("NoResp")?,
            cred: h.cred()?,
            meta: h.meta()?,
        };
        let b = Children::of(c.one("SyncBody")?, &c.path, encoding)?;
        let mut allowed: Vec<&str> = COMMANDS.to_vec();
        allowed.extend(OTHER_COMMANDS);
        allowed.push("Final");
        b.only(&allowed)?;
        let r#final = b.flag("Final")?;
        if let Some(after) = b.el.elements().skip_while(|e| e.name != "Final").nth(1) {
            return Err(b.error(after.offset, format!("<Final/> last in <SyncBody>; got <{}> after it", after.name)));
        }
        let commands =
            b.el.elements()
                .enumerate()
                .filter(|(_, e)| e.name != "Final")
                .map(|(n, e)| parse_command(e, &b.path, n + 1, encoding))
                .collect::<Result<Vec<_>>>()?;
        Ok(Message { hdr, body: SyncBody { commands, r#final } })
    }

    /// The commands of a command fragment held in `body` (a `SyncBody` element with no
    /// `Final`), e.g. the DMCommands a GwMO server stores (seed 000 step 5): the same command
    /// parser as a message's, errors located under `path`.
    pub fn commands_of(body: &Element, path: &str, encoding: Encoding) -> Result<Vec<Command>> {
        let b = Children::of(body, path, encoding)?;
        let mut allowed: Vec<&str> = COMMANDS.to_vec();
        allowed.extend(OTHER_COMMANDS);
        b.only(&allowed)?;
        b.el.elements().enumerate().map(|(n, e)| parse_command(e, &b.path, n + 1, encoding)).collect()
    }

    /// A `SyncBody` element holding `commands` and no `Final`: a command fragment.
    pub fn commands_tree(commands: &[Command]) -> Element {
        let mut body = Element::new("SyncBody");
        commands.iter().for_each(|c| body.push(command(c)));
        body
    }

    /// Decodes XML text.
    pub fn from_xml(text: &str) -> Result<Message> {
        Message::from_tree(&super::xml::decode(text)?, Encoding::Xml)
    }

    /// Decodes WBXML bytes.
    pub fn from_wbxml(bytes: &[u8]) -> Result<Message> {
        Message::from_tree(&super::wbxml::decode(bytes)?.root, Encoding::Wbxml)
    }

    pub fn to_xml(&self, indent: bool) -> std::result::Result<String, super::tree::EncodeError> {
        super::xml::encode(&self.to_tree(), indent)
    }

    pub fn to_wbxml(&self) -> std::result::Result<Vec<u8>, super::tree::EncodeError> {
        super::wbxml::encode(&self.to_tree(), super::wbxml::Options::default())
    }

    // ---- writing (DTD order, digest §3.5) ----

    pub fn to_tree(&self) -> Element {
        let h = &self.hdr;
        let mut hdr = Element::new("SyncHdr")
            .with(Element::text("VerDTD", &h.ver_dtd))
            .with(Element::text("VerProto", &h.ver_proto))
            .with(Element::text("SessionID", &h.session_id))
            .with(Element::text("MsgID", &h.msg_id))
            .with(locref("Target", &h.target))
            .with(locref("Source", &h.source));
        opt_text(&mut hdr, "RespURI", &h.resp_uri);
        flag(&mut hdr, "NoResp", h.no_resp);
        if let Some(c) = &h.cred {
            hdr.push(cred(c));
        }
        if let Some(m) = &h.meta {
            hdr.push(meta(m));
        }
        let mut body = Element::new("SyncBody");
        for c in &self.body.commands {
            body.push(command(c));
        }
        flag(&mut body, "Final", self.body.r#final);
        Element::new("SyncML").with(hdr).with(body)
    }
}

fn opt_text(el: &mut Element, name: &str, v: &Option<String>) {
    if let Some(v) = v {
        el.push(Element::text(name, v));
    }
}

fn flag(el: &mut Element, name: &str, set: bool) {
    if set {
        el.push(Element::new(name));
    }
}

fn text_or_empty(name: &str, v: &str) -> Element {
    if v.is_empty() {
        Element::new(name)
    } else {
        Element::text(name, v)
    }
}

fn locref(name: &str, l: &LocRef) -> Element {
    let mut el = Element::new(name).with(Element::text("LocURI", &l.loc_uri));
    opt_text(&mut el, "LocName", &l.loc_name);
    el
}

fn data(d: &Data) -> Element {
    match d {
        Data::Text(t) => text_or_empty("Data", t),
        Data::Opaque(b) if b.is_empty() => Element::new("Data"),
        Data::Opaque(b) => Element { name: "Data".into(), children: vec![Node::Opaque(b.clone())], offset: 0 },
    }
}

fn meta(m: &Meta) -> Element {
    let mut el = Element::new("Meta");
    opt_text(&mut el, "Format", &m.format);
    opt_text(&mut el, "Type", &m.r#type);
    opt_text(&mut el, "Mark", &m.mark);
    opt_text(&mut el, "Size", &m.size);
    opt_text(&mut el, "NextNonce", &m.next_nonce);
    opt_text(&mut el, "Version", &m.version);
    opt_text(&mut el, "MaxMsgSize", &m.max_msg_size);
    opt_text(&mut el, "MaxObjSize", &m.max_obj_size);
    for e in &m.emi {
        el.push(Element::text("EMI", e));
    }
    el
}

fn cred(c: &Cred) -> Element {
    let mut el = Element::new("Cred");
    if let Some(m) = &c.meta {
        el.push(meta(m));
    }
    el.with(data(&c.data))
}

fn item(i: &Item) -> Element {
    let mut el = Element::new("Item");
    if let Some(t) = &i.target {
        el.push(locref("Target", t));
    }
    if let Some(s) = &i.source {
        el.push(locref("Source", s));
    }
    if let Some(m) = &i.meta {
        el.push(meta(m));
    }
    if let Some(d) = &i.data {
        el.push(data(d));
    }
    flag(&mut el, "MoreData", i.more_data);
    el
}

fn command(c: &Command) -> Element {
    let mut el = Element::new(c.name());
    match c {
        Command::Add(x) | Command::Copy(x) | Command::Delete(x) | Command::Get(x) | Command::Replace(x) => {
            el.push(Element::text("CmdID", &x.cmd_id));
            flag(&mut el, "NoResp", x.no_resp);
            if let Some(cr) = &x.cred {
                el.push(cred(cr));
            }
            if let Some(m) = &x.meta {
                el.push(meta(m));
            }
            x.items.iter().for_each(|i| el.push(item(i)));
        }
        Command::Exec(x) => {
            el.push(Element::text("CmdID", &x.cmd_id));
            flag(&mut el, "NoResp", x.no_resp);
            if let Some(cr) = &x.cred {
                el.push(cred(cr));
            }
            if let Some(m) = &x.meta {
                el.push(meta(m));
            }
            opt_text(&mut el, "Correlator", &x.correlator);
            x.items.iter().for_each(|i| el.push(item(i)));
        }
        Command::Alert(x) => {
            el.push(Element::text("CmdID", &x.cmd_id));
            flag(&mut el, "NoResp", x.no_resp);
            if let Some(cr) = &x.cred {
                el.push(cred(cr));
            }
            if let Some(d) = &x.data {
                el.push(text_or_empty("Data", d));
            }
            opt_text(&mut el, "Correlator", &x.correlator);
            x.items.iter().for_each(|i| el.push(item(i)));
        }
        Command::Atomic(x) | Command::Sequence(x) => {
            el.push(Element::text("CmdID", &x.cmd_id));
            flag(&mut el, "NoResp", x.no_resp);
            if let Some(m) = &x.meta {
                el.push(meta(m));
            }
            x.commands.iter().for_each(|c| el.push(command(c)));
        }
        Command::Status(x) => {
            el.push(Element::text("CmdID", &x.cmd_id));
            el.push(Element::text("MsgRef", &x.msg_ref));
            el.push(Element::text("CmdRef", &x.cmd_ref));
            el.push(Element::text("Cmd", &x.cmd));
            x.target_refs.iter().for_each(|t| el.push(Element::text("TargetRef", t)));
            x.source_refs.iter().for_each(|t| el.push(Element::text("SourceRef", t)));
            if let Some(cr) = &x.cred {
                el.push(cred(cr));
            }
            if let Some(ch) = &x.chal {
                el.push(Element::new("Chal").with(meta(&ch.meta)));
            }
            el.push(text_or_empty("Data", &x.data));
            x.items.iter().for_each(|i| el.push(item(i)));
        }
        Command::Results(x) => {
            el.push(Element::text("CmdID", &x.cmd_id));
            opt_text(&mut el, "MsgRef", &x.msg_ref);
            el.push(Element::text("CmdRef", &x.cmd_ref));
            if let Some(m) = &x.meta {
                el.push(meta(m));
            }
            opt_text(&mut el, "TargetRef", &x.target_ref);
            opt_text(&mut el, "SourceRef", &x.source_ref);
            x.items.iter().for_each(|i| el.push(item(i)));
        }
        Command::Other { cmd_id, .. } => opt_text(&mut el, "CmdID", cmd_id),
    }
    el
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;

    /// Text XML 1.0 carries as it is (no `\r`, no control characters).
    fn text() -> impl Strategy<Value = String> {
        "[ -~äé€]{0,10}"
    }

    fn meta() -> BoxedStrategy<Meta> {
        (
            (option::of(text()), option::of(text()), option::of(text()), option::of(text())),
            (option::of(text()), option::of(text()), option::of(text()), option::of(text())),
            vec(text(), 0..2),
        )
            .prop_map(|((format, r#type, mark, size), (next_nonce, max_msg_size, max_obj_size, version), emi)| Meta {
                format,
                r#type,
                mark,
                size,
                next_nonce,
                max_msg_size,
                max_obj_size,
                version,
                emi,
            })
            .boxed()
    }

    fn data(binary: bool) -> BoxedStrategy<Data> {
        let opaque = if binary {
            vec(any::<u8>(), 1..12).prop_map(Data::Opaque).boxed()
        } else {
            "[ -~é]{1,10}"
                .prop_filter("CDATA cannot hold ]]>", |t| !t.contains("]]>"))
                .prop_map(|t| Data::Opaque(t.into_bytes()))
                .boxed()
        };
        prop_oneof![text().prop_map(Data::Text), opaque].boxed()
    }

    fn locref() -> BoxedStrategy<LocRef> {
        (text(), option::of(text())).prop_map(|(loc_uri, loc_name)| LocRef { loc_uri, loc_name }).boxed()
    }

    fn cred(binary: bool) -> BoxedStrategy<Cred> {
        (option::of(meta()), data(binary)).prop_map(|(meta, data)| Cred { meta, data }).boxed()
    }

    fn item(binary: bool) -> BoxedStrategy<Item> {
        (option::of(locref()), option::of(locref()), option::of(meta()), option::of(data(binary)), any::<bool>())
            .prop_map(|(target, source, meta, data, more_data)| Item { target, source, meta, data, more_data })
            .boxed()
    }

    fn item_command(binary: bool) -> BoxedStrategy<ItemCommand> {
        (text(), any::<bool>(), option::of(cred(binary)), option::of(meta()), vec(item(binary), 1..3))
            .prop_map(|(cmd_id, no_resp, cred, meta, items)| ItemCommand { cmd_id, no_resp, cred, meta, items })
            .boxed()
    }

    fn simple_command(binary: bool) -> BoxedStrategy<Command> {
        prop_oneof![
            item_command(binary).prop_map(Command::Add),
            item_command(binary).prop_map(Command::Replace),
            item_command(binary).prop_map(Command::Get),
            item_command(binary).prop_map(Command::Delete),
            item_command(binary).prop_map(Command::Copy),
            (text(), any::<bool>(), option::of(meta()), option::of(text()), vec(item(binary), 1..2)).prop_map(
                |(cmd_id, no_resp, meta, correlator, items)| Command::Exec(Exec {
                    cmd_id,
                    no_resp,
                    cred: None,
                    meta,
                    correlator,
                    items
                })
            ),
            (text(), option::of(text()), option::of(text()), vec(item(binary), 0..2)).prop_map(
                |(cmd_id, data, correlator, items)| Command::Alert(Alert {
                    cmd_id,
                    no_resp: false,
                    cred: None,
                    data,
                    correlator,
                    items
                })
            ),
        ]
        .boxed()
    }

    fn command(binary: bool) -> BoxedStrategy<Command> {
        prop_oneof![
            4 => simple_command(binary),
            1 => (text(), option::of(meta()), vec(simple_command(binary), 1..3), any::<bool>()).prop_map(
                |(cmd_id, meta, commands, atomic)| {
                    let c = Container { cmd_id, no_resp: false, meta, commands };
                    if atomic { Command::Atomic(c) } else { Command::Sequence(c) }
                }
            ),
            1 => (
                (text(), text(), text(), text()),
                (vec(text(), 0..2), vec(text(), 0..2), option::of(meta()), text(), vec(item(binary), 0..2)),
            )
                .prop_map(|((cmd_id, msg_ref, cmd_ref, cmd), (target_refs, source_refs, chal, data, items))| {
                    Command::Status(Status {
                        cmd_id,
                        msg_ref,
                        cmd_ref,
                        cmd,
                        target_refs,
                        source_refs,
                        cred: None,
                        chal: chal.map(|meta| Chal { meta }),
                        data,
                        items,
                    })
                }),
            1 => (text(), option::of(text()), text(), option::of(meta()), option::of(text()), vec(item(binary), 1..3))
                .prop_map(|(cmd_id, msg_ref, cmd_ref, meta, target_ref, items)| Command::Results(Results {
                    cmd_id,
                    msg_ref,
                    cmd_ref,
                    meta,
                    target_ref,
                    source_ref: None,
                    items
                })),
            1 => option::of(text()).prop_map(|cmd_id| Command::Other { name: "Sync".into(), cmd_id }),
        ]
        .boxed()
    }

    fn message(binary: bool) -> BoxedStrategy<Message> {
        (
            (text(), text(), text(), text(), locref(), locref()),
            (option::of(text()), option::of(cred(binary)), option::of(meta())),
            (vec(command(binary), 0..5), any::<bool>()),
        )
            .prop_map(
                |((ver_dtd, ver_proto, session_id, msg_id, target, source), (resp_uri, cred, meta), (commands, f))| {
                    Message {
                        hdr: SyncHdr {
                            ver_dtd,
                            ver_proto,
                            session_id,
                            msg_id,
                            target,
                            source,
                            resp_uri,
                            no_resp: false,
                            cred,
                            meta,
                        },
                        body: SyncBody { commands, r#final: f },
                    }
                },
            )
            .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_message_round_trips_through_wbxml(m in message(true)) {
            let bytes = m.to_wbxml().unwrap();
            prop_assert_eq!(Message::from_wbxml(&bytes).unwrap(), m);
        }

        #[test]
        fn every_text_message_round_trips_through_xml(m in message(false), indent in any::<bool>()) {
            let text = m.to_xml(indent).unwrap();
            prop_assert_eq!(Message::from_xml(&text).unwrap(), m.clone());
            // …and from XML to WBXML and back.
            prop_assert_eq!(Message::from_wbxml(&m.to_wbxml().unwrap()).unwrap(), m);
        }

        #[test]
        fn every_command_fragment_round_trips(cmds in vec(command(false), 1..4)) {
            // GwMO's DMCommands and DevResultXML (super::super::gwmo).
            let text = super::super::gwmo::fragment_xml(&cmds).unwrap();
            prop_assert_eq!(super::super::gwmo::parse_dm_commands(&text).unwrap(), cmds);
        }

        #[test]
        fn no_input_makes_the_decoders_panic(bytes in vec(any::<u8>(), 0..300)) {
            let _ = Message::from_wbxml(&bytes);
            let _ = Message::from_xml(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn errors_name_the_command_and_item() {
        let xml = r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>
            <SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source>
            </SyncHdr><SyncBody><Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>
            <Replace><CmdID>2</CmdID><Item><Data>1</Data></Item><Item><Target><LocURI>x</LocURI></Target><Cmd>no</Cmd></Item></Replace>
            </SyncBody></SyncML>"#;
        let e = Message::from_xml(xml).unwrap_err();
        assert_eq!(e.path, "/SyncML/SyncBody/Replace[2]/Item[2]", "{e}");
        assert!(e.expected.contains("only Target, Source, Meta, Data, MoreData in <Item>; got <Cmd>"), "{e}");
        assert_eq!(&xml[e.offset..e.offset + 5], "<Cmd>");
        let xml = xml.replace("<Cmd>no</Cmd>", "");
        assert!(Message::from_xml(&xml).is_ok());
        let e = Message::from_xml(&xml.replace("<MsgID>1</MsgID>", "")).unwrap_err();
        assert_eq!((e.path.as_str(), e.expected.as_str()), ("/SyncML/SyncHdr", "a <MsgID> in <SyncHdr>"));
        let e = Message::from_xml(&xml.replace("<CmdID>2</CmdID>", "<CmdID>2</CmdID><CmdID>3</CmdID>")).unwrap_err();
        assert!(e.expected.contains("one <CmdID> in <Replace>; got a second"), "{e}");
        let e =
            Message::from_xml(&xml.replace("</Replace>", "</Replace><Final/><Get><CmdID>4</CmdID></Get>")).unwrap_err();
        assert!(e.expected.contains("<Final/> last"), "{e}");
    }

    #[test]
    fn unused_syncml_commands_are_kept_for_an_answer_and_final_may_be_written_long() {
        let xml = r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>
            <SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source>
            </SyncHdr><SyncBody><Sync><CmdID>7</CmdID><Target><LocURI>x</LocURI></Target></Sync><Final></Final></SyncBody></SyncML>"#;
        let m = Message::from_xml(xml).unwrap();
        assert_eq!(m.body.commands, vec![Command::Other { name: "Sync".into(), cmd_id: Some("7".into()) }]);
        assert!(m.body.r#final);
    }
}
