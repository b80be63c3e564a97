//! Tests of the change-point models: hand-worked series, and injected steps
//! and pure noise from a deterministic Gaussian source.

use super::*;

/// xorshift64* with Box-Muller: a small deterministic Gaussian source.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Avoid the all-zero state and decorrelate small seeds.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn gaussian(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `len` points around `level` with `noise` relative Gaussian noise, the
/// level multiplied by `1 + step` from index `at` on.
fn series(seed: u64, len: usize, at: usize, step: f64, noise: f64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|i| {
            let level = if i >= at { 100.0 * (1.0 + step) } else { 100.0 };
            level * (1.0 + noise * rng.gaussian())
        })
        .collect()
}

fn seed_rule() -> [RelativeDifference; 1] {
    [RelativeDifference::default()]
}

#[test]
fn defaults_are_the_seed_and_horreum_ones() {
    let d = RelativeDifference::default();
    assert_eq!((d.threshold, d.window, d.min_previous, d.aggregation), (0.10, 5, 10, Aggregation::Mean));
    let [a, b] = RelativeDifference::horreum_new_variable_defaults();
    assert_eq!((a.window, a.threshold, a.min_previous), (1, 0.20, 5));
    assert_eq!((b.window, b.threshold, b.min_previous), (5, 0.10, 5));
    let e = EDivisive::default();
    assert_eq!((e.window, e.max_pvalue, e.min_magnitude), (50, 0.001, 0.0));
}

#[test]
fn too_few_points_is_no_change() {
    // min_previous + window = 15 points are needed; 14 with a doubling is not enough.
    let mut s = vec![100.0; 10];
    s.extend([200.0; 4]);
    assert!(relative_difference(&s, &seed_rule(), Direction::HigherIsBetter).is_empty());
    // One more point and it fires.
    s.push(200.0);
    let c = relative_difference(&s, &seed_rule(), Direction::HigherIsBetter);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].index, c[0].detected_at, c[0].ratio), (10, 14, 2.0));
}

#[test]
fn min_previous_below_window_is_raised_to_window() {
    // window 5, min_previous 1 -> clamped to 5: 10 points needed, not 6.
    let rule = [RelativeDifference { min_previous: 1, ..RelativeDifference::default() }];
    let mut s = vec![100.0; 5];
    s.extend([150.0; 4]);
    assert!(relative_difference(&s, &rule, Direction::HigherIsBetter).is_empty());
    s.push(150.0);
    assert_eq!(relative_difference(&s, &rule, Direction::HigherIsBetter).len(), 1);
}

#[test]
fn step_is_blamed_at_the_right_index() {
    // 20 x 100 then 130s. At newest = 20 the window 16..=20 averages 106
    // (ratio 1.06, inside 10%); at newest = 21 it averages 112 against a
    // previous mean of 100: ratio 1.12. The first window point above 100 is 20.
    let mut s = vec![100.0; 20];
    s.extend([130.0; 10]);
    let c = relative_difference(&s, &seed_rule(), Direction::HigherIsBetter);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!((c[0].index, c[0].detected_at), (20, 21));
    assert_eq!((c[0].old, c[0].new), (100.0, 112.0));
    assert!((c[0].ratio - 1.12).abs() < 1e-12);
    assert_eq!(c[0].verdict, Verdict::Improvement);
    // The same step in a latency metric is a regression.
    let c = relative_difference(&s, &seed_rule(), Direction::LowerIsBetter);
    assert_eq!(c[0].verdict, Verdict::Regression);
}

#[test]
fn history_restarts_at_the_last_change() {
    // 100 x 20, 130 x 5 (20..=24), 170 from 25 on. First change: blamed 20 at
    // newest 21 (as above). The history then starts at 20 and needs 15
    // points, so nothing can fire before newest = 34 even though the second
    // step is at 25. At 34: previous 20..=29 = 5 x 130 + 5 x 170, mean 150;
    // window 30..=34 mean 170, ratio 1.1333; first window point above 150 is 30.
    let mut s = vec![100.0; 20];
    s.extend([130.0; 5]);
    s.extend([170.0; 20]);
    let c = relative_difference(&s, &seed_rule(), Direction::HigherIsBetter);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!((c[0].index, c[0].detected_at), (20, 21));
    assert_eq!((c[1].index, c[1].detected_at), (30, 34));
    assert_eq!((c[1].old, c[1].new), (150.0, 170.0));
    // Without the restart the history from 0 would have fired again at 22.
    let from_zero = relative_difference_latest(&s[..=22], &RelativeDifference::default());
    assert!(from_zero.is_some());
}

