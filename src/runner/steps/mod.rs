//! The step kinds of the case language, one module each: the TOML struct, what the catalog
//! validates about it at load, and how it runs. A step *performs* something (an upper-tester
//! call, a request to the IUT, a wait) and hands what it observed to the checks; the step loop
//! itself is in [`super::exec`].
//!
//! Adding a step kind: a module here with its struct, `validate` and `run`, and one variant in
//! [`crate::catalog::step::Step`].
pub mod auth;
pub mod await_request;
pub mod download_server;
pub mod end_devices;
pub mod expect_notification;
pub mod expect_silence;
pub mod fetch_hget;
pub mod notify;
pub mod report;
pub mod session;
pub mod set;
pub mod tls;
pub mod ut;

use super::template::{self, Resolver};
use crate::binding::{Binding, Commands};
use crate::peers::HttpAnswer;
use crate::scr::Role;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// JSON pointers into a body (or answer data) whose values are saved as variables.
pub type Captures = BTreeMap<String, String>;

/// What the catalog validates a step against.
pub struct Validation<'a> {
    /// The IUT role of the case.
    pub role: Role,
    pub binding: &'a dyn Binding,
    /// Problems found, in words (the catalog adds file, line, case and step).
    pub problems: Vec<String>,
}

impl Validation<'_> {
    pub fn problem(&mut self, msg: impl Into<String>) {
        self.problems.push(msg.into());
    }

    /// The step only makes sense against an IUT of `role`.
    pub fn needs_role(&mut self, kind: &str, role: Role) {
        if self.role != role {
            self.problem(format!("`{kind}` steps test a {role} IUT; the case tests a {}", self.role));
        }
    }
}

/// The suite's endpoints (the first path segment under the DM server URL).
pub const ENDPOINTS: &[&str] = &["dm", "cont", "repo", "browser", "async", "notify"];

/// How the suite answers an awaited request.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// HTTP status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// Commands for the IUT (templated): the binding builds its command package (DM 2.0:
    /// Package#2, with its media type).
    #[serde(default)]
    pub commands: Option<Vec<Vec<String>>>,
    /// A JSON body (templated).
    #[serde(default)]
    pub json: Option<Value>,
    /// A text body.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A static resource served by a suite endpoint for the whole case (data repository content,
/// browser pages). Requests it answers are still recorded and can be awaited and checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub endpoint: String,
    pub path: String,
    /// Only this method is answered from the resource (default: any).
    #[serde(default)]
    pub method: Option<String>,
    #[serde(flatten)]
    pub answer: Answer,
}

impl Answer {
    pub fn validate(&self, v: &mut Validation) {
        let bodies = [self.commands.is_some(), self.json.is_some(), self.body.is_some()];
        if bodies.iter().filter(|b| **b).count() > 1 {
            v.problem("an answer has one body: `commands`, `json` or `body`");
        }
        if self.commands.as_ref().is_some_and(|c| c.iter().any(Vec::is_empty)) {
            v.problem("an answer's `commands` are arrays of a command name and its parameters; found an empty one");
        }
    }

    /// The HTTP answer, and the commands it carries (rendered) when it is a command package.
    pub fn build(&self, r: &dyn Resolver, binding: &dyn Binding) -> Result<(HttpAnswer, Option<Commands>), String> {
        let mut out = HttpAnswer { status: 200, headers: Vec::new(), body: Vec::new() };
        let mut commands = None;
        if let Some(cmds) = &self.commands {
            let mut rendered = Vec::new();
            for c in cmds {
                rendered.push(c.iter().map(|s| template::render_text(s, r)).collect::<Result<Vec<_>, _>>()?);
            }
            out = binding.server_package(&rendered);
            commands = Some(rendered);
        } else if let Some(j) = &self.json {
            out.body = serde_json::to_vec(&template::render_value(j, r)?).unwrap_or_default();
            out.headers.push(("Content-Type".to_string(), "application/json".to_string()));
        } else if let Some(b) = &self.body {
            out.body = template::render_text(b, r)?.into_bytes();
        }
        if let Some(s) = self.status {
            out.status = s;
        }
        if let Some(ct) = &self.content_type {
            out.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            out.headers.push(("Content-Type".to_string(), template::render_text(ct, r)?));
        }
        for (k, v) in &self.headers {
            out.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            out.headers.push((k.clone(), template::render_text(v, r)?));
        }
        Ok((out, commands))
    }
}
