//! SCR tables as a set: a second table with its own id grammar (a TOY table written here) loads
//! next to the shipped DM-PACK table; an ICS answers only the tables it implements; `plan`
//! says which tables are in or out; coverage is reported per table with its provenance.
use dmcts::catalog::Catalog;
use dmcts::ics::{Ics, IcsError};
use dmcts::report::{coverage, coverage_md, ItemVerdict};
use dmcts::runner::plan::{coverage_inputs, plan};
use dmcts::runner::run::{run, RunOptions};
use dmcts::runner::target::Target;
use dmcts::scr::{Provenance, Registry};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// A derived table with enabler-style ids (`TOY-C-001`: no status letter in the id). One item
/// depends on an item of DM-PACK.
const TOY: &str = r#"[table]
id = "TOY"
title = "Toy enabler"
source = "test seed 000_toy.txt"
section = "Flows 1-2"
bindings = ["dm2"]
id_pattern = 'TOY-(?P<role>[CS])-\d{3}'
provenance = "derived"

[[item]]
id = "TOY-C-001"
role = "client"
status = "M"
function = "Report the toy's state"
section = "3"
cites = "000_toy.txt section 3, flow 1 step 2: the client MUST report its state"

[[item]]
id = "TOY-C-002"
role = "client"
status = "O"
function = "Reset the toy"
section = "4"
cites = "000_toy.txt section 4: the client MAY reset the toy"

[[item]]
id = "TOY-C-003"
role = "client"
status = "M"
function = "Toy state announced in Package#0"
section = "5"
requires = "TOY-C-002 and DM-PACK-002-C-O"
cites = "000_toy.txt section 5, flow 2 step 1: a client that resets the toy announces it in Package#0"

[[item]]
id = "TOY-S-001"
role = "server"
status = "M"
function = "Ask for the toy's state"
section = "3"
cites = "000_toy.txt section 3, flow 1 step 1: the server asks for the state"
"#;

/// The shipped tables plus TOY (as `scr/toy/toy.toml`).
fn registry() -> Registry {
    let dm = root().join("scr/dm2/packages.toml");
    let caps = root().join("scr/dm2/capabilities.toml");
    let sources = vec![
        (dm.clone(), std::fs::read(&dm).expect("the shipped DM-PACK table")),
        (caps.clone(), std::fs::read(&caps).expect("the shipped DM 2.0 capabilities")),
        (PathBuf::from("scr/toy/toy.toml"), TOY.as_bytes().to_vec()),
    ];
    Registry::from_sources(sources).unwrap_or_else(|e| panic!("{e}"))
}

/// A client ICS answering every optional DM-PACK item; `iut_extra` goes into `[iut]`,
/// `support_extra` into `[support]`.
fn client(iut_extra: &str, support_extra: &str, package0: bool) -> Result<Ics, IcsError> {
    let src = format!(
        r#"[iut]
role = "client"
vendor = "Acme"
product = "Widget"
version = "1.0"
{iut_extra}
[support]
"DM-PACK-002-C-O" = {package0}
"DM-PACK-007-C-O" = true
"DM-PACK-008-C-O" = true
"DM-PACK-009-C-O" = false
"DM-PACK-019-C-O" = true
"DM-PACK-020-C-O" = false
"DM-PACK-023-C-O" = true
{support_extra}
[pixit.iut]
dev_id = "IMEI:1"

[pixit.upper_tester]
backend = "interactive"
"#
    );
    Ics::from_str(&src, Path::new("ics.toml"))
}

fn problems(e: IcsError) -> Vec<String> {
    match e {
        IcsError::Invalid { problems, .. } => {
            problems.iter().map(|p| format!("{}: {}", p.line.unwrap_or(0), p.message)).collect()
        }
        other => panic!("expected ICS problems, got {other}"),
    }
}

