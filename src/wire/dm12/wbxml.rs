//! WBXML (WAP Binary XML) for SyncML DM messages, both ways (digest §10). No maintained Rust
//! crate does WBXML, so this is the codec; libwbxml is its oracle in the tests
//! (tests/wbxml_oracle.rs).
//!
//! Decoding accepts what real codecs send: WBXML 1.1–1.3, the public id as a number or as a
//! string-table entry, text as inline strings, string-table references, OPAQUE or a mix (the
//! pieces are joined), code pages switched eagerly or lazily. It refuses what a SyncML message
//! never holds (attributes, literal tags, extensions, processing instructions) with the byte
//! offset and the element path. Encoding writes WBXML 1.2, public id 0x1201, UTF-8, no string
//! table, inline strings, switching the code page lazily before the first tag of another page
//! — what `xml2wbxml -n -v 1.2` writes.
use super::codepages::{self, Page};
use super::tree::{DecodeError, Element, EncodeError, Encoding, Node};

/// Deeper nesting than any DM message needs (Atomic in Sequence in SyncBody…): refused, so a
/// hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const ENTITY: u8 = 0x02;
const STR_I: u8 = 0x03;
const LITERAL: u8 = 0x04;
const STR_T: u8 = 0x83;
const OPAQUE: u8 = 0xC3;

/// A decoded WBXML document: its header and its root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// 0x01 = WBXML 1.1, 0x02 = 1.2, 0x03 = 1.3.
    pub version: u8,
    pub public_id: PublicId,
    pub root: Element,
}

/// The document type, as a well-known number or a formal public identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicId {
    Known(u32),
    String(String),
}

impl PublicId {
    /// Whether it names a SyncML document (1.0, 1.1 or 1.2).
    pub fn is_syncml(&self) -> bool {
        match self {
            PublicId::Known(id) => {
                [codepages::PUBLIC_ID_SYNCML_12, codepages::PUBLIC_ID_SYNCML_11, codepages::PUBLIC_ID_SYNCML_10]
                    .contains(id)
            }
            PublicId::String(s) => s.starts_with("-//SYNCML//DTD SyncML "),
        }
    }
}

/// How [`encode`] writes the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub version: u8,
    pub public_id: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { version: 0x02, public_id: codepages::PUBLIC_ID_SYNCML_12 }
    }
}

/// Decodes a SyncML WBXML document.
pub fn decode(bytes: &[u8]) -> Result<Document, DecodeError> {
    let mut d = Decoder { b: bytes, pos: 0, page: Page::SyncMl, strtbl: &[], path: Vec::new() };
    let version = d.byte("the WBXML version")?;
    if !(0x01..=0x03).contains(&version) {
        return Err(
            d.error_at(0, format!("WBXML version 0x{version:02x}: expected 0x01, 0x02 or 0x03 (WBXML 1.1–1.3)"))
        );
    }
    let id = d.mb_u32("the public id")?;
    let index = if id == 0 { Some(d.mb_u32("the public id's string-table index")?) } else { None };
    let at = d.pos;
    let charset = d.mb_u32("the charset")?;
    if charset != codepages::CHARSET_UTF8 {
        return Err(d.error_at(at, format!("charset {charset}: expected 106 (UTF-8)")));
    }
    let len = d.mb_u32("the string table's length")? as usize;
    let start = d.pos;
    if bytes.len() - start < len {
        return Err(
            d.error_at(start, format!("a string table of {len} bytes; the input ends after {}", bytes.len() - start))
        );
    }
    d.strtbl = &bytes[start..start + len];
    d.pos += len;
    let public_id = match index {
        None => PublicId::Known(id),
        Some(i) => PublicId::String(d.table_string(i as usize, start)?),
    };
    if !public_id.is_syncml() {
        return Err(d.error_at(1, format!("public id {public_id:?}: expected a SyncML document (0x1201 SyncML 1.2)")));
    }
    let at = d.pos;
    let token = d.byte("the root element")?;
    let root = d.element(token, at, 0)?;
    if d.pos != bytes.len() {
        return Err(
            d.error_at(d.pos, format!("the end of the input; {} bytes follow the root element", bytes.len() - d.pos))
        );
    }
    Ok(Document { version, public_id, root })
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
    page: Page,
    strtbl: &'a [u8],
    path: Vec<String>,
}

