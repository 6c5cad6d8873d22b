//! The store's facade stays closed: no crate but masthead-store names the
//! SQLite driver or the store's dialect module. Everything above the store
//! uses its typed operations, so another database backend changes nothing
//! outside it.

use std::path::{Path, PathBuf};

/// Words that belong to the store alone.
const STORE_ONLY: [&str; 2] = ["rusqlite", "sqlite::"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "node_modules" {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") || name == "Cargo.toml" {
            out.push(path);
        }
    }
}

#[test]
fn only_the_store_names_sqlite() {
    let store = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = store.join("../..");
    let mut files = Vec::new();
    for dir in ["crates", "fuzz"] {
        sources(&workspace.join(dir), &mut files);
    }
    let store = store.canonicalize().expect("the store's directory");
    let others: Vec<&PathBuf> = files
        .iter()
        .filter(|f| !f.canonicalize().is_ok_and(|f| f.starts_with(&store)))
        .collect();
    assert!(
        others.len() > 50,
        "only {} source files outside the store were found: is the workspace where this test thinks?",
        others.len()
    );
    let mut offenders = Vec::new();
    for file in others {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if let Some(word) = STORE_ONLY.iter().find(|w| line.contains(*w)) {
                offenders.push(format!("{}:{}: names {word}", file.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "outside masthead-store, use the store's typed operations and masthead-model's types:\n{}",
        offenders.join("\n")
    );
}
