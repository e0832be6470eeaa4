//! Built-in checks over what the case's download server recorded (the `download-server` step,
//! DLOTA, enablers digest §5): a descriptor or object fetched (ranges allowed), requested at
//! all. The status report itself is judged by `dlota-status-report` (fumo_checks) with
//! `args.descriptor`.
use super::Dm2;
use crate::runner::checks::{arg, arg_str, json_of, ArgKind, CheckCtx, CheckDef, Failure};
use serde_json::Value;

/// The requests of the log for `/<name>`, shown for a failure.
fn requests_for<'a>(log: &'a Value, name: &str) -> Vec<&'a Value> {
    let path = format!("/{name}");
    log.get("requests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("path").and_then(Value::as_str) == Some(path.as_str()))
        .collect()
}

fn shown(reqs: &[&Value]) -> String {
    if reqs.is_empty() {
        return "no request for it".into();
    }
    reqs.iter()
        .map(|r| {
            let range = r.get("range").and_then(Value::as_str).map(|x| format!(" Range {x}")).unwrap_or_default();
            format!(
                "{} answered {}{range}",
                r.get("method").and_then(Value::as_str).unwrap_or("?"),
                r.get("status").and_then(Value::as_u64).unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `bytes=a-b` | `a-` | `-n` over `size`: the half-open range, if it is one.
fn range_of(h: &str, size: u64) -> Option<(u64, u64)> {
    let (a, b) = h.trim().strip_prefix("bytes=")?.split_once('-')?;
    match (a.trim(), b.trim()) {
        ("", n) => Some((size.saturating_sub(n.parse().ok()?), size)),
        (a, "") => Some((a.parse().ok()?, size)),
        (a, b) => Some((a.parse().ok()?, b.parse::<u64>().ok()?.saturating_add(1).min(size))),
    }
}

/// Whether GETs answered 200, or 206 ranges together, cover `size` bytes.
fn covered(reqs: &[&Value], size: u64) -> bool {
    let mut spans = Vec::new();
    for r in reqs.iter().filter(|r| r.get("method").and_then(Value::as_str) == Some("GET")) {
        match r.get("status").and_then(Value::as_u64) {
            Some(200) => return true,
            Some(206) => {
                if let Some(s) = r.get("range").and_then(Value::as_str).and_then(|h| range_of(h, size)) {
                    spans.push(s);
                }
            }
            _ => {}
        }
    }
    spans.sort();
    let mut reach = 0;
    for (a, b) in spans {
        if a > reach {
            return false;
        }
        reach = reach.max(b);
    }
    reach >= size
}

pub static CHECKS: &[CheckDef<Dm2>] = &[
    CheckDef {
        name: "download-fetched",
        about: "download-server log: args.name (a descriptor or object of [case.download]) was fetched whole: a GET \
                answered 200, or GETs answered 206 whose ranges together cover the object",
        args: &[arg("name", ArgKind::Str)],
        run: |_, args, obs, _| {
            let name = arg_str(args, "name")?;
            let log = json_of(obs)?;
            let reqs = requests_for(&log, name);
            let size = log.pointer(&format!("/objects/{}/size", name.replace('~', "~0").replace('/', "~1")));
            let ok = match size.and_then(Value::as_u64) {
                Some(size) => covered(&reqs, size),
                None => reqs.iter().any(|r| {
                    r.get("method").and_then(Value::as_str) == Some("GET")
                        && r.get("status").and_then(Value::as_u64) == Some(200)
                }),
            };
            if ok {
                Ok(())
            } else {
                Err(Failure::new(format!("{name} fetched whole (GET 200, or 206 ranges covering it)"), shown(&reqs)))
            }
        },
    },
    CheckDef {
        name: "download-requested",
        about: "download-server log: args.name (a descriptor or object of [case.download]) was requested with GET, \
                whatever the answer (e.g. an injected 404)",
        args: &[arg("name", ArgKind::Str)],
        run: |_, args, obs, _: &CheckCtx| {
            let name = arg_str(args, "name")?;
            let log = json_of(obs)?;
            let reqs = requests_for(&log, name);
            if reqs.iter().any(|r| r.get("method").and_then(Value::as_str) == Some("GET")) {
                Ok(())
            } else {
                Err(Failure::new(format!("a GET of {name}"), shown(&reqs)))
            }
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranges_together_cover_an_object() {
        let r = |range: &str| json!({ "method": "GET", "path": "/o", "range": range, "status": 206 });
        let (a, b, c) = (r("bytes=0-49"), r("bytes=50-"), r("bytes=60-99"));
        assert!(covered(&[&a, &b], 100));
        assert!(!covered(&[&a, &c], 100));
        let whole = json!({ "method": "GET", "path": "/o", "status": 200 });
        assert!(covered(&[&whole], 100));
        let missing = json!({ "method": "GET", "path": "/o", "status": 404 });
        assert!(!covered(&[&missing], 100));
    }
}
