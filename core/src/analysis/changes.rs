//! Change detection over series and the missing-data watchdog.
//!
//! Each series (see [`super::series`]) is a list of medians ordered by Go
//! commit time. Two models look at it: Horreum's relative difference of
//! means, point by point as if each point had just arrived
//! ([`crate::detect::relative_difference`]), and Otava-style E-divisive means
//! with a magnitude floor ([`crate::detect::e_divisive`]). Every change names
//! the blamed point, the last point before it, and so the range of Go commits
//! to look at: `before.sha..blamed.sha`.
//!
//! The watchdog reports a series whose newest valid point started more than
//! `max_age_days` before `now`, which the caller reads from its clock.

use serde::Serialize;

use super::series::{Point, Series, SeriesKey};
use super::time::parse_rfc3339;
use super::{fmt_pct, fmt_si};
use crate::detect::{self, EDivisive, RelativeDifference};
use crate::stats::Verdict;

/// Settings of [`detect`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectConfig {
    /// Horreum's rule, `None` to skip the model.
    pub relative: Option<RelativeDifference>,
    /// E-divisive settings (its `min_magnitude` is the floor), `None` to skip.
    pub edivisive: Option<EDivisive>,
    /// The watchdog limit.
    pub max_age_days: u32,
    /// Now, in seconds since the Unix epoch.
    pub now: f64,
    /// Only changes that became visible at or after this time (seconds since
    /// the epoch; the `started` of the point that revealed them) are reported.
    pub since: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    RelativeDifference,
    EDivisive,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::RelativeDifference => "relative difference",
            Model::EDivisive => "e-divisive",
        }
    }
}

/// One detected change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub series: SeriesKey,
    pub unit: String,
    pub model: Model,
    pub verdict: Verdict,
    /// Index of the blamed point in the series.
    pub index: usize,
    /// The first point after the change.
    pub blamed: Point,
    /// The last point before it; `None` when the blamed point is the first.
    pub before: Option<Point>,
    /// Horreum only: the newest point when the rule fired.
    pub detected_at: Option<usize>,
    /// Mean before and after (Horreum: previous mean and window aggregate).
    pub old: f64,
    pub new: f64,
    pub change_pct: f64,
    /// E-divisive only: the t-test p-value.
    pub p_value: Option<f64>,
    /// `before_sha..blamed_sha`, or the blamed SHA alone.
    pub commits: String,
    /// Horreum only: the commits its window covered when the rule fired,
    /// `sha before the window..newest sha`. Horreum blames the first window
    /// point beyond the old mean, which noise can put a point or two before
    /// the real step; the real step is inside this range.
    pub window_commits: Option<String>,
}

/// A series without a recent valid result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stale {
    pub series: SeriesKey,
    /// The newest valid point by start time.
    pub last: Point,
    pub age_days: f64,
    pub max_age_days: u32,
}

/// What [`detect`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub config: DetectConfig,
    pub series: usize,
    pub points: usize,
    pub changes: Vec<Change>,
    pub missing: Vec<Stale>,
}

impl Detection {
    pub fn regressions(&self) -> usize {
        self.changes.iter().filter(|c| c.verdict == Verdict::Regression).count()
    }

    /// A regression or missing data: what makes `detect` exit 1.
    pub fn alarm(&self) -> bool {
        self.regressions() > 0 || !self.missing.is_empty()
    }
}

fn started(p: &Point) -> f64 {
    parse_rfc3339(&p.started).unwrap_or(f64::NEG_INFINITY)
}

/// A change at `index` from mean `old` to `new`; model-specific fields unset.
fn change(s: &Series, model: Model, index: usize, (old, new): (f64, f64), verdict: Verdict) -> Change {
    let blamed = s.points[index].clone();
    let before = index.checked_sub(1).map(|i| s.points[i].clone());
    let commits = match &before {
        Some(b) => format!("{}..{}", b.go_sha, blamed.go_sha),
        None => blamed.go_sha.clone(),
    };
    Change {
        series: s.key.clone(),
        unit: s.unit.clone(),
        model,
        verdict,
        index,
        blamed,
        before,
        detected_at: None,
        old,
        new,
        change_pct: if old == 0.0 { 0.0 } else { (new / old - 1.0) * 100.0 },
        p_value: None,
        commits,
        window_commits: None,
    }
}