impl<'a> Decoder<'a> {
    fn error_at(&self, offset: usize, expected: impl Into<String>) -> DecodeError {
        let path = if self.path.is_empty() { String::new() } else { format!("/{}", self.path.join("/")) };
        DecodeError { encoding: Encoding::Wbxml, offset, path, expected: expected.into() }
    }

    fn byte(&mut self, what: &str) -> Result<u8, DecodeError> {
        let b = *self.b.get(self.pos).ok_or_else(|| self.error_at(self.pos, format!("{what}; the input ended")))?;
        self.pos += 1;
        Ok(b)
    }

    /// A multi-byte unsigned integer: base-128 groups, big-endian, bit 7 set on all but the
    /// last byte; at most 5 bytes and 32 bits.
    fn mb_u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for _ in 0..5 {
            let b = self.byte(what)?;
            v = (v << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| self.error_at(start, format!("{what}: a 32-bit integer")));
            }
        }
        Err(self.error_at(start, format!("{what}: a multi-byte integer of at most 5 bytes")))
    }

    fn utf8(&self, bytes: &[u8], at: usize, what: &str) -> Result<String, DecodeError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            self.error_at(at + e.utf8_error().valid_up_to(), format!("{what}: UTF-8 text (the charset is UTF-8)"))
        })
    }

    fn table_string(&self, index: usize, table_at: usize) -> Result<String, DecodeError> {
        let Some(rest) = self.strtbl.get(index..).filter(|r| !r.is_empty()) else {
            return Err(
                self.error_at(table_at, format!("a string-table index below {}; got {index}", self.strtbl.len()))
            );
        };
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.error_at(table_at + index, "a NUL-terminated string in the string table"))?;
        self.utf8(&rest[..end], table_at + index, "a string-table entry")
    }

    /// The element whose tag token (already read, at `at`) is `token`, with its content.
    fn element(&mut self, token: u8, at: usize, depth: usize) -> Result<Element, DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(self.error_at(at, format!("at most {MAX_DEPTH} levels of elements")));
        }
        let name = match token {
            SWITCH_PAGE | END | ENTITY | STR_I | STR_T | OPAQUE => {
                return Err(self.error_at(at, format!("a tag; got the global token 0x{token:02x}")));
            }
            LITERAL | 0x44 | 0x84 | 0xC4 => {
                return Err(self
                    .error_at(at, "a tag of the SyncML or MetInf code page; got a literal tag (not used by SyncML)"));
            }
            _ if token & 0x80 != 0 => {
                return Err(self.error_at(at, format!("a tag without attributes (SyncML has none); got 0x{token:02x}")));
            }
            _ => codepages::tag_name(self.page, token).ok_or_else(|| {
                self.error_at(
                    at,
                    format!("a tag of code page {} ({}); got 0x{token:02x}", self.page.number(), self.page.namespace()),
                )
            })?,
        };
        let mut el = Element { name: name.to_string(), children: Vec::new(), offset: at };
        if token & 0x40 == 0 {
            return Ok(el);
        }
        self.path.push(name.to_string());
        loop {
            let at = self.pos;
            let t = self.byte(&format!("the content or END of <{name}>"))?;
            match t {
                SWITCH_PAGE => {
                    let p = self.byte("the code page to switch to")?;
                    self.page = Page::from_number(p)
                        .ok_or_else(|| self.error_at(at + 1, format!("code page 0 (SyncML) or 1 (MetInf); got {p}")))?;
                }
                END => break,
                ENTITY => {
                    let c = self.mb_u32("an entity's character code")?;
                    let ch = char::from_u32(c)
                        .ok_or_else(|| self.error_at(at, format!("a Unicode character code; got {c:#x}")))?;
                    el.push_text(ch.encode_utf8(&mut [0; 4]));
                }
                STR_I => {
                    let start = self.pos;
                    let len = self.b[start..]
                        .iter()
                        .position(|&b| b == 0)
                        .ok_or_else(|| self.error_at(start, "a NUL-terminated inline string"))?;
                    let s = self.utf8(&self.b[start..start + len], start, "an inline string")?;
                    self.pos = start + len + 1;
                    el.push_text(&s);
                }
                STR_T => {
                    let i = self.mb_u32("a string-table reference")?;
                    let s = self.table_string(i as usize, at)?;
                    el.push_text(&s);
                }
                OPAQUE => {
                    let len = self.mb_u32("the length of opaque data")? as usize;
                    let start = self.pos;
                    if self.b.len() - start < len {
                        return Err(self.error_at(
                            at,
                            format!("{len} opaque bytes; the input ends after {}", self.b.len() - start),
                        ));
                    }
                    el.children.push(Node::Opaque(self.b[start..start + len].to_vec()));
                    self.pos += len;
                }
                _ => {
                    let child = self.element(t, at, depth + 1)?;
                    el.push(child);
                }
            }
        }
        self.path.pop();
        Ok(el)
    }
}

