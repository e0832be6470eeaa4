//! `${...}` templates in case files.
//!
//! - `${pixit.a.b}`: a PIXIT value; `${endpoint.repo}`: the URL of a suite endpoint;
//!   `${case.id}`: the case id;
//! - `${name}` / `${name#/json/pointer}`: a variable saved by an earlier step;
//! - `${expr|last-segment}`: the text after the last `/` of the value (a query after `?` left
//!   out), e.g. the node name of a ClientURI, which keys the `MOData` stored there.
//!
//! A string that is exactly one template takes the variable's JSON type (numbers stay numbers);
//! otherwise values are spliced in as text. An unknown variable is an error in the case, never
//! an empty string.
use serde_json::Value;
use std::collections::BTreeMap;

pub trait Resolver {
    /// Resolves a template expression (the text between `${` and `}`).
    fn resolve(&self, expr: &str) -> Option<Value>;
}

/// Variables saved by steps.
#[derive(Debug, Default, Clone)]
pub struct Vars(pub BTreeMap<String, Value>);

impl Vars {
    pub fn lookup(&self, expr: &str) -> Option<Value> {
        let (name, pointer) = match expr.split_once('#') {
            Some((n, p)) => (n, Some(p)),
            None => (expr, None),
        };
        let v = self.0.get(name)?;
        match pointer {
            Some(p) => v.pointer(p).cloned(),
            None => Some(v.clone()),
        }
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Resolves one template expression, with its filters (`expr|filter`).
fn resolve(expr: &str, r: &dyn Resolver) -> Result<Value, String> {
    let mut parts = expr.split('|');
    let base = parts.next().unwrap_or_default();
    let mut v = r.resolve(base).ok_or_else(|| format!("unknown template variable ${{{base}}}"))?;
    for filter in parts {
        v = match filter {
            "last-segment" => {
                let text = text_of(&v);
                let path = text.split('?').next().unwrap_or_default();
                match path.rsplit('/').next() {
                    Some(seg) if !seg.is_empty() => Value::String(seg.to_string()),
                    _ => return Err(format!("${{{expr}}}: {text:?} has no last segment (it ends in \"/\")")),
                }
            }
            // A DM 1.2 node URI from a PIXIT root written with its trailing "/" (`./FUMO/` →
            // `./FUMO`): a URI has no trailing "/" (digest §11.1), e.g. before `?prop=Type`.
            "node" => Value::String(text_of(&v).trim_end_matches('/').to_string()),
            // The size and digest of a text the suite serves as a body (a download descriptor's
            // <size> and installParam sha256 for a PIXIT package).
            "byte-length" => Value::from(text_of(&v).len() as u64),
            "sha256" => {
                use sha2::Digest;
                Value::String(hex::encode(sha2::Sha256::digest(text_of(&v).as_bytes())))
            }
            other => {
                return Err(format!(
                    "${{{expr}}}: unknown template filter {other:?}; known: last-segment, node, byte-length, sha256"
                ))
            }
        };
    }
    Ok(v)
}

/// Renders one string.
pub fn render_str(s: &str, r: &dyn Resolver) -> Result<Value, String> {
    let trimmed = s.trim();
    if trimmed.starts_with("${") && trimmed.ends_with('}') && trimmed.matches("${").count() == 1 {
        return resolve(&trimmed[2..trimmed.len() - 1], r);
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or_else(|| format!("unterminated template in {s:?}"))?;
        let expr = &after[..end];
        let v = resolve(expr, r)?;
        out.push_str(&text_of(&v));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// Renders every string inside a JSON value.
pub fn render_value(v: &Value, r: &dyn Resolver) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => render_str(s, r)?,
        Value::Array(a) => Value::Array(a.iter().map(|x| render_value(x, r)).collect::<Result<_, _>>()?),
        Value::Object(o) => {
            // Keys are templates too (e.g. the profile's GET data member).
            Value::Object(
                o.iter().map(|(k, x)| Ok((render_text(k, r)?, render_value(x, r)?))).collect::<Result<_, String>>()?,
            )
        }
        other => other.clone(),
    })
}

/// Renders a string and returns it as text.
pub fn render_text(s: &str, r: &dyn Resolver) -> Result<String, String> {
    render_str(s, r).map(|v| text_of(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    struct R;
    impl Resolver for R {
        fn resolve(&self, e: &str) -> Option<Value> {
            match e {
                "n" => Some(Value::from(42)),
                "s" => Some(Value::from("x")),
                "u" => Some(Value::from("urn:oma:mo:oma-fumo:1.0//DownloadAndUpdate/PkgURL?cv=1")),
                _ => None,
            }
        }
    }

    #[test]
    fn whole_template_keeps_type_and_splices_text() {
        assert_eq!(render_str("${n}", &R).unwrap(), Value::from(42));
        assert_eq!(render_str("a${n}-${s}", &R).unwrap(), Value::from("a42-x"));
        assert!(render_str("${nope}", &R).unwrap_err().contains("nope"));
        assert!(render_str("${n", &R).is_err());
    }

    #[test]
    fn last_segment_names_the_node() {
        assert_eq!(render_str("${u|last-segment}", &R).unwrap(), Value::from("PkgURL"));
        assert_eq!(render_str("k-${u|last-segment}", &R).unwrap(), Value::from("k-PkgURL"));
        assert!(render_str("${s|nope}", &R).unwrap_err().contains("unknown template filter"));
        assert!(render_str("${nope|last-segment}", &R).unwrap_err().contains("unknown template variable"));
    }

    #[test]
    fn byte_length_and_sha256_describe_a_served_body() {
        assert_eq!(render_str("${s|byte-length}", &R).unwrap(), Value::from(1));
        assert_eq!(render_str("<size>${n|byte-length}</size>", &R).unwrap(), Value::from("<size>2</size>"));
        assert_eq!(
            render_str("${s|sha256}", &R).unwrap(),
            Value::from("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
        );
    }
}
