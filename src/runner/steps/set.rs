//! `set`: a variable from a template.
use crate::runner::ctx::Ctx;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    pub var: String,
    pub value: String,
}

impl Set {
    pub fn run(&self, ctx: &mut Ctx<'_>) {
        if let Some(v) = ctx.render(&Value::String(self.value.clone())) {
            ctx.vars.0.insert(self.var.clone(), v);
        }
    }
}
