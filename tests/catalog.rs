//! The case catalog: the shipped one loads; bad case files give located, clear errors.
use dmcts::catalog::Catalog;
use dmcts::scr::Registry;
use std::path::{Path, PathBuf};

fn registry() -> Registry {
    Registry::load_dir(Path::new("scr")).expect("the shipped SCR tables load")
}

fn load(src: &str) -> Result<Catalog, String> {
    Catalog::load_sources(&[(PathBuf::from("cases/x.toml"), src.to_string())], &registry()).map_err(|e| e.to_string())
}

const GOOD: &str = r#"
[[case]]
id = "TC-DMC-TEST-001"
title = "t"
purpose = "p"
role = "client"
covers = ["DM-PACK-011-C-M"]

[[case.steps]]
kind = "ut"
action = "session.start"
"#;

#[test]
fn shipped_catalog_loads() {
    let cat = Catalog::load_dir(Path::new("cases"), &registry()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!cat.cases.is_empty());
    assert_eq!(cat.digest.len(), 64);
}

#[test]
fn a_good_case_loads() {
    let cat = load(GOOD).unwrap();
    assert_eq!(cat.cases[0].id, "TC-DMC-TEST-001");
    assert_eq!(cat.cases[0].line, 2);
}

#[test]
fn malformed_toml_names_file_and_line() {
    let e = load("[[case]]\nid = \"TC-A-001\"\ntitle = \n").unwrap_err();
    assert!(e.starts_with("cases/x.toml:3:"), "{e}");
}

#[test]
fn unknown_step_kind_is_rejected() {
    let e = load(&GOOD.replace("kind = \"ut\"", "kind = \"teleport\"")).unwrap_err();
    assert!(e.contains("cases/x.toml:") && e.contains("teleport"), "{e}");
}

#[test]
fn a_case_covering_nothing_is_rejected() {
    let e = load(&GOOD.replace("covers = [\"DM-PACK-011-C-M\"]", "covers = []")).unwrap_err();
    assert!(e.contains("covers nothing"), "{e}");
}

#[test]
fn unknown_or_wrong_role_scr_items_are_rejected() {
    let e = load(&GOOD.replace("DM-PACK-011-C-M", "DM-PACK-099-C-M")).unwrap_err();
    assert!(e.contains("unknown SCR item DM-PACK-099-C-M"), "{e}");
    let e = load(&GOOD.replace("DM-PACK-011-C-M", "DM-PACK-011-S-M")).unwrap_err();
    assert!(e.contains("a server item"), "{e}");
}

#[test]
fn duplicate_ids_and_bad_ids_are_rejected() {
    let e = load(&format!("{GOOD}\n{GOOD}")).unwrap_err();
    assert!(e.contains("duplicate case id TC-DMC-TEST-001"), "{e}");
    let e = load(&GOOD.replace("TC-DMC-TEST-001", "case-1")).unwrap_err();
    assert!(e.contains("expected TC-"), "{e}");
}

#[test]
fn unknown_builtin_action_and_fault_are_rejected() {
    let with_check = format!(
        "{GOOD}\n[[case.steps]]\nkind = \"await\"\nendpoint = \"dm\"\nscr = \"DM-PACK-011-C-M\"\nchecks = [{{ check = \"builtin\", name = \"magic\", scr = \"DM-PACK-011-C-M\" }}]\n"
    );
    let e = load(&with_check).unwrap_err();
    assert!(e.contains("unknown built-in check \"magic\""), "{e}");
    let e = load(&GOOD.replace("session.start", "device.register")).unwrap_err();
    assert!(e.contains("unknown upper-tester action"), "{e}");
    let e = load(&GOOD.replace("covers = [", "detects = [\"client.no-such-fault\"]\ncovers = [")).unwrap_err();
    assert!(e.contains("unknown reference fault"), "{e}");
}

#[test]
fn bad_applies_if_is_rejected() {
    let e = load(&GOOD.replace("covers = [", "applies_if = \"DM-PACK-002-C-O and (\"\ncovers = [")).unwrap_err();
    assert!(e.contains("applies_if"), "{e}");
}

