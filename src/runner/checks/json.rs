//! Data-driven checks on JSON: a JSON HTTP body, a notification's JSON view, or upper-tester data.
use super::{fail, json_eq, json_of, show, Failure, Observed};
use crate::catalog::check::CheckKind;
use serde_json::Value;

/// Evaluates `kind` if it is a JSON check (None otherwise).
pub fn evaluate(kind: &CheckKind, obs: &Observed) -> Option<Result<(), Failure>> {
    let is_json = matches!(
        kind,
        CheckKind::JsonExists { .. }
            | CheckKind::JsonAbsent { .. }
            | CheckKind::JsonEquals { .. }
            | CheckKind::JsonMatches { .. }
            | CheckKind::JsonType { .. }
            | CheckKind::JsonLength { .. }
            | CheckKind::JsonOneOf { .. }
            | CheckKind::JsonContains { .. }
            | CheckKind::JsonNotContains { .. }
    );
    if !is_json {
        return None;
    }
    Some(json_of(obs).and_then(|j| judge(kind, &j)))
}

fn judge(kind: &CheckKind, j: &Value) -> Result<(), Failure> {
    match kind {
        CheckKind::JsonExists { pointer } => match j.pointer(pointer) {
            Some(_) => Ok(()),
            None => fail(format!("a value at {pointer}"), "nothing there"),
        },
        CheckKind::JsonAbsent { pointer } => match j.pointer(pointer) {
            None => Ok(()),
            Some(v) => fail(format!("nothing at {pointer}"), show(Some(v))),
        },
        CheckKind::JsonEquals { pointer, value } => match j.pointer(pointer) {
            Some(v) if json_eq(v, value) => Ok(()),
            other => fail(format!("{pointer} = {value}"), format!("{pointer} = {}", show(other))),
        },
        CheckKind::JsonMatches { pointer, regex } => {
            // The catalog compiled it at load; a failure here is the case's.
            let re = regex::Regex::new(regex).map_err(|e| Failure::case_defect(format!("a valid regex ({e})")))?;
            match j.pointer(pointer) {
                Some(Value::String(s)) if re.is_match(s) => Ok(()),
                other => fail(format!("{pointer} matching /{regex}/"), show(other)),
            }
        }
        CheckKind::JsonType { pointer, json_type } => match j.pointer(pointer) {
            Some(v) if json_type.matches(v) => Ok(()),
            other => fail(format!("{pointer} of type {json_type:?}").to_lowercase(), show(other)),
        },
        CheckKind::JsonLength { pointer, equals, min, max } => {
            let len = match j.pointer(pointer) {
                Some(Value::Array(a)) => a.len(),
                Some(Value::String(s)) => s.chars().count(),
                Some(Value::Object(o)) => o.len(),
                other => return fail(format!("an array at {pointer}"), show(other)),
            };
            let ok = equals.is_none_or(|e| len == e) && min.is_none_or(|m| len >= m) && max.is_none_or(|m| len <= m);
            if ok {
                return Ok(());
            }
            let want = match (equals, min, max) {
                (Some(e), _, _) => format!("length {e}"),
                (None, Some(a), Some(b)) => format!("length {a}..={b}"),
                (None, Some(a), None) => format!("length >= {a}"),
                (None, None, Some(b)) => format!("length <= {b}"),
                _ => "any length".into(),
            };
            fail(format!("{pointer} of {want}"), format!("length {len}"))
        }
        CheckKind::JsonOneOf { pointer, values } => match j.pointer(pointer) {
            Some(v) if values.iter().any(|w| json_eq(v, w)) => Ok(()),
            other => fail(format!("{pointer} one of {}", Value::Array(values.clone())), show(other)),
        },
        CheckKind::JsonContains { pointer, item_pointer, value }
        | CheckKind::JsonNotContains { pointer, item_pointer, value } => {
            let arr = j.pointer(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
            let found = arr.iter().any(|e| e.pointer(item_pointer).is_some_and(|v| json_eq(v, value)));
            // An empty item pointer compares the elements themselves.
            let what = match item_pointer.as_str() {
                "" => format!("element of {pointer} equal to {value}"),
                _ => format!("element of {pointer} with {item_pointer} = {value}"),
            };
            match (kind, found) {
                (CheckKind::JsonContains { .. }, false) => fail(format!("an {what}"), show(j.pointer(pointer))),
                (CheckKind::JsonNotContains { .. }, true) => fail(format!("no {what}"), show(j.pointer(pointer))),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
