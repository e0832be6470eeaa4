//! Checks: pure functions of what a step observed. The data-driven checks of the case language
//! (HTTP and JSON, [`http`] and [`json`]) are protocol-neutral; named built-ins come from one
//! registry per provider — the generic ones here ([`builtins`]) and each binding's own — each
//! declared once with its argument schema, so the catalog rejects an unknown built-in or a bad
//! argument at load time (a catalog error), never as a verdict on the IUT.
pub mod builtins;
pub mod http;
pub mod json;

use crate::binding::Binding;
use crate::catalog::check::CheckKind;
pub use crate::wire::media::{accepts, media_type_of};
use serde_json::Value;

/// What a check looks at.
pub enum Observed<'a> {
    /// An HTTP request (await) or response (session steps).
    Http {
        status: Option<u16>,
        method: Option<&'a str>,
        path: Option<&'a str>,
        headers: &'a [(String, String)],
        body: &'a [u8],
    },
    /// A notification from a server IUT: its bytes and the binding's JSON view of them.
    Notification { bytes: &'a [u8], json: &'a Value },
    /// JSON data (an upper-tester answer, e.g. device.report).
    Json(&'a Value),
}

/// Notification credentials shared with the IUT (PIXIT `notification.secret`/`auth_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub secret: Vec<u8>,
    pub auth_data: Vec<u8>,
}

/// What a check may need besides the observation.
pub struct CheckCtx<'a> {
    /// The command arrays of the last command package the suite sent (client IUT) or received
    /// (server IUT): what a status package answers.
    pub last_commands: Option<&'a [Vec<String>]>,
    pub credentials: Option<&'a Credentials>,
    /// Values saved earlier in the case (`save_as`, `capture`, `set`), by name: a built-in may
    /// read a message the case saved (e.g. the Package#1 before this Package#3) without its
    /// content passing through the check's arguments.
    pub saved: Option<&'a std::collections::BTreeMap<String, serde_json::Value>>,
}

/// Why a check did not pass: the IUT violated the requirement, or the case itself is wrong (a
/// defect of the suite, verdict `error`, never charged to the IUT).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub expected: String,
    pub actual: String,
    /// Extra wording, e.g. that the check follows an UNVERIFIED profile default.
    pub note: Option<String>,
    pub case_defect: bool,
    /// The check could not judge: what it reads is missing for a reason another check's item
    /// answers for (e.g. a command the IUT never sent). The case ends `inconc`, never `fail`.
    pub cannot_judge: bool,
}

impl Failure {
    pub fn new(expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        Failure {
            expected: expected.into(),
            actual: actual.into(),
            note: None,
            case_defect: false,
            cannot_judge: false,
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Failure {
        self.note = Some(note.into());
        self
    }

    /// A defect of the case (its arguments, its order of steps), not of the IUT.
    pub fn case_defect(what: impl Into<String>) -> Failure {
        Failure {
            expected: what.into(),
            actual: "a defect of the case".into(),
            note: None,
            case_defect: true,
            cannot_judge: false,
        }
    }

    /// What the check reads is not there, and its absence is another item's business: the
    /// check cannot judge (`inconc`).
    pub fn cannot_judge(expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        Failure { cannot_judge: true, ..Failure::new(expected, actual) }
    }
}

/// A failed check as a `Result`.
pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Result<(), Failure> {
    Err(Failure::new(expected, actual))
}

/// The type of one built-in argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Str,
    Int,
    Bool,
    /// An array of strings.
    StrList,
    /// An array of status codes (100–599) or patterns (`"*"`, `"2xx"`, `"final-2xx"`).
    StatusCodes,
    /// An array of integers.
    IntList,
    /// An array of command arrays (each an array of strings), as `commands` are written.
    CommandList,
}

impl ArgKind {
    fn describe(self) -> &'static str {
        match self {
            ArgKind::Str => "a string",
            ArgKind::Int => "an integer",
            ArgKind::Bool => "true or false",
            ArgKind::StrList => "an array of strings",
            ArgKind::StatusCodes => "an array of status codes (100-599), \"*\" or a class such as \"2xx\"",
            ArgKind::IntList => "an array of integers",
            ArgKind::CommandList => "an array of command arrays (each an array of strings)",
        }
    }

