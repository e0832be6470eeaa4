//! The SCR registry: the shipped table loads as exactly the seed's 52 items, and bad tables are
//! rejected with every problem located at file:line.
use dmcts::scr::{list_json, list_table, Provenance, Registry, Role, ScrError, Status};
use std::path::{Path, PathBuf};

/// A table header admitting DM-PACK ids; every test table below starts with it.
const HEADER: &str = r#"[table]
id = "DM-PACK"
title = "DM 2.0 DM Packages"
source = "test"
section = "B.1.1"
bindings = ["dm2"]
id_pattern = '^DM-PACK-\d{3}-(?P<role>[CS])-(?P<status>[MO])$'
provenance = "normative"
base = true
"#;

/// A header for table `id` whose ids are `<id>-NNN-C|S-M|O`.
fn header(id: &str, provenance: &str) -> String {
    format!(
        "[table]\nid = \"{id}\"\ntitle = \"{id} test table\"\nsource = \"seed 000_test.txt\"\nsection = \"1\"\n\
         bindings = [\"dm2\"]\nid_pattern = '^{id}-\\d{{3}}-(?P<role>[CS])-(?P<status>[MO])$'\nprovenance = \"{provenance}\"\n"
    )
}

/// Lines the header takes: item line numbers below are offset by it.
fn h() -> usize {
    HEADER.lines().count()
}

fn scr_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scr")
}

#[test]
fn shipped_table_has_the_seeds_52_items() {
    let reg = Registry::load_dir(&scr_dir()).expect("shipped SCR tables load");
    // The seed's DM-PACK table; the enabler tables beside it are derived.
    let seed: Vec<_> = reg.items().iter().filter(|i| i.id.starts_with("DM-PACK-")).collect();
    assert_eq!(seed.len(), 52);
    assert_eq!(seed.iter().filter(|i| i.role == Role::Client).count(), 26);
    assert_eq!(seed.iter().filter(|i| i.role == Role::Server).count(), 26);

    let optional: Vec<&str> = seed.iter().filter(|i| i.status == Status::O).map(|i| i.id.as_str()).collect();
    assert_eq!(
        optional,
        [
            "DM-PACK-002-C-O",
            "DM-PACK-007-C-O",
            "DM-PACK-008-C-O",
            "DM-PACK-009-C-O",
            "DM-PACK-019-C-O",
            "DM-PACK-020-C-O",
            "DM-PACK-023-C-O"
        ]
    );
    // Every server item is mandatory and unconditional (B.2.1).
    assert!(seed.iter().filter(|i| i.role == Role::Server).all(|i| i.status == Status::M && i.requires.is_none()));
    // Beside it, the derived security table (scr/dm2/security.toml, docs/security.md).
    assert_eq!(reg.items().iter().filter(|i| i.id.starts_with("DM-SEC-")).count(), 5);

    let oc = reg.get("DM-PACK-004-C-M").expect("OC header item");
    assert_eq!(oc.function, "Support of OC header");
    assert_eq!(oc.section, "5.2.1.1");
    assert_eq!(oc.requires_text.as_deref(), Some("DM-PACK-002-C-O"));
    assert!(oc.file.ends_with("dm2/packages.toml"));
    assert_eq!(oc.table, "DM-PACK");
    assert_eq!(oc.provenance, Provenance::Normative);
    assert_eq!(
        oc.source(),
        "OMA DM 2.0 Protocol, seed change request 004_2197859ab3cf537f.txt (Change 5), section 5.2.1.1"
    );
    let t = reg.table("DM-PACK").expect("the DM-PACK table header");
    assert!(reg.tables().iter().filter(|t| t.id != "DM-PACK").all(|t| t.provenance == Provenance::Derived));
    // One base table per binding: DM-PACK for DM 2.0, DM12 for SyncML DM 1.2.
    let base: Vec<(&str, &[String])> =
        reg.tables().iter().filter(|t| t.base).map(|t| (t.id.as_str(), t.bindings.as_slice())).collect();
    assert_eq!(base, [("DM12", &["dm12".to_string()][..]), ("DM-PACK", &["dm2".to_string()][..])]);
    assert_eq!((t.title.as_str(), t.base, t.provenance), ("DM 2.0 DM Packages", true, Provenance::Normative));
    assert_eq!(t.bindings, ["dm2"]);
    assert!(seed.iter().all(|i| i.table == "DM-PACK" && i.cites.is_none()));
    // A derived table's every item cites what it rests on.
    assert!(reg.items().iter().filter(|i| i.table != "DM-PACK").all(|i| i.cites.is_some()));
    assert!(oc.line > 1);

    // Client items 003..010 depend on Package#0 support; nothing else has a dependency.
    let conditional: Vec<&str> = seed.iter().filter(|i| i.requires.is_some()).map(|i| i.id.as_str()).collect();
    assert_eq!(conditional.len(), 8);
    assert!(conditional.iter().all(|id| id.contains("-C-")));

    let end = reg.get("DM-PACK-022-C-M").expect("END item");
    assert_eq!(
        end.requirement.as_deref(),
        Some("If the Package#2 includes the END command, this Package#3 MUST NOT be sent.")
    );
    for i in reg.items().iter().filter(|i| i.table == "DM-PACK") {
        assert!(i.id.ends_with(&format!("-{}", i.status)));
        assert!(i.id.contains(i.role.infix()));
    }
}

