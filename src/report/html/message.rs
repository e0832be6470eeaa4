//! How the HTML report shows the messages of a trace, per protocol binding: the hook a binding
//! fills to turn its wire format into something a person reads (DM 2.0: JSON packages pretty-
//! printed and named, Package#0 decoded; DM 1.2: WBXML messages shown as XML).
//!
//! Everything returned is plain text; the page escapes it.
use crate::wire::dm2;
use serde_json::Value;

/// A message as the report shows it: what it is (e.g. "Package#1"), and its readable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The message's name in the binding's words, when the binding knows it.
    pub name: Option<String>,
    /// The readable form (pretty-printed, decoded), or the body as recorded.
    pub text: String,
    /// A decoded view of binary content, shown under the raw form (e.g. Package#0 fields).
    pub decoded: Option<String>,
}

/// What a binding contributes to the report's trace view.
pub trait MessageView: Sync {
    /// An HTTP body with its `content-type` (if any), as recorded in the trace (text, or
    /// `<binary N bytes> <hex>`, possibly ending with a truncation marker).
    fn body(&self, _content_type: Option<&str>, body: &str) -> Shown {
        Shown { name: None, text: pretty_json(body).unwrap_or_else(|| body.to_string()), decoded: None }
    }

    /// A notification recorded as hex.
    fn notification(&self, hex: &str) -> Option<String> {
        let _ = hex;
        None
    }
}

/// The view of the binding named in the ICS (`[iut] binding`). Unknown bindings get the generic
/// view: JSON pretty-printed, everything else as recorded.
pub fn for_binding(name: &str) -> &'static dyn MessageView {
    match name {
        "dm2" => &Dm2,
        "dm12" => &Dm12,
        _ => &Generic,
    }
}

struct Generic;
impl MessageView for Generic {}

/// OMA DM 2.0: JSON packages over HTTP, the binary Package#0 notification.
struct Dm2;

impl MessageView for Dm2 {
    fn body(&self, content_type: Option<&str>, body: &str) -> Shown {
        let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let name = match media.as_deref() {
            Some(dm2::MEDIA_PACKAGE1) => Some("Package#1"),
            Some(dm2::MEDIA_PACKAGE2) => Some("Package#2"),
            Some(dm2::MEDIA_PACKAGE3) => Some("Package#3"),
            _ => None,
        };
        let decoded = media
            .as_deref()
            .filter(|m| m.contains("notification"))
            .and_then(|_| binary_hex(body))
            .and_then(|hex| self.notification(&hex));
        Shown {
            name: name.map(str::to_string).or_else(|| decoded.as_ref().map(|_| "Package#0".to_string())),
            text: pretty_json(body).unwrap_or_else(|| body.to_string()),
            decoded,
        }
    }

    /// The notification's structure and fields, as `dmcts notification decode` reads them. No
    /// judgement: the case's checks judged it with the run's profile, which the page does not have.
    fn notification(&self, hex: &str) -> Option<String> {
        let v = match dm2::decode_cli(hex, None, None, &dm2::Profile::default()) {
            Ok(v) => v,
            Err(e) => return Some(format!("not decodable as a DM 2.0 notification: {e}")),
        };
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let mut out = format!(
            "Package#0: version {}, {} option(s), reserved bits {}\n",
            n("version"),
            n("option_count"),
            n("reserved")
        );
        for o in v.get("options").and_then(Value::as_array).into_iter().flatten() {
            let name = o.get("name").and_then(Value::as_str).unwrap_or("?");
            let hex = o.get("value_hex").and_then(Value::as_str).unwrap_or("");
            let text = hex::decode(hex)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic() || c == ' '));
            out.push_str(&format!(
                "  {:<20} {}{}  (offset {})\n",
                name,
                if hex.is_empty() { "(empty)" } else { hex },
                text.map(|t| format!(" = {t:?}")).unwrap_or_default(),
                o.get("offset").and_then(Value::as_u64).unwrap_or(0)
            ));
        }
        match (v.get("fields").filter(|f| !f.is_null()), v.get("fields_error")) {
            (Some(f), _) => out.push_str(&format!("fields: {f}\n")),
            (None, Some(e)) => out.push_str(&format!("fields not readable: {}\n", e.as_str().unwrap_or(""))),
            (None, None) => {}
        }
        Some(out)
    }
}

