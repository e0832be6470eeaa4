//! Protocol bindings. The runner and the case language speak protocol-neutral terms — open a
//! session, answer with commands, reply with statuses, deliver a notification, expect one — and
//! a binding turns them into its protocol's messages, parses what the IUT sends, and supplies
//! its own built-in checks and profile (the UNVERIFIED points of its spec digest).
//!
//! DM 2.0 (JSON over HTTP) is [`dm2`]; a SyncML DM 1.2 binding goes beside it. A case file names
//! its binding (`[defaults] binding = "dm2"`, the default); the ICS's `[profile]` configures it.
pub mod dm12;
pub mod dm2;
pub mod gwmo_log;
pub mod peer_logs;

use crate::peers::{HttpAnswer, Incoming};
use crate::runner::checks::{BuiltinInfo, CheckCtx, Credentials, Failure, Observed};
use serde_json::Value;
use std::sync::Arc;

/// Command arrays: the command name, then its parameters, as the case language writes them.
pub type Commands = Vec<Vec<String>>;

/// TIMESTAMP of a notification the suite builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// No TIMESTAMP.
    Absent,
    /// Now plus this many seconds (negative: in the past).
    Offset(i64),
    /// Just outside the window the profile accepts.
    Stale,
}

/// A notification the suite sends to a client IUT, in neutral terms.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationSpec {
    pub server_id: String,
    pub preferred_con_type: u8,
    pub notification_id: u16,
    pub timestamp: Timestamp,
    /// Ask the client for its MOs.
    pub req_mos: bool,
    /// Authenticate the notification with the PIXIT credentials.
    pub digest: bool,
    /// A deliberate defect, from [`Binding::notification_tampers`].
    pub tamper: Option<String>,
}

/// A notification as built: its bytes, and what to record of it.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltNotification {
    pub bytes: Vec<u8>,
    /// The TIMESTAMP written, if any (POSIX seconds).
    pub timestamp: Option<u64>,
    pub note: String,
}

/// Which message the suite, as DM client, sends to a server IUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMessage {
    /// The first message of a session (DM 2.0: Package#1).
    Open,
    /// The statuses answering the server's last commands (DM 2.0: Package#3).
    Reply,
}

/// How to build a client message.
pub struct ClientSpec<'a> {
    pub message: ClientMessage,
    /// The case's own body (already rendered), instead of the binding's default.
    pub body: Option<Value>,
    /// Reply: one status of this code per command of `last_commands` (the binding knows which
    /// commands get none, and which get an asynchronous code).
    pub auto_status: Option<u16>,
    /// Reply with `auto_status`: the code for commands of these names instead (e.g. a refusal
    /// for DELETE), so a case can vary the statuses whatever the server's batching.
    pub status_for: &'a std::collections::BTreeMap<String, u16>,
    /// Reply with `auto_status`: members added to the status of commands of these names (in the
    /// binding's form; DM 2.0: e.g. `{ "HGET": { "URI": [...] } }`, where HGET without a
    /// ClientURI stored its data).
    pub status_members: &'a std::collections::BTreeMap<String, Value>,
    /// Alerts to add to the message.
    pub alerts: Vec<Value>,
    /// Open: the notification this session answers, as [`Binding::decode_notification`] gave
    /// it: the binding builds the opening of a notified session (DM 2.0: Package#1 with the
    /// ServerInitiatedMgmt alert echoing NOTIFICATION-ID) instead of a client-initiated one.
    pub notification: Option<Value>,
    /// Open: the management objects the device reports (entries in the binding's form; DM 2.0:
    /// the MOS array of Package#1).
    pub objects: Vec<Value>,
    pub last_commands: Option<&'a [Vec<String>]>,
    /// The device identity the suite plays.
    pub dev_id: &'a str,
    /// Where the message goes (DM 1.2: the SyncHdr Target of Package#1).
    pub to: &'a str,
    /// The account's credentials (PIXIT account.username/password), for a binding that
    /// authenticates inside its messages (DM 1.2: SyncHdr Cred).
    pub credentials: Option<(&'a str, &'a str)>,
    /// The step's binding options (`Null`: none); a binding refuses options it does not know.
    pub options: &'a Value,
}

/// An HTTP request body and headers, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the suite understood of a server IUT's command package: its commands as sent (a
/// malformed command is kept as it came, for the checks of its own item to judge), whether it
/// ends the session, and where the session goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerPackage {
    pub commands: Commands,
    /// The package ends the session: no reply may follow.
    pub ends_session: bool,
    /// Where the session's next reply goes, when the package moves it (DM 2.0: CONT).
    pub continue_at: Option<String>,
}

/// Why notification bytes do not decode.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub offset: usize,
    pub expected: String,
    pub found: String,
}

