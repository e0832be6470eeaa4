//! `set`: a variable from a template, with a fallback for a value the ICS may not give.
use crate::runner::ctx::Ctx;
use crate::runner::template;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    pub var: String,
    pub value: String,
    /// Used when `value` names a variable that does not exist (e.g. a PIXIT value the ICS does
    /// not give): the documented default. Without it, an unknown variable is a case defect.
    #[serde(default)]
    pub default: Option<String>,
}

impl Set {
    pub fn run(&self, ctx: &mut Ctx<'_>) {
        let v = match (template::render_str(&self.value, ctx), &self.default) {
            (Ok(v), _) => Some(v),
            (Err(e), Some(d)) => {
                ctx.trace.note(format!("{}: {e}; using the default {d:?}", self.var));
                ctx.render(&Value::String(d.clone()))
            }
            (Err(_), None) => ctx.render(&Value::String(self.value.clone())),
        };
        if let Some(v) = v {
            ctx.vars.0.insert(self.var.clone(), v);
        }
    }
}