    /// Whether a value fits; a whole `${...}` template fits anything (resolved at run time).
    fn admits(self, v: &toml::Value) -> bool {
        if let toml::Value::String(s) = v {
            if is_template(s) {
                return true;
            }
        }
        let admits_code = |c: &toml::Value| match c {
            toml::Value::Integer(i) => (100..600).contains(i),
            toml::Value::String(s) => crate::catalog::check::is_status_pattern(s) || is_template(s),
            _ => false,
        };
        match (self, v) {
            (ArgKind::Str, toml::Value::String(_)) => true,
            (ArgKind::Int, toml::Value::Integer(_)) => true,
            (ArgKind::Bool, toml::Value::Boolean(_)) => true,
            (ArgKind::StrList, toml::Value::Array(a)) => a.iter().all(|x| x.is_str()),
            (ArgKind::IntList, toml::Value::Array(a)) => a.iter().all(|x| x.is_integer()),
            (ArgKind::StatusCodes, toml::Value::Array(a)) => a.iter().all(admits_code),
            (ArgKind::CommandList, toml::Value::Array(a)) => a.iter().all(|c| match c {
                toml::Value::Array(c) => !c.is_empty() && c.iter().all(|x| x.is_str()),
                toml::Value::String(s) => is_template(s),
                _ => false,
            }),
            _ => false,
        }
    }
}

fn is_template(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("${") && t.ends_with('}')
}

/// One argument of a built-in check.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
}

pub const fn arg(name: &'static str, kind: ArgKind) -> ArgSpec {
    ArgSpec { name, kind, required: true }
}

pub const fn opt_arg(name: &'static str, kind: ArgKind) -> ArgSpec {
    ArgSpec { name, kind, required: false }
}

/// A built-in check of provider `P` (`()` for the generic ones, a binding for its own): name,
/// what it verifies, its arguments, and the function — declared once, used by the catalog
/// (validation, `dmcts cases builtins`) and the runner alike.
pub struct CheckDef<P: ?Sized> {
    pub name: &'static str,
    pub about: &'static str,
    pub args: &'static [ArgSpec],
    pub run: fn(&P, &toml::Table, &Observed, &CheckCtx) -> Result<(), Failure>,
}

/// What the catalog knows of a built-in: enough to validate and list it.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinInfo {
    pub name: &'static str,
    pub about: &'static str,
    pub args: &'static [ArgSpec],
}

impl<P: ?Sized> CheckDef<P> {
    pub fn info(&self) -> BuiltinInfo {
        BuiltinInfo { name: self.name, about: self.about, args: self.args }
    }
}

impl BuiltinInfo {
    /// Problems with `args` against the schema, for a catalog error (empty: fine).
    pub fn validate(&self, args: &toml::Table) -> Vec<String> {
        let mut out = Vec::new();
        for spec in self.args {
            match args.get(spec.name) {
                None if spec.required => out.push(format!(
                    "built-in check {} needs args.{} ({})",
                    self.name,
                    spec.name,
                    spec.kind.describe()
                )),
                Some(v) if !spec.kind.admits(v) => out.push(format!(
                    "built-in check {}: args.{} must be {}, found {v}",
                    self.name,
                    spec.name,
                    spec.kind.describe()
                )),
                _ => {}
            }
        }
        for k in args.keys() {
            if !self.args.iter().any(|a| a.name == k) {
                let known: Vec<&str> = self.args.iter().map(|a| a.name).collect();
                out.push(format!(
                    "built-in check {} has no argument {k:?}; its arguments: {}",
                    self.name,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ));
            }
        }
        out
    }

