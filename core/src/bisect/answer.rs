//! The answer of a bisect and the evidence of every step, from its log
//! alone: what `cargo xtask bisect` prints at the end and its page shows.

use serde::{Deserialize, Serialize};

use super::log::BisectLog;
use super::search::{Step, Verdict};
use super::verdict::classify;
use crate::analysis::fmt_si;

/// One step's measurement against both ends. The numbers are of every
/// sample the commit had after this step (a repeat adds to what was there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// 1-based, in the order measured.
    pub step: usize,
    pub index: usize,
    pub sha: String,
    pub subject: String,
    pub runs: usize,
    pub median: Option<f64>,
    /// median / median of the good end, and of the bad end.
    pub ratio_to_good: Option<f64>,
    pub ratio_to_bad: Option<f64>,
    /// min(p_KS, p_MWU) against each end.
    pub p_good: Option<f64>,
    pub p_bad: Option<f64>,
    pub verdict: Verdict,
}

/// The evidence of every step of `log`, in the order measured.
pub fn evidence(log: &BisectLog) -> Vec<Evidence> {
    let (good, bad) = log.ends();
    let mut seen: Vec<Vec<f64>> = vec![Vec::new(); log.candidates.len()];
    log.steps
        .iter()
        .enumerate()
        .map(|(k, s)| {
            seen[s.index].extend(&s.samples);
            let samples = &seen[s.index];
            let c = classify(samples, &good, &bad);
            Evidence {
                step: k + 1,
                index: s.index,
                sha: s.sha.clone(),
                subject: log.candidates[s.index].subject.clone(),
                runs: samples.len(),
                median: crate::stats::median(samples),
                ratio_to_good: c.as_ref().map(|c| c.ratio_to_good),
                ratio_to_bad: c.as_ref().map(|c| c.ratio_to_bad),
                p_good: c.as_ref().map(|c| c.vs_good.p_ks.min(c.vs_good.p_mwu)),
                p_bad: c.as_ref().map(|c| c.vs_bad.p_ks.min(c.vs_bad.p_mwu)),
                verdict: s.verdict,
            }
        })
        .collect()
}

/// What a verdict is called in the output.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Good => "like-good",
        Verdict::Bad => "like-bad",
        Verdict::Unknown => "unknown",
        Verdict::Skip => "skip (does not build)",
    }
}

/// The headline: the first bad commit with its subject, author and date, or
/// the range it hides in, or where the bisect stands.
pub fn headline(log: &BisectLog) -> String {
    let commit = |i: usize| {
        let c = &log.candidates[i];
        format!("{}  {}\n  author: {}\n  date:   {}\n", c.sha, c.subject, c.author, c.date)
    };
    match log.next() {
        Ok(Step::Found { index }) => format!("first bad commit: {}", commit(index)),
        Ok(Step::Range { first, last, skipped, undecided }) => {
            let mut o = format!("the first bad commit is one of these {} commits:\n", last - first + 1);
            for i in first..=last {
                let why = if skipped.contains(&i) {
                    " (does not build)"
                } else if undecided.contains(&i) {
                    " (still unknown at the cap of runs)"
                } else {
                    " (like-bad)"
                };
                o += &format!("{}{why}\n", commit(i).trim_end().replace('\n', "\n    "));
            }
            o
        }
        Ok(Step::Probe { index, .. }) => {
            format!(
                "not finished: {} step(s) so far, next {}; run the same command again to continue\n",
                log.steps.len(),
                log.candidates[index].sha
            )
        }
        Err(e) => format!("no answer: {e}\n"),
    }
}

