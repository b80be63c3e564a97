//! Series: the history of one metric of one benchmark cell on one host.
//!
//! A series is keyed by workload@ref x benchmark x metric x host, and every
//! document with at least one valid run of the metric contributes one point:
//! the median of its valid runs. Points are ordered by the Go commit's time
//! (the x-axis a Go engineer bisects along), then by when the run started,
//! then by path, so the order never depends on when files were written or read.

use std::collections::BTreeMap;

use serde::Serialize;

use super::time::parse_rfc3339;
use super::{workload_label, Loaded};
use crate::stats::Direction;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SeriesKey {
    /// `workload@ref` (just the workload for go-std).
    pub workload: String,
    pub benchmark: String,
    pub metric: String,
    pub host: String,
}

impl std::fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} {} on {}", self.workload, self.benchmark, self.metric, self.host)
    }
}

/// One document's contribution to a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// The result file, relative to the project root.
    pub path: String,
    /// The Go entry's name in the pins (`master`, `go1.27`).
    pub go_name: String,
    pub go_sha: String,
    pub go_version: String,
    pub commit_time: String,
    pub started: String,
    /// The median of the valid runs.
    pub value: f64,
    /// The 95% confidence interval of that median, when there were enough runs.
    pub ci: Option<(f64, f64)>,
    /// Number of valid runs.
    pub n: usize,
}

impl Point {
    /// The first 12 characters of the Go commit SHA.
    pub fn short_sha(&self) -> &str {
        &self.go_sha[..self.go_sha.len().min(12)]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub key: SeriesKey,
    pub unit: String,
    pub direction: Direction,
    /// Oldest Go commit first.
    pub points: Vec<Point>,
}

impl Series {
    pub fn values(&self) -> Vec<f64> {
        self.points.iter().map(|p| p.value).collect()
    }
}

/// Groups documents into series, sorted by key. Metrics without a summary
/// (no valid run) contribute nothing. Unit and direction are those of the
/// newest point.
pub fn build(docs: &[Loaded]) -> Vec<Series> {
    let mut groups: BTreeMap<SeriesKey, Vec<(&Loaded, &str)>> = BTreeMap::new();
    for loaded in docs {
        let doc = &loaded.doc;
        for (name, metric) in &doc.metrics {
            if metric.summary.is_none() {
                continue;
            }
            let key = SeriesKey {
                workload: workload_label(doc),
                benchmark: doc.benchmark.clone(),
                metric: name.clone(),
                host: doc.host.name.clone(),
            };
            groups.entry(key).or_default().push((loaded, name.as_str()));
        }
    }
    groups
        .into_iter()
        .map(|(key, mut members)| {
            members.sort_by(|a, b| {
                order_key(a.0).partial_cmp(&order_key(b.0)).expect("keys have no NaN").then_with(|| a.0.path.cmp(&b.0.path))
            });
            let newest = &members.last().expect("groups are never empty").0.doc.metrics[members.last().unwrap().1];
            let (unit, direction) = (newest.unit.clone(), newest.direction);
            let points = members
                .iter()
                .map(|(loaded, name)| {
                    let doc = &loaded.doc;
                    let summary = doc.metrics[*name].summary.as_ref().expect("filtered above");
                    Point {
                        path: loaded.path.clone(),
                        go_name: doc.provenance.go.name.clone(),
                        go_sha: doc.provenance.go.sha.clone(),
                        go_version: doc.provenance.go.version.clone(),
                        commit_time: doc.provenance.go.commit_time.clone(),
                        started: doc.started.clone(),
                        value: summary.median,
                        ci: summary.ci_low.zip(summary.ci_high),
                        n: summary.n,
                    }
                })
                .collect();
            Series { key, unit, direction, points }
        })
        .collect()
}

/// (commit time, start time) in seconds; an unreadable time stamp sorts first.
fn order_key(l: &Loaded) -> (f64, f64) {
    let t = |s: &str| parse_rfc3339(s).unwrap_or(f64::NEG_INFINITY);
    (t(&l.doc.provenance.go.commit_time), t(&l.doc.started))
}
