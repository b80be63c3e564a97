//! The report printed by etcd's `tools/benchmark` (its `pkg/report`), and when to trust it.
//!
//! The report is a sequence of sections, each a header line followed by indented lines:
//!
//! ```text
//! Summary:
//!   Total:	1.2920 secs.            (also Slowest, Fastest, Average, Stddev)
//!   Requests/sec:	15480.3636
//! Response time histogram:
//!   0.0030 [937]	|∎∎∎∎∎               (11 buckets: upper bound in seconds, count)
//! Latency distribution:
//!   99.9% in 0.0200 secs.               (a percentile whose value is 0 is left out)
//! Sample in one second (unix latency throughput):     (only with --sample)
//! UNIX-SECOND,MIN-LATENCY-MS,AVG-LATENCY-MS,MAX-LATENCY-MS,AVG-THROUGHPUT
//! 1795237517,294.199µs,2.221825ms,10.065172ms,14469   (latencies are Go durations, not ms)
//! Error distribution:                   (only when a request failed)
//!   [2000]	etcdserver: user name is empty
//! ```
//!
//! Numbers are `%4.4f` by default and `%g` with `--precise` (so `1e-05` can appear). When every
//! request failed there is no Summary at all, only the error distribution, and the tool still
//! exits 0: [`judge`] is what catches that.
//!
//! [`parse`] never fails. Lines are read according to the section they are in; a line that does
//! not fit (progress bar, logs, a truncated line) goes to [`Report::unrecognised`].

use super::{RunExit, Validity};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Number of buckets the tool always prints in its response time histogram.
pub const HISTOGRAM_BUCKETS: usize = 11;

/// The percentiles the tool prints, in order. Only a prefix of them can be left out (a
/// percentile is omitted when its value is 0, and percentiles are non-decreasing).
pub const PERCENTILES: [f64; 8] = [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9];

/// Default of `--total` for the subcommands whose help we have checked (`put`, `stm`).
pub const DEFAULT_TOTAL: u64 = 10_000;

/// Everything found in one report. Absent sections are empty / `None`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// The `Summary:` section; `None` when there was no `Summary:` header.
    pub summary: Option<Summary>,
    /// Response time histogram: (bucket upper bound in seconds, count), in printed order.
    pub histogram: Vec<(f64, u64)>,
    /// Latency distribution: (percentile, seconds), sorted by percentile.
    pub percentiles: Vec<(f64, f64)>,
    /// The per-second table of `--sample`; `None` when the section is absent.
    pub samples: Option<Vec<Sample>>,
    /// Error distribution: (count, error text), most frequent first, then by text. (The tool
    /// prints a Go map, so its own order is random.)
    pub errors: Vec<(u64, String)>,
    /// Section headers that appeared more than once (the lines after them are not used).
    pub repeated_sections: Vec<String>,
    /// Non-blank lines that fit nowhere: progress bar, logs, truncated lines.
    pub unrecognised: Vec<String>,
}

/// The `Summary:` section. A field is `None` when its line was missing or unreadable.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub total_secs: Option<f64>,
    pub slowest_secs: Option<f64>,
    pub fastest_secs: Option<f64>,
    pub average_secs: Option<f64>,
    pub stddev_secs: Option<f64>,
    pub requests_per_sec: Option<f64>,
}

impl Summary {
    /// The report labels of the fields that are missing, in printed order.
    pub fn missing(&self) -> Vec<&'static str> {
        let fields = [
            ("Total", self.total_secs),
            ("Slowest", self.slowest_secs),
            ("Fastest", self.fastest_secs),
            ("Average", self.average_secs),
            ("Stddev", self.stddev_secs),
            ("Requests/sec", self.requests_per_sec),
        ];
        fields.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect()
    }

    fn slot(&mut self, label: &str) -> Option<&mut Option<f64>> {
        Some(match label {
            "Total" => &mut self.total_secs,
            "Slowest" => &mut self.slowest_secs,
            "Fastest" => &mut self.fastest_secs,
            "Average" => &mut self.average_secs,
            "Stddev" => &mut self.stddev_secs,
            "Requests/sec" => &mut self.requests_per_sec,
            _ => return None,
        })
    }
}

