//! The search, in the spirit of cargo-bisect-rustc's `least_satisfying`: a
//! pure function from the candidates' verdicts to the next thing to do.
//!
//! Candidates are indices `0..n` in first-parent order, 0 the good end and
//! `n - 1` the bad end. A verdict is like-good, like-bad, unknown (measure
//! the same commit again with more runs, up to a cap; still unknown at the
//! cap counts as undecided) or skip (the commit does not build). The answer
//! is the first bad commit, or the range it hides in when skipped or
//! undecided commits sit next to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one measurement of a commit said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Good,
    Bad,
    /// Not decided: measure it again with more runs.
    Unknown,
    /// It does not build (or cannot be measured): never probe it again.
    Skip,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    /// Measure this candidate; `again` when it was unknown before.
    Probe { index: usize, again: bool },
    /// The first bad commit.
    Found { index: usize },
    /// The first bad commit is one of `first..=last`: the commits before
    /// `last` in it were skipped or stayed undecided, so the search cannot
    /// tell which of them (or `last`) it is.
    Range { first: usize, last: usize, skipped: Vec<usize>, undecided: Vec<usize> },
}

/// Why there is no next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// Fewer than two candidates: there is nothing between the ends.
    TooFew(usize),
    /// A verdict names an index outside the candidates.
    OutOfRange { index: usize, n: usize },
    /// The good end did not measure like-good, or the bad end like-bad.
    EndsNotConfirmed { good: Option<Verdict>, bad: Option<Verdict> },
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchError::TooFew(n) => write!(f, "{n} candidate(s): give a good and a bad commit with the good one first"),
            SearchError::OutOfRange { index, n } => {
                write!(f, "verdict for candidate {index}, but there are only {n}: the log does not belong to these candidates")
            }
            SearchError::EndsNotConfirmed { good, bad } => write!(
                f,
                "the ends are not confirmed (good end measured {}, bad end {}): check --good and --bad, or measure the ends with more runs",
                describe(*good),
                describe(*bad)
            ),
        }
    }
}

fn describe(v: Option<Verdict>) -> &'static str {
    match v {
        None => "never",
        Some(Verdict::Good) => "like-good",
        Some(Verdict::Bad) => "like-bad",
        Some(Verdict::Unknown) => "unknown",
        Some(Verdict::Skip) => "unbuildable",
    }
}

/// Where a candidate stands after its verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Good,
    Bad,
    /// Unknown so far, measured this many times.
    Pending(usize),
    Skipped,
    Undecided,
}

/// The next step for `n` candidates given `history`, the verdicts in the
/// order they were measured (index, verdict). A candidate's latest verdict
/// counts; an unknown one is measured again until it has been unknown
/// `max_unknown` times, then it is undecided. The ends must be measured
/// first (they are probed first) and must come out good and bad.
///
/// The probe is the untested candidate nearest the middle of the interval
/// between the last good and the first bad commit, so without skips the
/// search measures at most `ceil(log2 n) + 2` commits, the ends included.
pub fn next_step(n: usize, history: &[(usize, Verdict)], max_unknown: usize) -> Result<Step, SearchError> {
    if n < 2 {
        return Err(SearchError::TooFew(n));
    }
    let mut states: BTreeMap<usize, State> = BTreeMap::new();
    for &(index, v) in history {
        if index >= n {
            return Err(SearchError::OutOfRange { index, n });
        }
        let unknowns = match states.get(&index) {
            Some(State::Pending(k)) => *k,
            _ => 0,
        };
        let state = match v {
            Verdict::Good => State::Good,
            Verdict::Bad => State::Bad,
            Verdict::Skip => State::Skipped,
            Verdict::Unknown if unknowns + 1 >= max_unknown => State::Undecided,
            Verdict::Unknown => State::Pending(unknowns + 1),
        };
        states.insert(index, state);
    }
    for end in [0, n - 1] {
        match states.get(&end) {
            None => return Ok(Step::Probe { index: end, again: false }),
            Some(State::Pending(_)) => return Ok(Step::Probe { index: end, again: true }),
            _ => {}
        }
    }
    if states[&0] != State::Good || states[&(n - 1)] != State::Bad {
        let last = |i: usize| history.iter().rev().find(|h| h.0 == i).map(|h| h.1);
        return Err(SearchError::EndsNotConfirmed { good: last(0), bad: last(n - 1) });
    }
    // The first bad commit lies in (lo, hi]. With noisy verdicts a good one
    // above a bad one can happen; the earliest bad wins and the good ones
    // after it are ignored.
    let hi = *states.iter().find(|(_, s)| **s == State::Bad).map(|(i, _)| i).expect("the bad end is bad");
    let lo = *states.range(..hi).rev().find(|(_, s)| **s == State::Good).map(|(i, _)| i).expect("the good end is good");
    if let Some((&index, _)) = states.range(lo + 1..hi).find(|(_, s)| matches!(s, State::Pending(_))) {
        return Ok(Step::Probe { index, again: true });
    }
    let mid = lo + (hi - lo) / 2;
    let untested = (lo + 1..hi).filter(|i| !states.contains_key(i)).min_by_key(|&i| (i.abs_diff(mid), i));
    if let Some(index) = untested {
        return Ok(Step::Probe { index, again: false });
    }
    if hi == lo + 1 {
        return Ok(Step::Found { index: hi });
    }
    let pick = |want: State| (lo + 1..hi).filter(|i| states.get(i) == Some(&want)).collect();
    Ok(Step::Range { first: lo + 1, last: hi, skipped: pick(State::Skipped), undecided: pick(State::Undecided) })
}

