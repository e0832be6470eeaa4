//! `when` on a step: the step runs only if a value the case has seen so far is (or is not) the
//! one given. What the IUT may legitimately choose decides what the suite waits for next: an
//! EXEC answered 202 announces an asynchronous result, which the case waits for before it reads
//! the tree back; an EXEC answered synchronously announces none.
use serde::Deserialize;
use serde_json::Value;

/// One condition. A step runs when all of its conditions hold (a `use` step's `when` applies to
/// every step of the fixture, together with the fixture step's own).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The value judged, resolved when the step is about to run: a template such as
    /// `"${exec_status}"` (a string that is exactly one template keeps the value's JSON type).
    pub value: String,
    /// The step runs when `value` equals this.
    #[serde(default)]
    pub equals: Option<Value>,
    /// The step runs when `value` differs from this.
    #[serde(default)]
    pub not_equals: Option<Value>,
}

impl Condition {
    /// Parses the `when` of a step: one table, or an array of them.
    pub fn parse_all(v: toml::Value) -> Result<Vec<Condition>, String> {
        let tables = match v {
            toml::Value::Array(a) => a,
            t @ toml::Value::Table(_) => vec![t],
            other => {
                return Err(format!(
                    "`when` is a table {{ value = \"${{x}}\", equals = ... }} or an array of them, not {}",
                    other.type_str()
                ))
            }
        };
        tables
            .into_iter()
            .map(|t| {
                let c: Condition = t.try_into().map_err(|e: toml::de::Error| format!("`when`: {}", e.message()))?;
                match (&c.equals, &c.not_equals) {
                    (Some(_), None) | (None, Some(_)) => Ok(c),
                    _ => Err("`when` has exactly one of `equals` and `not_equals`".to_string()),
                }
            })
            .collect()
    }

    /// Whether the condition holds for `actual` (the resolved `value`) and `expected` (the
    /// resolved `equals` or `not_equals`). Numbers compare by value (`202` = `202.0`).
    pub fn holds(&self, actual: &Value, expected: &Value) -> bool {
        let same = match (actual.as_f64(), expected.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => actual == expected,
        };
        if self.equals.is_some() {
            same
        } else {
            !same
        }
    }

    /// The value the condition compares with (before templates).
    pub fn expected(&self) -> &Value {
        self.equals.as_ref().or(self.not_equals.as_ref()).unwrap_or(&Value::Null)
    }

    /// "equals 202" / "differs from 202", for the trace.
    pub fn describe(&self, expected: &Value) -> String {
        match self.equals {
            Some(_) => format!("{} equals {expected}", self.value),
            None => format!("{} differs from {expected}", self.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_table_or_an_array_with_exactly_one_comparison() {
        let one: toml::Value =
            toml::from_str::<toml::Table>("when = { value = \"${x}\", equals = 202 }").unwrap()["when"].clone();
        let c = Condition::parse_all(one).unwrap();
        assert_eq!(c.len(), 1);
        assert!(c[0].holds(&json!(202), &json!(202)));
        assert!(!c[0].holds(&json!(200), &json!(202)));
        let two: toml::Value = toml::from_str::<toml::Table>(
            "when = [{ value = \"${x}\", not_equals = 202 }, { value = \"${y}\", equals = \"a\" }]",
        )
        .unwrap()["when"]
            .clone();
        let c = Condition::parse_all(two).unwrap();
        assert!(c[0].holds(&json!(200), &json!(202)) && !c[0].holds(&json!(202.0), &json!(202)));
        let both: toml::Value =
            toml::from_str::<toml::Table>("when = { value = \"${x}\", equals = 1, not_equals = 2 }").unwrap()["when"]
                .clone();
        assert!(Condition::parse_all(both).unwrap_err().contains("exactly one"));
        let neither: toml::Value =
            toml::from_str::<toml::Table>("when = { value = \"${x}\" }").unwrap()["when"].clone();
        assert!(Condition::parse_all(neither).is_err());
        assert!(Condition::parse_all(toml::Value::Integer(3)).unwrap_err().contains("table"));
    }
}
