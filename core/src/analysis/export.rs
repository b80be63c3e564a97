//! Export of result documents for other tools.
//!
//! [`benchfmt`] writes Go's benchmark format (golang.org/design/14313), which
//! `benchstat` reads: a block of configuration lines per document, then one
//! `Benchmark...` line per valid run with every metric of that run.
//!
//! Naming, so benchstat's tables line up across documents:
//! - the benchmark name is `Benchmark<Workload>/<benchmark>/<ref>`
//!   (`BenchmarkEtcd/put/release-3.6`); a metric whose name is itself a Go
//!   benchmark name (`BenchmarkAtoi/7bit ...`, from go-std) keeps that name;
//! - the unit is the metric's unit with seconds spelt `sec/op` (benchstat's
//!   time unit) and spaces as `-`; when several metrics of a document share a
//!   unit, the ones that are not an average (`avg`, `average`, `mean` in the
//!   name) get the metric name in front: `latency_p99.9-sec/op`.
//!
//! [`csv`] writes one line per run value, with the provenance beside it.

use std::collections::BTreeMap;

use super::compare::csv_line;
use super::{workload_label, Loaded};
use crate::schema::ResultDoc;

fn token(s: &str) -> String {
    s.chars().map(|c| if c.is_whitespace() { '-' } else { c }).collect()
}

fn unit_token(unit: &str) -> String {
    match unit {
        "s" | "sec" | "seconds" => "sec/op".to_string(),
        u => token(u),
    }
}

fn is_average(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["avg", "average", "mean"].iter().any(|w| n.contains(w))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// For each metric of a document: (benchmark line name, unit token).
fn names(doc: &ResultDoc) -> BTreeMap<&str, (String, String)> {
    let wl = &doc.provenance.workload;
    let mut base = format!("Benchmark{}/{}", capitalised(&token(&wl.name)), token(&doc.benchmark));
    if let Some(r) = &wl.git_ref {
        base += &format!("/{}", token(r));
    }
    let mut per_unit: BTreeMap<String, usize> = BTreeMap::new();
    for m in doc.metrics.values() {
        *per_unit.entry(unit_token(&m.unit)).or_default() += 1;
    }
    doc.metrics
        .iter()
        .map(|(name, m)| {
            let unit = unit_token(&m.unit);
            if name.starts_with("Benchmark") {
                let bench = name.split_whitespace().next().unwrap_or(name).to_string();
                return (name.as_str(), (bench, unit));
            }
            let unit = if per_unit[&unit] > 1 && !is_average(name) { format!("{}-{unit}", token(name)) } else { unit };
            (name.as_str(), (base.clone(), unit))
        })
        .collect()
}

/// Go benchmark format text of the documents, in the order given.
pub fn benchfmt(docs: &[Loaded]) -> String {
    let mut out = String::new();
    for l in docs {
        let doc = &l.doc;
        let go = &doc.provenance.go;
        let pkg = if doc.provenance.workload.kind == "go-std" { doc.benchmark.clone() } else { doc.provenance.workload.name.clone() };
        let config = [
            ("goos", "linux".to_string()),
            ("pkg", pkg),
            ("gobench-go", go.name.clone()),
            ("gobench-go-version", go.version.clone()),
            ("gobench-go-sha", go.sha.clone()),
            ("gobench-go-commit-time", go.commit_time.clone()),
            ("gobench-workload", workload_label(doc)),
            ("gobench-host", doc.host.name.clone()),
            ("gobench-image", doc.provenance.image.hash.clone()),
        ];
        out += &format!("\n# {}\n", l.path);
        for (k, v) in config {
            out += &format!("{k}: {}\n", token(&v));
        }
        let names = names(doc);
        // Lines by (benchmark name, run index): a run's metrics on one line.
        let mut lines: BTreeMap<(&str, usize), Vec<(String, f64)>> = BTreeMap::new();
        for (name, m) in &doc.metrics {
            let (bench, unit) = &names[name.as_str()];
            for (i, v) in m.values.iter().enumerate() {
                lines.entry((bench.as_str(), i)).or_default().push((unit.clone(), *v));
            }
        }
        for ((bench, _), values) in lines {
            out += bench;
            out += " 1";
            for (unit, v) in values {
                out += &format!(" {v} {unit}");
            }
            out.push('\n');
        }
    }
    out.trim_start().to_string()
}

/// One CSV line per valid-run value, with a header.
pub fn csv(docs: &[Loaded]) -> String {
    let mut out =
        String::from("path,go,go_version,go_sha,go_commit_time,workload,benchmark,host,started,metric,unit,direction,run,value\n");
    for l in docs {
        let doc = &l.doc;
        let go = &doc.provenance.go;
        for (name, m) in &doc.metrics {
            for (i, v) in m.values.iter().enumerate() {
                out += &csv_line(&[
                    l.path.clone(),
                    go.name.clone(),
                    go.version.clone(),
                    go.sha.clone(),
                    go.commit_time.clone(),
                    workload_label(doc),
                    doc.benchmark.clone(),
                    doc.host.name.clone(),
                    doc.started.clone(),
                    name.clone(),
                    m.unit.clone(),
                    serde_json::to_value(m.direction).expect("enum").as_str().unwrap_or_default().to_string(),
                    i.to_string(),
                    v.to_string(),
                ]);
            }
        }
    }
    out
}
