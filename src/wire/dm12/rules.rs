//! What a well-formed SyncML DM 1.2 message must also be, judged apart from parsing (digest
//! §3.1: the parser accepts any order; a checker reports what breaks the rules): the DTD order
//! of every element's children (§3.2, §3.5), CmdIDs unique in the message (§3.3), the Status
//! for the SyncHdr first in SyncBody (§3.4), the versions (§3.2), and Statuses that refer to
//! commands of the message they answer (§3.3). Each finding names the rule, the element path
//! and what was seen, so the binding's checks can charge it to the right item.
use super::message::{Command, Message};
use super::tree::{Element, Node};

/// A rule a message breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Short id of the rule (`dtd-order`, `cmdid-unique`, `synchdr-status-first`, `version`,
    /// `status-ref`).
    pub rule: &'static str,
    pub path: String,
    pub what: String,
}

/// The children of an element in DTD order (digest §3.2, §3.5); `*` marks "any command".
fn content_model(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "SyncML" => &["SyncHdr", "SyncBody"],
        "SyncHdr" => {
            &["VerDTD", "VerProto", "SessionID", "MsgID", "Target", "Source", "RespURI", "NoResp", "Cred", "Meta"]
        }
        "SyncBody" => &["*", "Final"],
        "Target" | "Source" => &["LocURI", "LocName"],
        "Cred" => &["Meta", "Data"],
        "Item" => &["Target", "Source", "Meta", "Data", "MoreData"],
        "Add" | "Replace" | "Copy" | "Get" | "Delete" => &["CmdID", "NoResp", "Cred", "Meta", "Item"],
        "Exec" => &["CmdID", "NoResp", "Cred", "Meta", "Correlator", "Item"],
        "Alert" => &["CmdID", "NoResp", "Cred", "Data", "Correlator", "Item"],
        "Atomic" | "Sequence" => &["CmdID", "NoResp", "Meta", "*"],
        "Status" => &["CmdID", "MsgRef", "CmdRef", "Cmd", "TargetRef", "SourceRef", "Cred", "Chal", "Data", "Item"],
        "Results" => &["CmdID", "MsgRef", "CmdRef", "Meta", "TargetRef", "SourceRef", "Item"],
        _ => return None,
    })
}

const COMMANDS: &[&str] = &[
    "Add", "Alert", "Atomic", "Copy", "Delete", "Exec", "Get", "Replace", "Results", "Sequence", "Status", "Sync",
    "Map", "Put", "Search", "Move",
];

fn rank(model: &[&str], child: &str) -> Option<usize> {
    model.iter().position(|m| *m == child || (*m == "*" && COMMANDS.contains(&child)))
}

/// Children out of DTD order, element by element.
pub fn dtd_order(root: &Element) -> Vec<Finding> {
    let mut out = Vec::new();
    walk_order(root, "", &mut out);
    out
}

