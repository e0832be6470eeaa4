//! The runner speaks no protocol of its own: a toy binding written here, outside the crate,
//! runs a case through the same catalog loader, step loop and checks as DM 2.0 does, over real
//! sockets on 127.0.0.1 (a fake client IUT behind a fake upper tester).
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use dmcts::binding::{
    Binding, BuiltNotification, ClientSpec, Commands, DecodeError, NotificationSpec, Outgoing, ServerPackage,
};
use dmcts::catalog::Catalog;
use dmcts::peers::{HttpAnswer, Listener};
use dmcts::runner::checks::{
    arg, arg_str, body_of, fail, ArgKind, BuiltinInfo, CheckCtx, CheckDef, Credentials, Failure, Observed,
};
use dmcts::runner::ctx::{CaseEnv, CaseSettings, NotificationTransport};
use dmcts::runner::exec;
use dmcts::scr::Registry;
use dmcts::upper_tester::{UpperTester, UpperTesterConfig, UtAnswer, UtRequest};
use dmcts::verdict::Verdict;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A line protocol: the client says `HELLO <name>`, the server answers `DO <cmd> <args>` lines
/// and `BYE` ends the session.
struct Toy;

const TOY_CHECKS: &[CheckDef<Toy>] = &[CheckDef {
    name: "toy-greets",
    about: "args.name: the message is HELLO <name>",
    args: &[arg("name", ArgKind::Str)],
    run: |_, args, obs, _| {
        let want = format!("HELLO {}", arg_str(args, "name")?);
        let got = String::from_utf8_lossy(body_of(obs)?).to_string();
        if got == want {
            Ok(())
        } else {
            fail(want, got)
        }
    },
}];

impl Binding for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }
    fn profile_json(&self) -> Value {
        json!({ "greeting": "HELLO" })
    }
    fn builtins(&self) -> Vec<BuiltinInfo> {
        TOY_CHECKS.iter().map(CheckDef::info).collect()
    }
    fn run_builtin(
        &self,
        name: &str,
        args: &toml::Table,
        obs: &Observed,
        ctx: &CheckCtx,
    ) -> Option<Result<(), Failure>> {
        TOY_CHECKS.iter().find(|d| d.name == name).map(|d| (d.run)(self, args, obs, ctx))
    }
    fn server_package(&self, commands: &[Vec<String>]) -> HttpAnswer {
        let lines: Vec<String> = commands.iter().map(|c| format!("DO {}", c.join(" "))).collect();
        HttpAnswer {
            status: 200,
            headers: vec![("Content-Type".into(), "text/x-toy".into())],
            body: lines.join("\n").into_bytes(),
        }
    }
    fn ends_session(&self, commands: &[Vec<String>]) -> bool {
        commands.iter().any(|c| c.first().map(String::as_str) == Some("BYE"))
    }
    fn session_end_commands(&self) -> Commands {
        vec![vec!["BYE".into()]]
    }
    fn notification_tampers(&self) -> &'static [&'static str] {
        &[]
    }
    fn encode_notification(&self, _: &NotificationSpec, _: Option<&Credentials>) -> Result<BuiltNotification, String> {
        Err("the toy protocol has no notifications".into())
    }
    fn notification_media_type(&self) -> String {
        "text/x-toy".into()
    }
    fn client_message(&self, spec: ClientSpec) -> Result<Outgoing, String> {
        Ok(Outgoing { headers: vec![], body: format!("HELLO {}", spec.dev_id).into_bytes() })
    }
    fn parse_server_package(&self, body: &[u8]) -> Option<ServerPackage> {
        let text = std::str::from_utf8(body).ok()?;
        let commands: Commands = text
            .lines()
            .map(|l| l.strip_prefix("DO ").map(|c| c.split(' ').map(str::to_string).collect()))
            .collect::<Option<_>>()?;
        Some(ServerPackage { ends_session: self.ends_session(&commands), commands, continue_at: None })
    }
    fn decode_notification(&self, _: &[u8]) -> Result<Value, DecodeError> {
        Err(DecodeError {
            offset: 0,
            expected: "nothing".into(),
            found: "the toy protocol has no notifications".into(),
        })
    }
}

const CASES: &str = r#"
[defaults]
binding = "toy"
role = "client"

[[case]]
id = "TC-TOY-001"
title = "The toy client greets and takes its commands"
purpose = "A case of another binding runs through the same runner."
covers = ["DM-PACK-011-C-M"]

