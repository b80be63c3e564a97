//! What a run keeps of etcd's own `/metrics`: the disk latency histograms
//! with their p99 (etcd's guide: 99% of WAL fsyncs under 10 ms), the
//! server's resident memory and the Go runtime's GC and memory statistics.
//! A slow disk or a GC change then shows in the record of the run it
//! slowed down, beside the client's numbers.

use crate::parse::prometheus::number;
use crate::parse::prometheus::Exposition;
use crate::schema::{Bucket, Histogram, Quantile, QuantileSummary, ServerMetrics};

pub const HISTOGRAMS: [&str; 2] = ["etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds"];
pub const SUMMARIES: [&str; 1] = ["go_gc_duration_seconds"];
const VALUES: [&str; 1] = ["process_resident_memory_bytes"];
const VALUE_PREFIX: &str = "go_memstats_";

/// The kept series of a `/metrics` text; a text that does not parse gives
/// only the error.
pub fn from_scrape(text: &str) -> ServerMetrics {
    let exposition = match Exposition::parse(text) {
        Ok(e) => e,
        Err(e) => return failed(format!("the /metrics text does not parse: {e}")),
    };
    ServerMetrics {
        histograms: HISTOGRAMS.iter().filter_map(|&name| Some((name.to_string(), histogram(&exposition, name)?))).collect(),
        summaries: SUMMARIES.iter().filter_map(|&name| Some((name.to_string(), summary(&exposition, name)?))).collect(),
        values: exposition
            .samples
            .iter()
            .filter(|s| s.labels.is_empty() && (VALUES.contains(&s.name.as_str()) || s.name.starts_with(VALUE_PREFIX)))
            .map(|s| (s.name.clone(), s.value))
            .collect(),
        error: None,
    }
}

/// The record of a scrape that could not be made.
pub fn failed(reason: String) -> ServerMetrics {
    ServerMetrics { error: Some(reason), ..ServerMetrics::default() }
}

fn count(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.round() as u64
    } else {
        0
    }
}

