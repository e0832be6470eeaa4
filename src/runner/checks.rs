//! Evaluates checks against what a step observed.
use crate::catalog::check::CheckKind;
use crate::wire::dm2::notification::{option_name, Notification, NotificationCredentials};
use crate::wire::dm2::{self, Package1, Package2, Package3, Profile};
pub use crate::wire::media::{accepts, media_type_of};
use serde_json::Value;

/// What a check looks at.
pub enum Observed<'a> {
    /// An HTTP request (await) or response (send).
    Http {
        status: Option<u16>,
        method: Option<&'a str>,
        path: Option<&'a str>,
        headers: &'a [(String, String)],
        body: &'a [u8],
    },
    /// A notification from a server IUT.
    Notification { notification: &'a Notification, json: &'a Value },
    /// JSON data (an upper-tester answer, e.g. device.report).
    Json(&'a Value),
}

/// Context a built-in may need.
pub struct CheckCtx<'a> {
    pub profile: &'a Profile,
    /// The Package#2 command arrays the suite last sent (client IUT) or received (server IUT).
    pub last_package2: Option<&'a [Vec<String>]>,
    pub credentials: Option<&'a NotificationCredentials>,
}

/// Why a check failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub expected: String,
    pub actual: String,
    /// Extra wording, e.g. that the check follows an UNVERIFIED profile default.
    pub note: Option<String>,
}

fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Result<(), Failure> {
    Err(Failure { expected: expected.into(), actual: actual.into(), note: None })
}

/// When the Package#2 had commands whose status entry the digest leaves UNVERIFIED, say which
/// profile setting the check followed.
fn status_profile_note(cmds: &[Vec<String>], profile: &Profile) -> Option<String> {
    let doubtful = cmds.iter().filter_map(|c| c.first()).any(|n| matches!(n.as_str(), "CONT" | "SHOW" | "DEFAULT"));
    doubtful.then(|| {
        format!(
            "whether CONT, SHOW and DEFAULT receive status entries is UNVERIFIED in the spec digest; this check \
             follows profile setting commands_without_status = {:?}",
            profile.commands_without_status
        )
    })
}

/// Whether a JSON document has a leaf (string, number or boolean) equal to `want`.
fn json_has_leaf(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        Value::Bool(b) => b.to_string() == want,
        Value::Array(a) => a.iter().any(|x| json_has_leaf(x, want)),
        Value::Object(o) => o.values().any(|x| json_has_leaf(x, want)),
        Value::Null => false,
    }
}

/// A body for a failure message, cut at 300 characters.
fn show_body(body: &[u8]) -> String {
    let t = String::from_utf8_lossy(body);
    if t.is_empty() {
        return "an empty body".into();
    }
    let cut: String = t.chars().take(300).collect();
    if cut.len() < t.len() {
        format!("{cut}… ({} bytes)", body.len())
    } else {
        cut
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => crate::trace::truncate_marked(&v.to_string(), 300),
    }
}

/// Numbers compare by value (200 == 200.0); everything else structurally.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn body_json(body: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|e| Failure {
        expected: "a JSON body".into(),
        actual: format!("{} ({e})", crate::trace::body_for_trace(&body[..body.len().min(200)])),
        note: None,
    })
}

fn json_of(obs: &Observed) -> Result<Value, Failure> {
    match obs {
        Observed::Http { body, .. } => body_json(body),
        Observed::Notification { json, .. } => Ok((*json).clone()),
        Observed::Json(v) => Ok((*v).clone()),
    }
}

fn arg_str<'a>(args: &'a toml::Table, key: &str) -> Result<&'a str, Failure> {
    args.get(key).and_then(|v| v.as_str()).ok_or_else(|| Failure {
        expected: format!("argument {key:?} (a string) for this built-in check"),
        actual: "missing".into(),
        note: Some("this is a defect of the case, not of the IUT".into()),
    })
}