/// One row of the `--sample` table: requests that completed during one wall-clock second.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Sample {
    pub unix_second: i64,
    pub min_latency_secs: f64,
    pub avg_latency_secs: f64,
    pub max_latency_secs: f64,
    /// Requests completed in that second.
    pub avg_throughput: u64,
}

impl Report {
    /// Requests that succeeded: the sum of the histogram counts (failures are not in it).
    pub fn successful_requests(&self) -> u64 {
        self.histogram.iter().map(|&(_, n)| n).sum()
    }

    /// Requests that failed: the sum of the error distribution counts.
    pub fn failed_requests(&self) -> u64 {
        self.errors.iter().map(|(n, _)| n).sum()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Summary,
    Histogram,
    Latency,
    Samples,
    Errors,
    /// After a repeated header: lines are kept as unrecognised.
    Repeated,
}

const SAMPLE_TITLE: &str = "Sample in one second";
const SAMPLE_HEADER: &str = "UNIX-SECOND,MIN-LATENCY-MS,AVG-LATENCY-MS,MAX-LATENCY-MS,AVG-THROUGHPUT";

fn header(line: &str) -> Option<Section> {
    match line {
        "Summary:" => Some(Section::Summary),
        "Response time histogram:" => Some(Section::Histogram),
        "Latency distribution:" => Some(Section::Latency),
        "Error distribution:" => Some(Section::Errors),
        _ if line.starts_with(SAMPLE_TITLE) => Some(Section::Samples),
        _ => None,
    }
}

/// Parses the tool's stdout. Never fails; see [`judge`] for whether the result can be used.
pub fn parse(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut section = Section::None;
    let mut seen: Vec<Section> = Vec::new();
    for raw in super::lines(stdout) {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line == SAMPLE_HEADER && section == Section::Samples {
            continue;
        }
        let next = header(line).or((line == SAMPLE_HEADER).then_some(Section::Samples));
        if let Some(next) = next {
            if seen.contains(&next) {
                report.repeated_sections.push(line.to_owned());
                section = Section::Repeated;
            } else {
                seen.push(next);
                section = next;
                match next {
                    Section::Summary => report.summary = Some(Summary::default()),
                    Section::Samples => report.samples = Some(Vec::new()),
                    _ => {}
                }
            }
            continue;
        }
        let used = match section {
            Section::Summary => report.summary.as_mut().is_some_and(|s| summary_line(s, line)),
            Section::Histogram => push(&mut report.histogram, histogram_line(line)),
            Section::Latency => push(&mut report.percentiles, percentile_line(line)),
            Section::Samples => push(report.samples.get_or_insert_with(Vec::new), sample_line(line)),
            Section::Errors => push(&mut report.errors, error_line(raw)),
            Section::None | Section::Repeated => false,
        };
        if !used {
            report.unrecognised.push(raw.to_owned());
        }
    }
    report.percentiles.sort_by(|a, b| a.0.total_cmp(&b.0));
    report.errors.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    report
}

fn push<T>(into: &mut Vec<T>, item: Option<T>) -> bool {
    item.map(|item| into.push(item)).is_some()
}

/// A finite number as printed by `%4.4f` or `%g`.
fn number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `<number> secs.`
fn secs(s: &str) -> Option<f64> {
    number(s.trim().strip_suffix("secs.")?.trim_end())
}

/// `Total:\t1.2920 secs.` or `Requests/sec:\t15480.3636`. A repeated label is not used.
fn summary_line(summary: &mut Summary, line: &str) -> bool {
    let Some((label, value)) = line.split_once(':') else { return false };
    let value = if label == "Requests/sec" { number(value.trim()) } else { secs(value) };
    match (summary.slot(label), value) {
        (Some(slot @ None), Some(v)) => {
            *slot = Some(v);
            true
        }
        _ => false,
    }
}

/// `0.0030 [937]\t|∎∎∎∎∎`
fn histogram_line(line: &str) -> Option<(f64, u64)> {
    let mut fields = line.split_whitespace();
    let bound = number(fields.next()?)?;
    let count = fields.next()?.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?;
    match fields.next() {
        Some(bar) if !bar.starts_with('|') => None,
        _ if fields.next().is_some() => None,
        _ => Some((bound, count)),
    }
}

/// `99.9% in 0.0200 secs.`
fn percentile_line(line: &str) -> Option<(f64, f64)> {
    let (pct, rest) = line.split_once("% in ")?;
    Some((number(pct)?, secs(rest)?))
}

/// `1795237517,294.199µs,2.221825ms,10.065172ms,14469`
fn sample_line(line: &str) -> Option<Sample> {
    let fields: Vec<&str> = line.split(',').collect();
    let [second, min, avg, max, throughput] = fields[..] else { return None };
    Some(Sample {
        unix_second: second.parse().ok()?,
        min_latency_secs: parse_go_duration(min).ok()?,
        avg_latency_secs: parse_go_duration(avg).ok()?,
        max_latency_secs: parse_go_duration(max).ok()?,
        avg_throughput: throughput.parse().ok()?,
    })
}

/// `  [2000]\tetcdserver: user name is empty` (the untrimmed line: the text is kept as printed).
fn error_line(raw: &str) -> Option<(u64, String)> {
    let (count, text) = raw.trim_start().strip_prefix('[')?.split_once(']')?;
    let text = text.strip_prefix('\t').unwrap_or(text.trim_start());
    Some((count.parse().ok()?, text.to_owned()))
}

/// Why a Go duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Go duration {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for DurationError {}

/// Parses a Go `time.Duration` string (what `Duration.String` prints and `time.ParseDuration`
/// reads) into seconds: `294.199µs`, `2.221825ms`, `1.5s`, `1m2.5s`, `-3h`, `0`.
///
/// Units: `ns`, `us`/`µs` (U+00B5)/`μs` (U+03BC), `ms`, `s`, `m`, `h`. The value is computed
/// in whole nanoseconds like Go (fractions below 1ns are truncated), then divided by 1e9, so
/// `2.221825ms` gives exactly the same f64 as `0.002221825`. Like Go, more than
/// `i64::MAX` nanoseconds (about 292 years) is an error.
pub fn parse_go_duration(s: &str) -> Result<f64, DurationError> {
    let err = |reason| DurationError { input: s.to_owned(), reason };
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(err("empty"));
    }
    let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
    let mut total_ns: u128 = 0;
    while !rest.is_empty() {
        let n = digits(rest);
        let (int, after) = rest.split_at(n);
        rest = after;
        let mut frac = "";
        if let Some(after) = rest.strip_prefix('.') {
            let n = digits(after);
            (frac, rest) = after.split_at(n);
        }
        if int.is_empty() && frac.is_empty() {
            return Err(err("expected a number"));
        }
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let (unit, after) = rest.split_at(unit_len);
        rest = after;
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "" => return Err(err("missing unit")),
            _ => return Err(err("unknown unit")),
        };
        let too_big = || err("out of range");
        let int: u128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| too_big())? };
        let mut ns = int.checked_mul(unit_ns).ok_or_else(too_big)?;
        // Digits past the 24th are worth less than 1ns even in hours: truncated like Go does.
        let frac = &frac[..frac.len().min(24)];
        if !frac.is_empty() {
            let value: u128 = frac.parse().expect("at most 24 ASCII digits");
            ns += value * unit_ns / 10u128.pow(frac.len() as u32);
        }
        total_ns = total_ns.checked_add(ns).ok_or_else(too_big)?;
    }
    let limit = i64::MAX as u128 + u128::from(negative);
    if total_ns > limit {
        return Err(err("out of range"));
    }
    let secs = total_ns as f64 / 1e9;
    Ok(if negative { -secs } else { secs })
}

