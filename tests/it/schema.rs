//! Generated artefacts stay in step with the code.

use std::collections::BTreeSet;
use std::path::Path;

/// `schemas/openapi.json` is what the code generates. Regenerate with
/// `KINDBRUG_UPDATE_SCHEMAS=1 cargo test openapi`.
#[test]
fn openapi_document_has_not_drifted() {
    let generated = serde_json::to_string_pretty(&kindbrug::api::openapi()).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json");
    if std::env::var("KINDBRUG_UPDATE_SCHEMAS").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/openapi.json differs from the code; run KINDBRUG_UPDATE_SCHEMAS=1 cargo test openapi and commit it"
    );
}

fn versions(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".sql"))
        .map(|n| n.split('_').next().unwrap().to_string())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = versions("migrations/sqlite");
    let postgres = versions("migrations/postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "every migration version exists for both databases"
    );
}