#[cfg(test)]
mod tests {
    use super::Verdict::{Bad, Good, Skip, Unknown};
    use super::*;

    /// Run the search against a noise-free oracle; returns the answer and the
    /// distinct commits measured.
    fn run(n: usize, oracle: impl Fn(usize) -> Verdict, max_unknown: usize) -> (Step, usize) {
        let mut history = Vec::new();
        loop {
            match next_step(n, &history, max_unknown).unwrap() {
                Step::Probe { index, .. } => {
                    assert!(history.len() < 10 * n + 10, "no progress: {history:?}");
                    history.push((index, oracle(index)));
                }
                answer => {
                    let mut measured: Vec<usize> = history.iter().map(|h| h.0).collect();
                    measured.sort();
                    measured.dedup();
                    return (answer, measured.len());
                }
            }
        }
    }

    #[test]
    fn table() {
        // (n, first bad, skipped, expected answer, commits measured)
        let cases: &[(usize, usize, &[usize], Step, usize)] = &[
            (2, 1, &[], Step::Found { index: 1 }, 2),
            (3, 1, &[], Step::Found { index: 1 }, 3),
            (3, 2, &[], Step::Found { index: 2 }, 3),
            // 0 | 1 2 3 4 5 6 | 7: probes 3 (good), 5 (bad), 4 (bad).
            (8, 4, &[], Step::Found { index: 4 }, 5),
            // The culprit's parent does not build: 3 or 4.
            (8, 4, &[3], Step::Range { first: 3, last: 4, skipped: vec![3], undecided: vec![] }, 5),
            // The culprit itself does not build: 4 or 5.
            (8, 4, &[4], Step::Range { first: 4, last: 5, skipped: vec![4], undecided: vec![] }, 5),
            // A skip away from the culprit costs probes, not the answer:
            // 3 skipped, 2 good, then 4, 5 good and 6 bad.
            (8, 6, &[3], Step::Found { index: 6 }, 7),
            // Nothing in between builds.
            (5, 2, &[1, 2, 3], Step::Range { first: 1, last: 4, skipped: vec![1, 2, 3], undecided: vec![] }, 5),
        ];
        for (n, bad, skipped, want, measured) in cases {
            let oracle = |i: usize| {
                if skipped.contains(&i) {
                    Skip
                } else if i >= *bad {
                    Bad
                } else {
                    Good
                }
            };
            let (got, count) = run(*n, oracle, 3);
            assert_eq!((&got, count), (want, *measured), "n {n} bad {bad} skipped {skipped:?}");
        }
    }

