//! Student's two-sample t-test, the significance test of E-divisive change
//! points (Apache Otava's choice).

use super::special;
use super::summary::mean;

/// Student's two-sample t-test with pooled variance (equal variances assumed),
/// two-sided. Returns (t, p). Fewer than 3 values in total (no degrees of
/// freedom) gives (0, 1); zero variance gives p = 0 if the means differ and 1
/// if they are equal.
pub fn student_t_test(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() || n1 + n2 - 2.0 <= 0.0 {
        return (0.0, 1.0);
    }
    let (m1, m2) = (mean(a).unwrap_or(0.0), mean(b).unwrap_or(0.0));
    let ss = |xs: &[f64], m: f64| xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
    let df = n1 + n2 - 2.0;
    let pooled = (ss(a, m1) + ss(b, m2)) / df;
    let se = (pooled * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return if m1 == m2 { (0.0, 1.0) } else { ((m1 - m2).signum() * f64::INFINITY, 0.0) };
    }
    let t = (m1 - m2) / se;
    (t, special::student_t_two_sided(t, df))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::assert_close;

    #[test]
    fn student_t_and_normal_match_scipy() {
        // ttest_ind([1,2,3,4], [3,4.5,5,6.5,7], equal_var=True)
        // -> t -2.7224556389190906, p 0.029660167417565355
        let (t, p) = student_t_test(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.5, 5.0, 6.5, 7.0]);
        assert_close!(t, -2.7224556389190906, 1e-12);
        assert_close!(p, 0.029660167417565355, 1e-10);
        // norm.sf(1.96), norm.sf(-0.5), norm.sf(5.0)
        assert_close!(special::normal_sf(1.96), 0.024997895148220435, 1e-12);
        assert_close!(special::normal_sf(-0.5), 0.6914624612740131, 1e-12);
        assert_close!(special::normal_sf(5.0), 2.866515718791933e-07, 1e-10);
    }
}
