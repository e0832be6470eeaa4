//! Interactive back end: a human operator performs each action and types the outcome. Every
//! prompt has a stable id, `UT-<ACTION>` (e.g. `UT-SESSION.START`), that vendors, scripts and
//! `plan` output can key on. Without a terminal on stdin, every call ends at once with
//! [`UtError::RequiresOperator`], which the runner turns into a `skipped` case with reason
//! `requires-operator`.
//!
//! The optional query actions (`idle`, `iut.state`) are never put to an operator: they are
//! answered `unsupported` at once, with or without a terminal (a person cannot watch a process
//! table in time, and a prompt would cost a step timeout for a question that only saves time).
//! Reply lines are bounded by [`MAX_ANSWER_BYTES`]; a longer one is refused and asked again.
//!
//! A prompt that sends the device somewhere names the URL (the DM server URL for
//! `session.start`, the notification listener for `notification.send`), from the endpoint table
//! the target gives the back end ([`super::UpperTester::with_endpoints`]).
use super::client::UtError;
use super::{action, UtAnswer, UtRequest, MAX_ANSWER_BYTES, QUERY_ACTIONS};
use crate::peers::endpoints::Endpoints;
use base64::Engine;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc::{channel, Receiver};

/// Lines typed ahead of a prompt that are kept; the reader waits beyond that.
const TYPED_AHEAD: usize = 64;

/// The stable prompt id of an action: `UT-` and the action in capitals.
pub fn prompt_id(action: &str) -> String {
    format!("UT-{}", action.to_ascii_uppercase())
}

/// Actions whose `done` must carry data: the suite checks it.
fn data_required(action: &str) -> bool {
    action == action::DEVICE_REPORT || action.starts_with("software.") || action == action::GATEWAY_ATTACH
}