#[test]
fn min_aggregation_catches_a_dip_that_the_mean_hides() {
    // Window [100, 100, 85, 100, 100]: mean 97 (ratio 0.97, no change), min 85
    // (ratio 0.85, change), blamed at the dip, index 12.
    let mut s = vec![100.0; 10];
    s.extend([100.0, 100.0, 85.0, 100.0, 100.0]);
    let mean_rule = [RelativeDifference::default()];
    assert!(relative_difference(&s, &mean_rule, Direction::HigherIsBetter).is_empty());
    let min_rule = [RelativeDifference { aggregation: Aggregation::Min, ..RelativeDifference::default() }];
    let c = relative_difference(&s, &min_rule, Direction::HigherIsBetter);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].index, c[0].new, c[0].ratio), (12, 85.0, 0.85));
    assert_eq!(c[0].verdict, Verdict::Regression);
    // Max of the same window is 100: no change.
    let max_rule = [RelativeDifference { aggregation: Aggregation::Max, ..RelativeDifference::default() }];
    assert!(relative_difference(&s, &max_rule, Direction::HigherIsBetter).is_empty());
}

#[test]
fn blame_is_the_first_window_point_beyond_the_mean() {
    // Max over [90, 90, 90, 90, 120] is 120 (ratio 1.2 over a previous mean
    // of 100). Only the last point is above 100, so it is blamed: index 14,
    // not the first point of the window.
    let mut s = vec![100.0; 10];
    s.extend([90.0, 90.0, 90.0, 90.0, 120.0]);
    let rule = [RelativeDifference { aggregation: Aggregation::Max, ..RelativeDifference::default() }];
    let c = relative_difference(&s, &rule, Direction::LowerIsBetter);
    assert_eq!((c[0].index, c[0].verdict), (14, Verdict::Regression));
}

#[test]
fn blame_falls_back_to_the_newest_point() {
    // With positive values some window point is always beyond the mean when
    // the rule fires; with negative ones it need not be. Previous mean -100,
    // window mean -120: ratio 1.2, yet no point is above -100, so Horreum's
    // loop ends on the newest point: index 14.
    let mut s = vec![-100.0; 10];
    s.extend([-120.0; 5]);
    let c = relative_difference(&s, &seed_rule(), Direction::HigherIsBetter);
    assert_eq!((c[0].index, c[0].ratio), (14, 1.2));
}

#[test]
fn new_variable_rules_fire_on_a_single_outlier() {
    // Window 1 at 20% needs 6 points: 5 x 100 then 130 fires at once and
    // blames index 5; the window-5 rule needs 10 points and stays quiet.
    let s = [100.0, 100.0, 100.0, 100.0, 100.0, 130.0];
    let c = relative_difference(&s, &RelativeDifference::horreum_new_variable_defaults(), Direction::LowerIsBetter);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].rule, c[0].index, c[0].verdict), (0, 5, Verdict::Regression));
}

#[test]
fn e_divisive_finds_a_single_step_at_the_right_index() {
    // 30 points around 100 then 30 around 120, 1% noise.
    let s = series(7, 60, 30, 0.20, 0.01);
    let c = e_divisive(&s, &EDivisive::default(), Direction::HigherIsBetter);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].index, 30);
    assert!(c[0].p_value < 0.001);
    assert!((c[0].rel_change - 0.20).abs() < 0.02, "{c:?}");
    assert_eq!(c[0].verdict, Verdict::Improvement);
    let c = e_divisive(&s, &EDivisive::default(), Direction::LowerIsBetter);
    assert_eq!(c[0].verdict, Verdict::Regression);
}

