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