    #[test]
    fn ends_first_then_the_middle() {
        assert_eq!(next_step(9, &[], 3), Ok(Step::Probe { index: 0, again: false }));
        assert_eq!(next_step(9, &[(0, Good)], 3), Ok(Step::Probe { index: 8, again: false }));
        assert_eq!(next_step(9, &[(0, Good), (8, Bad)], 3), Ok(Step::Probe { index: 4, again: false }));
        // A skipped middle: the nearest untested, lower one first on a tie.
        assert_eq!(next_step(9, &[(0, Good), (8, Bad), (4, Skip)], 3), Ok(Step::Probe { index: 3, again: false }));
    }

    #[test]
    fn unknown_repeats_up_to_the_cap_then_is_undecided() {
        let h = vec![(0, Good), (4, Bad), (2, Unknown)];
        assert_eq!(next_step(5, &h, 3), Ok(Step::Probe { index: 2, again: true }));
        let h = [h, vec![(2, Unknown)]].concat();
        assert_eq!(next_step(5, &h, 3), Ok(Step::Probe { index: 2, again: true }));
        // Third unknown: undecided, the search goes on around it.
        let h = [h, vec![(2, Unknown)]].concat();
        assert_eq!(next_step(5, &h, 3), Ok(Step::Probe { index: 1, again: false }));
        let h = [h, vec![(1, Good), (3, Bad)]].concat();
        assert_eq!(next_step(5, &h, 3), Ok(Step::Range { first: 2, last: 3, skipped: vec![], undecided: vec![2] }));
        // A repeat that decides counts as that verdict.
        let h = vec![(0, Good), (4, Bad), (2, Unknown), (2, Bad), (1, Good)];
        assert_eq!(next_step(5, &h, 3), Ok(Step::Found { index: 2 }));
        // An unknown end is measured again too.
        assert_eq!(next_step(5, &[(0, Unknown)], 3), Ok(Step::Probe { index: 0, again: true }));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(next_step(1, &[], 3), Err(SearchError::TooFew(1)));
        assert_eq!(next_step(3, &[(3, Good)], 3), Err(SearchError::OutOfRange { index: 3, n: 3 }));
        let e = next_step(3, &[(0, Good), (2, Good)], 3).unwrap_err();
        assert_eq!(e, SearchError::EndsNotConfirmed { good: Some(Good), bad: Some(Good) });
        assert!(e.to_string().contains("bad end like-good"), "{e}");
        assert!(next_step(3, &[(0, Skip), (2, Bad)], 3).is_err());
    }

    /// Every position of the first bad commit and every set of skipped
    /// interior commits, for n up to 12 (2^10 skip sets at n = 12): the
    /// answer is right, and without skips at most ceil(log2 n) + 2 commits
    /// are measured.
    #[test]
    fn exhaustive_noise_free_search_is_right_and_short() {
        for n in 2..=12usize {
            let bound = (n as f64).log2().ceil() as usize + 2;
            for bad in 1..n {
                for mask in 0u32..(1 << (n - 2)) {
                    let skipped = |i: usize| i > 0 && i < n - 1 && mask & (1 << (i - 1)) != 0;
                    let oracle = |i: usize| {
                        if skipped(i) {
                            Skip
                        } else if i >= bad {
                            Bad
                        } else {
                            Good
                        }
                    };
                    let (answer, measured) = run(n, oracle, 3);
                    match answer {
                        Step::Found { index } => assert_eq!(index, bad, "n {n} mask {mask:b}"),
                        Step::Range { first, last, skipped: ref hidden, .. } => {
                            assert!(first <= bad && bad <= last, "n {n} bad {bad} mask {mask:b}: {answer:?}");
                            // A range is only given when skipped commits hide
                            // the culprit: all before `last` were skipped.
                            assert_eq!(hidden.len(), last - first, "{answer:?}");
                            assert!(hidden.iter().all(|&i| skipped(i)), "{answer:?}");
                        }
                        Step::Probe { .. } => unreachable!(),
                    }
                    if mask == 0 {
                        assert!(matches!(answer, Step::Found { .. }));
                        assert!(measured <= bound, "n {n} bad {bad}: {measured} measured > {bound}");
                    }
                }
            }
        }
    }
}
