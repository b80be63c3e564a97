//! The tables of an A/A document ([`crate::aa`]), as the README shows them:
//! the noise floor of every metric (`noise`, `noise-report`) and the power
//! of change detection on histories resampled from it (`detect-power`).

use std::fmt::Write;

use crate::aa::{AaDoc, AaMetric};
use crate::detect::power::{power, Detector, PowerConfig};
use crate::detect::{Aggregation, RelativeDifference};
use crate::stats::{noise_floor, NoiseConfig};

/// The detectors `detect-power` compares: Horreum's model at the seed's
/// settings (the shipped `[detect]`), and E-divisive as `detect` runs it
/// and with Otava's defaults (no magnitude floor).
pub fn power_detectors() -> [Detector; 3] {
    use crate::detect::EDivisive;
    [Detector::Relative(RelativeDifference::default()), Detector::EDivisive(EDivisive::DETECT), Detector::EDivisive(EDivisive::default())]
}

/// The metrics of `aa`, each with `merge` consecutive pairs merged into one
/// (1: as measured).
fn metrics(aa: &AaDoc, merge: usize) -> impl Iterator<Item = (&String, AaMetric)> {
    aa.metrics.iter().map(move |(name, m)| (name, if merge > 1 { m.merged(merge) } else { m.clone() }))
}

/// The noise-floor table: per metric, the pair ratios' spread, CI widths and
/// the smallest change each method detects, at `cfg.sizes`.
pub fn noise_table(aa: &AaDoc, merge: usize, cfg: &NoiseConfig) -> String {
    let mut out = String::new();
    let pairs = aa.metrics.values().map(|m| m.pairs.len()).max().unwrap_or(0);
    let merged =
        if merge > 1 { format!(", each {merge} consecutive pairs merged into one by their sides' medians") } else { String::new() };
    let _ = writeln!(out, "A/A noise floor, {pairs} valid pairs of `{}`{merged}", aa.command.join(" "));
    let sizes = cfg.sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
    let _ = writeln!(
        out,
        "| metric | pair ratio min..max (IQR) | CI width paired / unpaired n={sizes} | smallest change unpaired / paired n={sizes} |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (name, m) in metrics(aa, merge) {
        let (a, b) = m.sides();
        let Some(f) = noise_floor(&a, &b, cfg) else {
            let _ = writeln!(out, "| {name} | no floor from {} pair(s): it needs 2 or more, all values positive | | |", m.pairs.len());
            continue;
        };
        let widths: Vec<String> = f.sizes.iter().map(|s| format!("{} / {}", pct(s.paired_ci_width), pct(s.unpaired_ci_width))).collect();
        let detects: Vec<String> = f.sizes.iter().map(|s| format!("{} / {}", pct(s.unpaired_detects), pct(s.paired_detects))).collect();
        let _ = writeln!(
            out,
            "| {name} | {:.3}..{:.3} ({:.3}) | {} | {} |",
            f.ratio_min,
            f.ratio_max,
            f.ratio_iqr,
            widths.join(", "),
            detects.join(", ")
        );
    }
    out
}

/// The power table: per metric and detector, the false-alarm rate on flat
/// histories and the detection rate of every step.
pub fn power_table(aa: &AaDoc, detectors: &[Detector], cfg: &PowerConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Change detection on {} histories per step of {} points (step from point {}), each point the median of {} runs drawn from the A/A pool of `{}`",
        cfg.histories,
        cfg.length,
        cfg.step_at,
        cfg.runs_per_point,
        aa.command.join(" ")
    );
    let steps: String = cfg.steps.iter().map(|s| format!(" {} worse |", pct(Some(*s)))).collect();
    let _ = writeln!(out, "| metric | model | false alarms |{steps}");
    let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(cfg.steps.len()));
    for (name, m) in metrics(aa, 1) {
        for p in power(&m.pool(), m.direction, detectors, cfg) {
            let rate = |n: usize| format!("{:.0}%", n as f64 / p.histories as f64 * 100.0);
            let detected: String = p.detected.iter().map(|&(_, n)| format!(" {} |", rate(n))).collect();
            let _ = writeln!(out, "| {name} | {} | {} |{detected}", describe(&p.detector), rate(p.false_alarms));
        }
    }
    out
}

/// A detector and its settings, as the tables name it.
pub fn describe(d: &Detector) -> String {
    match d {
        Detector::Relative(r) => {
            let aggregation = match r.aggregation {
                Aggregation::Mean => "mean",
                Aggregation::Min => "min",
                Aggregation::Max => "max",
            };
            format!(
                "Horreum relative difference ({}, window {}, {} previous, {aggregation})",
                pct(Some(r.threshold)),
                r.window,
                r.min_previous
            )
        }
        Detector::EDivisive(e) => {
            format!("E-divisive (window {}, p {}, floor {})", e.window, e.max_pvalue, pct(Some(e.min_magnitude)))
        }
    }
}

/// A fraction as a percentage with one decimal; `-` when there is none.
fn pct(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aa::{AaPair, AA_SCHEMA};
    use crate::golden::golden;

    /// A v1 A/A document as the golden file of `crate::aa` has it, with a
    /// metric of 30 pairs whose B side is A's with a few percent of jitter.
    fn doc() -> AaDoc {
        let mut aa = crate::aa::parse(include_str!("../../../tests/golden/aa/v1.json")).unwrap();
        assert_eq!(aa.schema, AA_SCHEMA);
        let m = aa.metrics.get_mut("BenchmarkX ns/op").unwrap();
        m.pairs = (0..30).map(|i| AaPair { index: i, a: 100.0 + f64::from(i % 7), b: 100.0 + f64::from((i * 3) % 7) }).collect();
        aa.metrics.remove("BenchmarkX B/op");
        aa
    }

    #[test]
    fn noise_table_as_measured_and_merged() {
        let cfg = NoiseConfig { resamples: 100, ..NoiseConfig::default() };
        let text = noise_table(&doc(), 1, &cfg)
            + "\n"
            + &noise_table(&doc(), 3, &NoiseConfig { sizes: vec![5, 10], ..cfg.clone() })
            + "\n"
            + &noise_table(&doc(), 20, &cfg);
        golden("aa/noise-table.md", &text);
        assert!(text.contains("30 valid pairs") && text.contains("3 consecutive pairs merged"), "{text}");
        assert!(text.contains("| BenchmarkX ns/op | no floor from 1 pair(s)"), "{text}");
    }

    #[test]
    fn power_table_names_every_detector_and_step() {
        let cfg = PowerConfig { histories: 20, ..PowerConfig::default() };
        let text = power_table(&doc(), &power_detectors(), &cfg);
        golden("aa/power-table.md", &text);
        assert_eq!(text.lines().filter(|l| l.starts_with("| BenchmarkX ns/op |")).count(), 3, "{text}");
        assert!(text.contains("Horreum relative difference (10.0%, window 5, 10 previous, mean)"), "{text}");
        assert!(text.contains("E-divisive (window 50, p 0.001, floor 5.0%)"), "{text}");
    }
}
