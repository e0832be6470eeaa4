//! Running `dmcts` on a client ICS against the reference client on loopback, shared by the
//! tests that prove client cases the way a vendor meets them: a free port, the binary, a
//! scratch folder, and the ICS (every optional item supported; `support` lines added to
//! `[support]`, `tail` after `[pixit.mo]`: more mo values, a `[profile]` table...).
use dmcts::reference::client;
use std::path::PathBuf;
use std::process::Command;

/// A free loopback port (released before use: the suite binds it itself).
pub fn free_port() -> u16 {
    dmcts::peers::free_loopback_port()
}

/// Runs the dmcts binary; its exit code and everything it printed.
pub fn dmcts<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// An empty folder of this test process.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dmcts-client-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A client ICS for the reference client at `ut_url`, the suite on `listen`.
pub fn client_ics(listen: u16, ut_url: &str, support: &str, tail: &str) -> String {
    format!(
        r#"
[iut]
role = "client"
vendor = "Vendor"
product = "reference client"
version = "1"

[support]
"DM-PACK-002-C-O" = true
"DM-PACK-007-C-O" = true
"DM-PACK-008-C-O" = true
"DM-PACK-009-C-O" = true
"DM-PACK-019-C-O" = true
"DM-PACK-020-C-O" = true
"DM-PACK-023-C-O" = true
{support}

[pixit.suite]
server_url = "http://127.0.0.1:{listen}/dm"

[pixit.iut]
dev_id = "{dev_id}"

[pixit.notification]
secret = "test-noti-secret"
auth_data = "test-noti-authdata"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.timeouts]
step_ms = 3000
case_ms = 20000
quiet_period_ms = 300

[pixit.mo]
{tail}
"#,
        dev_id = client::DEFAULT_DEV_ID
    )
}
