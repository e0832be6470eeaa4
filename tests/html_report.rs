//! report.html in a real browser: a run against a faulty reference peer writes the page, and
//! headless Chromium (Debian package `chromium`, installed by scripts/test.sh) opens it from
//! file://. The DOM must agree with run.json and coverage.json, a failing case's reason must
//! appear when its summary is clicked, the verdict filter must hide passing cases, and text an
//! IUT sent must stay text. A screenshot is kept as target/test-output/report.png.
//!
//! Without Chromium the test fails (run scripts/test.sh), unless DMCTS_SKIP_BROWSER=1 says
//! explicitly to skip it.
#[path = "report_fixture/mod.rs"]
mod fixture;

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";

fn output_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp; the kept outputs go beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("test-output");
    std::fs::create_dir_all(&dir).expect("test output dir");
    dir
}

fn chromium() -> Option<PathBuf> {
    if std::env::var("DMCTS_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("DMCTS_SKIP_BROWSER=1: the browser test of report.html is skipped");
        return None;
    }
    let path = std::env::var_os("DMCTS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| CHROMIUM.into());
    assert!(
        path.exists(),
        "{} not found: the HTML report test needs headless Chromium. Run scripts/test.sh (it installs the \
         Debian package `chromium`), set DMCTS_CHROMIUM to a Chromium binary, or set DMCTS_SKIP_BROWSER=1 \
         to skip this test explicitly",
        path.display()
    );
    Some(path)
}

fn launch(binary: PathBuf, profile: &Path) -> Browser {
    let _ = std::fs::remove_dir_all(profile);
    let args: Vec<&OsStr> =
        ["--disable-gpu", "--disable-quic", "--disable-component-update", "--no-default-browser-check"]
            .iter()
            .map(OsStr::new)
            .collect();
    let opts = LaunchOptions::default_builder()
        .path(Some(binary))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 1400)))
        .user_data_dir(Some(profile.to_path_buf()))
        .idle_browser_timeout(Duration::from_secs(60))
        .args(args)
        .build()
        .expect("launch options");
    Browser::new(opts).expect("headless Chromium starts")
}

/// Evaluates `expr` (which must return a JSON string) in the page.
fn eval(tab: &Tab, expr: &str) -> Value {
    let r = tab.evaluate(&format!("JSON.stringify({expr})"), false).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let s = r.value.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| panic!("{expr}: no value"));
    serde_json::from_str(&s).expect("JSON from the page")
}

fn open(tab: &Tab, file: &Path) {
    let url = format!("file://{}", file.canonicalize().expect("report.html exists").display());
    tab.navigate_to(&url).expect("navigate").wait_until_navigated().expect("page loads");
    tab.wait_for_element("#shown-count").expect("page rendered");
}

/// The page of the fixture run, as the spec of its markup: one element per line, the static
/// style and script (and the script's hash) left out.
#[test]
fn report_html_snapshot() {
    let dir = output_dir().join("html-report-fixture");
    let _ = std::fs::remove_dir_all(&dir);
    let written = dmcts::report::write_all(&dir, &fixture::run(), &fixture::items()).expect("reports written");
    let html = std::fs::read_to_string(&written.html).expect("report.html");
    // Regenerating from the written JSON gives the same page.
    let again = dmcts::report::html::render(&dmcts::report::html::Input::read(&dir).expect("inputs read")).unwrap();
    assert_eq!(again, html, "dmcts report html must rebuild the page the run wrote");
    // So does the command, into the file -o names.
    let out = dir.join("again.html");
    let cli = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["report", "html"])
        .arg(&dir)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), html);
    // A directory without run.json is a clear error (exit 2, the file named).
    let cli =
        Command::new(env!("CARGO_BIN_EXE_dmcts")).args(["report", "html"]).arg(dir.join("traces")).output().unwrap();
    assert_eq!(cli.status.code(), Some(2));
    let err = String::from_utf8_lossy(&cli.stderr);
    assert!(err.contains("traces/run.json: cannot read"), "{err}");
    let style = regex::Regex::new(r"(?s)<style>.*?</style>").unwrap();
    let script = regex::Regex::new(r"(?s)<script>.*?</script>").unwrap();
    let hash = regex::Regex::new(r"'sha256-[A-Za-z0-9+/=]+'").unwrap();
    let lines = regex::Regex::new(r"(<(?:head|body|header|nav|main|section|h[1-4]|p|dl|dt|table|thead|tbody|tr|details|summary|div|pre|fieldset|label|script|style)[ >])").unwrap();
    let html = style.replace(&html, "<style>[report.css]</style>");
    let html = script.replace(&html, "<script>[report.js]</script>");
    let html = hash.replace(&html, "'sha256-[hash of report.js]'");
    insta::assert_snapshot!("report_html", lines.replace_all(&html, "\n$1"));
}

