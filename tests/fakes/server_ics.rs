//! The ICS of a fake server IUT, shared by the tests that run server cases against one: the
//! suite on an ephemeral loopback port, the DevID it plays, notification credentials, the
//! fake's upper tester, `[pixit.mo]` lines and the step timeout (case timeout 4×, quiet period
//! 100 ms).
use dmcts::ics::Ics;
use std::path::Path;
use std::sync::Arc;

/// The DevID the suite plays towards a fake server.
pub const DEV_ID: &str = "IMEI:990000000000017";

pub fn server_ics(server_uri: &str, ut_url: &str, mo: &str, step_ms: u64) -> Arc<Ics> {
    let case_ms = step_ms * 4;
    let src = format!(
        r#"
[iut]
role = "server"
vendor = "Test"
product = "Fake server IUT"
version = "0"

[pixit.suite]
listen = "127.0.0.1:0"

[pixit.iut]
server_uri = "{server_uri}"
dev_id = "{DEV_ID}"

[pixit.notification]
secret = "s"
auth_data = "a"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.mo]
{mo}

[pixit.timeouts]
step_ms = {step_ms}
case_ms = {case_ms}
run_ms = 600000
quiet_period_ms = 100
"#
    );
    Arc::new(Ics::from_str(&src, Path::new("server-ics.toml")).expect("the test ICS parses"))
}
