//! `compare`, `detect`, `report` and `export` on result documents made here
//! with the schema types, in temp projects. No podman, no git.

use std::path::Path;
use std::process::Command;

use gobench_core::schema::*;
use gobench_core::stats::{self, Direction};

use crate::support::{golden, workspace, write};

const HI: Direction = Direction::HigherIsBetter;
const LO: Direction = Direction::LowerIsBetter;

/// A Go toolchain as a document names it.
#[derive(Clone)]
struct Go {
    name: &'static str,
    version: &'static str,
    sha: String,
    commit_time: String,
}

fn go(name: &'static str, version: &'static str, n: u32, commit_time: &str) -> Go {
    Go { name, version, sha: sha(n), commit_time: commit_time.to_string() }
}

/// A fake but well-formed 40-digit commit SHA, distinct per `n`.
fn sha(n: u32) -> String {
    format!("{:08x}", n.wrapping_mul(2_654_435_761) ^ 0x5eed_0000).repeat(5)
}

/// A result document of etcd@`wref` / `bench` on host `host`; each metric
/// is (name, unit, direction, valid-run values).
fn doc(g: &Go, started: &str, wref: &str, bench: &str, host: &str, metrics: &[(&str, &str, Direction, &[f64])]) -> ResultDoc {
    let image = |kind: &str| ImageRef {
        hash: format!("{kind}{}{}", g.sha, "0".repeat(20)),
        id: "sha256:".to_string() + &"1".repeat(64),
        tag: format!("localhost/gobench/{kind}"),
        ..ImageRef::default()
    };
    ResultDoc {
        schema: RESULT_SCHEMA.to_string(),
        started: started.to_string(),
        ended: started.to_string(),
        commithash: format!("go version {} linux/amd64", g.version),
        cell: format!("{}/etcd@{wref}/{bench}", g.name),
        benchmark: bench.to_string(),
        results: SeedResults::default(),
        metrics: metrics
            .iter()
            .map(|(name, unit, direction, values)| {
                (
                    name.to_string(),
                    Metric { unit: unit.to_string(), direction: *direction, values: values.to_vec(), summary: stats::summarize(values) },
                )
            })
            .collect(),
        provenance: Provenance {
            go: GoProvenance {
                name: g.name.to_string(),
                git_ref: g.name.to_string(),
                url: "https://go.googlesource.com/go".to_string(),
                sha: g.sha.clone(),
                commit_time: g.commit_time.clone(),
                version: g.version.to_string(),
                devel: None,
            },
            workload: WorkloadProvenance {
                name: "etcd".to_string(),
                kind: "etcd".to_string(),
                git_ref: Some(wref.to_string()),
                url: Some("https://github.com/etcd-io/etcd".to_string()),
                sha: Some(sha(7)),
                modules: Vec::new(),
            },
            image: image("abcd"),
            toolchain_image: image("beef"),
            toolkit: Toolkit { commit: sha(9), dirty: false },
            command: vec!["benchmark".to_string(), bench.to_string()],
            server_cpus: None,
            client_cpus: None,
            spec: None,
            runs_requested: None,
        },
        host: Host {
            name: host.to_string(),
            cpu_model: "Test CPU".to_string(),
            cores: 2,
            memory_bytes: 1 << 33,
            kernel: "6.1.0".to_string(),
            fsync_probe: None,
            entry: None,
        },
        runs: Vec::new(),
        reproduces: None,
        pairing: None,
        abandoned: None,
    }
}

/// A project directory: the shipped toolchains.toml with `[detect]`
/// replaced, and result files written under `results/`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(detect: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let shipped = std::fs::read_to_string(workspace().join("toolchains.toml")).unwrap();
        let at = shipped.find("[detect]").expect("the shipped config has a [detect] table");
        write(&dir.path().join("toolchains.toml"), &format!("{}[detect]\n{detect}\n", &shipped[..at]));
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn add(&self, rel: &str, doc: &ResultDoc) {
        write(&self.path().join(rel), &serde_json::to_string_pretty(doc).unwrap());
    }

    /// Runs xtask; returns (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out =
            Command::new(env!("CARGO_BIN_EXE_xtask")).arg("--config").arg(self.path().join("toolchains.toml")).args(args).output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    }

    fn code(&self, args: &[&str], want: i32) -> String {
        let (code, stdout, stderr) = self.run(args);
        assert_eq!(code, want, "xtask {args:?} exited {code}, not {want}:\n{stdout}\n{stderr}");
        stdout
    }
}

const DEFAULT_DETECT: &str = "threshold = 0.10\nwindow = 5\nmin_previous = 10\naggregation = \"mean\"\nmax_age_days = 7\n";