#[test]
fn list_helpers_render_every_item() {
    let reg = Registry::load_dir(&scr_dir()).unwrap();
    let items: Vec<_> = reg.items().iter().filter(|i| i.id.starts_with("DM-PACK-")).collect();
    let table = list_table(&items);
    assert!(table.contains("DM-PACK-004-C-M"));
    assert!(table.contains("Support of OC header"));
    assert!(table.contains("52 item(s) in 1 table(s)"), "{table}");
    let header = table.lines().next().unwrap();
    for col in ["TABLE", "PROVENANCE", "SOURCE"] {
        assert!(header.contains(col), "{header}");
    }
    let row = table.lines().find(|l| l.starts_with("DM-PACK-004-C-M")).unwrap();
    assert!(
        row.contains(" DM-PACK ") && row.contains(" normative ") && row.contains("seed change request 004"),
        "{row}"
    );
    let json = list_json(&items);
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 52);
    let oc = arr.iter().find(|o| o["id"] == "DM-PACK-004-C-M").unwrap();
    assert_eq!(oc["role"], "client");
    assert_eq!(oc["status"], "M");
    assert_eq!(oc["section"], "5.2.1.1");
    assert_eq!(oc["requires"], "DM-PACK-002-C-O");
    assert_eq!(oc["table"], "DM-PACK");
    assert_eq!(oc["provenance"], "normative");
    assert!(oc["source"].as_str().unwrap().ends_with("(Change 5), section 5.2.1.1"), "{oc}");
    assert!(oc.get("cites").is_none());
    let flow = arr.iter().find(|o| o["id"] == "DM-PACK-001-S-M").unwrap();
    assert!(flow["requires"].is_null());
    assert!(flow["requirement"].is_string());
    assert!(flow.get("justification").is_none());
}

/// The problems of a table file (written without its header: [`HEADER`] is prepended).
fn errors(src: &str) -> Vec<String> {
    raw_errors(&format!("{HEADER}{src}"))
}

