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
    /// The lines that reported a failure, trimmed, from `--- FAIL` on when they contain it.
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
            // `BenchmarkX-2   \t--- FAIL: BenchmarkX-2`: the padded name adds nothing.
            let from = line.find("--- FAIL").unwrap_or(0);
            out.failure_lines.push(line[from..].to_owned());
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
    Some(BenchResult { name: name.to_owned(), procs, iterations, values })
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
    let valid_key = key.chars().next().is_some_and(char::is_lowercase) && !key.chars().any(|c| c.is_whitespace() || c.is_uppercase());
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
                if output.failure_lines.len() == 1 { "" } else { "s" }
            ),
            None => "failure reported".to_owned(),
        });
    }
    if output.results.is_empty() {
        reasons.push("no benchmark results".to_owned());
    }
    Validity::from_reasons(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/../tests/fixtures/gotest/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    fn r(name: &str, procs: Option<u32>, iterations: u64, values: &[(&str, f64)]) -> BenchResult {
        BenchResult { name: name.to_owned(), procs, iterations, values: values.iter().map(|&(u, v)| (u.to_owned(), v)).collect() }
    }

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    const NO_ALLOC: [(&str, f64); 2] = [("B/op", 0.0), ("allocs/op", 0.0)];

    fn with_mem(ns: f64) -> Vec<(&'static str, f64)> {
        [("ns/op", ns)].into_iter().chain(NO_ALLOC).collect()
    }

    #[test]
    fn strconv_fixture() {
        let got = parse(&fixture("strconv.txt"));
        let want = Output {
            config: config(&[("cpu", "Intel(R) Xeon(R) CPU @ 2.20GHz"), ("goarch", "amd64"), ("goos", "linux"), ("pkg", "strconv")]),
            results: vec![
                r("BenchmarkAtof64Decimal", Some(2), 58231702, &with_mem(20.61)),
                r("BenchmarkAtof64Decimal", Some(2), 57962110, &with_mem(20.73)),
                r("BenchmarkAtof64FloatExp", Some(2), 21786471, &with_mem(55.02)),
                r("BenchmarkFormatFloat/Decimal", Some(2), 11836245, &with_mem(101.4)),
                r("BenchmarkFormatFloat/Slowpath64", Some(2), 178734, &with_mem(6712.0)),
                r("BenchmarkAppendQuote", Some(2), 4018327, &[("ns/op", 298.6), ("MB/s", 68.97), ("B/op", 0.0), ("allocs/op", 0.0)]),
                r("BenchmarkParseInt/Pos/7bit", Some(2), 100000000, &with_mem(10.37)),
                r("BenchmarkItoa", None, 54311068, &[("ns/op", 22.08), ("digits/op", 3.0), ("B/op", 8.0), ("allocs/op", 1.0)]),
                r("BenchmarkItoa", Some(2), 64125708, &[("ns/op", 18.66), ("digits/op", 3.0), ("B/op", 8.0), ("allocs/op", 1.0)]),
            ],
            passed: true,
            failed: false,
            failure_lines: vec![],
            unrecognised: vec!["stray output printed by a benchmark: 1e23".to_owned()],
        };
        assert_eq!(got, want);
        assert_eq!(got.results[5].value("MB/s"), Some(68.97));
        assert_eq!(got.results[5].value("GB/s"), None);
        assert_eq!(judge(&got, RunExit::SUCCESS), Validity::from_reasons(vec![]));
    }

    #[test]
    fn failing_fixture() {
        let got = parse(&fixture("strconv-fail.txt"));
        let names: Vec<&str> = got.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["BenchmarkAtof64Decimal", "BenchmarkItoa"]);
        assert_eq!(got.results[1], r("BenchmarkItoa", Some(2), 64125708, &[("ns/op", 18.66)]));
        assert!(got.failed && !got.passed);
        assert_eq!(got.failure_lines, ["--- FAIL: BenchmarkAtof64Broken-2", "FAIL", "FAIL\tstrconv\t4.112s"]);
        assert_eq!(got.unrecognised, ["    atof_test.go:731: ParseFloat(\"1e23\") = 1.0000000000000001e+23, want 1e+23", "exit status 1"]);
        assert_eq!(got.config.len(), 4);
        assert_eq!(
            judge(&got, RunExit::exited(1)).reasons,
            ["exited with code 1", "failure reported (3 lines), first: --- FAIL: BenchmarkAtof64Broken-2"]
        );
        // The output alone is enough to reject it.
        assert!(!judge(&got, RunExit::SUCCESS).valid);
    }

    #[test]
    fn result_lines() {
        let cases: &[(&str, Option<BenchResult>)] = &[
            ("BenchmarkX-8 \t 100\t 12.5 ns/op", Some(r("BenchmarkX", Some(8), 100, &[("ns/op", 12.5)]))),
            ("Benchmark 1 2 ns/op", Some(r("Benchmark", None, 1, &[("ns/op", 2.0)]))),
            ("Benchmark_x-4 1 2 ns/op", Some(r("Benchmark_x", Some(4), 1, &[("ns/op", 2.0)]))),
            ("BenchmarkÄpfel 1 2 ns/op", Some(r("BenchmarkÄpfel", None, 1, &[("ns/op", 2.0)]))),
            ("BenchmarkX/a-b-16 1 2 ns/op", Some(r("BenchmarkX/a-b", Some(16), 1, &[("ns/op", 2.0)]))),
            // The format's own ambiguity: with GOMAXPROCS=1 there is no suffix.
            ("BenchmarkX/size-1024 1 2 ns/op", Some(r("BenchmarkX/size", Some(1024), 1, &[("ns/op", 2.0)]))),
            ("BenchmarkX/size- 1 2 ns/op", Some(r("BenchmarkX/size-", None, 1, &[("ns/op", 2.0)]))),
            ("BenchmarkX-99999999999 1 2 ns/op", Some(r("BenchmarkX-99999999999", None, 1, &[("ns/op", 2.0)]))),
            ("BenchmarkX 5 1e+06 ns/op 3 x", Some(r("BenchmarkX", None, 5, &[("ns/op", 1e6), ("x", 3.0)]))),
            ("Benchmarkx 1 2 ns/op", None),
            ("BenchmarX 1 2 ns/op", None),
            ("BenchmarkX-2 100", None),
            ("BenchmarkX-2 100 12 ns/op 3", None),
            ("BenchmarkX-2 100 twelve ns/op", None),
            ("BenchmarkX-2 100 NaN ns/op", None),
            ("BenchmarkX-2 -100 12 ns/op", None),
            ("BenchmarkX-2 1.5 12 ns/op", None),
            ("BenchmarkX-2", None),
        ];
        for (line, want) in cases {
            let got = parse(line);
            assert_eq!(got.results.first(), want.as_ref(), "{line}");
            assert_eq!(got.unrecognised.len(), usize::from(want.is_none()), "{line}");
        }
    }

    #[test]
    fn config_lines() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("goos: linux", Some(("goos", "linux"))),
            ("cpu: Intel(R) Xeon(R) CPU @ 2.20GHz  ", Some(("cpu", "Intel(R) Xeon(R) CPU @ 2.20GHz"))),
            ("cpu-speed:\t3GHz", Some(("cpu-speed", "3GHz"))),
            ("pkg:", Some(("pkg", ""))),
            ("note: a: b", Some(("note", "a: b"))),
            ("key:value", None),
            ("Key: value", None),
            ("goOS: linux", None),
            ("my key: value", None),
            (" goos: linux", None),
            ("1key: value", None),
            (": value", None),
            ("exit status 1", None),
        ];
        for (line, want) in cases {
            let got = parse(line);
            let want: BTreeMap<String, String> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            assert_eq!(got.config, want, "{line}");
            assert_eq!(got.unrecognised.len(), usize::from(want.is_empty()), "{line}");
        }
    }

    #[test]
    fn status_lines() {
        let cases: &[(&str, bool, bool)] = &[
            ("PASS", true, false),
            ("ok  \tstrconv\t1.2s", true, false),
            ("ok \tstrconv\t(cached)", true, false),
            ("okay: fine", false, false),
            ("FAIL", false, true),
            ("FAIL\tstrconv\t0.1s", false, true),
            ("FAIL strconv [build failed]", false, true),
            ("--- FAIL: BenchmarkX-2", false, true),
            ("    --- FAIL: BenchmarkX/sub-2", false, true),
            ("panic: runtime error: index out of range [3] with length 3", false, true),
            ("fatal error: all goroutines are asleep - deadlock!", false, true),
            ("--- SKIP: BenchmarkX", false, false),
            ("--- BENCH: BenchmarkX-2", false, false),
            ("FAILED", false, false),
        ];
        for &(line, passed, failed) in cases {
            let got = parse(line);
            assert_eq!((got.passed, got.failed), (passed, failed), "{line}");
            assert_eq!(got.failure_lines.len(), usize::from(failed), "{line}");
        }
    }

    #[test]
    fn several_packages_and_crlf() {
        let text = "goos: linux\r\npkg: strconv\r\nBenchmarkA-2\t10\t1 ns/op\r\nPASS\r\nok  \tstrconv\t1s\r\n\
                    pkg: bytes\r\nBenchmarkB-2\t20\t2 ns/op\r\nPASS\r\nok  \tbytes\t1s\r\n";
        let got = parse(text);
        assert_eq!(got.config, config(&[("goos", "linux"), ("pkg", "bytes")]));
        assert_eq!(got.results, [r("BenchmarkA", Some(2), 10, &[("ns/op", 1.0)]), r("BenchmarkB", Some(2), 20, &[("ns/op", 2.0)])]);
        assert!(got.passed && !got.failed && got.unrecognised.is_empty());
    }

    #[test]
    fn judge_cases() {
        let good = parse(&fixture("strconv.txt"));
        let cases: &[(&str, RunExit, &[&str])] = &[
            ("good", RunExit::SUCCESS, &[]),
            ("good", RunExit::exited(2), &["exited with code 2"]),
            ("good", RunExit { code: None, timed_out: true }, &["run timed out and was stopped"]),
            ("empty", RunExit::SUCCESS, &["no benchmark results"]),
            ("panic", RunExit::exited(2), &["exited with code 2", "failure reported (1 line), first: panic: boom", "no benchmark results"]),
        ];
        for &(which, exit, want) in cases {
            let output = match which {
                "good" => good.clone(),
                "empty" => parse("goos: linux\nPASS\n"),
                _ => parse("goos: linux\npanic: boom\n\ngoroutine 1 [running]:\n"),
            };
            assert_eq!(judge(&output, exit).reasons, want, "{which} {exit:?}");
        }
        let flagged = Output { failed: true, ..good };
        assert_eq!(judge(&flagged, RunExit::SUCCESS).reasons, ["failure reported"]);
    }

    #[test]
    fn output_round_trips_through_json() {
        let got = parse(&fixture("strconv.txt"));
        let json = serde_json::to_string(&got).unwrap();
        assert_eq!(serde_json::from_str::<Output>(&json).unwrap(), got);
        assert!(json.starts_with(r#"{"config":{"cpu":"#), "{json}");
    }
}