/// Encodes `root` (a SyncML message's tree) as WBXML.
pub fn encode(root: &Element, options: Options) -> Result<Vec<u8>, EncodeError> {
    let mut out = vec![options.version];
    mb_u32(&mut out, options.public_id);
    mb_u32(&mut out, codepages::CHARSET_UTF8);
    mb_u32(&mut out, 0);
    let mut page = Page::SyncMl;
    encode_element(&mut out, root, &mut page, &mut Vec::new())?;
    Ok(out)
}

fn encode_element(out: &mut Vec<u8>, el: &Element, page: &mut Page, path: &mut Vec<String>) -> Result<(), EncodeError> {
    path.push(el.name.clone());
    let (p, token) = codepages::token_of(&el.name).ok_or_else(|| EncodeError {
        encoding: Encoding::Wbxml,
        path: format!("/{}", path.join("/")),
        why: format!("<{}> is on no SyncML or MetInf code page", el.name),
    })?;
    if p != *page {
        out.extend([SWITCH_PAGE, p.number()]);
        *page = p;
    }
    if el.children.is_empty() {
        out.push(token);
        path.pop();
        return Ok(());
    }
    out.push(token | 0x40);
    for child in &el.children {
        match child {
            Node::Element(e) => encode_element(out, e, page, path)?,
            // A NUL cannot be in an inline string: such text goes as opaque bytes.
            Node::Text(t) if t.contains('\0') => opaque(out, t.as_bytes()),
            Node::Text(t) => {
                out.push(STR_I);
                out.extend_from_slice(t.as_bytes());
                out.push(0);
            }
            Node::Opaque(b) => opaque(out, b),
        }
    }
    out.push(END);
    path.pop();
    Ok(())
}