#[test]
fn e_divisive_finds_steps_in_a_long_series_and_honours_min_magnitude() {
    // Steps at 40 (+20%) and 130 (-10% of the new level), 180 points, window 50.
    let mut s = series(11, 180, 40, 0.20, 0.01);
    for x in s.iter_mut().skip(130) {
        *x *= 0.9;
    }
    let c = e_divisive(&s, &EDivisive::default(), Direction::HigherIsBetter);
    let idx: Vec<usize> = c.iter().map(|p| p.index).collect();
    assert_eq!(idx, vec![40, 130], "{c:?}");
    assert_eq!(c[1].verdict, Verdict::Regression);
    // A 15% magnitude gate keeps the 20% step and drops the 10% one.
    let gated = EDivisive { min_magnitude: 0.15, ..EDivisive::default() };
    let idx: Vec<usize> = e_divisive(&s, &gated, Direction::HigherIsBetter).iter().map(|p| p.index).collect();
    assert_eq!(idx, vec![40]);
}

#[test]
fn e_divisive_on_flat_or_tiny_series_finds_nothing() {
    assert!(e_divisive(&[], &EDivisive::default(), Direction::HigherIsBetter).is_empty());
    assert!(e_divisive(&[1.0], &EDivisive::default(), Direction::HigherIsBetter).is_empty());
    assert!(e_divisive(&[5.0; 100], &EDivisive::default(), Direction::HigherIsBetter).is_empty());
}

const STEP_SEEDS: u64 = 50;

#[test]
fn injected_fifteen_percent_step_is_found_by_both_models() {
    // 120 points, +15% from index 60, 3% Gaussian noise, 50 seeds.
    let at = 60;
    let mut horreum_offsets = Vec::new();
    let mut edivisive_offsets = Vec::new();
    for seed in 0..STEP_SEEDS {
        let s = series(seed, 120, at, 0.15, 0.03);
        let rel = relative_difference(&s, &seed_rule(), Direction::HigherIsBetter);
        let first = rel.first().unwrap_or_else(|| panic!("seed {seed}: Horreum model missed the step"));
        let off = first.index as i64 - at as i64;
        assert!(off.abs() <= 5, "seed {seed}: Horreum blamed {} ({rel:?})", first.index);
        assert_eq!(first.verdict, Verdict::Improvement);
        horreum_offsets.push(off);

        let ed = e_divisive(&s, &EDivisive::default(), Direction::HigherIsBetter);
        let nearest = ed
            .iter()
            .min_by_key(|p| (p.index as i64 - at as i64).abs())
            .unwrap_or_else(|| panic!("seed {seed}: E-divisive missed the step"));
        let off = nearest.index as i64 - at as i64;
        assert!(off.abs() <= 1, "seed {seed}: E-divisive found {ed:?}");
        edivisive_offsets.push(off);
    }
    let exact = |v: &[i64]| v.iter().filter(|&&o| o == 0).count();
    println!(
        "15% step, 3% noise, {STEP_SEEDS} seeds: Horreum blame exact {}/{STEP_SEEDS} (offsets {horreum_offsets:?}); \
         E-divisive exact {}/{STEP_SEEDS} (offsets {edivisive_offsets:?})",
        exact(&horreum_offsets),
        exact(&edivisive_offsets),
    );
}

