//! Applicability of SCR items and case `applies_if` expressions, with human-readable reasons;
//! PIXIT lookup, redaction and the built-in reference ICS.
use dmcts::ics::{Applicability, Ics, NotificationTransport};
use dmcts::reference::ics::REFERENCE_DEV_ID;
use dmcts::scr::{Expr, Registry, Role};
use dmcts::upper_tester::UpperTesterConfig;
use std::path::Path;

fn registry() -> Registry {
    Registry::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scr")).unwrap()
}

fn client(package0: bool) -> Ics {
    let src = format!(
        r#"
[iut]
role = "client"
vendor = "Acme"
product = "Widget"
version = "1.0"

[support]
"DM-PACK-002-C-O" = {package0}
"DM-PACK-007-C-O" = true
"DM-PACK-008-C-O" = true
"DM-PACK-009-C-O" = false
"DM-PACK-019-C-O" = true
"DM-PACK-020-C-O" = false
"DM-PACK-023-C-O" = true
"ICS-DMC-NODE-EXEC" = true
"ICS-DMC-EXEC-DOWNLOAD" = false

[pixit.iut]
dev_id = "IMEI:1"

[pixit.account]
username = "dm"
password = "hunter2"

[pixit.notification]
secret = "s3cret"
auth_data = "auth-d"

[pixit.upper_tester]
backend = "http"
url = "http://127.0.0.1:9/ut"

[pixit.timeouts]
quiet_period_ms = 500

[pixit.mo]
devid_uri = "urn:oma:mo:oma-dm-devinfo:1.0//DevID"
"#
    );
    Ics::from_str(&src, Path::new("ics.toml")).unwrap()
}

fn find<'a>(a: &'a [Applicability], id: &str) -> &'a Applicability {
    a.iter().find(|x| x.id == id).unwrap_or_else(|| panic!("{id} missing"))
}

#[test]
fn every_item_of_both_roles_gets_a_reason() {
    let reg = registry();
    let ics = client(true);
    ics.validate_against(&reg).unwrap();
    let a = ics.item_applicability(&reg);
    // Every item of every table gets a reason: the 52 DM-PACK items and the enablers' tables.
    assert_eq!(a.len(), reg.items().len());
    assert_eq!(a.iter().filter(|x| x.id.starts_with("DM-PACK-")).count(), 52);

    let s = find(&a, "DM-PACK-001-S-M");
    assert!(!s.applicable);
    assert_eq!(s.reason, "server item; the IUT is a client");

    let m = find(&a, "DM-PACK-011-C-M");
    assert!(m.applicable);
    assert_eq!(m.reason, "mandatory");

    let yes = find(&a, "DM-PACK-019-C-O");
    assert!(yes.applicable);
    assert_eq!(yes.reason, "optional, declared supported in the ICS");

    let no = find(&a, "DM-PACK-020-C-O");
    assert!(!no.applicable);
    assert_eq!(no.reason, "optional, declared not supported in the ICS");

    let cond = find(&a, "DM-PACK-004-C-M");
    assert!(cond.applicable);
    assert_eq!(cond.reason, "mandatory, conditional on DM-PACK-002-C-O, which the ICS declares supported");

    // An optional item that is supported but depends on Package#0.
    let opt_cond = find(&a, "DM-PACK-008-C-O");
    assert!(opt_cond.applicable);
    assert_eq!(
        opt_cond.reason,
        "optional, declared supported in the ICS, conditional on DM-PACK-002-C-O, which the ICS declares supported"
    );
}

#[test]
fn items_conditional_on_an_unsupported_item_do_not_apply() {
    let reg = registry();
    let a = client(false).item_applicability(&reg);
    let cond = find(&a, "DM-PACK-004-C-M");
    assert!(!cond.applicable);
    assert_eq!(cond.reason, "mandatory, conditional on DM-PACK-002-C-O, which the ICS declares not supported");
    let opt = find(&a, "DM-PACK-007-C-O");
    assert!(!opt.applicable, "declared supported, but its condition fails");
    assert!(opt.reason.contains("which the ICS declares not supported"), "{}", opt.reason);
    assert!(find(&a, "DM-PACK-011-C-M").applicable);
}

