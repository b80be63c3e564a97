//! The bisect log, `results/bisect/<id>/log.json`: the ends, the candidates
//! and every step's samples, written after each step so that running the
//! same command again resumes where it stopped. A serialised contract: the
//! `$schema` carries the version, and [`parse`] loads every version so far.

use serde::{Deserialize, Serialize};

use super::search::{next_step, SearchError, Step, Verdict};
use super::verdict::Ends;

/// The current schema.
pub const BISECT_LOG_SCHEMA: &str = "urn:gobench:bisect:1";

/// A bisect in progress or finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectLog {
    #[serde(rename = "$schema")]
    pub schema: String,
    /// What is measured: the benchmark's name in the pins and the metric.
    pub bench: String,
    pub metric: String,
    pub good: End,
    pub bad: End,
    /// The Go repository (a URL or a path, as in the pins) the candidates
    /// come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub go_url: String,
    /// The workload ref measured (etcd), `None` for workloads without refs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_ref: Option<String>,
    /// Runs of a round: the ends' first round of pairs, and every
    /// measurement of a candidate.
    #[serde(default = "default_runs")]
    pub runs: usize,
    /// When good is not an ancestor of bad: their merge base, measured as the
    /// good end in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_base: Option<String>,
    /// The ends compared pair by pair, once they have been measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<Ends>,
    /// First-parent order, the good end first and the bad end last.
    pub candidates: Vec<Candidate>,
    /// How many times an unknown commit is measured before it is undecided.
    pub max_unknown: usize,
    pub steps: Vec<LogStep>,
}

/// An end as the user named it and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub sha: String,
    pub subject: String,
    /// `Name <email>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Committer time, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub date: String,
}

fn default_runs() -> usize {
    crate::stats::FIRST_ROUND
}

/// One measurement of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogStep {
    pub index: usize,
    pub sha: String,
    /// The metric's value of every valid run of this step (empty when the
    /// commit did not build).
    pub samples: Vec<f64>,
    pub verdict: Verdict,
    /// The result documents of the runs, relative to the project root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<String>,
}

impl BisectLog {
    /// The verdicts in the order measured, as [`next_step`] takes them.
    pub fn history(&self) -> Vec<(usize, Verdict)> {
        self.steps.iter().map(|s| (s.index, s.verdict)).collect()
    }

    /// What to do next: where a resumed bisect continues.
    pub fn next(&self) -> Result<Step, SearchError> {
        next_step(self.candidates.len(), &self.history(), self.max_unknown)
    }

    /// The samples of the ends, in pair order: the ends are measured as
    /// interleaved pairs, and a step of each keeps its side of the pairs.
    pub fn ends(&self) -> (Vec<f64>, Vec<f64>) {
        (self.samples(0), self.samples(self.candidates.len().saturating_sub(1)))
    }

    /// Every sample measured for a candidate, over all its steps (a repeat
    /// adds runs to what was there, it does not start again).
    pub fn samples(&self, index: usize) -> Vec<f64> {
        self.steps.iter().filter(|s| s.index == index).flat_map(|s| s.samples.iter().copied()).collect()
    }
}