    /// Rendered arguments (templates resolved) must still fit the schema; a mismatch is a
    /// defect of the case.
    pub fn validate_rendered(&self, args: &toml::Table) -> Result<(), Failure> {
        for spec in self.args {
            if let Some(v) = args.get(spec.name) {
                let resolved_ok = match v {
                    toml::Value::String(s) if is_template(s) => false,
                    _ => spec.kind.admits(v),
                };
                if !resolved_ok {
                    return Err(Failure::case_defect(format!(
                        "args.{} of {} to be {} once templates are resolved (found {v})",
                        spec.name,
                        self.name,
                        spec.kind.describe()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Every built-in the cases of `binding` may name: the generic ones, then the binding's.
pub fn builtin_infos(binding: &dyn Binding) -> Vec<BuiltinInfo> {
    builtins::GENERIC.iter().map(CheckDef::info).chain(binding.builtins()).collect()
}

/// Finds a built-in by name for `binding`.
pub fn find_builtin(binding: &dyn Binding, name: &str) -> Option<BuiltinInfo> {
    builtin_infos(binding).into_iter().find(|b| b.name == name)
}

/// `dmcts cases builtins`: the generic built-ins, then each binding's, with their arguments.
pub fn builtins_listing() -> String {
    let row = |b: &BuiltinInfo| {
        let args: Vec<String> =
            b.args.iter().map(|a| if a.required { a.name.to_string() } else { format!("[{}]", a.name) }).collect();
        format!("{:<28} {:<24} {}\n", b.name, args.join(" "), b.about)
    };
    let mut s = String::from("generic (every binding):\n");
    builtins::GENERIC.iter().for_each(|d| s.push_str(&format!("  {}", row(&d.info()))));
    for binding in crate::binding::builtin_bindings() {
        s.push_str(&format!("binding {}:\n", binding.name()));
        binding.builtins().iter().for_each(|b| s.push_str(&format!("  {}", row(b))));
    }
    s
}

/// Evaluates a check whose templates have been rendered.
pub fn evaluate(kind: &CheckKind, obs: &Observed, ctx: &CheckCtx, binding: &dyn Binding) -> Result<(), Failure> {
    match kind {
        CheckKind::Builtin { name, args } => {
            let Some(info) = find_builtin(binding, name) else {
                return Err(Failure::case_defect(format!("a built-in check named {name:?}")));
            };
            info.validate_rendered(args)?;
            if let Some(def) = builtins::GENERIC.iter().find(|d| d.name == name) {
                return (def.run)(&(), args, obs, ctx);
            }
            binding
                .run_builtin(name, args, obs, ctx)
                .unwrap_or_else(|| Err(Failure::case_defect(format!("a built-in check named {name:?}"))))
        }
        k => http::evaluate(k, obs)
            .or_else(|| json::evaluate(k, obs))
            .unwrap_or_else(|| Err(Failure::case_defect(format!("a data-driven check that {k:?} can evaluate")))),
    }
}

// ---- helpers shared by check implementations --------------------------------------------

/// A header value, case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A JSON value for a failure message, cut at 300 characters.
pub fn show(v: Option<&Value>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => crate::trace::truncate_marked(&v.to_string(), 300),
    }
}

/// A body for a failure message, cut at 300 characters.
pub fn show_body(body: &[u8]) -> String {
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

/// Numbers compare by value (200 == 200.0); everything else structurally.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Whether a JSON document has a leaf (string, number or boolean) equal to `want`.
pub fn json_has_leaf(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        Value::Bool(b) => b.to_string() == want,
        Value::Array(a) => a.iter().any(|x| json_has_leaf(x, want)),
        Value::Object(o) => o.values().any(|x| json_has_leaf(x, want)),
        Value::Null => false,
    }
}

/// The observation as JSON: a JSON HTTP body, a notification's JSON view, or JSON data.
pub fn json_of(obs: &Observed) -> Result<Value, Failure> {
    match obs {
        Observed::Http { body, headers, .. } => serde_json::from_slice(body).or_else(|e| {
            // A SyncML DM 1.2 body is judged through its JSON view (wire::dm12::json).
            crate::wire::dm12::json::view(body, header(headers, "content-type").unwrap_or("")).ok_or_else(|| {
                Failure::new(
                    "a JSON body",
                    format!("{} ({e})", crate::trace::body_for_trace(&body[..body.len().min(200)])),
                )
            })
        }),
        Observed::Notification { json, .. } => Ok((*json).clone()),
        Observed::Json(v) => Ok((*v).clone()),
    }
}

/// The HTTP body of the observation.
pub fn body_of<'a>(obs: &'a Observed) -> Result<&'a [u8], Failure> {
    match obs {
        Observed::Http { body, .. } => Ok(body),
        _ => Err(Failure::case_defect("an HTTP message to check (this check reads an HTTP body)")),
    }
}

/// A string argument (schema-checked at load, so missing means a defect of the case).
pub fn arg_str<'a>(args: &'a toml::Table, key: &str) -> Result<&'a str, Failure> {
    args.get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| Failure::case_defect(format!("argument {key:?} (a string) for this built-in check")))
}

/// An argument that is an array of string arrays (`ArgKind::CommandList`).
pub fn arg_commands(args: &toml::Table, key: &str) -> Vec<Vec<String>> {
    args.get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_array())
                .map(|c| c.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// A string-array argument.
pub fn arg_strs(args: &toml::Table, key: &str) -> Vec<String> {
    args.get(key)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}
