//! Loading an ICS: the shipped examples load and validate; a missing, empty, malformed or
//! incomplete ICS is refused with file:line and what was expected.
use dmcts::ics::{Ics, IcsError, NotificationTransport, SUITE_DEV_ID};
use dmcts::scr::{Registry, Role};
use dmcts::upper_tester::UpperTesterConfig;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn registry() -> Registry {
    Registry::load_dir(&root().join("scr")).unwrap()
}

fn parse(src: &str) -> Result<Ics, IcsError> {
    Ics::from_str(src, Path::new("ics.toml"))
}

const CLIENT: &str = r#"
[iut]
role = "client"
vendor = "Acme"
product = "Widget"
version = "1.0"

[support]
"DM-PACK-002-C-O" = true
"DM-PACK-007-C-O" = true
"DM-PACK-008-C-O" = false
"DM-PACK-009-C-O" = false
"DM-PACK-019-C-O" = true
"DM-PACK-020-C-O" = false
"DM-PACK-023-C-O" = true

[pixit.iut]
dev_id = "IMEI:1"

[pixit.upper_tester]
backend = "http"
url = "http://127.0.0.1:9/ut"
"#;

#[test]
fn shipped_examples_load_and_validate() {
    let reg = registry();
    let c = Ics::load(&root().join("examples/ics-client.toml")).expect("client example loads");
    c.validate_against(&reg).expect("client example validates");
    assert_eq!(c.iut.role, Role::Client);
    assert_eq!(c.pixit.suite.listen.to_string(), "127.0.0.1:8700");
    assert_eq!(c.pixit.suite.server_url.as_deref(), Some("http://127.0.0.1:8700/dm"));
    assert_eq!(c.pixit.upper_tester, UpperTesterConfig::Http { url: "http://127.0.0.1:8701/ut".into() });

    let s = Ics::load(&root().join("examples/ics-server.toml")).expect("server example loads");
    s.validate_against(&reg).expect("server example validates");
    assert_eq!(s.iut.role, Role::Server);
    assert_eq!(s.pixit.iut.server_uri.as_deref(), Some("http://127.0.0.1:8080/dm"));
    assert_eq!(s.pixit.timeouts.run(), Duration::from_secs(3600), "run_ms defaults");
}