fn arg(args: &Value, key: &str) -> Option<String> {
    match args.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

fn arg_or(args: &Value, key: &str, missing: &str) -> String {
    arg(args, key).unwrap_or_else(|| missing.to_string())
}

/// `[["GET","urn:x//FwV"],["END"]]` → `GET urn:x//FwV; END`.
fn commands_text(cmds: Option<&Value>) -> String {
    let Some(Value::Array(cmds)) = cmds else { return "(no commands given)".into() };
    cmds.iter()
        .map(|c| match c {
            Value::Array(parts) => parts
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            v => v.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The operator's instruction for `req`: one human sentence per action, naming its arguments
/// and, where `endpoints` are known, the suite's URL the device must use.
pub fn instruction(req: &UtRequest, endpoints: Option<&Endpoints>) -> String {
    let a = &req.args;
    // " at <URL>" when the suite's endpoint is known.
    let at = |name: &str| endpoints.and_then(|e| e.url(name)).map(|u| format!(" at {u}")).unwrap_or_default();
    match req.action.as_str() {
        action::RESET => "Reset the IUT to its initial state: end any DM session and forget queued work, \
                          registrations and stored results."
            .into(),
        action::IDLE => "Answer `done` once the IUT has no DM session and no queued work in progress \
                         (or `unsupported` if you cannot tell)."
            .into(),
        action::IUT_STATE => "Say whether the IUT process is running, idle, or has exited: `done {\"state\": \
                              \"running\"|\"idle\"|\"exited\", \"detail\": \"...\"}`."
            .into(),
        action::SESSION_START => format!(
            "Make the DM client open a client-initiated DM session (send Package#1) to its DM server{} now.",
            at("dm")
        ),
        action::NOTIFICATION_DELIVER => {
            let b64 = arg_or(a, "bytes_b64", "");
            let hex = base64::engine::general_purpose::STANDARD.decode(&b64).map(hex::encode).unwrap_or_default();
            format!(
                "Deliver this DM notification (Package#0) to the DM client through its notification channel, exactly \
                 as given: base64 {b64} (hex {hex})."
            )
        }
        action::ALERT_RAISE => {
            let alert = a.get("alert").filter(|v| v.is_object()).unwrap_or(a);
            format!(
                "Make the DM client raise a Generic Alert of type {} (SourceURI {}, Mark {}) to its DM server{}; the \
                 full alert: {alert}",
                arg_or(alert, "AlertType", "(none given)"),
                arg_or(alert, "SourceURI", "none"),
                arg_or(alert, "Mark", "none"),
                at("dm")
            )
        }
        action::CONFIG_REQUEST => format!(
            "Have a local application on the device ask for the configuration of MO {}; the DM client should fetch \
             it from the URI a DEFAULT command stored for that MOID.",
            arg_or(a, "moid", "(no MOID given)")
        ),
        action::FIRMWARE_USER_ANSWER => format!(
            "Set the answer the device's user gives to the next firmware update prompt: {} (accept = {}).",
            if a.get("accept").and_then(Value::as_bool) == Some(false) { "decline" } else { "accept" },
            arg_or(a, "accept", "(not given)")
        ),
        action::UI_ANSWER => format!(
            "Answer the next user-interaction prompt of the device (a DM 1.2 Alert 1101 confirmation) with: {}.",
            arg_or(a, "answer", "(no answer given)")
        ),
        action::FIRMWARE_UPDATE => format!(
            "Have the DM server start a firmware update (FUMO) of device {}: mode {}, package {}, descriptor {}; \
             answer `done` once the update is started (its commands queued).",
            arg_or(a, "dev_id", "(no DevID given)"),
            arg_or(a, "mode", "(no mode given)"),
            arg_or(a, "package_url", "none"),
            arg_or(a, "descriptor_url", "none")
        ),
        action::DEVICE_REGISTER => {
            let creds = match a.get("credentials") {
                Some(c) if c.is_object() => format!(
                    "HTTP Basic user {:?} with password {:?}",
                    arg_or(c, "username", ""),
                    arg_or(c, "password", "")
                ),
                _ => "no HTTP authentication".into(),
            };
            let notif = match a.get("notification") {
                Some(n) if n.is_object() => format!(
                    "send its notifications (Package#0) to {} with secret {:?} and auth data {:?}",
                    arg_or(n, "address", "no address (the suite will ask for the bytes instead)"),
                    arg_or(n, "secret", ""),
                    arg_or(n, "auth_data", "")
                ),
                _ => "no notification channel".into(),
            };
            let dev_id = arg_or(a, "dev_id", "(no DevID given)");
            format!(
                "Register device {dev_id} on the DM server, with {creds}; {notif}. The server uses its own \
                 ServerID. Answer `done {{\"dev_id\": \"{dev_id}\"}}` once it is registered."
            )
        }
        action::NOTIFICATION_SEND => {
            let mos = if a.get("req_mos").and_then(Value::as_bool).unwrap_or(false) {
                "asking for the device's MOs (req_mos)"
            } else {
                "without asking for MOs"
            };
            let nid = arg(a, "notification_id").map(|n| format!(", NOTIFICATION-ID {n}")).unwrap_or_default();
            format!(
                "Make the DM server send a DM notification (Package#0) to device {}, {mos}{nid}. Answer `done` if \
                 it went to the registered notification address{}, or `done <base64 of the Package#0 bytes>`.",
                arg_or(a, "dev_id", "(no DevID given)"),
                at("notify")
            )
        }
        action::COMMANDS_ENQUEUE => format!(
            "Through the DM server's External Management Infrastructure, queue these commands for device {}, \
             after any already queued: {}. (A CONT without a URI: continue the session at another endpoint of the \
             server.)",
            arg_or(a, "dev_id", "(no DevID given)"),
            commands_text(a.get("commands"))
        ),
        action::DEVICE_REPORT => format!(
            "Report what the DM server recorded for device {}: answer `done {{\"statuses\": [...], \"alerts\": \
             [...], \"exec_results\": [...], \"sessions\": n}}` on one line.",
            arg_or(a, "dev_id", "(no DevID given)")
        ),
        action::SOFTWARE_INSTALL
        | action::SOFTWARE_REMOVE
        | action::SOFTWARE_ACTIVATE
        | action::SOFTWARE_DEACTIVATE
        | action::SOFTWARE_INVENTORY => format!(
            "Through the DM server's External Management Infrastructure, ask for SCOMO operation {} on device {} \
             with {a}. Answer `done {{\"exec\": [\"EXEC\", <ClientURI>, <ServerURI>]}}` on one line, naming the EXEC \
             the server will send (software.inventory: `done {{}}`).",
            req.action,
            arg_or(a, "dev_id", "(no DevID given)")
        ),
        action::GATEWAY_ATTACH => format!(
            "Make the DM Gateway manage these End Devices (groups {}): device <DeviceID> takes its notifications at \
             {}/<DeviceID>. Answer `done {{\"dm_url\": \"<the gateway's DM server URL for its End Devices>\"}}` on \
             one line.",
            a.get("groups").map(|g| g.to_string()).unwrap_or_else(|| "(none given)".into()),
            arg_or(a, "notify_base", "(no notify_base given)")
        ),
        action::GATEWAY_IMAGE => format!(
            "Have the DM server distribute image {} to gateway {} through its Image Inventory instance {}; answer \
             `done` once the commands are queued.",
            arg_or(a, "image_url", "(no image_url given)"),
            arg_or(a, "dev_id", "(no DevID given)"),
            arg_or(a, "image_uri", "(default)")
        ),
        action::GATEWAY_FANOUT => format!(
            "Have the DM server fan the image {} out through gateway {} to group {} (Fanout job {}); answer `done` \
             once the commands are queued.",
            arg_or(a, "image_uri", "(default)"),
            arg_or(a, "dev_id", "(no DevID given)"),
            arg_or(a, "group", "(no group given)"),
            arg_or(a, "fanout_uri", "(default)")
        ),
        other => format!("Perform upper-tester action {other:?} with these arguments: {a}"),
    }
}

/// Reads one operator reply: `done [data]`, `unsupported [why]`, `failed [why]`. `Ok(None)` is
/// an empty line; `Err` says what was expected, and the operator is asked again.
pub fn parse_reply(action: &str, line: &str) -> Result<Option<UtAnswer>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    match word.to_ascii_lowercase().as_str() {
        "done" if rest.is_empty() && data_required(action) => {
            Err(format!("{action} must carry data: type `done <JSON>` on one line"))
        }
        "done" if rest.is_empty() => Ok(Some(UtAnswer::done(Value::Null))),
        "done" => {
            if let Ok(v) = serde_json::from_str::<Value>(rest) {
                return Ok(Some(UtAnswer::done(v)));
            }
            if action == action::NOTIFICATION_SEND && base64::engine::general_purpose::STANDARD.decode(rest).is_ok() {
                return Ok(Some(UtAnswer::done(json!({ "bytes_b64": rest }))));
            }
            let expected = if action == action::NOTIFICATION_SEND { "JSON or base64 bytes" } else { "JSON" };
            Err(format!("after `done`, expected {expected}; got {rest:?}"))
        }
        "unsupported" => Ok(Some(UtAnswer::unsupported(rest))),
        "failed" | "fail" => Ok(Some(UtAnswer::failed(rest))),
        _ => Err(format!("expected `done`, `unsupported [why]` or `failed [why]`; got {line:?}")),
    }
}

type Output = Box<dyn Write + Send>;

/// One line read from the operator.
enum Line {
    Text(String),
    /// A line longer than [`MAX_ANSWER_BYTES`] (its length so far); it was read and dropped.
    TooLong(usize),
}

struct Lines {
    rx: Receiver<std::io::Result<Line>>,
    /// The last prompt timed out: lines already typed were meant for it, not the next one.
    stale: bool,
}

struct Terminal {
    /// Taken by the reader thread on the first prompt, so building an upper tester for `plan`
    /// never touches stdin.
    input: Mutex<Option<Box<dyn BufRead + Send>>>,
    lines: OnceLock<tokio::sync::Mutex<Lines>>,
    out: Mutex<Output>,
}

pub(crate) struct InteractiveBackend {
    term: Option<Terminal>,
    /// The suite's endpoints, once the target is prepared; prompts name them.
    endpoints: OnceLock<Endpoints>,
}

impl InteractiveBackend {
    pub(crate) fn from_stdin() -> Self {
        if !std::io::stdin().is_terminal() {
            return InteractiveBackend { term: None, endpoints: OnceLock::new() };
        }
        // Prompts go to stderr so stdout stays the runner's.
        Self::with_io(std::io::BufReader::new(std::io::stdin()), std::io::stderr())
    }

    pub(crate) fn with_io(input: impl BufRead + Send + 'static, output: impl Write + Send + 'static) -> Self {
        InteractiveBackend {
            term: Some(Terminal {
                input: Mutex::new(Some(Box::new(input))),
                lines: OnceLock::new(),
                out: Mutex::new(Box::new(output)),
            }),
            endpoints: OnceLock::new(),
        }
    }

    /// The endpoint table prompts name URLs from; the first one given stays (one run, one
    /// listener).
    pub(crate) fn set_endpoints(&self, endpoints: Endpoints) {
        let _ = self.endpoints.set(endpoints);
    }

    pub(crate) async fn call(&self, req: &UtRequest, timeout: Duration) -> Result<UtAnswer, UtError> {
        let id = prompt_id(&req.action);
        if QUERY_ACTIONS.contains(&req.action.as_str()) {
            return Ok(UtAnswer::unsupported(format!(
                "{} is not asked of an operator (interactive upper tester)",
                req.action
            )));
        }
        let Some(term) = &self.term else {
            return Err(UtError::RequiresOperator { prompt_id: id });
        };
        let deadline = tokio::time::Instant::now() + timeout;
        // One prompt at a time: the operator answers them in order.
        let Ok(mut lines) = tokio::time::timeout_at(deadline, term.lines().lock()).await else {
            return Err(UtError::timeout(timeout));
        };
        if lines.stale {
            while lines.rx.try_recv().is_ok() {}
            lines.stale = false;
        }
        term.say(&format!(
            "\n[{id}] {} step {} (answer within {} s)\n  {}\n  args: {}\n  reply: done{} | unsupported [why] | failed [why]\n> ",
            if req.case.is_empty() { "-" } else { &req.case },
            req.step,
            timeout.as_secs_f64().ceil(),
            instruction(req, self.endpoints.get()),
            req.args,
            if data_required(&req.action) { " <JSON>" } else { " [JSON]" },
        ));
        loop {
            match tokio::time::timeout_at(deadline, lines.rx.recv()).await {
                Err(_) => {
                    lines.stale = true;
                    term.say(&format!("\n[{id}] no answer within {} ms: the step timed out\n", timeout.as_millis()));
                    return Err(UtError::timeout(timeout));
                }
                // End of input or a read error: no operator can answer any more.
                Ok(None) | Ok(Some(Err(_))) => return Err(UtError::RequiresOperator { prompt_id: id }),
                Ok(Some(Ok(Line::TooLong(n)))) => term
                    .say(&format!("  that reply is over {n} bytes, longer than the limit of {MAX_ANSWER_BYTES}\n> ")),
                Ok(Some(Ok(Line::Text(line)))) => match parse_reply(&req.action, &line) {
                    Ok(Some(answer)) => return Ok(answer),
                    Ok(None) => term.say("> "),
                    Err(why) => term.say(&format!("  {why}\n> ")),
                },
            }
        }
    }
}

/// Reads one line (without its end), never holding more than `limit` bytes of it: a longer
/// line is read to its end and dropped. `None` at end of input.
fn read_line_limited(input: &mut dyn BufRead, limit: usize) -> std::io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut seen = 0usize;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            // End of input: a last line without its newline still counts.
            return Ok((seen > 0).then(|| finish(line, seen, limit)));
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None => (buf, buf.len()),
        };
        seen += chunk.len();
        if seen <= limit {
            line.extend_from_slice(chunk);
        }
        let ended = done > chunk.len();
        input.consume(done);
        if ended {
            return Ok(Some(finish(line, seen, limit)));
        }
    }
}

