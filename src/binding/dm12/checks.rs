//! The DM 1.2 built-in checks. Each reads the observed message (a client IUT's request, or a
//! server IUT's answer) and, where the rule is about answering, the suite's message it answers
//! (kept by the binding). Each names what it saw; where it follows a profile setting, it says so.
use super::{decode_any, media_type, Dm12};
use crate::runner::checks::{
    arg, arg_str, body_of, fail, header, opt_arg, ArgKind, CheckCtx, CheckDef, Failure, Observed,
};
use crate::wire::dm12::{auth, rules, same_node, Command, Encoding, Message, Status, MEDIA_WBXML, MEDIA_XML};
use serde_json::Value;

type Def = CheckDef<Dm12>;

/// The observed message, decoded; a failure names where it does not decode.
pub(super) fn message(obs: &Observed) -> Result<(Message, Encoding), Failure> {
    let body = body_of(obs)?;
    decode_any(body).map_err(|e| Failure::new("a SyncML DM 1.2 message", e.to_string()))
}

/// Whether the observation is a request of a client IUT (else the answer of a server IUT).
fn is_request(obs: &Observed) -> bool {
    matches!(obs, Observed::Http { method: Some(_), .. })
}

/// The suite's message the observed one answers.
pub(super) fn answered(b: &Dm12, obs: &Observed) -> Result<Message, Failure> {
    let m = if is_request(obs) { b.server().answered.clone() } else { b.client().last_sent.clone() };
    m.ok_or_else(|| Failure::case_defect("a message of the suite that the observed one answers (an earlier step)"))
}

pub(super) use crate::wire::dm12::message::all_commands;

fn statuses(m: &Message) -> Vec<&Status> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(s) => Some(s),
            _ => None,
        })
        .collect()
}

pub(super) fn saved_message(ctx: &CheckCtx, name: &str) -> Result<Value, Failure> {
    let v = ctx
        .saved
        .and_then(|s| s.get(name))
        .ok_or_else(|| Failure::case_defect(format!("a message saved earlier as {name:?} (save_as)")))?;
    Ok(v.get("body").cloned().unwrap_or_else(|| v.clone()))
}

fn media_type_ok(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let Observed::Http { headers, body, .. } = obs else { return Err(Failure::case_defect("an HTTP message")) };
    let ct = header(headers, "content-type").unwrap_or("");
    let mt = crate::wire::media::media_type_of(ct);
    let sniffed = super::sniff(body);
    let ds = match sniffed {
        Encoding::Xml => "application/vnd.syncml+xml",
        Encoding::Wbxml => "application/vnd.syncml+wbxml",
    };
    let want = media_type(sniffed);
    if mt == want || (b.profile.accept_ds_media_types && mt == ds) {
        return Ok(());
    }
    let _ = args;
    let mut f = Failure::new(
        format!("Content-Type {want} (the body is SyncML {sniffed})"),
        if ct.is_empty() { "no Content-Type".to_string() } else { format!("Content-Type {ct}") },
    );
    if mt == ds {
        f = f.with_note(
            "the SyncML DS media type: profile setting dm12.accept_ds_media_types = true accepts it (digest §13, \
             §14.4); the default does not",
        );
    }
    Err(f)
}

fn encoding_is(b: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let body = body_of(obs)?;
    let got = super::sniff(body);
    if got != b.encoding {
        return fail(
            format!("a message in {} (binding {})", b.encoding, crate::binding::Binding::name(b)),
            format!("a message in {got}"),
        );
    }
    match b.encoding {
        Encoding::Wbxml => crate::wire::dm12::wbxml::decode(body)
            .map(|_| ())
            .map_err(|e| Failure::new("a valid WBXML document (public id 0x1201, SyncML code pages)", e.to_string())),
        Encoding::Xml => Ok(()),
    }
}

fn decodes(_: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    message(obs).map(|_| ())
}

fn header_versions(_: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    if m.hdr.ver_dtd != "1.2" || m.hdr.ver_proto != "DM/1.2" {
        return fail(
            "VerDTD 1.2 and VerProto DM/1.2",
            format!("VerDTD {} and VerProto {}", m.hdr.ver_dtd, m.hdr.ver_proto),
        );
    }
    Ok(())
}

fn dtd_order(_: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let body = body_of(obs)?;
    let root = match super::sniff(body) {
        Encoding::Wbxml => crate::wire::dm12::wbxml::decode(body).map(|d| d.root),
        Encoding::Xml => crate::wire::dm12::xml::decode(&String::from_utf8_lossy(body)),
    }
    .map_err(|e| Failure::new("a SyncML DM 1.2 document", e.to_string()))?;
    let mut findings = rules::dtd_order(&root);
    fn cmdref_missing(el: &crate::wire::dm12::Element, path: &str, out: &mut Vec<rules::Finding>) {
        let p = format!("{path}/{}", el.name);
        if el.name == "Status" && !el.elements().any(|c| c.name == "CmdRef") {
            out.push(rules::Finding { rule: "cmdref", path: p.clone(), what: "a Status without CmdRef".into() });
        }
        for c in el.elements() {
            cmdref_missing(c, &p, out);
        }
    }
    cmdref_missing(&root, "", &mut findings);
    match findings.first() {
        None => Ok(()),
        Some(f) => {
            fail("children in DTD order and a CmdRef in every Status (digest §3.5)", format!("{}: {}", f.path, f.what))
        }
    }
}

fn cmdid_unique(_: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    match rules::message_rules(&m).into_iter().find(|f| f.rule == "cmdid-unique") {
        None => Ok(()),
        Some(f) => fail("CmdIDs unique within the message (digest §3.3)", format!("{}: {}", f.path, f.what)),
    }
}

