//! `cargo xtask noise` with every settling option on a fake Go toolchain
//! (real podman and containers; a test binary with 10% noise), its saved
//! A/A file, and `noise-report` and `detect-power` reading that file.

use gobench_core::aa;
use gobench_core::schema::Run;
use gobench_core::spec::Settling;

use crate::support::{fake_go_history, fake_project, gobench_containers};

#[test]
fn noise_saves_settled_pairs_that_report_and_power_read_back() {
    let p = fake_project(&[("a", "master")], 131, 1);
    fake_go_history(&p.path().join("go"), &[131], 10);
    p.ok(&["build", "--matrix"]);
    let tag = p.image_tags().into_iter().find(|t| t.contains("/go-std:")).unwrap();
    let file = p.path().join("aa/fake.json");
    let run = ["--kind", "go-std", "--image", &tag, "--package", "strconv"];
    let settled = ["--warmup-runs", "1", "--no-sampler", "--wait-idle-below", "100"];
    let save = ["--pairs", "4", "--save", file.to_str().unwrap(), "--", "-test.bench=."];
    let out = p.xtask(&[&["noise"][..], &run, &settled, &save].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // A warm-up before each of the 8 runs, said on the run's line.
    assert_eq!(stderr.lines().filter(|l| l.contains(" run ") && l.contains(": warm-up ")).count(), 8, "{stderr}");

    let saved = aa::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved.spec.settling, Settling { warmup_runs: 1, sampler: false, wait_idle_below_pct: Some(100) });
    assert_eq!((saved.pairs_requested, saved.order.len(), saved.seed), (4, 4, 1));
    assert_eq!(saved.command.last().map(String::as_str), Some("-test.bench=."));
    let ns = &saved.metrics["BenchmarkFake ns/op"];
    assert_eq!(ns.pairs.len(), 4);
    assert!(ns.pool().iter().all(|v| (117.0..=145.0).contains(v)), "{ns:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("4 valid pairs") && table.contains("| BenchmarkFake ns/op | "), "{table}");

    let merged = p.ok(&["noise-report", file.to_str().unwrap(), "--merge", "2"]);
    assert!(merged.contains("each 2 consecutive pairs merged") && merged.contains("| BenchmarkFake ns/op | "), "{merged}");
    let power = p.ok(&["detect-power", file.to_str().unwrap(), "--histories", "10", "--steps", "50"]);
    let rows: Vec<&str> = power.lines().filter(|l| l.starts_with("| BenchmarkFake ns/op |")).collect();
    assert_eq!(rows.len(), 3, "{power}");
    // A 50% step in 10% noise: every model finds it in every history.
    assert!(rows.iter().all(|r| r.ends_with("| 100% |")), "{power}");

    // The sampler: off leaves no samples, on samples a 1 s run.
    let sampled = |extra: &[&str]| -> Run {
        let text = p.ok(&[&["run"][..], &run, extra, &["--", "-test.bench=."]].concat());
        serde_json::from_str(&text).unwrap()
    };
    let off = sampled(&["--no-sampler"]);
    assert_eq!((off.monitoring.interval_secs, off.monitoring.samples.len()), (0.0, 0));
    assert!(!sampled(&[]).monitoring.samples.is_empty());
    assert_eq!(gobench_containers(), Vec::<String>::new());
}