/// The evidence as a text table, one line per step.
pub fn evidence_text(log: &BisectLog) -> String {
    let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.3}"));
    let p = |p: Option<f64>| p.map_or("-".to_string(), |p| format!("{p:.3}"));
    let mut o = format!(
        "{:>4}  {:>5}  {:<12}  {:>4}  {:>9}  {:>7}  {:>7}  {:>7}  {:>7}  verdict\n",
        "step", "#", "commit", "runs", "median", "/good", "/bad", "p good", "p bad"
    );
    for e in evidence(log) {
        o += &format!(
            "{:>4}  {:>5}  {:<12}  {:>4}  {:>9}  {:>7}  {:>7}  {:>7}  {:>7}  {}\n",
            e.step,
            e.index,
            &e.sha[..e.sha.len().min(12)],
            e.runs,
            e.median.map_or("-".to_string(), fmt_si),
            ratio(e.ratio_to_good),
            ratio(e.ratio_to_bad),
            p(e.p_good),
            p(e.p_bad),
            verdict_name(e.verdict)
        );
    }
    o
}

/// The whole answer: the headline, the ends and the steps.
pub fn render_text(log: &BisectLog) -> String {
    let mut o = headline(log);
    o += &format!(
        "\n{} {} over {} first-parent commits, good {} ({}) to bad {} ({})\n",
        log.bench,
        log.metric,
        log.candidates.len(),
        log.good.git_ref,
        &log.good.sha[..log.good.sha.len().min(12)],
        log.bad.git_ref,
        &log.bad.sha[..log.bad.sha.len().min(12)]
    );
    if let Some(base) = &log.merge_base {
        o += &format!("good is not an ancestor of bad: bisected from their merge base {base}, measured as the good end\n");
    }
    if let Some(ends) = &log.ends {
        o += &format!("ends: {}\n", ends.describe());
    }
    o += "\n";
    o + &evidence_text(log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bisect::log::tests::sample;

    #[test]
    fn the_answer_names_the_commit_and_every_step() {
        let mut log = sample();
        // Candidate 1 builds after all and is like-good: 2 is the first bad.
        log.steps[4] = crate::bisect::log::LogStep {
            index: 1,
            sha: log.candidates[1].sha.clone(),
            samples: vec![100.5, 99.0, 100.0],
            verdict: Verdict::Good,
            results: vec![],
        };
        let text = render_text(&log);
        let sha2 = &log.candidates[2].sha;
        assert!(
            text.starts_with(&format!(
                "first bad commit: {sha2}  runtime: change 2\n  author: Gopher <gopher@example.com>\n  date:   2026-03-01T00:00:00Z\n"
            )),
            "{text}"
        );
        let rows: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("step")).skip(1).collect();
        assert_eq!(rows.len(), 5, "{text}");
        // Step 4: candidate 2 after its repeat has four runs, median 92.5.
        let fields: Vec<&str> = rows[3].split_whitespace().collect();
        assert_eq!(fields[..5], ["4", "2", "000000000000", "4", "92.5"], "{}", rows[3]);
        assert_eq!(fields.last(), Some(&"like-bad"), "{}", rows[3]);
        let e = evidence(&log);
        assert_eq!((e[2].runs, e[3].runs), (2, 4));
        assert!((e[3].ratio_to_good.unwrap() - 92.5 / 100.0).abs() < 1e-12);
        assert!((e[3].ratio_to_bad.unwrap() - 92.5 / 90.0).abs() < 1e-12);
        assert_eq!(e[0].p_good, Some(1.0), "the good end is its own sample");
    }

    #[test]
    fn a_culprit_among_skips_is_a_range_and_an_unfinished_bisect_says_so() {
        let log = sample();
        let text = headline(&log);
        assert!(text.starts_with("the first bad commit is one of these 2 commits:\n"), "{text}");
        assert!(text.contains("runtime: change 1 (does not build)") || text.contains("(does not build)"), "{text}");
        let mut log = sample();
        log.steps.truncate(2);
        assert!(
            headline(&log).starts_with("not finished: 2 step(s) so far, next 0000000000000000000000000000000000000002"),
            "{}",
            headline(&log)
        );
    }
}
