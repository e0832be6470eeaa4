//! SyncML DM messages as XML text (quick-xml), both ways (digest §3.1, §10.6).
//!
//! Decoding: an XML declaration, DOCTYPE, comments and processing instructions are skipped (the
//! DTD is never fetched); elements must be in the SyncML namespace (any version: RTK compares
//! the prefix, digest §3.1), in `syncml:metinf`, or in none; CDATA becomes opaque bytes, as
//! libwbxml makes it; whitespace between elements is dropped, text of a leaf element is kept as
//! it is. Encoding: a declaration, the root in `SYNCML:SYNCML1.2`, each MetInf element under a
//! SyncML one declaring `syncml:metinf` (as the spec's examples do), opaque bytes as CDATA
//! (binary data cannot be carried: over XML it MUST be b64, digest §10.6).
use super::codepages::{self, Page};
use super::tree::{DecodeError, Element, EncodeError, Encoding, Node};
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::writer::Writer;

/// Deeper nesting than any DM message needs: refused (see [`super::wbxml::MAX_DEPTH`]).
pub const MAX_DEPTH: usize = super::wbxml::MAX_DEPTH;

/// Decodes a SyncML XML document into its root element.
pub fn decode(text: &str) -> Result<Element, DecodeError> {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let at = reader.buffer_position() as usize;
        let path = |stack: &[Element]| -> String { stack.iter().map(|e| format!("/{}", e.name)).collect() };
        let err = |stack: &[Element], offset: usize, expected: String| DecodeError {
            encoding: Encoding::Xml,
            offset,
            path: path(stack),
            expected,
        };
        let (ns, event) = match reader.read_resolved_event() {
            Ok(read) => read,
            Err(e) => return Err(err(&stack, reader.error_position() as usize, format!("well-formed XML ({e})"))),
        };
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(err(&stack, at, "nothing after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(&stack, at, format!("at most {MAX_DEPTH} levels of elements")));
                }
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                let namespace = match &ns {
                    ResolveResult::Bound(n) => Some(String::from_utf8_lossy(n.as_ref()).into_owned()),
                    ResolveResult::Unbound => None,
                    ResolveResult::Unknown(p) => {
                        return Err(err(
                            &stack,
                            at,
                            format!("a declared namespace prefix; got {:?}", String::from_utf8_lossy(p)),
                        ));
                    }
                };
                let page = codepages::token_of(&name).map(|(p, _)| p);
                let ok = match (page, namespace.as_deref()) {
                    (None, _) => {
                        return Err(err(&stack, at, format!("a SyncML or MetInf element; got <{name}>")));
                    }
                    (_, None) => true,
                    (Some(Page::SyncMl), Some(n)) => codepages::is_syncml_namespace(n),
                    (Some(Page::MetInf), Some(n)) => n == codepages::NS_METINF || codepages::is_syncml_namespace(n),
                };
                if !ok {
                    return Err(err(
                        &stack,
                        at,
                        format!(
                            "<{name}> in namespace {}; got {:?}",
                            page.map(Page::namespace).unwrap_or(""),
                            namespace.unwrap_or_default()
                        ),
                    ));
                }
                if stack.is_empty() && name != "SyncML" {
                    return Err(err(&stack, at, format!("the root element <SyncML>; got <{name}>")));
                }
                let el = Element { name, children: Vec::new(), offset: at };
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                // quick-xml has checked that it matches the start tag.
                let el = stack.pop().ok_or_else(|| err(&[], at, "a start tag before an end tag".into()))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|e| err(&stack, at, format!("UTF-8 text ({e})")))?;
                match stack.last_mut() {
                    Some(el) => el.push_text(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(err(&stack, at, "only whitespace outside the root element".into())),
                }
            }
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.decode().map_err(|e| err(&stack, at, format!("UTF-8 text ({e})")))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_string(),
                            None => {
                                return Err(err(
                                    &stack,
                                    at,
                                    format!("a predefined entity or a character reference; got &{name};"),
                                ))
                            }
                        }
                    }
                    Err(e) => return Err(err(&stack, at, format!("a valid character reference ({e})"))),
                };
                match stack.last_mut() {
                    Some(el) => el.push_text(&s),
                    None => return Err(err(&stack, at, "no text outside the root element".into())),
                }
            }
            Event::CData(c) => match stack.last_mut() {
                Some(el) => el.children.push(Node::Opaque(c.into_inner().into_owned())),
                None => return Err(err(&stack, at, "no CDATA outside the root element".into())),
            },
            Event::Decl(_) | Event::DocType(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => {
                return match (root, stack.is_empty()) {
                    (Some(r), true) => Ok(r),
                    (None, true) => Err(err(&stack, at, "a <SyncML> element; the document is empty".into())),
                    (_, false) => Err(err(&stack, at, "the end tags of the open elements; the input ended".into())),
                };
            }
        }
    }
}

/// An element ended: whitespace between its elements goes (it only indents), it joins its
/// parent, or it is the root.
fn close(stack: &mut [Element], root: &mut Option<Element>, mut el: Element) {
    if el.children.iter().any(|c| matches!(c, Node::Element(_))) {
        el.children.retain(|c| !matches!(c, Node::Text(t) if t.trim().is_empty()));
    }
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

/// Encodes `root` as XML; `indent` lays it out for reading (traces) — whitespace between
/// elements only, never inside text.
pub fn encode(root: &Element, indent: bool) -> Result<String, EncodeError> {
    let mut w = if indent { Writer::new_with_indent(Vec::new(), b' ', 2) } else { Writer::new(Vec::new()) };
    let io = |e: std::io::Error| EncodeError { encoding: Encoding::Xml, path: String::new(), why: e.to_string() };
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).map_err(io)?;
    write_element(&mut w, root, None, &mut Vec::new())?;
    String::from_utf8(w.into_inner()).map_err(|e| EncodeError {
        encoding: Encoding::Xml,
        path: String::new(),
        why: e.to_string(),
    })
}

