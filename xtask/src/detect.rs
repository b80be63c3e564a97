//! `cargo xtask detect`: change detection over the history in `results/`
//! and the missing-data watchdog. The work is in `gobench_core::analysis`;
//! this reads the files, the config and the clock.

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use gobench_core::analysis::changes::{self, DetectConfig};
use gobench_core::analysis::{series, time::parse_rfc3339};
use gobench_core::detect::{EDivisive, RelativeDifference};

use crate::compare::load_results;
use crate::paths::Paths;

/// Detect regressions and improvements over the history in `results/`, and
/// series that stopped getting results.
///
/// A series is workload@ref x benchmark x metric x host; each result file is
/// one point (the median of its valid runs), ordered by the Go commit's time.
/// Two models: Horreum's relative difference of means with the `[detect]`
/// settings of the config (threshold, window, min_previous, aggregation),
/// and E-divisive means (Apache Otava's method) with a magnitude floor. Each
/// change names the blamed result and the range of Go commits between the
/// last point before it and the blamed point. A series whose newest valid
/// result is older than `max_age_days` is reported as missing data.
///
/// Exit codes: 0 nothing found (improvements alone count as nothing);
/// 1 a regression or missing data; 2 an error.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Which models to run.
    #[arg(long, value_enum, default_value_t = Models::Both)]
    pub model: Models,
    /// E-divisive: smallest relative change of the means, in percent, that
    /// is reported.
    #[arg(long, default_value_t = EDivisive::DETECT.min_magnitude * 100.0, value_name = "PCT")]
    pub min_magnitude: f64,
    /// E-divisive: significance threshold of the t-test.
    #[arg(long, default_value_t = EDivisive::DETECT.max_pvalue, value_name = "P")]
    pub max_pvalue: f64,
    /// E-divisive: sliding window length in points.
    #[arg(long, default_value_t = EDivisive::DETECT.window, value_name = "N")]
    pub edivisive_window: usize,
    /// Only report changes revealed by a run that started at or after this
    /// RFC 3339 time (e.g. the previous nightly check).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// The time the watchdog measures ages from, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Models {
    /// Horreum's relative difference and E-divisive.
    Both,
    /// Horreum's relative difference of means only.
    Relative,
    /// E-divisive means only.
    Edivisive,
}

impl Args {
    /// `true` when a regression or missing data was found.
    pub fn run(self, paths: &Paths) -> Result<bool> {
        let json = self.json;
        let cfg = self.config(paths)?;
        let docs = load_results(paths)?;
        let found = changes::detect(&series::build(&docs), &cfg);
        print!("{}", if json { changes::render_json(&found) } else { changes::render_text(&found) });
        Ok(found.alarm())
    }

    /// Settings from the flags and the config's `[detect]` table.
    pub fn config(self, paths: &Paths) -> Result<DetectConfig> {
        let Args { model, min_magnitude, max_pvalue, edivisive_window, since, now, json: _ } = self;
        anyhow::ensure!(min_magnitude >= 0.0, "--min-magnitude is a magnitude in percent, got {min_magnitude}");
        anyhow::ensure!(max_pvalue > 0.0 && max_pvalue < 1.0, "--max-pvalue must be between 0 and 1, got {max_pvalue}");
        let detect = paths.load_config()?.detect;
        let time = |flag: &str, s: &str| {
            parse_rfc3339(s).with_context(|| format!("{flag} {s:?} is not an RFC 3339 time such as 2026-08-10T09:30:00Z"))
        };
        let now = match now {
            Some(s) => time("--now", &s)?,
            None => {
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).context("the system clock is before 1970")?.as_secs_f64()
            }
        };
        let since = since.map(|s| time("--since", &s)).transpose()?;
        let relative = RelativeDifference {
            threshold: detect.threshold,
            window: detect.window,
            min_previous: detect.min_previous,
            aggregation: detect.aggregation,
        };
        let edivisive = EDivisive { window: edivisive_window, max_pvalue, min_magnitude: min_magnitude / 100.0 };
        Ok(DetectConfig {
            relative: (model != Models::Edivisive).then_some(relative),
            edivisive: (model != Models::Relative).then_some(edivisive),
            max_age_days: detect.max_age_days,
            now,
            since,
        })
    }
}
