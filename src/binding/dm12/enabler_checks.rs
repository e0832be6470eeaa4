//! The DM 1.2 built-in checks of the FUMO and SCOMO tables (scr/fumo, scr/scomo; enablers
//! digest §1.2, §2.5, §3.4): the result of an Exec'd operation comes as a Generic Alert 1226
//! whose Item carries the alert type in Meta Type, the MO in Source and the ResultCode in Data
//! (digest §2.5.2); the State a Get reads back. Each check judges one item, so a case charges
//! each failure to the item it violates. What is protocol-neutral — the FUMO operations and
//! their alert types, the ResultCode tables, which States agree with an outcome — comes from
//! [`crate::wire::dm2::fumo`] and [`crate::wire::dm2::scomo`], shared with DM 2.0.
use super::checks::{all_commands, answered, message, saved_message};
use super::Dm12;
use crate::runner::checks::{arg, arg_str, opt_arg, ArgKind, CheckCtx, CheckDef, Failure, Observed};
use crate::wire::dm12::{json::message_json, Command};
use crate::wire::dm2::fumo::{self, Operation, Outcome};
use crate::wire::dm2::scomo;
use serde_json::Value;

/// One reported result: an Item of a Generic Alert, with its Alert's Correlator.
#[derive(Debug, Clone)]
struct Report {
    correlator: Option<String>,
    source: Option<String>,
    target: Option<String>,
    r#type: Option<String>,
    format: Option<String>,
    data: Option<String>,
}

impl Report {
    fn shown(&self) -> String {
        format!(
            "{{Type {:?}, Source {:?}, Target {:?}, Format {:?}, Data {:?}, Correlator {:?}}}",
            self.r#type, self.source, self.target, self.format, self.data, self.correlator
        )
    }
}

/// The Generic Alert Items of the observed message and of the message saved as `args.earlier`
/// (a result may come in the new session's Package#1 or Package#3, digest §2.5.2).
fn reports(args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Report>, Failure> {
    let mut views = Vec::new();
    if let Some(name) = args.get("earlier").and_then(|v| v.as_str()) {
        views.push(saved_message(ctx, name)?);
    }
    if let Ok((m, enc)) = message(obs) {
        views.push(message_json(&m, enc));
    }
    let s = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    for v in &views {
        for a in v.get("Commands").and_then(Value::as_array).into_iter().flatten() {
            if a.get("element").and_then(Value::as_str) != Some("Alert")
                || a.get("Data").and_then(Value::as_str).map(str::trim) != Some("1226")
            {
                continue;
            }
            for i in a.get("Items").and_then(Value::as_array).into_iter().flatten() {
                out.push(Report {
                    correlator: s(a, "/Correlator"),
                    source: s(i, "/Source"),
                    target: s(i, "/Target"),
                    r#type: s(i, "/Meta/Type"),
                    format: s(i, "/Meta/Format"),
                    data: s(i, "/Data"),
                });
            }
        }
    }
    Ok(out)
}

fn shown(rs: &[Report]) -> String {
    if rs.is_empty() {
        return "no Generic Alert (Alert 1226)".into();
    }
    rs.iter().map(Report::shown).collect::<Vec<_>>().join(", ")
}

/// `node` is `root` or lies below it (URIs compared without a `./` prefix or a trailing `/`).
fn within(node: &str, root: &str) -> bool {
    let norm = |u: &str| u.trim().trim_start_matches("./").trim_end_matches('/').to_string();
    let (n, r) = (norm(node), norm(root));
    n == r || n.starts_with(&format!("{r}/"))
}

/// The FUMO operation a Meta Type names: the bare FUMO string, or (profile
/// `fumo_type_prefix_allowed`) with DM-Pro's `Reversed-Domain-Name:` prefix.
fn fumo_operation(t: &str, b: &Dm12) -> Option<Operation> {
    let t = t.trim();
    let bare = match t.strip_prefix("Reversed-Domain-Name:") {
        Some(rest) if b.profile.fumo_type_prefix_allowed => rest.trim(),
        Some(_) => return None,
        None => t,
    };
    Operation::from_oma_alert_type(bare)
}

/// The reports of a FUMO operation: a FUMO alert type, or a Source inside `args.instance`.
fn fumo_reports(b: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Report>, Failure> {
    let instance = args.get("instance").and_then(|v| v.as_str());
    Ok(reports(args, obs, ctx)?
        .into_iter()
        .filter(|r| {
            r.r#type.as_deref().is_some_and(|t| fumo_operation(t, b).is_some())
                || r.source.as_deref().zip(instance).is_some_and(|(s, i)| within(s, i))
        })
        .collect())
}

fn type_note(b: &Dm12) -> String {
    format!(
        "FUMO's alert types are the bare strings of FUMO-TS §10.2.2.2 (digest §2.5.1); the prefixed form \
         \"Reversed-Domain-Name: ...\" is accepted only with profile setting dm12.fumo_type_prefix_allowed = true \
         (now {})",
        b.profile.fumo_type_prefix_allowed
    )
}

fn operation_arg(args: &toml::Table) -> Result<Operation, Failure> {
    let name = arg_str(args, "operation")?;
    Operation::from_node(name).ok_or_else(|| {
        Failure::case_defect(format!("operation = Download | Update | DownloadAndUpdate (found {name:?})"))
    })
}

fn expect_holds(want: &str, code: i64, success: bool) -> bool {
    match want {
        "" => true,
        "success" => success,
        "failure" => !success,
        n => n.parse::<i64>().ok() == Some(code),
    }
}

/// The Data of the Results answering the suite's Get of `target`.
fn results_data(b: &Dm12, target: &str, obs: &Observed) -> Result<String, Failure> {
    let (m, _) = message(obs)?;
    let a = answered(b, obs)?;
    let Some(get) = all_commands(&a.body.commands).into_iter().find(|c| {
        matches!(c, Command::Get(g) if g.items.iter().any(|i| i.target.as_ref().is_some_and(|l| l.loc_uri == target)))
    }) else {
        return Err(Failure::case_defect(format!("a Get of {target} in the suite's message")));
    };
    let id = get.cmd_id().unwrap_or("");
    m.body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Results(r) if r.cmd_ref == id => r
                .items
                .iter()
                .find(|i| i.source.as_ref().is_none_or(|l| crate::wire::dm12::same_node(&l.loc_uri, target)))
                .and_then(|i| i.data.as_ref())
                .map(|d| String::from_utf8_lossy(d.bytes()).trim().to_string()),
            _ => None,
        })
        .ok_or_else(|| Failure::new(format!("Results with the value of {target} (CmdRef {id})"), "no such Results"))
}

