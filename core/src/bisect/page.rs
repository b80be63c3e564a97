//! The bisect's page, `results/bisect/<id>/index.html`, in the report's
//! style: the answer, the ends, an SVG plot of every measured commit against
//! the ends' medians, and the evidence of each step.

use super::answer::{evidence, headline, verdict_name, Evidence};
use super::log::BisectLog;
use super::search::{Step, Verdict};
use crate::analysis::fmt_si;
use crate::analysis::report::page;
use crate::analysis::svg::{esc, frame};

/// Styles the report's CSS does not have: single samples and the ends' lines.
const CSS: &str = "<style>svg.plot .sample { fill: #9cb8d9; opacity: .8; } svg.plot .point.unknown { fill: #8c959f; } svg.plot .skip { stroke: #8c959f; stroke-width: 2; } svg.plot line.end { stroke-width: 1.5; stroke-dasharray: 4 4; } svg.plot line.end.improvement { stroke: #1a7f37; } svg.plot line.end.regression { stroke: #cf222e; } svg.plot .steplabel { font-size: 10px; text-anchor: middle; }</style>\n";

/// The page, self-contained (no script, nothing from the network).
pub fn render(log: &BisectLog) -> String {
    let ev = evidence(log);
    let title = format!("bisect {} {}: {}..{}", log.bench, log.metric, log.good.git_ref, log.bad.git_ref);
    let mut o = String::from(CSS);
    o += &format!("<h1>{}</h1>\n", esc(&title));
    o += &format!(
        "<div class=\"sub\">{} first-parent commits of {} &middot; {} step(s) &middot; {} runs a round, an unknown commit measured up to {} times</div>\n",
        log.candidates.len(),
        esc(if log.go_url.is_empty() { "the Go repository" } else { &log.go_url }),
        log.steps.len(),
        log.runs,
        log.max_unknown
    );
    let class = match log.next() {
        Ok(Step::Found { .. }) => "badge regression",
        Ok(Step::Range { .. }) => "badge missing",
        _ => "badge",
    };
    o += &format!("<h2>Answer</h2>\n<p><span class=\"{class}\">{}</span></p>\n<pre>{}</pre>\n", esc(answer_word(log)), esc(&headline(log)));
    o += "<h2>Ends</h2>\n";
    if let Some(base) = &log.merge_base {
        o += &format!("<p class=\"note\">good is not an ancestor of bad: bisected from their merge base <span class=\"mono\">{}</span>, measured as the good end.</p>\n", esc(base));
    }
    for (name, end, sha) in [("good", &log.good, &log.candidates[0].sha), ("bad", &log.bad, &log.candidates[log.candidates.len() - 1].sha)]
    {
        o += &format!("<div class=\"note\"><b>{name}</b>: {} <span class=\"mono\">{}</span></div>\n", esc(&end.git_ref), esc(sha));
    }
    if let Some(ends) = &log.ends {
        o += &format!("<p>{}</p>\n", esc(&ends.describe()));
    }
    o += "<h2>Steps</h2>\n";
    o += &plot(log, &ev);
    o += "<div class=\"legend\"><span><i class=\"dot\" style=\"background:#1a7f37\"></i>like-good (median)</span><span><i class=\"dot\" style=\"background:#cf222e\"></i>like-bad</span><span><i class=\"dot\" style=\"background:#8c959f\"></i>unknown</span><span><i class=\"dot\" style=\"background:#9cb8d9\"></i>one run</span><span>&times; does not build</span><span>numbers: the order measured</span><span>dashed: the ends' medians; the red line: before the first bad commit</span></div>\n";
    o += "<table>\n<tr><th>step</th><th>#</th><th>commit</th><th>subject</th><th>runs</th><th>median</th><th>/ good</th><th>/ bad</th><th>p good</th><th>p bad</th><th>verdict</th></tr>\n";
    let num = |x: Option<f64>, digits: usize| x.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    for e in &ev {
        o += &format!(
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td></tr>\n",
            e.step,
            e.index,
            esc(&e.sha[..e.sha.len().min(12)]),
            esc(&e.subject),
            e.runs,
            esc(&e.median.map_or("-".to_string(), fmt_si)),
            num(e.ratio_to_good, 3),
            num(e.ratio_to_bad, 3),
            num(e.p_good, 3),
            num(e.p_bad, 3),
            verdict_class(e.verdict),
            verdict_name(e.verdict)
        );
    }
    o += "</table>\n<p class=\"note\">Each commit's runs are compared with both ends' runs by the smaller p-value of the Kolmogorov-Smirnov and Mann-Whitney U tests (DIFFERENT at p &le; 0.01, SAME above a threshold derived from the ends' change and the noise); a commit SAME as one end or DIFFERENT from the other is like it, anything else is unknown and measured again.</p>\n";
    page(&format!("{title} - gobench"), &o)
}

fn answer_word(log: &BisectLog) -> &'static str {
    match log.next() {
        Ok(Step::Found { .. }) => "found",
        Ok(Step::Range { .. }) => "a range",
        Ok(Step::Probe { .. }) => "not finished",
        Err(_) => "no answer",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Good => "improvement",
        Verdict::Bad => "regression",
        _ => "",
    }
}

