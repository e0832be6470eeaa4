//! Built-in checks every binding shares: they look at HTTP bodies, upper-tester data or the
//! session record of `finish-session`, never at a protocol's message structure.
use super::{
    arg, arg_commands, arg_str, body_of, fail, json_has_leaf, json_of, show, show_body, ArgKind, CheckDef, Failure,
    Observed,
};
use serde_json::Value;

/// A command as sent matches one as expected: each element equal, or `"*"` (any one parameter),
/// or `"<prefix>*"` (one beginning so, e.g. a ClientURI under an MOID); a trailing `"*?"` is any
/// one parameter or none (e.g. an EXEC with or without a ServerURI).
fn command_matches(want: &[String], got: &[String]) -> bool {
    let optional = want.iter().rev().take_while(|w| *w == "*?").count();
    let len_ok = got.len() <= want.len() && got.len() >= want.len() - optional;
    let element = |w: &String, g: &String| match w.strip_suffix('*') {
        _ if w == "*?" => true,
        Some(prefix) => g.starts_with(prefix),
        None => w == g,
    };
    len_ok && want.iter().zip(got).all(|(w, g)| element(w, g))
}

/// The session record (`finish-session`): its commands in order, and each package's for messages.
fn session_of(obs: &Observed) -> Result<(Vec<Vec<String>>, String), Failure> {
    let j = json_of(obs)?;
    let as_commands = |v: Option<&Value>| -> Option<Vec<Vec<String>>> {
        v?.as_array()?.iter().map(|c| c.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()).collect()
    };
    let Some(all) = as_commands(j.get("commands")) else {
        return Err(Failure::case_defect("a session record of finish-session to check (this check reads one)"));
    };
    let packages: Vec<String> = j
        .get("packages")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().enumerate().map(|(i, p)| format!("#{} {}", i + 1, show(p.get("commands")))).collect())
        .unwrap_or_default();
    let shown = if packages.is_empty() { "no package".to_string() } else { packages.join(", ") };
    Ok((all, shown))
}

