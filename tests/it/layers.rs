//! The layers keep to their places: imports run `domain` ← `store` ← `service` ← doors. A
//! door never touches the store; nothing below the doors knows HTTP; no module outside the
//! JSON API (and the router assembly in `lib.rs`) imports it.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Lines of code (comments left out) in `dir` that contain `needle`.
fn offenders(dir: &str, needles: &[&str], except: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for file in rust_files(&root.join(dir)) {
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        if except.iter().any(|e| rel == *e) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|n| code.contains(n)) {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn nothing_outside_the_json_api_imports_it() {
    let found = offenders("src", &["crate::api", "kindbrug::api"], &["src/lib.rs"])
        .into_iter()
        .filter(|l| !l.starts_with("src/api/"))
        .collect::<Vec<_>>();
    assert!(
        found.is_empty(),
        "imports of the JSON API outside it:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_door_touches_the_store() {
    let mut found = offenders("src/api", &[".store.", "crate::store", "state.store"], &[]);
    found.extend(offenders("src/web", &["crate::store", "state.store."], &[]));
    found.extend(offenders(
        "src/fhir",
        &["crate::store", "state.store."],
        &[],
    ));
    assert!(
        found.is_empty(),
        "a door reaches the store:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_workflow_and_the_rules_know_no_http() {
    for dir in ["src/service", "src/domain", "src/store"] {
        let found = offenders(
            dir,
            &[
                "axum::",
                "StatusCode",
                "HeaderMap",
                "crate::error::ApiError",
            ],
            &[],
        );
        assert!(
            found.is_empty(),
            "HTTP below the doors in {dir}:\n{}",
            found.join("\n")
        );
    }
    let found = offenders(
        "src/domain",
        &["crate::store", "crate::service", "sqlx"],
        &[],
    );
    assert!(
        found.is_empty(),
        "the rules reach out of `domain`:\n{}",
        found.join("\n")
    );
    let found = offenders("src/store", &["crate::service"], &[]);
    assert!(
        found.is_empty(),
        "the store calls the workflow:\n{}",
        found.join("\n")
    );
}
