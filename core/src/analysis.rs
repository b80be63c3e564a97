//! Analysis of the results history: everything `compare`, `detect`, `report`
//! and `export` compute, as pure functions of result documents the shell has
//! already read.
//!
//! - [`series`]: group documents into series (workload@ref x benchmark x
//!   metric x host), ordered by Go commit time, one point per document.
//! - [`compare`]: benchstat-style tables between two sides, as text, JSON, CSV.
//! - [`changes`]: change detection over series with Horreum's relative
//!   difference and E-divisive, and the missing-data watchdog.
//! - [`export`]: Go benchmark format (what `benchstat` reads) and CSV.
//! - [`profiles`]: the pprof files and arguments of `compare --profiles`.
//! - [`report`]: the static HTML report with inline SVG plots.
//! - [`aa`]: the noise-floor and detection-power tables of an A/A document.
//!
//! Architecture invariant: no I/O. Documents come in as [`Loaded`] (a
//! document and the path it was read from); the current time, when needed, is
//! an argument.

pub mod aa;
pub mod changes;
pub mod compare;
pub mod export;
pub mod profiles;
pub mod report;
pub mod series;
pub(crate) mod svg;
pub mod time;

use crate::schema::ResultDoc;

/// A result document and where it came from: a path relative to the
/// project root (`results/...json`), with `/` separators. Reports link to it
/// and error messages name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub path: String,
    pub doc: ResultDoc,
}

/// `workload@ref`, or just the workload name when it has no ref (go-std).
pub fn workload_label(doc: &ResultDoc) -> String {
    match &doc.provenance.workload.git_ref {
        Some(r) => format!("{}@{}", doc.provenance.workload.name, r),
        None => doc.provenance.workload.name.clone(),
    }
}

/// A value with four significant digits and an SI prefix (`31.25k`,
/// `1.234m`), as benchstat prints them. Zero is `0`; non-finite values
/// print as Rust does (`inf`, `NaN`).
pub fn fmt_si(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    const PREFIXES: [(f64, &str); 8] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")];
    let a = v.abs();
    let (scale, prefix) = PREFIXES.iter().copied().find(|&(s, _)| a >= s * 0.99995).unwrap_or((1e-9, "n"));
    let x = v / scale;
    let digits = if x.abs() >= 99.995 {
        1
    } else if x.abs() >= 9.9995 {
        2
    } else {
        3
    };
    let text = format!("{x:.digits$}");
    // Trim trailing zeros only after a decimal point: 31.20k -> 31.2k, 2.000 -> 2.
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    format!("{text}{prefix}")
}

/// A signed percentage with one decimal (`+12.3%`, `-4.0%`, `0.0%`).
pub fn fmt_pct(p: f64) -> String {
    if p == 0.0 {
        return "0.0%".to_string();
    }
    format!("{p:+.1}%")
}

#[cfg(test)]
mod tests;