[[case.steps]]
kind = "ut"
action = "session.start"

[[case.steps]]
kind = "await"
endpoint = "dm"
scr = "DM-PACK-011-C-M"
checks = [ { check = "builtin", name = "toy-greets", args = { name = "${pixit.iut.dev_id}" }, scr = "DM-PACK-011-C-M" } ]
answer = { commands = [["PING", "${profile.greeting}"], ["BYE"]] }
"#;

/// The fake IUT: on `session.start` it POSTs `greeting` to the suite's DM URL and keeps what
/// the suite answered.
#[derive(Clone)]
struct Fake {
    dm_url: String,
    greeting: String,
    answers: Arc<Mutex<Vec<String>>>,
}

async fn ut(State(f): State<Fake>, body: Bytes) -> Json<UtAnswer> {
    let req: UtRequest = serde_json::from_slice(&body).expect("an upper-tester request");
    if req.action == "session.start" {
        tokio::spawn(async move {
            let r = reqwest::Client::new().post(&f.dm_url).body(f.greeting.clone()).send().await;
            if let Ok(r) = r {
                let text = r.text().await.unwrap_or_default();
                f.answers.lock().unwrap().push(text);
            }
        });
    }
    Json(UtAnswer::done(Value::Null))
}

async fn run(greeting: &str) -> (exec::Execution, Vec<String>) {
    let registry = Arc::new(Registry::load_dir(Path::new("scr")).expect("the SCR tables load"));
    let toy: Arc<dyn Binding> = Arc::new(Toy);
    let catalog =
        Catalog::load_sources_with(&[(PathBuf::from("toy.toml"), CASES.into())], &registry, std::slice::from_ref(&toy))
            .unwrap_or_else(|e| panic!("the toy case does not load:\n{e}"));
    let case = catalog.cases[0].clone();
    let listener = Arc::new(Listener::bind("127.0.0.1:0".parse().unwrap(), None).await.expect("bind"));
    let fake = Fake { dm_url: listener.endpoint_url("dm"), greeting: greeting.to_string(), answers: Arc::default() };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ut_url = format!("http://{}/ut", tcp.local_addr().unwrap());
    let app = axum::Router::new().route("/ut", axum::routing::post(ut)).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(tcp, app).await });
    let ut = UpperTester::from_config(&UpperTesterConfig::Http { url: ut_url }, Path::new(".")).unwrap();
    let settings = CaseSettings {
        step_timeout: Duration::from_millis(2000),
        case_timeout: Duration::from_millis(5000),
        quiet_period: Duration::from_millis(100),
        server_id: "toy".into(),
        credentials: None,
        transport: NotificationTransport::UpperTester,
        dev_id: "toy-1".into(),
        server_uri: None,
        basic: None,
        server_notifications_via_ut: false,
        pixit: [("iut.dev_id".to_string(), serde_json::Value::from("toy-1"))].into(),
        declared_supported: Vec::new(),
        supports: Default::default(),
    };
    let env = CaseEnv {
        registry,
        settings,
        binding: toy,
        ut: Arc::new(ut),
        listener,
        http: reqwest::Client::new(),
        progress: Default::default(),
    };
    let ex = tokio::time::timeout(Duration::from_secs(10), exec::execute(&case, &env)).await.expect("no hang");
    // The fake IUT reads the answer after the case; give it a moment, bounded.
    for _ in 0..50 {
        if !fake.answers.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answers = fake.answers.lock().unwrap().clone();
    (ex, answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toy_binding_runs_a_case_through_the_same_runner() {
    let (ex, answers) = run("HELLO toy-1").await;
    assert_eq!(ex.verdict, Verdict::Pass, "{:?}", ex.reason);
    // The binding built the answer from neutral commands, templates resolved by the runner.
    assert_eq!(answers, vec!["DO PING HELLO\nDO BYE".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toy_check_failure_names_the_item_and_the_session_is_ended_by_the_binding() {
    let (ex, answers) = run("HI toy-1").await;
    assert_eq!(ex.verdict, Verdict::Fail);
    let r = ex.reason.expect("a reason");
    assert_eq!(r.scr.as_deref(), Some("DM-PACK-011-C-M"));
    assert!(r.message.contains("toy-greets"), "{r:?}");
    assert_eq!(r.actual.as_deref(), Some("HI toy-1"));
    // Judged before answered: a failed case ends the session with the binding's own end.
    assert_eq!(answers, vec!["DO BYE".to_string()]);
}
