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
    #[serde(flatten)]
    pub kind: CheckKind,
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
    /// A named check written in Rust (see [`BUILTINS`]).
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

/// Built-in checks: name and what it verifies. The catalog rejects any other name.
pub const BUILTINS: &[(&str, &str)] = &[
    ("package1-valid", "the body is a well-formed Package#1 (MOS entries with MIID arrays, Generic Alerts)"),
    ("package2-valid", "the body is a well-formed Package#2: {\"CMD\": [[string, ...], ...]} with known commands"),
    ("package3-valid", "the body is a well-formed Package#3: {\"Status\": [{\"sc\": number, ...}], \"Alert\"?}"),
    (
        "status-matches-commands",
        "Package#3 has one status per command of the Package#2 it answers (END excepted), in order",
    ),
    (
        "status-codes",
        "args.codes: the status codes of this Package#3 equal the list given, position by position, one per \
         command of the Package#2 but END ('*' = any code, '2xx' = any code of that class, 'final-2xx' = any 2xx but 202); positions of commands \
         the profile gives no status (commands_without_status, UNVERIFIED) are dropped",
    ),
    (
        "session-alert",
        "args.type = server-initiated|client-initiated: Package#1 carries that session alert; for server-initiated \
         also the NOTIFICATION-ID args.notification_id (placement per profile, UNVERIFIED)",
    ),
    ("mos-present", "Package#1 carries a MOS array of {DDF?, MOID?, MIID[]} entries"),
    ("generic-alerts-valid", "every Generic Alert has an AlertType, a defined Mark if any, and DataType whenever Data"),
    (
        "get-data",
        "args.index: the status entry carries GET data (member per profile get_data_member, UNVERIFIED); \
         args.contains: some value in it equals this",
    ),
    ("alert-present", "args.alert_type ('*' = any): an Alert of that type is present (args.source_uri optional)"),
    ("client-uri-well-formed", "args.pointer: the string at that pointer is a well-formed ClientURI"),
    ("mo-serialization-valid", "the body is a non-empty MO serialization array of {ClientURI, MOData, DDF?, CV?} (HPUT/HPOST body format UNVERIFIED)"),
    (
        "body-contains",
        "args.value: the request body carries that value (a JSON body: as a leaf anywhere; otherwise as text)",
    ),
    ("command-present", "args.command: Package#2 contains exactly this command array"),
    ("command-order", "args.names: the Package#2 commands appear in this order (other commands may interleave)"),
    ("package2-ends-session", "Package#2 contains END (the server ends the session)"),
    (
        "notification-conformant",
        "args.item: the notification has no problem attributed to that SCR item (VER, OC, option order/sizes...)",
    ),
    ("notification-option-present", "args.option: the notification carries that option (SERVER-ID, ...)"),
    ("notification-digest-valid", "the SHA256-DIGEST verifies with the registered secret and auth data"),
    ("report-statuses", "args.codes: device.report recorded a Package#3 with exactly these statuses"),
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.iter().any(|(n, _)| *n == name)
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
