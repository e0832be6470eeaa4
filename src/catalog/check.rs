//! Checks: what a step asserts about a request, a response or a notification. Every check
//! names the SCR item it verifies, so a failure can print the requirement.
use serde::Deserialize;
use serde_json::Value;

/// One check as declared in a case file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Check {
    /// The SCR item this check verifies.
    pub scr: String,
    /// Optional wording of the requirement, printed on failure (defaults to the item's).
    #[serde(default)]
    pub why: Option<String>,
    /// A PIXIT value the check's outcome depends on: when the ICS does not give it (the case
    /// used a default the vendor never confirmed), a failure is `inconc` naming it, not `fail`.
    #[serde(default)]
    pub relies_on: Option<Reliance>,
    /// The verdict when the check fails: `fail` (default), or `inconc` for a check that guards a
    /// preparation made through another command (e.g. reading back, with HPUT, the URL an HGET
    /// stored before the EXEC under test): its failure means the case could not be carried out,
    /// not that `scr` was violated.
    #[serde(default)]
    pub on_fail: OnFail,
    /// The check rests on an inference, not on a sentence of the spec: why the requirement is
    /// read so (e.g. "support of VER" read as "ignore any other VER"). Shown with its failure in
    /// every report; the profile may make such failures informational (see `Ctx::judgement_failed`).
    #[serde(default)]
    pub inferred: Option<String>,
    #[serde(flatten)]
    pub kind: CheckKind,
}

/// What a check relies on (see [`Check::relies_on`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reliance {
    /// The PIXIT value, as `${pixit.X}` names it (e.g. `mo.exec_result_alert_type`).
    pub pixit: String,
    /// Why a failure without it proves nothing (printed in the inconclusive reason).
    pub note: String,
}

/// A check on an upper-tester answer (`contract` of a `ut` or `report` step): that the upper
/// tester demonstrably did what was asked. Its failure is `inconc` naming the contract point
/// (the action's section of docs/upper-tester.md), never a protocol verdict.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContractCheck {
    /// What the contract asks of the answer, printed on failure.
    #[serde(default)]
    pub why: Option<String>,
    #[serde(flatten)]
    pub kind: CheckKind,
}

/// What a failed check makes of the case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFail {
    #[default]
    Fail,
    Inconc,
}

/// Data-driven checks, plus named built-ins for what is too rich for data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CheckKind {
    /// The HTTP status of the response (send) or of the answer (await) equals `equals`.
    Status {
        equals: u16,
    },
    /// The request method equals `equals` (await).
    Method {
        equals: String,
    },
    HeaderPresent {
        header: String,
    },
    HeaderAbsent {
        header: String,
    },
    HeaderEquals {
        header: String,
        value: String,
    },
    /// The media type (type/subtype, parameters ignored, case-insensitive) equals `value`.
    MediaType {
        #[serde(default = "content_type")]
        header: String,
        value: String,
    },
    /// The header (an Accept-style list) admits `value`.
    HeaderAccepts {
        header: String,
        value: String,
    },
    BodyEmpty {},
    /// The path of the request (relative to its endpoint) equals `equals`.
    Path {
        equals: String,
    },
    JsonExists {
        pointer: String,
    },
    JsonAbsent {
        pointer: String,
    },
    JsonEquals {
        pointer: String,
        value: Value,
    },
    JsonMatches {
        pointer: String,
        regex: String,
    },
    JsonType {
        pointer: String,
        #[serde(rename = "type")]
        json_type: JsonType,
    },
    JsonLength {
        pointer: String,
        #[serde(default)]
        equals: Option<usize>,
        #[serde(default)]
        min: Option<usize>,
        #[serde(default)]
        max: Option<usize>,
    },
    /// The value at `pointer` equals one of `values`.
    JsonOneOf {
        pointer: String,
        values: Vec<Value>,
    },
    /// Some element of the array at `pointer` has `value` at `item_pointer`.
    JsonContains {
        pointer: String,
        item_pointer: String,
        value: Value,
    },
    /// No element of the array at `pointer` has `value` at `item_pointer`.
    JsonNotContains {
        pointer: String,
        item_pointer: String,
        value: Value,
    },
    /// A named check written in Rust: a generic one or the case's binding's (`dmcts cases
    /// builtins` lists them), its arguments validated at load.
    Builtin {
        name: String,
        #[serde(default)]
        args: toml::Table,
    },
}

fn content_type() -> String {
    "Content-Type".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

impl JsonType {
    pub fn matches(self, v: &Value) -> bool {
        match self {
            JsonType::String => v.is_string(),
            JsonType::Number => v.is_number(),
            JsonType::Integer => v.is_i64() || v.is_u64(),
            JsonType::Boolean => v.is_boolean(),
            JsonType::Array => v.is_array(),
            JsonType::Object => v.is_object(),
            JsonType::Null => v.is_null(),
        }
    }
}

/// A status-code pattern of `status-codes`: "*", a class "1xx" … "5xx", or "final-2xx".
pub fn is_status_pattern(s: &str) -> bool {
    s == "*" || s == FINAL_SUCCESS || (s.len() == 3 && s.ends_with("xx") && matches!(s.as_bytes()[0], b'1'..=b'5'))
}

/// Any final success code: 2xx but 202, which announces an asynchronous result (EXEC only).
pub const FINAL_SUCCESS: &str = "final-2xx";

/// Whether a status code matches a `status-codes` pattern (see [`is_status_pattern`]).
pub fn status_matches(pattern: &str, code: i64) -> bool {
    match pattern {
        "*" => true,
        FINAL_SUCCESS => (200..300).contains(&code) && code != 202,
        p if is_status_pattern(p) => (100..600).contains(&code) && (code / 100).to_string() == p[..1],
        _ => false,
    }
}

impl CheckKind {
    /// A short name for failure messages.
    pub fn label(&self) -> String {
        use CheckKind as K;
        match self {
            K::Builtin { name, .. } => name.clone(),
            K::Status { .. } => "status".into(),
            K::Method { .. } => "method".into(),
            K::HeaderPresent { header } => format!("header-present {header}"),
            K::HeaderAbsent { header } => format!("header-absent {header}"),
            K::HeaderEquals { header, .. } => format!("header-equals {header}"),
            K::MediaType { header, .. } => format!("media-type {header}"),
            K::HeaderAccepts { header, .. } => format!("header-accepts {header}"),
            K::BodyEmpty {} => "body-empty".into(),
            K::Path { .. } => "path".into(),
            K::JsonExists { pointer } => format!("json-exists {pointer}"),
            K::JsonAbsent { pointer } => format!("json-absent {pointer}"),
            K::JsonEquals { pointer, .. } => format!("json-equals {pointer}"),
            K::JsonMatches { pointer, .. } => format!("json-matches {pointer}"),
            K::JsonType { pointer, .. } => format!("json-type {pointer}"),
            K::JsonLength { pointer, .. } => format!("json-length {pointer}"),
            K::JsonContains { pointer, .. } => format!("json-contains {pointer}"),
            K::JsonOneOf { pointer, .. } => format!("json-one-of {pointer}"),
            K::JsonNotContains { pointer, .. } => format!("json-not-contains {pointer}"),
        }
    }
}
