//! Tests of the A/A document: built from two paired documents, its golden
//! JSON (which every later version must still load), merging pairs, and
//! the committed measurements under `tests/fixtures/aa/`.

use super::*;
use crate::config::WorkloadKind;
use crate::document::{self, Outcome};
use crate::golden::golden;
use crate::parse::RunExit;
use crate::schema::{Monitoring, Pairing};

fn spec() -> RunSpec {
    RunSpec {
        kind: WorkloadKind::GoStd,
        image: "0123456789ab".into(),
        args: vec!["-test.bench=^BenchmarkX$".into()],
        package: Some("strconv".into()),
        server_flags: vec![],
        timeout_secs: 900,
        data_dir: Default::default(),
        server_cpus: None,
        client_cpus: None,
        profile_secs: None,
        settling: crate::spec::Settling { warmup_runs: 1, ..Default::default() },
    }
}

fn host() -> Host {
    Host {
        name: "bench-1".into(),
        cpu_model: "Some CPU".into(),
        cores: 2,
        memory_bytes: 8 << 30,
        kernel: "6.1".into(),
        entry: None,
        fsync_probe: None,
    }
}

/// Side `label` with `ns[i]` ns/op in repetition `i` (`None`: a failed run).
fn side(label: &str, ns: &[Option<f64>], order: &[First]) -> ResultDoc {
    let mut doc = document::scratch(label, spec(), host());
    for (i, v) in ns.iter().enumerate() {
        let t = |s: usize| format!("2026-12-02T10:{:02}:{:02}.000Z", i / 2, (i % 2) * 30 + s);
        let outcome = match v {
            Some(v) => Outcome::Ran {
                started: t(0),
                ended: t(9),
                exit: RunExit::SUCCESS,
                stdout: format!("BenchmarkX-2 1000 {v} ns/op 16 B/op\nPASS\n"),
                stderr_tail: String::new(),
                monitoring: Monitoring::default(),
                server_metrics: None,
            },
            None => Outcome::Failed { started: t(0), ended: t(1), reason: "podman failed".into() },
        };
        doc.push(document::record(&spec(), i as u32, outcome, Vec::new()));
    }
    let side = if label == "A" { First::A } else { First::B };
    doc.pairing = Some(Pairing { with: "other".into(), side, seed: 7, order: order.to_vec(), dropped: vec![], stopped: None });
    doc
}

fn measured() -> AaDoc {
    let order = [First::A, First::B, First::B, First::A];
    let a = side("A", &[Some(100.0), Some(110.0), Some(90.0), Some(105.0)], &order);
    let b = side("B", &[Some(102.0), None, Some(95.0), Some(99.0)], &order);
    AaDoc::from_docs(&spec(), &a, &b, 4, 7)
}

#[test]
fn valid_pairs_by_metric_with_how_they_were_measured() {
    let aa = measured();
    let ns = &aa.metrics["BenchmarkX ns/op"];
    assert_eq!((ns.unit.as_str(), ns.direction), ("ns/op", Direction::LowerIsBetter));
    // Repetition 1 lost its B run: the pair is not there.
    let pairs: Vec<(u32, f64, f64)> = ns.pairs.iter().map(|p| (p.index, p.a, p.b)).collect();
    assert_eq!(pairs, [(0, 100.0, 102.0), (2, 90.0, 95.0), (3, 105.0, 99.0)]);
    assert_eq!(ns.sides(), (vec![100.0, 90.0, 105.0], vec![102.0, 95.0, 99.0]));
    assert_eq!(ns.pool(), [100.0, 102.0, 90.0, 95.0, 105.0, 99.0]);
    assert_eq!(aa.metrics["BenchmarkX B/op"].pairs.len(), 3);
    assert_eq!((aa.started.as_str(), aa.ended.as_str()), ("2026-12-02T10:00:00.000Z", "2026-12-02T10:01:39.000Z"));
    assert_eq!(aa.command, spec().client_command());
    assert_eq!((aa.spec.settling.warmup_runs, aa.pairs_requested, aa.seed, aa.order.len()), (1, 4, 7, 4));
    let text = serde_json::to_string_pretty(&aa).unwrap() + "\n";
    golden("aa/v1.json", &text);
    assert_eq!(parse(&text).unwrap(), aa);
}

#[test]
fn a_v1_document_still_loads() {
    let v1 = parse(include_str!("../../../tests/golden/aa/v1.json")).unwrap();
    assert_eq!(v1.metrics["BenchmarkX ns/op"].pairs.len(), 3);
}

#[test]
fn other_schemas_and_malformed_text_are_refused() {
    assert!(parse(r#"{"$schema":"urn:gobench:aa:9"}"#).unwrap_err().contains("update gobench"));
    assert!(parse(r#"{"$schema":"urn:gobench:aa:1"}"#).unwrap_err().contains("malformed"));
    assert!(parse("[]").unwrap_err().contains("not an A/A document"));
}

#[test]
fn merging_pairs_takes_each_sides_median_of_a_group() {
    let pair = |index, a, b| AaPair { index, a, b };
    let m = AaMetric {
        unit: "ns/op".into(),
        direction: Direction::LowerIsBetter,
        pairs: vec![pair(0, 1.0, 10.0), pair(1, 3.0, 30.0), pair(2, 2.0, 20.0), pair(3, 5.0, 50.0), pair(4, 4.0, 40.0)],
    };
    let table: [(usize, Vec<AaPair>); 3] =
        [(1, m.pairs.clone()), (2, vec![pair(0, 2.0, 20.0), pair(2, 3.5, 35.0)]), (3, vec![pair(0, 2.0, 20.0)])];
    for (n, want) in table {
        assert_eq!(m.merged(n).pairs, want, "n = {n}");
    }
    assert!(m.merged(6).pairs.is_empty());
}

#[test]
fn measurements_of_one_spec_combine_and_others_are_refused() {
    let one = measured();
    let both = concat(&[one.clone(), one.clone()]).unwrap();
    let ns = &both.metrics["BenchmarkX ns/op"];
    let indices: Vec<u32> = ns.pairs.iter().map(|p| p.index).collect();
    // The first ran repetitions 0..4 (1 lost); the second's follow them.
    assert_eq!(indices, [0, 2, 3, 4, 6, 7]);
    assert_eq!(ns.pool().len(), 12);
    assert_eq!((both.order.len(), both.pairs_requested, &both.started, &both.ended), (8, 8, &one.started, &one.ended));
    assert_eq!(concat(std::slice::from_ref(&one)).unwrap(), one);
    let mut other = one.clone();
    other.spec.settling.sampler = false;
    assert!(concat(&[one.clone(), other]).unwrap_err().contains("another spec"));
    let mut elsewhere = one.clone();
    elsewhere.host.name = "bench-2".into();
    assert!(concat(&[one, elsewhere]).unwrap_err().contains("another host"));
    assert!(concat(&[]).is_err());
}
