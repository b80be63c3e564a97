//! The report printed by etcd's `tools/benchmark` (its `pkg/report`), and when to trust it.
//!
//! The report is a sequence of sections, each a header line followed by lines indented by two
//! spaces, a tab after the label (shown as spaces here):
//!
//! ```text
//! Summary:
//!   Total:    1.2920 secs.            (also Slowest, Fastest, Average, Stddev)
//!   Requests/sec:    15480.3636
//! Response time histogram:
//!   0.0030 [937]    |∎∎∎∎∎               (11 buckets: upper bound in seconds, count)
//! Latency distribution:
//!   99.9% in 0.0200 secs.               (a percentile whose value is 0 is left out)
//! Sample in one second (unix latency throughput):     (only with --sample)
//! UNIX-SECOND,MIN-LATENCY-MS,AVG-LATENCY-MS,MAX-LATENCY-MS,AVG-THROUGHPUT
//! 1795237517,294.199µs,2.221825ms,10.065172ms,14469   (latencies are Go durations, not ms)
//! Error distribution:                   (only when a request failed)
//!   [2000]    etcdserver: user name is empty
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
    let Some((label, value)) = line.split_once(':') else {
        return false;
    };
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
    let [second, min, avg, max, throughput] = fields[..] else {
        return None;
    };
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
const GLOBAL_VALUE_FLAGS: [&str; 9] =
    ["--auto-sync-interval", "--cacert", "--cert", "--clients", "--conns", "--dial-timeout", "--endpoints", "--key", "--user"];

/// What an invocation of the benchmark tool says, read once from its arguments (without or with
/// the program name first), so every reader agrees: `--user stm put` is a `put` whose user is
/// `stm`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation<'a> {
    /// The first word that is neither a flag nor a global flag's value: `put`, `stm`, ...
    pub subcommand: Option<&'a str>,
    /// The value of the last `--total`, as written.
    pub total: Option<&'a str>,
    /// Whether `--endpoints` is given.
    pub endpoints: bool,
}

