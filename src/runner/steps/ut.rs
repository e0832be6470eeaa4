//! `ut`: ask the IUT, through the upper tester, to do something only its own side can start.
use super::{Captures, Validation};
use crate::catalog::check::ContractCheck;
use crate::runner::ctx::Ctx;
use crate::scr::Role;
use crate::upper_tester::action;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ut {
    pub action: String,
    #[serde(default)]
    pub args: Value,
    /// Save the answer's data under this name (`${name#/pointer}`).
    #[serde(default)]
    pub save_as: Option<String>,
    #[serde(default)]
    pub capture: Captures,
    /// When true, an `unsupported` answer is accepted and the case goes on.
    #[serde(default)]
    pub optional: bool,
    /// What a `done` answer's data must show (that the action was done as asked); a failure is
    /// `inconc` naming the contract point, never a protocol verdict.
    #[serde(default)]
    pub contract: Vec<ContractCheck>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Known upper-tester actions per IUT role (a typo in a case is a load error, not a run-time
/// surprise).
pub fn known_actions(role: Role) -> &'static [&'static str] {
    use action::*;
    match role {
        Role::Client => &[
            RESET,
            IDLE,
            SESSION_START,
            NOTIFICATION_DELIVER,
            ALERT_RAISE,
            CONFIG_REQUEST,
            FIRMWARE_USER_ANSWER,
            UI_ANSWER,
            GATEWAY_ATTACH,
        ],
        Role::Server => &[
            RESET,
            IDLE,
            DEVICE_REGISTER,
            NOTIFICATION_SEND,
            COMMANDS_ENQUEUE,
            DEVICE_REPORT,
            FIRMWARE_UPDATE,
            SOFTWARE_INSTALL,
            SOFTWARE_REMOVE,
            SOFTWARE_ACTIVATE,
            SOFTWARE_DEACTIVATE,
            SOFTWARE_INVENTORY,
            GATEWAY_IMAGE,
            GATEWAY_FANOUT,
        ],
    }
}

impl Ut {
    pub fn validate(&self, v: &mut Validation) {
        let known = known_actions(v.role);
        if !known.contains(&self.action.as_str()) {
            v.problem(format!(
                "unknown upper-tester action {:?} for a {} IUT; known: {}",
                self.action,
                v.role,
                known.join(", ")
            ));
        }
        for c in &self.contract {
            crate::catalog::check_kind_problems(&c.kind, v.binding)
                .into_iter()
                .for_each(|p| v.problem(format!("contract: {p}")));
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        if let Some(n) = &self.note {
            ctx.trace.note(n.clone());
        }
        let Some(args) = ctx.render(&self.args) else { return };
        let args = if args.is_null() { json!({}) } else { args };
        let answered = ctx.ut_call(&self.action, args, self.optional).await;
        if self.action == action::RESET && !ctx.verdict.is_final() {
            // Requests that arrived before the IUT confirmed its reset (a previous case's
            // late traffic) must not be taken for this case's.
            for inc in ctx.env.listener.drop_pending() {
                ctx.trace.note(format!(
                    "dropped (arrived before the reset completed): {} /{}{}",
                    inc.method, inc.endpoint, inc.path
                ));
            }
        }
        if let Some(data) = answered {
            if !ctx.run_contract(&self.action, &self.contract, &data) {
                return;
            }
            let e = ctx.capture(&self.capture, &data).err();
            ctx.capture_failed(e);
            ctx.save(self.save_as.as_deref(), data);
        }
    }
}
