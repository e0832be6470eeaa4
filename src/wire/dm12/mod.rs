//! SyncML DM 1.2 wire format (issue 11; digest `../shared/spec/dm12-protocol.md`): messages as
//! typed models ([`message`]), in XML ([`xml`], quick-xml) and WBXML ([`wbxml`], with the
//! SyncML and MetInf code pages of [`codepages`]); both encodings meet in one element tree
//! ([`tree`]), so a message is mapped once whatever its encoding. Authentication values
//! (basic, md5, the `x-syncml-hmac` MAC) are in [`auth`], the Package#0 in [`notification`];
//! what a message must be beyond parsing (DTD order, CmdIDs, references) in [`rules`];
//! deliberate defects for negative cases and faults in [`tamper`]; GwMO's DMCommands fragment and
//! aggregate in [`gwmo`].
pub mod auth;
pub mod codepages;
pub mod commands;
pub mod gwmo;
pub mod json;
pub mod message;
pub mod notification;
pub mod profile;
pub mod rules;
pub mod tamper;
pub mod tree;
pub mod wbxml;
pub mod xml;

pub use message::{
    Alert, Chal, Command, Container, Cred, Data, Exec, Item, ItemCommand, LocRef, Message, Meta, Results, Status,
    SyncBody, SyncHdr,
};
pub use tree::{DecodeError, Element, EncodeError, Encoding, Node};

/// Media type of a DM 1.2 message in XML (digest §1.2).
pub const MEDIA_XML: &str = "application/vnd.syncml.dm+xml";
/// Media type of a DM 1.2 message in WBXML.
pub const MEDIA_WBXML: &str = "application/vnd.syncml.dm+wbxml";

/// Whether two URIs name the same node: `./DMAcc/x` and `DMAcc/x` do (digest §11.1, V T-TND
/// 8.1), so a device may echo a target either way in its Results Source or Status refs.
pub fn same_node(a: &str, b: &str) -> bool {
    let norm = |u: &str| {
        let u = u.trim();
        u.strip_prefix("./").unwrap_or(u).to_string()
    };
    norm(a) == norm(b)
}

/// Decodes a message whose HTTP Content-Type is `media_type` (parameters allowed).
pub fn decode(body: &[u8], media_type: &str) -> Result<Message, DecodeError> {
    match crate::wire::media::media_type_of(media_type).as_str() {
        MEDIA_WBXML => Message::from_wbxml(body),
        _ => {
            let text = std::str::from_utf8(body).map_err(|e| DecodeError {
                encoding: Encoding::Xml,
                offset: e.valid_up_to(),
                path: String::new(),
                expected: "UTF-8 text".into(),
            })?;
            Message::from_xml(text)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_relative_uri_names_the_same_node_with_or_without_its_dot() {
        assert!(super::same_node("./FUMO?prop=Type", "FUMO?prop=Type"));
        assert!(super::same_node("./DevInfo/Mod", "./DevInfo/Mod"));
        assert!(!super::same_node("./DevInfo/Mod", "./DevInfo/Man"));
    }
}
