//! benchstat-style comparison of two sides (A = old, B = new).
//!
//! A side is a set of result documents. Each side pools the valid-run values
//! of all its documents per (metric, workload@ref, benchmark), so three
//! files of five runs each are one sample of fifteen. Rows match on that key;
//! there is one table per metric, with a row per cell and the geometric mean
//! of the B/A median ratios over the rows that have both sides.
//!
//! The statistics are [`crate::stats::compare`]: medians with their 95%
//! confidence interval, a two-sided Mann-Whitney U test, a change counted as
//! significant when `p <= alpha` and `|delta| >= min_change`.
//!
//! Beside that unpaired table, runs that were paired are compared pair by
//! pair ([`crate::stats::paired_compare`]): two documents in one invocation
//! directory (`results/<time>/`), one on each side, whose cells differ only
//! in the Go toolchain, were interleaved run by run, so run `i` of one pairs
//! with run `i` of the other when both are valid. Metrics whose samples have
//! far outliers or several modes are flagged, because their medians mislead.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{fmt_pct, fmt_si, workload_label, Loaded};
use crate::stats::{self, CompareConfig, Direction, PairedComparison, Summary, Verdict};

/// Documents a side selector names: the Go entry's name or ref
/// (`master`, `go1.27.3`), or a prefix (at least 4 hex digits) of the image
/// or toolchain image hash. Names win over hash prefixes. A result file as a
/// selector is the shell's business: it reads the file and passes it alone.
pub fn select<'a>(docs: &'a [Loaded], selector: &str) -> Vec<&'a Loaded> {
    let by_name: Vec<&Loaded> =
        docs.iter().filter(|l| l.doc.provenance.go.name == selector || l.doc.provenance.go.git_ref == selector).collect();
    if !by_name.is_empty() {
        return by_name;
    }
    let hex = selector.len() >= 4 && selector.bytes().all(|c| c.is_ascii_hexdigit());
    if !hex {
        return Vec::new();
    }
    let prefix = selector.to_ascii_lowercase();
    let hash = |h: &str| h.strip_prefix("sha256:").unwrap_or(h).starts_with(&prefix);
    docs.iter().filter(|l| hash(&l.doc.provenance.image.hash) || hash(&l.doc.provenance.toolchain_image.hash)).collect()
}

/// Settings of [`compare`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TableConfig {
    pub alpha: f64,
    /// Minimum magnitude of a significant change, in percent.
    pub min_change_pct: f64,
}

impl Default for TableConfig {
    fn default() -> TableConfig {
        TableConfig { alpha: stats::DEFAULT_ALPHA, min_change_pct: 0.0 }
    }
}

/// The whole comparison, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    pub a: SideInfo,
    pub b: SideInfo,
    pub alpha: f64,
    pub min_change_pct: f64,
    pub tables: Vec<Table>,
}

/// What a side is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideInfo {
    /// The selector as given.
    pub label: String,
    /// The result files pooled, sorted.
    pub files: Vec<String>,
    /// Distinct toolchains: `name version sha12`, sorted.
    pub go: Vec<String>,
}

/// One metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub metric: String,
    pub unit: String,
    pub direction: Direction,
    pub rows: Vec<Row>,
    /// Over the rows with both sides and positive medians; `None` if there are none.
    pub geomean: Option<Geomean>,
}

/// One cell of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub workload: String,
    pub benchmark: String,
    pub a: Option<Summary>,
    pub b: Option<Summary>,
    /// `(b.median / a.median - 1) * 100`.
    pub delta_pct: Option<f64>,
    /// Two-sided Mann-Whitney U p-value.
    pub p_value: Option<f64>,
    /// `p <= alpha` and the change is at least `min_change_pct`.
    pub significant: bool,
    pub verdict: Verdict,
    /// Why the row says nothing or less than it might: a missing side, too
    /// few runs to ever reach `alpha`, a change below `--min-change`.
    pub note: Option<String>,
    /// B/A pair by pair, when at least two runs were paired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired: Option<PairedComparison>,
    /// `A: 1 outlier; B: multimodal`: samples whose median misleads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Geomean {
    pub a: f64,
    pub b: f64,
    pub delta_pct: f64,
}

impl CompareReport {
    /// Whether any row is a significant regression.
    pub fn has_regression(&self) -> bool {
        self.tables.iter().flat_map(|t| &t.rows).any(|r| r.verdict == Verdict::Regression)
    }
}