fn show_commands(c: &[Vec<String>]) -> String {
    serde_json::to_string(c).unwrap_or_default()
}

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
        about: "args.codes: the status codes device.report recorded (`statuses`: one array per status package, of \
                entries with `sc` or bare codes), taken in order over all its packages, contain exactly this run of \
                codes — however the statuses were split over packages",
        args: &[arg("codes", ArgKind::IntList)],
        run: |_, args, obs, _| {
            let j = json_of(obs)?;
            let want: Vec<i64> = args
                .get("codes")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_integer()).collect())
                .unwrap_or_default();
            let got: Vec<Option<i64>> = j
                .get("statuses")
                .and_then(Value::as_array)
                .map(|ls| {
                    ls.iter()
                        .filter_map(Value::as_array)
                        .flatten()
                        .map(|s| s.get("sc").or(Some(s)).and_then(Value::as_i64))
                        .collect()
                })
                .unwrap_or_default();
            let found =
                want.is_empty() || got.windows(want.len()).any(|w| w.iter().zip(&want).all(|(g, c)| *g == Some(*c)));
            if found {
                Ok(())
            } else {
                fail(format!("recorded statuses containing the codes {want:?}, in this order"), show(j.get("statuses")))
            }
        },
    },
    CheckDef {
        name: "session-commands",
        about: "args.commands: the session (the record of finish-session) carried each of these commands, complete \
                (name and every parameter; \"*\" matches any one parameter, \"<prefix>*\" one beginning so, a trailing \"*?\" one or none), in whichever of the server's packages; \
                other commands may come between them",
        args: &[arg("commands", ArgKind::CommandList)],
        run: |_, args, obs, _| {
            let (mut pool, shown) = session_of(obs)?;
            let want = arg_commands(args, "commands");
            let missing: Vec<Vec<String>> = want
                .iter()
                .filter(|w| match pool.iter().position(|g| command_matches(w, g)) {
                    Some(i) => {
                        pool.remove(i);
                        false
                    }
                    None => true,
                })
                .cloned()
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                fail(
                    format!("the session to carry the commands {}", show_commands(&want)),
                    format!("missing {}; the server's packages: {shown}", show_commands(&missing)),
                )
            }
        },
    },
    CheckDef {
        name: "session-exec-server-uri",
        about: "args.client_uri (ending in * : a prefix): the session (the record of finish-session) carried an EXEC of that ClientURI, and \
                every such EXEC gives a ServerURI (a non-empty parameter after the ClientURI): where the \
                asynchronous result goes",
        args: &[arg("client_uri", ArgKind::Str)],
        run: |_, args, obs, _| {
            let (all, shown) = session_of(obs)?;
            let uri = arg_str(args, "client_uri")?;
            let named = |c: &&Vec<String>| match uri.strip_suffix('*') {
                Some(prefix) => c.get(1).is_some_and(|u| u.starts_with(prefix)),
                None => c.get(1).map(String::as_str) == Some(uri),
            };
            let execs: Vec<&Vec<String>> =
                all.iter().filter(|c| c.first().map(String::as_str) == Some("EXEC")).filter(named).collect();
            if execs.is_empty() {
                return fail(format!("an EXEC of {uri}"), format!("the server's packages: {shown}"));
            }
            match execs.iter().find(|c| c.get(2).is_none_or(|s| s.is_empty())) {
                None => Ok(()),
                Some(c) => fail(format!("the EXEC of {uri} with a ServerURI"), show_commands(&[(*c).clone()])),
            }
        },
    },
    CheckDef {
        name: "session-command-order",
        about: "args.commands: these commands come in this order over the session (the record of finish-session), \
                whatever packages carried them; other commands may come between them",
        args: &[arg("commands", ArgKind::CommandList)],
        run: |_, args, obs, _| {
            let (all, shown) = session_of(obs)?;
            let want = arg_commands(args, "commands");
            let mut it = all.iter();
            if want.iter().all(|w| it.any(|g| command_matches(w, g))) {
                Ok(())
            } else {
                fail(
                    format!("the commands in the order {}", show_commands(&want)),
                    format!("the server's packages: {shown}"),
                )
            }
        },
    },
    CheckDef {
        name: "session-moved",
        about: "the server moved the session (one of its packages named where the next reply goes; DM 2.0: CONT) \
                and carried it on there: a reply went there and was answered with a command package (the record of \
                finish-session)",
        args: &[],
        run: |_, _, obs, _| {
            let (_, shown) = session_of(obs)?;
            let j = json_of(obs)?;
            let packages = j.get("packages").and_then(Value::as_array).cloned().unwrap_or_default();
            let at_target = packages.iter().any(|p| p.get("moved").and_then(Value::as_bool) == Some(true));
            if at_target {
                return Ok(());
            }
            let moved_to = packages.iter().find_map(|p| p.get("continue_at").and_then(Value::as_str));
            fail(
                "a reply where the server moved the session, answered with a command package",
                match moved_to {
                    Some(u) => format!("the server moved the session to {u}, but no reply went there (the session ended first); the server's packages: {shown}"),
                    None => format!("the server never moved the session; its packages: {shown}"),
                },
            )
        },
    },
];

#[cfg(test)]
mod tests {
    use super::super::{evaluate, CheckCtx, Observed};
    use crate::catalog::check::CheckKind;
    use serde_json::{json, Value};

    fn judge(name: &str, args: &str, record: &Value) -> Result<(), super::Failure> {
        let kind = CheckKind::Builtin { name: name.into(), args: toml::from_str(args).unwrap() };
        let ctx = CheckCtx { last_commands: None, credentials: None, saved: None };
        evaluate(&kind, &Observed::Json(record), &ctx, &crate::binding::dm2::Dm2::default())
    }

    fn record(packages: Value) -> Value {
        let commands: Vec<Value> =
            packages.as_array().unwrap().iter().flat_map(|p| p["commands"].as_array().unwrap().clone()).collect();
        json!({ "packages": packages, "commands": commands, "replies": [], "status_codes": [] })
    }

