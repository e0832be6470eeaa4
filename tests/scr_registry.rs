//! The SCR registry: the shipped table loads as exactly the seed's 52 items, and bad tables are
//! rejected with every problem located at file:line.
use dmcts::scr::{list_json, list_table, Registry, Role, ScrError, Status};
use std::path::{Path, PathBuf};

fn scr_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scr")
}

#[test]
fn shipped_table_has_the_seeds_52_items() {
    let reg = Registry::load_dir(&scr_dir()).expect("shipped SCR tables load");
    assert_eq!(reg.items().len(), 52);
    assert_eq!(reg.items_of(Role::Client).len(), 26);
    assert_eq!(reg.items_of(Role::Server).len(), 26);

    let optional: Vec<&str> = reg.items().iter().filter(|i| i.status == Status::O).map(|i| i.id.as_str()).collect();
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
    assert!(reg.items_of(Role::Server).iter().all(|i| i.status == Status::M && i.requires.is_none()));

    let oc = reg.get("DM-PACK-004-C-M").expect("OC header item");
    assert_eq!(oc.function, "Support of OC header");
    assert_eq!(oc.section, "5.2.1.1");
    assert_eq!(oc.requires_text.as_deref(), Some("DM-PACK-002-C-O"));
    assert!(oc.file.ends_with("dm2-packages.toml"));
    assert!(oc.line > 1);

    // Client items 003..010 depend on Package#0 support; nothing else has a dependency.
    let conditional: Vec<&str> = reg.items().iter().filter(|i| i.requires.is_some()).map(|i| i.id.as_str()).collect();
    assert_eq!(conditional.len(), 8);
    assert!(conditional.iter().all(|id| id.contains("-C-")));

    let end = reg.get("DM-PACK-022-C-M").expect("END item");
    assert_eq!(
        end.requirement.as_deref(),
        Some("If the Package#2 includes the END command, this Package#3 MUST NOT be sent.")
    );
    for i in reg.items() {
        assert!(i.id.ends_with(&format!("-{}", i.status)));
        assert!(i.id.contains(i.role.infix()));
    }
}

#[test]
fn list_helpers_render_every_item() {
    let reg = Registry::load_dir(&scr_dir()).unwrap();
    let items: Vec<_> = reg.items().iter().collect();
    let table = list_table(&items);
    assert!(table.contains("DM-PACK-004-C-M"));
    assert!(table.contains("Support of OC header"));
    assert!(table.contains("52 item(s)"));
    let json = list_json(&items);
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 52);
    let oc = arr.iter().find(|o| o["id"] == "DM-PACK-004-C-M").unwrap();
    assert_eq!(oc["role"], "client");
    assert_eq!(oc["status"], "M");
    assert_eq!(oc["section"], "5.2.1.1");
    assert_eq!(oc["requires"], "DM-PACK-002-C-O");
    let flow = arr.iter().find(|o| o["id"] == "DM-PACK-001-S-M").unwrap();
    assert!(flow["requires"].is_null());
    assert!(flow["requirement"].is_string());
    assert!(flow.get("justification").is_none());
}

fn errors(src: &str) -> Vec<String> {
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
    assert!(errs[0].starts_with("scr/test.toml:10:"), "{errs:?}");
    assert!(errs[0].contains("duplicate SCR id DM-PACK-001-C-M"), "{errs:?}");
    assert!(errs[0].contains("scr/test.toml:2"), "names the first definition: {errs:?}");
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
    assert!(errs[0].starts_with("scr/test.toml:5:") && errs[0].contains("suffix -M"), "{errs:?}");
    assert!(errs[1].starts_with("scr/test.toml:11:") && errs[1].contains("-C- infix"), "{errs:?}");
    assert!(errs[2].starts_with("scr/test.toml:17:") && errs[2].contains("bad SCR id"), "{errs:?}");
}

#[test]
fn unknown_reference_is_rejected() {
    let src = format!("{A}requires = \"DM-PACK-002-C-O or true\"\n");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:8:"), "{errs:?}");
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
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:8:"), "{errs:?}");
    assert!(errs[0].contains("X-001-C-M -> X-002-C-M -> X-003-C-O -> X-001-C-M"), "{errs:?}");
}

#[test]
fn unknown_key_bad_expression_and_bad_toml_are_located() {
    let src =
        format!("{A}colour = \"red\"\n{}", A.replace("001", "002").replace("\"5.2\"", "\"5.2\"\nrequires = \"(\""));
    let errs = errors(&src);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("scr/test.toml:8:") && errs[0].contains("colour"), "{errs:?}");
    assert!(errs[0].contains("expected one of"), "{errs:?}");
    assert!(errs[1].starts_with("scr/test.toml:16:") && errs[1].contains("bad `requires` expression"), "{errs:?}");

    let errs = errors("[[item]\nid = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("scr/test.toml:1:") && errs[0].contains("invalid TOML"), "{errs:?}");

    let errs = errors("[[item]]\nid = \"DM-PACK-001-C-M\"\nrole = \"both\"\n");
    assert!(errs[0].starts_with("scr/test.toml:3:") && errs[0].contains("client"), "{errs:?}");

    let errs = errors("title = \"x\"\n");
    assert!(errs[0].contains("unknown top-level key `title`"), "{errs:?}");
}

#[test]
fn load_dir_reads_every_toml_and_refuses_an_empty_dir() {
    let dir = std::env::temp_dir().join(format!("dmcts-scr-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(matches!(Registry::load_dir(&dir), Err(ScrError::NoTables(_))));
    std::fs::write(dir.join("a.toml"), A).unwrap();
    std::fs::write(dir.join("b.toml"), A.replace("-C-M", "-S-M").replace("client", "server")).unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let reg = Registry::load_dir(&dir).unwrap();
    assert_eq!(reg.items().len(), 2);
    assert_eq!(reg.sources().len(), 2);
    std::fs::write(dir.join("c.toml"), A).unwrap();
    let err = Registry::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("c.toml:3:") && err.contains("a.toml:2"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(Registry::load_dir(&dir), Err(ScrError::Io { .. })));
}

#[test]
fn self_reference_is_a_cycle() {
    let errs = errors(&format!("{A}requires = \"DM-PACK-001-C-M\"\n"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("DM-PACK-001-C-M -> DM-PACK-001-C-M"), "{errs:?}");
}