#[test]
fn report_html_in_headless_chromium() {
    let Some(binary) = chromium() else { return };
    let out = output_dir();
    let dir = out.join("html-report-run");
    let _ = std::fs::remove_dir_all(&dir);

    // A real run: the reference client leaves out OMADM-DevID, so two cases fail, one of them
    // expected (--expect); a selection keeps it short and leaves the other cases not-selected.
    std::fs::create_dir_all(&out).unwrap();
    let expect = out.join("html-report-expect.toml");
    std::fs::write(
        &expect,
        "[[expect]]\ncase = \"TC-DMC-SESS-001\"\nverdict = \"fail\"\nreason = \"known defect <b>FW-1</b>\"\n",
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .current_dir(&out) // the page names the expectations file as given: keep it short
        .args(["run", "--against", "reference", "--fault", "client.devid-missing", "--expect"])
        .arg(expect.file_name().unwrap())
        .arg("--report-dir")
        .arg(dir.file_name().unwrap())
        .args(["--", "001"])
        .output()
        .expect("dmcts runs");
    assert_eq!(run.status.code(), Some(1), "the faulty peer fails: {}", String::from_utf8_lossy(&run.stdout));
    let run_json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    let cov: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("coverage.json")).unwrap()).unwrap();

    let browser = launch(binary, &out.join("chromium-profile"));
    let tab = browser.new_tab().expect("tab");
    tab.set_default_timeout(Duration::from_secs(20));
    open(&tab, &dir.join("report.html"));

    // Counts: one case element per case of run.json, per verdict as its summary says; per
    // requirement table the item counts of coverage.json; one row per SCR item. (One page
    // evaluation per phase: each is a browser round trip.)
    let failed = run_json["cases"].as_array().unwrap().iter().find(|c| c["verdict"] == "fail").expect("a failed case");
    let passing = run_json["cases"].as_array().unwrap().iter().find(|c| c["verdict"] == "pass").expect("a pass");
    let (id, pass_id) = (failed["id"].as_str().unwrap(), passing["id"].as_str().unwrap());
    let dom = eval(
        &tab,
        &format!(
            r#"(function() {{
              var by = {{}};
              document.querySelectorAll('.case').forEach(function(c) {{ var v = c.dataset.verdict; by[v] = (by[v] || 0) + 1; }});
              by.total = document.querySelectorAll('.case').length;
              var tables = {{}};
              document.querySelectorAll('.table-row').forEach(function(r) {{
                var t = {{}}; r.querySelectorAll('[data-count]').forEach(function(c) {{ t[c.dataset.count] = +c.textContent; }});
                tables[r.dataset.table] = t;
              }});
              return {{ cases: by, tables: tables, items: document.querySelectorAll('.item').length,
                        total_text: document.querySelector('#case-summary [data-verdict=total]').textContent,
                        reason_visible: document.querySelector('#case-{id} .reason-message').checkVisibility() }};
            }})()"#
        ),
    );
    let summary = run_json["summary"].as_object().expect("summary");
    for (verdict, n) in summary {
        assert_eq!(dom["cases"].get(verdict).unwrap_or(&Value::from(0)), n, "cases with verdict {verdict}: {dom}");
    }
    assert!(summary["fail"].as_u64().unwrap() >= 1 && summary["pass"].as_u64().unwrap() >= 1);
    assert_eq!(dom["total_text"], Value::String(summary["total"].to_string()));
    for t in cov["summary"]["tables"].as_array().unwrap() {
        for v in ["pass", "fail", "inconc", "error", "not-applicable"] {
            assert_eq!(dom["tables"][t["id"].as_str().unwrap()][v], t["counts"][v], "table {} {v}", t["id"]);
        }
    }
    assert_eq!(dom["items"], cov["items"].as_array().unwrap().len());

    // A failing case: its reason is hidden until its summary is clicked; then the reason, the
    // step where the verdict was set and (for a notification case) the decoded Package#0 show.
    assert_eq!(dom["reason_visible"], false, "reason of {id} hidden before the click");
    tab.find_element(&format!("#case-{id} > summary")).expect("summary").click().expect("click");
    let dom = eval(
        &tab,
        &format!(
            r#"(function() {{
              function vis(s) {{ var e = document.querySelector(s); return !!e && e.checkVisibility(); }}
              return {{ reason_visible: vis('#case-{id} .reason-message'), reason: document.querySelector('#case-{id} .reason').innerText,
                        verdict_step: vis('#case-{id} .verdict-step'), decoded: vis('#case-{id} .notification pre.decoded') }};
            }})()"#
        ),
    );
    assert_eq!(dom["reason_visible"], true, "reason of {id} visible after the click");
    let shown = dom["reason"].as_str().unwrap();
    assert!(shown.contains(failed["reason"]["message"].as_str().unwrap()), "{shown}");
    assert!(shown.contains(failed["reason"]["actual"].as_str().unwrap()), "{shown}");
    assert_eq!(dom["verdict_step"], true, "the verdict's step is marked");
    if id.starts_with("TC-DMC-P0") {
        assert_eq!(dom["decoded"], true, "Package#0 decoded");
    }

    // The verdict filter: unticking "pass" hides every passing case, keeps the failed ones;
    // the role filter hides the other role's cases.
    tab.find_element("#filters input[value=pass]").expect("pass box").click().expect("click");
    let dom = eval(
        &tab,
        &format!(
            r#"(function() {{
              function vis(s) {{ var e = document.querySelector(s); return !!e && e.checkVisibility(); }}
              var r = {{ pass_visible: vis('#case-{pass_id} > summary'), fail_visible: vis('#case-{id} > summary'),
                         shown: document.getElementById('shown-count').textContent }};
              var role = document.getElementById('filter-role');
              role.value = 'server'; role.dispatchEvent(new Event('change'));
              r.fail_visible_for_servers = vis('#case-{id} > summary');
              role.value = ''; role.dispatchEvent(new Event('change'));
              return r;
            }})()"#
        ),
    );
    assert_eq!(dom["pass_visible"], false, "passing case hidden");
    assert_eq!(dom["fail_visible"], true, "failed case still shown");
    let (total, pass) = (summary["total"].as_u64().unwrap(), summary["pass"].as_u64().unwrap());
    assert_eq!(dom["shown"], Value::String(format!("{} of {total} cases shown", total - pass)));
    assert_eq!(dom["fail_visible_for_servers"], false, "client case hidden by the role filter");

    // Expected results: the header counts them, and the expectation filter shows only the
    // unexpected failure.
    assert_eq!(id, "TC-DMC-P0-001", "the unexpected failure comes first in run order");
    let dom = eval(
        &tab,
        r#"(function() {
          function vis(s) { var e = document.querySelector(s); return !!e && e.checkVisibility(); }
          var f = document.getElementById('filter-expectation');
          f.value = 'unexpected'; f.dispatchEvent(new Event('change'));
          var r = { unexpected: vis('#case-TC-DMC-P0-001 > summary'), expected: vis('#case-TC-DMC-SESS-001 > summary'),
                    count: document.querySelector('#expectations [data-outcome=unexpected]').textContent,
                    why: document.querySelector('#case-TC-DMC-SESS-001 .expectation').textContent };
          f.value = ''; f.dispatchEvent(new Event('change'));
          return r;
        })()"#,
    );
    assert_eq!(dom["unexpected"], true, "{dom}");
    assert_eq!(dom["expected"], false, "{dom}");
    assert_eq!(dom["count"], "1 unexpected");
    assert!(dom["why"].as_str().unwrap().contains("expected fail: known defect <b>FW-1</b>"), "{dom}");

    // The screenshot: the top of the page, passing and unselected cases filtered out, the
    // failed case open.
    tab.find_element("#filters input[value=not-selected]").expect("box").click().expect("click");
    tab.evaluate("window.scrollTo(0, 0)", false).expect("scroll");
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).expect("screenshot");
    std::fs::write(out.join("report.png"), png).expect("screenshot written");

    // Text an IUT sent stays text: a hostile title, reason and body neither run nor add markup.
    let evil_dir = out.join("html-report-hostile");
    let _ = std::fs::remove_dir_all(&evil_dir);
    let mut hostile = fixture::run();
    let evil = "</script><script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">";
    hostile.cases[1].title = evil.into();
    if let Some(r) = hostile.cases[1].reason.as_mut() {
        r.actual = Some(evil.into());
    }
    hostile.cases[1].trace.push(fixture::package1_exchange(2, 20, evil).remove(0));
    dmcts::report::write_all(&evil_dir, &hostile, &fixture::items()).expect("reports written");
    open(&tab, &evil_dir.join("report.html"));
    let case = &hostile.cases[1].id;
    tab.find_element(&format!("#case-{case} > summary")).expect("summary").click().expect("click");
    let dom = eval(
        &tab,
        &format!(
            "{{ pwned: window.pwned === undefined ? null : window.pwned, imgs: document.querySelectorAll('img').length, \
               title: document.querySelector('#case-{case} .title').textContent, \
               actual: document.querySelector('#case-{case} dd.actual').textContent }}"
        ),
    );
    assert_eq!(dom["pwned"], Value::Null, "IUT text ran as script");
    assert_eq!(dom["imgs"], 0, "IUT text became markup");
    assert_eq!(dom["title"], evil);
    assert_eq!(dom["actual"], evil);
}
