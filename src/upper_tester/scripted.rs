//! Scripted back end: canned answers from a TOML file, for CI runs where the IUT's side is
//! set up in advance. The first matching entry answers; an entry with `once = true` answers
//! once. A request no entry matches is answered `failed`, naming the action and case: a
//! missing script line must never pass as `done`. The optional query actions (`idle`,
//! `iut.state`) are the exception: without an entry they are answered `unsupported`, as an IUT
//! that does not implement them would, so a script written before they existed keeps working.
//!
//! The file is at most [`MAX_SCRIPT_BYTES`], each answer at most [`MAX_ANSWER_BYTES`] as JSON:
//! a larger one stops the run at load, naming the line.
//!
//! ```toml
//! [[answer]]
//! action = "session.start"   # required, an action of the contract
//! case = "TC-DMC-*"          # optional glob on the case id (`*`, `?`)
//! status = "done"            # done | unsupported | failed
//! message = ""               # optional
//! data = { }                 # optional, any TOML value (becomes JSON)
//! once = true                # optional: consumed by its first use
//! ```
use super::client::UtError;
use super::{UtAnswer, UtRequest, UtStatus, ACTIONS, MAX_ANSWER_BYTES, QUERY_ACTIONS};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use toml::Spanned;

/// Upper bound on the size of a scripted answers file.
pub const MAX_SCRIPT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    answer: Vec<EntryDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDoc {
    action: Spanned<String>,
    #[serde(default)]
    case: Option<Spanned<String>>,
    status: UtStatus,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    once: bool,
}

/// One canned answer.
#[derive(Debug)]
struct Entry {
    action: String,
    case: Option<Regex>,
    answer: UtAnswer,
    once: bool,
}

pub(crate) struct ScriptedBackend {
    file: PathBuf,
    entries: Vec<Entry>,
    /// Which `once` entries have answered; shared by every task using the upper tester.
    used: Mutex<Vec<bool>>,
}

/// A case-id glob as an anchored regex: `*` any run of characters, `?` one character.
fn glob_regex(glob: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    Regex::new(&re)
}

fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())].iter().filter(|b| **b == b'\n').count() + 1
}

impl ScriptedBackend {
    pub(crate) fn load(file: &Path) -> Result<Self, UtError> {
        let cannot = |e: &dyn std::fmt::Display| {
            UtError::Config(format!("cannot read the scripted answers file {}: {e}", file.display()))
        };
        let f = std::fs::File::open(file).map_err(|e| cannot(&e))?;
        let mut src = String::new();
        f.take(MAX_SCRIPT_BYTES as u64 + 1).read_to_string(&mut src).map_err(|e| cannot(&e))?;
        if src.len() > MAX_SCRIPT_BYTES {
            return Err(cannot(&format_args!("larger than {MAX_SCRIPT_BYTES} bytes, the limit for this file")));
        }
        Self::parse(file, &src)
    }

    pub(crate) fn parse(file: &Path, src: &str) -> Result<Self, UtError> {
        let at =
            |offset: usize, msg: &str| UtError::Config(format!("{}:{}: {msg}", file.display(), line_of(src, offset)));
        let doc: FileDoc = toml::from_str(src).map_err(|e| {
            let msg = e.message().trim().to_string();
            match e.span() {
                Some(span) => at(span.start, &msg),
                None => UtError::Config(format!("{}: {msg}", file.display())),
            }
        })?;
        let mut entries = Vec::with_capacity(doc.answer.len());
        for e in doc.answer {
            let action = e.action.get_ref();
            if !ACTIONS.contains(&action.as_str()) {
                return Err(at(
                    e.action.span().start,
                    &format!("unknown action {action:?}; expected one of {}", ACTIONS.join(", ")),
                ));
            }
            let case = match &e.case {
                Some(glob) => Some(glob_regex(glob.get_ref()).map_err(|err| {
                    at(glob.span().start, &format!("case glob {:?} is not usable: {err}", glob.get_ref()))
                })?),
                None => None,
            };
            let answer = UtAnswer { status: e.status, message: e.message, data: e.data.unwrap_or(Value::Null) };
            let size = serde_json::to_vec(&answer).map_or(0, |v| v.len());
            if size > MAX_ANSWER_BYTES {
                return Err(at(
                    e.action.span().start,
                    &format!("this answer is {size} bytes as JSON, larger than {MAX_ANSWER_BYTES} bytes, the limit of the contract"),
                ));
            }
            entries.push(Entry { action: action.clone(), case, answer, once: e.once });
        }
        let used = Mutex::new(vec![false; entries.len()]);
        Ok(ScriptedBackend { file: file.to_path_buf(), entries, used })
    }

