//! The static HTML report: `index.html` (summary, the compare table of the
//! two newest Go refs, a list of every series with a sparkline) and one page
//! per series with its plot, its changes and its points.
//!
//! Every page is self-contained: inline CSS and SVG, no JavaScript, no
//! external resources, relative links only, so it works from `file://`.
//! Pages are flat in one directory; result files are linked through
//! `root_href`, the relative path from that directory to the project root.

use std::collections::{BTreeMap, BTreeSet};

use super::changes::{change_headline, Change, Stale};
use super::compare::{self, CompareReport};
use super::series::{Point, Series, SeriesKey};
use super::svg::{self, esc};
use super::time::parse_rfc3339;
use super::{fmt_pct, fmt_si, Loaded};
use crate::stats::{Direction, Verdict};

/// What the report shows.
pub struct ReportInput<'a> {
    pub series: &'a [Series],
    pub changes: &'a [Change],
    pub missing: &'a [Stale],
    /// The compare table between the two newest Go refs, if there are two.
    pub compare: Option<&'a CompareReport>,
    /// Relative path from the report directory to the project root, ending
    /// in `/` unless empty (`../`).
    pub root_href: &'a str,
    /// A line under the title, e.g. what the report was made from.
    pub subtitle: &'a str,
}

/// The newest commit of each of the two Go names whose newest commits are
/// the newest, as ((name, sha) older, (name, sha) newer): what the report's
/// compare table shows, so it compares two toolchains, not two histories.
pub fn newest_two_go(docs: &[Loaded]) -> Option<((String, String), (String, String))> {
    let mut newest: BTreeMap<&str, (f64, &str)> = BTreeMap::new();
    for l in docs {
        let go = &l.doc.provenance.go;
        let t = parse_rfc3339(&go.commit_time).unwrap_or(f64::NEG_INFINITY);
        let e = newest.entry(&go.name).or_insert((t, &go.sha));
        if t > e.0 {
            *e = (t, &go.sha);
        }
    }
    let mut by_time: Vec<(&str, (f64, &str))> = newest.into_iter().collect();
    by_time.sort_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(a.0.cmp(b.0)));
    let n = by_time.len();
    let pick = |i: usize| (by_time[i].0.to_string(), by_time[i].1 .1.to_string());
    (n >= 2).then(|| (pick(n - 2), pick(n - 1)))
}

/// The page file name of a series: `s-` and the key, made file-name safe.
pub fn page_name(key: &SeriesKey) -> String {
    let raw = format!("{}-{}-{}-{}", key.workload, key.benchmark, key.metric, key.host);
    let safe: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    format!("s-{safe}.html")
}