impl<'a> Invocation<'a> {
    pub fn read<S: AsRef<str>>(args: &'a [S]) -> Invocation<'a> {
        let args: Vec<&'a str> = args.iter().map(AsRef::as_ref).collect();
        let mut inv = Invocation::default();
        let mut i = 0;
        while i < args.len() {
            let arg = args[i];
            i += 1;
            let name = arg.split_once('=').map_or(arg, |(n, _)| n);
            inv.endpoints |= name == "--endpoints";
            if arg == "--total" {
                // A trailing `--total` has no value: the tool would refuse it, and so do we.
                inv.total = Some(args.get(i).copied().unwrap_or(""));
                i += 1;
            } else if let Some(value) = arg.strip_prefix("--total=") {
                inv.total = Some(value);
            } else if GLOBAL_VALUE_FLAGS.contains(&arg) {
                i += 1;
            } else if inv.subcommand.is_none() && !arg.starts_with('-') && !is_program(arg) {
                inv.subcommand = Some(arg);
            }
        }
        inv
    }

    /// The number of requests the invocation asks for: `--total=N` or `--total N`, the last one
    /// winning as in pflag.
    ///
    /// Without `--total`, `put` and `stm` default to [`DEFAULT_TOTAL`] (see their `--help`); for
    /// other subcommands the default is not known here and the answer is `None`, as it is for a
    /// value that is not a number (the tool itself would refuse it).
    pub fn expected_total(&self) -> Option<u64> {
        match (self.total, self.subcommand) {
            (Some(value), _) => value.parse().ok(),
            (None, Some("put" | "stm")) => Some(DEFAULT_TOTAL),
            (None, _) => None,
        }
    }
}

/// [`Invocation::expected_total`] of `args`.
pub fn expected_total<S: AsRef<str>>(args: &[S]) -> Option<u64> {
    Invocation::read(args).expected_total()
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
                reasons.push(format!("response time histogram has {buckets} buckets, expected {HISTOGRAM_BUCKETS}"));
            }
            let found: Vec<f64> = report.percentiles.iter().map(|&(p, _)| p).collect();
            if found.is_empty() {
                reasons.push("no latency distribution".to_owned());
            } else if !PERCENTILES.ends_with(&found) {
                let found: Vec<String> = found.iter().map(|p| format!("{p}%")).collect();
                reasons.push(format!("latency distribution cut off or odd: found {}", found.join(" ")));
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
        reasons.push(format!("more than one report in the output (repeated: {})", report.repeated_sections.join(", ")));
    }
    Validity::from_reasons(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/../tests/fixtures/etcd-benchmark/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    fn summary(v: [f64; 6]) -> Option<Summary> {
        Some(Summary {
            total_secs: Some(v[0]),
            slowest_secs: Some(v[1]),
            fastest_secs: Some(v[2]),
            average_secs: Some(v[3]),
            stddev_secs: Some(v[4]),
            requests_per_sec: Some(v[5]),
        })
    }

    fn pcts(secs: [f64; 8]) -> Vec<(f64, f64)> {
        PERCENTILES.iter().copied().zip(secs).collect()
    }

    #[test]
    fn default_precision_fixture() {
        let got = parse(&fixture("put-3.6-default-precision.txt"));
        let want = Report {
            summary: summary([1.2920, 0.0227, 0.0008, 0.0063, 0.0028, 15480.3636]),
            histogram: vec![
                (0.0008, 1),
                (0.0030, 937),
                (0.0052, 7458),
                (0.0074, 5373),
                (0.0095, 3895),
                (0.0117, 1398),
                (0.0139, 571),
                (0.0161, 240),
                (0.0183, 82),
                (0.0205, 33),
                (0.0227, 12),
            ],
            percentiles: pcts([0.0034, 0.0043, 0.0057, 0.0080, 0.0098, 0.0115, 0.0153, 0.0200]),
            samples: None,
            errors: vec![],
            repeated_sections: vec![],
            unrecognised: vec![],
        };
        assert_eq!(got, want);
        assert_eq!(got.successful_requests(), 20_000);
        assert_eq!(judge(&got, Some(20_000), RunExit::SUCCESS), Validity::from_reasons(vec![]));
    }

    #[test]
    fn precise_fixture() {
        let got = parse(&fixture("stm-3.6-precise.txt"));
        let want = Report {
            summary: summary([0.882308402, 0.129536277, 0.002330806, 0.017270506097200034, 0.009243703531355911, 5666.952721594959]),
            histogram: vec![
                (0.002330806, 1),
                (0.015051353100000001, 2398),
                (0.027771900200000005, 2200),
                (0.040492447300000005, 248),
                (0.053212994400000005, 122),
                (0.06593354150000001, 22),
                (0.07865408860000002, 4),
                (0.09137463570000001, 4),
                (0.10409518280000002, 0),
                (0.11681572990000003, 0),
                (0.129536277, 1),
            ],
            percentiles: pcts([0.007505364, 0.01100632, 0.015638455, 0.021439988, 0.026351508, 0.033998188, 0.05061399, 0.081081998]),
            samples: None,
            errors: vec![],
            repeated_sections: vec![],
            unrecognised: vec![],
        };
        assert_eq!(got, want);
        assert!(judge(&got, Some(5_000), RunExit::SUCCESS).valid);
        let short = judge(&got, Some(5_001), RunExit::SUCCESS);
        assert_eq!(short.reasons, ["5000 successful requests, expected 5001"]);
    }

    #[test]
    fn sample_flag_fixture() {
        let got = parse(&fixture("put-3.6-sample-flag.txt"));
        assert_eq!(got.summary, summary([2.7175, 0.0174, 0.0003, 0.0023, 0.0012, 22078.9369]));
        let counts: Vec<u64> = got.histogram.iter().map(|&(_, n)| n).collect();
        assert_eq!(counts, [1, 31841, 21776, 5185, 825, 191, 121, 6, 7, 46, 1]);
        assert_eq!(got.histogram[10].0, 0.0174);
        assert_eq!(got.percentiles, pcts([0.0012, 0.0015, 0.0019, 0.0027, 0.0038, 0.0044, 0.0063, 0.0113]));
        let row = |unix_second, min, avg, max, avg_throughput| Sample {
            unix_second,
            min_latency_secs: min,
            avg_latency_secs: avg,
            max_latency_secs: max,
            avg_throughput,
        };
        let want = vec![
            row(1795237517, 0.000294199, 0.002221825, 0.010065172, 14469),
            row(1795237518, 0.000354168, 0.002137043, 0.017384409, 23313),
            row(1795237519, 0.000283833, 0.002356939, 0.01232365, 21134),
            row(1795237520, 0.000544221, 0.003111208, 0.012985068, 1084),
        ];
        assert_eq!(got.samples, Some(want));
        assert!(got.errors.is_empty() && got.unrecognised.is_empty() && got.repeated_sections.is_empty());
        assert!(judge(&got, Some(60_000), RunExit::SUCCESS).valid);
    }

    #[test]
    fn all_failed_fixture_is_invalid_despite_exit_0() {
        let got = parse(&fixture("put-3.6-all-requests-failed.txt"));
        let want = Report { errors: vec![(2000, "etcdserver: user name is empty".to_owned())], ..Report::default() };
        assert_eq!(got, want);
        assert_eq!(got.failed_requests(), 2000);
        let v = judge(&got, Some(2000), RunExit::SUCCESS);
        assert_eq!(
            v,
            Validity {
                valid: false,
                reasons: vec![
                    "2000 requests failed with 1 distinct error, most frequent: etcdserver: user name is empty".to_owned(),
                    "no Summary section in the report".to_owned(),
                    "0 successful requests, expected 2000".to_owned(),
                ],
            }
        );
        // Without an expected count it is still invalid.
        assert!(!judge(&got, None, RunExit::SUCCESS).valid);
    }

    #[test]
    fn stderr_is_all_junk() {
        let got = parse(&fixture("put-3.6-stderr-head.txt"));
        assert_eq!(got.summary, None);
        assert!(got.histogram.is_empty() && got.percentiles.is_empty() && got.errors.is_empty());
        assert_eq!(got.samples, None);
        let non_blank = fixture("put-3.6-stderr-head.txt").lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(got.unrecognised.len(), non_blank);
        assert_eq!(judge(&got, None, RunExit::SUCCESS).reasons, ["no Summary section in the report"]);
    }

    #[test]
    fn help_fixtures_give_the_default_total() {
        for name in ["benchmark-put-help.txt", "benchmark-stm-help.txt"] {
            let help = fixture(name);
            let line = help.lines().find(|l| l.trim_start().starts_with("--total int")).unwrap();
            assert!(line.ends_with(&format!("(default {DEFAULT_TOTAL})")), "{name}: {line}");
        }
    }

    #[test]
    fn expected_total_from_args() {
        let cases: &[(&[&str], Option<u64>)] = &[
            (&["put", "--total=500000"], Some(500_000)),
            (&["--conns=100", "--clients=1000", "put", "--key-size=8", "--total", "20000"], Some(20_000)),
            (&["--precise", "--conns=100", "--clients=1000", "stm", "--keys=1000"], Some(10_000)),
            (&["benchmark", "--target-leader", "put", "--val-size=256"], Some(10_000)),
            (&["/usr/local/bin/benchmark", "stm"], Some(10_000)),
            // `--endpoints X`: X is the flag's value, not the subcommand.
            (&["--endpoints", "put", "range", "k"], None),
            (&["--endpoints", "127.0.0.1:2379", "put"], Some(10_000)),
            (&["range", "k"], None),
            (&["watch"], None),
            (&[], None),
            (&["put", "--total=1", "--total=7"], Some(7)),
            (&["put", "--total=many"], None),
            (&["put", "--total"], None),
            // Global flags may come after the subcommand.
            (&["stm", "--total=5000", "--precise"], Some(5000)),
        ];
        for (args, want) in cases {
            assert_eq!(expected_total(args), *want, "{args:?}");
        }
        let owned: Vec<String> = vec!["put".into(), "--total=3".into()];
        assert_eq!(expected_total(&owned), Some(3));
    }

    /// The end of the `99.9%` line: any cut before it loses information and must be invalid,
    /// any cut after it must still be valid.
    fn cut_off(fixture_name: &str, expected: u64) {
        let text = fixture(fixture_name);
        let end = text.find("99.9% in ").unwrap();
        let end = end + text[end..].find("secs.").unwrap() + "secs.".len();
        for cut in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let v = judge(&parse(&text[..cut]), Some(expected), RunExit::SUCCESS);
            assert_eq!(v.valid, cut >= end, "{fixture_name} cut at {cut}: {v:?}");
        }
    }

