//! Built-in checks every binding shares: they look at HTTP bodies or upper-tester data, never at
//! a protocol's message structure.
use super::{arg, arg_str, body_of, fail, json_has_leaf, json_of, show, show_body, ArgKind, CheckDef};
use serde_json::Value;

/// The generic built-ins, in `dmcts cases builtins` order.
pub const GENERIC: &[CheckDef<()>] = &[
    CheckDef {
        name: "body-contains",
        about: "args.value: the request body carries that value (a JSON body: as a leaf anywhere; otherwise as text)",
        args: &[arg("value", ArgKind::Str)],
        // Format-agnostic on purpose: a JSON body is searched leaf by leaf, anything else as text.
        run: |_, args, obs, _| {
            let want = arg_str(args, "value")?;
            let body = body_of(obs)?;
            let found = match serde_json::from_slice::<Value>(body) {
                Ok(j) => json_has_leaf(&j, want),
                Err(_) => String::from_utf8_lossy(body).contains(want),
            };
            if found {
                Ok(())
            } else {
                fail(format!("a body carrying the value {want:?}"), show_body(body))
            }
        },
    },
    CheckDef {
        name: "report-statuses",
        about: "args.codes: device.report recorded a status package with exactly these statuses",
        args: &[arg("codes", ArgKind::IntList)],
        run: |_, args, obs, _| {
            let j = json_of(obs)?;
            let want: Vec<i64> = args
                .get("codes")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_integer()).collect())
                .unwrap_or_default();
            let lists = j.get("statuses").and_then(Value::as_array).cloned().unwrap_or_default();
            let found = lists.iter().any(|l| {
                l.as_array().is_some_and(|l| {
                    l.len() == want.len()
                        && l.iter().zip(&want).all(|(s, w)| s.get("sc").or(Some(s)).and_then(Value::as_i64) == Some(*w))
                })
            });
            if found {
                Ok(())
            } else {
                fail(format!("a recorded status package with statuses {want:?}"), show(j.get("statuses")))
            }
        },
    },
];
