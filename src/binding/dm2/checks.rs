//! The DM 2.0 built-in checks: package structure, statuses per command, session alerts, MOS,
//! Generic Alerts, ClientURIs, MO serialization, commands of Package#2 and Package#0
//! conformance. Each is declared once, with its arguments; where a check follows an
//! UNVERIFIED profile setting its failure says so.
use super::{wire_credentials, Dm2};
use crate::runner::checks::CheckCtx;
use crate::runner::checks::{
    arg, arg_str, arg_strs, body_of, fail, json_has_leaf, json_of, opt_arg, show, ArgKind, CheckDef, Failure, Observed,
};
use crate::wire::dm2::notification::{option_name, Notification, OPT_NOTIFICATION_ID, OPT_TIMESTAMP};
use crate::wire::dm2::profile::{setting, ExecResultSourceUri, UploadBody};
use crate::wire::dm2::{self as wire, Package1, Package2, Package3, Profile, WireError};
use serde_json::Value;

fn wire_fail(what: &str, e: WireError) -> Failure {
    Failure::new(format!("{what}: at {} {}", if e.pointer.is_empty() { "/" } else { &e.pointer }, e.expected), e.found)
}

pub(super) fn alerts_of(j: &Value) -> Vec<Value> {
    j.get("Alert").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// When the Package#2 had commands whose status entry the digest leaves UNVERIFIED, say which
/// profile setting the check followed.
fn status_profile_note(cmds: &[Vec<String>], profile: &Profile) -> Option<String> {
    let doubtful = cmds.iter().filter_map(|c| c.first()).any(|n| matches!(n.as_str(), "CONT" | "SHOW" | "DEFAULT"));
    let statuses = doubtful.then(|| {
        format!(
            "whether CONT, SHOW and DEFAULT receive status entries is UNVERIFIED in the spec digest; this check \
             follows profile setting commands_without_status = {:?}",
            profile.commands_without_status
        )
    });
    // A client that reads EXEC's or DEFAULT's parameters in the other order fails them.
    let notes: Vec<String> = statuses.into_iter().chain(profile.parameter_order_note(cmds)).collect();
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Session alerts: the alerts that open a session, not Generic Alerts reporting something.
pub(super) fn is_session_alert(a: &Value) -> bool {
    let t = a.get("AlertType").and_then(Value::as_str);
    [wire::ALERT_CLIENT_INITIATED, wire::ALERT_SERVER_INITIATED, wire::ALERT_BOOTSTRAP_COMPLETE]
        .iter()
        .any(|s| t == Some(*s))
}

/// The Generic Alerts other than session alerts in this message and, with `args.earlier`, in
/// the message the case saved under that name (its `body`): where an asynchronous EXEC result
/// may be (seed, Change 4: "either in the Package#1 or Package#3").
pub(super) fn result_alerts(args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Value>, Failure> {
    let mut alerts = Vec::new();
    if let Some(name) = args.get("earlier").and_then(|v| v.as_str()) {
        let Some(saved) = ctx.saved.and_then(|s| s.get(name)) else {
            return Err(Failure::case_defect(format!("a message saved earlier as {name:?} (save_as)")));
        };
        alerts.extend(alerts_of(saved.get("body").unwrap_or(saved)));
    }
    alerts.extend(alerts_of(&json_of(obs)?));
    Ok(alerts.into_iter().filter(|a| !is_session_alert(a)).collect())
}

/// The MOID of a ClientURI (the text before its first "/").
fn moid_of(uri: &str) -> &str {
    uri.split('/').next().unwrap_or(uri)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn notification_of(obs: &Observed) -> Result<Notification, Failure> {
    match obs {
        Observed::Notification { bytes, .. } => Notification::decode(bytes)
            .map_err(|e| Failure::new(format!("a notification: byte {}: {}", e.offset, e.expected), e.found)),
        _ => Err(Failure::case_defect("a notification to check (this check reads a notification)")),
    }
}

/// The CMD arrays of a Package#2 as sent, without judging the commands themselves.
fn command_arrays(obs: &Observed) -> Result<Vec<Vec<String>>, Failure> {
    let j = json_of(obs)?;
    let Some(cmd) = j.get("CMD").and_then(Value::as_array) else {
        return fail("a Package#2: a JSON object with a CMD array", show(Some(&j))).map(|_| vec![]);
    };
    cmd.iter()
        .enumerate()
        .map(|(i, c)| match c.as_array() {
            Some(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
                Ok(a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            }
            _ => Err(Failure::new(format!("/CMD/{i}: a non-empty array of strings"), show(Some(c)))),
        })
        .collect()
}

/// The ClientURIs a command addresses (DEFAULT's MOID names configuration the tree may lack, so
/// it is not one).
fn client_uris(cmd: &wire::Command) -> Vec<String> {
    use wire::Command as C;
    match cmd {
        C::Hget { client_uri, .. } => client_uri.iter().cloned().collect(),
        C::Hput { client_uris, .. } | C::Hpost { client_uris, .. } => client_uris.clone(),
        C::Delete { client_uri } | C::Exec { client_uri, .. } | C::Get { client_uri } => vec![client_uri.clone()],
        C::Sub { client_uri, .. } | C::Unsub { client_uri } => vec![client_uri.clone()],
        C::Show { .. } | C::Cont { .. } | C::End | C::Default { .. } => vec![],
    }
}

/// Whether a ClientURI lies in one of the (MOID, MIID) instances: a named instance must be one
/// of them; an empty, wildcard or x-name instance addresses instances of its MOID, so the MOID
/// must be one of theirs. A URI that does not parse is left to the checks of ClientURI syntax.
fn addresses_listed(uri: &str, allowed: &[(String, String)]) -> bool {
    match wire::ClientUri::parse(uri) {
        Ok(u) => match &u.instance {
            wire::Instance::Miid(miid) => allowed.iter().any(|(m, i)| *m == u.moid && i == miid),
            _ => allowed.iter().any(|(m, _)| *m == u.moid),
        },
        Err(_) => true,
    }
}

fn package2(obs: &Observed) -> Result<Package2, Failure> {
    Package2::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#2", e))
}

/// The commands of each Package#2 of a session record (`finish-session`), as arrays of strings,
/// package by package; a case defect when the observation is no session record.
pub fn session_packages(obs: &Observed) -> Result<Vec<Vec<Vec<String>>>, Failure> {
    let j = json_of(obs)?;
    let Some(packages) = j.get("packages").and_then(Value::as_array) else {
        return Err(Failure::case_defect("a session record of finish-session to check (this check reads one)"));
    };
    Ok(packages
        .iter()
        .map(|p| {
            p.get("commands")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| c.as_array().into_iter().flatten().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .collect()
        })
        .collect())
}

/// The DM 2.0 built-ins, in `dmcts cases builtins` order.
pub const CHECKS: &[CheckDef<Dm2>] = &[
    CheckDef {
        name: "package1-valid",
        about: "the body is a well-formed Package#1 (MOS entries with MIID arrays, Generic Alerts)",
        args: &[],
        run: |_, _, obs, _| Package1::parse(body_of(obs)?).map(|_| ()).map_err(|e| wire_fail("a Package#1", e)),
    },
    CheckDef {
        name: "package2-valid",
        about: "the body is a well-formed Package#2: {\"CMD\": [[string, ...], ...]} with known commands",
        args: &[],
        run: |_, _, obs, _| package2(obs).map(|_| ()),
    },
    CheckDef {
        name: "package2-envelope",
        about: "the body is a JSON object whose CMD member is an array of non-empty arrays of strings (the commands \
                themselves are judged by the checks of their own items)",
        args: &[],
        run: |_, _, obs, _| command_arrays(obs).map(|_| ()),
    },
    CheckDef {
        name: "package3-valid",
        about: "the body is a well-formed Package#3: {\"Status\": [{\"sc\": number, ...}], \"Alert\"?}",
        args: &[],
        run: |_, _, obs, _| Package3::parse(body_of(obs)?).map(|_| ()).map_err(|e| wire_fail("a Package#3", e)),
    },
    CheckDef {
        name: "status-matches-commands",
        about: "Package#3 has one status per command of the Package#2 it answers (END excepted), in order",
        args: &[],
        run: |b, _, obs, ctx| {
            let p3 = Package3::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#3", e))?;
            let Some(cmds) = ctx.last_commands else {
                return Err(Failure::case_defect("a Package#2 sent earlier in this case"));
            };
            let statused =
                cmds.iter().filter(|c| b.profile.has_status(c.first().map(String::as_str).unwrap_or(""))).count();
            if p3.status.len() == statused {
                return Ok(());
            }
            let names: Vec<&str> = cmds.iter().filter_map(|c| c.first().map(String::as_str)).collect();
            Err(Failure {
                expected: format!("{statused} statuses, one per command of Package#2 [{}]", names.join(", ")),
                actual: format!(
                    "{} statuses: {:?}",
                    p3.status.len(),
                    p3.status.iter().map(|s| s.sc).collect::<Vec<_>>()
                ),
                note: status_profile_note(cmds, &b.profile),
                case_defect: false,
                cannot_judge: false,
            })
        },
    },
    CheckDef {
        name: "status-codes",
        about: "args.codes: the status codes of this Package#3 equal the list given, position by position, one per \
                command of the Package#2 but END ('*' = any code, '2xx' = any code of that class, 'final-2xx' = any \
                2xx but 202); positions of commands the profile gives no status (commands_without_status, \
                UNVERIFIED) are dropped",
        args: &[arg("codes", ArgKind::StatusCodes)],
        run: |b, args, obs, ctx| {
            let j = json_of(obs)?;
            let mut want = args.get("codes").and_then(|v| v.as_array()).cloned().unwrap_or_default();
            // Codes are written one per command of the Package#2 (END excluded); a profile that
            // gives some commands no status drops their positions.
            if let Some(cmds) = ctx.last_commands {
                let named: Vec<&str> =
                    cmds.iter().filter_map(|c| c.first().map(String::as_str)).filter(|n| *n != "END").collect();
                if named.len() == want.len() {
                    want =
                        want.into_iter().zip(named).filter(|(_, n)| b.profile.has_status(n)).map(|(w, _)| w).collect();
                }
            }
            let got: Vec<Value> = j
                .get("Status")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|s| s.get("sc").cloned().unwrap_or(Value::Null)).collect())
                .unwrap_or_default();
            let render_want: Vec<String> = want.iter().map(|w| w.to_string().trim_matches('"').to_string()).collect();
            let ok = want.len() == got.len()
                && want.iter().zip(&got).all(|(w, g)| match w {
                    toml::Value::String(s) if s == "*" => g.is_number(),
                    // A class such as "final-2xx": where the spec asks for success but not the code.
                    toml::Value::String(s) => g.as_i64().is_some_and(|c| crate::catalog::check::status_matches(s, c)),
                    toml::Value::Integer(i) => g.as_i64() == Some(*i),
                    _ => false,
                });
            if ok {
                return Ok(());
            }
            Err(Failure {
                expected: format!("status codes [{}]", render_want.join(", ")),
                actual: format!("{}", Value::Array(got)),
                note: ctx.last_commands.and_then(|c| status_profile_note(c, &b.profile)),
                case_defect: false,
                cannot_judge: false,
            })
        },
    },
    CheckDef {
        name: "session-alert",
        about: "args.type = server-initiated|client-initiated|bootstrap-complete: Package#1 carries that session \
                alert; for server-initiated also the NOTIFICATION-ID args.notification_id (placement per profile \
                notification_id_key, UNVERIFIED)",
        args: &[arg("type", ArgKind::Str), opt_arg("notification_id", ArgKind::Int)],
        run: |b, args, obs, _| {
            let j = json_of(obs)?;
            let at = match arg_str(args, "type")? {
                "server-initiated" => wire::ALERT_SERVER_INITIATED,
                "client-initiated" => wire::ALERT_CLIENT_INITIATED,
                "bootstrap-complete" => wire::ALERT_BOOTSTRAP_COMPLETE,
                other => {
                    return Err(Failure::case_defect(format!(
                        "type = server-initiated|client-initiated|bootstrap-complete (found {other:?})"
                    )))
                }
            };
            let alerts = alerts_of(&j);
            let Some(a) = alerts.iter().find(|a| a.get("AlertType").and_then(Value::as_str) == Some(at)) else {
                let types: Vec<String> =
                    alerts.iter().map(|a| a.get("AlertType").map(|t| t.to_string()).unwrap_or("-".into())).collect();
                return fail(format!("an alert {at}"), format!("alert types [{}]", types.join(", ")));
            };
            if let Some(id) = args.get("notification_id") {
                let want = id.as_integer().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
                let key = &b.profile.notification_id_key;
                let got = a.get("Data").and_then(|d| d.get(key.as_str())).and_then(Value::as_i64);
                if want.is_none() || got != want {
                    return Err(Failure::new(
                        format!("Data.{key} = {}", want.map(|w| w.to_string()).unwrap_or("?".into())),
                        format!("Data = {}", show(a.get("Data"))),
                    )
                    .with_note(format!(
                        "the placement of NOTIFICATION-ID in the alert is UNVERIFIED in the spec digest; this check \
                         follows profile setting notification_id_key = {key:?}"
                    )));
                }
            }
            Ok(())
        },
    },
    CheckDef {
        name: "mos-present",
        about: "Package#1 carries a MOS array of {DDF?, MOID?, MIID[]} entries",
        args: &[],
        run: |_, _, obs, _| {
            let p1 = Package1::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#1", e))?;
            match p1.mos {
                Some(m) if !m.is_empty() => Ok(()),
                Some(_) => fail("a non-empty MOS array", "an empty MOS array"),
                None => fail("a MOS array (REQ-MOS was in the notification)", "no MOS member"),
            }
        },
    },
    CheckDef {
        name: "generic-alerts-valid",
        about: "every Generic Alert has an AlertType, a defined Mark if any, and DataType whenever Data",
        args: &[],
        run: |_, _, obs, _| {
            let j = json_of(obs)?;
            for (i, a) in alerts_of(&j).iter().enumerate() {
                wire::GenericAlert::from_value(a, &format!("/Alert/{i}"))
                    .map_err(|e| wire_fail("Generic Alerts", e))?;
                if let Some(m) = a.get("Mark") {
                    if !m.as_str().is_some_and(|m| wire::MARK_VALUES.contains(&m)) {
                        return fail(format!("/Alert/{i}/Mark one of {}", wire::MARK_VALUES.join(", ")), m.to_string());
                    }
                }
            }
            Ok(())
        },
    },
    CheckDef {
        name: "get-data",
        about: "args.index: the status entry carries GET data (member per profile get_data_member, UNVERIFIED; \
                any other extra member is accepted too); args.contains: some value in it equals this",
        args: &[opt_arg("index", ArgKind::Int), opt_arg("contains", ArgKind::Str)],
        run: |b, args, obs, _| {
            let j = json_of(obs)?;
            let index = args.get("index").and_then(|v| v.as_integer()).unwrap_or(0);
            let member = &b.profile.get_data_member;
            let note = format!(
                "where GET data travels in Package#3 is UNVERIFIED in the spec digest; this check follows profile \
                 setting get_data_member = {member:?}"
            );
            let entry = j.pointer(&format!("/Status/{index}"));
            // The profile's member first; then, as the digest asks of client-role checks, any
            // other extra member (the trace shows which one carried the data).
            let data = entry.and_then(|e| e.get(member.as_str()).filter(|d| !d.is_null())).or_else(|| {
                entry.and_then(Value::as_object).and_then(|o| {
                    o.iter().find(|(k, v)| k.as_str() != "sc" && k.as_str() != "URI" && !v.is_null()).map(|(_, v)| v)
                })
            });
            let Some(data) = data.filter(|d| !d.is_null()) else {
                return Err(Failure::new(
                    format!("/Status/{index}/{member} (or another extra member) carrying the GET data"),
                    format!("/Status/{index} = {}", show(entry)),
                )
                .with_note(note));
            };
            if let Some(want) = args.get("contains").and_then(|v| v.as_str()) {
                let mo_data: Vec<&Value> = match data {
                    Value::Array(a) => a.iter().filter_map(|e| e.get("MOData")).collect(),
                    other => vec![other],
                };
                if !mo_data.iter().any(|d| json_has_leaf(d, want)) {
                    return Err(Failure::new(format!("GET data containing the value {want:?}"), show(Some(data)))
                        .with_note(note));
                }
            }
            Ok(())
        },
    },
    CheckDef {
        name: "alert-present",
        about: "args.alert_type ('*' = any): an Alert of that type is present (args.source_uri optional)",
        args: &[arg("alert_type", ArgKind::Str), opt_arg("source_uri", ArgKind::Str)],
        run: |_, args, obs, _| {
            let j = json_of(obs)?;
            let at = arg_str(args, "alert_type")?;
            let src = args.get("source_uri").and_then(|v| v.as_str());
            let found = alerts_of(&j).iter().any(|a| {
                (at == "*" || a.get("AlertType").and_then(Value::as_str) == Some(at))
                    && src.is_none_or(|s| a.get("SourceURI").and_then(Value::as_str) == Some(s))
            });
            if found {
                Ok(())
            } else {
                fail(
                    format!("an alert {at}{}", src.map(|s| format!(" with SourceURI {s}")).unwrap_or_default()),
                    show(j.get("Alert")),
                )
            }
        },
    },
    CheckDef {
        name: "client-uri-well-formed",
        about: "args.pointer: the string at that pointer is a well-formed ClientURI (the \"/\" after mo-inst per \
                profile client_uri_instance_slash, UNVERIFIED)",
        args: &[arg("pointer", ArgKind::Str)],
        run: |b, args, obs, _| {
            let j = json_of(obs)?;
            let p = arg_str(args, "pointer")?;
            match j.pointer(p).and_then(Value::as_str) {
                Some(s) => match wire::client_uri::ClientUri::parse_with(s, b.profile.client_uri_instance_slash) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(Failure::new(format!("a well-formed ClientURI at {p}"), format!("{s:?}: {e}"))
                        .with_note(format!(
                            "whether the \"/\" after mo-inst is required is UNVERIFIED in the spec digest (§21 q28); \
                             this check follows profile setting client_uri_instance_slash = {:?}",
                            setting(&b.profile.client_uri_instance_slash)
                        ))),
                },
                None => fail(format!("a ClientURI string at {p}"), show(j.pointer(p))),
            }
        },
    },
    CheckDef {
        name: "mo-serialization-valid",
        about: "the body is a non-empty MO serialization array of {ClientURI, MOData, DDF?, CV?} (HPUT/HPOST body \
                format per profile upload_body, UNVERIFIED: with \"any\", any non-empty body)",
        args: &[],
        run: |b, _, obs, _| {
            let note = format!(
                "the HPUT/HPOST body format is UNVERIFIED in the spec digest (§8.2: presumably the MO serialization of \
                 §13.4, one element per ClientURI); this check follows profile setting upload_body = {:?}",
                setting(&b.profile.upload_body)
            );
            let body = body_of(obs)?;
            if b.profile.upload_body == UploadBody::Any {
                return if body.iter().all(u8::is_ascii_whitespace) {
                    Err(Failure::new("a non-empty body: the data of the ClientURIs", "an empty body").with_note(note))
                } else {
                    Ok(())
                };
            }
            let items = wire::mo::parse_serialization_with(body, b.profile.client_uri_instance_slash)
                .map_err(|e| wire_fail("an MO serialization", e).with_note(note.clone()))?;
            if items.is_empty() {
                return Err(Failure::new("an MO serialization with one element per ClientURI", "an empty array")
                    .with_note(note));
            }
            Ok(())
        },
    },
    CheckDef {
        name: "exec-result-session-alert",
        about: "the Package#1 of the session carrying an asynchronous EXEC result opens with ClientInitiatedMgmt \
                (profile exec_result_session_alert, UNVERIFIED; false: not judged)",
        args: &[],
        run: |b, _, obs, _| {
            if !b.profile.exec_result_session_alert {
                return Ok(());
            }
            let j = json_of(obs)?;
            let alerts = alerts_of(&j);
            if alerts.iter().any(|a| a.get("AlertType").and_then(Value::as_str) == Some(wire::ALERT_CLIENT_INITIATED)) {
                return Ok(());
            }
            let types: Vec<String> =
                alerts.iter().map(|a| a.get("AlertType").map(|t| t.to_string()).unwrap_or("-".into())).collect();
            Err(Failure::new(
                format!("an alert {} in the Package#1 of the new session", wire::ALERT_CLIENT_INITIATED),
                format!("alert types [{}]", types.join(", ")),
            )
            .with_note(
                "whether the new session that carries an asynchronous EXEC result also carries ClientInitiatedMgmt is \
                 UNVERIFIED in the spec digest (§11, proposed: yes); this check follows profile setting \
                 exec_result_session_alert = true",
            ))
        },
    },
    CheckDef {
        name: "exec-result-reported",
        about: "args.client_uri: the final status of an EXEC answered 202 comes as a Generic Alert (any AlertType but \
                the session alerts: it is MO-specific) in this package or in the one saved as args.earlier",
        args: &[arg("client_uri", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |_, args, obs, ctx| {
            let uri = arg_str(args, "client_uri")?;
            if !result_alerts(args, obs, ctx)?.is_empty() {
                return Ok(());
            }
            fail(
                format!(
                    "a Generic Alert with the result of EXEC {uri} in the Package#1 or Package#3 of the new session"
                ),
                "only session alerts, or none",
            )
        },
    },
    CheckDef {
        name: "exec-result-source-uri",
        about: "args.client_uri: the Generic Alert carrying an asynchronous EXEC result (in this package or the one \
                saved as args.earlier) has a SourceURI identifying the executed node: the EXEC's ClientURI as sent, \
                or any ClientURI of its MOID (profile exec_result_source_uri)",
        args: &[arg("client_uri", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let uri = arg_str(args, "client_uri")?;
            let alerts = result_alerts(args, obs, ctx)?;
            let rule = b.profile.exec_result_source_uri;
            let slash = b.profile.client_uri_instance_slash;
            let fits = |s: &str| match rule {
                ExecResultSourceUri::Exact => s == uri,
                ExecResultSourceUri::SameMoid => {
                    moid_of(s) == moid_of(uri) && wire::client_uri::ClientUri::parse_with(s, slash).is_ok()
                }
            };
            let sources: Vec<String> = alerts
                .iter()
                .map(|a| a.get("SourceURI").map(|s| s.to_string()).unwrap_or("no SourceURI".into()))
                .collect();
            if alerts.iter().filter_map(|a| a.get("SourceURI").and_then(Value::as_str)).any(fits) {
                return Ok(());
            }
            let expected = match rule {
                ExecResultSourceUri::Exact => {
                    format!("a result alert whose SourceURI is {uri:?}, the EXEC's ClientURI")
                }
                ExecResultSourceUri::SameMoid => {
                    format!("a result alert whose SourceURI is a ClientURI of {}, the executed node's MO", moid_of(uri))
                }
            };
            Err(Failure::new(expected, format!("result alerts with SourceURI [{}]", sources.join(", "))).with_note(
                format!(
                    "certain (seed, Change 4): the SourceURI of an alert related to an MO MUST identify the address to \
                     the MO; its exact form is not: this check follows profile setting exec_result_source_uri = {:?} \
                     (\"exact\": the EXEC's ClientURI as sent, digest §19.6; \"same-moid\": any ClientURI of its MO)",
                    setting(&rule)
                ),
            ))
        },
    },
    CheckDef {
        name: "command-present",
        about: "args.command: Package#2 contains exactly this command array (read from the CMD arrays as sent, so a \
                malformed command is charged to the command's item, not to Package#2)",
        args: &[arg("command", ArgKind::StrList)],
        run: |b, args, obs, _| {
            // Cases write the digest's parameter order; the server sends the profile's.
            let arrays: Vec<Vec<String>> = command_arrays(obs)?.iter().map(|c| b.profile.reorder(c)).collect();
            let want = arg_strs(args, "command");
            if arrays.contains(&want) {
                Ok(())
            } else {
                let failure = Failure::new(format!("command {want:?} in Package#2"), format!("{arrays:?}"));
                Err(match b.profile.parameter_order_note(std::slice::from_ref(&want)) {
                    Some(note) => failure.with_note(note),
                    None => failure,
                })
            }
        },
    },
    CheckDef {
        name: "command-order",
        about: "args.names: the Package#2 commands appear in this order (other commands may interleave)",
        args: &[arg("names", ArgKind::StrList)],
        run: |_, args, obs, _| {
            let p2 = package2(obs)?;
            let want = arg_strs(args, "names");
            let got: Vec<&str> = p2.cmd.iter().map(|c| c.name()).collect();
            let mut it = got.iter();
            if want.iter().all(|w| it.any(|g| g == w)) {
                Ok(())
            } else {
                fail(format!("commands in order {want:?}"), format!("{got:?}"))
            }
        },
    },
    CheckDef {
        name: "session-packages-valid",
        about: "every command of every Package#2 of the session (the record of finish-session) is a known command \
                with its parameters in the defined order",
        args: &[],
        run: |_, _, obs, _| {
            for (i, package) in session_packages(obs)?.iter().enumerate() {
                for (k, arr) in package.iter().enumerate() {
                    wire::Command::from_array(arr, &format!("/CMD/{k}"))
                        .map_err(|e| wire_fail(&format!("Package#2 number {} of the session", i + 1), e))?;
                }
            }
            Ok(())
        },
    },
    CheckDef {
        name: "session-addresses-only",
        about: "args.instances (MO instance roots \"<MOID>/<MIID>/\"): every ClientURI the session's commands \
                address lies in one of them (an empty, wildcard or x-name instance: in one of their MOIDs); \
                DEFAULT's MOID and malformed commands are left to their own checks",
        args: &[arg("instances", ArgKind::StrList)],
        run: |_, args, obs, _| {
            let j = json_of(obs)?;
            let Some(commands) = j.get("commands").and_then(Value::as_array) else {
                return Err(Failure::case_defect("a session record of finish-session to check (this check reads one)"));
            };
            let mut allowed: Vec<(String, String)> = Vec::new();
            for root in arg_strs(args, "instances") {
                match wire::ClientUri::parse(&root) {
                    Ok(wire::ClientUri { moid, instance: wire::Instance::Miid(miid), .. }) => {
                        allowed.push((moid, miid))
                    }
                    _ => {
                        return Err(Failure::case_defect(format!(
                            "args.instances entries \"<MOID>/<MIID>/\" (found {root:?})"
                        )))
                    }
                }
            }
            let outside: Vec<String> = commands
                .iter()
                .filter_map(|c| {
                    let arr: Vec<String> =
                        c.as_array()?.iter().map(|x| x.as_str().map(str::to_string)).collect::<Option<_>>()?;
                    let cmd = wire::Command::from_array(&arr, "").ok()?;
                    Some(client_uris(&cmd).into_iter().filter(|u| !addresses_listed(u, &allowed)).collect::<Vec<_>>())
                })
                .flatten()
                .collect();
            if outside.is_empty() {
                return Ok(());
            }
            let listed: Vec<String> = allowed.iter().map(|(m, i)| format!("{m}/{i}/")).collect();
            fail(
                format!("commands addressing only the MO instances the device listed: {}", listed.join(", ")),
                format!("ClientURIs outside them: {}", outside.join(", ")),
            )
        },
    },
    CheckDef {
        name: "package2-ends-session",
        about: "Package#2 contains END (the server ends the session)",
        args: &[],
        run: |_, _, obs, _| {
            let p2 = package2(obs)?;
            if p2.cmd.iter().any(|c| matches!(c, wire::Command::End)) {
                Ok(())
            } else {
                fail("END in Package#2", format!("{:?}", p2.cmd.iter().map(|c| c.name()).collect::<Vec<_>>()))
            }
        },
    },
    CheckDef {
        name: "notification-conformant",
        about: "args.item: the notification has no problem attributed to that SCR item (VER, OC, option \
                order/sizes...)",
        args: &[arg("item", ArgKind::Str)],
        run: |b, args, obs, _| {
            let n = notification_of(obs)?;
            let item = arg_str(args, "item")?;
            let problems: Vec<String> = n
                .problems(&b.profile)
                .into_iter()
                .filter(|p| p.item == item)
                .map(|p| format!("byte {}: {}", p.offset, p.message))
                .collect();
            if problems.is_empty() {
                Ok(())
            } else {
                fail(format!("a notification conformant to {item}"), problems.join("; "))
            }
        },
    },
    CheckDef {
        name: "notification-option-present",
        about: "args.option: the notification carries that option (SERVER-ID, ...)",
        args: &[arg("option", ArgKind::Str)],
        run: |_, args, obs, _| {
            let n = notification_of(obs)?;
            let opt = arg_str(args, "option")?;
            if n.options.iter().any(|o| option_name(o.number) == opt) {
                Ok(())
            } else {
                let names: Vec<&str> = n.options.iter().map(|o| option_name(o.number)).collect();
                fail(format!("option {opt}"), format!("options [{}]", names.join(", ")))
            }
        },
    },
    CheckDef {
        name: "notification-option-absent",
        about: "args.option: the notification does not carry that option (e.g. REQ-MOS when the MO list was not \
                asked for)",
        args: &[arg("option", ArgKind::Str)],
        run: |_, args, obs, _| {
            let n = notification_of(obs)?;
            let opt = arg_str(args, "option")?;
            match n.options.iter().find(|o| option_name(o.number) == opt) {
                None => Ok(()),
                Some(o) => fail(format!("no option {opt}"), format!("option {opt} at byte {}", o.offset)),
            }
        },
    },
    CheckDef {
        name: "notification-id-differs",
        about: "args.other: the notification's NOTIFICATION-ID differs from that of another notification (the \
                client spots duplicates by it)",
        args: &[arg("other", ArgKind::Int)],
        run: |_, args, obs, _| {
            let n = notification_of(obs)?;
            let other = args.get("other").and_then(toml::Value::as_integer).unwrap_or(-1);
            let id = n
                .option(OPT_NOTIFICATION_ID)
                .filter(|o| o.value.len() == 2)
                .map(|o| i64::from(u16::from_be_bytes([o.value[0], o.value[1]])));
            match id {
                None => fail("a 2-byte NOTIFICATION-ID", "none"),
                Some(id) if id == other => {
                    fail(format!("a NOTIFICATION-ID other than {other}, the previous notification's"), id.to_string())
                }
                Some(_) => Ok(()),
            }
        },
    },
    CheckDef {
        name: "notification-timestamp-fresh",
        about: "the TIMESTAMP is POSIX seconds within the profile's timestamp_window_s of the suite's clock when \
                the notification arrived (window UNVERIFIED)",
        args: &[],
        run: |b, _, obs, _| {
            let n = notification_of(obs)?;
            let window = b.profile.timestamp_window_s;
            let note = format!(
                "the replay window is UNVERIFIED in the spec digest (§4.3, §21 q8); this check follows profile \
                 setting timestamp_window_s = {window}, and reads TIMESTAMP as POSIX seconds (§4.3)"
            );
            let Some(o) = n.option(OPT_TIMESTAMP).filter(|o| !o.value.is_empty() && o.value.len() <= 8) else {
                return fail("a TIMESTAMP option of 1 to 8 bytes", "none");
            };
            let ts = o.value.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            let now = unix_now();
            let skew = ts.abs_diff(now);
            if skew <= window {
                return Ok(());
            }
            let when = if ts > now { "ahead of" } else { "behind" };
            Err(Failure::new(
                format!("a TIMESTAMP within {window} s of the suite's clock ({now})"),
                format!("TIMESTAMP {ts}: {skew} s {when} the suite's clock"),
            )
            .with_note(note))
        },
    },
    CheckDef {
        name: "notification-digest-valid",
        about: "the SHA256-DIGEST verifies with the registered secret and auth data (input order per profile \
                digest_order, UNVERIFIED)",
        args: &[],
        run: |b, _, obs, ctx| {
            let n = notification_of(obs)?;
            let Some(creds) = ctx.credentials else {
                return Err(Failure::case_defect("notification credentials in the PIXIT"));
            };
            let order = b.profile.digest_order;
            match n.verify_digest(&wire_credentials(creds), order) {
                Some(true) => Ok(()),
                // Say why: the input order of the profile, or credentials the server does not use.
                Some(false) => Err(Failure::new(
                    "a SHA256-DIGEST that verifies with the registered secret and auth data",
                    "the digest does not verify",
                )
                .with_note(n.diagnose_digest(&wire_credentials(creds), order).explain(order))),
                None => fail("a 32-byte SHA256-DIGEST option", "no digest option"),
            }
        },
    },
];

#[cfg(test)]
mod tests {
    use super::super::Dm2;
    use crate::catalog::check::CheckKind;
    use crate::runner::checks::{evaluate, CheckCtx, Credentials, Failure, Observed};
    use crate::wire::dm2::notification::{encode, NotificationFields};
    use crate::wire::dm2::Profile;
    use serde_json::Value;
    use std::collections::BTreeMap;

    fn http(body: &str) -> (Vec<(String, String)>, Vec<u8>) {
        (vec![("Content-Type".into(), "application/json".into())], body.as_bytes().to_vec())
    }

    fn eval(kind: &CheckKind, body: &str, last_p2: Option<&[Vec<String>]>) -> Result<(), Failure> {
        let (headers, body) = http(body);
        let obs =
            Observed::Http { status: Some(200), method: Some("POST"), path: Some(""), headers: &headers, body: &body };
        evaluate(kind, &obs, &CheckCtx { last_commands: last_p2, credentials: None, saved: None }, &Dm2::default())
    }

    fn builtin(name: &str, args: &str) -> CheckKind {
        CheckKind::Builtin { name: name.into(), args: toml::from_str(args).unwrap() }
    }

    #[test]
    fn status_codes_compare_position_by_position_with_wildcards() {
        let k = builtin("status-codes", "codes = [200, \"*\", 405]");
        assert!(eval(&k, r#"{"Status":[{"sc":200},{"sc":202},{"sc":405}]}"#, None).is_ok());
        let f = eval(&k, r#"{"Status":[{"sc":405},{"sc":202},{"sc":200}]}"#, None).unwrap_err();
        assert!(f.actual.contains("405"), "{f:?}");
        // A status code sent as a string is not a number.
        assert!(eval(&k, r#"{"Status":[{"sc":"200"},{"sc":202},{"sc":405}]}"#, None).is_err());
    }

    #[test]
    fn status_code_classes_and_final_success() {
        let k = builtin("status-codes", "codes = [\"final-2xx\", \"4xx\", \"2xx\"]");
        assert!(eval(&k, r#"{"Status":[{"sc":204},{"sc":405},{"sc":202}]}"#, None).is_ok());
        // 202 announces an asynchronous result: not a final success.
        assert!(eval(&k, r#"{"Status":[{"sc":202},{"sc":405},{"sc":200}]}"#, None).is_err());
        assert!(eval(&k, r#"{"Status":[{"sc":200},{"sc":500},{"sc":200}]}"#, None).is_err());
    }

    fn eval_with(kind: &CheckKind, body: &str, p2: &[Vec<String>], profile: &Profile) -> Result<(), Failure> {
        let (headers, body) = http(body);
        let obs =
            Observed::Http { status: Some(200), method: Some("POST"), path: Some(""), headers: &headers, body: &body };
        evaluate(
            kind,
            &obs,
            &CheckCtx { last_commands: Some(p2), credentials: None, saved: None },
            &Dm2::new(profile.clone()),
        )
    }

    #[test]
    fn commands_without_status_follow_the_profile() {
        let p2 = vec![vec!["HPUT".to_string(), "s".into(), "c".into()], vec!["CONT".into(), "u".into()]];
        let codes = builtin("status-codes", "codes = [\"final-2xx\", \"*\"]");
        let count = builtin("status-matches-commands", "");
        let one = r#"{"Status":[{"sc":200}]}"#;
        let two = r#"{"Status":[{"sc":200},{"sc":200}]}"#;
        // Default (digest q13): CONT gets a status; the failure names the setting.
        let default = Profile::default();
        assert!(eval_with(&codes, two, &p2, &default).is_ok());
        let f = eval_with(&count, one, &p2, &default).unwrap_err();
        assert!(f.note.as_deref().is_some_and(|n| n.contains("commands_without_status")), "{f:?}");
        let no_cont = Profile { commands_without_status: vec!["CONT".into()], ..Profile::default() };
        assert!(eval_with(&codes, one, &p2, &no_cont).is_ok());
        assert!(eval_with(&count, one, &p2, &no_cont).is_ok());
        assert!(eval_with(&count, two, &p2, &no_cont).is_err());
    }

    #[test]
    fn body_contains_searches_json_leaves_or_text() {
        let k = builtin("body-contains", "value = \"dmcts-x\"");
        assert!(eval(&k, r#"[{"ClientURI":"u","MOData":{"A":{"B":"dmcts-x"}}}]"#, None).is_ok());
        assert!(eval(&k, "<MgmtTree><Data>dmcts-x</Data></MgmtTree>", None).is_ok());
        let f = eval(&k, r#"[{"ClientURI":"u","MOData":{"A":"dmcts-x2"}}]"#, None).unwrap_err();
        assert!(f.expected.contains("dmcts-x") && f.actual.contains("dmcts-x2"), "{f:?}");
    }

    #[test]
    fn an_empty_upload_is_not_an_mo_serialization_and_the_note_says_unverified() {
        let k = builtin("mo-serialization-valid", "");
        let f = eval(&k, "[]", None).unwrap_err();
        assert!(f.note.unwrap().contains("UNVERIFIED"));
        assert!(eval(&k, r#"[{"ClientURI":"urn:oma:mo:x:1.0//A","MOData":{"A":"1"}}]"#, None).is_ok());
    }

    fn eval_profile(
        kind: &CheckKind,
        body: &str,
        profile: Profile,
        saved: Option<&BTreeMap<String, Value>>,
    ) -> Result<(), Failure> {
        let (headers, body) = http(body);
        let obs =
            Observed::Http { status: Some(200), method: Some("POST"), path: Some(""), headers: &headers, body: &body };
        evaluate(kind, &obs, &CheckCtx { last_commands: None, credentials: None, saved }, &Dm2::new(profile))
    }

    #[test]
    fn the_upload_body_format_follows_the_profile() {
        use crate::wire::dm2::profile::UploadBody;
        let k = builtin("mo-serialization-valid", "");
        let bare = r#"[{"Man":"dmcts"}]"#;
        let f = eval_profile(&k, bare, Profile::default(), None).unwrap_err();
        assert!(f.note.unwrap().contains("upload_body = \"mo-serialization\""));
        let any = Profile { upload_body: UploadBody::Any, ..Profile::default() };
        assert!(eval_profile(&k, bare, any.clone(), None).is_ok());
        assert!(eval_profile(&k, "<Man>dmcts</Man>", any.clone(), None).is_ok());
        assert!(eval_profile(&k, "  ", any, None).unwrap_err().note.unwrap().contains("upload_body = \"any\""));
    }

    #[test]
    fn the_slash_after_mo_inst_follows_the_profile() {
        use crate::wire::dm2::profile::InstanceSlash;
        let k = builtin("client-uri-well-formed", "pointer = \"/Status/0/URI/0\"");
        let bare = r#"{"Status":[{"sc":200,"URI":["urn:oma:mo:dmcts-test:1.0/t2"]}]}"#;
        let f = eval_profile(&k, bare, Profile::default(), None).unwrap_err();
        assert!(f.note.unwrap().contains("client_uri_instance_slash = \"required\""));
        let optional = Profile { client_uri_instance_slash: InstanceSlash::Optional, ..Profile::default() };
        assert!(eval_profile(&k, bare, optional.clone(), None).is_ok());
        // The upload's ClientURIs follow the same rule.
        let upload = r#"[{"ClientURI":"urn:oma:mo:dmcts-test:1.0/t2","MOData":{"Test":{}}}]"#;
        let m = builtin("mo-serialization-valid", "");
        assert!(eval_profile(&m, upload, Profile::default(), None).is_err());
        assert!(eval_profile(&m, upload, optional, None).is_ok());
    }

    #[test]
    fn an_exec_result_may_come_in_the_package1_or_the_package3_of_the_new_session() {
        use crate::wire::dm2::profile::ExecResultSourceUri;
        let node = "urn:oma:mo:oma-fumo:1.0/fw-main/DownloadAndUpdate";
        let args = format!("client_uri = \"{node}\"\nearlier = \"p1\"");
        let reported = builtin("exec-result-reported", &args);
        let source = builtin("exec-result-source-uri", &args);
        let session = r#"{"AlertType":"urn:oma:at:dm:2.0:ClientInitiatedMgmt"}"#;
        let result = |src: &str| format!(r#"{{"AlertType":"urn:x:at:1.0:Done","SourceURI":"{src}"}}"#);
        let p1 = |alerts: &str| {
            BTreeMap::from([(
                "p1".to_string(),
                serde_json::json!({ "body": serde_json::from_str::<Value>(&format!(r#"{{"Alert":[{alerts}]}}"#)).unwrap() }),
            )])
        };
        let p3 = |alerts: &str| format!(r#"{{"Status":[{{"sc":200}}],"Alert":[{alerts}]}}"#);
        let d = Profile::default;
        // In the Package#1, in the Package#3, or nowhere.
        let in_p1 = p1(&format!("{session},{}", result(node)));
        assert!(eval_profile(&reported, &p3(""), d(), Some(&in_p1)).is_ok());
        assert!(eval_profile(&source, &p3(""), d(), Some(&in_p1)).is_ok());
        let only_session = p1(session);
        assert!(eval_profile(&reported, &p3(&result(node)), d(), Some(&only_session)).is_ok());
        assert!(eval_profile(&reported, &p3(""), d(), Some(&only_session)).is_err());
        // The SourceURI: exact by default; another form of the same MO under same-moid.
        let root = "urn:oma:mo:oma-fumo:1.0/fw-main/";
        let f = eval_profile(&source, &p3(&result(root)), d(), Some(&only_session)).unwrap_err();
        assert!(f.note.as_deref().unwrap().contains("exec_result_source_uri = \"exact\""), "{f:?}");
        let same = Profile { exec_result_source_uri: ExecResultSourceUri::SameMoid, ..d() };
        assert!(eval_profile(&source, &p3(&result(root)), same.clone(), Some(&only_session)).is_ok());
        let devinfo = "urn:oma:mo:oma-dm-devinfo:1.0/d0/";
        assert!(eval_profile(&source, &p3(&result(devinfo)), same, Some(&only_session)).is_err());
        // A saved message the case did not save is a defect of the case, not of the IUT.
        assert!(eval_profile(&reported, &p3(""), d(), None).unwrap_err().case_defect);
    }

    #[test]
    fn the_result_sessions_client_initiated_alert_follows_the_profile() {
        let k = builtin("exec-result-session-alert", "");
        let without = r#"{"Alert":[{"AlertType":"urn:x:at:1.0:Done"}]}"#;
        let f = eval_profile(&k, without, Profile::default(), None).unwrap_err();
        assert!(f.note.unwrap().contains("exec_result_session_alert = true"));
        let off = Profile { exec_result_session_alert: false, ..Profile::default() };
        assert!(eval_profile(&k, without, off, None).is_ok());
    }

    #[test]
    fn the_suite_sends_exec_and_default_in_the_profiles_parameter_order() {
        use crate::binding::Binding;
        use crate::wire::dm2::profile::{DefaultParameterOrder, ExecParameterOrder};
        let cmds = vec![
            vec!["EXEC".to_string(), "urn:x:1.0/i/Op".into(), "http://s/a".into()],
            vec!["DEFAULT".to_string(), "urn:x:1.0".into(), "http://s/c".into()],
        ];
        let sent = |p: Profile| -> Value { serde_json::from_slice(&Dm2::new(p).server_package(&cmds).body).unwrap() };
        assert_eq!(sent(Profile::default())["CMD"], serde_json::json!(cmds));
        let swapped = Profile {
            exec_parameter_order: ExecParameterOrder::ServerUriFirst,
            default_parameter_order: DefaultParameterOrder::ServerUriFirst,
            ..Profile::default()
        };
        assert_eq!(
            sent(swapped)["CMD"],
            serde_json::json!([["EXEC", "http://s/a", "urn:x:1.0/i/Op"], ["DEFAULT", "http://s/c", "urn:x:1.0"]])
        );
        // A status failure after them names the setting.
        let k = builtin("status-codes", "codes = [202, 200]");
        let f = eval_with(&k, r#"{"Status":[{"sc":404},{"sc":200}]}"#, &cmds, &Profile::default()).unwrap_err();
        assert!(f.note.unwrap().contains("exec_parameter_order = \"client-uri-first\""));
    }

    #[test]
    fn get_data_accepts_another_extra_member() {
        let k = builtin("get-data", "index = 0\ncontains = \"1.0.0\"");
        assert!(
            eval(&k, r#"{"Status":[{"sc":200,"Data":[{"ClientURI":"u","MOData":{"FwV":"1.0.0"}}]}]}"#, None).is_ok()
        );
        assert!(eval(&k, r#"{"Status":[{"sc":200,"URI":["1.0.0"]}]}"#, None).is_err());
    }

    #[test]
    fn status_count_follows_the_package2_answered() {
        let p2 = vec![vec!["GET".to_string(), "u".to_string()], vec!["DELETE".into(), "v".into()]];
        let k = builtin("status-matches-commands", "");
        assert!(eval(&k, r#"{"Status":[{"sc":200},{"sc":405}]}"#, Some(&p2)).is_ok());
        let f = eval(&k, r#"{"Status":[{"sc":200}]}"#, Some(&p2)).unwrap_err();
        assert!(f.expected.contains("2 statuses") && f.expected.contains("GET, DELETE"), "{f:?}");
    }

    #[test]
    fn notification_id_placement_failure_says_it_follows_the_profile() {
        let k = builtin("session-alert", "type = \"server-initiated\"\nnotification_id = 4660");
        let ok = r#"{"Alert":[{"AlertType":"urn:oma:at:dm:2.0:ServerInitiatedMgmt","DataType":"int","Data":{"NOTIFICATION-ID":4660}}]}"#;
        assert!(eval(&k, ok, None).is_ok());
        let missing = r#"{"Alert":[{"AlertType":"urn:oma:at:dm:2.0:ServerInitiatedMgmt"}]}"#;
        let f = eval(&k, missing, None).unwrap_err();
        assert!(f.note.unwrap().contains("UNVERIFIED"));
    }

    #[test]
    fn get_data_is_read_from_the_profile_member() {
        let k = builtin("get-data", "index = 0\ncontains = \"1.0.0\"");
        let ok = r#"{"Status":[{"sc":200,"MOS":[{"ClientURI":"urn:x:1.0//FwV","MOData":{"FwV":"1.0.0"}}]}]}"#;
        assert!(eval(&k, ok, None).is_ok());
        assert!(eval(&k, r#"{"Status":[{"sc":200}]}"#, None).unwrap_err().note.unwrap().contains("get_data_member"));
    }

    #[test]
    fn generic_alerts_need_alerttype_known_mark_and_datatype_with_data() {
        let k = builtin("generic-alerts-valid", "");
        assert!(
            eval(&k, r#"{"Alert":[{"AlertType":"a","Mark":"minor","DataType":"int","Data":{"x":1}}]}"#, None).is_ok()
        );
        assert!(eval(&k, r#"{"Alert":[{"AlertType":"a","Data":{"x":1}}]}"#, None).is_err());
        assert!(eval(&k, r#"{"Alert":[{"AlertType":"a","Mark":"urgent"}]}"#, None).is_err());
        assert!(eval(&k, r#"{"Alert":[{"Mark":"minor"}]}"#, None).is_err());
    }

    #[test]
    fn json_checks_report_expected_and_actual() {
        let k = CheckKind::JsonOneOf { pointer: "/Status/0/sc".into(), values: vec![200.into(), 202.into()] };
        assert!(eval(&k, r#"{"Status":[{"sc":202}]}"#, None).is_ok());
        let f = eval(&k, r#"{"Status":[{"sc":500}]}"#, None).unwrap_err();
        assert_eq!(f.actual, "500");
        // Garbage instead of JSON is a failure with what arrived, never a panic.
        let f = eval(&CheckKind::JsonExists { pointer: "/a".into() }, "\u{0}not json", None).unwrap_err();
        assert_eq!(f.expected, "a JSON body");
    }

    fn notification(creds: &Credentials, order: crate::wire::dm2::profile::DigestOrder) -> Vec<u8> {
        let fields = NotificationFields {
            server_id: "srv".into(),
            preferred_con_type: Some(0),
            notification_id: Some(7),
            timestamp: None,
            req_mos: false,
            digest: true,
        };
        let profile = Profile { digest_order: order, ..Profile::default() };
        encode(&fields, Some(&super::super::wire_credentials(creds)), &profile, None)
    }

    #[test]
    fn session_addresses_only_the_listed_instances() {
        let k = builtin(
            "session-addresses-only",
            "instances = [\"urn:oma:mo:oma-dm-devinfo:1.0/d0/\", \"urn:oma:mo:oma-fumo:1.0/fw-2/\"]",
        );
        let judge = |commands: Value| {
            let record = serde_json::json!({ "commands": commands });
            let ctx = CheckCtx { last_commands: None, credentials: None, saved: None };
            evaluate(&k, &Observed::Json(&record), &ctx, &Dm2::default())
        };
        // Named, empty and wildcard instances of listed MOIDs; URIs that are not ClientURIs
        // (ServerURIs, DEFAULT's MOID) are not judged here; a malformed command neither.
        assert!(judge(serde_json::json!([
            ["GET", "urn:oma:mo:oma-fumo:1.0/fw-2/State"],
            ["GET", "urn:oma:mo:oma-dm-devinfo:1.0//FwV"],
            ["HPUT", "http://repo/x", "urn:oma:mo:oma-fumo:1.0/*/State"],
            ["HGET", "http://repo/y"],
            ["DEFAULT", "urn:oma:mo:other:1.0", "http://repo/z"],
            ["SHOW", "http://ui/"],
            ["CONT", "http://dm/2"],
            ["get", "urn:oma:mo:x:1.0/a/"],
            ["END"]
        ]))
        .is_ok());
        let f = judge(serde_json::json!([
            ["GET", "urn:oma:mo:oma-fumo:1.0/fw-main/State"],
            ["DELETE", "urn:oma:mo:other:1.0//"],
            ["EXEC", "urn:oma:mo:oma-fumo:1.0/fw-2/DownloadAndUpdate"]
        ]))
        .unwrap_err();
        assert_eq!(f.actual, "ClientURIs outside them: urn:oma:mo:oma-fumo:1.0/fw-main/State, urn:oma:mo:other:1.0//");
        // The instances are the case's: a root that is not "<MOID>/<MIID>/" is a case defect.
        let bad = builtin("session-addresses-only", "instances = [\"urn:oma:mo:oma-fumo:1.0//\"]");
        let record = serde_json::json!({ "commands": [] });
        let ctx = CheckCtx { last_commands: None, credentials: None, saved: None };
        assert!(evaluate(&bad, &Observed::Json(&record), &ctx, &Dm2::default()).unwrap_err().case_defect);
    }

    fn judge_notification(
        name: &str,
        args: &str,
        fields: &NotificationFields,
        profile: &Profile,
    ) -> Result<(), Failure> {
        let bytes = encode(fields, None, profile, None);
        let json = Value::Null;
        let obs = Observed::Notification { bytes: &bytes, json: &json };
        let ctx = CheckCtx { last_commands: None, credentials: None, saved: None };
        evaluate(&builtin(name, args), &obs, &ctx, &Dm2::new(profile.clone()))
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn notification_values_option_absent_id_differs_timestamp_fresh() {
        let p = Profile::default();
        let f = NotificationFields {
            server_id: "srv".into(),
            notification_id: Some(7),
            timestamp: Some(now()),
            ..NotificationFields::default()
        };
        assert!(judge_notification("notification-option-absent", "option = \"REQ-MOS\"", &f, &p).is_ok());
        let with_mos = NotificationFields { req_mos: true, ..f.clone() };
        let e = judge_notification("notification-option-absent", "option = \"REQ-MOS\"", &with_mos, &p).unwrap_err();
        assert!(e.actual.contains("REQ-MOS at byte"), "{e:?}");

        assert!(judge_notification("notification-id-differs", "other = 8", &f, &p).is_ok());
        let e = judge_notification("notification-id-differs", "other = 7", &f, &p).unwrap_err();
        assert_eq!(e.actual, "7");
        let no_id = NotificationFields { notification_id: None, ..f.clone() };
        assert!(judge_notification("notification-id-differs", "other = 7", &no_id, &p).is_err());

        assert!(judge_notification("notification-timestamp-fresh", "", &f, &p).is_ok());
        // Milliseconds (in 8 bytes) are far ahead; an hour ago is behind; both name the setting.
        let ms = Profile { timestamp_bytes: 8, ..Profile::default() };
        let ahead = NotificationFields { timestamp: Some(now() * 1000), ..f.clone() };
        let e = judge_notification("notification-timestamp-fresh", "", &ahead, &ms).unwrap_err();
        assert!(e.actual.contains("ahead of"), "{e:?}");
        assert!(e.note.unwrap().contains("timestamp_window_s = 300"));
        let old = NotificationFields { timestamp: Some(now() - 3600), ..f.clone() };
        let e = judge_notification("notification-timestamp-fresh", "", &old, &p).unwrap_err();
        assert!(e.actual.contains("behind"), "{e:?}");
        let wide = Profile { timestamp_window_s: 7200, ..Profile::default() };
        assert!(judge_notification("notification-timestamp-fresh", "", &old, &wide).is_ok());
        let none = NotificationFields { timestamp: None, ..f };
        assert!(judge_notification("notification-timestamp-fresh", "", &none, &p).is_err());
    }

    #[test]
    fn a_digest_failure_says_whether_the_order_or_the_credentials_are_at_fault() {
        use crate::wire::dm2::profile::DigestOrder;
        let creds = Credentials { secret: b"s".to_vec(), auth_data: b"a".to_vec() };
        let k = builtin("notification-digest-valid", "");
        let judge = |bytes: &[u8], creds: &Credentials| {
            let json = Value::Null;
            let obs = Observed::Notification { bytes, json: &json };
            evaluate(
                &k,
                &obs,
                &CheckCtx { last_commands: None, credentials: Some(creds), saved: None },
                &Dm2::default(),
            )
        };
        assert!(judge(&notification(&creds, DigestOrder::SecretMessageAuth), &creds).is_ok());
        let f = judge(&notification(&creds, DigestOrder::AuthMessageSecret), &creds).unwrap_err();
        assert!(f.note.unwrap().contains("only with the other input order"));
        let other = Credentials { secret: b"x".to_vec(), auth_data: b"y".to_vec() };
        let f = judge(&notification(&other, DigestOrder::SecretMessageAuth), &creds).unwrap_err();
        assert!(f.note.unwrap().contains("neither input order"));
    }

    #[test]
    fn a_server_package_is_read_in_the_profiles_parameter_order() {
        use crate::wire::dm2::profile::ExecParameterOrder;
        let k = builtin("command-present", "command = [\"EXEC\", \"urn:x:1.0//Op\", \"http://s/r\"]");
        let wire = r#"{"CMD":[["EXEC","http://s/r","urn:x:1.0//Op"]]}"#;
        let swapped = Profile { exec_parameter_order: ExecParameterOrder::ServerUriFirst, ..Profile::default() };
        assert!(eval_with(&k, wire, &[], &swapped).is_ok());
        let f = eval_with(&k, wire, &[], &Profile::default()).unwrap_err();
        assert!(f.note.unwrap().contains("exec_parameter_order"));
    }
}
