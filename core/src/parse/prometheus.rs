//! Prometheus's text exposition format (version 0.0.4), as etcd's `/metrics`
//! serves it: `# TYPE` lines and samples `name{label="value",...} value [timestamp]`.
//!
//! Hand-written, not a crate: on crates.io, `prometheus-parse` 0.2.5 merges
//! the series of one histogram that differ in labels, reads `le` only when it
//! is the first label and stamps samples with the clock; `nom-openmetrics`
//! 0.3.0 prints a debug line to stderr for every `+Inf` (every histogram's
//! last bucket) and has no histogram type; `openmetrics-parser` is LGPL-3.0;
//! the official `prometheus-client` only encodes. What is needed here is
//! about a hundred lines.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition: the declared type of each metric family and every
/// sample, in the order served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Family name -> `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Parses the whole text; the first line that is not the format is an
    /// error naming its line number.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let mut exposition = Exposition::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.split_whitespace();
                if let (Some("TYPE"), Some(name), Some(kind)) = (words.next(), words.next(), words.next()) {
                    exposition.types.insert(name.to_string(), kind.to_string());
                }
            } else if !line.is_empty() {
                exposition.samples.push(sample(line).map_err(|e| format!("line {}: {e}: {line}", i + 1))?);
            }
        }
        Ok(exposition)
    }

    /// The samples of metric `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the sample `name` without labels.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.named(name).find(|s| s.labels.is_empty()).map(|s| s.value)
    }
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("no metric name".to_string());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = label_set(inner, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = number(value).ok_or_else(|| format!("not a number: {value}"))?;
    // An optional timestamp (milliseconds) may follow; nothing else.
    if let Some(t) = fields.next() {
        t.parse::<i64>().map_err(|_| format!("not a timestamp: {t}"))?;
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".to_string());
    }
    Ok(Sample { name: name.to_string(), labels, value })
}

/// Reads `name="value",...}` into `labels`; returns what follows the `}`.
fn label_set<'a>(mut s: &'a str, labels: &mut BTreeMap<String, String>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let (name, after) = s.split_once('=').ok_or("a label without `=`")?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label name `{name}`"));
        }
        let after = after.trim_start().strip_prefix('"').ok_or("a label value without `\"`")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => return Err("a bad escape in a label value".to_string()),
                },
                Some((_, c)) => value.push(c),
                None => return Err("an unterminated label value".to_string()),
            }
        };
        labels.insert(name.to_string(), value);
        s = after[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// A Go-formatted float: also `+Inf`, `-Inf` and `NaN`.
pub fn number(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<Sample, String> {
        let e = Exposition::parse(line)?;
        assert_eq!(e.samples.len(), 1, "{line}");
        Ok(e.samples[0].clone())
    }

    #[test]
    fn sample_lines() {
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let cases: &[(&str, &str, BTreeMap<String, String>, f64)] = &[
            ("up 1", "up", labels(&[]), 1.0),
            ("go_memstats_alloc_bytes 1.2345e+07", "go_memstats_alloc_bytes", labels(&[]), 1.2345e7),
            (r#"x_bucket{le="0.001"} 26"#, "x_bucket", labels(&[("le", "0.001")]), 26.0),
            (r#"x_bucket{op="put",le="+Inf",} 3 1395066363000"#, "x_bucket", labels(&[("le", "+Inf"), ("op", "put")]), 3.0),
            (r#"a:b{ k = "v" } -2.5"#, "a:b", labels(&[("k", "v")]), -2.5),
            (r#"m{path="C:\\DIR\\F",err="no \"F\"\nhere"} 1"#, "m", labels(&[("err", "no \"F\"\nhere"), ("path", "C:\\DIR\\F")]), 1.0),
            (r#"m{v="a,b=c}"} 7"#, "m", labels(&[("v", "a,b=c}")]), 7.0),
            ("m\t+Inf", "m", labels(&[]), f64::INFINITY),
            ("m -Inf", "m", labels(&[]), f64::NEG_INFINITY),
        ];
        for (line, name, labels, value) in cases {
            let s = one(line).unwrap();
            assert_eq!((&s.name[..], &s.labels, s.value), (*name, labels, *value), "{line}");
        }
        assert!(one("m NaN").unwrap().value.is_nan());
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line_number() {
        let cases = [
            ("up", "line 1: no value: up"),
            ("up one", "line 1: not a number: one"),
            ("up inf", "line 1: not a number: inf"),
            ("{le=\"1\"} 2", "line 1: no metric name"),
            ("9up 1", "line 1: no metric name"),
            ("m{le=1} 2", "line 1: a label value without `\"`"),
            ("m{le=\"1} 2", "line 1: an unterminated label value"),
            ("m{l-e=\"1\"} 2", "line 1: bad label name `l-e`"),
            ("m{le=\"\\t\"} 2", "line 1: a bad escape in a label value"),
            ("m 1 later", "line 1: not a timestamp: later"),
            ("m 1 2 3", "line 1: text after the timestamp"),
        ];
        for (text, want) in cases {
            let err = Exposition::parse(text).unwrap_err();
            assert!(err.starts_with(want), "{text}: {err}");
        }
        assert!(Exposition::parse("# HELP x fine\nx 1\n\nx{\n").unwrap_err().starts_with("line 4:"));
    }

    #[test]
    fn types_come_from_type_lines_and_other_comments_are_ignored() {
        let e = Exposition::parse("# HELP h A histogram.\n# TYPE h histogram\n# a comment\nh_count 3\n# TYPE g gauge\ng 2\n").unwrap();
        assert_eq!(e.types, BTreeMap::from([("h".to_string(), "histogram".to_string()), ("g".to_string(), "gauge".to_string())]));
        assert_eq!((e.value("h_count"), e.value("g"), e.value("h")), (Some(3.0), Some(2.0), None));
    }
}