    pub(crate) fn answer(&self, req: &UtRequest) -> UtAnswer {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        for (i, e) in self.entries.iter().enumerate() {
            if used[i] || e.action != req.action || e.case.as_ref().is_some_and(|re| !re.is_match(&req.case)) {
                continue;
            }
            if e.once {
                used[i] = true;
            }
            return e.answer.clone();
        }
        if QUERY_ACTIONS.contains(&req.action.as_str()) {
            return UtAnswer::unsupported(format!(
                "scripted answers {}: no entry for the optional action {:?}",
                self.file.display(),
                req.action
            ));
        }
        UtAnswer::failed(format!(
            "scripted answers {}: no entry (left) for action {:?} in case {:?} step {}",
            self.file.display(),
            req.action,
            req.case,
            req.step
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let re = glob_regex("TC-DMC-*").unwrap();
        assert!(re.is_match("TC-DMC-SESS-001") && !re.is_match("TC-DMS-SESS-001"));
        let re = glob_regex("TC-?.1").unwrap();
        assert!(re.is_match("TC-a.1") && !re.is_match("TC-ab.1") && !re.is_match("TC-a21"));
    }

    #[test]
    fn errors_name_the_line() {
        let p = Path::new("ut.toml");
        let e = ScriptedBackend::parse(p, "[[answer]]\naction = \"reset\"\nstatus = \"ok\"\n").err().unwrap();
        assert!(e.to_string().contains("ut.toml:3:"), "{e}");
        let e = ScriptedBackend::parse(p, "\n[[answer]]\naction = \"rest\"\nstatus = \"done\"\n").err().unwrap();
        assert!(e.to_string().contains("ut.toml:3:") && e.to_string().contains("session.start"), "{e}");
        let e =
            ScriptedBackend::parse(p, "[[answer]]\naction = \"reset\"\nstatus = \"done\"\ncolour = 1\n").err().unwrap();
        assert!(e.to_string().contains("ut.toml:4:") && e.to_string().contains("colour"), "{e}");
        let e = ScriptedBackend::parse(p, "[[answer]]\naction = \"reset\"\n").err().unwrap();
        assert!(e.to_string().contains("ut.toml:1:") && e.to_string().contains("status"), "{e}");
    }

    fn req(action: &str) -> UtRequest {
        UtRequest { action: action.into(), case: "TC-X".into(), step: 1, args: Value::Null }
    }

    #[test]
    fn query_actions_are_scriptable_and_unsupported_without_an_entry() {
        let p = Path::new("ut.toml");
        let b = ScriptedBackend::parse(p, "").unwrap();
        assert_eq!(b.answer(&req("iut.state")).status, UtStatus::Unsupported);
        assert_eq!(b.answer(&req("idle")).status, UtStatus::Unsupported);
        // Any other action without an entry never passes.
        assert_eq!(b.answer(&req("session.start")).status, UtStatus::Failed);
        let src = "[[answer]]\naction = \"iut.state\"\nstatus = \"done\"\ndata = { state = \"exited\", detail = \"SIGSEGV\" }\n";
        let b = ScriptedBackend::parse(p, src).unwrap();
        let a = b.answer(&req("iut.state"));
        assert_eq!(
            a.iut_state().map(|s| format!("{s:?}")),
            Some("Exited(IutExit { detail: Some(\"SIGSEGV\") })".into())
        );
    }

    #[test]
    fn an_answer_over_the_limit_stops_the_load_naming_the_line() {
        let big = "x".repeat(MAX_ANSWER_BYTES);
        let src = format!("[[answer]]\naction = \"reset\"\nstatus = \"done\"\n\n[[answer]]\naction = \"idle\"\nstatus = \"done\"\nmessage = \"{big}\"\n");
        let e = ScriptedBackend::parse(Path::new("ut.toml"), &src).err().unwrap().to_string();
        assert!(
            e.contains("ut.toml:6:") && e.contains(&format!("larger than {MAX_ANSWER_BYTES} bytes")),
            "{}",
            &e[..200.min(e.len())]
        );
    }
}