/// Global flags of the tool that take a value, so `--endpoints X` does not make `X` look like
/// the subcommand.
const GLOBAL_VALUE_FLAGS: [&str; 9] = [
    "--auto-sync-interval",
    "--cacert",
    "--cert",
    "--clients",
    "--conns",
    "--dial-timeout",
    "--endpoints",
    "--key",
    "--user",
];

/// The number of requests a benchmark invocation asks for, from its arguments (without or with
/// the program name first): `--total=N` or `--total N`, the last one winning as in pflag.
///
/// Without `--total`, `put` and `stm` default to [`DEFAULT_TOTAL`] (see their `--help`); for
/// other subcommands the default is not known here and the answer is `None`, as it is for a
/// value that is not a number (the tool itself would refuse it).
pub fn expected_total<S: AsRef<str>>(args: &[S]) -> Option<u64> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let mut subcommand = None;
    let mut total = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if arg == "--total" {
            total = args.get(i).copied();
            i += 1;
        } else if let Some(value) = arg.strip_prefix("--total=") {
            total = Some(value);
        } else if GLOBAL_VALUE_FLAGS.contains(&arg) {
            i += 1;
        } else if arg.starts_with('-') {
        } else if subcommand.is_none() && !is_program(arg) {
            subcommand = Some(arg);
        }
    }
    match (total, subcommand) {
        (Some(value), _) => value.parse().ok(),
        (None, Some("put" | "stm")) => Some(DEFAULT_TOTAL),
        (None, _) => None,
    }
}

