//! Hand-written SVG for the report: a time-series plot with a link and a
//! tooltip on every point, and a sparkline. Written directly rather than with
//! a plotting crate because every point must be an `<a href>` to its result
//! file with a `<title>` tooltip, which plotting crates do not emit.

use super::changes::Change;
use super::fmt_si;
use super::series::{Point, Series};
use crate::stats::Verdict;

/// Escapes text for XML/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}

/// About `target` round tick values (the round step nearest to the range / target) covering `[lo, hi]`: steps of 1, 2 or 5
/// times a power of ten.
pub fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    // The round step closest to the raw one on a log scale.
    let step =
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).min_by(|a, b| (a / raw).ln().abs().total_cmp(&(b / raw).ln().abs())).unwrap_or(mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The y range of a series: values and confidence intervals, padded, with
/// a flat series widened so it is drawn in the middle.
fn y_range(points: &[Point]) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in points {
        let (a, b) = p.ci.unwrap_or((p.value, p.value));
        lo = lo.min(a.min(p.value));
        hi = hi.max(b.max(p.value));
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * hi.abs().max(1e-300) {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.05 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.08;
    (lo - pad, hi + pad)
}

/// The opening of a plot of size `w` x `h`: the svg element (its label
/// `aria`), the plot area `(left, top, width, height)`, the y grid with its
/// ticks over `lo..hi`, and the y axis label. The caller draws the rest and
/// closes the element.
pub fn frame((w, h): (f64, f64), (left, top, pw, ph): (f64, f64, f64, f64), (lo, hi): (f64, f64), aria: &str, ylabel: &str) -> String {
    let y = |v: f64| top + ph - (v - lo) / (hi - lo) * ph;
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\n",
        esc(aria)
    );
    o += &format!("<rect class=\"area\" x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\"/>\n");
    for t in ticks(lo, hi, 6) {
        let ty = y(t);
        o += &format!("<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\"/>", left + pw);
        o += &format!("<text class=\"ytick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\n", left - 6.0, ty + 4.0, esc(&fmt_si(t)));
    }
    o += &format!("<text class=\"ylabel\" transform=\"translate(16 {:.1}) rotate(-90)\">{}</text>\n", top + ph / 2.0, esc(ylabel));
    o
}

/// The plot of one series. `href` gives each point's link; `tooltip` its
/// hover text. Changes are drawn red: a dashed line between the last point
/// before and the blamed point, and the blamed point itself.
pub fn plot(s: &Series, changes: &[Change], href: &dyn Fn(&Point) -> String, tooltip: &dyn Fn(usize, &Point) -> String) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 400.0;
    let (left, right, top, bottom) = (80.0, 20.0, 16.0, 118.0);
    let (pw, ph) = (W - left - right, H - top - bottom);
    let n = s.points.len().max(1);
    let x = |i: usize| left + (i as f64 + 0.5) * pw / n as f64;
    let (lo, hi) = y_range(&s.points);
    let y = |v: f64| top + ph - (v - lo) / (hi - lo) * ph;
    let mut o = frame((W, H), (left, top, pw, ph), (lo, hi), &format!("{} over Go commits", s.key), &s.unit);
    // X labels: at most about 25, always the last one.
    let every = n.div_ceil(25);
    for (i, p) in s.points.iter().enumerate() {
        if i % every != 0 && i + 1 != s.points.len() {
            continue;
        }
        let date = p.commit_time.get(..10).unwrap_or(&p.commit_time);
        o += &format!(
            "<text class=\"xtick\" transform=\"translate({:.1} {:.1}) rotate(-40)\">{} {}</text>\n",
            x(i) + 4.0,
            top + ph + 14.0,
            esc(date),
            esc(&p.go_sha[..p.go_sha.len().min(7)])
        );
    }
    o += &format!("<text class=\"xlabel\" x=\"{:.1}\" y=\"{:.1}\">Go commit (by commit time)</text>\n", left + pw / 2.0, H - 4.0);
    // Changes behind the data.
    for c in changes {
        let cx = match c.index {
            0 => x(0) - pw / n as f64 / 2.0,
            i => (x(i - 1) + x(i)) / 2.0,
        };
        let class = if c.verdict == Verdict::Regression { "change regression" } else { "change improvement" };
        o += &format!(
            "<line class=\"{class}\" x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{top}\" y2=\"{:.1}\"><title>{}</title></line>\n",
            top + ph,
            esc(&super::changes::change_headline(c))
        );
    }
    // Confidence intervals, the line, then the points on top.
    for (i, p) in s.points.iter().enumerate() {
        if let Some((a, b)) = p.ci {
            o += &format!("<line class=\"ci\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\"/>", x(i), y(a), y(b));
        }
    }
    let path: Vec<String> =
        s.points.iter().enumerate().map(|(i, p)| format!("{}{:.1} {:.1}", if i == 0 { "M" } else { "L" }, x(i), y(p.value))).collect();
    if !path.is_empty() {
        o += &format!("\n<path class=\"series\" d=\"{}\"/>\n", path.join(" "));
    }
    for (i, p) in s.points.iter().enumerate() {
        let changed: Vec<&Change> = changes.iter().filter(|c| c.index == i).collect();
        let class = if changed.iter().any(|c| c.verdict == Verdict::Regression) {
            "point regression"
        } else if changed.is_empty() {
            "point"
        } else {
            "point improvement"
        };
        let r = if changed.is_empty() { 4.5 } else { 7.0 };
        o += &format!(
            "<a href=\"{}\"><circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\"><title>{}</title></circle></a>\n",
            esc(&href(p)),
            x(i),
            y(p.value),
            esc(&tooltip(i, p))
        );
    }
    o += "</svg>\n";
    o
}

/// A small line of the values, for the index.
pub fn sparkline(s: &Series, changes: &[Change]) -> String {
    let (w, h, pad) = (160.0, 34.0, 3.0);
    let n = s.points.len();
    let (lo, hi) = y_range(&s.points);
    let x = |i: usize| {
        if n <= 1 {
            w / 2.0
        } else {
            pad + i as f64 * (w - 2.0 * pad) / (n - 1) as f64
        }
    };
    let y = |v: f64| pad + (h - 2.0 * pad) * (1.0 - (v - lo) / (hi - lo));
    let d: Vec<String> =
        s.points.iter().enumerate().map(|(i, p)| format!("{}{:.1} {:.1}", if i == 0 { "M" } else { "L" }, x(i), y(p.value))).collect();
    let mut o = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"spark\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" aria-hidden=\"true\">");
    if !d.is_empty() {
        o += &format!("<path d=\"{}\"/>", d.join(" "));
    }
    for c in changes {
        let class = if c.verdict == Verdict::Regression { "regression" } else { "improvement" };
        o += &format!("<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>", x(c.index), y(s.points[c.index].value));
    }
    o + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::{esc, ticks};

    #[test]
    fn round_ticks() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(24_500.0, 31_200.0, 6), vec![25_000.0, 26_000.0, 27_000.0, 28_000.0, 29_000.0, 30_000.0, 31_000.0]);
        assert_eq!(ticks(1.0, 1.0, 5), vec![1.0]);
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("a<b & \"c\" 'd'"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;");
    }
}