fn final_present(_: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    if !m.body.r#final {
        return fail("<Final/> closing the package (digest §5.1)", "a message without <Final/>");
    }
    Ok(())
}

fn session_alert(_: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let code = arg_str(args, "code")?;
    let (m, _) = message(obs)?;
    let alerts: Vec<String> = m
        .body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Alert(a) => Some(a.data.clone().unwrap_or_default()),
            _ => None,
        })
        .collect();
    let session: Vec<&String> = alerts.iter().filter(|a| a.as_str() == "1200" || a.as_str() == "1201").collect();
    if session.len() == 1 && session[0] == code {
        return Ok(());
    }
    fail(format!("one session Alert {code} (digest §6.2)"), format!("Alerts [{}]", alerts.join(", ")))
}

fn devinfo(_: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let mut found = std::collections::BTreeMap::new();
    for c in &m.body.commands {
        if let Command::Replace(r) = c {
            for i in &r.items {
                if let (Some(s), Some(d)) = (&i.source, &i.data) {
                    found.insert(s.loc_uri.trim_start_matches("./").to_string(), d.text().unwrap_or("").to_string());
                }
            }
        }
    }
    let missing: Vec<&str> = ["DevInfo/DevId", "DevInfo/Man", "DevInfo/Mod", "DevInfo/DmV", "DevInfo/Lang"]
        .into_iter()
        .filter(|k| found.get(*k).is_none_or(|v| v.is_empty()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    fail(
        "a Replace with Items for ./DevInfo/DevId, Man, Mod, DmV and Lang, each with Source and Data (digest §5.2)",
        format!("none with data for {}; the Replace items: {:?}", missing.join(", "), found.keys().collect::<Vec<_>>()),
    )
}

fn session_id_same(_: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let earlier = saved_message(ctx, arg_str(args, "earlier")?)?;
    let want = earlier.pointer("/SyncHdr/SessionID").and_then(Value::as_str).unwrap_or("");
    if m.hdr.session_id != want {
        return fail(
            format!("SessionID {want}, as in the session's first message (digest §3.3)"),
            format!("SessionID {}", m.hdr.session_id),
        );
    }
    Ok(())
}

/// The message opens a new session: it is not one more message of the session that ended with
/// the message saved as `earlier` (its SessionID with a MsgID after 1). A client that talks after
/// the server ended the session fails here (digest §5.5), not the checks of the next session.
fn new_session(_: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let earlier = saved_message(ctx, arg_str(args, "earlier")?)?;
    let ended = earlier.pointer("/SyncHdr/SessionID").and_then(Value::as_str).unwrap_or("");
    if m.hdr.session_id == ended && m.hdr.msg_id.trim() != "1" {
        return fail(
            format!("the first message of a new session: session {ended} had ended (digest §5.5)"),
            format!("message {} of session {ended}", m.hdr.msg_id),
        );
    }
    Ok(())
}

fn msg_id_next(_: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let want = match args.get("earlier").and_then(|v| v.as_str()) {
        None => 1,
        Some(name) => {
            let e = saved_message(ctx, name)?;
            e.pointer("/SyncHdr/MsgID").and_then(Value::as_str).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) + 1
        }
    };
    if m.hdr.msg_id.trim().parse::<u64>().ok() != Some(want) {
        return fail(
            format!("MsgID {want} (1 for the first message of a session, then +1; digest §3.3)"),
            format!("MsgID {}", m.hdr.msg_id),
        );
    }
    Ok(())
}

fn notified_session_id(b: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let n = saved_message(ctx, arg_str(args, "notification")?)?;
    let id = n.get("session_id").or_else(|| n.get("notification_id")).and_then(Value::as_u64);
    let Some(id) = id else { return Err(Failure::case_defect("a saved DM 1.2 notification with a session_id")) };
    let want = b.profile.session_id_text(id as u16);
    if m.hdr.session_id != want {
        return Err(Failure::new(
            format!("SessionID {want}: the notification's session id {id}"),
            format!("SessionID {}", m.hdr.session_id),
        )
        .with_note(format!(
            "the form follows profile setting dm12.session_id_form = {:?} (digest §9.5, §14.4)",
            b.profile.session_id_form
        )));
    }
    Ok(())
}

/// The Status for the answered message's SyncHdr: first, CmdRef 0, Cmd SyncHdr, its MsgID.
fn header_status(b: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let a = answered(b, obs)?;
    match rules::answer_rules(&m, &a).into_iter().find(|f| f.rule == "synchdr-status-first") {
        None => Ok(()),
        Some(f) => fail(
            format!("first in SyncBody a Status with Cmd SyncHdr, CmdRef 0, MsgRef {} (digest §3.4)", a.hdr.msg_id),
            format!("{}: {}", f.path, f.what),
        ),
    }
}

/// A Status, with the right MsgRef, CmdRef and Cmd, for every command of the answered message
/// (of the element `cmd` only, when given), containers' members included.
fn statuses_match(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let a = answered(b, obs)?;
    let only = args.get("cmd").and_then(|v| v.as_str());
    // `by_order`: a Status without CmdRef counts, paired by Cmd and order (its missing CmdRef is
    // then another check's business: dm12-dtd-order, or this check without by_order).
    let by_order = args.get("by_order").and_then(|v| v.as_bool()).unwrap_or(false);
    let refs_wrong = |f: &rules::Finding| f.rule == "status-ref" || (f.rule == "cmdref-missing" && !by_order);
    if let Some(f) = rules::answer_rules(&m, &a).into_iter().find(refs_wrong) {
        return fail(
            "Statuses whose CmdRef and Cmd name a command of the message they answer (digest §3.3)",
            format!("{}: {}", f.path, f.what),
        );
    }
    let st = statuses(&m);
    for c in all_commands(&a.body.commands) {
        let (Some(id), name) = (c.cmd_id(), c.name()) else { continue };
        if matches!(c, Command::Status(_) | Command::Results(_)) || only.is_some_and(|o| o != name) {
            continue;
        }
        let n = st.iter().filter(|s| s.cmd_ref == id && s.msg_ref == a.hdr.msg_id && s.cmd == name).count();
        if n == 0 && !(by_order && status_of(&m, &a, c).is_some()) {
            return fail(
                format!("a Status with MsgRef {}, CmdRef {id} and Cmd {name} (digest §3.3, §4)", a.hdr.msg_id),
                format!(
                    "none; the Statuses: {}",
                    st.iter()
                        .map(|s| format!("{}:{}:{}={}", s.msg_ref, s.cmd_ref, s.cmd, s.data))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    Ok(())
}

fn code_matches(code: &str, want: &[toml::Value]) -> bool {
    want.iter().any(|w| match w {
        toml::Value::Integer(i) => code.trim() == i.to_string(),
        toml::Value::String(s) if s == "*" => true,
        toml::Value::String(s) if s.len() == 3 && s.ends_with("xx") => code.trim().starts_with(&s[..1]),
        _ => false,
    })
}

/// The Status of `c` (a command of the answered message `a`) in `m`: the one whose MsgRef and
/// CmdRef name it; failing that, a Status without CmdRef (a quirk of real implementations,
/// digest §13 H1) paired with it by Cmd and order among the commands of that name. The missing
/// CmdRef itself is judged by dm12-dtd-order, not by the checks that read the code.
fn status_of<'a>(m: &'a Message, a: &Message, c: &Command) -> Option<&'a Status> {
    let (id, name) = (c.cmd_id().unwrap_or(""), c.name());
    let st = statuses(m);
    if let Some(s) = st.iter().find(|s| s.cmd_ref == id && s.msg_ref == a.hdr.msg_id) {
        return Some(s);
    }
    let same_name: Vec<&str> = all_commands(&a.body.commands)
        .into_iter()
        .filter(|x| x.name() == name)
        .map(|x| x.cmd_id().unwrap_or(""))
        .collect();
    let unreferenced: Vec<&Status> = st.into_iter().filter(|s| s.cmd_ref.trim().is_empty() && s.cmd == name).collect();
    same_name.iter().position(|x| *x == id).and_then(|k| unreferenced.get(k).copied())
}

/// The Status of the answered message's commands named `cmd` (and addressing `target`, when
/// given) carry one of `codes`.
fn status_codes(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let a = answered(b, obs)?;
    let cmd = arg_str(args, "cmd")?;
    let target = args.get("target").and_then(|v| v.as_str());
    let want = args.get("codes").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let mut judged = 0;
    for c in all_commands(&a.body.commands) {
        if c.name() != cmd {
            continue;
        }
        if let Some(t) = target {
            let addresses = match c {
                Command::Add(x) | Command::Replace(x) | Command::Get(x) | Command::Delete(x) | Command::Copy(x) => {
                    x.items.iter().any(|i| i.target.as_ref().is_some_and(|l| l.loc_uri == t))
                }
                Command::Exec(x) => x.items.iter().any(|i| i.target.as_ref().is_some_and(|l| l.loc_uri == t)),
                // An Alert is told apart by its code.
                Command::Alert(x) => x.data.as_deref() == Some(t),
                _ => true,
            };
            if !addresses {
                continue;
            }
        }
        let id = c.cmd_id().unwrap_or("");
        judged += 1;
        let st: Vec<&Status> = status_of(&m, &a, c).into_iter().collect();
        let shown = |w: &[toml::Value]| {
            w.iter().map(|x| x.to_string().trim_matches('"').to_string()).collect::<Vec<_>>().join(" or ")
        };
        match st.first() {
            Some(s) if code_matches(&s.data, &want) => {}
            Some(s) => {
                return fail(format!("{cmd} (CmdID {id}) answered {}", shown(&want)), format!("status {}", s.data))
            }
            None => return fail(format!("{cmd} (CmdID {id}) answered {}", shown(&want)), "no Status for it"),
        }
    }
    if judged == 0 {
        let what =
            format!("a {cmd} command{} in the suite's message", target.map(|t| format!(" of {t}")).unwrap_or_default());
        // As DM client the suite answers what the server sent: without the server's command
        // there is no answer to judge (the command's absence is the session checks' business).
        if !is_request(obs) && matches!(cmd, "Results" | "Status") {
            return Err(Failure::cannot_judge(what, "none: the server did not send what it answers"));
        }
        return Err(Failure::case_defect(what));
    }
    Ok(())
}

/// The Status of the answered `cmd` (a command the receiver does not support) is an error
/// code of the profile's `unknown_command_status` (digest §14.4, DERIVED: 400, 406 or 501).
fn refused_unknown(b: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    let mut a = args.clone();
    let codes = b.profile.unknown_command_status.iter().map(|c| toml::Value::Integer(i64::from(*c))).collect();
    a.insert("codes".into(), toml::Value::Array(codes));
    status_codes(b, &a, obs, ctx).map_err(|f| {
        f.with_note(format!(
            "the codes follow profile setting dm12.unknown_command_status = {:?} (digest §14.4, DERIVED)",
            b.profile.unknown_command_status
        ))
    })
}

/// Results for the Get of `target`: after the Get's Status, CmdRef = the Get's CmdID, an Item
/// whose Source is `target`, its Data `value` and Meta Format `format` when given.
fn results(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let a = answered(b, obs)?;
    let target = arg_str(args, "target")?;
    let Some(get) = all_commands(&a.body.commands).into_iter().find(|c| {
        matches!(c, Command::Get(g) if g.items.iter().any(|i| i.target.as_ref().is_some_and(|l| l.loc_uri == target)))
    }) else {
        return Err(Failure::case_defect(format!("a Get of {target} in the suite's message")));
    };
    let id = get.cmd_id().unwrap_or("");
    let res = m.body.commands.iter().find_map(|c| match c {
        Command::Results(r) if r.cmd_ref == id => Some(r),
        _ => None,
    });
    let Some(r) = res else {
        return fail(
            format!("Results with CmdRef {id} for the Get of {target} (digest §4.7, §4.9)"),
            "no such Results",
        );
    };
    let item = r.items.iter().find(|i| i.source.as_ref().is_some_and(|l| same_node(&l.loc_uri, target)));
    let Some(item) = item else {
        return fail(
            format!("a Results Item with Source {target}"),
            format!(
                "Items with Source {:?}",
                r.items.iter().map(|i| i.source.as_ref().map(|l| l.loc_uri.clone())).collect::<Vec<_>>()
            ),
        );
    };
    if let Some(v) = args.get("value").and_then(|v| v.as_str()) {
        let got = item.data.as_ref().and_then(|d| d.text()).unwrap_or("");
        if got != v {
            return fail(format!("Data {v:?}"), format!("Data {got:?}"));
        }
    }
    if let Some(f) = args.get("format").and_then(|v| v.as_str()) {
        let got = item
            .meta
            .as_ref()
            .or(r.meta.as_ref())
            .and_then(|m| m.format.clone())
            .unwrap_or_else(|| "chr (none given)".into());
        let same = if b.profile.format_case_insensitive { got.eq_ignore_ascii_case(f) } else { got == f };
        if !same {
            let note = got.eq_ignore_ascii_case(f).then_some(
                "only the case differs: profile setting dm12.format_case_insensitive = true accepts it (digest §13 H6)",
            );
            let mut failure = Failure::new(format!("Meta Format {f}"), format!("Format {got}"));
            if let Some(n) = note {
                failure = failure.with_note(n);
            }
            return Err(failure);
        }
    }
    Ok(())
}

/// A Generic Alert 1226 (digest §6.8): every Item with Meta Type and Format and Data; with
/// `correlator`, the Alert's Correlator equals it; looks in this message and in `earlier`.
fn generic_alert(_: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<(), Failure> {
    let (m, enc) = message(obs)?;
    let mut views = vec![crate::wire::dm12::json::message_json(&m, enc)];
    if let Some(name) = args.get("earlier").and_then(|v| v.as_str()) {
        views.push(saved_message(ctx, name)?);
    }
    let alerts: Vec<Value> = views
        .iter()
        .flat_map(|v| v.get("Commands").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter(|c| {
            c.get("element").and_then(Value::as_str) == Some("Alert")
                && c.get("Data").and_then(Value::as_str) == Some("1226")
        })
        .collect();
    if alerts.is_empty() {
        return fail("a Generic Alert (Alert 1226)", "no Alert 1226");
    }
    let want_corr = args.get("correlator").and_then(|v| v.as_str());
    let mut problems = Vec::new();
    for a in &alerts {
        let items = a.get("Items").and_then(Value::as_array).cloned().unwrap_or_default();
        let item_ok = !items.is_empty()
            && items.iter().all(|i| {
                i.pointer("/Meta/Type").is_some_and(Value::is_string)
                    && i.pointer("/Meta/Format").is_some_and(Value::is_string)
                    && i.get("Data").is_some_and(Value::is_string)
            });
        let corr = a.get("Correlator").and_then(Value::as_str);
        let corr_ok = want_corr.is_none_or(|w| corr == Some(w));
        if item_ok && corr_ok {
            return Ok(());
        }
        problems.push(format!("Correlator {:?}, Items {}", corr, Value::Array(items)));
    }
    fail(
        format!(
            "an Alert 1226 whose Items each have Meta Type, Meta Format and Data{}",
            want_corr.map(|c| format!(", with Correlator {c} (the Exec's)")).unwrap_or_default()
        ),
        crate::trace::truncate_marked(&problems.join("; "), 400),
    )
}

/// The SyncHdr Cred: of the profile's type, Format b64, its value computed from the account's
/// credentials and the nonce the suite issued last (md5) (digest §8.2, §8.3).
/// The client's message carries the `x-syncml-hmac` header the suite asked for with a
/// `syncml:auth-MAC` Chal: `username` named, the MAC over the exact body with the nonce the suite
/// issued last, and no Cred of type syncml:auth-MAC (digest §8.6).
fn hmac_valid(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let state = b.server();
    let Some(nonce) = state.nonce_issued.clone() else {
        return Err(Failure::case_defect("a syncml:auth-MAC nonce the suite issued earlier (@challenge, @mac-nonce)"));
    };
    let older: Vec<Vec<u8>> = state.nonces.iter().rev().skip(1).cloned().collect();
    drop(state);
    judge_hmac(b, args, obs, &nonce, &older)
}

/// The `x-syncml-hmac` of the observed message, for `username`/`password` (args) and `nonce`;
/// `older`: nonces the suite issued before, named when the MAC was made with one of them.
fn judge_hmac(b: &Dm12, args: &toml::Table, obs: &Observed, nonce: &[u8], older: &[Vec<u8>]) -> Result<(), Failure> {
    let Observed::Http { headers, body, .. } = obs else {
        return Err(Failure::case_defect("an HTTP message to check (dm12-hmac reads a header and the body)"));
    };
    let (user, password) = (arg_str(args, "username")?, arg_str(args, "password")?);
    let (m, _) = message(obs)?;
    if let Some(t) = m.hdr.cred.as_ref().and_then(|c| c.meta.as_ref()).and_then(|x| x.r#type.as_deref()) {
        if t == auth::AUTH_MAC {
            return fail(
                "the MAC in the x-syncml-hmac header only: it MUST NOT be in a Cred (digest §8.6)",
                "a SyncHdr Cred of type syncml:auth-MAC",
            );
        }
    }
    let Some(value) = header(headers, auth::HMAC_HEADER) else {
        return fail(
            "an x-syncml-hmac header: the suite asked for syncml:auth-MAC, and once used every message carries it (digest §8.6)",
            "no x-syncml-hmac header",
        );
    };
    let h = auth::HmacHeader::parse(value)
        .map_err(|e| Failure::new("x-syncml-hmac: algorithm=MD5, username=\"…\", mac=… (digest §8.6)", e))?;
    if h.username != user {
        return fail(format!("x-syncml-hmac username {user:?} (the account's)"), format!("username {:?}", h.username));
    }
    let variant = b.profile.hmac_variant;
    let setting = format!("profile setting dm12.hmac_variant = {:?}", variant.name());
    if h.verifies_as(variant, password, nonce, body) {
        return Ok(());
    }
    if older.iter().any(|n| h.verifies_as(variant, password, n, body)) {
        return fail(
            "a MAC with the NextNonce the suite sent last: a new nonce for every message (digest §8.6)",
            "a MAC made with an older nonce of the suite",
        );
    }
    let expected = format!(
        "mac={} ({}, over the {} body bytes and the nonce the suite sent last; digest §8.6)",
        variant.mac(user, password, nonce, body),
        match variant {
            auth::HmacVariant::TSec => "B64(H(B64(H(user:password)):nonce:B64(H(body))))",
            auth::HmacVariant::Rfc2104 => "RFC 2104 HMAC-MD5, key B64(H(user:password)), message nonce:B64(H(body))",
        },
        body.len()
    );
    let other = match variant {
        auth::HmacVariant::TSec => auth::HmacVariant::Rfc2104,
        auth::HmacVariant::Rfc2104 => auth::HmacVariant::TSec,
    };
    let mut f = Failure::new(expected, format!("mac={}", h.mac)).with_note(setting);
    if h.verifies_as(other, password, nonce, body) {
        f = f.with_note(format!(
            "the MAC is the {:?} variant; profile setting dm12.hmac_variant = {:?} accepts it (digest §13 W6)",
            other.name(),
            other.name()
        ));
    }
    Err(f)
}

/// A server IUT's answer carries the `x-syncml-hmac` header the suite asked for with a
/// `syncml:auth-MAC` challenge (options.challenge_type): the server's name, the MAC over the
/// exact body with the nonce the suite issued, no Cred of that type (digest §8.6).
fn server_hmac(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let Some(nonce) = b.client().server_nonce.clone() else {
        return Err(Failure::case_defect(
            "a syncml:auth-MAC challenge of the server earlier in the case (options.challenge_type)",
        ));
    };
    judge_hmac(b, args, obs, &nonce, &[])
}

fn cred_valid(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let user = arg_str(args, "username")?;
    let password = arg_str(args, "password")?;
    let Some(cred) = &m.hdr.cred else {
        return fail(format!("a SyncHdr Cred of type {}", b.profile.auth_type), "no Cred");
    };
    let t = cred.meta.as_ref().and_then(|x| x.r#type.clone()).unwrap_or_else(|| auth::AUTH_BASIC.into());
    let got = String::from_utf8_lossy(cred.data.bytes()).trim().to_string();
    let want = match t.as_str() {
        auth::AUTH_MD5 => {
            let state = b.server();
            let Some(nonce) = state.nonce_issued.clone() else {
                return Err(Failure::case_defect(
                    "a nonce the suite issued earlier in the case (a @challenge or @next-nonce)",
                ));
            };
            let older: Vec<String> =
                state.nonces.iter().rev().skip(1).map(|n| auth::md5_cred(user, password, n)).collect();
            let want = auth::md5_cred(user, password, &nonce);
            if got != want && older.contains(&got) {
                return fail(
                    "an md5 Cred computed with the NextNonce the suite sent last (digest §8.3)",
                    "a Cred computed with an older nonce of the suite",
                );
            }
            want
        }
        auth::AUTH_BASIC => auth::basic(user, password),
        other => return fail(format!("Cred type {}", b.profile.auth_type), format!("type {other}")),
    };
    if t != b.profile.auth_type {
        return fail(format!("Cred type {} (the type the suite demands)", b.profile.auth_type), format!("type {t}"));
    }
    if got != want {
        return Err(Failure::new(
            format!("Cred data {want} (B64(H(B64(H(user:password)):nonce)))"),
            format!("Cred data {got}"),
        )
        .with_note(format!(
            "the nonce is the NextNonce decoded per profile setting dm12.md5_nonce_decoding = {:?}",
            b.profile.md5_nonce_decoding
        )));
    }
    Ok(())
}

/// After a challenge: the session Alert (1200/1201) again, now with a Cred (digest §8.4). The
/// SessionID and the DevInfo of the resent package are judged by their own checks
/// (dm12-session-id, dm12-devinfo), so that a fault there is charged to its own item.
fn resent_package1(_: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    if m.hdr.cred.is_none() {
        return fail("a SyncHdr Cred answering the challenge", "no Cred");
    }
    let has_alert = m
        .body
        .commands
        .iter()
        .any(|c| matches!(c, Command::Alert(x) if matches!(x.data.as_deref(), Some("1200" | "1201"))));
    if !has_alert {
        return fail("the session Alert (1200/1201) again", "no session Alert");
    }
    Ok(())
}

/// A server IUT's SyncHdr Cred answers the suite's challenge (options.challenge): md5 of
/// `username`/`password` with the nonce the suite sent (digest §8.5).
fn server_cred(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let (user, password) = (arg_str(args, "username")?, arg_str(args, "password")?);
    let Some(nonce) = b.client().server_nonce.clone() else {
        return Err(Failure::case_defect("a challenge of the server earlier in the case (options.challenge)"));
    };
    let Some(cred) = &m.hdr.cred else {
        return fail("a SyncHdr Cred answering the client's challenge (digest §8.5)", "no Cred");
    };
    let want = auth::md5_cred(user, password, &nonce);
    let got = String::from_utf8_lossy(cred.data.bytes()).trim().to_string();
    if got != want {
        return fail(
            format!("Cred {want}: syncml:auth-md5 of the server's credentials and the client's nonce"),
            format!("Cred {got}"),
        );
    }
    Ok(())
}

/// A server IUT's SyncHdr: SessionID = the suite's, Target = the suite's Source, VerDTD/VerProto.
fn server_header(b: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let a = answered(b, obs)?;
    if m.hdr.session_id != a.hdr.session_id {
        return fail(
            format!("SessionID {} (the client's)", a.hdr.session_id),
            format!("SessionID {}", m.hdr.session_id),
        );
    }
    if m.hdr.target.loc_uri != a.hdr.source.loc_uri {
        return fail(
            format!("Target LocURI {} (the client's Source)", a.hdr.source.loc_uri),
            format!("Target LocURI {}", m.hdr.target.loc_uri),
        );
    }
    if m.hdr.source.loc_uri.is_empty() {
        return fail("a Source LocURI", "an empty one");
    }
    Ok(())
}

/// A server IUT's MsgID differs from each it sent before in the session.
fn server_msg_id_unique(b: &Dm12, _: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let seen = b.client().server_msg_ids_before();
    if seen.contains(&m.hdr.msg_id) {
        return fail(
            "a MsgID not used before in the session (digest §3.3)",
            format!("MsgID {} again (earlier: {})", m.hdr.msg_id, seen.join(", ")),
        );
    }
    Ok(())
}

/// The SyncHdr Status of a server IUT's message carries one of `codes`; with `chal`, a Chal of
/// that type whose NextNonce is base64 (md5).
fn header_status_code(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let want = args.get("codes").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let Some(s) = statuses(&m).into_iter().find(|s| s.cmd == "SyncHdr") else {
        return fail("a Status for the SyncHdr", "none");
    };
    if !code_matches(&s.data, &want) {
        let w: Vec<String> = want.iter().map(|x| x.to_string().trim_matches('"').to_string()).collect();
        return fail(format!("SyncHdr status {}", w.join(" or ")), format!("SyncHdr status {}", s.data));
    }
    // A NextNonce sent with any status must be base64 (Format b64; digest §8.3).
    if let Some(ch) = s.chal.as_ref().filter(|ch| ch.meta.r#type.as_deref() == Some(auth::AUTH_MD5)) {
        let nn = ch.meta.next_nonce.as_deref().unwrap_or("").trim();
        let canonical = auth::decode_nonce(nn).is_some_and(|n| !n.is_empty() && auth::encode_nonce(&n) == nn);
        if !nn.is_empty() && !canonical {
            return fail("a NextNonce in base64 (Chal Meta Format b64, digest §8.3)", format!("NextNonce {nn:?}"));
        }
    }
    if let Some(t) = args.get("chal").and_then(|v| v.as_str()) {
        let t = if t.is_empty() { b.profile.auth_type.clone() } else { t.to_string() };
        let Some(ch) = &s.chal else { return fail(format!("a Chal of type {t} with the status"), "no Chal") };
        if ch.meta.r#type.as_deref() != Some(t.as_str()) {
            return fail(format!("Chal type {t}"), format!("Chal type {:?}", ch.meta.r#type));
        }
        if t == auth::AUTH_MD5 {
            let nn = ch.meta.next_nonce.as_deref().unwrap_or("");
            if ch.meta.format.as_deref() != Some("b64") || auth::decode_nonce(nn).is_none_or(|n| n.is_empty()) {
                return fail(
                    "Chal Meta Format b64 and a base64 NextNonce (digest §8.3)",
                    format!("Format {:?}, NextNonce {nn:?}", ch.meta.format),
                );
            }
        }
    }
    Ok(())
}

/// A server IUT's message carries only Statuses (and Results): no management command (`final`:
/// and Final; `alerts`: Alerts of these codes allowed, e.g. 1222).
fn no_commands(_: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let allowed: Vec<String> = crate::runner::checks::arg_strs(args, "alerts");
    let extra: Vec<String> = m
        .body
        .commands
        .iter()
        .filter(|c| match c {
            Command::Status(_) | Command::Results(_) => false,
            Command::Alert(a) => !allowed.iter().any(|x| Some(x.as_str()) == a.data.as_deref()),
            _ => true,
        })
        .map(|c| c.name().to_string())
        .collect();
    if !extra.is_empty() {
        return fail("Statuses only, no command", format!("commands {}", extra.join(", ")));
    }
    match args.get("final").and_then(|v| v.as_str()) {
        Some("absent") if m.body.r#final => fail("no <Final/> (the package goes on)", "<Final/>"),
        Some("present") if !m.body.r#final => fail("<Final/>", "no <Final/>"),
        _ => Ok(()),
    }
}

/// A server IUT's message carries an Alert of `code`.
fn has_alert(_: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let code = arg_str(args, "code")?;
    if m.body.commands.iter().any(|c| matches!(c, Command::Alert(a) if a.data.as_deref() == Some(code))) {
        return Ok(());
    }
    fail(
        format!("an Alert {code}"),
        format!("commands {}", m.body.commands.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")),
    )
}

/// The server's Add/Replace Items carry Meta Format whenever the data is not chr: b64 data
/// Format b64, an interior node Format node (digest §3.6, §4.1).
fn meta_format(b: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let (m, _) = message(obs)?;
    let target = arg_str(args, "target")?;
    let want = arg_str(args, "format")?;
    for c in all_commands(&m.body.commands) {
        if let Command::Add(x) | Command::Replace(x) = c {
            for i in &x.items {
                if i.target.as_ref().is_some_and(|l| same_node(&l.loc_uri, target)) {
                    let got = i.meta.as_ref().or(x.meta.as_ref()).and_then(|m| m.format.clone());
                    let same = got.as_deref().is_some_and(|g| {
                        if b.profile.format_case_insensitive {
                            g.eq_ignore_ascii_case(want)
                        } else {
                            g == want
                        }
                    });
                    if same {
                        return Ok(());
                    }
                    return fail(
                        format!("Meta Format {want} on the item of {target}"),
                        format!("Format {}", got.unwrap_or_else(|| "none (chr)".into())),
                    );
                }
            }
        }
    }
    // The command's absence is judged by dm12-session-carries (the queued commands arrive).
    Err(Failure::cannot_judge(format!("an Add or Replace of {target}"), "none in the message"))
}

/// The session record (`finish-session`) carries each of `commands` as requested: a command of
/// the same element and target whose other given parameters (data, format, type) are equal.
fn session_carries(_: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let want = crate::runner::checks::arg_commands(args, "commands");
    let got: Vec<Vec<String>> = crate::binding::dm2::checks::session_packages(obs)?.into_iter().flatten().collect();
    for w in &want {
        let same = |g: &Vec<String>| {
            g.first() == w.first()
                && g.get(1) == w.get(1)
                && w.iter()
                    .enumerate()
                    .skip(2)
                    .all(|(i, x)| x.is_empty() || g.get(i).map(|y| y == x).unwrap_or(x == "chr" && i == 3))
        };
        if !got.iter().any(same) {
            return fail(
                format!("the session to carry {w:?}, as queued (digest §4)"),
                format!("the commands received: {got:?}"),
            );
        }
    }
    Ok(())
}

/// The session record (`finish-session`) carries an Add or Replace of `target` whose Data
/// contains `contains`: in its text, or in the Data of a SyncML command fragment it holds (a
/// GwMO DMCommands value, `wire::dm12::gwmo::parse_dm_commands`, where the text is escaped).
fn session_data(_: &Dm12, args: &toml::Table, obs: &Observed, _: &CheckCtx) -> Result<(), Failure> {
    let target = arg_str(args, "target")?;
    let want = arg_str(args, "contains")?;
    let got: Vec<Vec<String>> = crate::binding::dm2::checks::session_packages(obs)?.into_iter().flatten().collect();
    let data: Vec<&String> = got
        .iter()
        .filter(|c| {
            matches!(c.first().map(String::as_str), Some("Add" | "Replace")) && c.get(1).is_some_and(|t| t == target)
        })
        .filter_map(|c| c.get(2))
        .collect();
    if data.is_empty() {
        return fail(
            format!("an Add or Replace of {target} with Data in the session"),
            format!("the commands received: {got:?}"),
        );
    }
    let in_fragment = |d: &str| {
        crate::wire::dm12::gwmo::parse_dm_commands(d).is_ok_and(|cmds| {
            crate::wire::dm12::commands::to_arrays(&cmds).iter().any(|c| c.iter().skip(1).any(|x| x.contains(want)))
        })
    };
    if data.iter().any(|d| d.contains(want) || in_fragment(d)) {
        return Ok(());
    }
    fail(format!("the Data of the {target} Add/Replace to contain {want:?}"), format!("Data {data:?}"))
}

const CODES: ArgKind = ArgKind::StatusCodes;

pub static CHECKS: &[Def] = &[
    Def {
        name: "dm12-media-type",
        about: "Content-Type is the DM 1.2 media type of the body's encoding",
        args: &[],
        run: media_type_ok,
    },
    Def {
        name: "dm12-encoding",
        about: "the message is in the binding's encoding (dm12: XML, dm12-wbxml: valid WBXML)",
        args: &[],
        run: encoding_is,
    },
    Def { name: "dm12-decodes", about: "the body is a SyncML DM 1.2 message", args: &[], run: decodes },
    Def { name: "dm12-versions", about: "SyncHdr VerDTD 1.2 and VerProto DM/1.2", args: &[], run: header_versions },
    Def {
        name: "dm12-dtd-order",
        about: "children in DTD order; every Status has a CmdRef",
        args: &[],
        run: dtd_order,
    },
    Def { name: "dm12-cmdid-unique", about: "CmdIDs unique within the message", args: &[], run: cmdid_unique },
    Def { name: "dm12-final", about: "the message carries <Final/>", args: &[], run: final_present },
    Def {
        name: "dm12-session-alert",
        about: "exactly one session Alert, of `code` (1200/1201)",
        args: &[arg("code", ArgKind::Str)],
        run: session_alert,
    },
    Def {
        name: "dm12-devinfo",
        about: "a Replace of ./DevInfo/DevId, Man, Mod, DmV, Lang with data",
        args: &[],
        run: devinfo,
    },
    Def {
        name: "dm12-session-id",
        about: "SessionID as in the message saved as `earlier`",
        args: &[arg("earlier", ArgKind::Str)],
        run: session_id_same,
    },
    Def {
        name: "dm12-msg-id",
        about: "MsgID 1, or the MsgID of `earlier` + 1",
        args: &[opt_arg("earlier", ArgKind::Str)],
        run: msg_id_next,
    },
    Def {
        name: "dm12-notified-session-id",
        about: "SessionID is the saved `notification`'s session id (profile session_id_form)",
        args: &[arg("notification", ArgKind::Str)],
        run: notified_session_id,
    },
    Def {
        name: "dm12-header-status",
        about: "first a Status for the answered message's SyncHdr (CmdRef 0, MsgRef)",
        args: &[],
        run: header_status,
    },
    Def {
        name: "dm12-statuses",
        about: "a Status with MsgRef, CmdRef, Cmd for each command answered (of element `cmd`; `by_order`: one without CmdRef counts, paired by Cmd and order)",
        args: &[opt_arg("cmd", ArgKind::Str), opt_arg("by_order", ArgKind::Bool)],
        run: statuses_match,
    },
    Def {
        name: "dm12-status-codes",
        about: "the Status of each answered `cmd` (of `target`) carries one of `codes`",
        args: &[arg("cmd", ArgKind::Str), opt_arg("target", ArgKind::Str), arg("codes", CODES)],
        run: status_codes,
    },
    Def {
        name: "dm12-refused-unknown",
        about: "the answered `cmd` gets an error status of profile unknown_command_status",
        args: &[arg("cmd", ArgKind::Str)],
        run: refused_unknown,
    },
    Def {
        name: "dm12-results",
        about: "Results for the Get of `target` (with `value`, `format`)",
        args: &[arg("target", ArgKind::Str), opt_arg("value", ArgKind::Str), opt_arg("format", ArgKind::Str)],
        run: results,
    },
    Def {
        name: "dm12-generic-alert",
        about: "an Alert 1226 with typed, formatted Items (and `correlator`), here or in `earlier`",
        args: &[opt_arg("correlator", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: generic_alert,
    },
    Def {
        name: "dm12-cred",
        about: "the SyncHdr Cred is right for `username`/`password` and the nonce the suite issued last",
        args: &[arg("username", ArgKind::Str), arg("password", ArgKind::Str)],
        run: cred_valid,
    },
    Def {
        name: "dm12-hmac",
        about:
            "the x-syncml-hmac header is right for `username`/`password`, the body and the nonce the suite issued last",
        args: &[arg("username", ArgKind::Str), arg("password", ArgKind::Str)],
        run: hmac_valid,
    },
    Def {
        name: "dm12-server-hmac",
        about: "a server's x-syncml-hmac is right for `username`/`password`, the body and the nonce of the suite's syncml:auth-MAC challenge",
        args: &[arg("username", ArgKind::Str), arg("password", ArgKind::Str)],
        run: server_hmac,
    },
    Def {
        name: "dm12-new-session",
        about: "a new session's message, not one more of the session that ended with `earlier`",
        args: &[arg("earlier", ArgKind::Str)],
        run: new_session,
    },
    Def {
        name: "dm12-resent-package1",
        about: "after a challenge: the session Alert again, with a Cred",
        args: &[],
        run: resent_package1,
    },
    Def {
        name: "dm12-server-header",
        about: "server SyncHdr: the client's SessionID, Target = the client's Source",
        args: &[],
        run: server_header,
    },
    Def {
        name: "dm12-server-cred",
        about: "the server's SyncHdr Cred answers the suite's challenge (md5 of `username`/`password`)",
        args: &[arg("username", ArgKind::Str), arg("password", ArgKind::Str)],
        run: server_cred,
    },
    Def {
        name: "dm12-server-msg-id",
        about: "server MsgID not used before in the session",
        args: &[],
        run: server_msg_id_unique,
    },
    Def {
        name: "dm12-header-status-code",
        about: "the SyncHdr Status carries one of `codes` (with a Chal of type `chal`)",
        args: &[arg("codes", CODES), opt_arg("chal", ArgKind::Str)],
        run: header_status_code,
    },
    Def {
        name: "dm12-no-commands",
        about: "Statuses only (Alerts of codes `alerts` allowed); `final` present|absent",
        args: &[opt_arg("alerts", ArgKind::StrList), opt_arg("final", ArgKind::Str)],
        run: no_commands,
    },
    Def {
        name: "dm12-has-alert",
        about: "the message carries an Alert of `code`",
        args: &[arg("code", ArgKind::Str)],
        run: has_alert,
    },
    Def {
        name: "dm12-session-carries",
        about: "the session record carries each of `commands` as queued",
        args: &[arg("commands", ArgKind::CommandList)],
        run: session_carries,
    },
    Def {
        name: "dm12-session-data",
        about: "the session record carries an Add/Replace of `target` whose Data contains `contains` (in its text, or in the Data of the SyncML commands it holds)",
        args: &[arg("target", ArgKind::Str), arg("contains", ArgKind::Str)],
        run: session_data,
    },
    Def {
        name: "dm12-meta-format",
        about: "the Add/Replace item of `target` carries Meta Format `format`",
        args: &[arg("target", ArgKind::Str), arg("format", ArgKind::Str)],
        run: meta_format,
    },
];

/// Both DM 1.2 media types, for tests and docs.
pub const MEDIA_TYPES: [&str; 2] = [MEDIA_XML, MEDIA_WBXML];