    #[test]
    fn session_commands_accept_any_split_and_name_what_is_missing() {
        let one = record(json!([{ "commands": [["GET", "a"], ["DELETE", "b"], ["CONT", "http://x"], ["END"]] }]));
        let split = record(
            json!([{ "commands": [["GET", "a"]] }, { "commands": [["DELETE", "b"], ["CONT", "http://x"]] }, { "commands": [["END"]] }]),
        );
        let args = r#"commands = [["GET", "a"], ["DELETE", "b"], ["CONT", "*"]]"#;
        for r in [&one, &split] {
            assert!(judge("session-commands", args, r).is_ok());
            assert!(judge("session-command-order", args, r).is_ok());
        }
        let dropped = record(json!([{ "commands": [["GET", "a"], ["END"]] }]));
        let f = judge("session-commands", args, &dropped).unwrap_err();
        assert!(f.actual.contains("missing [[\"DELETE\",\"b\"],[\"CONT\",\"*\"]]"), "{f:?}");
        let reordered =
            record(json!([{ "commands": [["DELETE", "b"]] }, { "commands": [["GET", "a"], ["CONT", "http://x"]] }]));
        assert!(judge("session-commands", args, &reordered).is_ok());
        assert!(judge("session-command-order", args, &reordered).is_err());
        // A parameter that differs is not the command asked for; "*" stands for one parameter only.
        assert!(judge("session-commands", r#"commands = [["GET", "*", "*"]]"#, &one).is_err());
    }

    #[test]
    fn report_statuses_accept_any_split_of_the_codes() {
        let split = json!({ "statuses": [[{ "sc": 200 }], [{ "sc": 405 }, 200]] });
        assert!(judge("report-statuses", "codes = [200, 405, 200]", &split).is_ok());
        assert!(judge("report-statuses", "codes = [405, 200]", &split).is_ok());
        assert!(judge("report-statuses", "codes = [200, 200]", &split).is_err());
    }

    #[test]
    fn session_moved_needs_a_reply_at_the_target() {
        let ended =
            record(json!([{ "commands": [["CONT", "http://x"], ["END"]], "continue_at": "http://x", "moved": false }]));
        let f = judge("session-moved", "", &ended).unwrap_err();
        assert!(f.actual.contains("no reply went there"), "{f:?}");
        let carried = record(json!([
            { "commands": [["CONT", "http://x"]], "continue_at": "http://x", "moved": false },
            { "commands": [["END"]], "moved": true },
        ]));
        assert!(judge("session-moved", "", &carried).is_ok());
    }

    #[test]
    fn an_optional_trailing_parameter_and_the_exec_server_uri() {
        let with = record(json!([{ "commands": [["EXEC", "u/DownloadAndUpdate", "http://dm"], ["END"]] }]));
        let without = record(json!([{ "commands": [["EXEC", "u/DownloadAndUpdate"], ["END"]] }]));
        let optional = r#"commands = [["EXEC", "u/DownloadAndUpdate", "*?"]]"#;
        assert!(judge("session-commands", optional, &with).is_ok());
        assert!(judge("session-commands", optional, &without).is_ok());
        assert!(judge("session-commands", r#"commands = [["EXEC", "*", "*"]]"#, &without).is_err());
        assert!(judge("session-commands", r#"commands = [["EXEC", "*?", "*?"]]"#, &with).is_ok());
        let args = r#"client_uri = "u/DownloadAndUpdate""#;
        assert!(judge("session-exec-server-uri", args, &with).is_ok());
        let f = judge("session-exec-server-uri", args, &without).unwrap_err();
        assert!(format!("{f:?}").contains("ServerURI"), "{f:?}");
        assert!(judge("session-exec-server-uri", r#"client_uri = "other""#, &with).is_err());
        assert!(judge("session-exec-server-uri", r#"client_uri = "u/*""#, &with).is_ok());
        assert!(judge("session-commands", r#"commands = [["EXEC", "u/*", "*?"]]"#, &without).is_ok());
        let malformed = record(json!([{ "commands": [["EXEC", "http://dm"], ["END"]] }]));
        assert!(judge("session-commands", r#"commands = [["EXEC", "u/*", "*?"]]"#, &malformed).is_err());
    }
}
