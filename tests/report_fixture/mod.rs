//! A small synthetic run shared by the report tests: one case of each verdict, two IUT roles,
//! and SCR items covering every coverage roll-up outcome.
#![allow(dead_code)]

use dmcts::report::CoverageItemInput;
use dmcts::runner::result::{CaseResult, RunResult};
use dmcts::trace::{truncate_marked, TraceEntry, TraceEvent};
use dmcts::verdict::{Reason, Verdict};

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn at(t_ms: u64, step: usize, event: TraceEvent) -> TraceEntry {
    TraceEntry { t_ms, step, event }
}

const PACKAGE1: &str = r#"{"MOS":[{"MOID":"urn:oma:mo:oma-dm-devinfo:1.0","MIID":["d0"]}],"Alert":[{"AlertType":"urn:oma:at:dm:2.0:ServerInitiatedMgmt","DataType":"int","Data":{"NOTIFICATION-ID":4660}}]}"#;

/// Package#1 from the IUT (client) and the suite's Package#2 reply.
pub fn package1_exchange(step: usize, t0: u64, body: &str) -> Vec<TraceEntry> {
    vec![
        at(
            t0,
            step,
            TraceEvent::HttpRequest {
                from: "iut".into(),
                to: "suite".into(),
                method: "POST".into(),
                url: "http://127.0.0.1:40001/dm2/session".into(),
                headers: h(&[
                    ("content-type", "application/vnd.oma.dm.initiation+json"),
                    ("accept", "application/vnd.oma.dm.request+json"),
                    ("omadm-devid", "IMEI:359881000000017"),
                ]),
                body: body.into(),
            },
        ),
        at(
            t0 + 2,
            step,
            TraceEvent::HttpResponse {
                from: "suite".into(),
                to: "iut".into(),
                status: 200,
                headers: h(&[("content-type", "application/vnd.oma.dm.request+json")]),
                body: "{\n  \"CMD\": [[\"GET\", \"urn:oma:mo:oma-dm-devinfo:1.0//FwV\"]]\n}".into(),
            },
        ),
    ]
}

pub fn run() -> RunResult {
    let mut fail_trace = vec![
        at(0, 1, TraceEvent::Note { text: "reset IUT".into() }),
        at(
            1,
            1,
            TraceEvent::UpperTester {
                action: "session.start".into(),
                request: serde_json::json!({"case": "TC-DMC-SESS-002", "step": 1}),
                answer: serde_json::json!({"result": "ok"}),
            },
        ),
        at(
            3,
            1,
            TraceEvent::Notification {
                from: "suite".into(),
                to: "iut".into(),
                hex: "230018646d7372762d303111001212341f11".into(),
                note: "Package#0, NOTIFICATION-ID 4660".into(),
            },
        ),
    ];
    // The IUT's Package#1 lacks OMADM-DevID, and its body was cut by the recorder.
    let mut p1 = package1_exchange(2, 12, &truncate_marked(PACKAGE1, 60));
    if let TraceEvent::HttpRequest { headers, .. } = &mut p1[0].event {
        headers.retain(|(k, _)| k != "omadm-devid");
    }
    fail_trace.extend(p1);
    fail_trace.push(at(15, 2, TraceEvent::Note { text: "check failed: header omadm-devid\nstopping case".into() }));

    let cases = vec![
        CaseResult {
            id: "TC-DMC-SESS-001".into(),
            title: "Client opens a session with Package#1".into(),
            role: "client".into(),
            covers: vec!["DM-PACK-001-C-M".into()],
            verdict: Verdict::Pass,
            reason: None,
            duration_ms: 1234,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: package1_exchange(1, 5, PACKAGE1),
        },
        CaseResult {
            id: "TC-DMC-SESS-002".into(),
            title: "Package#1 carries OMADM-DevID".into(),
            role: "client".into(),
            covers: vec!["DM-PACK-011-C-M".into()],
            verdict: Verdict::Fail,
            reason: Some(Reason {
                message: "header OMADM-DevID missing from Package#1".into(),
                scr: Some("DM-PACK-011-C-M".into()),
                requirement: Some("Package#1 MUST carry the OMADM-DevID header with the DevInfo/DevID value.".into()),
                expected: Some("header OMADM-DevID = \"IMEI:359881000000017\"".into()),
                actual: Some("header absent".into()),
                step: Some(2),
                inferred: None,
            }),
            duration_ms: 16,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: fail_trace,
        },
        CaseResult {
            id: "TC-DMC-SESS-003".into(),
            title: "Client-initiated session after user action".into(),
            role: "client".into(),
            covers: vec!["DM-PACK-012-C-O".into()],
            verdict: Verdict::Inconc,
            reason: Some(Reason {
                message: "upper tester answered 'failed' to session.start".into(),
                step: Some(1),
                ..Default::default()
            }),
            duration_ms: 7,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: vec![],
        },
        CaseResult {
            id: "TC-DMC-CMD-001".into(),
            title: "SHOW prompts the user".into(),
            role: "client".into(),
            covers: vec!["DM-PACK-030-C-O".into()],
            verdict: Verdict::Skipped,
            reason: Some(Reason::new("requires-operator: the run has no terminal")),
            duration_ms: 0,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: vec![],
        },
        CaseResult {
            id: "TC-DMS-SESS-001".into(),
            title: "Server answers Package#1 with Package#2".into(),
            role: "server".into(),
            covers: vec!["DM-PACK-001-S-M".into()],
            verdict: Verdict::Error,
            reason: Some(Reason::new(
                "connect to http://127.0.0.1:40002/dm2 timed out after 5000 ms (PIXIT server.url)",
            )),
            duration_ms: 5003,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: vec![at(0, 1, TraceEvent::Note { text: "connect timeout".into() })],
        },
        CaseResult {
            id: "TC-DMS-SESS-002".into(),
            title: "Server handles CONT".into(),
            role: "server".into(),
            covers: vec!["DM-PACK-020-S-M".into()],
            verdict: Verdict::NotApplicable,
            reason: Some(Reason::new("ICS-SRV-CONT = false")),
            duration_ms: 0,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: vec![],
        },
        CaseResult {
            id: "TC-DMS-NOTI-001".into(),
            title: "Server sends a notification".into(),
            role: "server".into(),
            covers: vec!["DM-PACK-002-S-M".into()],
            verdict: Verdict::NotTested,
            reason: Some(Reason::new("run interrupted (SIGINT) before this case started")),
            duration_ms: 0,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: vec![],
        },
    ];
    RunResult {
        suite_version: "0.1.0".into(),
        catalog_digest: "3f0a9c".into(),
        catalog: Some(dmcts::bundle::CatalogInfo {
            scr: "embedded".into(),
            cases: "embedded".into(),
            digest: "3f0a9c".into(),
        }),
        interrupted: false,
        iut: serde_json::json!({"ics": {"ICS-SRV-CONT": false}, "pixit": {"server.url": "http://127.0.0.1:40002/dm2", "auth.secret": "<redacted>"}}),
        cases,
        selection: None,
        late_traffic: vec![dmcts::runner::result::LateRequest {
            after_case: Some("TC-DMC-SESS-002".into()),
            method: "POST".into(),
            target: "/dm".into(),
            answered: Some(200),
            body: r#"{"Status":[{"sc":200}]}"#.into(),
            body_len: 23,
            misdirected: false,
        }],
    }
}

