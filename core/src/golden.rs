//! Golden files of the core's tests: `tests/golden/<name>` at the workspace
//! root, rewritten with `UPDATE_GOLDEN=1`.

pub fn golden(name: &str, actual: &str) {
    let path = format!("{}/../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let dir = std::path::Path::new(&path).parent().expect("a golden file is in a directory");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(want == actual, "{path} differs (UPDATE_GOLDEN=1 rewrites it):\n{actual}");
}