#[test]
fn false_alarm_rate_on_pure_noise() {
    // 200 points of pure 3% Gaussian noise, 100 seeds. A false alarm is a
    // series on which a model reports at least one change.
    const SEEDS: u64 = 100;
    let (mut seed_rule_alarms, mut new_var_alarms, mut ed_alarms) = (0, 0, 0);
    let (mut seed_rule_total, mut new_var_total, mut ed_total) = (0, 0, 0);
    for seed in 1000..1000 + SEEDS {
        let s = series(seed, 200, usize::MAX, 0.0, 0.03);
        let a = relative_difference(&s, &seed_rule(), Direction::HigherIsBetter).len();
        let b = relative_difference(&s, &RelativeDifference::horreum_new_variable_defaults(), Direction::HigherIsBetter).len();
        let c = e_divisive(&s, &EDivisive::default(), Direction::HigherIsBetter).len();
        seed_rule_alarms += usize::from(a > 0);
        new_var_alarms += usize::from(b > 0);
        ed_alarms += usize::from(c > 0);
        seed_rule_total += a;
        new_var_total += b;
        ed_total += c;
    }
    println!(
        "false alarms on {SEEDS} series x 200 points of 3% noise: \
         Horreum seed rule (10%, w5, p10) {seed_rule_alarms}/{SEEDS} series ({seed_rule_total} changes); \
         Horreum new-variable rules (20% w1, 10% w5, p5) {new_var_alarms}/{SEEDS} series ({new_var_total} changes); \
         E-divisive (p 0.001, window 50) {ed_alarms}/{SEEDS} series ({ed_total} changes)"
    );
    // Bounds: a 10% window-of-5 rule is about 6 standard errors away and a 20%
    // single point 6.7 sigma, so the Horreum rules should essentially never
    // fire: at most 2 series in 100. E-divisive tests many windows and
    // candidates at p 0.001 (first pass 0.01): at most 10 series in 100.
    assert!(seed_rule_alarms <= 2);
    assert!(new_var_alarms <= 2);
    assert!(ed_alarms <= 10);
}

/// Golden vectors where a plain sum-then-divide mean, or a clamped threshold, decides otherwise
/// than Horreum. Expected values are Horreum's (its model in
/// `RelativeDifferenceChangeDetectionModel.java`, means by commons-math `SummaryStatistics`),
/// reproduced with the same IEEE operations in the same order, compared bit for bit.
#[test]
fn horreum_parity_golden_vectors() {
    let rule = |threshold, window, min_previous| RelativeDifference { threshold, window, min_previous, aggregation: Aggregation::Mean };
    // (series oldest first, rule, Horreum's (old, new, ratio) when it fires)
    type Golden<'a> = (&'a [f64], RelativeDifference, Option<(f64, f64, f64)>);
    let cases: [Golden; 5] = [
        // The series: a sum gives 1.5 and an exact 0.9 (no change); Horreum fires.
        (&[2.2, 2.2, 0.1, 1.35], rule(0.1, 1, 3), Some((1.5000000000000002, 1.35, 0.8999999999999999))),
        // The other way round: a sum gives 1.2000000000000002 (a change); Horreum's exact 1.2 does not fire.
        (&[0.1, 0.1, 0.3, 0.2], rule(0.2, 1, 3), None),
        // A sum gives 2.1999999999999997 for the previous mean.
        (&[1.1, 2.2, 3.3, 0.7, 0.9, 1.3], rule(0.2, 3, 3), Some((2.2, 0.9666666666666667, 0.43939393939393934))),
        // A negative threshold is not clamped: an unchanged series fires.
        (&[100.0; 6], rule(-0.1, 1, 5), Some((100.0, 100.0, 1.0))),
        // Window 2 of a noisy series.
        (&[0.3, 0.6, 0.7, 0.1, 0.2, 0.4, 0.6, 0.9], rule(0.1, 2, 4), Some((0.3833333333333333, 0.75, 1.956521739130435))),
    ];
    for (series, rule, want) in cases {
        let got = relative_difference_latest(series, &rule).map(|(_, old, new, ratio)| (old, new, ratio));
        let bits = |t: Option<(f64, f64, f64)>| t.map(|(a, b, c)| (a.to_bits(), b.to_bits(), c.to_bits()));
        assert_eq!(bits(got), bits(want), "{series:?} {rule:?}: got {got:?}, Horreum {want:?}");
    }
}

/// The detectors the README's power table compares: Horreum's model as the
/// seed configured it, and E-divisive as `detect` runs it.
fn seed_and_ours() -> [power::Detector; 2] {
    [power::Detector::Relative(RelativeDifference::default()), power::Detector::EDivisive(EDivisive::DETECT)]
}

