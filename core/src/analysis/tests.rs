//! Table tests of the pure analysis helpers; the commands built on them are
//! tested end to end in `xtask/tests/it/analysis.rs`.

use std::collections::BTreeMap;

use super::changes::{staleness, DetectConfig};
use super::compare::{csv_line, select};
use super::*;
use crate::parse::Validity;
use crate::schema::*;
use crate::stats::{summarize, Direction};

fn doc(go: &str, sha: &str, commit_time: &str, started: &str, host: &str, metrics: &[(&str, &str, &[f64])]) -> Loaded {
    let image = |h: &str| ImageRef { hash: h.to_string(), ..ImageRef::default() };
    let doc = ResultDoc {
        schema: RESULT_SCHEMA.to_string(),
        started: started.to_string(),
        ended: started.to_string(),
        commithash: String::new(),
        cell: String::new(),
        benchmark: "put".to_string(),
        results: SeedResults::default(),
        metrics: metrics
            .iter()
            .map(|(n, unit, v)| {
                let m = Metric { unit: unit.to_string(), direction: Direction::HigherIsBetter, values: v.to_vec(), summary: summarize(v) };
                (n.to_string(), m)
            })
            .collect(),
        provenance: Provenance {
            go: GoProvenance {
                name: go.to_string(),
                git_ref: format!("ref-{go}"),
                url: String::new(),
                sha: sha.to_string(),
                commit_time: commit_time.to_string(),
                version: "go1.28.0".to_string(),
                devel: None,
            },
            workload: WorkloadProvenance {
                name: "etcd".to_string(),
                kind: "etcd".to_string(),
                git_ref: Some("main".to_string()),
                url: None,
                sha: None,
                modules: Vec::new(),
            },
            image: image(&format!("feed{sha}")),
            toolchain_image: image("cafe"),
            toolkit: Toolkit { commit: String::new(), dirty: false },
            command: Vec::new(),
            server_cpus: None,
            client_cpus: None,
            spec: None,
            runs_requested: None,
        },
        host: Host {
            name: host.to_string(),
            cpu_model: String::new(),
            cores: 1,
            memory_bytes: 0,
            kernel: String::new(),
            fsync_probe: None,
            entry: None,
        },
        runs: vec![Run {
            index: 0,
            started: started.to_string(),
            ended: started.to_string(),
            exit_code: Some(0),
            timed_out: false,
            validity: Validity::from_reasons(Vec::new()),
            values: BTreeMap::new(),
            stdout: String::new(),
            stderr_tail: String::new(),
            monitoring: Monitoring::default(),
            host_activity: Vec::new(),
            server_metrics: None,
            profiles: Default::default(),
        }],
        reproduces: None,
        pairing: None,
        abandoned: None,
    };
    Loaded { path: format!("results/{go}-{sha}-{started}.json"), doc }
}

#[test]
fn si_formatting() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0"),
        (31_250.0, "31.25k"),
        (31_200.0, "31.2k"),
        (104.5, "104.5"),
        (1.0, "1"),
        (0.00145, "1.45m"),
        (0.0000123, "12.3µ"),
        (999.96, "1k"),
        (-2_500_000.0, "-2.5M"),
        (7.0e-12, "0.007n"),
    ];
    for (v, want) in cases {
        assert_eq!(fmt_si(*v), *want, "{v}");
    }
    assert_eq!((fmt_pct(12.345), fmt_pct(-4.0), fmt_pct(0.0)), ("+12.3%".to_string(), "-4.0%".to_string(), "0.0%".to_string()));
}

