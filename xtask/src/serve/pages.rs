//! The service's HTML pages, rendered on the server with minijinja.
//!
//! Templates are named `*.html`, for which minijinja escapes every value by
//! default: a PR title or commit subject full of `<script>` stays text.

use anyhow::{Context, Result};
use gobench_core::job::{fmt_num, verdict_text, Job};
use minijinja::value::Serde;
use minijinja::{context, Environment};
use serde::Serialize;

const LAYOUT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}{% endblock %} · gobench serve</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.regression { background: #fdd; } .improvement { background: #dfd; }
.state-failed, .state-cancelled { color: #a00; } .state-done { color: #070; }
code { font-size: 13px; }
</style></head>
<body>{% block body %}{% endblock %}</body></html>
"#;

const INDEX: &str = r#"{% extends "layout.html" %}
{% block title %}jobs{% endblock %}
{% block body %}
<h1>gobench jobs</h1>
<p>Watching <code>{{ repository }}</code> ({{ role }}), benchmark <code>{{ benchmark }}</code>.</p>
{% if jobs %}
<table id="jobs">
<tr><th>job</th><th>kind</th><th>state</th><th>commit</th><th>PR</th><th>title</th><th>created</th><th>started</th><th>finished</th><th>attempts</th><th>verdict</th></tr>
{% for j in jobs %}
<tr><td><a href="/jobs/{{ j.id }}">#{{ j.id }}</a></td><td>{{ j.kind }}</td><td class="state-{{ j.state }}">{{ j.state }}</td>
<td><code>{{ j.sha }}</code></td><td>{% if j.pr %}#{{ j.pr }}{% endif %}</td><td>{{ j.title }}</td>
<td>{{ j.created }}</td><td>{{ j.started }}</td><td>{{ j.finished }}</td><td class="num">{{ j.attempts }}/{{ j.max_attempts }}</td>
<td class="{{ j.verdict_class }}">{{ j.verdict }}</td></tr>
{% endfor %}
</table>
{% else %}<p>No jobs yet.</p>{% endif %}
{% endblock %}
"#;

const JOB: &str = r#"{% extends "layout.html" %}
{% block title %}job {{ j.id }}{% endblock %}
{% block body %}
<p><a href="/">all jobs</a></p>
<h1>Job #{{ j.id }}: {{ j.kind }} <span class="state-{{ j.state }}">{{ j.state }}</span></h1>
<table id="facts">
<tr><th>title</th><td id="title">{{ j.title }}</td></tr>
<tr><th>commit</th><td><code>{{ j.sha_full }}</code> ({{ j.role }})</td></tr>
{% if j.pr %}<tr><th>pull request</th><td>#{{ j.pr }}{% if j.pr_base %}, base <code>{{ j.pr_base }}</code>{% endif %}</td></tr>{% endif %}
<tr><th>baseline</th><td>{{ j.baseline }}</td></tr>
<tr><th>source</th><td>{{ j.source }}</td></tr>
<tr><th>times</th><td>created {{ j.created }}{% if j.started %}, started {{ j.started }}{% endif %}{% if j.finished %}, finished {{ j.finished }}{% endif %}</td></tr>
<tr><th>attempts</th><td>{{ j.attempts }} of {{ j.max_attempts }}</td></tr>
{% if j.reason %}<tr><th>reason</th><td id="reason">{{ j.reason }}</td></tr>{% endif %}
{% if j.report_error %}<tr><th>GitHub</th><td>last report failed: {{ j.report_error }}</td></tr>{% endif %}
</table>
{% if c %}
<h2>Comparison: {{ c.summary }}</h2>
<p>{{ c.candidate }} against {{ c.baseline }}</p>
<table id="comparison">
<tr><th>cell</th><th>metric</th><th>baseline median</th><th>runs</th><th>candidate median</th><th>runs</th><th>delta</th><th>p</th><th>paired ratio</th><th>verdict</th><th>note</th></tr>
{% for r in c.rows %}
<tr class="{{ r.verdict_class }}"><td>{{ r.cell }}</td><td>{{ r.metric }}</td><td class="num">{{ r.baseline }}</td><td class="num">{{ r.baseline_n }}</td>
<td class="num">{{ r.candidate }}</td><td class="num">{{ r.candidate_n }}</td><td class="num">{{ r.delta }}</td><td class="num">{{ r.p }}</td>
<td class="num">{{ r.paired }}</td><td>{{ r.verdict }}</td><td>{{ r.note }}</td></tr>
{% endfor %}
</table>
{% if m %}
<h2>The master set: job <a href="/jobs/{{ m.id }}">#{{ m.id }}</a>, commit <code>{{ m.sha }}</code></h2>
<table id="master">
<tr><th>cell</th><th>metric</th><th>median</th><th>runs</th></tr>
{% for r in m.rows %}<tr><td>{{ r.cell }}</td><td>{{ r.metric }}</td><td class="num">{{ r.candidate }}</td><td class="num">{{ r.candidate_n }}</td></tr>
{% endfor %}
</table>
{% endif %}
<h2>Files</h2>
<ul>{% for f in c.files %}<li><a href="/files/{{ f }}">{{ f }}</a></li>{% endfor %}
{% if c.report %}<li><a href="/files/{{ c.report }}">report: {{ c.report }}</a></li>{% endif %}</ul>
{% endif %}
{% endblock %}
"#;

pub struct Pages {
    env: Environment<'static>,
}

/// What the index shows of the watched repository.
#[derive(Serialize)]
pub struct Watched<'a> {
    pub repository: &'a str,
    pub role: &'a str,
    pub benchmark: &'a str,
}

#[derive(Serialize)]
struct JobView {
    id: u64,
    kind: &'static str,
    role: &'static str,
    state: &'static str,
    sha: String,
    sha_full: String,
    pr: Option<u64>,
    pr_base: Option<String>,
    baseline: String,
    title: String,
    source: String,
    created: String,
    started: String,
    finished: String,
    attempts: u32,
    max_attempts: u32,
    verdict: &'static str,
    verdict_class: &'static str,
    reason: Option<String>,
    report_error: Option<String>,
}

#[derive(Serialize)]
struct ComparisonView {
    summary: String,
    baseline: String,
    candidate: String,
    rows: Vec<RowView>,
    files: Vec<String>,
    report: Option<String>,
}

#[derive(Serialize)]
struct RowView {
    cell: String,
    metric: String,
    baseline: String,
    baseline_n: String,
    candidate: String,
    candidate_n: String,
    delta: String,
    p: String,
    verdict: &'static str,
    verdict_class: &'static str,
    note: String,
    paired: String,
}

fn verdict_class(text: &'static str) -> &'static str {
    match text {
        "regression" => "regression",
        "improvement" => "improvement",
        _ => "",
    }
}

fn view(j: &Job) -> JobView {
    let verdict = j.verdict().map_or("", verdict_text);
    JobView {
        id: j.id,
        kind: j.spec.kind.as_str(),
        role: j.spec.role.as_str(),
        state: j.state.as_str(),
        sha: j.spec.sha.chars().take(12).collect(),
        sha_full: j.spec.sha.clone(),
        pr: j.spec.pr,
        pr_base: j.spec.pr_base.clone(),
        baseline: j.spec.baseline.clone().unwrap_or_else(|| "the master set".to_string()),
        title: j.spec.title.clone().unwrap_or_default(),
        source: j.source.clone(),
        created: j.created.clone(),
        started: j.started.clone().unwrap_or_default(),
        finished: j.finished.clone().unwrap_or_default(),
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        verdict,
        verdict_class: verdict_class(verdict),
        reason: j.reason.clone(),
        report_error: j.reports.last_error.clone(),
    }
}

impl Pages {
    pub fn new() -> Result<Pages> {
        let mut env = Environment::new();
        for (name, text) in [("layout.html", LAYOUT), ("index.html", INDEX), ("job.html", JOB)] {
            env.add_template(name, text).with_context(|| format!("compiling the template {name}"))?;
        }
        Ok(Pages { env })
    }

    pub fn index(&self, watched: &Watched, jobs: &[Job]) -> Result<String> {
        let jobs: Vec<JobView> = jobs.iter().map(view).collect();
        let ctx = context! { repository => watched.repository, role => watched.role, benchmark => watched.benchmark, jobs => Serde(&jobs) };
        self.env.get_template("index.html")?.render(ctx).context("rendering the job list")
    }

    /// A job's page; `master`: the stored master set, shown beside a test job.
    pub fn job(&self, job: &Job, master: Option<&Job>) -> Result<String> {
        let m = master.and_then(|m| {
            Some(MasterView { id: m.id, sha: m.spec.sha.chars().take(12).collect(), rows: comparison_view(m.comparison.as_ref()?).rows })
        });
        let c = job.comparison.as_ref().map(comparison_view);
        self.env
            .get_template("job.html")?
            .render(context! { j => Serde(view(job)), c => Serde(c), m => Serde(m) })
            .with_context(|| format!("rendering job {}", job.id))
    }
}

#[derive(Serialize)]
struct MasterView {
    id: u64,
    sha: String,
    rows: Vec<RowView>,
}

fn comparison_view(c: &gobench_core::job::Comparison) -> ComparisonView {
    {
        let median = |s: &Option<gobench_core::stats::Summary>| s.as_ref().map_or("–".to_string(), |s| fmt_num(s.median));
        let n = |s: &Option<gobench_core::stats::Summary>| s.as_ref().map_or(String::new(), |s| s.n.to_string());
        ComparisonView {
            summary: c.summary(),
            baseline: c.baseline.clone(),
            candidate: c.candidate.clone(),
            rows: c
                .rows
                .iter()
                .map(|r| {
                    let verdict = verdict_text(r.verdict);
                    RowView {
                        cell: r.cell.clone(),
                        metric: format!("{} ({})", r.metric, r.unit),
                        baseline: median(&r.baseline),
                        baseline_n: n(&r.baseline),
                        candidate: median(&r.candidate),
                        candidate_n: n(&r.candidate),
                        delta: r.delta_pct.map_or("–".into(), gobench_core::analysis::fmt_pct),
                        p: r.p_value.map_or("–".into(), |p| format!("{p:.3}")),
                        verdict,
                        verdict_class: verdict_class(verdict),
                        note: r.note.clone().unwrap_or_default(),
                        paired: r.paired.as_ref().map_or("–".into(), |p| p.describe()),
                    }
                })
                .collect(),
            files: c.files.clone(),
            report: c.report.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use gobench_core::job::{JobKind, JobSpec, Role};

    use super::*;

    #[test]
    fn untrusted_text_stays_text() {
        let spec = JobSpec {
            kind: JobKind::Test,
            role: Role::Workload,
            repository: Some("etcd-io/etcd".into()),
            sha: "c".repeat(40),
            baseline: None,
            pr: Some(3),
            pr_base: None,
            title: Some("<script>alert('x')</script> & \"more\"".into()),
        };
        let mut job = Job::new(spec, "webhook <img src=x onerror=alert(1)>".into(), 3, "2026-12-01T00:00:00Z");
        job.id = 9;
        let pages = Pages::new().unwrap();
        let html = pages.job(&job, None).unwrap();
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;more&quot;"), "{html}");
        let index = pages.index(&Watched { repository: "etcd-io/etcd", role: "workload", benchmark: "put" }, &[job]).unwrap();
        assert!(!index.contains("<script>") && index.contains("href=\"/jobs/9\""), "{index}");
    }
}