#[derive(Default)]
struct Pool {
    unit: String,
    direction: Option<Direction>,
    values: Vec<f64>,
}

fn pool(side: &[&Loaded]) -> BTreeMap<(String, String, String), Pool> {
    let mut pools: BTreeMap<(String, String, String), Pool> = BTreeMap::new();
    for l in side {
        for (name, metric) in &l.doc.metrics {
            let p = pools.entry((name.clone(), workload_label(&l.doc), l.doc.benchmark.clone())).or_default();
            p.unit = metric.unit.clone();
            p.direction = Some(metric.direction);
            p.values.extend(&metric.values);
        }
    }
    pools
}

/// The metric's values of the paired runs of a row, in pair order: for each
/// A document of the row, the one B document of the row in the same
/// directory whose cell differs only in its first (Go) part, matched by run
/// index, both runs valid.
fn paired_values(a: &[&Loaded], b: &[&Loaded], (metric, workload, benchmark): &(String, String, String)) -> (Vec<f64>, Vec<f64>) {
    let of_row = |l: &&&Loaded| &workload_label(&l.doc) == workload && &l.doc.benchmark == benchmark && l.doc.metrics.contains_key(metric);
    let dir = |l: &Loaded| l.path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
    let rest = |l: &Loaded| l.doc.cell.split_once('/').map(|(_, r)| r.to_string());
    let (mut xa, mut xb) = (Vec::new(), Vec::new());
    for da in a.iter().filter(of_row) {
        let partners: Vec<&&Loaded> = b
            .iter()
            .filter(of_row)
            .filter(|db| db.path != da.path && dir(db) == dir(da) && rest(db).is_some() && rest(db) == rest(da))
            .collect();
        let [db] = partners[..] else { continue };
        for ra in da.doc.valid_runs() {
            let Some(rb) = db.doc.valid_runs().find(|r| r.index == ra.index) else { continue };
            if let (Some(&va), Some(&vb)) = (ra.values.get(metric), rb.values.get(metric)) {
                xa.push(va);
                xb.push(vb);
            }
        }
    }
    (xa, xb)
}