const DM_SOURCE: &str = "OMA DM 2.0 Protocol, seed change request 004_2197859ab3cf537f.txt (Change 5)";

fn item(id: &str, role: &str, function: &str, applicable: bool, reason: &str) -> CoverageItemInput {
    CoverageItemInput {
        id: id.into(),
        role: role.into(),
        status: id.rsplit('-').next().unwrap_or("O").into(),
        function: function.into(),
        applicable,
        reason: reason.into(),
        table: "DM-PACK".into(),
        table_title: "DM 2.0 DM Packages".into(),
        provenance: "normative".into(),
        table_source: DM_SOURCE.into(),
        table_section: "Appendix B.1.1 (client), B.2.1 (server)".into(),
        source: format!("{DM_SOURCE}, section {}", section(id)),
    }
}

/// A plausible section per fixture item (the reports only pass it through).
fn section(id: &str) -> &'static str {
    match &id[8..11] {
        "001" => "5.2",
        "011" => "5.2.2",
        "012" => "5.2.3",
        "013" => "5.2.4",
        "020" => "5.3",
        _ => "6.1",
    }
}

/// An item of a second, derived table the IUT does not implement.
fn toy_item() -> CoverageItemInput {
    CoverageItemInput {
        id: "TOY-C-001".into(),
        role: "client".into(),
        status: "O".into(),
        function: "Report the toy's state".into(),
        applicable: false,
        reason: "table TOY (Toy enabler) is not implemented: not named in [iut] implements".into(),
        table: "TOY".into(),
        table_title: "Toy enabler".into(),
        provenance: "derived".into(),
        table_source: "seed 000_toy.txt".into(),
        table_section: "Flows 1-2".into(),
        source: "000_toy.txt section 3, flow 1 step 2: the client MUST report its state".into(),
    }
}

pub fn items() -> Vec<CoverageItemInput> {
    vec![
        item("DM-PACK-001-C-M", "client", "Support of DM Package flow", true, "mandatory"),
        item("DM-PACK-011-C-M", "client", "Support of Package#1", true, "mandatory"),
        item("DM-PACK-012-C-O", "client", "Client-initiated session", true, "ICS-CLI-INIT = true"),
        item("DM-PACK-013-C-M", "client", "Support of Package#3", true, "mandatory"),
        item("DM-PACK-030-C-O", "client", "SHOW | user interaction", true, "ICS-CLI-SHOW = true"),
        item("DM-PACK-001-S-M", "server", "Support of DM Package flow", true, "mandatory"),
        item("DM-PACK-020-S-M", "server", "Support of CONT", false, "ICS-SRV-CONT = false"),
        item("DM-PACK-002-S-M", "server", "Support of Package#0", true, "mandatory"),
        toy_item(),
    ]
}
