//! The special functions behind the p-values. The gamma, error and beta
//! functions come from `statrs`; the Kolmogorov distribution, which `statrs`
//! does not have, is summed here from its series.

use statrs::function::{beta, factorial, gamma};

/// ln C(n, k); minus infinity when `k > n`.
pub fn ln_choose(n: usize, k: usize) -> f64 {
    factorial::ln_binomial(n as u64, k as u64)
}

/// C(n, k) as f64: exact below 2^53, within rounding above.
pub fn choose(n: usize, k: usize) -> f64 {
    factorial::binomial(n as u64, k as u64)
}

/// Standard normal survival function P(Z > z).
pub fn normal_sf(z: f64) -> f64 {
    // erfc(x) = Q(1/2, x^2); statrs' Q panics at x^2 = 0 and at infinity.
    let x2 = z * z / 2.0;
    let q = if x2 == 0.0 {
        1.0
    } else if x2.is_infinite() {
        0.0
    } else {
        gamma::gamma_ur(0.5, x2)
    };
    if z >= 0.0 {
        0.5 * q
    } else {
        1.0 - 0.5 * q
    }
}

/// Two-sided p-value of Student's t with `df` degrees of freedom.
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return 1.0;
    }
    if t.is_infinite() {
        return 0.0;
    }
    beta::beta_reg(df / 2.0, 0.5, df / (df + t * t)).min(1.0)
}

/// Survival function of the Kolmogorov distribution,
/// 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2).
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..200 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as u64 % 2 == 1 { term } else { -term };
        if term < 1e-18 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}