fn reason_of(ics: &Ics, reg: &Registry, id: &str) -> (bool, String) {
    let a = ics.item_applicability(reg).into_iter().find(|a| a.id == id).unwrap_or_else(|| panic!("{id}"));
    (a.applicable, a.reason)
}

#[test]
fn the_second_table_loads_with_its_own_ids_and_provenance() {
    let reg = registry();
    assert_eq!(reg.tables().iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["DM-PACK", "TOY"]);
    assert_eq!(reg.items().len(), 56);
    let toy = reg.get("TOY-C-003").unwrap();
    assert_eq!((toy.table.as_str(), toy.provenance), ("TOY", Provenance::Derived));
    assert!(toy.source().starts_with("000_toy.txt section 5"), "{}", toy.source());
    assert!(!reg.table("TOY").unwrap().base);
}

#[test]
fn an_ics_that_does_not_implement_the_table_need_not_answer_it() {
    let reg = registry();
    // Unchanged ICS: DM-PACK is implied (base table of dm2), TOY is not implemented.
    let ics = client("", "", true).unwrap();
    ics.validate_against(&reg).expect("no TOY answers needed");
    let (applicable, reason) = reason_of(&ics, &reg, "TOY-C-001");
    assert!(!applicable);
    assert_eq!(reason, "table TOY (Toy enabler) is not implemented: not named in [iut] implements");
    assert!(!reason_of(&ics, &reg, "TOY-S-001").0);
    assert!(reason_of(&ics, &reg, "DM-PACK-011-C-M").0);

    // Answering an item of a table the IUT does not implement is an error naming the line.
    let err = client("", "\"TOY-C-002\" = true\n", true).unwrap().validate_against(&reg).unwrap_err();
    let p = problems(err);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("15: [support] answers TOY-C-002, an item of table TOY (Toy enabler)"), "{p:?}");
    assert!(p[0].contains("add \"TOY\" to [iut] implements"), "{p:?}");
}

#[test]
fn implementing_the_table_makes_its_optional_items_required() {
    let reg = registry();
    let implements = "implements = [\"TOY\"]\n";
    let err = client(implements, "", true).unwrap().validate_against(&reg).unwrap_err();
    let p = problems(err);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("does not answer 1 optional client item(s): TOY-C-002"), "{p:?}");

    let ics = client(implements, "\"TOY-C-002\" = true\n", true).unwrap();
    ics.validate_against(&reg).unwrap();
    assert_eq!(ics.iut.implements, ["TOY"]);
    assert_eq!(reason_of(&ics, &reg, "TOY-C-001"), (true, "mandatory".to_string()));
    assert_eq!(reason_of(&ics, &reg, "TOY-S-001"), (false, "server item; the IUT is a client".to_string()));
    let plan = ics.table_applicability(&reg);
    assert!(plan.iter().all(|t| t.implemented), "{plan:?}");
    assert_eq!(plan[1].reason, "table TOY (Toy enabler) is implemented: named in [iut] implements");
}

