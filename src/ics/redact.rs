//! The PIXIT as a flat `dotted.key → text` map (what `${pixit.…}` templates and reports use),
//! and the redaction of its sensitive values.
use super::Ics;
use serde_json::Value;
use std::collections::BTreeMap;

pub const REDACTED: &str = "<redacted>";
/// PIXIT values that must never appear in reports or traces (dotted paths under `pixit`).
pub const SENSITIVE: [&str; 3] = ["account.password", "notification.secret", "notification.auth_data"];

impl Ics {
    /// Every PIXIT value as `dotted.key → text` (sensitive ones included: they are needed on the
    /// wire; reports scrub them with [`Ics::sensitive_values`]). Absent optional values are
    /// left out.
    pub fn pixit_flat(&self) -> BTreeMap<String, String> {
        self.pixit_values()
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect()
    }

    /// Every PIXIT value as `dotted.key → JSON`, what `${pixit.…}` templates resolve to: text
    /// (numbers and booleans too, as their text), except `[pixit.mo]` data (MOData tables),
    /// which stays JSON. A server IUT's `account.server_id` is there only when the ICS gives
    /// it: its default ("dmcts") is the suite's SERVER-ID as a DM server, which says nothing
    /// about a server IUT's own, so a check that rests on it must not take the default for it.
    pub fn pixit_values(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let v = serde_json::to_value(&self.pixit).unwrap_or(Value::Null);
        flatten("", &v, &mut out);
        let defaulted = self.line_of("pixit.account.server_id").is_none()
            && self.pixit.account.server_id == super::AccountPixit::default().server_id;
        if self.iut.role == crate::scr::Role::Server && defaulted {
            out.remove("account.server_id");
        }
        out
    }

    /// One PIXIT value by dotted path (`account.server_id`, `iut.dev_id`,
    /// `timeouts.quiet_period_ms`, `mo.devid_uri`); a leading `pixit.` is accepted.
    pub fn pixit_lookup(&self, dotted: &str) -> Option<String> {
        let key = dotted.strip_prefix("pixit.").unwrap_or(dotted);
        self.pixit_flat().remove(key)
    }

    /// The effective ICS, PIXIT and profile as JSON, sensitive values replaced by "<redacted>".
    pub fn redacted_json(&self) -> Value {
        let mut pixit = serde_json::to_value(&self.pixit).unwrap_or(Value::Null);
        redact_pixit_json(&mut pixit);
        serde_json::json!({
            "path": self.path.display().to_string(),
            "iut": self.iut,
            "support": self.support,
            "all_optional_supported": self.all_optional_supported,
            "pixit": pixit,
            "pixit_defaults": self.pixit.mo_defaults.iter().map(|k| format!("mo.{k}")).collect::<Vec<_>>(),
            "profile": self.profile,
        })
    }

    /// The sensitive values in use, so traces and reports can scrub them wherever they appear.
    pub fn sensitive_values(&self) -> Vec<String> {
        let flat = self.pixit_flat();
        SENSITIVE.iter().filter_map(|k| flat.get(*k)).filter(|v| !v.is_empty()).cloned().collect()
    }
}

/// Replaces the [`SENSITIVE`] values of a PIXIT object (as JSON) by "<redacted>": for the ICS
/// of reports, and again for the one a certification bundle carries.
pub fn redact_pixit_json(pixit: &mut Value) {
    for s in SENSITIVE {
        let pointer = format!("/{}", s.replace('.', "/"));
        if let Some(v) = pixit.pointer_mut(&pointer) {
            if !v.is_null() {
                *v = Value::String(REDACTED.into());
            }
        }
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        // A `[pixit.mo]` value is one value, whatever its shape (MOData is a table).
        Value::Object(m) if prefix == "mo" => m.iter().for_each(|(k, v)| {
            out.insert(key(k), v.clone());
        }),
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_string(), Value::String(s.clone()));
        }
        other => {
            out.insert(prefix.to_string(), Value::String(other.to_string()));
        }
    }
}
