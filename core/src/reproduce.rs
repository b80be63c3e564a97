//! The decisions of `cargo xtask reproduce`: which image a user means by a
//! hash prefix, where a rebuild departs from the record, and whether a rerun
//! reproduced the recorded numbers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::ResultDoc;
use crate::stats::{self, Decision};

/// The image hash a user's query names among the `known` ones, as git
/// resolves a short SHA: a unique prefix of at least 4 hex digits.
pub fn resolve_hash(query: &str, known: &[String]) -> Result<String, String> {
    let q = query.to_ascii_lowercase();
    if q.len() < 4 || q.len() > 64 || !q.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{query:?} is not an image hash or a prefix of one (4 to 64 hex digits), nor a result file"));
    }
    let mut matches: Vec<&String> = known.iter().filter(|h| h.starts_with(&q)).collect();
    matches.sort();
    matches.dedup();
    match matches[..] {
        [] => Err(format!("no image hash starts with {q}: no recipe in containerfiles/ and no result names one")),
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "image hash prefix {q} is ambiguous; candidates:\n{}",
            matches.iter().map(|h| format!("  {h}")).collect::<Vec<_>>().join("\n")
        )),
    }
}

/// The first layer (0-based, bottom first) whose diff ID differs, or whose
/// presence differs; `None` when the layers are identical.
pub fn first_differing_layer(recorded: &[String], rebuilt: &[String]) -> Option<usize> {
    (0..recorded.len().max(rebuilt.len())).find(|&i| recorded.get(i) != rebuilt.get(i))
}

/// How one image came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageCheck {
    pub hash: String,
    pub recorded_id: String,
    pub id: String,
    /// Whether it was built again (it was gone) or found present.
    pub rebuilt: bool,
    /// The same image ID as recorded: bit-for-bit the same config and layers.
    pub identical: bool,
    /// When not identical and the layers were recorded: the first layer that differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differing_layer: Option<usize>,
    /// When not identical and both images could be compared: the files
    /// that differ (`+` only in the rebuild, `-` only in the original, `~`
    /// changed), at most [`MAX_LISTED_FILES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differing_files: Vec<String>,
}

/// How many differing files a check lists.
pub const MAX_LISTED_FILES: usize = 100;

/// The files two image trees disagree on, from their manifests (path ->
/// a description of its type, mode, size and content hash), sorted by path.
pub fn differing_files(original: &BTreeMap<String, String>, rebuilt: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, entry) in original {
        match rebuilt.get(path) {
            None => out.push(format!("- {path}")),
            Some(e) if e != entry => out.push(format!("~ {path}")),
            Some(_) => {}
        }
    }
    out.extend(rebuilt.keys().filter(|p| !original.contains_key(*p)).map(|p| format!("+ {p}")));
    out.sort_by(|a, b| a[2..].cmp(&b[2..]));
    out.truncate(MAX_LISTED_FILES);
    out
}

/// What a reproduction document records about its original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reproduction {
    /// The original document, as a path in the repository.
    pub of: String,
    pub images: Vec<ImageCheck>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    ReproducedWithinNoise,
    SignificantlyDifferent,
    Undecided,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reason: String,
    /// The largest spread of one side's runs among themselves, in percent of
    /// its median, over the compared metrics: differences smaller than this
    /// cannot be told from the noise of this machine.
    pub noise_floor_pct: Option<f64>,
    /// Each metric's decision.
    pub metrics: BTreeMap<String, Decision>,
}

/// Judges a rerun against its record, metric by metric, with Pinpoint's
/// rule (the smaller of the KS and Mann-Whitney p-values; DIFFERENT at
/// 0.01, SAME only when the samples are large enough and p is high).
pub fn judge(recorded: &ResultDoc, rerun: &ResultDoc) -> Verdict {
    let mut metrics = BTreeMap::new();
    let mut floor: Option<f64> = None;
    for (name, old) in &recorded.metrics {
        let Some(new) = rerun.metrics.get(name) else { continue };
        if old.values.is_empty() || new.values.is_empty() {
            continue;
        }
        metrics.insert(name.clone(), stats::compare_decision(&old.values, &new.values, stats::DEFAULT_ALPHA_DIFFERENT, None));
        for values in [&old.values, &new.values] {
            if let (Some(lo), Some(hi), Some(mid)) = (stats::min(values), stats::max(values), stats::median(values)) {
                if mid != 0.0 {
                    let spread = (hi - lo) / mid.abs() * 100.0;
                    floor = Some(floor.map_or(spread, |f| f.max(spread)));
                }
            }
        }
    }
    let count = |d: Decision| metrics.values().filter(|m| **m == d).count();
    let names = |d: Decision| metrics.iter().filter(|(_, m)| **m == d).map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    let (old_n, new_n) = (recorded.valid_runs().count(), rerun.valid_runs().count());
    let (outcome, reason) = if metrics.is_empty() {
        (Outcome::Undecided, "no metric has valid runs on both sides".to_string())
    } else if count(Decision::Different) > 0 {
        (Outcome::SignificantlyDifferent, format!("p <= 0.01 for {}", names(Decision::Different)))
    } else if count(Decision::Same) == metrics.len() {
        (Outcome::ReproducedWithinNoise, format!("every metric's samples are alike (p > 0.5), {old_n} recorded and {new_n} new valid runs"))
    } else if stats::mwu_min_p(old_n, new_n) > stats::DEFAULT_ALPHA_DIFFERENT {
        (
            Outcome::Undecided,
            format!("{old_n} recorded and {new_n} new valid runs can never reach p <= 0.01; rerun with more runs (--runs)"),
        )
    } else {
        (Outcome::Undecided, format!("neither alike nor different: {}; rerun with more runs (--runs)", names(Decision::Unknown)))
    };
    Verdict { outcome, reason, noise_floor_pct: floor, metrics }
}