const CSS: &str = r#"
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }
main { max-width: 1060px; margin: 0 auto; padding: 20px 28px 40px; background: #fff; min-height: 100vh; box-sizing: border-box; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub, .note { color: #59636e; font-size: 13px; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e8eb; text-align: left; vertical-align: middle; }
th { background: #f0f3f6; font-weight: 600; }
td.nowrap { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.regression { color: #cf222e; font-weight: 600; }
.improvement { color: #1a7f37; font-weight: 600; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.regression { background: #ffebe9; }
.badge.improvement { background: #dafbe1; }
.badge.missing { background: #fff8c5; color: #7d4e00; }
.summary { display: flex; gap: 14px; margin: 14px 0; }
.card { border: 1px solid #d8dee4; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
svg.plot { width: 100%; height: auto; display: block; margin: 8px 0; }
svg.plot .area { fill: #fbfcfd; stroke: #d8dee4; }
svg.plot .grid { stroke: #e5e8eb; stroke-width: 1; }
svg.plot text { font: 12px system-ui, "DejaVu Sans", sans-serif; fill: #59636e; }
svg.plot .ytick { text-anchor: end; }
svg.plot .xtick { text-anchor: end; font-size: 11px; }
svg.plot .xlabel, svg.plot .ylabel { text-anchor: middle; font-size: 13px; fill: #1f2328; }
svg.plot .series { fill: none; stroke: #0969da; stroke-width: 2; }
svg.plot .ci { stroke: #9cb8d9; stroke-width: 3; stroke-linecap: round; }
svg.plot .point { fill: #0969da; stroke: #fff; stroke-width: 1.5; }
svg.plot a:hover .point { r: 7px; }
svg.plot .point.regression { fill: #cf222e; }
svg.plot .point.improvement { fill: #1a7f37; }
svg.plot line.change { stroke-width: 2; stroke-dasharray: 6 4; }
svg.plot line.change.regression { stroke: #cf222e; }
svg.plot line.change.improvement { stroke: #1a7f37; }
svg.spark path { fill: none; stroke: #0969da; stroke-width: 1.5; }
svg.spark .regression { fill: #cf222e; }
svg.spark .improvement { fill: #1a7f37; }
.legend { font-size: 12px; color: #59636e; }
.legend span { margin-right: 16px; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; vertical-align: -1px; margin-right: 4px; }
"#;

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        esc(title)
    )
}

fn direction_text(d: Direction) -> &'static str {
    match d {
        Direction::HigherIsBetter => "higher is better",
        Direction::LowerIsBetter => "lower is better",
    }
}

fn verdict_badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "<span class=\"badge regression\">regression</span>",
        Verdict::Improvement => "<span class=\"badge improvement\">improvement</span>",
        Verdict::NoChange => "",
    }
}

/// `abc123def456..0123456789ab` with the full range as a tooltip.
fn commits_html(range: &str) -> String {
    let short: Vec<&str> = range.split("..").map(|sha| &sha[..sha.len().min(12)]).collect();
    format!("<span class=\"mono\" title=\"{}\">{}</span>", esc(range), esc(&short.join("..")))
}

/// The toolchains of a side, at most three named.
pub fn toolchains_text(go: &[String]) -> String {
    match go.len() {
        0..=3 => go.join(", "),
        n => format!("{}, ... and {} more", go[..2].join(", "), n - 2),
    }
}

fn compare_html(c: &CompareReport) -> String {
    let mut o = String::new();
    for (name, side) in [("A", &c.a), ("B", &c.b)] {
        o += &format!(
            "<div class=\"note\"><b>{name}</b>: {} ({} files; {})</div>\n",
            esc(&side.label),
            side.files.len(),
            esc(&toolchains_text(&side.go))
        );
    }
    o += &format!(
        "<div class=\"note\">Significant: Mann-Whitney U p &le; {} and |delta| &ge; {}%. Medians with their 95% confidence interval; each side pools all runs of its result files.</div>\n",
        c.alpha, c.min_change_pct
    );
    for t in &c.tables {
        o += &format!("<h3>{}</h3>\n<table>\n", esc(&compare::table_title(t)));
        let cells = compare::table_cells(t);
        for (i, row) in cells.iter().enumerate() {
            let tag = if i == 0 { "th" } else { "td" };
            let verdict = t.rows.get(i.wrapping_sub(1)).map(|r| r.verdict);
            o += "<tr>";
            for (j, cell) in row.iter().enumerate() {
                let mut class = if j == 0 || j == 8 { String::new() } else { "num".to_string() };
                if j == 8 || j == 5 {
                    match verdict {
                        Some(Verdict::Regression) => class += " regression",
                        Some(Verdict::Improvement) => class += " improvement",
                        _ => {}
                    }
                }
                o += &format!("<{tag} class=\"{}\">{}</{tag}>", class.trim(), esc(cell));
            }
            o += "</tr>\n";
        }
        o += "</table>\n";
    }
    o
}

fn tooltip(s: &Series, changes: &[&Change], i: usize, p: &Point) -> String {
    let ci = p.ci.map_or("no CI (n<6)".to_string(), |(a, b)| format!("95% CI [{}, {}]", fmt_si(a), fmt_si(b)));
    let mut t = format!(
        "{} {}: median {} {} over {} valid run{}, {ci}\nGo {} {} {}\ncommitted {}\nrun started {}\n{}",
        s.key.metric,
        s.key.workload,
        fmt_si(p.value),
        s.unit,
        p.n,
        if p.n == 1 { "" } else { "s" },
        p.go_name,
        p.go_version,
        p.short_sha(),
        p.commit_time,
        p.started,
        p.path
    );
    for c in changes.iter().filter(|c| c.index == i) {
        t += &format!("\n\n{}\nsuspect Go commits {}", change_headline(c), c.commits);
    }
    t
}

fn series_page(s: &Series, changes: &[&Change], missing: Option<&Stale>, root_href: &str) -> String {
    let href = |p: &Point| format!("{root_href}{}", p.path);
    let owned: Vec<Change> = changes.iter().map(|c| (*c).clone()).collect();
    let mut o = String::from("<p class=\"note\"><a href=\"index.html\">&larr; all series</a></p>\n");
    o += &format!("<h1>{}</h1>\n", esc(&format!("{}/{} {}", s.key.workload, s.key.benchmark, s.key.metric)));
    o += &format!(
        "<div class=\"sub\">host {} &middot; {} ({}) &middot; {} points, one per result file (median of its valid runs), ordered by Go commit time</div>\n",
        esc(&s.key.host),
        esc(&s.unit),
        direction_text(s.direction),
        s.points.len()
    );
    if let Some(m) = missing {
        o += &format!(
            "<p><span class=\"badge missing\">missing data</span> no valid result for {:.1} days (limit {})</p>\n",
            m.age_days, m.max_age_days
        );
    }
    o += &svg::plot(s, &owned, &href, &|i, p| tooltip(s, changes, i, p));
    o += "<div class=\"legend\"><span><i class=\"dot\" style=\"background:#0969da\"></i>result file (hover for details, click to open its JSON)</span><span><i class=\"dot\" style=\"background:#9cb8d9\"></i>95% CI of the median</span><span><i class=\"dot\" style=\"background:#cf222e\"></i>regression</span><span><i class=\"dot\" style=\"background:#1a7f37\"></i>improvement</span></div>\n";
    o += "<h2>Detected changes</h2>\n";
    if changes.is_empty() {
        o += "<p class=\"note\">None.</p>\n";
    } else {
        o += "<table>\n<tr><th>verdict</th><th>model</th><th>change</th><th>blamed run</th><th>suspect Go commits</th></tr>\n";
        for c in changes {
            o += &format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{} ({} &rarr; {})</td><td><a href=\"{}\">{}</a> {}</td><td>{}</td></tr>\n",
                verdict_badge(c.verdict),
                c.model.name(),
                fmt_pct(c.change_pct),
                esc(&fmt_si(c.old)),
                esc(&fmt_si(c.new)),
                esc(&href(&c.blamed)),
                esc(&c.blamed.started),
                esc(&c.blamed.go_name),
                commits_html(&c.commits)
            );
        }
        o += "</table>\n";
    }
    o += "<h2>Points</h2>\n<table>\n<tr><th>#</th><th>Go</th><th>commit</th><th>committed</th><th>run started</th><th>median</th><th>95% CI</th><th>n</th><th>file</th></tr>\n";
    for (i, p) in s.points.iter().enumerate() {
        let ci = p.ci.map_or("-".to_string(), |(a, b)| format!("[{}, {}]", fmt_si(a), fmt_si(b)));
        o += &format!(
            "<tr><td class=\"num\">{i}</td><td class=\"nowrap\">{} <span class=\"note\">{}</span></td><td class=\"mono\">{}</td><td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"nowrap\"><a class=\"mono\" href=\"{}\">{}</a></td></tr>\n",
            esc(&p.go_name),
            esc(&p.go_version),
            esc(p.short_sha()),
            esc(&p.commit_time),
            esc(&p.started),
            esc(&fmt_si(p.value)),
            esc(&ci),
            p.n,
            esc(&href(p)),
            esc(&p.path)
        );
    }
    o += "</table>\n";
    page(&format!("{} - gobench", s.key), &o)
}

/// Every page of the report as (file name, HTML), `index.html` first.
pub fn render(input: &ReportInput) -> Vec<(String, String)> {
    let mut pages = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut names: BTreeMap<&SeriesKey, String> = BTreeMap::new();
    for (i, s) in input.series.iter().enumerate() {
        let mut name = page_name(&s.key);
        if !taken.insert(name.clone()) {
            name = format!("{}-{i}.html", name.trim_end_matches(".html"));
            taken.insert(name.clone());
        }
        names.insert(&s.key, name);
    }
    let mut rows = String::new();
    for s in input.series {
        let name = names[&s.key].clone();
        let changes: Vec<&Change> = input.changes.iter().filter(|c| c.series == s.key).collect();
        let missing = input.missing.iter().find(|m| m.series == s.key);
        pages.push((name.clone(), series_page(s, &changes, missing, input.root_href)));
        let last = s.points.last().expect("series have points");
        let mut flags = String::new();
        let regressions = changes.iter().filter(|c| c.verdict == Verdict::Regression).count();
        let improvements = changes.iter().filter(|c| c.verdict == Verdict::Improvement).count();
        if regressions > 0 {
            flags +=
                &format!("<span class=\"badge regression\">{regressions} regression{}</span> ", if regressions == 1 { "" } else { "s" });
        }
        if improvements > 0 {
            flags += &format!(
                "<span class=\"badge improvement\">{improvements} improvement{}</span> ",
                if improvements == 1 { "" } else { "s" }
            );
        }
        if missing.is_some() {
            flags += "<span class=\"badge missing\">missing data</span>";
        }
        let owned: Vec<Change> = changes.iter().map(|c| (*c).clone()).collect();
        rows += &format!(
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} {}</td><td>{} <span class=\"mono\">{}</span></td><td>{}</td><td>{}</td></tr>\n",
            esc(&name),
            esc(&s.key.metric),
            esc(&s.key.workload),
            esc(&s.key.benchmark),
            esc(&s.key.host),
            s.points.len(),
            esc(&fmt_si(last.value)),
            esc(&s.unit),
            esc(&last.go_name),
            esc(last.short_sha()),
            svg::sparkline(s, &owned),
            flags
        );
    }
    let regressions = input.changes.iter().filter(|c| c.verdict == Verdict::Regression).count();
    let improvements = input.changes.iter().filter(|c| c.verdict == Verdict::Improvement).count();
    let points: usize = input.series.iter().map(|s| s.points.len()).sum();
    let mut o = String::from("<h1>gobench report</h1>\n");
    o += &format!("<div class=\"sub\">{}</div>\n", esc(input.subtitle));
    o += &format!(
        "<div class=\"summary\"><div class=\"card\"><b>{}</b>series</div><div class=\"card\"><b>{points}</b>points</div><div class=\"card regression\"><b>{regressions}</b>regressions</div><div class=\"card improvement\"><b>{improvements}</b>improvements</div><div class=\"card\"><b>{}</b>missing data</div></div>\n",
        input.series.len(),
        input.missing.len()
    );
    if !input.changes.is_empty() {
        o += "<h2>Detected changes</h2>\n<table>\n<tr><th>verdict</th><th>series</th><th>model</th><th>change</th><th>suspect Go commits</th></tr>\n";
        for c in input.changes {
            let name = names.get(&c.series).cloned().unwrap_or_default();
            o += &format!(
                "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                verdict_badge(c.verdict),
                esc(&name),
                esc(&c.series.to_string()),
                c.model.name(),
                fmt_pct(c.change_pct),
                commits_html(&c.commits)
            );
        }
        o += "</table>\n";
    }
    if !input.missing.is_empty() {
        o += "<h2>Missing data</h2>\n<ul>\n";
        for m in input.missing {
            o += &format!(
                "<li><a href=\"{}\">{}</a>: no valid result for {:.1} days (limit {}); last run started {}</li>\n",
                esc(names.get(&m.series).map_or("", |n| n.as_str())),
                esc(&m.series.to_string()),
                m.age_days,
                m.max_age_days,
                esc(&m.last.started)
            );
        }
        o += "</ul>\n";
    }
    if let Some(c) = input.compare {
        o += &format!("<h2>Compare: {} (A) vs {} (B), the two newest Go refs</h2>\n", esc(&c.a.label), esc(&c.b.label));
        o += &compare_html(c);
    }
    o += "<h2>Series</h2>\n<table>\n<tr><th>metric</th><th>workload</th><th>benchmark</th><th>host</th><th>points</th><th>latest</th><th>latest Go</th><th>history</th><th></th></tr>\n";
    o += &rows;
    o += "</table>\n";
    if input.series.is_empty() {
        o += "<p class=\"note\">No results yet: run <code>cargo xtask bench</code>.</p>\n";
    }
    let mut all = vec![("index.html".to_string(), page("gobench report", &o))];
    all.extend(pages);
    all
}