/// Points follow the Go commit time, then the run start, never file order;
/// a host is its own series; metrics without valid runs add no point.
#[test]
fn series_order_and_keys() {
    let docs = vec![
        doc("master", "c3", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", "h1", &[("rps", "req/s", &[3.0])]),
        doc("master", "c1", "2026-01-01T00:00:00Z", "2026-03-05T00:00:00Z", "h1", &[("rps", "req/s", &[1.0])]),
        // Same commit as c1, run earlier: comes first.
        doc("master", "c1", "2026-01-01T01:00:00+01:00", "2026-03-04T00:00:00Z", "h1", &[("rps", "req/s", &[0.5])]),
        doc("master", "c2", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "h2", &[("rps", "req/s", &[2.0]), ("lat", "s", &[])]),
    ];
    let s = series::build(&docs);
    let keys: Vec<String> = s.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(keys, ["etcd@main/put rps on h1", "etcd@main/put rps on h2"]);
    assert_eq!(s[0].values(), [0.5, 1.0, 3.0]);
    assert_eq!(s[1].values(), [2.0]);
}

#[test]
fn side_selectors() {
    let docs = vec![
        doc("master", "0123abcd", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "h", &[("rps", "req/s", &[1.0])]),
        doc("go1.27", "4567ef01", "2025-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "h", &[("rps", "req/s", &[1.0])]),
    ];
    let names = |sel: &str| select(&docs, sel).iter().map(|l| l.doc.provenance.go.name.clone()).collect::<Vec<_>>();
    assert_eq!(names("master"), ["master"]);
    assert_eq!(names("ref-go1.27"), ["go1.27"]);
    assert_eq!(names("feed4567"), ["go1.27"]);
    assert_eq!(names("cafe"), ["master", "go1.27"]);
    assert!(names("fee").is_empty(), "a prefix needs 4 hex digits");
    assert!(names("nope").is_empty());
    assert_eq!(
        report::newest_two_go(&docs),
        Some((("go1.27".to_string(), "4567ef01".to_string()), ("master".to_string(), "0123abcd".to_string())))
    );
}

#[test]
fn watchdog_age() {
    let docs = vec![
        doc("master", "a", "2026-01-01T00:00:00Z", "2026-01-10T00:00:00Z", "h", &[("rps", "req/s", &[1.0])]),
        // Older commit, newer run: the age counts from the newest run.
        doc("master", "b", "2025-12-01T00:00:00Z", "2026-01-12T00:00:00Z", "h", &[("rps", "req/s", &[1.0])]),
    ];
    let s = &series::build(&docs)[0];
    let at = |t: &str| time::parse_rfc3339(t).unwrap();
    assert!(staleness(s, 7, at("2026-01-19T00:00:00Z")).is_none());
    let stale = staleness(s, 7, at("2026-01-19T12:00:00Z")).unwrap();
    assert_eq!((stale.age_days, stale.last.go_sha.as_str()), (7.5, "b"));
    let cfg = DetectConfig { relative: None, edivisive: None, max_age_days: 7, now: at("2026-01-20T00:00:00Z"), since: None };
    assert!(changes::detect(&series::build(&docs), &cfg).alarm());
}

#[test]
fn benchfmt_names_and_units() {
    let mut l = doc(
        "master",
        "abc",
        "2026-01-01T00:00:00Z",
        "2026-01-02T00:00:00Z",
        "h",
        &[
            ("rps", "req/s", &[100.0, 110.0]),
            ("latency_average", "s", &[0.5, 0.25]),
            ("latency_p99.9", "s", &[2.0, 3.0]),
            ("BenchmarkAtoi/7bit ns/op", "ns/op", &[12.5]),
        ],
    );
    l.doc.provenance.workload.name = "etcd server".to_string();
    let text = export::benchfmt(&[l]);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("Benchmark")).collect();
    assert_eq!(
        lines,
        [
            "BenchmarkAtoi/7bit 1 12.5 ns/op",
            "BenchmarkEtcd-server/put/main 1 0.5 sec/op 2 latency_p99.9-sec/op 100 req/s",
            "BenchmarkEtcd-server/put/main 1 0.25 sec/op 3 latency_p99.9-sec/op 110 req/s",
        ]
    );
    assert!(text.contains("gobench-workload: etcd-server@main\n"), "{text}");
}

#[test]
fn csv_quoting() {
    let fields = ["a".to_string(), "b,c".to_string(), "say \"hi\"".to_string(), String::new()];
    assert_eq!(csv_line(&fields), "a,\"b,c\",\"say \"\"hi\"\"\",\n");
}

/// A document of `go` in invocation directory `dir` whose runs give `rps`
/// values in run order; `None` is an invalid run.
fn paired_doc(go: &str, dir: &str, runs: &[Option<f64>]) -> Loaded {
    let mut l = doc(go, go, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "h", &[]);
    let template = l.doc.runs[0].clone();
    l.doc.runs = runs
        .iter()
        .enumerate()
        .map(|(i, v)| Run {
            index: i as u32,
            validity: if v.is_some() { Validity::from_reasons(Vec::new()) } else { Validity::from_reasons(vec!["exit 1".to_string()]) },
            values: BTreeMap::from([("rps".to_string(), v.unwrap_or(1.0))]),
            ..template.clone()
        })
        .collect();
    let values: Vec<f64> = runs.iter().flatten().copied().collect();
    l.doc.metrics.insert(
        "rps".to_string(),
        Metric { unit: "req/s".to_string(), direction: Direction::HigherIsBetter, values: values.clone(), summary: summarize(&values) },
    );
    l.doc.cell = format!("{go}/etcd@main/put");
    l.path = format!("results/{dir}/{go}-etcd@main-put.json");
    l
}

/// Runs of one invocation pair by index; an invalid run drops its pair; a
/// document of another invocation does not pair; the paired numbers are the
/// signed-rank ones of the log ratios.
#[test]
fn compare_pairs_runs_of_one_invocation() {
    // Drift 100, 120, 90, ... common to both sides; B is 2% faster in every
    // pair but the unpaired samples overlap completely.
    let drift = [100.0, 120.0, 90.0, 130.0, 95.0, 125.0, 85.0, 110.0];
    let a: Vec<Option<f64>> = drift.iter().map(|&d| Some(d)).collect();
    let mut b: Vec<Option<f64>> = drift.iter().map(|&d| Some(d * 1.02)).collect();
    b[3] = None;
    let docs = vec![
        paired_doc("old", "2026-01-02T00-00-00Z", &a),
        paired_doc("new", "2026-01-02T00-00-00Z", &b),
        // Another invocation of B only: pooled in the unpaired table, never paired.
        paired_doc("new", "2026-01-03T00-00-00Z", &a),
    ];
    let (sa, sb) = (select(&docs, "old"), select(&docs, "new"));
    let report = compare::compare("old", &sa, "new", &sb, &compare::TableConfig::default());
    let row = &report.tables[0].rows[0];
    assert_eq!(row.verdict, crate::stats::Verdict::NoChange, "unpaired, the drift hides the change");
    let p = row.paired.as_ref().expect("paired");
    // 7 pairs (pair 3 dropped), every log ratio ln 1.02 > 0: W+ = 28, the
    // maximum, p = 2 / 2^7 = 0.015625; all Walsh averages are ln 1.02.
    assert_eq!(p.pairs, 7);
    assert!((p.p_value - 0.015625).abs() < 1e-12, "{p:?}");
    assert!((p.median_ratio - 1.02).abs() < 1e-12);
    assert!((p.ci_low.unwrap() - 1.02).abs() < 1e-12 && (p.ci_high.unwrap() - 1.02).abs() < 1e-12);
    let text = compare::render_text(&report);
    assert!(
        text.contains("paired runs (same invocation, by run index)")
            && text.contains("etcd@main/put  1.0200 [1.0200, 1.0200] p 0.016, 7 pairs"),
        "{text}"
    );
    // Only one side in the directory: nothing paired.
    let lone = compare::compare("old", &sa, "new", &select(&docs[2..], "new"), &compare::TableConfig::default());
    assert_eq!(lone.tables[0].rows[0].paired, None);
}

#[test]
fn compare_flags_misleading_samples() {
    let two = [274.0, 281.0, 290.0, 300.0, 295.0, 370.0, 380.0, 392.0, 385.0, 377.0];
    let a = doc("old", "a", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "h", &[("ns", "ns/op", &two)]);
    let b = doc("new", "b", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "h", &[("ns", "ns/op", &[300.0; 6])]);
    let report = compare::compare("old", &[&a], "new", &[&b], &compare::TableConfig::default());
    assert_eq!(report.tables[0].rows[0].shape.as_deref(), Some("A: multimodal"));
    assert!(compare::table_cells(&report.tables[0])[1][8].ends_with("(A: multimodal)"));
}