/// Deterministic standard normal noise (splitmix64 + Box-Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// RFC 3339 time `days` days (fractional) after 2026-01-01.
fn day(days: f64) -> String {
    let secs = (days * 86_400.0).round() as i64;
    let (d, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // 2026-01-01 plus d days, for d < 365 * 3 (no leap day before 2028-02-29).
    let mut rest = d;
    let (mut y, mut m) = (2026, 1);
    loop {
        let len = match m {
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if rest < len {
            break;
        }
        rest -= len;
        m += 1;
        if m == 13 {
            (y, m) = (y + 1, 1);
        }
    }
    format!("{y}-{m:02}-{:02}T{:02}:{:02}:{:02}Z", rest + 1, s / 3600, s / 60 % 60, s % 60)
}

/// A one-metric series on etcd@release-3.6/put: point `i` is Go commit `i`
/// committed on day `i`, run on day `i + 0.5`, with `runs` equal values.
fn add_series(p: &Project, bench: &str, metric: (&str, &str, Direction), values: &[f64]) {
    for (i, v) in values.iter().enumerate() {
        let g = go("master", "go1.28.0", i as u32 + 1000, &day(i as f64));
        let d = doc(&g, &day(i as f64 + 0.5), "release-3.6", bench, "bench1", &[(metric.0, metric.1, metric.2, &[*v])]);
        p.add(&format!("results/{bench}/{i:04}.json"), &d);
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

// ---------------------------------------------------------------------------
// compare
// ---------------------------------------------------------------------------

/// A: go1.27 (put split over two files, pooled), B: master.
fn compare_project() -> Project {
    let p = Project::new(DEFAULT_DETECT);
    let old = go("go1.27", "go1.27.3", 1, "2026-11-04T18:00:00Z");
    let new = go("master", "go1.28.0", 2, "2026-11-20T09:30:00Z");
    let rps_a: Vec<f64> = (0..10).map(|i| 100.0 + i as f64).collect();
    let rps_b: Vec<f64> = rps_a.iter().map(|v| v * 0.9).collect();
    let lat: Vec<f64> = (0..10).map(|i| 0.001 + 0.0001 * i as f64).collect();
    p.add(
        "results/a1.json",
        &doc(
            &old,
            "2026-11-21T10:00:00Z",
            "release-3.6",
            "put",
            "bench1",
            &[("rps", "req/s", HI, &rps_a[..5]), ("latency_average", "s", LO, &lat[..5])],
        ),
    );
    p.add(
        "results/a2.json",
        &doc(
            &old,
            "2026-11-21T11:00:00Z",
            "release-3.6",
            "put",
            "bench1",
            &[("rps", "req/s", HI, &rps_a[5..]), ("latency_average", "s", LO, &lat[5..])],
        ),
    );
    p.add(
        "results/b1.json",
        &doc(
            &new,
            "2026-11-21T12:00:00Z",
            "release-3.6",
            "put",
            "bench1",
            &[("rps", "req/s", HI, &rps_b), ("latency_average", "s", LO, &lat)],
        ),
    );
    p.add(
        "results/a3.json",
        &doc(&old, "2026-11-21T13:00:00Z", "release-3.6", "stm", "bench1", &[("rps", "req/s", HI, &[49.0, 50.0, 51.0])]),
    );
    p.add(
        "results/b3.json",
        &doc(&new, "2026-11-21T14:00:00Z", "release-3.6", "stm", "bench1", &[("rps", "req/s", HI, &[54.0, 55.0, 56.0])]),
    );
    p
}

/// The numbers of the table against values worked out by hand.
#[test]
fn compare_statistics_match_hand_worked_values() {
    let p = compare_project();
    let report = json(&p.code(&["compare", "go1.27", "master", "--json"], 0));
    let tables = report["tables"].as_array().unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["metric"].as_str().unwrap()).collect();
    assert_eq!(names, ["latency_average", "rps"]);
    let rps = &tables[1];
    let put = &rps["rows"][0];
    assert_eq!(put["benchmark"], "put");
    // A pools a1 and a2: 100..=109, n = 10, median 104.5; the 95% CI of 10
    // values is [x(2), x(9)] since P(Bin(10, 1/2) <= 1) = 11/1024 and 1 - 2 * 11/1024 >= 0.95 > 1 - 2 * 56/1024.
    assert_eq!(put["a"]["n"], 10);
    assert_eq!(put["a"]["median"], 104.5);
    assert_eq!((put["a"]["ci_low"].as_f64(), put["a"]["ci_high"].as_f64()), (Some(101.0), Some(108.0)));
    // B = 0.9 A: -10%, and the samples do not overlap: exact U p = 2 / C(20, 10).
    assert!((put["delta_pct"].as_f64().unwrap() + 10.0).abs() < 1e-9, "{put}");
    assert!((put["p_value"].as_f64().unwrap() - 2.0 / 184_756.0).abs() < 1e-15, "{put}");
    assert_eq!(put["verdict"], "regression");
    assert_eq!(put["significant"], true);
    // stm: 3 vs 3 without overlap: p = 2 / C(6, 3) = 0.1, can never reach 0.05.
    let stm = &rps["rows"][1];
    assert!((stm["p_value"].as_f64().unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(stm["verdict"], "no-change");
    assert!(stm["note"].as_str().unwrap().contains("too few runs"), "{stm}");
    // Geomean of the ratios 0.9 (put) and 55/50 (stm).
    let g = rps["geomean"]["delta_pct"].as_f64().unwrap();
    assert!((g - ((0.9f64 * 1.1).sqrt() - 1.0) * 100.0).abs() < 1e-9, "{g}");
    // Identical latencies: p = 1, no change.
    let lat = &tables[0]["rows"][0];
    assert_eq!(lat["p_value"], 1.0);
    assert_eq!(lat["delta_pct"], 0.0);
    assert_eq!(lat["verdict"], "no-change");

    // The minimum-magnitude gate: a 10% change is not significant at --min-change 15.
    let gated = json(&p.code(&["compare", "go1.27", "master", "--json", "--min-change", "15"], 0));
    let put = &gated["tables"][1]["rows"][0];
    assert_eq!((put["significant"].as_bool(), put["verdict"].as_str()), (Some(false), Some("no-change")));
    assert!(put["note"].as_str().unwrap().contains("below --min-change 15%"), "{put}");
    // A stricter alpha than the 3 vs 3 minimum p keeps put significant.
    let strict = json(&p.code(&["compare", "go1.27", "master", "--json", "--alpha", "0.001"], 0));
    assert_eq!(strict["tables"][1]["rows"][0]["verdict"], "regression");
}

/// The text, JSON and CSV renderings, golden-tested.
#[test]
fn compare_renderings_are_golden() {
    let p = compare_project();
    golden("analysis/compare.txt", &p.code(&["compare", "go1.27", "master"], 0));
    golden("analysis/compare.json", &p.code(&["compare", "go1.27", "master", "--json"], 0));
    golden("analysis/compare.csv", &p.code(&["compare", "go1.27", "master", "--csv"], 0));
    // A side may be a file or an image hash prefix too.
    let by_file = p.code(&["compare", p.path().join("results/a1.json").to_str().unwrap(), "results/b1.json", "--csv"], 0);
    assert!(by_file.lines().any(|l| l.starts_with("rps,req/s,higher-is-better,etcd@release-3.6,put,5,102,")), "{by_file}");
    let hash = &sha(2)[..20];
    let by_hash = p.code(&["compare", "go1.27", &format!("abcd{}", &hash[..6]), "--csv"], 0);
    assert_eq!(by_hash, p.code(&["compare", "go1.27", "master", "--csv"], 0));
}

#[test]
fn compare_exit_codes() {
    let p = compare_project();
    // 1: a significant regression with --fail-on-regression; not the other way round.
    let out = p.code(&["compare", "go1.27", "master", "--fail-on-regression"], 1);
    assert!(out.contains("REGRESSION"), "{out}");
    p.code(&["compare", "master", "go1.27", "--fail-on-regression"], 0);
    p.code(&["compare", "go1.27", "master", "--fail-on-regression", "--min-change", "15"], 0);
    // 2: an error, with a message that says what to give.
    let (code, _, err) = p.run(&["compare", "go1.27", "nosuchref"]);
    assert_eq!(code, 2);
    assert!(err.contains("no result matches `nosuchref`") && err.contains("go1.27, master"), "{err}");
}

// ---------------------------------------------------------------------------
// detect
// ---------------------------------------------------------------------------

/// Horreum's model with window 2 and 3 previous points, worked by hand.
///
/// `steps`: 100 x4, 130 x3, 170 x4. At point 4 the history is
/// [100 100 100 | 100 130]: mean 100, window mean 115, ratio 1.15 > 1.1, and
/// the first window point above 100 is point 4. History restarts at point 4;
/// at point 8 it is [130 130 130 | 170 170]: mean 130 (not polluted by the
/// 100s), ratio 1.31, blame point 7.
///
/// `soon`: 100 x4, 130 x2, 170 x3. After the restart at 4, point 8 sees
/// [130 130 170 | 170 170]: mean 143.3, ratio 1.186, and the first window
/// point above the mean is point 7, one late: the real step (point 6) fell
/// into the previous points. That is what Horreum does, and the window range
/// covers the real step.
///
/// `short`: 100 x3, 200: 4 points, fewer than 3 + 2, never evaluated.
#[test]
fn detect_relative_difference_hand_worked() {
    let p = Project::new("threshold = 0.10\nwindow = 2\nmin_previous = 3\naggregation = \"mean\"\nmax_age_days = 7\n");
    let lat = ("latency_average", "s", LO);
    add_series(&p, "steps", lat, &[100.0, 100.0, 100.0, 100.0, 130.0, 130.0, 130.0, 170.0, 170.0, 170.0, 170.0]);
    add_series(&p, "soon", lat, &[100.0, 100.0, 100.0, 100.0, 130.0, 130.0, 170.0, 170.0, 170.0]);
    add_series(&p, "short", lat, &[100.0, 100.0, 100.0, 200.0]);
    let now = day(10.0);
    let out = json(&p.code(&["detect", "--model", "relative", "--json", "--now", &now], 1));
    let found: Vec<(String, u64, u64, f64, f64, String)> = out["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["series"]["benchmark"].as_str().unwrap().to_string(),
                c["index"].as_u64().unwrap(),
                c["detected_at"].as_u64().unwrap(),
                c["old"].as_f64().unwrap(),
                c["new"].as_f64().unwrap(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let r = |b: &str, i, at, old, new| (b.to_string(), i, at, old, new, "regression".to_string());
    assert_eq!(
        found,
        [
            r("soon", 4, 4, 100.0, 115.0),
            r("soon", 7, 8, 430.0 / 3.0, 170.0),
            r("steps", 4, 4, 100.0, 115.0),
            r("steps", 7, 8, 130.0, 170.0)
        ]
    );
    // The suspect range is the commit of the point before..the blamed commit.
    let first = &out["changes"][2];
    assert_eq!(first["commits"].as_str().unwrap(), format!("{}..{}", sha(1003), sha(1004)));
    assert_eq!(first["blamed"]["path"], "results/steps/0004.json");
    assert_eq!(out["changes"][1]["window_commits"].as_str().unwrap(), format!("{}..{}", sha(1006), sha(1008)));
    assert_eq!(out["missing"].as_array().unwrap().len(), 0);
    // The same direction flipped: rps going up is an improvement, exit 0.
    let q = Project::new("threshold = 0.10\nwindow = 2\nmin_previous = 3\naggregation = \"mean\"\nmax_age_days = 7\n");
    add_series(&q, "steps", ("rps", "req/s", HI), &[100.0, 100.0, 100.0, 100.0, 130.0, 130.0, 130.0, 170.0, 170.0, 170.0, 170.0]);
    let text = q.code(&["detect", "--model", "relative", "--now", &now], 0);
    assert!(text.contains("0 regressions, 2 improvements, 0 series with missing data"), "{text}");
    assert!(text.contains("improvement etcd@release-3.6/steps rps on bench1 +15.0% (100 -> 115 req/s) by relative difference"), "{text}");
}

/// The watchdog: `max_age_days` after the newest valid result, and only then.
#[test]
fn detect_reports_missing_data() {
    let p = Project::new(DEFAULT_DETECT);
    add_series(&p, "put", ("rps", "req/s", HI), &[100.0; 6]);
    // A newer document with no valid run does not count as a result.
    let g = go("master", "go1.28.0", 2000, &day(20.0));
    let mut invalid = doc(&g, &day(20.0), "release-3.6", "put", "bench1", &[("rps", "req/s", HI, &[])]);
    invalid.metrics.get_mut("rps").unwrap().summary = None;
    p.add("results/put/invalid.json", &invalid);
    // Newest valid run started on day 5.5.
    p.code(&["detect", "--now", &day(12.4)], 0);
    let out = p.code(&["detect", "--now", &day(12.6)], 1);
    assert!(out.contains("MISSING DATA etcd@release-3.6/put rps on bench1: no valid result for 7.1 days (limit 7)"), "{out}");
    assert!(out.contains("results/put/0005.json"), "{out}");
    let j = json(&p.code(&["detect", "--now", &day(12.6), "--json"], 1));
    assert_eq!(j["missing"][0]["last"]["path"], "results/put/0005.json");
    // 2: an error.
    let (code, _, err) = p.run(&["detect", "--now", "yesterday"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an RFC 3339 time"), "{err}");
}

/// A 15% step in 3% Gaussian noise is found by both models at the step; 200
/// points of pure noise raise no alarm.
#[test]
fn detect_finds_a_step_and_ignores_noise() {
    let p = Project::new(DEFAULT_DETECT);
    let mut noise = Noise(42);
    let step: Vec<f64> = (0..60).map(|i| 30_000.0 * if i >= 30 { 0.85 } else { 1.0 } * (1.0 + 0.03 * noise.normal())).collect();
    add_series(&p, "step", ("rps", "req/s", HI), &step);
    let quiet: Vec<f64> = (0..200).map(|_| 30_000.0 * (1.0 + 0.03 * noise.normal())).collect();
    add_series(&p, "quiet", ("rps", "req/s", HI), &quiet);
    let out = json(&p.code(&["detect", "--json", "--now", &day(200.0)], 1));
    let changes = out["changes"].as_array().unwrap();
    let by = |model: &str| -> Vec<(String, u64)> {
        changes
            .iter()
            .filter(|c| c["model"] == model)
            .map(|c| (c["series"]["benchmark"].as_str().unwrap().to_string(), c["index"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(by("e-divisive"), [("step".to_string(), 30)], "{out:#}");
    // Horreum blames the first window point below the old mean: the step, or
    // with noise a point or two before it (measured over 100 seeds: 54% at
    // the step, 31% one early, 15% two early); its window always covers it.
    let h = by("relative-difference");
    assert_eq!(h.len(), 1, "{out:#}");
    assert!(h[0].0 == "step" && (28..=30).contains(&h[0].1), "{h:?}");
    let c = changes.iter().find(|c| c["model"] == "relative-difference").unwrap();
    assert_eq!(c["verdict"], "regression");
    let window = c["window_commits"].as_str().unwrap();
    let (from, to) = window.split_once("..").unwrap();
    let index_of = |s: &str| (1000..1060).find(|&n| sha(n) == s).unwrap() - 1000;
    assert!(index_of(from) < 30 && index_of(to) >= 30, "{window}");
    for c in changes.iter().filter(|c| c["model"] == "e-divisive") {
        assert!((c["change_pct"].as_f64().unwrap() + 15.0).abs() < 3.0, "{c}");
    }
}

/// The false-alarm rate of both models through `detect`: 100 series of 200
/// points of 3% Gaussian noise. Prints the measured rate.
#[test]
fn detect_false_alarm_rate_on_noise() {
    let p = Project::new(DEFAULT_DETECT);
    let mut noise = Noise(7);
    // 100 metrics in the same 200 documents: 100 series through the same
    // code path as 100 separate cells, in 200 files instead of 20,000.
    let series: Vec<Vec<f64>> = (0..100).map(|_| (0..200).map(|_| 1000.0 * (1.0 + 0.03 * noise.normal())).collect()).collect();
    let names: Vec<String> = (0..100).map(|s| format!("m{s:03}")).collect();
    for i in 0..200 {
        let g = go("master", "go1.28.0", i as u32 + 1000, &day(i as f64));
        let values: Vec<[f64; 1]> = series.iter().map(|v| [v[i]]).collect();
        let metrics: Vec<(&str, &str, Direction, &[f64])> = (0..100).map(|s| (names[s].as_str(), "req/s", HI, &values[s][..])).collect();
        p.add(&format!("results/{i:04}.json"), &doc(&g, &day(i as f64 + 0.5), "release-3.6", "put", "bench1", &metrics));
    }
    let (code, stdout, stderr) = p.run(&["detect", "--json", "--now", &day(200.0)]);
    assert!(code == 0 || code == 1, "{stderr}");
    let out = json(&stdout);
    assert_eq!(out["series"], 100);
    let rate = |model: &str| -> usize {
        let mut hit: Vec<&str> = out["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["model"] == model)
            .map(|c| c["series"]["metric"].as_str().unwrap())
            .collect();
        hit.dedup();
        hit.len()
    };
    let (h, e) = (rate("relative-difference"), rate("e-divisive"));
    eprintln!("false alarms on 100 series x 200 points of 3% noise: relative difference {h}/100, e-divisive (5% floor) {e}/100");
    assert_eq!(h, 0);
    // Measured with this seed: 0/100 and 5/100 (over 200 other seeds 2%; 6% without the floor).
    assert!(e <= 10, "e-divisive raised {e}/100 false alarms");
}

// ---------------------------------------------------------------------------
// report
// ---------------------------------------------------------------------------

/// A history shaped like a real one: 30 master commits of etcd put and stm
/// on two etcd refs with 3% noise, a 12% drop in put rps at commit 20, and
/// five runs of go1.27.3 for the compare table.
fn report_project() -> Project {
    let p = Project::new(DEFAULT_DETECT);
    let mut noise = Noise(3);
    let mut runs = |center: f64| -> Vec<f64> { (0..5).map(|_| center * (1.0 + 0.03 * noise.normal())).collect() };
    for i in 0..30 {
        let g = go("master", "go1.28.0", 3000 + i, &day(f64::from(i)));
        for (wref, base) in [("release-3.6", 31_000.0), ("main", 29_500.0)] {
            let drop = if i >= 20 && wref == "release-3.6" { 0.88 } else { 1.0 };
            let rps = runs(base * drop);
            let lat = runs(0.0032 / drop);
            p.add(
                &format!("results/{wref}/put/{i:03}.json"),
                &doc(
                    &g,
                    &day(f64::from(i) + 0.5),
                    wref,
                    "put",
                    "bench1",
                    &[("rps", "req/s", HI, &rps), ("latency_average", "s", LO, &lat)],
                ),
            );
            let stm = runs(base / 3.0);
            p.add(
                &format!("results/{wref}/stm/{i:03}.json"),
                &doc(&g, &day(f64::from(i) + 0.6), wref, "stm", "bench1", &[("rps", "req/s", HI, &stm)]),
            );
        }
    }
    let old = go("go1.27", "go1.27.3", 2999, "2025-11-04T18:00:00Z");
    for k in 0..3 {
        let rps = runs(31_000.0);
        let lat = runs(0.0032);
        p.add(
            &format!("results/go1.27/put-{k}.json"),
            &doc(
                &old,
                &day(29.7 + f64::from(k) * 0.01),
                "release-3.6",
                "put",
                "bench1",
                &[("rps", "req/s", HI, &rps), ("latency_average", "s", LO, &lat)],
            ),
        );
    }
    p
}

pub fn chromium(args: &[&str]) -> std::process::Output {
    let found = Command::new("chromium").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "this test needs a headless browser: install Debian's chromium (`apt-get install -y chromium`)"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Loads a page in chromium: its DOM after parsing, and a screenshot.
fn load(page: &Path, shot: &Path) -> String {
    let url = format!("file://{}", page.display());
    let dom = chromium(&["--dump-dom", &url]);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    for bad in ["CONSOLE", "Failed to load", "net::ERR_"] {
        assert!(!stderr.contains(bad), "{} has errors ({bad}):\n{stderr}", page.display());
    }
    // Headless chromium now and then captures before the first paint (a white
    // frame, seen once in CI); the page is static, so a second capture of a
    // blank frame is a capture problem, and a third blank one is the page's.
    for _ in 0..3 {
        chromium(&[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,900",
            "--hide-scrollbars",
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=3000",
            &url,
        ]);
        let (_, _, px) = pixels(shot);
        if count_near(&px, [255, 255, 255]) < px.len() * 97 / 100 {
            break;
        }
    }
    String::from_utf8(dom.stdout).unwrap()
}

/// (width, height, RGBA pixels) of a PNG.
fn pixels(png_file: &Path) -> (u32, u32, Vec<[u8; 4]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_file).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let px: Vec<[u8; 4]> = match info.color_type {
        png::ColorType::Rgba => bytes.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect(),
        png::ColorType::Rgb => bytes.chunks(3).map(|c| [c[0], c[1], c[2], 255]).collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width, info.height, px)
}

/// Pixels within 40 of the colour on every channel.
fn count_near(px: &[[u8; 4]], rgb: [u8; 3]) -> usize {
    px.iter().filter(|p| (0..3).all(|i| (i32::from(p[i]) - i32::from(rgb[i])).abs() < 40)).count()
}

/// Renders the report, loads it in a real headless browser from `file://`
/// and checks the DOM has the plot and the screenshot shows it.
/// `GOBENCH_KEEP_REPORT=1` keeps the directory (its path is printed).
#[test]
fn report_renders_in_a_headless_browser() {
    let p = report_project();
    let out = p.path().join("report");
    let said = p.code(&["report", "--out", out.to_str().unwrap(), "--now", &day(30.0)], 0);
    assert!(said.contains("wrote 7 pages"), "{said}");

    let page = out.join("s-etcd_release-3.6-put-rps-bench1.html");
    let dom = load(&page, &p.path().join("series.png"));
    assert!(dom.contains("<svg") && dom.contains("class=\"plot\""), "no plot in the DOM:\n{dom}");
    assert!(dom.contains("<path class=\"series\" d=\"M"), "no line in the plot");
    assert_eq!(dom.matches("<circle class=\"point").count(), 33, "one point per result file (30 master, 3 go1.27)");
    assert!(dom.contains("<circle class=\"point regression\""), "the detected drop is not drawn red");
    assert!(dom.contains("<line class=\"change regression\""), "no change marker");
    assert!(dom.contains("</main>"), "the page did not parse to its end");
    // Every point links to its result file, relative to the page, and the link works.
    let hrefs: Vec<&str> = dom.split("<a href=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).filter(|h| h.ends_with(".json")).collect();
    assert!(hrefs.len() >= 33, "{hrefs:?}");
    for h in &hrefs {
        assert!(h.starts_with("../results/"), "{h}");
        assert!(out.join(h).is_file(), "{h} does not resolve from {}", out.display());
    }
    // The blamed point's tooltip names the run, the commit and the change.
    let blamed = dom.split("point regression").nth(1).unwrap();
    let title = &blamed[blamed.find("<title>").unwrap()..blamed.find("</title>").unwrap()];
    assert!(
        title.contains("results/release-3.6/put/020.json") && title.contains(&sha(3020)[..12]) && title.contains("REGRESSION"),
        "{title}"
    );

    let (w, h, px) = pixels(&p.path().join("series.png"));
    assert_eq!((w, h), (1200, 900));
    let white = count_near(&px, [255, 255, 255]);
    assert!(white < px.len() * 97 / 100, "the screenshot is blank ({white} of {} pixels white)", px.len());
    assert!(count_near(&px, [9, 105, 218]) > 2_000, "the blue series line and points are not visible");
    assert!(count_near(&px, [207, 34, 46]) > 100, "the red change is not visible");

    // The index: the compare table of the two newest Go refs and every series.
    let index = load(&out.join("index.html"), &p.path().join("index.png"));
    assert!(
        index.contains(&format!("Compare: go1.27 {} (A) vs master {} (B)", &sha(2999)[..12], &sha(3029)[..12])),
        "no compare table of the newest commits"
    );
    assert_eq!(index.matches("class=\"spark\"").count(), 6, "a sparkline per series");
    assert!(index.contains("s-etcd_release-3.6-put-rps-bench1.html"));
    let (_, _, px) = pixels(&p.path().join("index.png"));
    assert!(count_near(&px, [9, 105, 218]) > 200, "no sparklines or links visible on the index");
    assert!(!std::fs::read_to_string(&page).unwrap().contains("<script"), "pages need no JavaScript");
    for name in std::fs::read_dir(&out).unwrap() {
        let text = std::fs::read_to_string(name.unwrap().path()).unwrap();
        assert!(!text.contains("http://") || !text.replace("http://www.w3.org/2000/svg", "").contains("http://"), "external resource");
        assert!(!text.contains("https://"), "external resource");
    }
    if std::env::var_os("GOBENCH_KEEP_REPORT").is_some() {
        let kept = p.dir.keep();
        eprintln!("report kept in {}", kept.display());
    }
}

// ---------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------

/// Go benchmark format and CSV of the compare project, golden-tested; the
/// benchmark lines are what benchstat needs: name, iterations, value-unit pairs.
#[test]
fn export_benchfmt_and_csv() {
    let p = compare_project();
    let text = p.code(&["export", "--benchfmt"], 0);
    golden("analysis/export.txt", &text);
    assert!(text.contains("\npkg: etcd\ngobench-go: go1.27\ngobench-go-version: go1.27.3\n"), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("Benchmark")).collect();
    // put: 5 + 5 + 10 runs, stm: 3 + 3.
    assert_eq!(lines.len(), 26);
    assert!(lines.contains(&"BenchmarkEtcd/put/release-3.6 1 0.001 sec/op 100 req/s"), "{lines:?}");
    assert!(lines.contains(&"BenchmarkEtcd/stm/release-3.6 1 54 req/s"), "{lines:?}");
    for l in &lines {
        let f: Vec<&str> = l.split(' ').collect();
        assert!(f.len() >= 4 && f.len().is_multiple_of(2) && f[1] == "1", "{l}");
        assert!(f[2..].chunks(2).all(|c| c[0].parse::<f64>().is_ok() && !c[1].is_empty()), "{l}");
    }
    let csv = p.code(&["export", "--csv"], 0);
    golden("analysis/export.csv", &csv);
    assert_eq!(csv.lines().count(), 1 + 20 * 2 + 6);
    // Selection and --out.
    let file = p.path().join("out/master.txt");
    p.code(&["export", "--benchfmt", "master", "--out", file.to_str().unwrap()], 0);
    let master = std::fs::read_to_string(&file).unwrap();
    assert!(master.contains("gobench-go: master") && !master.contains("gobench-go: go1.27"), "{master}");
    let (code, _, err) = p.run(&["export"]);
    assert_ne!(code, 0, "a format is required");
    assert!(err.contains("--benchfmt") && err.contains("--csv"), "{err}");
}

// ---------------------------------------------------------------------------
// agreement with benchstat
// ---------------------------------------------------------------------------

/// A go-std result document of `g` for package strconv, one value per run
/// for each (metric name, unit, values).
fn go_std_doc(g: &Go, started: &str, metrics: &[(&str, &str, &[f64])]) -> ResultDoc {
    let metrics: Vec<(&str, &str, Direction, &[f64])> = metrics.iter().map(|&(n, u, v)| (n, u, LO, v)).collect();
    let mut d = doc(g, started, "-", "strconv", "bench1", &metrics);
    d.cell = format!("{}/go-std/strconv", g.name);
    d.provenance.workload = WorkloadProvenance {
        name: "go-std".to_string(),
        kind: "go-std".to_string(),
        git_ref: None,
        url: None,
        sha: None,
        modules: Vec::new(),
    };
    d
}

/// benchstat's text rendering of a number: the mantissa and the size of
/// half its last digit, after an SI prefix (`300.0n` -> (300.0e-9, 0.05e-9)).
fn si_number(text: &str) -> (f64, f64) {
    let (digits, scale) = match text.char_indices().last() {
        Some((i, c)) if !c.is_ascii_digit() => {
            let scale = match c {
                'n' => 1e-9,
                'µ' => 1e-6,
                'm' => 1e-3,
                'k' => 1e3,
                'M' => 1e6,
                'G' => 1e9,
                _ => panic!("unknown SI prefix in {text}"),
            };
            (&text[..i], scale)
        }
        _ => (text, 1.0),
    };
    let decimals = digits.split_once('.').map_or(0, |(_, d)| d.len());
    (digits.parse::<f64>().unwrap_or_else(|_| panic!("not a number: {text}")) * scale, 0.5 * 10f64.powi(-(decimals as i32)) * scale)
}

/// The real benchstat, pinned in `.ci/run`, on an export of two toolchains'
/// go-std results, run exactly as `export --help` documents it: its medians,
/// CI widths, deltas and p-values must be ours after benchstat's rounding.
#[test]
fn benchstat_agrees_with_compare() {
    let p = Project::new(DEFAULT_DETECT);
    let old = go("go1.27", "go1.27.3", 1, "2026-11-04T18:00:00Z");
    let new = go("master", "go1.28.0", 2, "2026-11-20T09:30:00Z");
    // AppendQuote: B 15% faster, no overlap. Atoi: the same distribution
    // shuffled, no change. B/op: constant on both sides.
    let quote_a = [301.0, 297.5, 310.25, 305.0, 299.0, 315.5, 302.0, 298.25, 307.0, 312.0];
    let quote_b: Vec<f64> = quote_a.iter().map(|v| v * 0.85).collect();
    let atoi_a = [25.1, 24.8, 25.6, 25.0, 26.2, 24.9, 25.3, 25.8, 24.7, 25.4];
    let atoi_b = [25.3, 25.9, 24.6, 25.2, 25.05, 26.0, 24.95, 25.5, 25.15, 24.85];
    let bytes = [16.0; 10];
    let dir = "results/2026-11-21T10-00-00Z";
    for (g, quote, atoi) in [(&old, &quote_a[..], &atoi_a[..]), (&new, &quote_b[..], &atoi_b[..])] {
        let metrics: [(&str, &str, &[f64]); 3] = [
            ("BenchmarkAppendQuote ns/op", "ns/op", quote),
            ("BenchmarkAppendQuote B/op", "B/op", &bytes),
            ("BenchmarkAtoi ns/op", "ns/op", atoi),
        ];
        p.add(&format!("{dir}/{}_go-std_strconv.json", g.name), &go_std_doc(g, "2026-11-21T10:00:00Z", &metrics));
    }
    let file = p.path().join("export.txt");
    p.code(&["export", "--benchfmt", "--out", file.to_str().unwrap()], 0);

    // The documented command, word for word, with FILE replaced.
    let help = p.code(&["export", "--help"], 0);
    let documented = help.split('`').find(|s| s.starts_with("benchstat ")).unwrap_or_else(|| panic!("no benchstat command in:\n{help}"));
    let words: Vec<String> =
        documented.split(' ').map(|w| if w == "FILE" { file.to_str().unwrap().to_string() } else { w.to_string() }).collect();
    let program = std::env::var("BENCHSTAT").unwrap_or_else(|_| words[0].clone());
    let out = Command::new(&program)
        .args(&words[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): install it as .ci/run does, or point BENCHSTAT at it"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{documented}: {}\n{text}", String::from_utf8_lossy(&out.stderr));

    let report = json(&p.code(&["compare", "go1.27", "master", "--json"], 0));
    // One table per unit (B/op, sec/op), each comparing the two toolchains:
    // the documented command gives a comparison, not a table per toolchain.
    assert_eq!(text.matches("vs base").count(), 2, "{text}");
    assert_eq!(text.lines().filter(|l| l.contains("go1.27") && l.contains("master")).count(), 2, "{text}");
    // What cannot match: benchstat's geomean row is over the rows of a unit's
    // table (AppendQuote and Atoi together); compare has a table per metric,
    // so its geomean is over workloads of one metric. It is not checked.
    let mut checked = 0;
    for t in report["tables"].as_array().unwrap() {
        let row = &t["rows"][0];
        let metric = t["metric"].as_str().unwrap();
        let (bench, unit) = metric.split_once(' ').unwrap();
        // benchstat reports time in sec/op and drops the Benchmark prefix.
        let scale = if unit == "ns/op" { 1e-9 } else { 1.0 };
        let unit_header = if unit == "ns/op" { "sec/op" } else { unit };
        let name = bench.strip_prefix("Benchmark").unwrap();
        // The table of this unit starts at its header line; its row is the
        // first line naming the benchmark.
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.split('│').any(|c| c.trim() == unit_header))
            .unwrap_or_else(|| panic!("no {unit_header} table:\n{text}"));
        let line = lines[at..].iter().find(|l| l.split_whitespace().next() == Some(name)).unwrap_or_else(|| panic!("no {name} row"));
        let f: Vec<&str> = line.split_whitespace().collect();
        // name, A median, ±, A CI, B median, ±, B CI, delta or ~, (p=... n=...)
        for (side, median_at, ci_at) in [("a", 1, 3), ("b", 4, 6)] {
            let s = &row[side];
            let median = s["median"].as_f64().unwrap();
            let (theirs, half) = si_number(f[median_at]);
            assert!((median * scale - theirs).abs() <= half * 1.0001, "{metric} {side}: median {median} vs {}", f[median_at]);
            // benchstat prints max(hi / median - 1, 1 - lo / median) in whole
            // percent; its CI is ours (order statistics of the binomial).
            let (lo, hi) = (s["ci_low"].as_f64().unwrap(), s["ci_high"].as_f64().unwrap());
            let pct = if median == 0.0 { 0.0 } else { (hi / median - 1.0).max(1.0 - lo / median) * 100.0 };
            assert_eq!(f[ci_at], format!("{pct:.0}%"), "{metric} {side}: CI [{lo}, {hi}] around {median}");
        }
        let p_value = row["p_value"].as_f64().unwrap();
        let tail = line.split_once(" (p=").unwrap_or_else(|| panic!("no p in {line}")).1;
        assert_eq!(tail.split_once(' ').unwrap().0, format!("{p_value:.3}"), "{metric}: p");
        assert!(tail.contains("n=10)"), "{line}");
        if row["significant"] == true {
            let delta = row["delta_pct"].as_f64().unwrap();
            assert_eq!(f[7], format!("{delta:+.2}%"), "{metric}: delta");
        } else {
            assert_eq!(f[7], "~", "{metric}: benchstat says ~ exactly when we find no significant change");
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}