    #[test]
    fn every_cut_off_report_is_invalid() {
        cut_off("put-3.6-default-precision.txt", 20_000);
        cut_off("stm-3.6-precise.txt", 5_000);
        cut_off("put-3.6-sample-flag.txt", 60_000);
    }

    #[test]
    fn cut_off_reasons() {
        let text = fixture("put-3.6-default-precision.txt");
        let cut = |marker: &str| {
            let report = parse(&text[..text.find(marker).unwrap()]);
            judge(&report, Some(20_000), RunExit::SUCCESS).reasons
        };
        assert_eq!(cut("Summary:"), ["no Summary section in the report", "0 successful requests, expected 20000"]);
        assert_eq!(
            cut("Stddev"),
            [
                "Summary incomplete, missing: Stddev, Requests/sec",
                "response time histogram has 0 buckets, expected 11",
                "no latency distribution",
                "0 successful requests, expected 20000",
            ]
        );
        assert_eq!(
            cut("0.0095 [3895]"),
            ["response time histogram has 4 buckets, expected 11", "no latency distribution", "13769 successful requests, expected 20000",]
        );
        assert_eq!(cut("95% in"), ["latency distribution cut off or odd: found 10% 25% 50% 75% 90%"]);
    }

    #[test]
    fn omitted_low_percentiles_are_fine() {
        let text = fixture("put-3.6-default-precision.txt").replace("  10% in 0.0034 secs.\n", "").replace("  25% in 0.0043 secs.\n", "");
        let report = parse(&text);
        assert_eq!(report.percentiles.len(), 6);
        assert!(judge(&report, Some(20_000), RunExit::SUCCESS).valid);
        // A hole in the middle is not something the tool prints.
        let holed = fixture("put-3.6-default-precision.txt").replace("  50% in 0.0057 secs.\n", "");
        let v = judge(&parse(&holed), Some(20_000), RunExit::SUCCESS);
        assert_eq!(v.reasons, ["latency distribution cut off or odd: found 10% 25% 75% 90% 95% 99% 99.9%"]);
    }

