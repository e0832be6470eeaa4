//! The DM 2.0 built-in checks of the SCOMO table (digest §3): the OperationComplete result alert
//! and its ResultCode (client), the inventory a client uploads, the EXECs of a server's session
//! and the results a server reports. The UNVERIFIED DM 2.0 forms follow the profile
//! (`scomo_result_alert_type`, `scomo_result_data`, `exec_result_source_uri`) and say so.
use super::checks::result_alerts;
use super::Dm2;
use crate::runner::checks::{arg, arg_str, fail, json_of, opt_arg, ArgKind, CheckDef, Failure};
use crate::wire::dm2::profile::{setting, ExecResultSourceUri, Profile};
use crate::wire::dm2::scomo as sc;
use crate::wire::dm2::{ClientUri, Segment};
use serde_json::Value;

fn type_note(p: &Profile) -> String {
    format!(
        "the DM 2.0 AlertType of an SCOMO result is UNVERIFIED in the spec digest (§3.4: OMNA root \
         urn:oma:at:scomo:1.0, type OperationComplete); this check follows profile setting scomo_result_alert_type = \
         {:?}",
        p.scomo_result_alert_type
    )
}

fn data_note(p: &Profile) -> String {
    format!(
        "how DM 2.0 carries the SCOMO ResultCode in the alert's Data is UNVERIFIED in the spec digest (§1.3: the TS \
         example wraps the DM 1.x payload under \"DM1x\"); this check follows profile setting scomo_result_data = {:?}",
        setting(&p.scomo_result_data)
    )
}

/// Whether a SourceURI names the executed node `uri` under the profile's rule.
fn source_fits(p: &Profile, uri: &str, s: &str) -> bool {
    match p.exec_result_source_uri {
        ExecResultSourceUri::Exact => s == uri,
        ExecResultSourceUri::SameMoid => {
            s.split('/').next() == uri.split('/').next()
                && ClientUri::parse_with(s, p.client_uri_instance_slash).is_ok()
        }
    }
}

fn str_of<'a>(a: &'a Value, k: &str) -> Option<&'a str> {
    a.get(k).and_then(Value::as_str)
}

/// Finds, under any key `kind` ("Delivered" / "Deployed") of an uploaded MO serialization, the
/// entries (name, object) it lists.
fn entries<'a>(v: &'a Value, kind: &str, out: &mut Vec<(&'a str, &'a Value)>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                if k == kind {
                    if let Value::Object(es) = c {
                        out.extend(es.iter().filter(|(_, e)| e.is_object()).map(|(n, e)| (n.as_str(), e)));
                    }
                } else {
                    entries(c, kind, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| entries(c, kind, out)),
        _ => {}
    }
}

fn leaf_text(e: &Value, k: &str) -> Option<String> {
    match e.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The SCOMO entry an operation node's ClientURI addresses: (MOID ok, path names before
/// `Operations`, operation name).
fn operation_of(uri: &str, slash: crate::wire::dm2::profile::InstanceSlash) -> Option<(Vec<String>, String)> {
    let u = ClientUri::parse_with(uri, slash).ok()?;
    if u.moid != sc::MOID {
        return None;
    }
    let names: Vec<String> =
        u.path.iter().map(|s| if let Segment::Name(n) = s { n.clone() } else { "*".into() }).collect();
    let (op, rest) = names.split_last()?;
    let (ops, entry) = rest.split_last()?;
    (ops == "Operations").then(|| (entry.to_vec(), op.clone()))
}

fn under_path(under: &str) -> Option<&'static [&'static str]> {
    match under {
        "delivered" => Some(&["Inventory", "Delivered"]),
        "deployed" => Some(&["Inventory", "Deployed"]),
        "download" => Some(&["Download"]),
        _ => None,
    }
}