/// An await step with one check, written at line 13 of the file.
fn with_check(check: &str) -> String {
    format!(
        "{GOOD}\n[[case.steps]]\nkind = \"await\"\nendpoint = \"dm\"\nscr = \"DM-PACK-011-C-M\"\nchecks = [{check}]\n"
    )
}

#[test]
fn built_in_arguments_are_checked_at_load_with_the_steps_line() {
    // Missing, mistyped and unknown arguments are catalog errors, never verdicts on the IUT.
    let e = load(&with_check(r#"{ check = "builtin", name = "status-codes", scr = "DM-PACK-013-C-M" }"#)).unwrap_err();
    assert!(e.starts_with("cases/x.toml:13:") && e.contains("needs args.codes"), "{e}");
    let e = load(&with_check(
        r#"{ check = "builtin", name = "status-codes", args = { codes = [200, "3x"] }, scr = "DM-PACK-013-C-M" }"#,
    ))
    .unwrap_err();
    assert!(e.contains("args.codes must be an array of status codes"), "{e}");
    let e = load(&with_check(
        r#"{ check = "builtin", name = "body-contains", args = { value = "x", valeu = "y" }, scr = "DM-PACK-013-C-M" }"#,
    ))
    .unwrap_err();
    assert!(e.contains("has no argument \"valeu\""), "{e}");
    // A whole template fits any type: it is resolved at run time.
    load(&with_check(
        r#"{ check = "builtin", name = "get-data", args = { index = "${n}" }, scr = "DM-PACK-019-C-O" }"#,
    ))
    .unwrap();
}

const FIXTURES: &str = r#"
[[fixture]]
name = "start"
steps = [ { kind = "ut", action = "session.start" } ]

[[fixture]]
name = "serve"
params = ["commands", "item"]
steps = [
  { kind = "use", fixture = "start" },
  { kind = "await", endpoint = "dm", scr = "${param.item}", answer = { commands = "${param.commands}" } },
]
"#;

fn load_two(cases: &str) -> Result<Catalog, String> {
    Catalog::load_sources(
        &[(PathBuf::from("cases/f.toml"), FIXTURES.to_string()), (PathBuf::from("cases/x.toml"), cases.to_string())],
        &registry(),
    )
    .map_err(|e| e.to_string())
}

const USES: &str = r#"
[defaults]
role = "client"
prologue = ["start"]

[[case]]
id = "TC-DMC-TEST-002"
title = "t"
purpose = "p"
covers = ["DM-PACK-011-C-M"]

[[case.steps]]
kind = "use"
fixture = "serve"
with = { commands = [["END"]], item = "DM-PACK-011-C-M" }
"#;

#[test]
fn defaults_and_fixtures_expand_into_plain_steps() {
    let cat = load_two(USES).unwrap_or_else(|e| panic!("{e}"));
    let case = &cat.cases[0];
    assert_eq!(case.role.to_string(), "client");
    assert_eq!(case.binding, "dm2");
    let kinds: Vec<&str> = case.steps.iter().map(|s| s.kind()).collect();
    // The prologue, then the fixture (which itself uses a fixture).
    assert_eq!(kinds, ["ut", "ut", "await"]);
    assert_eq!(case.steps[2].scr_refs(), ["DM-PACK-011-C-M"]);
    // Each step knows where it was written and through which fixture it came.
    assert_eq!(case.origins[2].file, PathBuf::from("cases/f.toml"));
    assert!(case.origins[2].via[0].starts_with("fixture serve used at cases/x.toml:12"), "{:?}", case.origins[2]);
}

#[test]
fn fixture_misuse_is_a_located_error() {
    let e = load_two(&USES.replace("fixture = \"serve\"", "fixture = \"serv\"")).unwrap_err();
    assert!(e.contains("cases/x.toml:12:") && e.contains("unknown fixture \"serv\""), "{e}");
    let e = load_two(&USES.replace(", item = \"DM-PACK-011-C-M\"", "")).unwrap_err();
    assert!(e.contains("needs `with` values for item"), "{e}");
    let e = load_two(&USES.replace("item = ", "colour = \"red\", item = ")).unwrap_err();
    assert!(e.contains("has no parameter \"colour\""), "{e}");
    // An error inside the fixture's step names the fixture's file and where it was used.
    let e = load_two(&USES.replace("DM-PACK-011-C-M\" }", "DM-PACK-999-C-M\" }")).unwrap_err();
    assert!(
        e.contains("cases/f.toml:11:") && e.contains("DM-PACK-999-C-M") && e.contains("used at cases/x.toml:12"),
        "{e}"
    );
    let e = load_two(&USES.replace("role = \"client\"\n", "")).unwrap_err();
    assert!(e.contains("no role"), "{e}");
    let e = load_two(&USES.replace("[defaults]\n", "[defaults]\nbinding = \"dm13\"\n")).unwrap_err();
    assert!(e.contains("unknown binding \"dm13\""), "{e}");
}

#[test]
fn the_cli_exits_2_naming_file_and_line_for_a_bad_check_argument() {
    let dir = std::env::temp_dir().join(format!("dmcts-bad-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = with_check(
        r#"{ check = "builtin", name = "status-codes", args = { codes = "200" }, scr = "DM-PACK-013-C-M" }"#,
    );
    std::fs::write(dir.join("bad.toml"), bad).unwrap();
    for args in [&["cases", "check"][..], &["run", "--against", "reference"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmcts"))
            .args(["--cases-dir", dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("bad.toml:13:") && err.contains("args.codes must be"), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn applies_if_names_only_scr_items_and_declared_capabilities() {
    // A declared capability of the case's role and binding is fine.
    load(&GOOD.replace("covers = [", "applies_if = \"ICS-DMC-NODE-EXEC and DM-PACK-019-C-O\"\ncovers = [")).unwrap();
    // An id no capability declares would silently count as false: the case would never run.
    let e = load(&GOOD.replace("covers = [", "applies_if = \"ICS-DMC-TELEPORT\"\ncovers = [")).unwrap_err();
    assert!(
        e.contains("applies_if names ICS-DMC-TELEPORT, which is neither an SCR item nor a declared ICS capability"),
        "{e}"
    );
    assert!(e.contains("capabilities of a dm2 client: ICS-DMC-NODE-PERMANENT, "), "{e}");
    // A client capability in a server case.
    let server = GOOD.replace("role = \"client\"", "role = \"server\"").replace("DM-PACK-011-C-M", "DM-PACK-011-S-M");
    let e = load(&server.replace("covers = [", "applies_if = \"ICS-DMC-NODE-EXEC\"\ncovers = [")).unwrap_err();
    assert!(e.contains("names capability ICS-DMC-NODE-EXEC, of a client IUT"), "{e}");
}

/// The session fields of issue 15 go where they mean something: `notification` and `objects`
/// shape an opening message, `status_members` the statuses of `auto_status`.
#[test]
fn session_fields_are_checked_where_they_belong() {
    let case = |step: &str| {
        format!(
            "[[case]]\nid = \"TC-DMS-TEST-001\"\ntitle = \"t\"\npurpose = \"p\"\nrole = \"server\"\n\
             covers = [\"DM-PACK-011-S-M\"]\n\n[[case.steps]]\n{step}\n"
        )
    };
    load(&case(
        "kind = \"open-session\"\nnotification = \"${n}\"\nobjects = [{ MOID = \"urn:x:1.0\", MIID = [\"a\"] }]",
    ))
    .unwrap();
    let e = load(&case("kind = \"reply\"\nnotification = \"${n}\"")).unwrap_err();
    assert!(e.contains("`notification` and `objects` shape the opening message"), "{e}");
    let e = load(&case("kind = \"open-session\"\nnotification = \"${n}\"\nbody = { Alert = [] }")).unwrap_err();
    assert!(e.contains("give them or `body`, not both"), "{e}");
    let e = load(&case("kind = \"reply\"\nstatus_members = { HGET = { URI = [\"u\"] } }")).unwrap_err();
    assert!(e.contains("`status_members` adds to the statuses of `auto_status`"), "{e}");
    let e = load(&case("kind = \"open-session\"\nstatus_members = { HGET = { URI = [\"u\"] } }")).unwrap_err();
    assert!(e.contains("it belongs to `reply`, not `open-session`"), "{e}");
    load(&case("kind = \"finish-session\"\nscr = \"DM-PACK-022-S-M\"\nstatus_members = { HGET = { URI = [\"u\"] } }"))
        .unwrap();
}
