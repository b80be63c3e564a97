//! Tidy checks as plain tests, so CI needs only `cargo test`.

use std::process::Command;

use crate::support::workspace;

#[test]
fn code_is_formatted() {
    let out = Command::new("cargo").args(["fmt", "--all", "--check"]).current_dir(workspace()).output().unwrap();
    assert!(out.status.success(), "run `cargo fmt`:\n{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut missing = Vec::new();
    for dir in ["core/src", "xtask/src", "xtask/tests/it"] {
        let mut stack = vec![workspace().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") && !std::fs::read_to_string(&p).unwrap().starts_with("//!") {
                    missing.push(p.display().to_string());
                }
            }
        }
    }
    assert!(missing.is_empty(), "modules without a `//!` doc comment: {missing:?}");
}
