//! The runner and the case language speak no protocol (issue 9): no DM 2.0 literal — media
//! type, `CMD`, `END`, an alert URN, an SCR id, the dm2 codec — in src/runner or src/catalog,
//! outside comments. Protocol specifics belong to a binding (src/binding/).
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn runner_and_catalog_hold_no_dm2_literal() {
    let forbidden = ["wire::dm2", "dm2::", "\"CMD\"", "\"END\"", "urn:oma:", "DM-PACK-", "vnd.oma", "OMADM-"];
    let mut files = Vec::new();
    rust_files(Path::new("src/runner"), &mut files);
    rust_files(Path::new("src/catalog"), &mut files);
    let mut found = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        // Unit tests may use protocol data as fixtures.
        let code = src.split("#[cfg(test)]").next().unwrap_or("");
        for (i, line) in code.lines().enumerate() {
            let text = line.trim_start();
            if text.starts_with("//") {
                continue;
            }
            for pat in forbidden {
                if text.contains(pat) {
                    found.push(format!("{}:{}: {pat}: {}", f.display(), i + 1, text));
                }
            }
        }
    }
    assert!(found.is_empty(), "protocol literals in the runner or the catalog:\n{}", found.join("\n"));
}