fn write_element(
    w: &mut Writer<Vec<u8>>,
    el: &Element,
    parent: Option<Page>,
    path: &mut Vec<String>,
) -> Result<(), EncodeError> {
    path.push(el.name.clone());
    let fail = |path: &[String], why: String| EncodeError {
        encoding: Encoding::Xml,
        path: format!("/{}", path.join("/")),
        why,
    };
    let page = codepages::token_of(&el.name)
        .map(|(p, _)| p)
        .ok_or_else(|| fail(path, format!("<{}> is on no SyncML or MetInf code page", el.name)))?;
    let mut start = BytesStart::new(el.name.as_str());
    if parent != Some(page) {
        start.push_attribute(("xmlns", page.namespace()));
    }
    let io = |e: std::io::Error| fail(path, e.to_string());
    if el.children.is_empty() {
        w.write_event(Event::Empty(start)).map_err(io)?;
        path.pop();
        return Ok(());
    }
    w.write_event(Event::Start(start)).map_err(io)?;
    for child in &el.children {
        match child {
            Node::Element(e) => write_element(w, e, Some(page), path)?,
            Node::Text(t) => w.write_event(Event::Text(BytesText::new(t))).map_err(|e| fail(path, e.to_string()))?,
            Node::Opaque(b) => {
                let text = std::str::from_utf8(b).ok().filter(|t| !t.contains("]]>")).ok_or_else(|| {
                    fail(path, "binary opaque data: over XML binary data must be b64 (digest §10.6)".into())
                })?;
                w.write_event(Event::CData(BytesCData::new(text))).map_err(|e| fail(path, e.to_string()))?;
            }
        }
    }
    w.write_event(Event::End(BytesEnd::new(el.name.as_str()))).map_err(|e| fail(path, e.to_string()))?;
    path.pop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"<?xml version="1.0"?>
<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.2//EN" "http://www.openmobilealliance.org/tech/DTD/OMA-TS-SyncML_RepPro_DTD-V1_2.dtd">
<SyncML xmlns="SYNCML:SYNCML1.2">
 <SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>2A</SessionID><MsgID>1</MsgID>
  <Target><LocURI>IMEI:1</LocURI></Target><Source><LocURI>https://dms.test/dm?a=1&amp;b=2</LocURI></Source></SyncHdr>
 <SyncBody>
  <Replace><CmdID>2</CmdID><Item><Target><LocURI>./x</LocURI></Target>
    <Meta><Format xmlns="syncml:metinf">chr</Format></Meta><Data> a &lt;b&gt; &#x41; </Data></Item></Replace>
  <Final/>
 </SyncBody>
</SyncML>"#;

    #[test]
    fn decodes_entities_keeps_leaf_text_and_drops_indentation() {
        let root = decode(EXAMPLE).unwrap();
        let hdr = root.elements().next().unwrap();
        let source = hdr.elements().nth(5).unwrap().elements().next().unwrap();
        assert_eq!(source.children, vec![Node::Text("https://dms.test/dm?a=1&b=2".into())]);
        let item = root.elements().nth(1).unwrap().elements().next().unwrap().elements().nth(1).unwrap();
        assert_eq!(item.elements().nth(2).unwrap().children, vec![Node::Text(" a <b> A ".into())]);
        assert!(root.children.iter().all(|c| matches!(c, Node::Element(_))), "indentation dropped");
    }

    #[test]
    fn encodes_and_decodes_to_the_same_tree_compact_or_indented() {
        let root = decode(EXAMPLE).unwrap();
        for indent in [false, true] {
            let text = encode(&root, indent).unwrap();
            assert!(text.contains(r#"<SyncML xmlns="SYNCML:SYNCML1.2">"#), "{text}");
            assert!(text.contains(r#"<Format xmlns="syncml:metinf">chr</Format>"#), "{text}");
            assert_eq!(decode(&text).unwrap(), root, "{text}");
        }
    }

    #[test]
    fn bad_documents_are_located() {
        let e = decode("<SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr><Bogus/></SyncHdr></SyncML>").unwrap_err();
        assert_eq!((e.offset, e.path.as_str()), (42, "/SyncML/SyncHdr"), "{e}");
        assert!(e.expected.contains("got <Bogus>"), "{e}");
        let e = decode("<SyncML xmlns='urn:other'/>").unwrap_err();
        assert!(e.expected.contains("namespace"), "{e}");
        let e = decode("<Foo xmlns='SYNCML:SYNCML1.2'/>").unwrap_err();
        assert!(e.expected.contains("got <Foo>"), "{e}");
        let e = decode("<SyncML><SyncHdr>").unwrap_err();
        assert!(e.expected.contains("input ended"), "{e}");
        let e = decode("<SyncML><SyncHdr></SyncBody></SyncML>").unwrap_err();
        assert!(e.expected.contains("well-formed"), "{e}");
        assert!(decode("<SyncML><Data>&bogus;</Data></SyncML>").unwrap_err().expected.contains("&bogus;"));
        assert!(decode("").unwrap_err().expected.contains("empty"));
    }

    #[test]
    fn binary_opaque_data_cannot_go_as_xml() {
        let root = Element::new("SyncML").with(Element {
            name: "Data".into(),
            children: vec![Node::Opaque(vec![0, 0xFF])],
            offset: 0,
        });
        assert!(encode(&root, false).unwrap_err().why.contains("b64"));
    }
}