/// The problems of a table file, as given.
fn raw_errors(src: &str) -> Vec<String> {
    match Registry::load_str(src, Path::new("scr/test.toml")) {
        Ok(_) => panic!("expected the table to be rejected"),
        Err(e @ ScrError::Invalid(_)) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

const A: &str = r#"
[[item]]
id = "DM-PACK-001-C-M"
role = "client"
status = "M"
function = "Support of DM Package flow"
section = "5.2"
"#;

#[test]
fn duplicate_id_is_rejected_with_both_locations() {
    let src = format!("{A}{A}");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with(&format!("scr/test.toml:{}:", h() + 10)), "{errs:?}");
    assert!(errs[0].contains("duplicate SCR id DM-PACK-001-C-M"), "{errs:?}");
    assert!(errs[0].contains(&format!("scr/test.toml:{}", h() + 2)), "names the first definition: {errs:?}");
}

#[test]
fn suffix_role_and_grammar_mismatches_are_rejected() {
    let src = r#"
[[item]]
id = "DM-PACK-001-C-M"
role = "client"
status = "O"
function = "f"
section = "5.2"

[[item]]
id = "DM-PACK-002-C-O"
role = "server"
status = "O"
function = "f"
section = "5.2"

[[item]]
id = "DM-PACK-3-C-X"
role = "client"
status = "M"
function = "f"
section = "5.2"
"#;
    let errs = errors(src);
    assert_eq!(errs.len(), 3, "every problem is reported: {errs:?}");
    let at = |n: usize| format!("scr/test.toml:{}:", h() + n);
    assert!(errs[0].starts_with(&at(5)) && errs[0].contains("status part M says \"M\""), "{errs:?}");
    assert!(errs[1].starts_with(&at(11)) && errs[1].contains("role part C says \"client\""), "{errs:?}");
    assert!(errs[2].starts_with(&at(17)) && errs[2].contains("bad SCR id"), "{errs:?}");
    assert!(errs[2].contains("id_pattern"), "names the table's pattern: {errs:?}");
}

#[test]
fn unknown_reference_is_rejected() {
    let src = format!("{A}requires = \"DM-PACK-002-C-O or true\"\n");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with(&format!("scr/test.toml:{}:", h() + 8)), "{errs:?}");
    assert!(errs[0].contains("DM-PACK-002-C-O, which is not an SCR item"), "{errs:?}");
}

#[test]
fn cycle_is_rejected() {
    let src = r#"
[[item]]
id = "X-001-C-M"
role = "client"
status = "M"
function = "f"
section = "1"
requires = "X-002-C-M"

[[item]]
id = "X-002-C-M"
role = "client"
status = "M"
function = "f"
section = "1"
requires = "X-003-C-O and true"

[[item]]
id = "X-003-C-O"
role = "client"
status = "O"
function = "f"
section = "1"
requires = "not X-001-C-M"
"#;
    let errs = raw_errors(&format!("{}{src}", header("X", "normative")));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!("scr/test.toml:{}:", header("X", "normative").lines().count() + 8)),
        "{errs:?}"
    );
    assert!(errs[0].contains("X-001-C-M -> X-002-C-M -> X-003-C-O -> X-001-C-M"), "{errs:?}");
}