fn opaque(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(OPAQUE);
    mb_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// Writes a multi-byte unsigned integer.
pub fn mb_u32(out: &mut Vec<u8>, v: u32) {
    let mut groups = [0u8; 5];
    let mut n = 0;
    let mut v = v;
    loop {
        groups[n] = (v & 0x7F) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest's annotated example (§10.8): built with libwbxml, opaque bytes patched.
    pub const DIGEST_EXAMPLE: &str = "02 a4 01 6a 00 6d 6c 71 03 31 2e 32 00 01 72 03 44 4d 2f 31 2e 32 00 01 \
        65 03 32 41 00 01 5b 03 31 00 01 6e 57 03 49 4d 45 49 3a 31 00 01 01 67 \
        57 03 68 74 74 70 73 3a 2f 2f 64 6d 73 2e 74 65 73 74 2f 64 6d 00 01 01 \
        01 6b 69 4b 03 31 00 01 5c 03 31 00 01 4c 03 30 00 01 4a 03 53 79 6e 63 \
        48 64 72 00 01 4f 03 32 31 32 00 01 01 60 4b 03 32 00 01 54 6e 57 03 2e \
        2f 78 00 01 01 5a 00 01 47 03 62 69 6e 00 01 01 00 00 4f c3 03 00 ff 10 \
        01 01 01 12 01 01";

    pub fn bytes(hex: &str) -> Vec<u8> {
        hex.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn multi_byte_integers_as_the_digest_shows() {
        let mut out = Vec::new();
        mb_u32(&mut out, 0x1201);
        assert_eq!(out, [0xA4, 0x01]);
        for v in [0, 1, 127, 128, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            mb_u32(&mut out, v);
            let mut d = Decoder { b: &out, pos: 0, page: Page::SyncMl, strtbl: &[], path: vec![] };
            assert_eq!(d.mb_u32("v").unwrap(), v);
        }
    }

    #[test]
    fn the_digests_example_decodes_and_encodes_to_the_same_bytes() {
        let input = bytes(DIGEST_EXAMPLE);
        let doc = decode(&input).unwrap();
        assert_eq!((doc.version, &doc.public_id), (0x02, &PublicId::Known(0x1201)));
        let body = doc.root.elements().nth(1).unwrap();
        assert_eq!(body.name, "SyncBody");
        let replace = body.elements().nth(1).unwrap();
        let item = replace.elements().nth(1).unwrap();
        let data = item.elements().nth(2).unwrap();
        assert_eq!(data.children, vec![Node::Opaque(vec![0x00, 0xFF, 0x10])]);
        let meta = item.elements().nth(1).unwrap();
        assert_eq!(meta.elements().next().unwrap().children, vec![Node::Text("bin".into())]);
        assert_eq!(encode(&doc.root, Options::default()).unwrap(), input, "lazy page switch, inline strings");
    }

    #[test]
    fn bad_input_is_located_never_a_panic() {
        let good = bytes(DIGEST_EXAMPLE);
        for cut in 0..good.len() {
            let e = decode(&good[..cut]).unwrap_err();
            assert!(e.offset <= cut, "{e}");
        }
        let mut attrs = good.clone();
        attrs[5] = 0xED; // <SyncML> with the attribute bit
        let e = decode(&attrs).unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.expected.contains("without attributes"), "{e}");
        let mut page = good.clone();
        page[127] = 0x07; // SWITCH_PAGE 7 inside <Meta>
        let e = decode(&page).unwrap_err();
        assert!(e.to_string().contains("code page 0 (SyncML) or 1 (MetInf); got 7"), "{e}");
        assert!(e.path.starts_with("/SyncML/SyncBody/Replace/Item/Meta"), "{e}");
        let mut trailing = good.clone();
        trailing.push(0x01);
        assert!(decode(&trailing).unwrap_err().expected.contains("1 bytes follow"));
        let mut version = good;
        version[0] = 0x09;
        assert!(decode(&version).unwrap_err().to_string().contains("WBXML version 0x09"));
        let deep: Vec<u8> = [0x02, 0xA4, 0x01, 0x6A, 0x00].into_iter().chain(std::iter::repeat_n(0x54, 1000)).collect();
        assert!(decode(&deep).unwrap_err().expected.contains("levels"));
    }

    #[test]
    fn string_table_references_and_a_string_public_id_decode() {
        // public id 0 + index 0 into the table, then <SyncML><VerDTD>STR_T 30</VerDTD></SyncML>.
        let fpi = "-//SYNCML//DTD SyncML 1.2//EN\0";
        let mut b = vec![0x03, 0x00, 0x00, 0x6A];
        let table = format!("{fpi}1.2\0");
        mb_u32(&mut b, table.len() as u32);
        b.extend_from_slice(table.as_bytes());
        b.extend([0x6D, 0x71, STR_T, fpi.len() as u8, 0x03, b'x', 0x00, 0x01, 0x01]);
        let doc = decode(&b).unwrap();
        assert_eq!(doc.public_id, PublicId::String("-//SYNCML//DTD SyncML 1.2//EN".into()));
        let ver = doc.root.elements().next().unwrap();
        assert_eq!(ver.children, vec![Node::Text("1.2x".into())], "pieces of text are joined");
    }
}
