//! Parsers for the text that benchmark programs print, and the validity judgment of a run.
//!
//! Each parser takes the captured stdout as a `&str` and never fails: a partial or odd output
//! yields whatever could be read, and the lines it could not place are kept for diagnosis.
//! Whether a run can be trusted is a separate, explicit step (`judge`), which combines the
//! parsed output with how the process ended ([`RunExit`]) into a [`Validity`].
//!
//! - [`etcd`]: the report of etcd's `tools/benchmark` (see DESIGN.md section 5).
//! - [`gotest`]: Go's standard benchmark format (`go test -bench`, golang.org/design/14313).
//! - [`prometheus`]: Prometheus's text format, as etcd's `/metrics` serves it (read by
//!   `servermetrics`; unlike the two above, a malformed text is an error).
//! - [`http`]: the body of a raw HTTP/1.0 response (how the run reads the server's endpoints).
//!
//! Architecture invariant: pure code, no I/O. The caller captures output and exit status.

pub mod etcd;
pub mod gotest;
pub mod http;
pub mod prometheus;

use serde::{Deserialize, Serialize};

/// How the benchmark process ended, as observed by whoever ran it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunExit {
    /// The exit code; `None` when the process had none (killed by a signal).
    pub code: Option<i32>,
    /// The runner's own time limit expired and the process was stopped.
    pub timed_out: bool,
}

impl RunExit {
    /// A process that exited by itself with status 0.
    pub const SUCCESS: RunExit = RunExit { code: Some(0), timed_out: false };

    /// A process that exited by itself with `code`.
    pub fn exited(code: i32) -> RunExit {
        RunExit { code: Some(code), timed_out: false }
    }

    /// The reasons this exit alone makes a run invalid (empty when it exited 0 in time).
    fn reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.timed_out {
            reasons.push("run timed out and was stopped".to_owned());
        }
        match self.code {
            Some(0) => {}
            Some(code) => reasons.push(format!("exited with code {code}")),
            // A timed-out process is usually killed; the timeout already says why.
            None if self.timed_out => {}
            None => reasons.push("ended without an exit code (killed by a signal?)".to_owned()),
        }
        reasons
    }
}

/// Whether a run's numbers may be used, and if not, every reason why not.
///
/// Serialises as `{ "valid": false, "reasons": ["..."] }`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    pub valid: bool,
    /// Human-readable reasons, in a fixed order; empty exactly when `valid`.
    pub reasons: Vec<String>,
}

impl Validity {
    /// Valid exactly when there is no reason to reject.
    pub fn from_reasons(reasons: Vec<String>) -> Validity {
        Validity { valid: reasons.is_empty(), reasons }
    }
}

/// Splits captured output into lines, treating `\r` as a line break too so that progress bars
/// redrawn with carriage returns become separate (ignorable) lines instead of gluing themselves
/// onto report lines.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reasons() {
        let cases: &[(RunExit, &[&str])] = &[
            (RunExit::SUCCESS, &[]),
            (RunExit::exited(2), &["exited with code 2"]),
            (RunExit { code: None, timed_out: false }, &["ended without an exit code (killed by a signal?)"]),
            (RunExit { code: None, timed_out: true }, &["run timed out and was stopped"]),
            (RunExit { code: Some(0), timed_out: true }, &["run timed out and was stopped"]),
            (RunExit { code: Some(137), timed_out: true }, &["run timed out and was stopped", "exited with code 137"]),
        ];
        for (exit, want) in cases {
            assert_eq!(exit.reasons(), *want, "{exit:?}");
        }
    }

    #[test]
    fn validity_serialises_as_documented() {
        let v = Validity::from_reasons(vec!["no Summary section".to_owned()]);
        assert!(!v.valid);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"valid":false,"reasons":["no Summary section"]}"#);
        assert_eq!(serde_json::from_str::<Validity>(&json).unwrap(), v);
        assert!(Validity::from_reasons(Vec::new()).valid);
    }

    #[test]
    fn carriage_returns_split_lines() {
        let got: Vec<&str> = lines("a\r\nb\rc\n").collect();
        assert_eq!(got, ["a", "", "b", "c", ""]);
    }
}
