//! Bisection of a Go history for the first commit that shows a measured
//! change, as a pure state machine: [`search`] says which commit to measure
//! next (or to measure one again) from the verdicts so far, [`verdict`]
//! turns a commit's samples into a verdict against both ends, and [`log`] is
//! the versioned record that lets a stopped bisect resume.
//!
//! Architecture invariant: no I/O. The shell lists the candidates, builds and
//! measures, writes the log, and feeds the verdicts back in.

pub mod log;
pub mod search;
pub mod verdict;

pub use search::{next_step, SearchError, Step, Verdict};