#[test]
fn compound_requires_name_the_deciding_items() {
    let reg = Registry::load_str(
        r#"
[table]
id = "T"
title = "test table"
source = "test"
section = "1"
bindings = ["dm2"]
id_pattern = 'T-\d{3}-(?P<role>[CS])-(?P<status>[MO])'
provenance = "normative"
base = true

[[item]]
id = "T-001-C-O"
role = "client"
status = "O"
function = "a"
section = "1"

[[item]]
id = "T-002-C-O"
role = "client"
status = "O"
function = "b"
section = "1"

[[item]]
id = "T-003-C-M"
role = "client"
status = "M"
function = "c"
section = "1"
requires = "T-001-C-O or T-002-C-O"

[[item]]
id = "T-004-C-M"
role = "client"
status = "M"
function = "d"
section = "1"
requires = "T-003-C-M and not T-002-C-O"
"#,
        Path::new("t.toml"),
    )
    .unwrap();
    let src = |a: bool, b: bool| {
        format!(
            "[iut]\nrole = \"client\"\nvendor = \"v\"\nproduct = \"p\"\nversion = \"1\"\n[support]\n\"T-001-C-O\" = {a}\n\
             \"T-002-C-O\" = {b}\n[pixit.iut]\ndev_id = \"d\"\n[pixit.upper_tester]\nbackend = \"interactive\"\n"
        )
    };
    let ics = Ics::from_str(&src(false, true), Path::new("i.toml")).unwrap();
    ics.validate_against(&reg).unwrap();
    let a = ics.item_applicability(&reg);
    let c = find(&a, "T-003-C-M");
    assert!(c.applicable);
    assert_eq!(
        c.reason,
        "mandatory, conditional on T-001-C-O or T-002-C-O, which holds: T-002-C-O the ICS declares supported"
    );
    let d = find(&a, "T-004-C-M");
    assert!(!d.applicable);
    assert_eq!(
        d.reason,
        "mandatory, conditional on T-003-C-M and not T-002-C-O, which does not hold: T-002-C-O the ICS declares \
         supported"
    );

    let ics = Ics::from_str(&src(false, false), Path::new("i.toml")).unwrap();
    let a = ics.item_applicability(&reg);
    let d = find(&a, "T-004-C-M");
    assert!(!d.applicable);
    assert!(d.reason.contains("T-003-C-M is not applicable (mandatory, conditional on"), "{}", d.reason);
}

#[test]
fn applies_if_uses_item_applicability_and_declared_capabilities() {
    let reg = registry();
    let ics = client(true);

    let e = Expr::parse("DM-PACK-002-C-O and ICS-DMC-NODE-EXEC").unwrap();
    let (ok, why) = ics.eval_applies_if(&e, &reg);
    assert!(ok, "{why}");
    assert!(why.starts_with("holds: "), "{why}");
    assert!(why.contains("DM-PACK-002-C-O applicable (optional, declared supported in the ICS)"), "{why}");
    assert!(why.contains("ICS-DMC-NODE-EXEC declared true in the ICS"), "{why}");

    // A capability the ICS does not answer takes its declared default, and the reason says so.
    let e = Expr::parse("ICS-DMC-EXEC-DOWNLOAD or ICS-DMC-EXEC-EFFECT or ICS-DMC-NOTIF-WAP").unwrap();
    let (ok, why) = ics.eval_applies_if(&e, &reg);
    assert!(!ok);
    assert!(why.starts_with("does not hold: ICS-DMC-EXEC-DOWNLOAD declared false in the ICS; "), "{why}");
    assert!(why.contains("ICS-DMC-EXEC-EFFECT not answered in the ICS: false by default (which node"), "{why}");
    // An id no capability declares (the catalog refuses it in a case) counts as false.
    assert!(why.ends_with("ICS-DMC-NOTIF-WAP not declared in the ICS (treated as false)"), "{why}");
    let (ok, why) = ics.eval_applies_if(&Expr::parse("ICS-DMC-NODE-PERMANENT").unwrap(), &reg);
    assert!(ok, "{why}");
    assert!(why.contains("not answered in the ICS: true by default (every DM 2.0 client has DevInfo"), "{why}");

    let e = Expr::parse("DM-PACK-020-C-O or DM-PACK-019-C-O").unwrap();
    let (ok, why) = ics.eval_applies_if(&e, &reg);
    assert!(ok);
    assert!(why.contains("DM-PACK-019-C-O") && !why.contains("DM-PACK-020-C-O"), "only the deciding atom: {why}");

    let (ok, why) = client(false).eval_applies_if(&Expr::parse("DM-PACK-004-C-M").unwrap(), &reg);
    assert!(!ok);
    assert!(why.contains("not applicable (mandatory, conditional on DM-PACK-002-C-O"), "{why}");

    let (ok, why) = ics.eval_applies_if(&Expr::parse("DM-PACK-001-S-M").unwrap(), &reg);
    assert!(!ok);
    assert!(why.contains("server item; the IUT is a client"), "{why}");

    assert_eq!(ics.eval_applies_if(&Expr::parse("true").unwrap(), &reg), (true, "holds (constant)".into()));
}