fn is_program(arg: &str) -> bool {
    arg == "benchmark" || arg.ends_with("/benchmark")
}

/// Whether a run's report can be used. Every reason that holds is listed:
///
/// - the process timed out, exited non-zero or was killed ([`RunExit`]);
/// - any request failed (an error distribution), with the count and most frequent error;
/// - there is no Summary, or it lacks a line;
/// - with a Summary: the histogram does not have 11 buckets, or the latency distribution is
///   missing or cut off (only its low end may be left out);
/// - fewer successful requests (histogram total) than `expected_requests`;
/// - the output holds more than one report.
pub fn judge(report: &Report, expected_requests: Option<u64>, exit: RunExit) -> Validity {
    let mut reasons = exit.reasons();
    if let Some((_, most_frequent)) = report.errors.first() {
        let kinds = report.errors.len();
        let plural = if kinds == 1 { "" } else { "s" };
        reasons.push(format!(
            "{} requests failed with {kinds} distinct error{plural}, most frequent: {most_frequent}",
            report.failed_requests()
        ));
    }
    match &report.summary {
        None => reasons.push("no Summary section in the report".to_owned()),
        Some(summary) => {
            let missing = summary.missing();
            if !missing.is_empty() {
                reasons.push(format!("Summary incomplete, missing: {}", missing.join(", ")));
            }
            let buckets = report.histogram.len();
            if buckets != HISTOGRAM_BUCKETS {
                reasons.push(format!(
                    "response time histogram has {buckets} buckets, expected {HISTOGRAM_BUCKETS}"
                ));
            }
            let found: Vec<f64> = report.percentiles.iter().map(|&(p, _)| p).collect();
            if found.is_empty() {
                reasons.push("no latency distribution".to_owned());
            } else if !PERCENTILES.ends_with(&found) {
                let found: Vec<String> = found.iter().map(|p| format!("{p}%")).collect();
                reasons.push(format!(
                    "latency distribution cut off or odd: found {}",
                    found.join(" ")
                ));
            }
        }
    }
    if let Some(expected) = expected_requests {
        let ok = report.successful_requests();
        if ok < expected {
            reasons.push(format!("{ok} successful requests, expected {expected}"));
        }
    }
    if !report.repeated_sections.is_empty() {
        reasons.push(format!(
            "more than one report in the output (repeated: {})",
            report.repeated_sections.join(", ")
        ));
    }
    Validity::from_reasons(reasons)
}
