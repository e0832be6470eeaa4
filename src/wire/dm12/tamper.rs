//! Deliberate defects for negative cases and reference-peer faults (as
//! [`crate::wire::dm2::Tamper`] does for DM 2.0): each isolates one defect the digest names —
//! most of them seen in real products (digest §13) — and leaves the rest of the message right.
use super::message::{Command, Message};
use super::notification::Trigger;
use super::tree::{Element, Node};
use serde::{Deserialize, Serialize};

/// A defect of one SyncML message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageTamper {
    /// Alert's `Correlator` written before its `Data` (RTK, digest §3.5/§13).
    CorrelatorBeforeData,
    /// The second command gets the first command's CmdID (WOS, HAP, digest §13).
    RepeatedCmdId,
    /// The Status for the SyncHdr moved after the other commands (digest §3.4).
    HeaderStatusLast,
    /// The Status for the SyncHdr carries status code `0` (LDC without server Cred, §8.5).
    HeaderStatusZero,
    /// `VerProto` says `DM/1.1`.
    WrongVerProto,
    /// No `<Final/>` where the package ends.
    NoFinal,
    /// Statuses lose their `CmdRef` target: every command Status refers to CmdRef 999.
    DanglingCmdRef,
}

impl MessageTamper {
    pub const ALL: &'static [MessageTamper] = &[
        MessageTamper::CorrelatorBeforeData,
        MessageTamper::RepeatedCmdId,
        MessageTamper::HeaderStatusLast,
        MessageTamper::HeaderStatusZero,
        MessageTamper::WrongVerProto,
        MessageTamper::NoFinal,
        MessageTamper::DanglingCmdRef,
    ];

    /// The message with the defect, as the element tree an encoder writes (the DTD-order defect
    /// cannot be expressed in the typed model, which writes DTD order).
    pub fn apply(self, m: &Message) -> Element {
        let mut m = m.clone();
        match self {
            MessageTamper::CorrelatorBeforeData => {}
            MessageTamper::RepeatedCmdId => {
                let first = m.body.commands.first().and_then(|c| c.cmd_id()).map(str::to_string);
                if let (Some(id), Some(second)) = (first, m.body.commands.get_mut(1)) {
                    second.set_cmd_id(id);
                }
            }
            MessageTamper::HeaderStatusLast => {
                if let Some(i) = m.body.commands.iter().position(is_header_status) {
                    let s = m.body.commands.remove(i);
                    m.body.commands.push(s);
                }
            }
            MessageTamper::HeaderStatusZero => {
                for c in &mut m.body.commands {
                    if let Command::Status(s) = c {
                        if s.cmd == "SyncHdr" {
                            s.data = "0".into();
                        }
                    }
                }
            }
            MessageTamper::WrongVerProto => m.hdr.ver_proto = "DM/1.1".into(),
            MessageTamper::NoFinal => m.body.r#final = false,
            MessageTamper::DanglingCmdRef => {
                for c in &mut m.body.commands {
                    if let Command::Status(s) = c {
                        if s.cmd != "SyncHdr" {
                            s.cmd_ref = "999".into();
                        }
                    }
                }
            }
        }
        let mut tree = m.to_tree();
        if self == MessageTamper::CorrelatorBeforeData {
            correlator_first(&mut tree);
        }
        tree
    }
}

fn is_header_status(c: &Command) -> bool {
    matches!(c, Command::Status(s) if s.cmd == "SyncHdr")
}

/// In every Alert, moves `Correlator` before `Data`.
fn correlator_first(el: &mut Element) {
    if el.name == "Alert" {
        let pos =
            |name: &str, el: &Element| el.children.iter().position(|c| matches!(c, Node::Element(e) if e.name == name));
        if let (Some(d), Some(c)) = (pos("Data", el), pos("Correlator", el)) {
            if c > d {
                let corr = el.children.remove(c);
                el.children.insert(d, corr);
            }
        }
    }
    for c in &mut el.children {
        if let Node::Element(e) = c {
            correlator_first(e);
        }
    }
}

