//! `report`: ask a server IUT, through the upper tester's `device.report`, what it recorded
//! about the device, and check it.
use super::Validation;
use crate::catalog::check::{Check, ContractCheck};
use crate::runner::checks::Observed;
use crate::runner::ctx::Ctx;
use crate::scr::Role;
use crate::upper_tester::action;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Default: `{ "dev_id": <the DevID the suite plays> }`.
    #[serde(default)]
    pub args: Value,
    /// What the report must contain for the checks to judge anything (e.g. the member they
    /// read): a failure is `inconc` naming the contract point, never a protocol verdict.
    #[serde(default)]
    pub contract: Vec<ContractCheck>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub save_as: Option<String>,
}

impl Report {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("report", Role::Server);
        for c in &self.contract {
            crate::catalog::check_kind_problems(&c.kind, v.binding)
                .into_iter()
                .for_each(|p| v.problem(format!("contract: {p}")));
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let Some(mut args) = ctx.render(&self.args) else { return };
        if args.is_null() {
            args = json!({ "dev_id": ctx.env.settings.dev_id });
        }
        if let Some(data) = ctx.ut_call(action::DEVICE_REPORT, args, false).await {
            if !ctx.run_contract(action::DEVICE_REPORT, &self.contract, &data) {
                return;
            }
            ctx.run_checks(&self.checks, &Observed::Json(&data));
            ctx.save(self.save_as.as_deref(), data);
        }
    }
}