#[test]
fn defaults_apply() {
    let ics = parse(CLIENT).unwrap();
    assert_eq!(ics.pixit.suite.listen.to_string(), "127.0.0.1:0");
    assert_eq!(ics.pixit.account.server_id, "dmcts");
    assert_eq!(ics.pixit.notification.transport, NotificationTransport::UpperTester);
    assert_eq!(ics.pixit.timeouts.step(), Duration::from_millis(10_000));
    assert_eq!(ics.pixit.timeouts.case(), Duration::from_millis(60_000));
    assert_eq!(ics.pixit.timeouts.quiet_period(), Duration::from_millis(3_000));
    assert_eq!(ics.profile, dmcts::wire::dm2::Profile::default());
    ics.validate_against(&registry()).unwrap();
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = Ics::load(Path::new("/nonexistent/ics.toml")).unwrap_err();
    assert!(matches!(err, IcsError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/ics.toml"), "{err}");
}

#[test]
fn empty_or_comment_only_file_is_refused() {
    for src in ["", "   \n", "# only a comment\n\n# another\n"] {
        let err = parse(src).unwrap_err();
        assert!(matches!(err, IcsError::Empty { .. }), "{src:?}: {err}");
        let msg = err.to_string();
        assert!(msg.contains("ICS file ics.toml is empty") && msg.contains("[iut] role"), "{msg}");
    }
}

#[test]
fn malformed_toml_gives_line_and_column() {
    let err = parse("[iut]\nrole = \"client\"\nvendor = \n").unwrap_err();
    match &err {
        IcsError::Toml { line, .. } => assert_eq!(*line, 3, "{err}"),
        other => panic!("expected a TOML error, got {other}"),
    }
    assert!(err.to_string().starts_with("ics.toml:3:"), "{err}");
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let src = CLIENT.replace("[pixit.iut]\n", "[pixit.iut]\ndevid = \"x\"\n");
    let err = parse(&src).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("ics.toml:18:"), "{msg}");
    assert!(msg.contains("devid") && msg.contains("dev_id"), "names the key and what was expected: {msg}");

    let err = parse(&format!("{CLIENT}\n[pixits]\nx = 1\n")).unwrap_err().to_string();
    assert!(err.contains("pixits"), "{err}");

    let err = parse(&CLIENT.replace("role = \"client\"", "role = \"device\"")).unwrap_err().to_string();
    assert!(err.starts_with("ics.toml:3:") && err.contains("client"), "{err}");
}

#[test]
fn role_specific_pixit_are_required() {
    let no_devid = CLIENT.replace("dev_id = \"IMEI:1\"", "");
    let err = parse(&no_devid).unwrap_err().to_string();
    assert!(err.contains("ics.toml:17: PIXIT iut.dev_id is required for a client IUT"), "{err}");

    let server = CLIENT.replace("role = \"client\"", "role = \"server\"");
    let err = parse(&server).unwrap_err().to_string();
    assert!(err.contains("iut.server_uri is required for a server IUT"), "{err}");

    let server = server.replace("dev_id = \"IMEI:1\"", "server_uri = \"http://127.0.0.1:1/dm\"");
    let ics = parse(&server).unwrap();
    assert_eq!(ics.pixit.iut.dev_id.as_deref(), Some(SUITE_DEV_ID), "the suite's DevID by default");

    let no_ut = CLIENT.split("[pixit.upper_tester]").next().unwrap().to_string();
    let err = parse(&no_ut).unwrap_err().to_string();
    assert!(err.contains("[pixit.upper_tester] is required"), "{err}");

    let http = format!("{CLIENT}\n[pixit.notification]\ntransport = \"http\"\nsecret = \"s\"\n");
    let err = parse(&http).unwrap_err();
    let IcsError::Invalid { problems, .. } = &err else { panic!("{err}") };
    assert_eq!(problems.len(), 2, "all problems at once: {err}");
    assert!(err.to_string().contains("notification.url is required"), "{err}");
    assert!(err.to_string().contains("secret and notification.auth_data go together"), "{err}");

    let err = parse(&format!("{CLIENT}\n[pixit.timeouts]\nstep_ms = 0\n")).unwrap_err().to_string();
    assert!(err.contains("timeouts.step_ms is 0"), "{err}");

    let err = parse("[support]\n\"X\" = true\n").unwrap_err().to_string();
    assert!(err.contains("no [iut] table"), "{err}");
}

#[test]
fn support_answers_are_checked_against_the_scr_tables() {
    let reg = registry();
    let src = CLIENT
        .replace("\"DM-PACK-019-C-O\" = true\n", "")
        .replace("\"DM-PACK-023-C-O\" = true\n", "")
        .replace(
            "[support]\n",
            "[support]\n\"DM-PACK-001-C-M\" = true\n\"DM-PACK-002-S-M\" = true\n\"DM-PACK-099-C-O\" = true\n\"ICS-X\" = true\n",
        );
    let err = parse(&src).unwrap().validate_against(&reg).unwrap_err();
    let IcsError::Invalid { problems, .. } = &err else { panic!("{err}") };
    let msg = err.to_string();
    assert_eq!(problems.len(), 5, "{msg}");
    assert!(msg.contains("ics.toml:9: [support] answers DM-PACK-001-C-M, which is mandatory"), "{msg}");
    assert!(
        msg.contains("ics.toml:10: [support] answers DM-PACK-002-S-M, a server item; the IUT is a client"),
        "{msg}"
    );
    assert!(msg.contains("ics.toml:11: [support] answers \"DM-PACK-099-C-O\", which is not an SCR item"), "{msg}");
    assert!(msg.contains("does not answer 2 optional client item(s): DM-PACK-019-C-O, DM-PACK-023-C-O"), "{msg}");
    // An answer no capability declares would have no effect: refused, with the declared ones.
    assert!(msg.contains("ics.toml:12: [support] answers \"ICS-X\", which is no ICS capability"), "{msg}");
    assert!(msg.contains("expected one of ICS-DMC-NODE-PERMANENT, "), "{msg}");
}

#[test]
fn suite_server_url_is_the_accounts_dm_server_url() {
    let with_suite = |suite: &str| parse(&format!("{CLIENT}\n[pixit.suite]\n{suite}"));
    // Without `listen`, the suite listens on loopback at the URL's port.
    let ics = with_suite("server_url = \"http://localhost:9988/path\"\n").unwrap();
    assert_eq!(ics.pixit.suite.server_url.as_deref(), Some("http://localhost:9988/path"));
    assert_eq!(ics.pixit.suite.listen.to_string(), "127.0.0.1:9988");
    assert_eq!(ics.pixit.suite.dm_server_url("127.0.0.1:1".parse().unwrap()), "http://localhost:9988/path");
    assert_eq!(ics.pixit_lookup("suite.server_url").as_deref(), Some("http://localhost:9988/path"));
    let ics = with_suite("server_url = \"https://dm.example/\"\n").unwrap();
    assert_eq!(ics.pixit.suite.listen.to_string(), "127.0.0.1:443", "the scheme's port");
    // A given `listen` is kept (the IUT may reach the suite through a proxy).
    let ics = with_suite("listen = \"0.0.0.0:8700\"\nserver_url = \"http://dm.example:80/dm2\"\n").unwrap();
    assert_eq!(ics.pixit.suite.listen.to_string(), "0.0.0.0:8700");

    // Defaults: <base_url or http://<listen>>/dm.
    let ics = parse(CLIENT).unwrap();
    assert_eq!(ics.pixit.suite.server_url, None);
    assert_eq!(ics.pixit.suite.dm_server_url("127.0.0.1:4567".parse().unwrap()), "http://127.0.0.1:4567/dm");
    let ics = with_suite("base_url = \"http://gw.example:8080/\"\n").unwrap();
    assert_eq!(ics.pixit.suite.dm_server_url("127.0.0.1:4567".parse().unwrap()), "http://gw.example:8080/dm");

    // Bad values: an error at the key's line saying what was expected.
    let line = CLIENT.lines().count() + 3;
    for (url, says) in [
        ("http://localhost:9988", "has no path"),
        ("http://localhost:9988?x=1", "has no path"),
        ("ftp://localhost/dm", "has scheme \"ftp\""),
        ("localhost:9988/dm", "has scheme \"localhost\""),
        ("not a url", "is not a URL"),
        ("http://localhost:9988/dm#frag", "has a fragment"),
    ] {
        let err = with_suite(&format!("server_url = \"{url}\"\n")).unwrap_err().to_string();
        assert!(err.contains(&format!("ics.toml:{line}: PIXIT suite.server_url {url:?} {says}")), "{url}: {err}");
        assert!(err.contains("expected the DM server URL of the IUT's account"), "{err}");
    }
    // A server IUT has no account at the suite: its endpoint is iut.server_uri.
    let server = CLIENT
        .replace("role = \"client\"", "role = \"server\"")
        .replace("dev_id = \"IMEI:1\"", "server_uri = \"http://127.0.0.1:1/dm\"");
    let err = parse(&format!("{server}\n[pixit.suite]\nserver_url = \"http://127.0.0.1:2/dm\"\n")).unwrap_err();
    assert!(err.to_string().contains("a server IUT's DM endpoint is [pixit.iut] server_uri"), "{err}");
}

#[test]
fn pixit_mo_defaults_describe_a_typical_tree_and_say_they_are_defaults() {
    use dmcts::ics::mo::{MoValue, MO_PIXIT};
    let ics = parse(CLIENT).unwrap();
    ics.validate_against(&registry()).unwrap();
    // Every declared value with a default is in force, marked as the default.
    for p in MO_PIXIT {
        assert_eq!(ics.pixit.mo.contains_key(p.key), p.default.is_some(), "{}", p.key);
        assert_eq!(ics.pixit.mo_defaults.contains(p.key), p.default.is_some(), "{}", p.key);
    }
    assert_eq!(ics.pixit_lookup("mo.exec_uri").as_deref(), Some("urn:oma:mo:oma-fumo:1.0//DownloadAndUpdate"));
    // MOData stays JSON for templates; text everywhere else.
    let values = ics.pixit_values();
    assert_eq!(
        values["mo.instance_data"],
        serde_json::json!({"FUMO": {"DownloadAndUpdate": {"PkgURL": "http://dmcts.invalid/firmware/created.bin"}}})
    );
    assert_eq!(values["mo.devid_uri"], "urn:oma:mo:oma-dm-devinfo:1.0//DevID");
    assert_eq!(values["timeouts.step_ms"], "10000");
    let json = ics.redacted_json();
    assert!(json["pixit_defaults"].as_array().unwrap().contains(&"mo.permanent_uri".into()), "{json}");

    // A value the ICS gives is its own; a table is MO data.
    let ics = parse(&format!(
        "{CLIENT}\n[pixit.mo]\nexec_uri = \"urn:oma:mo:acme-lock:1.0//Lock\"\ninstance_moid = \"urn:oma:mo:acme-app:1.0\"\n\
         instance_data = {{ App = {{ Name = \"dmcts\" }} }}\ninstance_value = \"dmcts\"\n"
    ))
    .unwrap();
    assert_eq!(ics.pixit.mo["exec_uri"], MoValue::Text("urn:oma:mo:acme-lock:1.0//Lock".into()));
    assert!(!ics.pixit.mo_defaults.contains("exec_uri") && ics.pixit.mo_defaults.contains("devid_uri"));
    assert_eq!(ics.pixit_values()["mo.instance_data"], serde_json::json!({"App": {"Name": "dmcts"}}));
}

#[test]
fn pixit_mo_values_are_checked_with_their_line() {
    let src = format!(
        "{CLIENT}\n[pixit.mo]\nreplace_uri = \"urn:oma:mo:oma-fumo:1.0//\"\nexec_uri = \"urn:x:1.0/*/Op\"\n\
         instance_data = \"FUMO\"\n"
    );
    let err = parse(&src).unwrap_err().to_string();
    let at =
        |key: &str| format!("ics.toml:{}: PIXIT mo.{key}: ", src.lines().position(|l| l.starts_with(key)).unwrap() + 1);
    assert!(
        err.contains(&format!("{}\"urn:oma:mo:oma-fumo:1.0//\" does not end in a node name", at("replace_uri"))),
        "{err}"
    );
    assert!(err.contains(&format!("{}\"urn:x:1.0/*/Op\" addresses several nodes", at("exec_uri"))), "{err}");
    assert!(err.contains(&format!("{}FUMO is not a non-empty table", at("instance_data"))), "{err}");
    // The value the read-back looks for must be among the data sent.
    let err = parse(&format!("{CLIENT}\n[pixit.mo]\ninstance_data = {{ App = {{ Name = \"x\" }} }}\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("PIXIT mo.instance_value \"http://dmcts.invalid/firmware/created.bin\" is not a leaf value of mo.instance_data"), "{err}");
    // A server IUT has no tree for the cases to address: its [pixit.mo] names only what it
    // manages (the EXEC node and its result AlertType).
    let server = "[iut]\nrole = \"server\"\nvendor = \"a\"\nproduct = \"b\"\nversion = \"1\"\n[pixit.iut]\nserver_uri = \"http://127.0.0.1:1/dm\"\n\
                  [pixit.upper_tester]\nbackend = \"http\"\nurl = \"http://127.0.0.1:9/ut\"\n[pixit.mo]\n";
    let err = parse(&format!("{server}x = \"y\"\n")).unwrap_err().to_string();
    assert!(err.contains("PIXIT mo.x describes a client IUT's tree"), "{err}");
    parse(&format!("{server}exec_result_alert_type = \"urn:oma:at:x:1.0:Done\"\n")).unwrap();
}

#[test]
fn a_capability_that_holds_needs_its_pixit() {
    let reg = registry();
    // Declared true without the values it needs (they have no default): refused before any traffic.
    let ics = parse(&CLIENT.replace("[support]\n", "[support]\n\"ICS-DMC-EXEC-EFFECT\" = true\n")).unwrap();
    let err = ics.validate_against(&reg).unwrap_err().to_string();
    assert!(
        err.contains("ICS-DMC-EXEC-EFFECT holds (declared true in the ICS), but the PIXIT gives no mo.exec_effect_uri, mo.exec_effect_value"),
        "{err}"
    );
    assert!(err.contains("or answer ICS-DMC-EXEC-EFFECT = false in [support]"), "{err}");
    // Declared false: nothing is needed.
    let ics = parse(&CLIENT.replace("[support]\n", "[support]\n\"ICS-DMC-NODE-EXEC\" = false\n")).unwrap();
    ics.validate_against(&reg).unwrap();
    // A server capability id, or one of another role, is refused.
    let ics = parse(&CLIENT.replace("[support]\n", "[support]\n\"ICS-DMS-NOTIF-HTTP\" = true\n")).unwrap();
    let err = ics.validate_against(&reg).unwrap_err().to_string();
    assert!(err.contains("[support] answers \"ICS-DMS-NOTIF-HTTP\", which is no ICS capability"), "{err}");
}

/// `account.server_id` defaults to the suite's own SERVER-ID ("dmcts"), which a client IUT's
/// account names; a server IUT's SERVER-ID is its own, so the cases see one only when the ICS
/// gives it (TC-DMS-P0-004 is then a verdict, else inconclusive).
#[test]
fn a_server_iuts_server_id_is_a_pixit_value_only_when_given() {
    let client = parse(CLIENT).unwrap();
    assert_eq!(client.pixit_lookup("account.server_id").as_deref(), Some("dmcts"));
    let server = "[iut]\nrole = \"server\"\nvendor = \"a\"\nproduct = \"b\"\nversion = \"1\"\n[pixit.iut]\nserver_uri = \"http://127.0.0.1:1/dm\"\n\
                  [pixit.upper_tester]\nbackend = \"http\"\nurl = \"http://127.0.0.1:9/ut\"\n";
    let ics = parse(server).unwrap();
    assert_eq!(ics.pixit_lookup("account.server_id"), None);
    assert!(!ics.pixit_values().contains_key("account.server_id"));
    // Given, even as "dmcts", it is the server's.
    for id in ["acme-dm", "dmcts"] {
        let ics = parse(&format!("{server}[pixit.account]\nserver_id = \"{id}\"\n")).unwrap();
        assert_eq!(ics.pixit_lookup("account.server_id").as_deref(), Some(id));
    }
}

#[test]
fn profile_informational_names_items_of_the_role_or_star() {
    let reg = registry();
    let with = |entries: &str| {
        let ics = parse(&format!("{CLIENT}\n[profile]\ninformational = {entries}\n")).expect("parses");
        ics.validate_against(&reg).map_err(|e| e.to_string())
    };
    with(r#"["DM-PACK-003-C-M", "DM-PACK-004-C-M"]"#).expect("client items are fine");
    with(r#"["*"]"#).expect("* is fine");
    let e = with(r#"["DM-PACK-003-S-M"]"#).unwrap_err();
    assert!(e.contains("ics.toml:") && e.contains("a server item; the IUT is a client"), "{e}");
    let e = with(r#"["VER"]"#).unwrap_err();
    assert!(e.contains("\"VER\", which is not an SCR item"), "{e}");
}
