//! Built-in checks over what the suite's own peers recorded, whatever the protocol the IUT
//! speaks: the case's download server (the `download-server` step, DLOTA, enablers digest §5: a
//! descriptor or object fetched, ranges allowed, or requested at all) and the simulated End
//! Devices behind a gateway (the `end-devices` step's log, [`super::gwmo_log`]: every member
//! reached, no one else, the image fetched from the LocalImageURI). Every binding offers them.
//! The DLOTA status report itself is judged by `dlota-status-report` (DM 2.0 fumo_checks) with
//! `args.descriptor`.
use super::gwmo_log;
use crate::runner::checks::{arg, arg_str, json_of, ArgKind, BuiltinInfo, CheckCtx, CheckDef, Failure, Observed};
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

pub static CHECKS: &[CheckDef<()>] = &[
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
    CheckDef {
        name: "gw-image-downloaded",
        about: "args.fetched (${download.<object>.fetched}, taken when the Image Ready alert arrived): the image was \
                completely fetched before the gateway said it was ready (seed 000 steps 3-4)",
        args: &[arg("fetched", ArgKind::Int)],
        run: |_, args, _, _| gwmo_log::image_downloaded(args),
    },
    CheckDef {
        name: "gw-members-reached",
        about: "args.group: every member of the group was notified, and every one that answers got the commands in \
                a session (end-devices log)",
        args: &[arg("group", ArgKind::Str)],
        run: |_, args, obs, _| gwmo_log::members_reached(args, obs),
    },
    CheckDef {
        name: "gw-only-members",
        about: "args.group: no end device outside the group was notified or got commands",
        args: &[arg("group", ArgKind::Str)],
        run: |_, args, obs, _| gwmo_log::only_members(args, obs),
    },
    CheckDef {
        name: "gw-image-fetched",
        about: "args.group, args.url (the LocalImageURI), args.sha256 (the image's digest): every member that \
                executes the commands fetched the image from the url, whole and unchanged",
        args: &[arg("group", ArgKind::Str), arg("url", ArgKind::Str), arg("sha256", ArgKind::Str)],
        run: |_, args, obs, _| gwmo_log::image_fetched(args, obs),
    },
];

/// What the catalog knows of these checks (a binding lists them with its own).
pub fn infos() -> impl Iterator<Item = BuiltinInfo> {
    CHECKS.iter().map(CheckDef::info)
}

/// Runs the check `name` if it is one of these.
pub fn run(name: &str, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Option<Result<(), Failure>> {
    CHECKS.iter().find(|d| d.name == name).map(|d| (d.run)(&(), args, obs, ctx))
}

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