#[test]
fn power_on_gaussian_noise_grows_with_the_step_and_is_reproducible() {
    // A pool of 40 runs with 3% Gaussian noise; points are medians of 5.
    let pool = series(3, 40, usize::MAX, 0.0, 0.03);
    let cfg = power::PowerConfig { histories: 60, steps: vec![0.01, 0.05, 0.10, 0.20], ..Default::default() };
    let got = power::power(&pool, Direction::LowerIsBetter, &seed_and_ours(), &cfg);
    assert_eq!(got, power::power(&pool, Direction::LowerIsBetter, &seed_and_ours(), &cfg));
    let [horreum, ours] = [&got[0], &got[1]];
    println!("3% Gaussian noise, medians of 5, 60 histories: {got:?}");
    for p in [horreum, ours] {
        let counts: Vec<usize> = p.detected.iter().map(|&(_, n)| n).collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
        // A 20% step is 15 times the noise of a median of 5.
        assert!(counts[3] >= 57, "{p:?}");
        assert!(p.false_alarms <= 6, "{p:?}");
    }
    // A 1% step is below E-divisive's 5% floor and Horreum's 10% threshold.
    assert!(horreum.detected[0].1 <= 3 && ours.detected[0].1 <= 3, "{got:?}");
    // The same step in a rate is a drop, and is found as often.
    let rate: Vec<f64> = pool.iter().map(|v| 1e4 / v).collect();
    let got_rate = power::power(&rate, Direction::HigherIsBetter, &seed_and_ours(), &cfg);
    assert!(got_rate[1].detected[3].1 >= 57, "{got_rate:?}");
    let other = power::power(&pool, Direction::LowerIsBetter, &seed_and_ours(), &power::PowerConfig { seed: 2, ..cfg });
    assert_ne!(other, got);
}

/// The measured A/A values of one metric in a committed fixture (`tests/fixtures/aa/`).
fn measured(text: &str, metric: &str) -> (Vec<f64>, Direction) {
    let aa = crate::aa::parse(text).expect("a committed A/A fixture");
    let m = &aa.metrics[metric];
    (aa.metrics[metric].pairs.iter().flat_map(|p| [p.a, p.b]).collect(), m.direction)
}

#[test]
fn power_on_histories_resampled_from_measured_etcd_and_go_std_noise() {
    let cfg = power::PowerConfig { histories: 100, ..Default::default() };
    // Real etcd put throughput (20 A/A pairs): E-divisive as `detect` runs it
    // finds a 10% drop in most histories and rarely alarms on none.
    let (rps, dir) = measured(include_str!("../../../tests/fixtures/aa/etcd-put.json"), "rps");
    assert_eq!((rps.len(), dir), (40, Direction::HigherIsBetter));
    let got = power::power(&rps, dir, &seed_and_ours(), &cfg);
    let [horreum, ours] = [&got[0], &got[1]];
    println!("etcd put rps, measured A/A pool, 100 histories: {got:?}");
    assert!(ours.false_alarms <= 10, "{ours:?}");
    assert!(ours.detected[2].1 >= 90, "a 10% step: {ours:?}");
    assert!(ours.detected[0].1 < ours.detected[2].1, "3% is harder than 10%: {ours:?}");
    assert!(horreum.detected[2].1 < ours.detected[2].1, "the seed's rule misses 10% steps E-divisive finds: {got:?}");
    // go-std strconv at 100ms (one session, pair ratios 0.7 to 1.8): the
    // seed's 10% rule alarms on a large share of flat histories (all of them
    // on the six sessions pooled, see the README), E-divisive on few.
    let (quote, dir) = measured(include_str!("../../../tests/fixtures/aa/go-std-strconv/base1.json"), "BenchmarkAppendQuote ns/op");
    assert_eq!(dir, Direction::LowerIsBetter);
    let got = power::power(&quote, dir, &seed_and_ours(), &cfg);
    println!("go-std AppendQuote, measured A/A pool, 100 histories: {got:?}");
    assert!(got[0].false_alarms >= 25, "{:?}", got[0]);
    assert!(got[1].false_alarms <= 10 && got[1].false_alarms * 3 < got[0].false_alarms, "{got:?}");
}