#[test]
fn pixit_lookup_and_flat_map() {
    let ics = client(true);
    assert_eq!(ics.pixit_lookup("account.server_id").as_deref(), Some("dmcts"));
    assert_eq!(ics.pixit_lookup("iut.dev_id").as_deref(), Some("IMEI:1"));
    assert_eq!(ics.pixit_lookup("pixit.iut.dev_id").as_deref(), Some("IMEI:1"));
    assert_eq!(ics.pixit_lookup("timeouts.quiet_period_ms").as_deref(), Some("500"));
    assert_eq!(ics.pixit_lookup("suite.listen").as_deref(), Some("127.0.0.1:0"));
    assert_eq!(ics.pixit_lookup("notification.transport").as_deref(), Some("upper-tester"));
    assert_eq!(ics.pixit_lookup("upper_tester.url").as_deref(), Some("http://127.0.0.1:9/ut"));
    assert_eq!(ics.pixit_lookup("mo.devid_uri").as_deref(), Some("urn:oma:mo:oma-dm-devinfo:1.0//DevID"));
    assert_eq!(ics.pixit_lookup("iut.server_uri"), None, "absent values are absent");
    assert_eq!(ics.pixit_lookup("nope.x"), None);
    assert_eq!(ics.pixit_flat().get("notification.secret").map(String::as_str), Some("s3cret"));
}

#[test]
fn sensitive_values_are_redacted() {
    let ics = client(true);
    let mut sensitive = ics.sensitive_values();
    sensitive.sort();
    assert_eq!(sensitive, ["auth-d", "hunter2", "s3cret"]);
    let json = ics.redacted_json();
    let text = json.to_string();
    for s in &sensitive {
        assert!(!text.contains(s.as_str()), "{s} leaked: {text}");
    }
    assert_eq!(json["pixit"]["account"]["password"], "<redacted>");
    assert_eq!(json["pixit"]["notification"]["secret"], "<redacted>");
    assert_eq!(json["pixit"]["notification"]["auth_data"], "<redacted>");
    assert_eq!(json["pixit"]["account"]["username"], "dm");
    assert_eq!(json["iut"]["role"], "client");
    assert_eq!(json["support"]["DM-PACK-002-C-O"], true);
    assert_eq!(json["profile"]["name"], "2016-A");
    assert_eq!(json["path"], "ics.toml");
}

#[test]
fn reference_ics_supports_every_optional_item() {
    let reg = registry();
    let ics = Ics::for_reference(Role::Client, "http://127.0.0.1:7/ut", None);
    ics.validate_against(&reg).expect("the reference ICS needs no answers");
    assert_eq!(ics.pixit.iut.dev_id.as_deref(), Some(REFERENCE_DEV_ID));
    assert_eq!(ics.pixit.upper_tester, UpperTesterConfig::Http { url: "http://127.0.0.1:7/ut".into() });
    assert_eq!(ics.pixit.notification.transport, NotificationTransport::UpperTester);
    assert!(ics.pixit.timeouts.quiet_period_ms <= 200);
    let a = ics.item_applicability(&reg);
    // Every client item of the tables of its binding (DM 2.0); a DM 1.2 table's items are out,
    // with the binding as the reason.
    let dm12 = |id: &str| id.starts_with("DM12-");
    assert!(a.iter().filter(|x| x.id.contains("-C-") && !dm12(&x.id)).all(|x| x.applicable), "{a:?}");
    assert!(a.iter().filter(|x| dm12(&x.id)).all(|x| !x.applicable && x.reason.contains("binding dm12")), "{a:?}");
    assert!(a.iter().filter(|x| x.id.contains("-S-")).all(|x| !x.applicable));
    assert_eq!(find(&a, "DM-PACK-019-C-O").reason, "optional, supported by the reference implementation");

    let s = Ics::for_reference_with(
        Role::Server,
        "http://127.0.0.1:7/ut",
        Some("http://127.0.0.1:8/dm"),
        "127.0.0.1:4321".parse().unwrap(),
        "IMEI:42",
    );
    assert_eq!(s.pixit.iut.server_uri.as_deref(), Some("http://127.0.0.1:8/dm"));
    assert_eq!(s.pixit.suite.listen.port(), 4321);
    assert_eq!(s.pixit_lookup("iut.dev_id").as_deref(), Some("IMEI:42"));
    assert!(s.item_applicability(&reg).iter().filter(|x| x.id.contains("-S-") && !dm12(&x.id)).all(|x| x.applicable));
}