#[test]
fn unknown_key_bad_expression_and_bad_toml_are_located() {
    let src =
        format!("{A}colour = \"red\"\n{}", A.replace("001", "002").replace("\"5.2\"", "\"5.2\"\nrequires = \"(\""));
    let errs = errors(&src);
    assert_eq!(errs.len(), 2, "{errs:?}");
    let at = |n: usize| format!("scr/test.toml:{}:", h() + n);
    assert!(errs[0].starts_with(&at(8)) && errs[0].contains("colour"), "{errs:?}");
    assert!(errs[0].contains("expected one of"), "{errs:?}");
    assert!(errs[1].starts_with(&at(16)) && errs[1].contains("bad `requires` expression"), "{errs:?}");

    let errs = errors("[[item]\nid = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(&at(1)) && errs[0].contains("invalid TOML"), "{errs:?}");

    let errs = errors("[[item]]\nid = \"DM-PACK-001-C-M\"\nrole = \"both\"\n");
    assert!(errs[0].starts_with(&at(3)) && errs[0].contains("client"), "{errs:?}");

    let errs = raw_errors(&format!("title = \"x\"\n{HEADER}"));
    assert!(errs[0].contains("unknown top-level key `title`"), "{errs:?}");
}

#[test]
fn load_dir_reads_every_toml_and_refuses_an_empty_dir() {
    let dir = std::env::temp_dir().join(format!("dmcts-scr-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(matches!(Registry::load_dir(&dir), Err(ScrError::NoTables(_))));
    // scr/<area>/<table>.toml, at any depth; other files and hidden folders are ignored.
    std::fs::create_dir_all(dir.join("dm2")).unwrap();
    std::fs::create_dir_all(dir.join("toy/deeper")).unwrap();
    std::fs::create_dir_all(dir.join(".hidden")).unwrap();
    std::fs::write(dir.join("dm2/a.toml"), format!("{HEADER}{A}")).unwrap();
    let b = format!("{}{}", header("TOY", "normative"), A.replace("DM-PACK", "TOY"));
    std::fs::write(dir.join("toy/deeper/b.toml"), b.replace("-C-M", "-S-M").replace("client", "server")).unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    std::fs::write(dir.join(".hidden/x.toml"), "not = [a table").unwrap();
    let reg = Registry::load_dir(&dir).unwrap();
    assert_eq!(reg.items().len(), 2);
    assert_eq!(reg.sources().len(), 2);
    assert_eq!(reg.tables().iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["DM-PACK", "TOY"]);
    assert_eq!(reg.get("TOY-001-S-M").unwrap().table, "TOY");
    std::fs::write(dir.join("dm2/c.toml"), format!("{}{A}", header("DM-PACK2", "normative"))).unwrap();
    let err = Registry::load_dir(&dir).unwrap_err().to_string();
    let first = h() + 2;
    assert!(err.contains(&format!("c.toml:{}:", header("X", "normative").lines().count() + 3)), "{err}");
    assert!(err.contains(&format!("a.toml:{first}")) && err.contains("duplicate SCR id"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(Registry::load_dir(&dir), Err(ScrError::Io { .. })));
}

#[test]
fn self_reference_is_a_cycle() {
    let errs = errors(&format!("{A}requires = \"DM-PACK-001-C-M\"\n"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("DM-PACK-001-C-M -> DM-PACK-001-C-M"), "{errs:?}");
}

/// Problems of several files loaded together, as `file:line:col: message` strings.
fn errors_of(files: &[(&str, &str)]) -> Vec<String> {
    let sources = files.iter().map(|(p, s)| (PathBuf::from(p), s.as_bytes().to_vec())).collect();
    match Registry::from_sources(sources) {
        Ok(_) => panic!("expected the tables to be rejected"),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
    }
}

/// A FUMO-style table: ids `FUMO-C-001` (the status is not part of the id), derived from flow
/// text, so every item cites what it rests on.
const FUMO: &str = r#"[table]
id = "FUMO"
title = "FUMO test table"
source = "seed 001_test.txt"
section = "Flows 1-3"
bindings = ["dm2"]
id_pattern = '^FUMO-(?P<role>[CS])-\d{3}$'
provenance = "derived"

[[item]]
id = "FUMO-C-001"
role = "client"
status = "O"
function = "Download and update"
section = "6.1"
cites = "001_test.txt section 6.1 step 3: the client MUST report the result"

[[item]]
id = "FUMO-C-002"
role = "client"
status = "M"
function = "Report the result"
section = "6.2"
requires = "FUMO-C-001 and DM-PACK-001-C-M"
cites = "001_test.txt section 6.2: the result is reported asynchronously"
"#;

#[test]
fn a_second_table_with_its_own_id_grammar_loads_and_may_depend_on_another_table() {
    let sources = vec![
        (PathBuf::from("scr/dm2/packages.toml"), format!("{HEADER}{A}").into_bytes()),
        (PathBuf::from("scr/fumo/fumo.toml"), FUMO.as_bytes().to_vec()),
    ];
    let reg = Registry::from_sources(sources).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reg.tables().len(), 2);
    let fumo = reg.table("FUMO").unwrap();
    assert_eq!(fumo.provenance, Provenance::Derived);
    assert!(!fumo.base);
    assert_eq!(fumo.line, 1);
    let c2 = reg.get("FUMO-C-002").unwrap();
    assert_eq!((c2.table.as_str(), c2.status, c2.provenance), ("FUMO", Status::M, Provenance::Derived));
    assert_eq!(c2.source(), "001_test.txt section 6.2: the result is reported asynchronously");
    assert_eq!(c2.requires_text.as_deref(), Some("FUMO-C-001 and DM-PACK-001-C-M"));
    assert_eq!(reg.table_of(c2).unwrap().title, "FUMO test table");
    let json = list_json(&reg.items().iter().collect::<Vec<_>>());
    let j = json.as_array().unwrap().iter().find(|o| o["id"] == "FUMO-C-001").unwrap().clone();
    assert_eq!(j["provenance"], "derived");
    assert_eq!(j["cites"], j["source"]);
}

#[test]
fn a_cycle_across_tables_is_rejected() {
    let dm = format!("{HEADER}{A}requires = \"FUMO-C-002\"\n");
    let errs = errors_of(&[("scr/dm2/packages.toml", &dm), ("scr/fumo/fumo.toml", FUMO)]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with(&format!("scr/dm2/packages.toml:{}:", h() + 8)), "{errs:?}");
    assert!(errs[0].contains("DM-PACK-001-C-M -> FUMO-C-002 -> DM-PACK-001-C-M"), "{errs:?}");
}

#[test]
fn header_problems_are_located_and_all_reported_at_once() {
    // No header at all.
    let errs = raw_errors(A);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:1:1: missing `[table]` header"), "{errs:?}");
    assert!(errs[0].contains("id_pattern"), "says what is expected: {errs:?}");

    // An unknown header key; a missing one.
    let errs = raw_errors(&format!("{}colour = \"red\"\n{A}", HEADER));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with(&format!("scr/test.toml:{}:", h() + 1)) && errs[0].contains("colour"), "{errs:?}");
    let errs = raw_errors(&format!("{}{A}", HEADER.replace("provenance = \"normative\"\n", "")));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:1:") && errs[0].contains("provenance"), "{errs:?}");
    assert!(errs[0].contains("in [table] at line 1"), "{errs:?}");

    // Several problems in one header and its items, every one reported with its line.
    let bad = HEADER
        .replace("id = \"DM-PACK\"", "id = \"dm pack\"")
        .replace("bindings = [\"dm2\"]", "bindings = [\"DM 2\"]")
        .replace("(?P<status>[MO])$'", "(?P<status>[MO]$'")
        .replace("provenance = \"normative\"", "provenance = \"normal\"");
    let errs = raw_errors(&format!("{bad}{A}"));
    assert_eq!(errs.len(), 1, "a bad provenance value stops the header: {errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:8:") && errs[0].contains("normative"), "{errs:?}");
    let bad = bad.replace("provenance = \"normal\"", "provenance = \"normative\"");
    let errs = raw_errors(&format!("{bad}{A}"));
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:2:") && errs[0].contains("bad table id \"dm pack\""), "{errs:?}");
    assert!(errs[1].starts_with("scr/test.toml:6:") && errs[1].contains("bad binding \"DM 2\""), "{errs:?}");
    assert!(errs[2].starts_with("scr/test.toml:7:") && errs[2].contains("not a valid regular expression"), "{errs:?}");

    // A misspelt named group would check nothing: refused.
    let errs = raw_errors(&format!("{}{A}", HEADER.replace("?P<role>", "?P<rol>")));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:7:") && errs[0].contains("`rol`"), "{errs:?}");
}