/// Evaluates a check; `args`-values of built-ins have already been rendered.
pub fn evaluate(kind: &CheckKind, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    match kind {
        CheckKind::Status { equals } => match obs {
            Observed::Http { status: Some(s), .. } if s == equals => Ok(()),
            Observed::Http { status: Some(s), .. } => fail(format!("HTTP status {equals}"), format!("HTTP status {s}")),
            _ => fail("an HTTP status", "no status was observed"),
        },
        CheckKind::Method { equals } => match obs {
            Observed::Http { method: Some(m), .. } if m.eq_ignore_ascii_case(equals) => Ok(()),
            Observed::Http { method: Some(m), .. } => fail(format!("HTTP method {equals}"), format!("HTTP method {m}")),
            _ => fail("an HTTP request", "no request"),
        },
        CheckKind::Path { equals } => match obs {
            Observed::Http { path: Some(p), .. } if p == equals => Ok(()),
            Observed::Http { path, .. } => fail(format!("path {equals}"), format!("path {}", path.unwrap_or("-"))),
            _ => fail("an HTTP request", "no request"),
        },
        CheckKind::HeaderPresent { header: h } | CheckKind::HeaderAbsent { header: h } => {
            let Observed::Http { headers, .. } = obs else { return fail("HTTP headers", "no HTTP message") };
            let present = header(headers, h);
            match (kind, present) {
                (CheckKind::HeaderPresent { .. }, None) => fail(format!("header {h}"), "header absent"),
                (CheckKind::HeaderAbsent { .. }, Some(v)) => fail(format!("no header {h}"), format!("{h}: {v}")),
                _ => Ok(()),
            }
        }
        CheckKind::HeaderEquals { header: h, value } => {
            let Observed::Http { headers, .. } = obs else { return fail("HTTP headers", "no HTTP message") };
            match header(headers, h) {
                Some(v) if v == value => Ok(()),
                Some(v) => fail(format!("{h}: {value}"), format!("{h}: {v}")),
                None => fail(format!("{h}: {value}"), format!("no {h} header")),
            }
        }
        CheckKind::MediaType { header: h, value } => {
            let Observed::Http { headers, .. } = obs else { return fail("HTTP headers", "no HTTP message") };
            match header(headers, h) {
                Some(v) if media_type_of(v) == media_type_of(value) => Ok(()),
                Some(v) => fail(format!("{h}: {value}"), format!("{h}: {v}")),
                None => fail(format!("{h}: {value}"), format!("no {h} header")),
            }
        }
        CheckKind::HeaderAccepts { header: h, value } => {
            let Observed::Http { headers, .. } = obs else { return fail("HTTP headers", "no HTTP message") };
            match header(headers, h) {
                Some(v) if accepts(v, value) => Ok(()),
                Some(v) => fail(format!("{h} admitting {value}"), format!("{h}: {v}")),
                None => fail(format!("{h} admitting {value}"), format!("no {h} header")),
            }
        }
        CheckKind::BodyEmpty {} => match obs {
            Observed::Http { body: &[], .. } => Ok(()),
            Observed::Http { body, .. } => fail("an empty body", crate::trace::body_for_trace(body)),
            _ => fail("an HTTP body", "no HTTP message"),
        },
        CheckKind::JsonExists { pointer } => {
            let j = json_of(obs)?;
            if j.pointer(pointer).is_some() {
                Ok(())
            } else {
                fail(format!("a value at {pointer}"), "nothing there")
            }
        }
        CheckKind::JsonAbsent { pointer } => {
            let j = json_of(obs)?;
            match j.pointer(pointer) {
                None => Ok(()),
                Some(v) => fail(format!("nothing at {pointer}"), show(Some(v))),
            }
        }
        CheckKind::JsonEquals { pointer, value } => {
            let j = json_of(obs)?;
            match j.pointer(pointer) {
                Some(v) if json_eq(v, value) => Ok(()),
                other => fail(format!("{pointer} = {value}"), format!("{pointer} = {}", show(other))),
            }
        }
        CheckKind::JsonMatches { pointer, regex } => {
            let j = json_of(obs)?;
            let re = regex::Regex::new(regex).map_err(|e| Failure {
                expected: "a valid regex".into(),
                actual: e.to_string(),
                note: None,
            })?;
            match j.pointer(pointer) {
                Some(Value::String(s)) if re.is_match(s) => Ok(()),
                other => fail(format!("{pointer} matching /{regex}/"), show(other)),
            }
        }
        CheckKind::JsonType { pointer, json_type } => {
            let j = json_of(obs)?;
            match j.pointer(pointer) {
                Some(v) if json_type.matches(v) => Ok(()),
                other => fail(format!("{pointer} of type {json_type:?}").to_lowercase(), show(other)),
            }
        }
        CheckKind::JsonLength { pointer, equals, min, max } => {
            let j = json_of(obs)?;
            let len = match j.pointer(pointer) {
                Some(Value::Array(a)) => a.len(),
                Some(Value::String(s)) => s.chars().count(),
                Some(Value::Object(o)) => o.len(),
                other => return fail(format!("an array at {pointer}"), show(other)),
            };
            let ok = equals.is_none_or(|e| len == e) && min.is_none_or(|m| len >= m) && max.is_none_or(|m| len <= m);
            if ok {
                Ok(())
            } else {
                let want = match (equals, min, max) {
                    (Some(e), _, _) => format!("length {e}"),
                    (None, Some(a), Some(b)) => format!("length {a}..={b}"),
                    (None, Some(a), None) => format!("length >= {a}"),
                    (None, None, Some(b)) => format!("length <= {b}"),
                    _ => "any length".into(),
                };
                fail(format!("{pointer} of {want}"), format!("length {len}"))
            }
        }
        CheckKind::JsonOneOf { pointer, values } => {
            let j = json_of(obs)?;
            match j.pointer(pointer) {
                Some(v) if values.iter().any(|w| json_eq(v, w)) => Ok(()),
                other => fail(format!("{pointer} one of {}", Value::Array(values.clone())), show(other)),
            }
        }
        CheckKind::JsonContains { pointer, item_pointer, value }
        | CheckKind::JsonNotContains { pointer, item_pointer, value } => {
            let j = json_of(obs)?;
            let arr = j.pointer(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
            let found = arr.iter().any(|e| e.pointer(item_pointer).is_some_and(|v| json_eq(v, value)));
            match (kind, found) {
                (CheckKind::JsonContains { .. }, false) => {
                    fail(format!("an element of {pointer} with {item_pointer} = {value}"), show(j.pointer(pointer)))
                }
                (CheckKind::JsonNotContains { .. }, true) => {
                    fail(format!("no element of {pointer} with {item_pointer} = {value}"), show(j.pointer(pointer)))
                }
                _ => Ok(()),
            }
        }
        CheckKind::Builtin { name, args } => builtin(name, args, obs, ctx),
    }
}

fn body_of<'a>(obs: &'a Observed) -> Result<&'a [u8], Failure> {
    match obs {
        Observed::Http { body, .. } => Ok(body),
        _ => Err(Failure { expected: "an HTTP body".into(), actual: "no HTTP message".into(), note: None }),
    }
}

