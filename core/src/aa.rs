//! The measured A/A values of `cargo xtask noise --save`: one image run as
//! balanced shuffled pairs, every valid pair's values per metric, with how
//! they were measured (run spec and command, host facts, pairs, seed), so
//! that the noise floor can be computed again and change detection can be
//! tested on this host's real noise (`detect::power`). A serialised
//! contract: the `$schema` carries the version, fields are only ever added
//! with defaults, and [`parse`] loads every version so far.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::results::valid_pairs;
use crate::schema::{Host, ResultDoc};
use crate::spec::RunSpec;
use crate::stats::{median, Direction, First};

/// The current schema.
pub const AA_SCHEMA: &str = "urn:gobench:aa:1";

/// One A/A measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AaDoc {
    #[serde(rename = "$schema")]
    pub schema: String,
    /// Start of the first run and end of the last, RFC 3339.
    pub started: String,
    pub ended: String,
    /// How every run of both sides ran (the same image on both).
    pub spec: RunSpec,
    /// The benchmark command as it ran in the container.
    pub command: Vec<String>,
    pub host: Host,
    /// Pairs asked for, and the seed of their shuffled order.
    pub pairs_requested: u32,
    pub seed: u64,
    /// Orientation of every pair, by repetition (A first or B first).
    pub order: Vec<First>,
    /// Repetitions whose pair was dropped for an invalid run (and replaced).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<u32>,
    /// By metric name.
    pub metrics: BTreeMap<String, AaMetric>,
}

/// One metric's valid pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AaMetric {
    pub unit: String,
    pub direction: Direction,
    /// In run order.
    pub pairs: Vec<AaPair>,
}

/// Both sides of one pair: side A's and side B's value of the metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AaPair {
    /// The repetition (the runs' `index` in the documents).
    pub index: u32,
    pub a: f64,
    pub b: f64,
}

impl AaDoc {
    /// The A/A record of two documents of one image measured as pairs with
    /// `spec` (`a` holds the pairing: its order and dropped pairs).
    pub fn from_docs(spec: &RunSpec, a: &ResultDoc, b: &ResultDoc, pairs_requested: u32, seed: u64) -> AaDoc {
        let pairs = valid_pairs(a, b);
        let mut metrics: BTreeMap<String, AaMetric> = BTreeMap::new();
        for (index, ra, rb) in &pairs {
            for (name, &va) in &ra.values {
                let (Some(&vb), Some(m)) = (rb.values.get(name), a.metrics.get(name)) else { continue };
                metrics
                    .entry(name.clone())
                    .or_insert_with(|| AaMetric { unit: m.unit.clone(), direction: m.direction, pairs: Vec::new() })
                    .pairs
                    .push(AaPair { index: *index, a: va, b: vb });
            }
        }
        let runs = || a.runs.iter().chain(&b.runs);
        let started = runs().map(|r| r.started.as_str()).filter(|s| !s.is_empty()).min().unwrap_or_default();
        let ended = runs().map(|r| r.ended.as_str()).max().unwrap_or_default();
        let pairing = a.pairing.as_ref();
        AaDoc {
            schema: AA_SCHEMA.to_string(),
            started: started.to_string(),
            ended: ended.to_string(),
            spec: spec.clone(),
            command: spec.client_command(),
            host: a.host.clone(),
            pairs_requested,
            seed,
            order: pairing.map(|p| p.order.clone()).unwrap_or_default(),
            dropped: pairing.map(|p| p.dropped.clone()).unwrap_or_default(),
            metrics,
        }
    }
}

impl AaMetric {
    /// Side A's and side B's values, pair by pair.
    pub fn sides(&self) -> (Vec<f64>, Vec<f64>) {
        self.pairs.iter().map(|p| (p.a, p.b)).unzip()
    }

    /// Every value of both sides: the same image, so one pool of what a run
    /// of it measures on this host.
    pub fn pool(&self) -> Vec<f64> {
        self.pairs.iter().flat_map(|p| [p.a, p.b]).collect()
    }

    /// Each `n` consecutive pairs merged into one, each side the median of its
    /// `n` runs: what a side measured as `n` separate runs gives, to set
    /// against `-test.count=n` in one process at the same cost. A last group
    /// shorter than `n` is left out.
    pub fn merged(&self, n: usize) -> AaMetric {
        let pairs = self
            .pairs
            .chunks_exact(n.max(1))
            .filter_map(|group| {
                let (a, b): (Vec<f64>, Vec<f64>) = group.iter().map(|p| (p.a, p.b)).unzip();
                Some(AaPair { index: group[0].index, a: median(&a)?, b: median(&b)? })
            })
            .collect();
        AaMetric { unit: self.unit.clone(), direction: self.direction, pairs }
    }
}

/// Several A/A measurements of one spec on one host as one: their pairs in
/// the given order, each document's repetitions numbered after the previous
/// ones', the orders concatenated, the seed the first's. Measurements of
/// different specs (another setting, another image) or hosts are refused:
/// their noise is not one noise.
pub fn concat(docs: &[AaDoc]) -> Result<AaDoc, String> {
    let (first, rest) = docs.split_first().ok_or("no A/A document to combine")?;
    let mut out = first.clone();
    for (i, d) in rest.iter().enumerate() {
        if d.spec != first.spec || d.host.name != first.host.name {
            return Err(format!(
                "A/A document {} was measured with another spec or on another host than the first (`{}` on {} against `{}` on {})",
                i + 2,
                d.command.join(" "),
                d.host.name,
                first.command.join(" "),
                first.host.name
            ));
        }
        let offset = repetitions(&out);
        for (name, m) in &d.metrics {
            let pairs = m.pairs.iter().map(|p| AaPair { index: p.index + offset, ..*p });
            out.metrics.entry(name.clone()).or_insert_with(|| AaMetric { pairs: Vec::new(), ..m.clone() }).pairs.extend(pairs);
        }
        out.order.extend(&d.order);
        out.dropped.extend(d.dropped.iter().map(|r| r + offset));
        out.pairs_requested += d.pairs_requested;
        out.started = out.started.clone().min(d.started.clone());
        out.ended = out.ended.clone().max(d.ended.clone());
    }
    Ok(out)
}

/// Repetitions a document ran: one past its highest pair index (a pair
/// lost to an invalid run still took its repetition).
fn repetitions(d: &AaDoc) -> u32 {
    let highest = d.metrics.values().flat_map(|m| m.pairs.iter().map(|p| p.index + 1)).chain(d.dropped.iter().map(|r| r + 1)).max();
    highest.unwrap_or(0).max(d.order.len() as u32)
}

/// Reads an A/A document of any version so far.
pub fn parse(text: &str) -> Result<AaDoc, String> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "$schema")]
        schema: String,
    }
    let probe: Probe = serde_json::from_str(text).map_err(|e| format!("not an A/A document ({AA_SCHEMA}): {e}"))?;
    if probe.schema != AA_SCHEMA {
        return Err(format!("A/A document schema {:?}: this gobench reads {AA_SCHEMA}; update gobench", probe.schema));
    }
    serde_json::from_str(text).map_err(|e| format!("a malformed {AA_SCHEMA} document: {e}"))
}

#[cfg(test)]
mod tests;