#[test]
fn items_must_match_their_tables_pattern_and_derived_items_must_cite() {
    let uncited = FUMO.replace("cites = \"001_test.txt section 6.1 step 3: the client MUST report the result\"\n", "");
    let dm = format!("{HEADER}{A}");
    let errs = errors_of(&[("scr/dm2.toml", &dm), ("scr/fumo.toml", &uncited)]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("scr/fumo.toml:10:"), "at the item: {errs:?}");
    assert!(errs[0].contains("FUMO is derived") && errs[0].contains("`cites`"), "{errs:?}");

    // A DM-PACK style id in the FUMO table, and a role letter that disagrees.
    let wrong = FUMO
        .replace("id = \"FUMO-C-001\"", "id = \"FUMO-001-C-O\"")
        .replace("id = \"FUMO-C-002\"\nrole = \"client\"", "id = \"FUMO-S-002\"\nrole = \"client\"");
    let errs = errors_of(&[("scr/dm2.toml", &dm), ("scr/fumo.toml", &wrong)]);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[0].starts_with("scr/fumo.toml:11:") && errs[0].contains("id_pattern"), "{errs:?}");
    assert!(errs[1].starts_with("scr/fumo.toml:20:") && errs[1].contains("role part S says \"server\""), "{errs:?}");
    assert!(errs[2].contains("FUMO-C-001, which is not an SCR item"), "{errs:?}");

    // An id `requires` could not name.
    let errs = errors(&A.replace("DM-PACK-001-C-M", "DM PACK 1"));
    assert!(errs[0].contains("bad SCR id \"DM PACK 1\"") && errs[0].contains("`requires`"), "{errs:?}");
}