fn wire_fail(what: &str, e: dm2::WireError) -> Failure {
    Failure {
        expected: format!("{what}: at {} {}", if e.pointer.is_empty() { "/" } else { &e.pointer }, e.expected),
        actual: e.found,
        note: None,
    }
}

fn alerts_of(j: &Value) -> Vec<Value> {
    j.get("Alert").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn builtin(name: &str, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    match name {
        "package1-valid" => Package1::parse(body_of(obs)?).map(|_| ()).map_err(|e| wire_fail("a Package#1", e)),
        "package2-valid" => Package2::parse(body_of(obs)?).map(|_| ()).map_err(|e| wire_fail("a Package#2", e)),
        "package3-valid" => Package3::parse(body_of(obs)?).map(|_| ()).map_err(|e| wire_fail("a Package#3", e)),
        "status-matches-commands" => {
            let p3 = Package3::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#3", e))?;
            let Some(cmds) = ctx.last_package2 else {
                return fail("a Package#2 sent earlier in this case", "none (case defect)");
            };
            let statused =
                cmds.iter().filter(|c| ctx.profile.has_status(c.first().map(String::as_str).unwrap_or(""))).count();
            if p3.status.len() == statused {
                Ok(())
            } else {
                let names: Vec<&str> = cmds.iter().filter_map(|c| c.first().map(String::as_str)).collect();
                Err(Failure {
                    expected: format!("{statused} statuses, one per command of Package#2 [{}]", names.join(", ")),
                    actual: format!(
                        "{} statuses: {:?}",
                        p3.status.len(),
                        p3.status.iter().map(|s| s.sc).collect::<Vec<_>>()
                    ),
                    note: status_profile_note(cmds, ctx.profile),
                })
            }
        }
        "status-codes" => {
            let j = json_of(obs)?;
            let mut want = args.get("codes").and_then(|v| v.as_array()).cloned().unwrap_or_default();
            // Codes are written one per command of the Package#2 (END excluded); a profile that
            // gives some commands no status drops their positions.
            if let Some(cmds) = ctx.last_package2 {
                let named: Vec<&str> =
                    cmds.iter().filter_map(|c| c.first().map(String::as_str)).filter(|n| *n != "END").collect();
                if named.len() == want.len() {
                    want = want
                        .into_iter()
                        .zip(named)
                        .filter(|(_, n)| ctx.profile.has_status(n))
                        .map(|(w, _)| w)
                        .collect();
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
                Ok(())
            } else {
                Err(Failure {
                    expected: format!("status codes [{}]", render_want.join(", ")),
                    actual: format!("{}", Value::Array(got)),
                    note: ctx.last_package2.and_then(|c| status_profile_note(c, ctx.profile)),
                })
            }
        }
        "session-alert" => {
            let j = json_of(obs)?;
            let kind = arg_str(args, "type")?;
            let at = match kind {
                "server-initiated" => dm2::ALERT_SERVER_INITIATED,
                "client-initiated" => dm2::ALERT_CLIENT_INITIATED,
                "bootstrap-complete" => dm2::ALERT_BOOTSTRAP_COMPLETE,
                other => return fail("type = server-initiated|client-initiated|bootstrap-complete", other.to_string()),
            };
            let alerts = alerts_of(&j);
            let Some(a) = alerts.iter().find(|a| a.get("AlertType").and_then(Value::as_str) == Some(at)) else {
                let types: Vec<String> =
                    alerts.iter().map(|a| a.get("AlertType").map(|t| t.to_string()).unwrap_or("-".into())).collect();
                return fail(format!("an alert {at}"), format!("alert types [{}]", types.join(", ")));
            };
            if let Some(id) = args.get("notification_id") {
                let want = id.as_integer().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
                let key = &ctx.profile.notification_id_key;
                let got = a.get("Data").and_then(|d| d.get(key.as_str())).and_then(Value::as_i64);
                if want.is_none() || got != want {
                    return Err(Failure {
                        expected: format!("Data.{key} = {}", want.map(|w| w.to_string()).unwrap_or("?".into())),
                        actual: format!("Data = {}", show(a.get("Data"))),
                        note: Some(format!(
                            "the placement of NOTIFICATION-ID in the alert is UNVERIFIED in the spec digest; this \
                             check follows profile setting notification_id_key = {key:?}"
                        )),
                    });
                }
            }
            Ok(())
        }
        "mos-present" => {
            let p1 = Package1::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#1", e))?;
            match p1.mos {
                Some(m) if !m.is_empty() => Ok(()),
                Some(_) => fail("a non-empty MOS array", "an empty MOS array"),
                None => fail("a MOS array (REQ-MOS was in the notification)", "no MOS member"),
            }
        }
        "generic-alerts-valid" => {
            let j = json_of(obs)?;
            for (i, a) in alerts_of(&j).iter().enumerate() {
                dm2::GenericAlert::from_value(a, &format!("/Alert/{i}")).map_err(|e| wire_fail("Generic Alerts", e))?;
                if let Some(m) = a.get("Mark") {
                    if !m.as_str().is_some_and(|m| dm2::MARK_VALUES.contains(&m)) {
                        return fail(format!("/Alert/{i}/Mark one of {}", dm2::MARK_VALUES.join(", ")), m.to_string());
                    }
                }
            }
            Ok(())
        }
        "get-data" => {
            let j = json_of(obs)?;
            let index = args.get("index").and_then(|v| v.as_integer()).unwrap_or(0);
            let member = &ctx.profile.get_data_member;
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
                return Err(Failure {
                    expected: format!("/Status/{index}/{member} (or another extra member) carrying the GET data"),
                    actual: format!("/Status/{index} = {}", show(entry)),
                    note: Some(note),
                });
            };
            if let Some(want) = args.get("contains").and_then(|v| v.as_str()) {
                let mo_data: Vec<&Value> = match data {
                    Value::Array(a) => a.iter().filter_map(|e| e.get("MOData")).collect(),
                    other => vec![other],
                };
                if !mo_data.iter().any(|d| json_has_leaf(d, want)) {
                    return Err(Failure {
                        expected: format!("GET data containing the value {want:?}"),
                        actual: show(Some(data)),
                        note: Some(note),
                    });
                }
            }
            Ok(())
        }
        "alert-present" => {
            let j = json_of(obs)?;
            let at = arg_str(args, "alert_type")?;
            let src = args.get("source_uri").and_then(|v| v.as_str());
            let alerts = alerts_of(&j);
            let found = alerts.iter().any(|a| {
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
        }
        "client-uri-well-formed" => {
            let j = json_of(obs)?;
            let p = arg_str(args, "pointer")?;
            match j.pointer(p).and_then(Value::as_str) {
                Some(s) => match dm2::client_uri::ClientUri::parse(s) {
                    Ok(_) => Ok(()),
                    Err(e) => fail(format!("a well-formed ClientURI at {p}"), format!("{s:?}: {e}")),
                },
                None => fail(format!("a ClientURI string at {p}"), show(j.pointer(p))),
            }
        }
        "mo-serialization-valid" => {
            let note = "the HPUT/HPOST body format is UNVERIFIED in the spec digest (§8.2: presumably the MO \
                        serialization of §13.4, one element per ClientURI); this check follows that default"
                .to_string();
            let items = dm2::mo::parse_serialization(body_of(obs)?)
                .map_err(|e| Failure { note: Some(note.clone()), ..wire_fail("an MO serialization", e) })?;
            if items.is_empty() {
                return Err(Failure {
                    expected: "an MO serialization with one element per ClientURI".into(),
                    actual: "an empty array".into(),
                    note: Some(note),
                });
            }
            Ok(())
        }
        "body-contains" => {
            // Format-agnostic on purpose: a JSON body is searched leaf by leaf, anything else as text.
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
        }
        "command-present" => {
            let p2 = Package2::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#2", e))?;
            let want: Vec<String> = args
                .get("command")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect())
                .unwrap_or_default();
            let arrays: Vec<Vec<String>> = p2.cmd.iter().map(|c| c.to_array()).collect();
            if arrays.contains(&want) {
                Ok(())
            } else {
                fail(format!("command {want:?} in Package#2"), format!("{arrays:?}"))
            }
        }
        "command-order" => {
            let p2 = Package2::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#2", e))?;
            let want: Vec<String> = args
                .get("names")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect())
                .unwrap_or_default();
            let got: Vec<&str> = p2.cmd.iter().map(|c| c.name()).collect();
            let mut it = got.iter();
            if want.iter().all(|w| it.any(|g| g == w)) {
                Ok(())
            } else {
                fail(format!("commands in order {want:?}"), format!("{got:?}"))
            }
        }
        "package2-ends-session" => {
            let p2 = Package2::parse(body_of(obs)?).map_err(|e| wire_fail("a Package#2", e))?;
            if p2.cmd.iter().any(|c| matches!(c, dm2::Command::End)) {
                Ok(())
            } else {
                fail("END in Package#2", format!("{:?}", p2.cmd.iter().map(|c| c.name()).collect::<Vec<_>>()))
            }
        }
        "notification-conformant" => {
            let Observed::Notification { notification, .. } = obs else {
                return fail("a notification", "none");
            };
            let item = arg_str(args, "item")?;
            let problems: Vec<String> = notification
                .problems(ctx.profile)
                .into_iter()
                .filter(|p| p.item == item)
                .map(|p| format!("byte {}: {}", p.offset, p.message))
                .collect();
            if problems.is_empty() {
                Ok(())
            } else {
                fail(format!("a notification conformant to {item}"), problems.join("; "))
            }
        }
        "notification-option-present" => {
            let Observed::Notification { notification, .. } = obs else {
                return fail("a notification", "none");
            };
            let opt = arg_str(args, "option")?;
            if notification.options.iter().any(|o| option_name(o.number) == opt) {
                Ok(())
            } else {
                let names: Vec<&str> = notification.options.iter().map(|o| option_name(o.number)).collect();
                fail(format!("option {opt}"), format!("options [{}]", names.join(", ")))
            }
        }
        "notification-digest-valid" => {
            let Observed::Notification { notification, .. } = obs else {
                return fail("a notification", "none");
            };
            let Some(creds) = ctx.credentials else {
                return fail("notification credentials in the PIXIT", "none configured");
            };
            match notification.verify_digest(creds, ctx.profile.digest_order) {
                Some(true) => Ok(()),
                Some(false) => Err(Failure {
                    expected: "a SHA256-DIGEST that verifies with the registered secret and auth data".into(),
                    actual: "the digest does not verify".into(),
                    note: Some(format!(
                        "the digest input order is UNVERIFIED in the spec digest; this check follows profile setting \
                         digest_order = {:?}",
                        ctx.profile.digest_order
                    )),
                }),
                None => fail("a 32-byte SHA256-DIGEST option", "no digest option"),
            }
        }
        "report-statuses" => {
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
                fail(format!("a recorded Package#3 with statuses {want:?}"), show(j.get("statuses")))
            }
        }
        other => fail("a known built-in check", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(body: &str) -> (Vec<(String, String)>, Vec<u8>) {
        (vec![("Content-Type".into(), "application/json".into())], body.as_bytes().to_vec())
    }

    fn eval(kind: &CheckKind, body: &str, last_p2: Option<&[Vec<String>]>) -> Result<(), Failure> {
        let (headers, body) = http(body);
        let profile = Profile::default();
        let obs =
            Observed::Http { status: Some(200), method: Some("POST"), path: Some(""), headers: &headers, body: &body };
        evaluate(kind, &obs, &CheckCtx { profile: &profile, last_package2: last_p2, credentials: None })
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
        evaluate(kind, &obs, &CheckCtx { profile, last_package2: Some(p2), credentials: None })
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
}