/// One protocol binding, configured by a profile.
pub trait Binding: Send + Sync {
    /// The name case files use (`binding = "dm2"`).
    fn name(&self) -> &'static str;
    /// The protocol the binding speaks, as an ICS's `[iut] binding` names it: bindings of one
    /// family differ only in encoding (DM 1.2: `dm12` is XML, `dm12-wbxml` WBXML).
    fn family(&self) -> &'static str {
        self.name()
    }
    /// The profile in force, as JSON (`${profile.x}` in cases; echoed in run.json).
    fn profile_json(&self) -> Value;

    /// The SCR items whose inferred judgements the profile makes informational (`"*"`: every
    /// inferred judgement): their failures are recorded and shown, and change no verdict.
    fn informational(&self) -> Vec<String> {
        Vec::new()
    }

    /// The binding's built-in checks (beyond the generic ones).
    fn builtins(&self) -> Vec<BuiltinInfo>;
    /// Runs one of [`Binding::builtins`]; None if `name` is not one.
    fn run_builtin(
        &self,
        name: &str,
        args: &toml::Table,
        obs: &Observed,
        ctx: &CheckCtx,
    ) -> Option<Result<(), Failure>>;

    // ---- the suite as DM server (client IUT) ----
    /// A request arrived at `endpoint` and is about to be judged and answered: a binding whose
    /// answers refer to the request (DM 1.2: SessionID, MsgRef, a Status per command) keeps it.
    fn observe_inbound(&self, _endpoint: &str, _headers: &[(String, String)], _body: &[u8]) {}
    /// Why a message of the IUT (a request to the suite's `endpoint`, or with `None` a server
    /// IUT's answer) is not in the binding's encoding, e.g. not valid WBXML in a WBXML binding.
    /// A case that names the encoding's SCR item (`encoding_scr`) charges such a message to it
    /// before any check reads it. None: the encoding is sound, or the binding has only one.
    fn encoding_defect(
        &self,
        _endpoint: Option<&str>,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Option<crate::runner::checks::Failure> {
        None
    }
    /// The answer to a request that arrives after its case ended or between cases: one that
    /// ends the IUT's session (DM 2.0: a Package#2 with END).
    fn late_answer(&self, _incoming: &Incoming) -> HttpAnswer {
        self.session_end_answer()
    }
    /// The HTTP answer carrying these commands (DM 2.0: Package#2).
    fn server_package(&self, commands: &[Vec<String>]) -> HttpAnswer;
    /// Whether these commands end the session (no reply follows).
    fn ends_session(&self, commands: &[Vec<String>]) -> bool;
    /// The answer that ends whatever session the IUT thinks is still going (for traffic that
    /// arrives after its case ended).
    fn session_end_answer(&self) -> HttpAnswer {
        self.server_package(&self.session_end_commands())
    }
    /// The commands that end a session.
    fn session_end_commands(&self) -> Commands;
    /// The deliberate notification defects `notify` steps may ask for.
    fn notification_tampers(&self) -> &'static [&'static str];
    /// Builds a notification.
    fn encode_notification(
        &self,
        spec: &NotificationSpec,
        credentials: Option<&Credentials>,
    ) -> Result<BuiltNotification, String>;
    /// The media type of notifications delivered over HTTP.
    fn notification_media_type(&self) -> String;

    // ---- the suite as DM client (server IUT) ----
    /// Whether the account's credentials go in HTTP headers (DM 2.0); false: the binding puts
    /// them in its messages ([`ClientSpec::credentials`]).
    fn http_credentials(&self) -> bool {
        true
    }
    /// Builds a client message.
    fn client_message(&self, spec: ClientSpec) -> Result<Outgoing, String>;
    /// Parses a server IUT's answer to a client message; None when it is not a command package
    /// at all (the case's checks say why). Lenient about the commands themselves: judging them
    /// is the checks' business.
    fn parse_server_package(&self, body: &[u8]) -> Option<ServerPackage>;
    /// The status codes a reply the suite sent carries, in order (for the session record that
    /// checks judge); empty when the binding cannot tell.
    fn reply_status_codes(&self, _body: &[u8]) -> Vec<i64> {
        Vec::new()
    }
    /// Decodes a server IUT's notification into the JSON view checks read.
    fn decode_notification(&self, bytes: &[u8]) -> Result<Value, DecodeError>;

    // ---- words for the operator (the terminal's progress line) ----
    /// The protocol's name for what the IUT sends to the suite's `endpoint` (DM 2.0: Package#1;
    /// Package#3 while `in_session`, i.e. after commands that did not end the session;
    /// Package#0 at the notification listener). None: the runner names it neutrally.
    fn inbound_message_name(&self, _endpoint: &str, _in_session: bool) -> Option<String> {
        None
    }
    /// The protocol's name for a message the suite sends a server IUT (DM 2.0: Package#1,
    /// Package#3). None: the runner names it neutrally.
    fn client_message_name(&self, _message: ClientMessage) -> Option<String> {
        None
    }
}

/// The bindings this build knows, by name, with their default profiles: what the catalog
/// validates case files against.
pub fn builtin_bindings() -> Vec<Arc<dyn Binding>> {
    let dm12 = crate::wire::dm12::profile::Profile::default();
    vec![
        Arc::new(dm2::Dm2::default()),
        Arc::new(dm12::Dm12::new(dm12.clone(), crate::wire::dm12::Encoding::Xml)),
        Arc::new(dm12::Dm12::new(dm12, crate::wire::dm12::Encoding::Wbxml)),
    ]
}

/// The binding `name` configured by an ICS's profile (None: no such binding).
pub fn configured(name: &str, profile: &crate::wire::dm2::Profile) -> Option<Arc<dyn Binding>> {
    match name {
        "dm2" => Some(Arc::new(dm2::Dm2::new(profile.clone()))),
        dm12::NAME_XML => Some(Arc::new(dm12::Dm12::new(profile.dm12.clone(), crate::wire::dm12::Encoding::Xml))),
        dm12::NAME_WBXML => Some(Arc::new(dm12::Dm12::new(profile.dm12.clone(), crate::wire::dm12::Encoding::Wbxml))),
        _ => None,
    }
}

/// The protocol family of a binding name (`dm12-wbxml` → `dm12`): what an ICS's `[iut]
/// binding` names.
pub fn family_of(name: &str) -> &str {
    match name {
        dm12::NAME_WBXML => dm12::NAME_XML,
        other => other,
    }
}

/// The binding a case file's name refers to, among `known`.
pub fn find<'a>(known: &'a [Arc<dyn Binding>], name: &str) -> Option<&'a Arc<dyn Binding>> {
    known.iter().find(|b| b.name() == name)
}

/// The default binding of case files that name none.
pub const DEFAULT_BINDING: &str = "dm2";