/// SyncML DM 1.2: XML or WBXML messages over HTTP; WBXML is shown decoded, as XML.
struct Dm12;

impl MessageView for Dm12 {
    fn body(&self, content_type: Option<&str>, body: &str) -> Shown {
        use crate::wire::dm12;
        let media = content_type.map(crate::wire::media::media_type_of);
        let decoded = match media.as_deref() {
            Some(dm12::MEDIA_WBXML) => {
                binary_hex(body).and_then(|h| hex::decode(h).ok()).map(|bytes| match dm12::wbxml::decode(&bytes) {
                    Ok(doc) => dm12::xml::encode(&doc.root, true)
                        .unwrap_or_else(|e| format!("WBXML decoded, but not writable as XML: {e}")),
                    Err(e) => format!("not decodable as SyncML WBXML: {e}"),
                })
            }
            _ => None,
        };
        let name = match media.as_deref() {
            Some(dm12::MEDIA_WBXML) => Some("SyncML DM message (WBXML)"),
            Some(dm12::MEDIA_XML) => Some("SyncML DM message (XML)"),
            _ => None,
        };
        Shown { name: name.map(str::to_string), text: body.to_string(), decoded }
    }
}

/// The hex of a body the recorder wrote as `<binary N bytes> <hex>` (not cut).
fn binary_hex(body: &str) -> Option<String> {
    let rest = body.strip_prefix("<binary ")?;
    let (_, hex) = rest.split_once("> ")?;
    hex.chars().all(|c| c.is_ascii_hexdigit()).then(|| hex.to_string())
}

/// `text` pretty-printed when it is JSON.
pub fn pretty_json(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    if !(v.is_object() || v.is_array()) {
        return None;
    }
    serde_json::to_string_pretty(&v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm2_names_packages_and_pretty_prints_them() {
        let s = for_binding("dm2").body(Some("application/vnd.oma.dm.initiation+json"), r#"{"MOS":[]}"#);
        assert_eq!(s.name.as_deref(), Some("Package#1"));
        assert_eq!(s.text, "{\n  \"MOS\": []\n}");
    }

    #[test]
    fn dm2_decodes_package0() {
        let d = for_binding("dm2").notification("230018646d7372762d303111001212341f117ed4fa666d6ac142728090d3e5c61b2e51661f1372e8165e336b5567a13eb0f8146553f10010").expect("decoded");
        assert!(d.starts_with("Package#0: version 2, 6 option(s), reserved bits 0\n"), "{d}");
        assert!(d.contains("SERVER-ID            646d7372762d3031 = \"dmsrv-01\"  (offset 2)"), "{d}");
        assert!(d.contains("fields: {"), "{d}");
        let bad = for_binding("dm2").notification("zz").expect("explained");
        assert!(bad.starts_with("not decodable"), "{bad}");
    }

    #[test]
    fn dm12_shows_wbxml_as_xml() {
        use crate::wire::dm12;
        let xml = "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr><SyncBody><Final/></SyncBody></SyncML>";
        let root = dm12::xml::decode(xml).expect("xml");
        let bytes = dm12::wbxml::encode(&root, dm12::wbxml::Options::default()).expect("wbxml");
        let body = crate::trace::body_for_trace(&bytes);
        let s = for_binding("dm12").body(Some(dm12::MEDIA_WBXML), &body);
        assert_eq!(s.name.as_deref(), Some("SyncML DM message (WBXML)"));
        let d = s.decoded.expect("decoded");
        assert!(d.contains("<VerDTD>1.2</VerDTD>") && d.contains("<Final"), "{d}");
    }

    #[test]
    fn unknown_bindings_show_bodies_as_recorded() {
        let s = for_binding("a-later-binding").body(Some("application/vnd.syncml.dm+wbxml"), "<binary 2 bytes> 0102");
        assert_eq!(s, Shown { name: None, text: "<binary 2 bytes> 0102".into(), decoded: None });
    }
}