pub const CHECKS: &[CheckDef<Dm2>] = &[
    CheckDef {
        name: "scomo-result-alert",
        about: "args.source_uri: the SCOMO result of that EXEC came as a Generic Alert of the profile's \
                scomo_result_alert_type whose SourceURI names the executed operation node (profile \
                exec_result_source_uri), in this package or the one saved as args.earlier",
        args: &[arg("source_uri", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let uri = arg_str(args, "source_uri")?;
            let p = &b.profile;
            let alerts = result_alerts(args, obs, ctx)?;
            let typed: Vec<&Value> =
                alerts.iter().filter(|a| str_of(a, "AlertType") == Some(p.scomo_result_alert_type.as_str())).collect();
            if typed.is_empty() {
                let types: Vec<String> = alerts.iter().map(|a| format!("{:?}", str_of(a, "AlertType"))).collect();
                return Err(Failure::new(
                    format!("a Generic Alert {} with the result of EXEC {uri}", p.scomo_result_alert_type),
                    format!("result alerts of AlertType [{}]", types.join(", ")),
                )
                .with_note(type_note(p)));
            }
            if typed.iter().any(|a| str_of(a, "SourceURI").is_some_and(|s| source_fits(p, uri, s))) {
                return Ok(());
            }
            let sources: Vec<String> = typed.iter().map(|a| format!("{:?}", str_of(a, "SourceURI"))).collect();
            Err(Failure::new(
                format!("the SCOMO result alert's SourceURI naming the executed operation node {uri:?}"),
                format!("SourceURI [{}]", sources.join(", ")),
            )
            .with_note(format!(
                "digest §3.4 (V S15): Source = the executed operation node; its exact form follows profile setting \
                 exec_result_source_uri = {:?}",
                setting(&p.exec_result_source_uri)
            )))
        },
    },
    CheckDef {
        name: "scomo-result-code",
        about: "args.source_uri, args.outcome (\"success\" | \"failure\" | \"download-failure\" | \"any\"): the SCOMO \
                result alert of that EXEC (in this package or args.earlier) carries a ResultCode (profile \
                scomo_result_data) of the SCOMO table: 1200/1250-1299 for success, a defined failure code (14xx, 15xx) \
                for failure, one that a failed download can give for download-failure (1400-1404, 1412, 1450-1499, \
                1500, 1501, 1550-1599: not an install, remove or activation failure)",
        args: &[arg("source_uri", ArgKind::Str), arg("outcome", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let uri = arg_str(args, "source_uri")?;
            let outcome = arg_str(args, "outcome")?;
            if !matches!(outcome, "success" | "failure" | "download-failure" | "any") {
                return Err(Failure::case_defect(
                    "args.outcome \"success\", \"failure\", \"download-failure\" or \"any\"",
                ));
            }
            let p = &b.profile;
            let alerts = result_alerts(args, obs, ctx)?;
            let Some(alert) = alerts.iter().find(|a| {
                str_of(a, "AlertType") == Some(p.scomo_result_alert_type.as_str())
                    && str_of(a, "SourceURI").is_some_and(|s| source_fits(p, uri, s))
            }) else {
                return fail(format!("the SCOMO result alert of EXEC {uri}, to read its ResultCode"), "none");
            };
            let code = sc::result_code(p, alert.get("Data"))
                .map_err(|want| Failure::new(want, format!("{}", alert.get("Data").unwrap_or(&Value::Null))).with_note(data_note(p)))?;
            let ok = match outcome {
                "success" => sc::is_success(code),
                "any" => sc::is_defined(code),
                "download-failure" => sc::is_download_failure(code),
                _ => !sc::is_success(code) && sc::is_defined(code),
            };
            if ok {
                return Ok(());
            }
            let want = match outcome {
                "success" => "ResultCode 1200 (or 1250-1299): the operation succeeded".to_string(),
                "any" => "a ResultCode the SCOMO table defines (1200, 1250-1299, 1400-1413, 1450-1499, 1500, 1501, \
                          1550-1599)"
                    .to_string(),
                "download-failure" => "a ResultCode of a failed download (1400-1404, 1412, 1450-1499, 1500, 1501, \
                                       1550-1599; digest §3.5): the package could not be downloaded"
                    .to_string(),
                _ => "a failure ResultCode of the SCOMO table (1400-1413, 1450-1499, 1500, 1501, 1550-1599): the \
                      operation cannot have succeeded"
                    .to_string(),
            };
            fail(want, format!("ResultCode {code}"))
        },
    },
    CheckDef {
        name: "scomo-inventory",
        about: "args.kind (\"deployed\" | \"delivered\"), args.package_id, args.expect (\"present\" | \"absent\" | \
                \"if-present\"), [args.state]: in the uploaded SCOMO tree (an MO serialization), Inventory/Deployed lists a component \
                whose PkgIDRef (Inventory/Delivered a package whose PkgID) is package_id, with that State — or none",
        args: &[
            arg("kind", ArgKind::Str),
            arg("package_id", ArgKind::Str),
            arg("expect", ArgKind::Str),
            opt_arg("state", ArgKind::Str),
        ],
        run: |_, args, obs, _| {
            let (kind, key) = match arg_str(args, "kind")? {
                "deployed" => ("Deployed", "PkgIDRef"),
                "delivered" => ("Delivered", "PkgID"),
                _ => return Err(Failure::case_defect("args.kind \"deployed\" or \"delivered\"")),
            };
            let pkg = arg_str(args, "package_id")?;
            // "if-present": an entry may be gone, but if listed it has the State.
            let (present, optional) = match arg_str(args, "expect")? {
                "present" => (true, false),
                "absent" => (false, false),
                "if-present" => (true, true),
                _ => return Err(Failure::case_defect("args.expect \"present\", \"absent\" or \"if-present\"")),
            };
            let state = args.get("state").and_then(|v| v.as_str());
            let j = json_of(obs)?;
            let mut found = Vec::new();
            entries(&j, kind, &mut found);
            let listed: Vec<String> = found
                .iter()
                .map(|(n, e)| {
                    format!("{n} ({key} {:?}, State {:?})", leaf_text(e, key).unwrap_or_default(), leaf_text(e, "State"))
                })
                .collect();
            let matching: Vec<&(&str, &Value)> =
                found.iter().filter(|(_, e)| leaf_text(e, key).as_deref() == Some(pkg)).collect();
            let shown = format!("Inventory/{kind}: [{}]", listed.join(", "));
            match (present, state) {
                (false, _) if matching.is_empty() => Ok(()),
                (false, _) => fail(format!("no entry of Inventory/{kind} with {key} {pkg:?}"), shown),
                (true, _) if matching.is_empty() && optional => Ok(()),
                (true, _) if matching.is_empty() => fail(format!("an entry of Inventory/{kind} with {key} {pkg:?}"), shown),
                (true, None) => Ok(()),
                (true, Some(s)) if matching.iter().any(|(_, e)| leaf_text(e, "State").as_deref() == Some(s)) => Ok(()),
                (true, Some(s)) => fail(format!("the entry of Inventory/{kind} with {key} {pkg:?} in State {s}"), shown),
            }
        },
    },
    CheckDef {
        name: "scomo-session-operation",
        about: "args.operation, args.under (\"delivered\" | \"deployed\" | \"download\"), [args.delivered_first = \
                \"yes\"]: the session (the record of finish-session) carried an EXEC of \
                <SCOMO MOID>/<inst>/<under>/<x>/Operations/<operation>; with delivered_first, after an HGET whose \
                ClientURI is that entry <x> or a node below it",
        args: &[arg("operation", ArgKind::Str), arg("under", ArgKind::Str), opt_arg("delivered_first", ArgKind::Str)],
        run: |b, args, obs, _| {
            let op = arg_str(args, "operation")?;
            let Some(under) = under_path(arg_str(args, "under")?) else {
                return Err(Failure::case_defect("args.under \"delivered\", \"deployed\" or \"download\""));
            };
            let first = args.get("delivered_first").and_then(|v| v.as_str()) == Some("yes");
            let slash = b.profile.client_uri_instance_slash;
            let cmds: Vec<Vec<String>> =
                super::checks::session_packages(obs)?.into_iter().flatten().map(|c| b.profile.reorder(&c)).collect();
            let shown = serde_json::to_string(&cmds).unwrap_or_default();
            let entry_prefix = |path: &[String]| {
                path.len() == under.len() + 1 && path.iter().zip(under.iter()).all(|(a, b)| a == b)
            };
            for (i, c) in cmds.iter().enumerate() {
                if c.first().map(String::as_str) != Some("EXEC") {
                    continue;
                }
                let Some((entry, name)) = c.get(1).and_then(|u| operation_of(u, slash)) else { continue };
                if name != op || !entry_prefix(&entry) {
                    continue;
                }
                if !first {
                    return Ok(());
                }
                let delivered = cmds[..i].iter().any(|h| {
                    h.first().map(String::as_str) == Some("HGET")
                        && h.get(2).and_then(|u| ClientUri::parse_with(u, slash).ok()).is_some_and(|u| {
                            let names: Vec<String> = u
                                .path
                                .iter()
                                .map(|s| if let Segment::Name(n) = s { n.clone() } else { "*".into() })
                                .collect();
                            u.moid == sc::MOID && names.len() >= entry.len() && names[..entry.len()] == entry[..]
                        })
                });
                if delivered {
                    return Ok(());
                }
                return fail(
                    format!("the package delivered (HGET into {}) before EXEC {}", entry.join("/"), c[1]),
                    format!("the session's commands {shown}"),
                );
            }
            fail(
                format!("EXEC of {}/<instance>/{}/<x>/Operations/{op}", sc::MOID, under.join("/")),
                format!("the session's commands {shown}"),
            )
        },
    },
    CheckDef {
        name: "session-command-wellformed",
        about: "args.command: every command of the session (the record of finish-session) whose name is this one, in \
                any letter case, is that command, exactly so spelt, with its parameters as defined (so a malformed \
                command is charged to its own item before the session is judged as a whole)",
        args: &[arg("command", ArgKind::Str)],
        run: |b, args, obs, _| {
            let name = arg_str(args, "command")?;
            for (i, package) in super::checks::session_packages(obs)?.iter().enumerate() {
                for (k, arr) in package.iter().enumerate() {
                    if !arr.first().is_some_and(|n| n.eq_ignore_ascii_case(name)) {
                        continue;
                    }
                    crate::wire::dm2::Command::from_array(&b.profile.reorder(arr), &format!("/CMD/{k}")).map_err(|e| {
                        Failure::new(
                            format!("a well-formed {name} command in Package#2 number {}: at {} {}", i + 1, e.pointer, e.expected),
                            e.found,
                        )
                    })?;
                }
            }
            Ok(())
        },
    },
    CheckDef {
        name: "scomo-report-result",
        about: "args.exec_uri, args.outcome (\"succeeded\" | \"failed\" | \"pending\" | \"final\": \
                succeeded or failed), [args.code]: device.report's \
                `software` lists the operation whose EXEC addressed exec_uri with that outcome and result_code",
        args: &[arg("exec_uri", ArgKind::Str), arg("outcome", ArgKind::Str), opt_arg("code", ArgKind::Int)],
        run: |_, args, obs, _| {
            let uri = arg_str(args, "exec_uri")?;
            let outcome = arg_str(args, "outcome")?;
            let code = args.get("code").and_then(|v| v.as_integer());
            let j = json_of(obs)?;
            let ops = j.get("software").and_then(Value::as_array).cloned().unwrap_or_default();
            let Some(o) = ops.iter().find(|o| o.pointer("/exec/1").and_then(Value::as_str) == Some(uri)) else {
                return fail(
                    format!("device.report software[] to list the operation EXEC {uri}"),
                    format!("{}", Value::Array(ops.clone())),
                );
            };
            let got_outcome = str_of(o, "outcome").unwrap_or("");
            let got_code = o.get("result_code").and_then(Value::as_i64);
            let fits = match outcome {
                // "final": any outcome but pending (the result was taken).
                "final" => matches!(got_outcome, "succeeded" | "failed"),
                _ => got_outcome == outcome,
            };
            if fits && (code.is_none() || got_code == code) {
                return Ok(());
            }
            fail(
                match code {
                    Some(c) => format!("the operation reported {outcome} with ResultCode {c}"),
                    None => format!("the operation reported {outcome}"),
                },
                format!("outcome {got_outcome:?}, result_code {got_code:?}"),
            )
        },
    },
];