fn shape_text(va: &[f64], vb: &[f64]) -> Option<String> {
    let parts: Vec<String> =
        [("A", va), ("B", vb)].iter().filter_map(|(side, v)| stats::shape(v).describe().map(|d| format!("{side}: {d}"))).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn side_info(label: &str, side: &[&Loaded]) -> SideInfo {
    let files: BTreeSet<String> = side.iter().map(|l| l.path.clone()).collect();
    let go: BTreeSet<String> = side
        .iter()
        .map(|l| {
            let g = &l.doc.provenance.go;
            format!("{} {} {}", g.name, g.version, &g.sha[..g.sha.len().min(12)])
        })
        .collect();
    SideInfo { label: label.to_string(), files: files.into_iter().collect(), go: go.into_iter().collect() }
}

/// Compares side A (old) with side B (new).
pub fn compare(a_label: &str, a: &[&Loaded], b_label: &str, b: &[&Loaded], cfg: &TableConfig) -> CompareReport {
    let (pa, pb) = (pool(a), pool(b));
    let keys: BTreeSet<&(String, String, String)> = pa.keys().chain(pb.keys()).collect();
    let mut tables: Vec<Table> = Vec::new();
    for key in keys {
        let (metric, workload, benchmark) = key;
        let (sa, sb) = (pa.get(key), pb.get(key));
        let meta = sb.or(sa).expect("key from one of the sides");
        let direction = meta.direction.unwrap_or(Direction::LowerIsBetter);
        if tables.last().is_none_or(|t| &t.metric != metric) {
            tables.push(Table { metric: metric.clone(), unit: meta.unit.clone(), direction, rows: Vec::new(), geomean: None });
        }
        let va = sa.map_or(&[][..], |p| &p.values[..]);
        let vb = sb.map_or(&[][..], |p| &p.values[..]);
        let ccfg = CompareConfig { alpha: cfg.alpha, min_change: cfg.min_change_pct / 100.0, direction };
        let (pa_vals, pb_vals) = paired_values(a, b, key);
        let paired = if pa_vals.len() >= 2 { stats::paired_compare(&pa_vals, &pb_vals) } else { None };
        let shape = shape_text(va, vb);
        let row = match stats::compare(va, vb, &ccfg) {
            Some(c) => {
                let note = if stats::mwu_min_p(va.len(), vb.len()) > cfg.alpha {
                    Some(format!("too few runs: {}+{} can never reach p <= {}", va.len(), vb.len(), cfg.alpha))
                } else if c.p_value <= cfg.alpha && !c.significant {
                    Some(format!("below --min-change {}%", cfg.min_change_pct))
                } else {
                    None
                };
                Row {
                    workload: workload.clone(),
                    benchmark: benchmark.clone(),
                    a: Some(c.old),
                    b: Some(c.new),
                    delta_pct: c.delta_pct,
                    p_value: Some(c.p_value),
                    significant: c.significant,
                    verdict: c.verdict,
                    note,
                    paired,
                    shape,
                }
            }
            None => Row {
                workload: workload.clone(),
                benchmark: benchmark.clone(),
                a: stats::summarize(va),
                b: stats::summarize(vb),
                delta_pct: None,
                p_value: None,
                significant: false,
                verdict: Verdict::NoChange,
                note: Some(match (va.is_empty(), vb.is_empty()) {
                    (true, true) => "no valid runs on either side".to_string(),
                    (true, false) => "no valid runs in A".to_string(),
                    _ => "no valid runs in B".to_string(),
                }),
                paired,
                shape,
            },
        };
        tables.last_mut().expect("pushed above").rows.push(row);
    }
    for t in &mut tables {
        let pairs: Vec<(f64, f64)> =
            t.rows.iter().filter_map(|r| Some((r.a.as_ref()?.median, r.b.as_ref()?.median))).filter(|&(x, y)| x > 0.0 && y > 0.0).collect();
        let ga = stats::geomean(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
        let gb = stats::geomean(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
        t.geomean = ga.zip(gb).map(|(a, b)| Geomean { a, b, delta_pct: (b / a - 1.0) * 100.0 });
    }
    CompareReport { a: side_info(a_label, a), b: side_info(b_label, b), alpha: cfg.alpha, min_change_pct: cfg.min_change_pct, tables }
}

/// What a row says, in words.
pub fn marker(r: &Row) -> String {
    match (r.verdict, r.p_value) {
        (Verdict::Regression, _) => "REGRESSION".to_string(),
        (Verdict::Improvement, _) => "improvement".to_string(),
        (_, None) => "-".to_string(),
        (_, Some(_)) if r.significant => "changed".to_string(),
        (_, Some(_)) => "~ not significant".to_string(),
    }
}

fn ci_text(s: &Summary) -> String {
    match (s.ci_low, s.ci_high) {
        (Some(l), Some(h)) => format!("[{}, {}]", fmt_si(l), fmt_si(h)),
        _ => "n<6, no CI".to_string(),
    }
}

fn direction_text(d: Direction) -> &'static str {
    match d {
        Direction::HigherIsBetter => "higher is better",
        Direction::LowerIsBetter => "lower is better",
    }
}

/// The cells of one table as rows of text, header first, then the
/// geomean row, for the terminal and the HTML report.
pub fn table_cells(t: &Table) -> Vec<[String; 9]> {
    let mut out = vec![[
        "cell".to_string(),
        "A median".to_string(),
        "A 95% CI".to_string(),
        "B median".to_string(),
        "B 95% CI".to_string(),
        "delta".to_string(),
        "p".to_string(),
        "n".to_string(),
        "verdict".to_string(),
    ]];
    for r in &t.rows {
        let med = |s: &Option<Summary>| s.as_ref().map_or("-".to_string(), |s| fmt_si(s.median));
        let ci = |s: &Option<Summary>| s.as_ref().map_or("-".to_string(), ci_text);
        let n = |s: &Option<Summary>| s.as_ref().map_or(0, |s| s.n);
        let mut verdict = marker(r);
        for note in [&r.note, &r.shape].into_iter().flatten() {
            verdict = format!("{verdict} ({note})");
        }
        out.push([
            format!("{}/{}", r.workload, r.benchmark),
            med(&r.a),
            ci(&r.a),
            med(&r.b),
            ci(&r.b),
            r.delta_pct.map_or("-".to_string(), fmt_pct),
            r.p_value.map_or("-".to_string(), fmt_p),
            format!("{}+{}", n(&r.a), n(&r.b)),
            verdict,
        ]);
    }
    if let Some(g) = &t.geomean {
        out.push([
            "geomean".to_string(),
            fmt_si(g.a),
            String::new(),
            fmt_si(g.b),
            String::new(),
            fmt_pct(g.delta_pct),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    out
}

/// A p-value with three decimals, or in scientific notation below 0.001.
pub fn fmt_p(p: f64) -> String {
    if p >= 0.001 || p == 0.0 {
        format!("{p:.3}")
    } else {
        format!("{p:.1e}")
    }
}

/// The table title: `rps [req/s, higher is better]`.
pub fn table_title(t: &Table) -> String {
    format!("{} [{}, {}]", t.metric, t.unit, direction_text(t.direction))
}

/// The plain-text rendering for a terminal.
pub fn render_text(r: &CompareReport) -> String {
    let mut out = String::new();
    for (name, side) in [("A", &r.a), ("B", &r.b)] {
        out += &format!(
            "{name}: {} ({} file{}; {})\n",
            side.label,
            side.files.len(),
            if side.files.len() == 1 { "" } else { "s" },
            super::report::toolchains_text(&side.go)
        );
    }
    out += &format!("significant: Mann-Whitney U p <= {} and |delta| >= {}%; medians with 95% CI\n", r.alpha, r.min_change_pct);
    for t in &r.tables {
        out += &format!("\n{}\n", table_title(t));
        let cells = table_cells(t);
        let mut widths = [0usize; 9];
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        for row in &cells {
            let mut line = String::new();
            for (i, (w, c)) in widths.iter().zip(row).enumerate() {
                let pad = w - c.chars().count();
                // Text columns left-aligned, numbers right-aligned.
                if i == 0 || i == 8 {
                    line += c;
                    line += &" ".repeat(pad);
                } else {
                    line += &" ".repeat(pad);
                    line += c;
                }
                line += "  ";
            }
            out += line.trim_end();
            out.push('\n');
        }
        out += &paired_text(t);
    }
    if r.tables.is_empty() {
        out += "\nno metrics to compare\n";
    }
    out
}

/// The paired lines under a table, when any row has paired runs.
fn paired_text(t: &Table) -> String {
    let rows: Vec<(&Row, &PairedComparison)> = t.rows.iter().filter_map(|r| Some((r, r.paired.as_ref()?))).collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "paired runs (same invocation, by run index): median B/A ratio, 95% CI, Wilcoxon signed-rank p
",
    );
    for (r, p) in rows {
        out += &format!("  {}/{}  {}\n", r.workload, r.benchmark, p.describe());
    }
    out
}

/// `--json`.
pub fn render_json(r: &CompareReport) -> String {
    serde_json::to_string_pretty(r).expect("the report serialises") + "\n"
}

/// `--csv`: one line per row, with a header.
pub fn render_csv(r: &CompareReport) -> String {
    let mut out = String::from(
        "metric,unit,direction,workload,benchmark,a_n,a_median,a_ci_low,a_ci_high,b_n,b_median,b_ci_low,b_ci_high,delta_pct,p_value,significant,verdict\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for t in &r.tables {
        for row in &t.rows {
            let side = |s: &Option<Summary>| {
                let s = s.as_ref();
                [
                    s.map_or(String::new(), |s| s.n.to_string()),
                    num(s.map(|s| s.median)),
                    num(s.and_then(|s| s.ci_low)),
                    num(s.and_then(|s| s.ci_high)),
                ]
            };
            let mut fields = vec![
                t.metric.clone(),
                t.unit.clone(),
                serde_json::to_value(t.direction).expect("enum").as_str().unwrap_or_default().to_string(),
                row.workload.clone(),
                row.benchmark.clone(),
            ];
            fields.extend(side(&row.a));
            fields.extend(side(&row.b));
            fields.push(num(row.delta_pct));
            fields.push(num(row.p_value));
            fields.push(row.significant.to_string());
            fields.push(serde_json::to_value(row.verdict).expect("enum").as_str().unwrap_or_default().to_string());
            out += &csv_line(&fields);
        }
    }
    out
}

/// One CSV record (RFC 4180 quoting) with its line break.
pub fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
        .collect();
    quoted.join(",") + "\n"
}