/// Changes found in one series by the configured models, oldest first.
pub fn series_changes(s: &Series, cfg: &DetectConfig) -> Vec<Change> {
    let values = s.values();
    let mut out = Vec::new();
    if let Some(rule) = &cfg.relative {
        for c in detect::relative_difference(&values, std::slice::from_ref(rule), s.direction) {
            let mut ch = change(s, Model::RelativeDifference, c.index, (c.old, c.new), c.verdict);
            ch.detected_at = Some(c.detected_at);
            let first = (c.detected_at + 1).saturating_sub(rule.window.max(1));
            let from = first.checked_sub(1).map_or(String::new(), |i| format!("{}..", s.points[i].go_sha));
            ch.window_commits = Some(format!("{from}{}", s.points[c.detected_at].go_sha));
            out.push(ch);
        }
    }
    if let Some(ed) = &cfg.edivisive {
        for c in detect::e_divisive(&values, ed, s.direction) {
            let mut ch = change(s, Model::EDivisive, c.index, (c.mean_before, c.mean_after), c.verdict);
            ch.p_value = Some(c.p_value);
            out.push(ch);
        }
    }
    if let Some(since) = cfg.since {
        out.retain(|c| started(&s.points[c.detected_at.unwrap_or(c.index)]) >= since);
    }
    out.retain(|c| c.verdict != Verdict::NoChange);
    out.sort_by_key(|c| (c.index, c.model));
    out
}

/// The watchdog for one series.
pub fn staleness(s: &Series, max_age_days: u32, now: f64) -> Option<Stale> {
    let last = s.points.iter().max_by(|a, b| started(a).total_cmp(&started(b)))?;
    let age_days = (now - started(last)) / 86_400.0;
    (age_days > f64::from(max_age_days)).then(|| Stale { series: s.key.clone(), last: last.clone(), age_days, max_age_days })
}

/// Runs both models and the watchdog over every series.
pub fn detect(series: &[Series], cfg: &DetectConfig) -> Detection {
    Detection {
        config: cfg.clone(),
        series: series.len(),
        points: series.iter().map(|s| s.points.len()).sum(),
        changes: series.iter().flat_map(|s| series_changes(s, cfg)).collect(),
        missing: series.iter().filter_map(|s| staleness(s, cfg.max_age_days, cfg.now)).collect(),
    }
}

fn point_text(p: &Point) -> String {
    format!("go {} {} {} (committed {}), run {} in {}", p.go_name, p.go_version, p.short_sha(), p.commit_time, p.started, p.path)
}

/// The one-line description of a change used in the terminal and on hover.
pub fn change_headline(c: &Change) -> String {
    let word = match c.verdict {
        Verdict::Regression => "REGRESSION",
        Verdict::Improvement => "improvement",
        Verdict::NoChange => "no change",
    };
    format!("{word} {} {} ({} -> {} {}) by {}", c.series, fmt_pct(c.change_pct), fmt_si(c.old), fmt_si(c.new), c.unit, c.model.name())
}

/// The plain-text rendering for a terminal.
pub fn render_text(d: &Detection) -> String {
    let mut out = format!("{} series, {} points; models:", d.series, d.points);
    if let Some(r) = &d.config.relative {
        out += &format!(
            " relative difference (threshold {}%, window {}, min previous {}, {:?})",
            r.threshold * 100.0,
            r.window,
            r.min_previous,
            r.aggregation
        );
    }
    if let Some(e) = &d.config.edivisive {
        out += &format!(
            "{} e-divisive (p <= {}, magnitude >= {}%, window {})",
            if d.config.relative.is_some() { ";" } else { "" },
            e.max_pvalue,
            e.min_magnitude * 100.0,
            e.window
        );
    }
    out.push('\n');
    for c in &d.changes {
        out += &format!("\n{}\n", change_headline(c));
        out += &format!("  blamed:  {}\n", point_text(&c.blamed));
        match &c.before {
            Some(b) => {
                out += &format!("  before:  {}\n", point_text(b));
                if b.go_sha == c.blamed.go_sha {
                    out += "  suspect: the same Go commit on both sides: noise or a change outside Go\n";
                } else {
                    out += &format!("  suspect Go commits: {}\n", c.commits);
                }
            }
            None => out += &format!("  suspect Go commits: up to {}\n", c.commits),
        }
        if let Some(w) = &c.window_commits {
            out += &format!("  window when it fired: {w}\n");
        }
    }
    for m in &d.missing {
        out += &format!(
            "\nMISSING DATA {}: no valid result for {:.1} days (limit {}); last {}\n",
            m.series,
            m.age_days,
            m.max_age_days,
            point_text(&m.last)
        );
    }
    let improvements = d.changes.iter().filter(|c| c.verdict == Verdict::Improvement).count();
    out += &format!(
        "\n{} regression{}, {} improvement{}, {} series with missing data\n",
        d.regressions(),
        if d.regressions() == 1 { "" } else { "s" },
        improvements,
        if improvements == 1 { "" } else { "s" },
        d.missing.len()
    );
    out
}

/// `--json`.
pub fn render_json(d: &Detection) -> String {
    serde_json::to_string_pretty(d).expect("the detection serialises") + "\n"
}
