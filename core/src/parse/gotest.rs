//! Go's standard benchmark format: what `go test -bench` and a test binary's `-test.bench`
//! print (golang.org/design/14313-benchmark-format).
//!
//! Three kinds of line matter:
//!
//! ```text
//! goos: linux                                   configuration: `key: value`
//! BenchmarkAtoi/7bit-2        1000000      12.5 ns/op      0 B/op   result: name, iterations, (value unit)*
//! --- FAIL: BenchmarkX-2 / FAIL / panic: ...    failure (PASS and `ok` lines mark success)
//! ```
//!
//! Everything else (test logs, `exit status 1`, blank lines) is ignored by the format; here it is
//! kept in [`Output::unrecognised`]. Parsing never fails.
//!
//! Format facts worth knowing: `-N` at the end of a name is GOMAXPROCS, and it is left out when
//! GOMAXPROCS is 1, so a sub-benchmark named `size-1024` run with one CPU is indistinguishable
//! from `size` with 1024 (the format's own ambiguity). `ns/op` is not printed when it is 0. A
//! failing benchmark prints its padded name and then `--- FAIL: <name>` on the same line.

use super::{RunExit, Validity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything found in one output.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Output {
    /// Configuration lines, by key. A key seen again (e.g. `pkg:` of the next package) keeps
    /// its last value.
    pub config: BTreeMap<String, String>,
    /// Result lines, in order.
    pub results: Vec<BenchResult>,
    /// A `PASS` or `ok <pkg>` line was seen.
    pub passed: bool,
    /// A failure was reported (`--- FAIL`, a `FAIL` line, `panic:`, `fatal error:`).
    pub failed: bool,
    /// The lines that reported a failure, trimmed.
    pub failure_lines: Vec<String>,
    /// Non-blank lines that are none of the above.
    pub unrecognised: Vec<String>,
}

/// One benchmark result line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// The name as printed, without the `-N` GOMAXPROCS suffix, e.g. `BenchmarkAtoi/7bit`.
    pub name: String,
    /// The `-N` suffix; `None` when absent (GOMAXPROCS=1).
    pub procs: Option<u32>,
    pub iterations: u64,
    /// (unit, value) pairs in printed order, e.g. `("ns/op", 12.5)`, `("MB/s", 68.97)`.
    pub values: Vec<(String, f64)>,
}

impl BenchResult {
    /// The first value with this unit.
    pub fn value(&self, unit: &str) -> Option<f64> {
        self.values.iter().find(|(u, _)| u == unit).map(|&(_, v)| v)
    }
}

/// Parses benchmark output. Never fails; see [`judge`] for whether the run can be used.
pub fn parse(stdout: &str) -> Output {
    let mut out = Output::default();
    for raw in super::lines(stdout) {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(result) = result_line(line) {
            out.results.push(result);
        } else if is_failure(line) {
            out.failed = true;
            out.failure_lines.push(line.to_owned());
        } else if line == "PASS" || line.starts_with("ok ") || line.starts_with("ok\t") {
            out.passed = true;
        } else if let Some((key, value)) = config_line(raw) {
            out.config.insert(key.to_owned(), value.to_owned());
        } else {
            out.unrecognised.push(raw.to_owned());
        }
    }
    out
}

fn is_failure(line: &str) -> bool {
    line == "FAIL"
        || line.starts_with("FAIL\t")
        || line.starts_with("FAIL ")
        || line.contains("--- FAIL")
        || line.starts_with("panic: ")
        || line.starts_with("fatal error: ")
}

/// `BenchmarkName-2 <iterations> <value> <unit> [<value> <unit>...]`, fields separated by
/// whitespace. The name is `Benchmark` followed by the end of the field or a character that is
/// not lower case (as `go test` requires of benchmark functions).
fn result_line(line: &str) -> Option<BenchResult> {
    let mut fields = line.split_whitespace();
    let full_name = fields.next()?;
    let after = full_name.strip_prefix("Benchmark")?;
    if after.chars().next().is_some_and(char::is_lowercase) {
        return None;
    }
    let iterations = fields.next()?.parse().ok()?;
    let rest: Vec<&str> = fields.collect();
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return None;
    }
    let values = rest
        .chunks(2)
        .map(|pair| {
            let value = pair[0].parse::<f64>().ok().filter(|v| v.is_finite())?;
            Some((pair[1].to_owned(), value))
        })
        .collect::<Option<Vec<_>>>()?;
    let (name, procs) = split_procs(full_name);
    Some(BenchResult {
        name: name.to_owned(),
        procs,
        iterations,
        values,
    })
}

/// `BenchmarkX/a-b-8` -> (`BenchmarkX/a-b`, Some(8)); no numeric suffix -> (name, None).
fn split_procs(name: &str) -> (&str, Option<u32>) {
    if let Some((base, n)) = name.rsplit_once('-') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(procs) = n.parse() {
                return (base, Some(procs));
            }
        }
    }
    (name, None)
}

/// `key: value` where the key starts with a lower-case letter and has no space or upper-case
/// character, and space separates `key:` from the value, which may be empty.
fn config_line(raw: &str) -> Option<(&str, &str)> {
    let (key, value) = raw.split_once(':')?;
    let valid_key = key.chars().next().is_some_and(char::is_lowercase)
        && !key.chars().any(|c| c.is_whitespace() || c.is_uppercase());
    let separated = value.is_empty() || value.starts_with([' ', '\t']);
    (valid_key && separated).then(|| (key, value.trim()))
}

/// Whether a benchmark run can be used: invalid when it timed out, exited non-zero or was
/// killed, reported a failure, or printed no result at all. Every reason that holds is listed.
pub fn judge(output: &Output, exit: RunExit) -> Validity {
    let mut reasons = exit.reasons();
    if output.failed {
        reasons.push(match output.failure_lines.first() {
            Some(first) => format!(
                "failure reported ({} line{}), first: {first}",
                output.failure_lines.len(),
                if output.failure_lines.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            None => "failure reported".to_owned(),
        });
    }
    if output.results.is_empty() {
        reasons.push("no benchmark results".to_owned());
    }
    Validity::from_reasons(reasons)
}