/// The histogram `name` (its unlabelled series: etcd's disk histograms have
/// no labels but `le`).
fn histogram(e: &Exposition, name: &str) -> Option<Histogram> {
    let bucket_name = format!("{name}_bucket");
    let mut buckets: Vec<(f64, f64)> =
        e.named(&bucket_name).filter(|s| s.labels.len() == 1).filter_map(|s| Some((number(s.labels.get("le")?)?, s.value))).collect();
    if buckets.is_empty() {
        return None;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = e.value(&format!("{name}_count")).or_else(|| buckets.last().filter(|b| b.0.is_infinite()).map(|b| b.1))?;
    buckets.retain(|b| b.0.is_finite());
    Some(Histogram {
        count: count(total),
        sum: e.value(&format!("{name}_sum")).unwrap_or(0.0),
        p99: histogram_quantile(0.99, &buckets, total),
        buckets: buckets.iter().map(|&(le, c)| Bucket { le, count: count(c) }).collect(),
    })
}

fn summary(e: &Exposition, name: &str) -> Option<QuantileSummary> {
    let mut quantiles: Vec<Quantile> = e
        .named(name)
        .filter_map(|s| {
            let q = number(s.labels.get("quantile")?)?;
            Some(Quantile { quantile: q, value: s.value.is_finite().then_some(s.value) })
        })
        .collect();
    let count = e.value(&format!("{name}_count"))?;
    quantiles.sort_by(|a, b| a.quantile.total_cmp(&b.quantile));
    Some(QuantileSummary { count: self::count(count), sum: e.value(&format!("{name}_sum")).unwrap_or(0.0), quantiles })
}

/// The `q` quantile of a histogram as Prometheus's `histogram_quantile`
/// computes it: the bucket holding rank `q * total`, linear within it (from
/// 0 for the first bucket); in the `+Inf` bucket, the highest finite bound.
/// `buckets` are (finite upper bound, cumulative count), ascending; `total`
/// is the `+Inf` bucket's count. `None` without observations.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)], total: f64) -> Option<f64> {
    if total <= 0.0 || buckets.is_empty() {
        return None;
    }
    let rank = q * total;
    let Some(b) = buckets.iter().position(|&(_, c)| c >= rank) else {
        return Some(buckets[buckets.len() - 1].0);
    };
    let (end, count) = buckets[b];
    if b == 0 && end <= 0.0 {
        return Some(end);
    }
    let (start, below) = if b == 0 { (0.0, 0.0) } else { buckets[b - 1] };
    let in_bucket = count - below;
    if in_bucket <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * (rank - below) / in_bucket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn histogram_quantile_follows_prometheus() {
        let b = [(0.001, 10.0), (0.002, 60.0), (0.004, 90.0), (0.008, 100.0)];
        let cases: &[(f64, &[(f64, f64)], f64, Option<f64>)] = &[
            // Rank 50 is 40 of the 50 in (0.001, 0.002]: 0.001 + 0.001 * 40/50.
            (0.5, &b, 100.0, Some(0.0018)),
            // Rank 5 in the first bucket, which starts at 0.
            (0.05, &b, 100.0, Some(0.0005)),
            // Rank 99 is 9 of the 10 in (0.004, 0.008].
            (0.99, &b, 100.0, Some(0.0076)),
            // Two observations above the last finite bound: rank 99 is in
            // +Inf, which answers that bound.
            (0.99, &b, 102.0, Some(0.008)),
            (1.0, &b, 100.0, Some(0.008)),
            (0.99, &b, 0.0, None),
            (0.99, &[], 3.0, None),
            // A first bucket at or below 0 answers its bound.
            (0.5, &[(0.0, 5.0), (1.0, 10.0)], 10.0, Some(0.0)),
        ];
        for &(q, buckets, total, want) in cases {
            let got = histogram_quantile(q, buckets, total);
            assert!(
                match (got, want) {
                    (Some(g), Some(w)) => (g - w).abs() < 1e-12,
                    _ => got == want,
                },
                "q={q} {buckets:?} total={total}: {got:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn the_kept_series_of_a_scrape() {
        let text = "\
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 2
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 4
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 4
etcd_disk_wal_fsync_duration_seconds_sum 0.005
etcd_disk_wal_fsync_duration_seconds_count 4
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile=\"1\"} 0.003
go_gc_duration_seconds{quantile=\"0\"} NaN
go_gc_duration_seconds_sum 0.01
go_gc_duration_seconds_count 5
go_memstats_alloc_bytes 1e+06
go_memstats_other{x=\"y\"} 3
process_resident_memory_bytes 5.5e+07
process_cpu_seconds_total 2
";
        let m = from_scrape(text);
        assert_eq!(m.error, None);
        let wal = &m.histograms["etcd_disk_wal_fsync_duration_seconds"];
        assert_eq!((wal.count, wal.sum), (4, 0.005));
        assert_eq!(wal.buckets, [Bucket { le: 0.001, count: 2 }, Bucket { le: 0.002, count: 4 }]);
        // Rank 3.96 is 1.96 of the 2 in (0.001, 0.002].
        assert!((wal.p99.unwrap() - 0.00198).abs() < 1e-12, "{:?}", wal.p99);
        assert!(!m.histograms.contains_key("etcd_disk_backend_commit_duration_seconds"));
        let gc = &m.summaries["go_gc_duration_seconds"];
        assert_eq!((gc.count, gc.sum), (5, 0.01));
        assert_eq!(gc.quantiles, [Quantile { quantile: 0.0, value: None }, Quantile { quantile: 1.0, value: Some(0.003) }]);
        assert_eq!(
            m.values,
            BTreeMap::from([("go_memstats_alloc_bytes".to_string(), 1e6), ("process_resident_memory_bytes".to_string(), 5.5e7)])
        );
    }

    #[test]
    fn a_scrape_that_does_not_parse_keeps_only_the_error() {
        let m = from_scrape("<html>404 page not found</html>\n");
        assert!(m.histograms.is_empty() && m.values.is_empty());
        assert!(m.error.as_deref().unwrap().starts_with("the /metrics text does not parse: line 1:"), "{:?}", m.error);
    }

    /// Real scrapes of Debian's etcd 3.4 and of etcd 3.6.14 built by our
    /// recipe, read with the HTTP request `run.rs` sends
    /// (`tests/fixtures/etcd-metrics/README.md`). On tmpfs the WAL fsyncs are
    /// (nearly) all in the first bucket, 1 ms.
    #[test]
    fn real_etcd_scrapes() {
        let cases = [("etcd-3.4-metrics.txt", 305, 0.00099), ("etcd-3.6-metrics.txt", 2011, 0.001 * 0.99 * 2011.0 / 2010.0)];
        for (fixture, wal_fsyncs, wal_p99) in cases {
            let path = format!("{}/../tests/fixtures/etcd-metrics/{fixture}", env!("CARGO_MANIFEST_DIR"));
            let m = from_scrape(&std::fs::read_to_string(&path).unwrap());
            assert_eq!(m.error, None, "{fixture}");
            for name in HISTOGRAMS {
                let h = &m.histograms[name];
                assert!(
                    h.count > 0 && h.buckets.windows(2).all(|w| w[0].le < w[1].le && w[0].count <= w[1].count),
                    "{fixture} {name}: {h:?}"
                );
                let p99 = h.p99.unwrap();
                assert!(p99 > 0.0 && p99 <= h.buckets.last().unwrap().le, "{fixture} {name}: p99 {p99}");
            }
            let wal = &m.histograms["etcd_disk_wal_fsync_duration_seconds"];
            assert_eq!(wal.count, wal_fsyncs, "{fixture}");
            assert!((wal.p99.unwrap() - wal_p99).abs() < 1e-12, "{fixture}: {:?} != {wal_p99}", wal.p99);
            assert_eq!(m.summaries["go_gc_duration_seconds"].quantiles.len(), 5, "{fixture}");
            assert!(m.values["process_resident_memory_bytes"] > 1e6, "{fixture}");
            assert!(m.values.keys().filter(|k| k.starts_with("go_memstats_")).count() > 20, "{fixture}: {:?}", m.values.keys());
        }
    }
}