/// Every measured commit at its first-parent position: its runs as small
/// dots, its median coloured by its latest verdict, the ends' medians as
/// dashed lines, and the first bad commit's boundary.
fn plot(log: &BisectLog, ev: &[Evidence]) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 380.0;
    let (left, right, top, bottom) = (80.0, 20.0, 16.0, 96.0);
    let (pw, ph) = (W - left - right, H - top - bottom);
    let n = log.candidates.len().max(1);
    let x = |i: usize| left + (i as f64 + 0.5) * pw / n as f64;
    let all: Vec<f64> = log.steps.iter().flat_map(|s| s.samples.iter().copied()).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = match (lo.is_finite(), hi > lo) {
        (false, _) => (0.0, 1.0),
        (true, false) => (lo * 0.95, lo * 1.05 + 1e-9),
        (true, true) => (lo - (hi - lo) * 0.08, hi + (hi - lo) * 0.08),
    };
    let y = |v: f64| top + ph - (v - lo) / (hi - lo) * ph;
    let mut o = frame((W, H), (left, top, pw, ph), (lo, hi), &format!("{} of the measured commits", log.metric), &log.metric);
    o += &format!("<text class=\"xlabel\" x=\"{:.1}\" y=\"{:.1}\">first-parent commit, good end left</text>\n", left + pw / 2.0, H - 4.0);
    let (good, bad) = log.ends();
    for (samples, class, name) in [(&good, "improvement", "good"), (&bad, "regression", "bad")] {
        if let Some(m) = crate::stats::median(samples) {
            let (x2, ym, label) = (left + pw, y(m), esc(&fmt_si(m)));
            o += &format!(
                "<line class=\"end {class}\" x1=\"{left}\" x2=\"{x2:.1}\" y1=\"{ym:.1}\" y2=\"{ym:.1}\"><title>{name} end median {label}</title></line>\n"
            );
        }
    }
    if let Ok(Step::Found { index }) | Ok(Step::Range { first: index, .. }) = log.next() {
        let bx = x(index) - pw / n as f64 / 2.0;
        o += &format!(
            "<line class=\"change regression\" x1=\"{bx:.1}\" x2=\"{bx:.1}\" y1=\"{top}\" y2=\"{:.1}\"><title>first bad commit {}</title></line>\n",
            top + ph,
            esc(&log.candidates[index].sha)
        );
    }
    // The latest evidence of each measured commit.
    let mut latest: Vec<Option<&Evidence>> = vec![None; log.candidates.len()];
    for e in ev {
        latest[e.index] = Some(e);
    }
    for (i, e) in latest.iter().enumerate() {
        let Some(e) = e else { continue };
        let c = &log.candidates[i];
        o += &format!(
            "<text class=\"xtick\" transform=\"translate({:.1} {:.1}) rotate(-40)\">{}</text>\n",
            x(i) + 4.0,
            top + ph + 14.0,
            esc(&c.sha[..c.sha.len().min(7)])
        );
        let tip = format!(
            "step {}: {} {}\n{} runs, median {}, /good {}, /bad {}\n{}",
            e.step,
            &c.sha[..c.sha.len().min(12)],
            c.subject,
            e.runs,
            e.median.map_or("-".to_string(), fmt_si),
            e.ratio_to_good.map_or("-".to_string(), |r| format!("{r:.3}")),
            e.ratio_to_bad.map_or("-".to_string(), |r| format!("{r:.3}")),
            verdict_name(e.verdict)
        );
        let Some(m) = e.median else {
            let (cx, cy) = (x(i), top + ph - 8.0);
            o += &format!(
                "<path class=\"skip\" d=\"M{:.1} {:.1} L{:.1} {:.1} M{:.1} {:.1} L{:.1} {:.1}\"><title>{}</title></path>\n",
                cx - 5.0,
                cy - 5.0,
                cx + 5.0,
                cy + 5.0,
                cx - 5.0,
                cy + 5.0,
                cx + 5.0,
                cy - 5.0,
                esc(&tip)
            );
            continue;
        };
        for v in log.steps.iter().filter(|s| s.index == i).flat_map(|s| &s.samples) {
            o += &format!("<circle class=\"sample\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>", x(i), y(*v));
        }
        let class = match e.verdict {
            Verdict::Good => "point improvement",
            Verdict::Bad => "point regression",
            _ => "point unknown",
        };
        o += &format!("\n<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"6\"><title>{}</title></circle>\n", x(i), y(m), esc(&tip));
        o += &format!("<text class=\"steplabel\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\n", x(i), top + 12.0, e.step);
    }
    o + "</svg>\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bisect::log::tests::sample;

    #[test]
    fn the_page_names_the_answer_and_plots_every_step() {
        let html = render(&sample());
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"), "{html}");
        assert!(html.contains("the first bad commit is one of these 2 commits"), "{html}");
        // Three measured commits with medians, one that does not build.
        assert_eq!(html.matches("<circle class=\"point ").count(), 3);
        assert_eq!(html.matches("<path class=\"skip\"").count(), 1);
        // 3 + 3 + 2 + 2 runs.
        assert_eq!(html.matches("<circle class=\"sample\"").count(), 10);
        assert_eq!(html.matches("<tr><td class=\"num\">").count(), 5);
        // The ends' medians (100 and 90) as lines inside the plot area.
        let y_of = |class: &str| -> f64 {
            let at = html.find(&format!("line class=\"end {class}\"")).unwrap();
            let rest = &html[at..];
            let y1 = &rest[rest.find("y1=\"").unwrap() + 4..];
            y1[..y1.find('"').unwrap()].parse().unwrap()
        };
        let (good, bad) = (y_of("improvement"), y_of("regression"));
        assert!(16.0 < good && good < bad && bad < 16.0 + 380.0 - 96.0 - 16.0, "good {good} above bad {bad} (90 < 100)");
        assert!(html.contains("<title>good end median 100</title>"), "{html}");
        assert!(!html.contains("<script"));
    }
}
