//! The DM 2.0 built-in checks of the FUMO table (scr/fumo/fumo.toml; enablers digest §2): the
//! result alert of a FUMO operation (present, its type, its source, its ResultCode), the State
//! read back from the tree, and the DLOTA status report. Each judges one item, so a case can
//! charge each failure to the item it violates. Where a check follows an UNVERIFIED profile
//! setting (`fumo_*`), its failure says so.
use super::checks::{alerts_of, is_session_alert};
use super::Dm2;
use crate::runner::checks::{
    arg, arg_str, body_of, json_of, opt_arg, show, ArgKind, CheckCtx, CheckDef, Failure, Observed,
};
use crate::wire::dm2::fumo::{self, Operation, Outcome, StatusReport};
use crate::wire::dm2::Profile;
use serde_json::Value;

/// The Generic Alerts (not session alerts) of this message and of the message saved as
/// `args.earlier`.
fn reports(args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Value>, Failure> {
    let mut alerts = Vec::new();
    if let Some(name) = args.get("earlier").and_then(|v| v.as_str()) {
        let Some(saved) = ctx.saved.and_then(|s| s.get(name)) else {
            return Err(Failure::case_defect(format!("a message saved earlier as {name:?} (save_as)")));
        };
        alerts.extend(alerts_of(saved.get("body").unwrap_or(saved)));
    }
    if let Ok(j) = json_of(obs) {
        alerts.extend(alerts_of(&j));
    }
    Ok(alerts.into_iter().filter(|a| !is_session_alert(a)).collect())
}

/// The MOID and MIID of a ClientURI (`MOID/MIID/path`).
fn instance_of(uri: &str) -> (&str, &str) {
    let mut it = uri.splitn(3, '/');
    (it.next().unwrap_or(""), it.next().unwrap_or(""))
}

fn is_fumo_type(t: &str, p: &Profile) -> bool {
    Operation::from_alert_type(t, p).is_some()
}

/// The alerts that report a FUMO operation: a FUMO alert type (profile), or a SourceURI in a
/// FUMO MO.
fn fumo_reports(alerts: &[Value], p: &Profile) -> Vec<Value> {
    alerts
        .iter()
        .filter(|a| {
            a.get("AlertType").and_then(Value::as_str).is_some_and(|t| is_fumo_type(t, p))
                || a.get("SourceURI").and_then(Value::as_str).is_some_and(|s| instance_of(s).0 == fumo::MOID_FUMO)
        })
        .cloned()
        .collect()
}

fn type_note(p: &Profile) -> String {
    format!(
        "the DM 2.0 AlertType of a FUMO result is UNVERIFIED (digest §2.8): this check follows profile settings \
         fumo_alert_type_download = {:?}, fumo_alert_type_update = {:?}, fumo_alert_type_download_and_update = {:?}",
        p.fumo_alert_type_download, p.fumo_alert_type_update, p.fumo_alert_type_download_and_update
    )
}

fn operation_arg(args: &toml::Table) -> Result<Operation, Failure> {
    let name = arg_str(args, "operation")?;
    Operation::from_node(name).ok_or_else(|| {
        Failure::case_defect(format!("operation = Download | Update | DownloadAndUpdate (found {name:?})"))
    })
}

fn shown(alerts: &[Value]) -> String {
    if alerts.is_empty() {
        return "no Generic Alert but session alerts".into();
    }
    alerts.iter().map(|a| show(Some(a))).collect::<Vec<_>>().join(", ")
}

/// The State value in an uploaded body: the first `State` member anywhere (MO serialization or
/// bare MOData), as a number.
fn state_in(v: &Value) -> Option<i64> {
    match v {
        Value::Object(o) => {
            if let Some(s) = o.get("State") {
                return s.as_i64().or_else(|| s.as_str().and_then(|t| t.trim().parse().ok()));
            }
            o.values().find_map(state_in)
        }
        Value::Array(a) => a.iter().find_map(state_in),
        _ => None,
    }
}

fn outcome_arg(args: &toml::Table) -> Result<Outcome, Failure> {
    let name = arg_str(args, "outcome")?;
    serde_json::from_value(Value::String(name.into())).map_err(|_| {
        Failure::case_defect(format!(
            "outcome = updated | update-failed | download-failed | downloaded | delivered (found {name:?})"
        ))
    })
}

pub const CHECKS: &[CheckDef<Dm2>] = &[
    CheckDef {
        name: "fumo-result-present",
        about: "a Generic Alert reporting a FUMO operation (a FUMO alert type per profile fumo_alert_type_*, or a \
                SourceURI in the FUMO MO) is in this package or the one saved as args.earlier",
        args: &[opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let alerts = reports(args, obs, ctx)?;
            if !fumo_reports(&alerts, &b.profile).is_empty() {
                return Ok(());
            }
            Err(Failure::new("a Generic Alert reporting the FUMO operation's result", shown(&alerts))
                .with_note(type_note(&b.profile)))
        },
    },
    CheckDef {
        name: "fumo-result-type",
        about: "args.operation (Download | Update | DownloadAndUpdate): the FUMO result alert has that operation's \
                alert type (profile fumo_alert_type_*, UNVERIFIED)",
        args: &[arg("operation", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let op = operation_arg(args)?;
            let p = &b.profile;
            let found = fumo_reports(&reports(args, obs, ctx)?, p);
            let want = op.alert_type(p);
            if found.iter().any(|a| a.get("AlertType").and_then(Value::as_str) == Some(want)) {
                return Ok(());
            }
            let types: Vec<String> = found.iter().map(|a| show(a.get("AlertType"))).collect();
            Err(Failure::new(
                format!("a result alert of type {want:?} ({op})"),
                format!("types [{}]", types.join(", ")),
            )
            .with_note(type_note(p)))
        },
    },
    CheckDef {
        name: "fumo-result-source",
        about: "args.client_uri (the EXEC'd operation node): the FUMO result alert's SourceURI lies in the same FUMO \
                instance (the instance <x> or the operation node; digest §2.5.2)",
        args: &[arg("client_uri", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let uri = arg_str(args, "client_uri")?;
            let (moid, miid) = instance_of(uri);
            let found = fumo_reports(&reports(args, obs, ctx)?, &b.profile);
            let fits = |s: &str| {
                let (m, i) = instance_of(s);
                m == moid && (miid.is_empty() || i == miid || i.is_empty())
            };
            if found.iter().filter_map(|a| a.get("SourceURI").and_then(Value::as_str)).any(fits) {
                return Ok(());
            }
            let sources: Vec<String> = found.iter().map(|a| show(a.get("SourceURI"))).collect();
            let all = reports(args, obs, ctx)?;
            let others: Vec<String> = all.iter().map(|a| show(a.get("SourceURI"))).collect();
            Err(Failure::new(
                format!("a result alert whose SourceURI is in the FUMO instance of {uri}"),
                format!(
                    "FUMO alerts with SourceURI [{}]; all alerts' SourceURIs [{}]",
                    sources.join(", "),
                    others.join(", ")
                ),
            ))
        },
    },
    CheckDef {
        name: "fumo-result-code",
        about: "the FUMO result alert's Data carries an integer ResultCode of the table (digest §2.6) under profile \
                fumo_result_code_member (UNVERIFIED; empty: Data itself); args.expect: success (2xx) | failure \
                (4xx/5xx) | a code",
        args: &[opt_arg("expect", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let p = &b.profile;
            let found = fumo_reports(&reports(args, obs, ctx)?, p);
            let note = format!(
                "where Data carries the ResultCode in DM 2.0 is UNVERIFIED (digest §2.8): this check follows profile \
                 setting fumo_result_code_member = {:?}",
                p.fumo_result_code_member
            );
            let codes: Vec<Option<i64>> = found.iter().map(|a| fumo::result_code_of(a.get("Data"), p)).collect();
            let Some(code) = codes.iter().flatten().copied().next() else {
                let datas: Vec<String> = found.iter().map(|a| show(a.get("Data"))).collect();
                return Err(Failure::new(
                    "an integer ResultCode in the result alert's Data",
                    format!("Data [{}]", datas.join(", ")),
                )
                .with_note(note));
            };
            if !fumo::is_result_code(code) {
                return Err(Failure::new(
                    "a ResultCode of the FUMO table (200, 250-299, 400-412, 450-503, 550-599)",
                    code.to_string(),
                ));
            }
            let want = args.get("expect").and_then(|v| v.as_str()).unwrap_or("");
            let ok = match want {
                "" => true,
                "success" => fumo::is_success(code),
                "failure" => !fumo::is_success(code),
                n => n.parse::<i64>().ok() == Some(code),
            };
            if ok {
                Ok(())
            } else {
                Err(Failure::new(format!("ResultCode: {want}"), code.to_string()))
            }
        },
    },
    CheckDef {
        name: "fumo-state",
        about: "args.outcome (updated | update-failed | download-failed | downloaded | delivered): the State in this \
                uploaded body is one the outcome allows (digest §2.3: updated 90/100/10, update-failed 70/80/10, \
                download-failed 20/10, downloaded 50/40/10, delivered 50)",
        args: &[arg("outcome", ArgKind::Str)],
        run: |_, args, obs, _| {
            let outcome = outcome_arg(args)?;
            let j = json_of(obs)?;
            let Some(s) = state_in(&j) else {
                return Err(Failure::new("an uploaded State value", show(Some(&j))));
            };
            if outcome.states().iter().any(|v| i64::from(*v) == s) {
                return Ok(());
            }
            Err(Failure::new(format!("State one of {:?}", outcome.states()), format!("State {s}")))
        },
    },
    CheckDef {
        name: "fumo-state-agrees",
        about: "args.messages names the messages saved earlier that may carry the FUMO result alert: the State in \
                this uploaded body does not contradict its ResultCode (success: not 20, 70 or 80; failure: not 90 or \
                100)",
        args: &[arg("messages", ArgKind::StrList)],
        run: |b, args, obs, ctx| {
            let p = &b.profile;
            let mut alerts: Vec<Value> = Vec::new();
            for name in args.get("messages").and_then(|v| v.as_array()).into_iter().flatten().filter_map(|v| v.as_str())
            {
                let Some(saved) = ctx.saved.and_then(|s| s.get(name)) else {
                    return Err(Failure::case_defect(format!("a message saved earlier as {name:?} (save_as)")));
                };
                alerts
                    .extend(alerts_of(saved.get("body").unwrap_or(saved)).into_iter().filter(|a| !is_session_alert(a)));
            }
            // Without a readable ResultCode there is nothing to agree with (judged elsewhere).
            let Some(code) = fumo_reports(&alerts, p).iter().find_map(|a| fumo::result_code_of(a.get("Data"), p))
            else {
                return Ok(());
            };
            let j = json_of(obs)?;
            let Some(s) = state_in(&j) else {
                return Err(Failure::new("an uploaded State value", show(Some(&j))));
            };
            let contradicts = if fumo::is_success(code) { [20, 70, 80].contains(&s) } else { [90, 100].contains(&s) };
            if contradicts {
                return Err(Failure::new(format!("a State that agrees with ResultCode {code}"), format!("State {s}")));
            }
            Ok(())
        },
    },
    CheckDef {
        name: "dlota-status-report",
        about: "the body is a DLOTA status report: a 3-digit status code of DLOTA 1.0 (900-954) and a reason phrase \
                (digest §5.3); args.expect: success (900) | failure (any other) | a code. With args.descriptor, on a \
                download-server step: the report POSTed to that descriptor's installNotifyURI (the first one)",
        args: &[opt_arg("expect", ArgKind::Str), opt_arg("descriptor", ArgKind::Str)],
        run: |_, args, obs, _| {
            let logged;
            let body = match args.get("descriptor").and_then(|v| v.as_str()) {
                Some(d) => {
                    let log = json_of(obs)?;
                    let reports = log.get("reports").and_then(Value::as_array).cloned().unwrap_or_default();
                    let Some(r) = reports.iter().find(|r| r.get("descriptor").and_then(Value::as_str) == Some(d))
                    else {
                        return Err(Failure::new(
                            format!("a status report POSTed to the installNotifyURI of {d}"),
                            format!("{} report(s), none for {d}", reports.len()),
                        ));
                    };
                    logged = r.get("body").and_then(Value::as_str).unwrap_or_default().as_bytes().to_vec();
                    &logged[..]
                }
                None => body_of(obs)?,
            };
            let r = StatusReport::parse(body)
                .map_err(|e| Failure::new("a DLOTA status report (e.g. \"900 Success\")", e))?;
            if !r.known {
                return Err(Failure::new("a DLOTA 1.0 status code (900-903, 905, 906, 951-954)", r.code.to_string()));
            }
            let want = args.get("expect").and_then(|v| v.as_str()).unwrap_or("");
            let ok = match want {
                "" => true,
                "success" => r.code == 900,
                "failure" => r.code != 900,
                n => n.parse::<u16>().ok() == Some(r.code),
            };
            if ok {
                Ok(())
            } else {
                Err(Failure::new(format!("status: {want}"), format!("{} {}", r.code, r.phrase)))
            }
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_found_in_any_upload_shape() {
        let ser: Value = serde_json::json!([{"ClientURI": "u", "MOData": {"State": "50"}}]);
        assert_eq!(state_in(&ser), Some(50));
        assert_eq!(state_in(&serde_json::json!([{"State": 100}])), Some(100));
        assert_eq!(state_in(&serde_json::json!([{"X": 1}])), None);
        assert_eq!(instance_of("urn:oma:mo:oma-fumo:1.0//DownloadAndUpdate"), ("urn:oma:mo:oma-fumo:1.0", ""));
    }
}