    #[test]
    fn partial_failure_and_bad_exit_give_every_reason() {
        // A full report followed by an error distribution, as when some requests fail.
        let mut text = fixture("put-3.6-default-precision.txt").replace("  0.0008 [1]\t|", "  0.0008 [0]\t|");
        text.push_str("\nError distribution:\n  [1]\trpc error: code = Unavailable desc = b\n");
        text.push_str("  [3]\trpc error: code = DeadlineExceeded desc = context deadline exceeded\n");
        text.push_str("  [1]\trpc error: code = Unavailable desc = a\n");
        let report = parse(&text);
        assert_eq!(
            report.errors,
            [
                (3, "rpc error: code = DeadlineExceeded desc = context deadline exceeded".to_owned()),
                (1, "rpc error: code = Unavailable desc = a".to_owned()),
                (1, "rpc error: code = Unavailable desc = b".to_owned()),
            ]
        );
        let v = judge(&report, Some(20_000), RunExit { code: Some(1), timed_out: true });
        assert_eq!(
            v.reasons,
            [
                "run timed out and was stopped",
                "exited with code 1",
                "5 requests failed with 3 distinct errors, most frequent: rpc error: code = DeadlineExceeded desc = context deadline exceeded",
                "19999 successful requests, expected 20000",
            ]
        );
    }

    #[test]
    fn junk_between_sections_and_progress_bar() {
        let text = fixture("put-3.6-default-precision.txt");
        let noisy = format!(
            " 0 / 20000 [----------------------]   0.00%\r 20000 / 20000 Boooooo! 100.00% 1s\n{}",
            text.replace("Response time histogram:\n", "Response time histogram:\n2026/11/21 05:03:54 INFO: [core] x\n")
        );
        let report = parse(&noisy);
        assert_eq!(
            report.unrecognised,
            [" 0 / 20000 [----------------------]   0.00%", " 20000 / 20000 Boooooo! 100.00% 1s", "2026/11/21 05:03:54 INFO: [core] x",]
        );
        assert_eq!(Report { unrecognised: vec![], ..report.clone() }, parse(&text));
        assert!(judge(&report, Some(20_000), RunExit::SUCCESS).valid);
    }

    #[test]
    fn two_reports_are_invalid() {
        let text = fixture("put-3.6-default-precision.txt");
        let report = parse(&format!("{text}{text}"));
        assert_eq!(report.summary, parse(&text).summary);
        assert_eq!(report.histogram.len(), 11);
        assert_eq!(report.repeated_sections, ["Summary:", "Response time histogram:", "Latency distribution:"]);
        let v = judge(&report, Some(20_000), RunExit::SUCCESS);
        assert_eq!(v.reasons, ["more than one report in the output (repeated: Summary:, Response time histogram:, Latency distribution:)"]);
    }

    #[test]
    fn precise_exponent_notation() {
        let text = "\nSummary:\n  Total:\t1.5e-05 secs.\n  Slowest:\t2e-05 secs.\n  Fastest:\t1e-05 secs.\n  \
                    Average:\t1.5e-05 secs.\n  Stddev:\t0 secs.\n  Requests/sec:\t1.2345678e+06\n";
        let report = parse(text);
        assert_eq!(report.summary, summary([1.5e-5, 2e-5, 1e-5, 1.5e-5, 0.0, 1_234_567.8]));
        assert!(report.unrecognised.is_empty());
    }