#[test]
fn a_dependency_across_tables_decides_applicability() {
    let reg = registry();
    let with = |package0| client("implements = [\"TOY\"]\n", "\"TOY-C-002\" = true\n", package0).unwrap();
    let (ok, why) = reason_of(&with(true), &reg, "TOY-C-003");
    assert!(ok, "{why}");
    let (ok, why) = reason_of(&with(false), &reg, "TOY-C-003");
    assert!(!ok);
    assert_eq!(
        why,
        "mandatory, conditional on TOY-C-002 and DM-PACK-002-C-O, which does not hold: DM-PACK-002-C-O the ICS \
         declares not supported"
    );

    // The other way round: a DM-PACK-style item resting on a table the IUT does not implement.
    let extra = TOY.replace("requires = \"TOY-C-002 and DM-PACK-002-C-O\"\n", "");
    let dep = "[table]\nid = \"DEP\"\ntitle = \"Dependent\"\nsource = \"s\"\nsection = \"1\"\nbindings = [\"dm2\"]\n\
               id_pattern = 'DEP-\\d{3}-(?P<role>[CS])-(?P<status>[MO])'\nprovenance = \"normative\"\nbase = true\n\n\
               [[item]]\nid = \"DEP-001-C-M\"\nrole = \"client\"\nstatus = \"M\"\nfunction = \"f\"\nsection = \"1\"\n\
               requires = \"TOY-C-001\"\n";
    let reg = Registry::from_sources(vec![
        (PathBuf::from("scr/toy.toml"), extra.into_bytes()),
        (PathBuf::from("scr/dep.toml"), dep.as_bytes().to_vec()),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let ics = client("", "", true).unwrap();
    let (ok, why) = reason_of(&ics, &reg, "DEP-001-C-M");
    assert!(!ok);
    assert_eq!(
        why,
        "mandatory, conditional on TOY-C-001, which is in table TOY (Toy enabler), which the IUT does not implement"
    );
}

#[test]
fn implements_and_binding_errors_carry_their_line() {
    let reg = registry();
    let err = client("implements = [\"TOY\",\n  \"FUMO\"]\n", "\"TOY-C-002\" = false\n", true)
        .unwrap()
        .validate_against(&reg)
        .unwrap_err();
    let p = problems(err);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("7: [iut] implements names \"FUMO\", which is not an SCR table"), "{p:?}");
    assert!(p[0].contains("expected one of DM-PACK, TOY"), "{p:?}");

    let err = client("binding = \"dm12\"\n", "", true).unwrap().validate_against(&reg).unwrap_err();
    let p = problems(err);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("6: [iut] binding = \"dm12\": no SCR table is for this binding"), "{p:?}");

    let err = client("implements = [\"TOY\", \"TOY\"]\n", "", true).unwrap_err();
    let p = problems(err);
    assert!(p[0].starts_with("6: [iut] implements names TOY twice"), "{p:?}");
}

/// A client case about the TOY table only (one upper-tester step: what it does is not at issue).
const TOY_CASE: &str = r#"
[[case]]
id = "TC-TOY-001"
title = "Toy state"
purpose = "The client reports the toy's state."
role = "client"
covers = ["TOY-C-001"]

[[case.steps]]
kind = "ut"
action = "reset"
"#;

fn catalog(reg: &Registry) -> Catalog {
    let session = root().join("cases/dm2/client/session.toml");
    let fixtures = root().join("cases/dm2/fixtures.toml");
    let sources = vec![
        (session.clone(), std::fs::read_to_string(&session).expect("shipped client session cases")),
        (fixtures.clone(), std::fs::read_to_string(&fixtures).expect("shipped fixtures")),
        (PathBuf::from("cases/toy.toml"), TOY_CASE.to_string()),
    ];
    Catalog::load_sources(&sources, reg).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn plan_says_which_tables_are_in_or_out_and_why() {
    let reg = registry();
    let cat = catalog(&reg);
    let out = client("", "", true).unwrap();
    let p = plan(&reg, &cat, &out);
    let tables: Vec<(&str, bool)> = p.tables.iter().map(|t| (t.id.as_str(), t.implemented)).collect();
    assert_eq!(tables, [("DM-PACK", true), ("TOY", false)]);
    assert_eq!(p.tables[1].provenance, "derived");
    let toy_case = p.cases.iter().find(|c| c.id == "TC-TOY-001").unwrap();
    assert!(!toy_case.runs);
    assert!(
        toy_case.reason.starts_with("covers only items of tables the IUT does not implement: table TOY (Toy enabler)"),
        "{}",
        toy_case.reason
    );
    let text = p.render(false);
    let tables_at = text.find("SCR tables:").expect("tables section");
    assert!(tables_at < text.find("Cases:").unwrap(), "tables come before the cases:\n{text}");
    assert!(text.contains("  IN  DM-PACK") && text.contains("  OUT TOY"), "{text}");
    assert!(text.contains("not named in [iut] implements"), "{text}");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["tables"][0]["reason"], p.tables[0].reason.as_str());
    assert_eq!(json["items"].as_array().unwrap().iter().find(|i| i["id"] == "TOY-C-001").unwrap()["table"], "TOY");

    let in_ = client("implements = [\"TOY\"]\n", "\"TOY-C-002\" = false\n", true).unwrap();
    let p = plan(&reg, &cat, &in_);
    assert!(p.tables.iter().all(|t| t.implemented));
    assert!(p.cases.iter().find(|c| c.id == "TC-TOY-001").unwrap().runs);
}

