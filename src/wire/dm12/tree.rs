//! The element tree both SyncML encodings decode into and encode from: XML text
//! ([`super::xml`]) and WBXML bytes ([`super::wbxml`]) meet here, so the typed messages
//! ([`super::message`]) are mapped once, whatever the encoding.
//!
//! SyncML elements carry no attributes (namespaces are implied by the WBXML code page, digest
//! §10.2), so an element is a name and its content: elements, text and opaque bytes (WBXML
//! OPAQUE, XML CDATA — libwbxml turns one into the other, digest §10.6).
use std::fmt;

/// One element: its name (the local name; its code page follows from it, [`super::codepages`])
/// and its content in document order. `offset` is where it began in the decoded input (byte
/// offset), for errors; it takes no part in equality.
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub children: Vec<Node>,
    pub offset: usize,
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.children == other.children
    }
}
impl Eq for Element {}

/// Content of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
    /// WBXML OPAQUE bytes, or an XML CDATA section.
    Opaque(Vec<u8>),
}

impl Element {
    pub fn new(name: &str) -> Element {
        Element { name: name.to_string(), children: Vec::new(), offset: 0 }
    }

    /// An element holding only `text`.
    pub fn text(name: &str, text: impl Into<String>) -> Element {
        Element { name: name.to_string(), children: vec![Node::Text(text.into())], offset: 0 }
    }

    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    pub fn with(mut self, child: Element) -> Element {
        self.push(child);
        self
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// Appends text, joining it to text just before it (pieces of one string may arrive as
    /// several WBXML tokens, or as text and entity references in XML).
    pub fn push_text(&mut self, text: &str) {
        if let Some(Node::Text(t)) = self.children.last_mut() {
            t.push_str(text);
        } else {
            self.children.push(Node::Text(text.to_string()));
        }
    }
}

/// Which encoding an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Xml,
    Wbxml,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Xml => "XML",
            Encoding::Wbxml => "WBXML",
        })
    }
}

/// A SyncML message that could not be decoded: where (byte offset in the input, and the
/// element path, e.g. `/SyncML/SyncBody/Replace[2]/Item[1]`), and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    pub encoding: Encoding,
    pub offset: usize,
    /// Empty when the error is before the first element.
    pub path: String,
    pub expected: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncML {} at byte {}", self.encoding, self.offset)?;
        if !self.path.is_empty() {
            write!(f, " ({})", self.path)?;
        }
        write!(f, ": {}", self.expected)
    }
}

/// A message the chosen encoding cannot carry as it is (e.g. binary data in XML, digest §10.6:
/// over XML binary data MUST be b64).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode as SyncML {encoding} ({path}): {why}")]
pub struct EncodeError {
    pub encoding: Encoding,
    pub path: String,
    pub why: String,
}