impl Outcome {
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::ReproducedWithinNoise => "reproduced within noise",
            Outcome::SignificantlyDifferent => "significantly different",
            Outcome::Undecided => "undecided",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Metric;
    use crate::stats::Direction;

    fn hashes() -> Vec<String> {
        vec!["abcd1234".to_string() + &"0".repeat(56), "abce5678".to_string() + &"0".repeat(56), "ffff".to_string() + &"1".repeat(60)]
    }

    #[test]
    fn a_prefix_resolves_like_a_short_sha() {
        assert_eq!(resolve_hash("ffff", &hashes()).unwrap(), hashes()[2]);
        assert_eq!(resolve_hash("ABCD12", &hashes()).unwrap(), hashes()[0]);
        let ambiguous = resolve_hash("abc", &hashes()).unwrap_err();
        assert!(ambiguous.contains("4 to 64"), "too short: {ambiguous}");
        assert_eq!(resolve_hash("abcd", &hashes()).unwrap(), hashes()[0], "abcd is unique");
        let unknown = resolve_hash("abc1", &hashes()).unwrap_err();
        assert!(unknown.contains("no image hash starts with abc1"), "{unknown}");
        let two = resolve_hash("abcd", &[hashes()[0].clone(), hashes()[0].replace("abcd1234", "abcd9999")]).unwrap_err();
        assert!(two.contains("ambiguous") && two.contains("abcd1234") && two.contains("abcd9999"), "{two}");
        assert!(resolve_hash("results/x.json", &hashes()).is_err());
    }

    #[test]
    fn files_that_differ_between_two_trees() {
        let m = |e: &[(&str, &str)]| e.iter().map(|(p, d)| (p.to_string(), d.to_string())).collect::<BTreeMap<_, _>>();
        let a = m(&[("/a", "f 644 1 x"), ("/b", "f 644 1 y"), ("/c", "l /a")]);
        let b = m(&[("/a", "f 644 1 x"), ("/b", "f 644 1 z"), ("/d", "d 755")]);
        assert_eq!(differing_files(&a, &b), ["~ /b", "- /c", "+ /d"]);
        assert!(differing_files(&a, &a).is_empty());
    }

    #[test]
    fn the_first_layer_that_differs() {
        let l = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(first_differing_layer(&l(&["a", "b"]), &l(&["a", "b"])), None);
        assert_eq!(first_differing_layer(&l(&["a", "b"]), &l(&["a", "c"])), Some(1));
        assert_eq!(first_differing_layer(&l(&["a"]), &l(&["a", "c"])), Some(1));
        assert_eq!(first_differing_layer(&l(&["x", "b"]), &l(&["a", "b"])), Some(0));
    }

    fn doc(values: &[f64]) -> ResultDoc {
        let mut d: ResultDoc = serde_json::from_str(include_str!("../../tests/golden/document/v1-before-run-spec.json")).unwrap();
        let m = Metric {
            unit: "ns/op".into(),
            direction: Direction::LowerIsBetter,
            values: values.to_vec(),
            summary: stats::summarize(values),
        };
        d.metrics = BTreeMap::from([("BenchmarkX ns/op".to_string(), m)]);
        let run = d.runs[0].clone();
        d.runs = vec![run; values.len()];
        d
    }

    #[test]
    fn verdicts() {
        let base: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i)).collect();
        let same: Vec<f64> = (0..10).map(|i| 100.5 + f64::from(i)).collect();
        let slow: Vec<f64> = base.iter().map(|v| v * 1.5).collect();
        let v = judge(&doc(&base), &doc(&same));
        assert_eq!(v.outcome, Outcome::ReproducedWithinNoise, "{v:?}");
        // 9 / 100.5 of the spread within one side: the noise floor.
        assert!((v.noise_floor_pct.unwrap() - 9.0 / 104.5 * 100.0).abs() < 1e-9, "{v:?}");
        assert_eq!(judge(&doc(&base), &doc(&slow)).outcome, Outcome::SignificantlyDifferent);
        let few = judge(&doc(&base[..3]), &doc(&slow[..3]));
        assert_eq!(few.outcome, Outcome::Undecided);
        assert!(few.reason.contains("can never reach"), "{few:?}");
    }
}