/// The SCOMO ResultCode in a result's Data: `<ResultCode>NNNN</ResultCode>` (digest §3.4).
fn scomo_code(data: &str) -> Option<u16> {
    let start = data.find("<ResultCode>")? + "<ResultCode>".len();
    let end = start + data[start..].find("</ResultCode>")?;
    data[start..end].trim().parse().ok()
}

fn scomo_reports(b: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Report>, Failure> {
    let want = b.profile.scomo_alert_type.as_str();
    let source = args.get("source").and_then(|v| v.as_str());
    Ok(reports(args, obs, ctx)?
        .into_iter()
        .filter(|r| r.r#type.as_deref() == Some(want) || r.source.as_deref().zip(source).is_some_and(|(s, w)| s == w))
        .collect())
}

/// The commands of the session record (`finish-session`), in the order they came, as command
/// arrays (`["Exec", target, data, correlator]`, docs/dm12.md).
fn session_commands(obs: &Observed) -> Result<Vec<Vec<String>>, Failure> {
    Ok(crate::binding::dm2::checks::session_packages(obs)?.into_iter().flatten().collect())
}

/// The first command of the session of element `w[0]` whose target is `w[1]` (`*` any
/// element, any target; `Add|Replace` either element).
fn position(cmds: &[Vec<String>], w: &[String]) -> Option<usize> {
    let element = |c: &Vec<String>| match w.first().map(String::as_str) {
        Some("*") => true,
        Some(e) => c.first().is_some_and(|g| e.split('|').any(|x| x == g)),
        None => false,
    };
    cmds.iter().position(|c| element(c) && w.get(1).is_none_or(|t| t == "*" || c.get(1).is_some_and(|g| g == t)))
}

pub static CHECKS: &[CheckDef<Dm12>] = &[
    CheckDef {
        name: "dm12-node-gone",
        about: "the suite's Get of args.target shows no value: no Results carry Data for it (404, or an empty \
                Results): a read-back of what was removed",
        args: &[arg("target", ArgKind::Str)],
        run: |b, args, obs, _| {
            let target = arg_str(args, "target")?;
            match results_data(b, target, obs) {
                Ok(v) if !v.is_empty() => {
                    Err(Failure::new(format!("{target} gone (404, or no value)"), format!("Results with Data {v:?}")))
                }
                Ok(_) => Ok(()),
                Err(f) if f.case_defect => Err(f),
                Err(_) => Ok(()),
            }
        },
    },
    CheckDef {
        name: "dm12-session-order",
        about: "the session record carries each of args.commands ([element, target]; element `*` any, `Add|Replace` \
                either) in that order (the first of each)",
        args: &[arg("commands", ArgKind::CommandList)],
        run: |_, args, obs, _| {
            let want = crate::runner::checks::arg_commands(args, "commands");
            let got = session_commands(obs)?;
            let mut last = None;
            for w in &want {
                let Some(i) = position(&got, w) else {
                    return Err(Failure::new(format!("a {w:?} in the session"), format!("the commands: {got:?}")));
                };
                if last.is_some_and(|l| i < l) {
                    return Err(Failure::new(
                        format!("the commands in the order {want:?}"),
                        format!("{w:?} came earlier; the commands: {got:?}"),
                    ));
                }
                last = Some(i);
            }
            Ok(())
        },
    },
    CheckDef {
        name: "dm12-exec-correlator",
        about: "the session's Exec of args.target carries a Correlator (digest §1.2, DM-RepPro §4.1.6.6)",
        args: &[arg("target", ArgKind::Str)],
        run: |_, args, obs, _| {
            let target = arg_str(args, "target")?;
            let got = session_commands(obs)?;
            let Some(i) = position(&got, &["Exec".to_string(), target.to_string()]) else {
                return Err(Failure::new(format!("an Exec of {target} in the session"), format!("{got:?}")));
            };
            if got[i].get(3).is_some_and(|c| !c.trim().is_empty()) {
                return Ok(());
            }
            Err(Failure::new(format!("a Correlator with the Exec of {target}"), "an Exec without Correlator"))
        },
    },
    CheckDef {
        name: "fumo12-result-present",
        about: "a Generic Alert 1226 reporting a FUMO operation (a FUMO alert type, or an Item Source inside \
                args.instance) is in this message or the one saved as args.earlier",
        args: &[opt_arg("instance", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            if !fumo_reports(b, args, obs, ctx)?.is_empty() {
                return Ok(());
            }
            Err(Failure::new(
                "a Generic Alert 1226 reporting the FUMO operation's result (digest §2.5.2)",
                shown(&reports(args, obs, ctx)?),
            )
            .with_note(type_note(b)))
        },
    },
    CheckDef {
        name: "fumo12-result-type",
        about: "args.operation (Download | Update | DownloadAndUpdate): the FUMO result's Meta Type is that \
                operation's alert type (org.openmobilealliance.dm.firmwareupdate.*, digest §2.5.1)",
        args: &[arg("operation", ArgKind::Str), opt_arg("instance", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let op = operation_arg(args)?;
            let found = fumo_reports(b, args, obs, ctx)?;
            if found.iter().any(|r| r.r#type.as_deref().and_then(|t| fumo_operation(t, b)) == Some(op)) {
                return Ok(());
            }
            Err(Failure::new(format!("a result alert of Meta Type {:?} ({op})", op.oma_alert_type()), shown(&found))
                .with_note(type_note(b)))
        },
    },
    CheckDef {
        name: "fumo12-result-source",
        about: "args.instance (the FUMO node <x>): the FUMO result's Item Source is <x> or a node below it (the \
                Exec'd operation node; digest §2.5.2)",
        args: &[arg("instance", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let instance = arg_str(args, "instance")?;
            let found: Vec<Report> = reports(args, obs, ctx)?
                .into_iter()
                .filter(|r| r.r#type.as_deref().is_some_and(|t| fumo_operation(t, b).is_some()))
                .collect();
            if found.iter().any(|r| r.source.as_deref().is_some_and(|s| within(s, instance))) {
                return Ok(());
            }
            Err(Failure::new(
                format!("a FUMO result alert whose Item Source is {instance} or below it"),
                if found.is_empty() { shown(&reports(args, obs, ctx)?) } else { shown(&found) },
            ))
        },
    },
    CheckDef {
        name: "fumo12-result-code",
        about: "the FUMO result's Data is an integer ResultCode of the table (digest §2.6); args.expect: success \
                (2xx) | failure (4xx/5xx) | a code",
        args: &[opt_arg("expect", ArgKind::Str), opt_arg("instance", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let found = fumo_reports(b, args, obs, ctx)?;
            let Some(code) = found.iter().find_map(|r| r.data.as_deref().and_then(|d| d.trim().parse::<i64>().ok()))
            else {
                return Err(Failure::new(
                    "an integer ResultCode in the result alert's Data (Meta Format int, digest §2.5.2)",
                    shown(&found),
                ));
            };
            if !fumo::is_result_code(code) {
                return Err(Failure::new(
                    "a ResultCode of the FUMO table (200, 250-299, 400-412, 450-503, 550-599)",
                    code.to_string(),
                ));
            }
            let want = args.get("expect").and_then(|v| v.as_str()).unwrap_or("");
            if expect_holds(want, code, fumo::is_success(code)) {
                return Ok(());
            }
            Err(Failure::new(format!("ResultCode: {want}"), code.to_string()))
        },
    },
    CheckDef {
        name: "fumo12-state",
        about: "args.target (<x>/State), args.outcome (updated | update-failed | download-failed | downloaded | \
                delivered): the Results of the suite's Get of it carry a State the outcome allows (digest §2.3)",
        args: &[arg("target", ArgKind::Str), arg("outcome", ArgKind::Str)],
        run: |b, args, obs, _| {
            let target = arg_str(args, "target")?;
            let name = arg_str(args, "outcome")?;
            let outcome: Outcome = serde_json::from_value(Value::String(name.into())).map_err(|_| {
                Failure::case_defect(format!(
                    "outcome = updated | update-failed | download-failed | downloaded | delivered (found {name:?})"
                ))
            })?;
            let data = results_data(b, target, obs)?;
            if data.parse::<u16>().is_ok_and(|s| outcome.states().contains(&s)) {
                return Ok(());
            }
            Err(Failure::new(format!("State one of {:?}", outcome.states()), format!("State {data:?}")))
        },
    },
    CheckDef {
        name: "scomo12-result",
        about: "a Generic Alert 1226 of Meta Type profile dm12.scomo_alert_type whose Item Source is args.source \
                (the Exec'd operation node; digest §3.4), here or in args.earlier",
        args: &[arg("source", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let source = arg_str(args, "source")?;
            let want = &b.profile.scomo_alert_type;
            let found = scomo_reports(b, args, obs, ctx)?;
            if found.iter().any(|r| r.r#type.as_deref() == Some(want.as_str()) && r.source.as_deref() == Some(source)) {
                return Ok(());
            }
            Err(Failure::new(
                format!("a result alert of Meta Type {want:?} with Item Source {source}"),
                shown(&reports(args, obs, ctx)?),
            )
            .with_note(format!(
                "the SCOMO alert type on SyncML DM 1.2 follows profile setting dm12.scomo_alert_type = {want:?} \
                 (digest §3.4, UNVERIFIED)"
            )))
        },
    },
    CheckDef {
        name: "scomo12-result-code",
        about: "the SCOMO result's Data carries <ResultCode>NNNN</ResultCode> of the table (digest §3.5); \
                args.expect: success (1200, 1250-1299) | failure | a code",
        args: &[opt_arg("expect", ArgKind::Str), opt_arg("source", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let found = scomo_reports(b, args, obs, ctx)?;
            let Some(code) = found.iter().find_map(|r| r.data.as_deref().and_then(scomo_code)) else {
                return Err(Failure::new(
                    "a result alert whose Data carries <ResultCode>NNNN</ResultCode> (digest §3.4)",
                    shown(&found),
                ));
            };
            if !scomo::is_defined(code) {
                return Err(Failure::new("a ResultCode of the SCOMO table (digest §3.5)", code.to_string()));
            }
            let want = args.get("expect").and_then(|v| v.as_str()).unwrap_or("");
            if expect_holds(want, i64::from(code), scomo::is_success(code)) {
                return Ok(());
            }
            Err(Failure::new(format!("ResultCode: {want}"), code.to_string()))
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_lie_within_their_instance_and_codes_are_read() {
        assert!(within("./FUMO/fw1/Update", "./FUMO/fw1/"));
        assert!(within("FUMO/fw1", "./FUMO/fw1"));
        assert!(!within("./FUMO/fw10", "./FUMO/fw1"));
        assert_eq!(scomo_code("<ResultCode>1405</ResultCode><Identifier>x</Identifier>"), Some(1405));
        assert_eq!(scomo_code("1200"), None);
        let b = Dm12::new(Default::default(), crate::wire::dm12::Encoding::Xml);
        assert_eq!(fumo_operation("org.openmobilealliance.dm.firmwareupdate.update", &b), Some(Operation::Update));
        assert_eq!(fumo_operation("Reversed-Domain-Name: org.openmobilealliance.dm.firmwareupdate.update", &b), None);
    }
}