#[test]
fn a_run_reports_coverage_per_table() {
    let reg = Arc::new(registry());
    let cat = Arc::new(catalog(&reg));
    let dir = std::env::temp_dir().join(format!("dmcts-scr-tables-{}", std::process::id()));
    let log = dir.join("libtest.log");
    std::fs::create_dir_all(&dir).unwrap();
    let opts = RunOptions {
        target: Target::reference(Default::default()).unwrap(),
        scr_patterns: vec![],
        role: None,
        libtest: libtest_mimic::Arguments::from_iter([
            "dmcts",
            "--test-threads=4",
            "--color=never",
            "--logfile",
            log.to_str().unwrap(),
        ]),
        report_dir: None,
        catalog: None,
        interrupt: Default::default(),
    };
    let out = run(reg.clone(), cat, opts).expect("the run completes");
    let toy_case = out.result.cases.iter().find(|c| c.id == "TC-TOY-001").unwrap();
    assert_eq!(toy_case.verdict, dmcts::verdict::Verdict::NotApplicable, "the reference peers implement no TOY");
    let items = coverage_inputs(&reg, &out.applicability);
    let cov = coverage(&out.result, &items);
    let t: Vec<(&str, &str, usize)> =
        cov.summary.tables.iter().map(|t| (t.id.as_str(), t.provenance.as_str(), t.items)).collect();
    assert_eq!(t, [("DM-PACK", "normative", 52), ("TOY", "derived", 4)]);
    let toy = cov.items.iter().find(|i| i.id == "TOY-C-001").unwrap();
    assert_eq!(toy.verdict, ItemVerdict::NotApplicable);
    assert_eq!((toy.table.as_str(), toy.provenance.as_str()), ("TOY", "derived"));
    assert!(toy.source.starts_with("000_toy.txt section 3"), "{}", toy.source);
    assert!(toy.reason.contains("not implemented"), "{}", toy.reason);
    let dm = cov.items.iter().find(|i| i.id == "DM-PACK-011-C-M").unwrap();
    assert_eq!(dm.verdict, ItemVerdict::Pass);
    assert!(dm.source.ends_with("(Change 5), section 5.2.2"), "{}", dm.source);
    assert!(cov.summary.headline.contains(". DM-PACK (normative): mandatory "), "{}", cov.summary.headline);
    assert!(cov.summary.headline.ends_with(". TOY (derived): no applicable item"), "{}", cov.summary.headline);
    let md = coverage_md(&cov);
    assert!(md.contains("## Table TOY: Toy enabler\n\nProvenance: derived"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn header_errors_name_file_and_line_on_the_command_line() {
    let dir = std::env::temp_dir().join(format!("dmcts-scr-header-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("toy")).unwrap();
    std::fs::write(
        dir.join("toy/toy.toml"),
        TOY.replace("provenance = \"derived\"", "provenance = \"derived\"\nowner = \"me\""),
    )
    .unwrap();
    std::fs::write(dir.join("toy/bare.toml"), "[[item]]\nid = \"X\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["--scr-dir", dir.to_str().unwrap(), "scr", "check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("toy/toy.toml:9:") && err.contains("owner"), "{err}");
    assert!(err.contains("toy/bare.toml:1:1: missing `[table]` header"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
