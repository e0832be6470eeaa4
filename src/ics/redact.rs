//! The PIXIT as a flat `dotted.key → text` map (what `${pixit.…}` templates and reports use),
//! and the redaction of its sensitive values.
use super::Ics;
use serde_json::Value;
use std::collections::BTreeMap;

const REDACTED: &str = "<redacted>";
/// PIXIT values that must never appear in reports or traces (dotted paths under `pixit`).
const SENSITIVE: [&str; 3] = ["account.password", "notification.secret", "notification.auth_data"];

impl Ics {
    /// Every PIXIT value as `dotted.key → text` (sensitive ones included: they are needed on the
    /// wire; reports scrub them with [`Ics::sensitive_values`]). Absent optional values are
    /// left out.
    pub fn pixit_flat(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let v = serde_json::to_value(&self.pixit).unwrap_or(Value::Null);
        flatten("", &v, &mut out);
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
        for s in SENSITIVE {
            let pointer = format!("/{}", s.replace('.', "/"));
            if let Some(v) = pixit.pointer_mut(&pointer) {
                if !v.is_null() {
                    *v = Value::String(REDACTED.into());
                }
            }
        }
        serde_json::json!({
            "path": self.path.display().to_string(),
            "iut": self.iut,
            "support": self.support,
            "all_optional_supported": self.all_optional_supported,
            "pixit": pixit,
            "profile": self.profile,
        })
    }

    /// The sensitive values in use, so traces and reports can scrub them wherever they appear.
    pub fn sensitive_values(&self) -> Vec<String> {
        let flat = self.pixit_flat();
        SENSITIVE.iter().filter_map(|k| flat.get(*k)).filter(|v| !v.is_empty()).cloned().collect()
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}