/// A defect of a Package#0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationTamper {
    /// One bit of the digest flipped.
    WrongDigest,
    /// Version 10 instead of 11 (the digest recomputed).
    WrongVersion,
    /// Future-use bits not zero (the digest recomputed).
    FutureUseSet,
}

impl NotificationTamper {
    /// A Package#0 for `trigger` with the defect.
    pub fn encode(self, trigger: &Trigger, password: &str, nonce: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            NotificationTamper::WrongDigest => {
                let mut b = super::notification::encode(trigger, password, nonce)?;
                b[0] ^= 0x01;
                Ok(b)
            }
            NotificationTamper::WrongVersion => {
                super::notification::encode(&Trigger { version: 10, ..trigger.clone() }, password, nonce)
            }
            NotificationTamper::FutureUseSet => {
                let mut t = trigger.bytes()?;
                t[4] |= 0x01;
                let mut out = super::auth::notification_digest(&trigger.server_id, password, nonce, &t).to_vec();
                out.extend(t);
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dm12::notification::{Notification, UiMode};
    use crate::wire::dm12::rules;

    fn fixture(name: &str) -> Message {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dm12");
        Message::from_xml(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap()).unwrap()
    }

    #[test]
    fn each_message_tamper_breaks_the_rule_it_names_and_only_that() {
        let answered = fixture("digest-15.4-s2.xml");
        let m = fixture("digest-15.5-c3.xml");
        let findings = |tree: &Element| -> Vec<&'static str> {
            let parsed = Message::from_tree(tree, crate::wire::dm12::Encoding::Xml).unwrap();
            let mut r: Vec<&str> =
                [rules::dtd_order(tree), rules::message_rules(&parsed), rules::answer_rules(&parsed, &answered)]
                    .concat()
                    .iter()
                    .map(|f| f.rule)
                    .collect();
            r.dedup();
            r
        };
        assert_eq!(findings(&m.to_tree()), Vec::<&str>::new());
        let c4 = fixture("digest-15.8-c4.xml");
        assert_eq!(rules::dtd_order(&MessageTamper::CorrelatorBeforeData.apply(&c4)).len(), 1);
        assert_eq!(findings(&MessageTamper::RepeatedCmdId.apply(&m)), ["cmdid-unique"]);
        assert_eq!(findings(&MessageTamper::HeaderStatusLast.apply(&m)), ["synchdr-status-first"]);
        assert_eq!(findings(&MessageTamper::WrongVerProto.apply(&m)), ["version"]);
        assert_eq!(findings(&MessageTamper::DanglingCmdRef.apply(&m)), ["status-ref"]);
        let zero =
            Message::from_tree(&MessageTamper::HeaderStatusZero.apply(&m), crate::wire::dm12::Encoding::Xml).unwrap();
        assert!(matches!(&zero.body.commands[0], Command::Status(s) if s.data == "0"));
        let no_final = Message::from_tree(&MessageTamper::NoFinal.apply(&m), crate::wire::dm12::Encoding::Xml).unwrap();
        assert!(!no_final.body.r#final && m.body.r#final);
    }

    #[test]
    fn notification_tampers_isolate_one_defect() {
        let t = Trigger {
            version: 11,
            ui_mode: UiMode::Background,
            server_initiated: true,
            session_id: 7,
            server_id: "dms".into(),
            vendor: vec![],
        };
        let nonce = [1, 2, 3, 4];
        let b = NotificationTamper::WrongDigest.encode(&t, "pw", &nonce).unwrap();
        let n = Notification::decode(&b).unwrap();
        assert!(!n.verifies(&b, "pw", &nonce));
        let b = NotificationTamper::WrongVersion.encode(&t, "pw", &nonce).unwrap();
        let n = Notification::decode(&b).unwrap();
        assert!(n.verifies(&b, "pw", &nonce) && n.version == 10);
        let b = NotificationTamper::FutureUseSet.encode(&t, "pw", &nonce).unwrap();
        let n = Notification::decode(&b).unwrap();
        assert!(n.verifies(&b, "pw", &nonce) && n.future_use == 1 && n.version == 11);
    }
}