fn walk_order(el: &Element, parent: &str, out: &mut Vec<Finding>) {
    let path = format!("{parent}/{}", el.name);
    if let Some(model) = content_model(&el.name) {
        let mut last: Option<(usize, &str)> = None;
        for child in el.elements() {
            let Some(r) = rank(model, &child.name) else { continue };
            if let Some((lr, lname)) = last {
                if r < lr {
                    out.push(Finding {
                        rule: "dtd-order",
                        path: path.clone(),
                        what: format!(
                            "<{}> after <{lname}>; the DTD order in <{}> is {}",
                            child.name,
                            el.name,
                            model.iter().map(|m| if *m == "*" { "commands" } else { m }).collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
            }
            if last.is_none_or(|(lr, _)| r >= lr) {
                last = Some((r, &child.name));
            }
        }
    }
    for child in el.elements() {
        walk_order(child, &path, out);
    }
}

/// Everything [`Message`] level: versions, CmdID uniqueness, the SyncHdr Status first.
pub fn message_rules(m: &Message) -> Vec<Finding> {
    let mut out = Vec::new();
    if m.hdr.ver_dtd != "1.2" {
        out.push(Finding {
            rule: "version",
            path: "/SyncML/SyncHdr/VerDTD".into(),
            what: format!("VerDTD {:?}; expected \"1.2\"", m.hdr.ver_dtd),
        });
    }
    if m.hdr.ver_proto != "DM/1.2" {
        out.push(Finding {
            rule: "version",
            path: "/SyncML/SyncHdr/VerProto".into(),
            what: format!("VerProto {:?}; expected \"DM/1.2\"", m.hdr.ver_proto),
        });
    }
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    fn ids<'a>(cs: &'a [Command], path: &str, out: &mut Vec<(String, &'a str)>) {
        for (i, c) in cs.iter().enumerate() {
            let p = format!("{path}/{}[{}]", c.name(), i + 1);
            if let Some(id) = c.cmd_id() {
                out.push((p.clone(), id));
            }
            if let Command::Atomic(x) | Command::Sequence(x) = c {
                ids(&x.commands, &p, out);
            }
        }
    }
    let mut all = Vec::new();
    ids(&m.body.commands, "/SyncML/SyncBody", &mut all);
    for (path, id) in all {
        if let Some(first) = seen.get(id) {
            out.push(Finding {
                rule: "cmdid-unique",
                path,
                what: format!("CmdID {id} again (first at {first}); CmdIDs are unique within a message"),
            });
        } else {
            seen.insert(id.to_string(), path);
        }
    }
    out
}

/// Rules for a message that answers `answered` (the peer's previous message): its first
/// element is the Status for that message's SyncHdr (CmdRef 0, MsgRef = its MsgID), and every
/// Status/Results refers, by MsgRef and CmdRef, to a command of a message it answers with the
/// command's name in `Cmd`. Statuses whose MsgRef names another message are not judged here.
pub fn answer_rules(m: &Message, answered: &Message) -> Vec<Finding> {
    let mut out = Vec::new();
    let msg_id = &answered.hdr.msg_id;
    match m.body.commands.first() {
        Some(Command::Status(s)) if s.cmd == "SyncHdr" && s.cmd_ref == "0" && &s.msg_ref == msg_id => {}
        Some(Command::Status(s)) if s.cmd == "SyncHdr" => out.push(Finding {
            rule: "synchdr-status-first",
            path: "/SyncML/SyncBody/Status[1]".into(),
            what: format!(
                "the Status for the SyncHdr has MsgRef {} and CmdRef {}; expected MsgRef {msg_id} and CmdRef 0",
                s.msg_ref, s.cmd_ref
            ),
        }),
        first => out.push(Finding {
            rule: "synchdr-status-first",
            path: "/SyncML/SyncBody".into(),
            what: format!(
                "first in SyncBody: {}; expected the Status for the SyncHdr of message {msg_id}",
                first.map(|c| format!("<{}>", c.name())).unwrap_or_else(|| "nothing".into())
            ),
        }),
    }
    let mut commands = std::collections::BTreeMap::<&str, &str>::new();
    fn index<'a>(cs: &'a [Command], into: &mut std::collections::BTreeMap<&'a str, &'a str>) {
        for c in cs {
            if let Some(id) = c.cmd_id() {
                into.insert(id, c.name());
            }
            if let Command::Atomic(x) | Command::Sequence(x) = c {
                index(&x.commands, into);
            }
        }
    }
    index(&answered.body.commands, &mut commands);
    for (i, c) in m.body.commands.iter().enumerate() {
        let path = format!("/SyncML/SyncBody/{}[{}]", c.name(), i + 1);
        let (msg_ref, cmd_ref, cmd) = match c {
            Command::Status(s) if s.cmd != "SyncHdr" => {
                (Some(s.msg_ref.as_str()), s.cmd_ref.as_str(), Some(s.cmd.as_str()))
            }
            Command::Results(r) => (r.msg_ref.as_deref(), r.cmd_ref.as_str(), None),
            _ => continue,
        };
        if msg_ref.is_some_and(|r| r != msg_id) {
            continue;
        }
        match (commands.get(cmd_ref), cmd) {
            // No CmdRef at all: a DTD matter (the Status still says how a command went, paired
            // by its Cmd and order, digest §13 H1), not a reference to a wrong command.
            (None, _) if cmd_ref.trim().is_empty() => {
                out.push(Finding { rule: "cmdref-missing", path, what: "a Status or Results without CmdRef".into() })
            }
            (None, _) => out.push(Finding {
                rule: "status-ref",
                path,
                what: format!("CmdRef {cmd_ref}: message {msg_id} has no command with that CmdID"),
            }),
            (Some(name), Some(cmd)) if *name != cmd => out.push(Finding {
                rule: "status-ref",
                path,
                what: format!("Cmd {cmd} for CmdRef {cmd_ref}, which is a <{name}>"),
            }),
            _ => {}
        }
    }
    out
}

/// Text directly inside an element that holds elements (e.g. stray characters in SyncBody) is
/// refused by the parser; this lists where opaque data stands in a leaf other than `Data`, which
/// the parser accepts when it is UTF-8 (RTK does that, digest §10.6) and a check may flag.
pub fn opaque_outside_data(root: &Element) -> Vec<Finding> {
    let mut out = Vec::new();
    fn walk(el: &Element, parent: &str, out: &mut Vec<Finding>) {
        let path = format!("{parent}/{}", el.name);
        if el.name != "Data" && el.children.iter().any(|c| matches!(c, Node::Opaque(_))) {
            out.push(Finding {
                rule: "opaque-text",
                path: path.clone(),
                what: format!("<{}> holds opaque data, not a string", el.name),
            });
        }
        el.elements().for_each(|c| walk(c, &path, out));
    }
    walk(root, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dm12::xml;

    const HDR: &str =
        "<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID>\
        <Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source></SyncHdr>";

    fn msg(body: &str) -> String {
        format!("<SyncML xmlns='SYNCML:SYNCML1.2'>{HDR}<SyncBody>{body}</SyncBody></SyncML>")
    }

    #[test]
    fn rtks_correlator_before_data_breaks_the_dtd_order() {
        let root =
            xml::decode(&msg("<Alert><CmdID>1</CmdID><Correlator>c</Correlator><Data>1226</Data></Alert><Final/>"))
                .unwrap();
        let f = dtd_order(&root);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].path, "/SyncML/SyncBody/Alert");
        assert!(f[0].what.starts_with("<Data> after <Correlator>"), "{}", f[0].what);
        let ok =
            xml::decode(&msg("<Alert><CmdID>1</CmdID><Data>1226</Data><Correlator>c</Correlator></Alert><Final/>"))
                .unwrap();
        assert_eq!(dtd_order(&ok), vec![]);
        let late = xml::decode(&msg("<Final/><Alert><CmdID>1</CmdID></Alert>")).unwrap();
        assert_eq!(dtd_order(&late)[0].rule, "dtd-order");
    }

    #[test]
    fn the_digests_examples_keep_every_rule() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dm12");
        let read = |n: &str| std::fs::read_to_string(format!("{dir}/{n}")).unwrap();
        let pairs = [
            ("digest-15.2-s1.xml", "digest-15.1-c1.xml"),
            ("digest-15.3-c2.xml", "digest-15.2-s1.xml"),
            ("digest-15.4-s2.xml", "digest-15.3-c2.xml"),
            ("digest-15.5-c3.xml", "digest-15.4-s2.xml"),
            ("digest-15.7-s3.xml", "digest-15.5-c3.xml"),
            ("digest-15.9-s4.xml", "digest-15.8-c4.xml"),
        ];
        for (answer, answered) in pairs {
            let (a, b) = (read(answer), read(answered));
            let m = Message::from_xml(&a).unwrap();
            let root = xml::decode(&a).unwrap();
            let all: Vec<Finding> =
                [dtd_order(&root), message_rules(&m), answer_rules(&m, &Message::from_xml(&b).unwrap())].concat();
            assert_eq!(all, vec![], "{answer}");
        }
    }

    #[test]
    fn repeated_cmdids_wrong_refs_and_a_late_header_status_are_found() {
        let answered = Message::from_xml(&msg(
            "<Get><CmdID>3</CmdID><Item><Target><LocURI>./x</LocURI></Target></Item></Get><Final/>",
        ))
        .unwrap();
        let m = Message::from_xml(&msg(
            "<Status><CmdID>1</CmdID><MsgRef>2</MsgRef><CmdRef>3</CmdRef><Cmd>Replace</Cmd><Data>200</Data></Status>\
             <Status><CmdID>1</CmdID><MsgRef>2</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>\
             <Results><CmdID>2</CmdID><CmdRef>9</CmdRef><Item><Data>v</Data></Item></Results><Final/>",
        ))
        .unwrap();
        let rules: Vec<&str> = message_rules(&m).iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["cmdid-unique"]);
        let f = answer_rules(&m, &answered);
        let what: Vec<&str> = f.iter().map(|f| f.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "first in SyncBody: <Status>; expected the Status for the SyncHdr of message 2",
                "Cmd Replace for CmdRef 3, which is a <Get>",
                "CmdRef 9: message 2 has no command with that CmdID",
            ]
        );
        let v = Message::from_xml(&msg("<Final/>").replace("<VerDTD>1.2", "<VerDTD>1.1")).unwrap();
        assert_eq!(message_rules(&v)[0].what, "VerDTD \"1.1\"; expected \"1.2\"");
    }
}