fn finish(line: Vec<u8>, seen: usize, limit: usize) -> Line {
    if seen > limit {
        Line::TooLong(seen)
    } else {
        Line::Text(String::from_utf8_lossy(&line).into_owned())
    }
}

impl Terminal {
    fn lines(&self) -> &tokio::sync::Mutex<Lines> {
        self.lines.get_or_init(|| {
            let (tx, rx) = channel(TYPED_AHEAD);
            let input = self.input.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(mut input) = input {
                // A plain thread, not spawn_blocking: a read blocked on the terminal must not
                // keep the tokio runtime from shutting down, and it outlives a timed-out prompt.
                let spawned = std::thread::Builder::new().name("dmcts-operator".into()).spawn(move || loop {
                    match read_line_limited(&mut input, MAX_ANSWER_BYTES) {
                        Ok(None) => break,
                        Ok(Some(line)) => {
                            if tx.blocking_send(Ok(line)).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            break;
                        }
                    }
                });
                // Without the thread the channel is closed: calls end as requires-operator.
                drop(spawned);
            }
            tokio::sync::Mutex::new(Lines { rx, stale: false })
        })
    }

    fn say(&self, s: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A closed terminal only loses the prompt text; the timeout still bounds the wait.
        let _ = out.write_all(s.as_bytes()).and_then(|_| out.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upper_tester::{UtStatus, ACTIONS};

    fn req(action: &str, args: Value) -> UtRequest {
        UtRequest { action: action.into(), case: "TC-X".into(), step: 1, args }
    }

    fn instruction_of(req: &UtRequest) -> String {
        instruction(req, None)
    }

    #[test]
    fn prompt_ids_are_stable() {
        assert_eq!(prompt_id("session.start"), "UT-SESSION.START");
        let ids: Vec<String> = ACTIONS.iter().map(|a| prompt_id(a)).collect();
        assert!(ids.contains(&"UT-DEVICE.REPORT".to_string()) && ids.len() == ACTIONS.len());
    }

    #[test]
    fn instructions_name_the_arguments() {
        let s = instruction_of(&req(
            action::COMMANDS_ENQUEUE,
            json!({"dev_id": "IMEI:1", "commands": [["GET", "urn:x//FwV"], ["END"]]}),
        ));
        assert!(s.contains("IMEI:1") && s.contains("GET urn:x//FwV; END"), "{s}");
        let s = instruction_of(&req(action::ALERT_RAISE, json!({"AlertType": "urn:oma:at:x", "Mark": "critical"})));
        assert!(s.contains("urn:oma:at:x") && s.contains("critical"), "{s}");
        let s = instruction_of(&req(action::CONFIG_REQUEST, json!({"moid": "urn:oma:mo:x:1.0"})));
        assert!(s.contains("urn:oma:mo:x:1.0") && s.contains("DEFAULT"), "{s}");
        let s = instruction_of(&req(action::NOTIFICATION_DELIVER, json!({"bytes_b64": "AAE="})));
        assert!(s.contains("AAE=") && s.contains("0001"), "{s}");
        for a in ACTIONS {
            assert!(!instruction_of(&req(a, json!({}))).is_empty());
        }
    }

    #[test]
    fn long_lines_are_refused_without_being_kept() {
        let mut input = std::io::Cursor::new(format!("done\r\n{}\nfailed x\nlast", "y".repeat(20)).into_bytes());
        let mut next = || match read_line_limited(&mut input, 10).unwrap() {
            Some(Line::Text(t)) => format!("text:{t}"),
            Some(Line::TooLong(n)) => format!("too long:{n}"),
            None => "eof".into(),
        };
        assert_eq!(next(), "text:done\r");
        assert_eq!(next(), "too long:20");
        assert_eq!(next(), "text:failed x");
        assert_eq!(next(), "text:last");
        assert_eq!(next(), "eof");
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply("reset", "  done ").unwrap().unwrap().status, UtStatus::Done);
        assert_eq!(parse_reply("reset", "").unwrap(), None);
        let a = parse_reply("reset", "FAILED device is off").unwrap().unwrap();
        assert_eq!((a.status, a.message.as_str()), (UtStatus::Failed, "device is off"));
        assert_eq!(parse_reply("reset", "unsupported").unwrap().unwrap().status, UtStatus::Unsupported);
        assert!(parse_reply("reset", "yes").is_err());
        let a = parse_reply("notification.send", "done AAECAw==").unwrap().unwrap();
        assert_eq!(a.data, json!({"bytes_b64": "AAECAw=="}));
        let a = parse_reply("device.report", r#"done {"sessions": 1}"#).unwrap().unwrap();
        assert_eq!(a.data, json!({"sessions": 1}));
        assert!(parse_reply("device.report", "done").is_err());
        assert!(parse_reply("session.start", "done not json").is_err());
    }
}