/// Load a log of any version so far. The error says what is wrong and
/// that the file was left alone.
pub fn parse(text: &str) -> Result<BisectLog, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e}); the log was not changed"))?;
    match value.get("$schema").and_then(|s| s.as_str()) {
        Some(BISECT_LOG_SCHEMA) => {}
        Some(other) => {
            return Err(format!("$schema is {other:?}, this gobench reads {BISECT_LOG_SCHEMA:?}: update gobench or start a new bisect"))
        }
        None => return Err(format!("missing \"$schema\": {BISECT_LOG_SCHEMA:?}; is this a bisect log?")),
    }
    let log: BisectLog = serde_json::from_value(value).map_err(|e| format!("bad bisect log: {e}; the log was not changed"))?;
    for s in &log.steps {
        match log.candidates.get(s.index) {
            Some(c) if c.sha == s.sha => {}
            _ => {
                return Err(format!(
                    "step for candidate {} ({}) does not match the candidate list; the log was not changed",
                    s.index, s.sha
                ))
            }
        }
    }
    Ok(log)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> BisectLog {
        let candidates: Vec<Candidate> = (0..5)
            .map(|i| Candidate {
                sha: format!("{i:040x}"),
                subject: format!("runtime: change {i}"),
                author: "Gopher <gopher@example.com>".to_string(),
                date: format!("2026-0{}-01T00:00:00Z", i + 1),
            })
            .collect();
        let step = |index: usize, samples: &[f64], verdict| LogStep {
            index,
            sha: candidates[index].sha.clone(),
            samples: samples.to_vec(),
            verdict,
            results: if samples.is_empty() { vec![] } else { vec![format!("results/bisect/x/{index}.json")] },
        };
        let steps = vec![
            step(0, &[100.0, 101.5, 99.25], Verdict::Good),
            step(4, &[90.0, 90.5, 89.75], Verdict::Bad),
            step(2, &[95.0, 94.0], Verdict::Unknown),
            step(2, &[91.0, 90.0], Verdict::Bad),
            step(1, &[], Verdict::Skip),
        ];
        BisectLog {
            schema: BISECT_LOG_SCHEMA.to_string(),
            bench: "put".to_string(),
            metric: "rps".to_string(),
            good: End { git_ref: "go1.26.0".to_string(), sha: candidates[0].sha.clone() },
            bad: End { git_ref: "master".to_string(), sha: candidates[4].sha.clone() },
            go_url: "https://go.googlesource.com/go".to_string(),
            workload_ref: Some("release-3.6".to_string()),
            runs: 10,
            merge_base: None,
            ends: super::super::verdict::confirm_ends(&steps[0].samples, &steps[1].samples, crate::stats::Direction::HigherIsBetter, 0.02),
            candidates,
            max_unknown: 3,
            steps,
        }
    }

    #[test]
    fn golden_v1_loads_and_resumes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bisect/testdata/log-v1.json");
        let text = serde_json::to_string_pretty(&sample()).unwrap() + "\n";
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let golden = include_str!("testdata/log-v1.json");
        assert_eq!(text, golden, "the v1 log format changed (UPDATE_GOLDEN=1 rewrites it, but old logs must still load)");
        let log = parse(golden).unwrap();
        assert_eq!(log, sample());
        // Resume: 0 good, 4 bad, 2 bad after a repeat, 1 does not build, so
        // the first bad is 1 or 2.
        assert_eq!(log.next(), Ok(Step::Range { first: 1, last: 2, skipped: vec![1], undecided: vec![] }));
        assert_eq!(log.samples(2), vec![95.0, 94.0, 91.0, 90.0]);
    }

    /// The first v1 logs had no Go URL, workload ref, run count, authors or
    /// dates: they still load, with the defaults.
    #[test]
    fn the_first_v1_logs_still_load() {
        let log = parse(include_str!("testdata/log-v1-first.json")).unwrap();
        assert_eq!((log.go_url.as_str(), log.workload_ref.as_deref(), log.runs), ("", None, 10));
        assert_eq!(log.candidates[1].author, "");
        assert_eq!(log.next(), sample().next());
    }

    #[test]
    fn a_stopped_bisect_resumes_where_it_stopped() {
        let mut log = sample();
        log.steps.truncate(2);
        let text = serde_json::to_string(&log).unwrap();
        assert_eq!(parse(&text).unwrap().next(), Ok(Step::Probe { index: 2, again: false }));
        log.steps = sample().steps[..3].to_vec();
        assert_eq!(parse(&serde_json::to_string(&log).unwrap()).unwrap().next(), Ok(Step::Probe { index: 2, again: true }));
    }

    #[test]
    fn bad_logs_are_refused_with_a_reason() {
        assert!(parse("{").unwrap_err().contains("not JSON"));
        assert!(parse("{}").unwrap_err().contains("missing \"$schema\""));
        assert!(parse(r#"{"$schema":"urn:gobench:bisect:9"}"#).unwrap_err().contains("update gobench"));
        let mut log = sample();
        log.steps[0].sha = "beef".to_string();
        assert!(parse(&serde_json::to_string(&log).unwrap()).unwrap_err().contains("does not match the candidate list"));
    }
}