    #[test]
    fn unreadable_values_are_not_guessed() {
        let text = "Summary:\n  Total:\tNaN secs.\n  Slowest:\t0.1\n  Fastest:\t0.1 secs.\n  Fastest:\t0.2 secs.\n  \
                    Bogus:\t1 secs.\nResponse time histogram:\n  0.1 [x]\t|\n  0.1 [2]\t|\n  0.2 [3] junk\n\
                    Latency distribution:\n  99.9% in 0.1\n";
        let report = parse(text);
        let s = report.summary.clone().unwrap();
        assert_eq!((s.total_secs, s.slowest_secs, s.fastest_secs), (None, None, Some(0.1)));
        assert_eq!(report.histogram, [(0.1, 2)]);
        assert!(report.percentiles.is_empty());
        assert_eq!(
            report.unrecognised,
            [
                "  Total:\tNaN secs.",
                "  Slowest:\t0.1",
                "  Fastest:\t0.2 secs.",
                "  Bogus:\t1 secs.",
                "  0.1 [x]\t|",
                "  0.2 [3] junk",
                "  99.9% in 0.1",
            ]
        );
    }

    #[test]
    fn report_serialises_exactly() {
        // serde_json writes the shortest representation that reads back to the same f64, so
        // the numbers printed by `--precise` appear as printed.
        let json = serde_json::to_string(&parse(&fixture("stm-3.6-precise.txt"))).unwrap();
        for printed in ["0.015051353100000001", "0.09137463570000001", "0.017270506097200034", "5666.952721594959"] {
            assert!(json.contains(printed), "{printed} not in {json}");
        }
        let json = serde_json::to_value(parse(&fixture("put-3.6-default-precision.txt"))).unwrap();
        assert_eq!(json["percentiles"][7], serde_json::json!([99.9, 0.02]));
        assert_eq!(json["histogram"][1], serde_json::json!([0.003, 937]));
        assert_eq!(json["summary"]["requests_per_sec"], serde_json::json!(15480.3636));
    }

    #[test]
    fn report_round_trips_through_json() {
        // stm-3.6-precise.txt needs serde_json's `float_roundtrip` feature: without it the
        // reader can be 1 ulp off on long `%g` numbers such as 0.015051353100000001.
        for name in ["stm-3.6-precise.txt", "put-3.6-default-precision.txt", "put-3.6-sample-flag.txt", "put-3.6-all-requests-failed.txt"] {
            let report = parse(&fixture(name));
            let json = serde_json::to_string(&report).unwrap();
            assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), report, "{name}");
        }
    }

    #[test]
    fn go_durations() {
        let ok: &[(&str, f64)] = &[
            ("0", 0.0),
            ("0s", 0.0),
            ("-0", 0.0),
            ("1ns", 1e-9),
            ("294.199µs", 0.000294199), // U+00B5, what Duration.String prints
            ("294.199μs", 0.000294199), // U+03BC, also accepted by Go
            ("294.199us", 0.000294199),
            ("2.221825ms", 0.002221825),
            ("12.32365ms", 0.01232365),
            ("1.5s", 1.5),
            ("1m2.5s", 62.5),
            ("1h0m0s", 3600.0),
            ("2h45m", 9900.0),
            ("-1.5s", -1.5),
            ("+3s", 3.0),
            (".5s", 0.5),
            ("1.s", 1.0),
            ("1.0000000001s", 1.0), // below 1ns: truncated, like Go
            ("1.9999999999ns", 1e-9),
            ("100ms200us", 0.1002),
            ("2562047h47m16.854775807s", i64::MAX as f64 / 1e9),
        ];
        for &(input, want) in ok {
            assert_eq!(parse_go_duration(input), Ok(want), "{input}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "empty"),
            ("-", "empty"),
            ("1", "missing unit"),
            ("5", "missing unit"),
            ("1.5", "missing unit"),
            ("s", "expected a number"),
            (".s", "expected a number"),
            ("1x", "unknown unit"),
            ("1 s", "unknown unit"),
            ("1S", "unknown unit"),
            ("1ms-2", "unknown unit"),
            ("2562047h47m16.854775808s", "out of range"),
            ("99999999999999999999999999999999999999999h", "out of range"),
        ];
        for &(input, reason) in bad {
            assert_eq!(parse_go_duration(input), Err(DurationError { input: input.to_owned(), reason }), "{input}");
        }
        assert_eq!(parse_go_duration("1x").unwrap_err().to_string(), r#"invalid Go duration "1x": unknown unit"#);
    }
}