#[test]
fn duplicate_table_ids_name_both_files() {
    let errs = errors_of(&[
        ("scr/dm2/a.toml", &format!("{HEADER}{A}")),
        ("scr/dm2/b.toml", &format!("{HEADER}{}", A.replace("001", "002"))),
    ]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("scr/dm2/b.toml:2:"), "{errs:?}");
    assert!(errs[0].contains("duplicate table id DM-PACK") && errs[0].contains("scr/dm2/a.toml:1"), "{errs:?}");
}

#[test]
fn shipped_capabilities_are_the_dm2_client_device_facts() {
    let reg = Registry::load_dir(&scr_dir()).unwrap();
    let ids: Vec<&str> = reg.capabilities_of(Role::Client, "dm2").iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ICS-DMC-NODE-PERMANENT",
            "ICS-DMC-NODE-REPLACE",
            "ICS-DMC-MO-CREATE",
            "ICS-DMC-NODE-EXEC",
            "ICS-DMC-EXEC-DOWNLOAD",
            "ICS-DMC-EXEC-EFFECT",
            "ICS-DMC-DEFAULT-FETCH",
            "ICS-DMC-TLS",
            "ICS-DMC-HTTP-AUTH"
        ]
    );
    let server: Vec<&str> = reg.capabilities_of(Role::Server, "dm2").iter().map(|c| c.id.as_str()).collect();
    assert_eq!(server, ["ICS-DMS-TLS", "ICS-DMS-HTTP-AUTH"]);
    let exec = reg.capability("ICS-DMC-NODE-EXEC").unwrap();
    assert!(exec.default && exec.question.starts_with("Does the device have a node"));
    assert_eq!(exec.pixit, ["mo.exec_uri"]);
    assert!(exec.file.ends_with("dm2/capabilities.toml") && exec.line > 1);
    // Facts without a typical value default to "the device lacks it".
    assert!(!reg.capability("ICS-DMC-EXEC-EFFECT").unwrap().default);
    assert!(!reg.capability("ICS-DMC-DEFAULT-FETCH").unwrap().default);
}

const CAP: &str = r#"[[capability]]
id = "ICS-DMC-X"
role = "client"
bindings = ["dm2"]
question = "Does it?"
default = true
default_why = "typical"
pixit = ["mo.x"]
"#;

#[test]
fn a_file_of_capabilities_needs_no_table_header_and_is_checked() {
    let sources = vec![
        (PathBuf::from("scr/dm2/packages.toml"), format!("{HEADER}{A}").into_bytes()),
        (PathBuf::from("scr/dm2/capabilities.toml"), CAP.as_bytes().to_vec()),
    ];
    let reg = Registry::from_sources(sources).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reg.capabilities().len(), 1);
    assert_eq!(reg.capability("ICS-DMC-X").unwrap().line, 1);

    let errs = errors_of(&[
        ("scr/dm2/packages.toml", &format!("{HEADER}{A}")),
        ("scr/dm2/c.toml", &format!("{CAP}\n{}", CAP.replace("ICS-DMC-X", "DM-PACK-001-C-M"))),
        ("scr/dm2/d.toml", CAP),
        (
            "scr/dm2/e.toml",
            &CAP.replace("ICS-DMC-X", "X-1").replace("\"Does it?\"", "\" \"").replace("\"mo.x\"", "\"x\""),
        ),
        ("scr/dm2/f.toml", &CAP.replace("default = true", "default = \"yes\"")),
    ]);
    let all = errs.join("\n");
    assert!(all.contains("scr/dm2/c.toml:11:6: bad capability id \"DM-PACK-001-C-M\""), "{all}");
    assert!(all.contains("capability id DM-PACK-001-C-M is also an SCR item id"), "{all}");
    assert!(
        all.contains("scr/dm2/d.toml:2:6: duplicate capability id ICS-DMC-X: already declared at scr/dm2/c.toml:1"),
        "{all}"
    );
    assert!(all.contains("scr/dm2/e.toml:2:6: bad capability id \"X-1\""), "{all}");
    assert!(all.contains("capability X-1: `question` is empty"), "{all}");
    assert!(all.contains("`pixit` entry \"x\" is not a dotted PIXIT name"), "{all}");
    assert!(all.contains("scr/dm2/f.toml:6:") && all.contains("in [[capability]] at line 1"), "{all}");
}
