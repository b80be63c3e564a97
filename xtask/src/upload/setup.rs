//! Horreum definitions for gobench results: the schema, its labels and the change-detection
//! variables. The documents are built by pure functions; `apply` posts them.
//!
//! Endpoints used by `apply` (from Horreum's REST API, `horreum-api` services):
//! `GET /api/schema/idByUri/{uri}`, `POST /api/schema`, `GET|POST /api/schema/{id}/labels`,
//! `GET /api/test/byName/{name}`, `POST /api/alerting/variables?test={id}` (replaces the test's
//! variables).

use anyhow::{bail, Context};
use gobench_core::ledger::{UploadTarget, RESULT_SCHEMA};
use serde_json::{json, Value};

use super::http::{or_empty, Horreum};

/// One label: a name, a JSON path into the result document, and its role.
pub struct LabelDef {
    pub name: &'static str,
    pub jsonpath: &'static str,
    /// Filtering labels tell runs apart (which Go, which benchmark, which host).
    pub filtering: bool,
    /// Metric labels carry the numbers that change detection watches.
    pub metrics: bool,
}

pub const LABELS: &[LabelDef] = &[
    LabelDef { name: "go_commit", jsonpath: "$.provenance.go.sha", filtering: true, metrics: false },
    LabelDef { name: "go_version", jsonpath: "$.provenance.go.version", filtering: true, metrics: false },
    LabelDef { name: "etcd_ref", jsonpath: "$.provenance.workload.ref", filtering: true, metrics: false },
    LabelDef { name: "benchmark", jsonpath: "$.benchmark", filtering: true, metrics: false },
    LabelDef { name: "host", jsonpath: "$.host.name", filtering: true, metrics: false },
    LabelDef { name: "rps", jsonpath: "$.results.rps", filtering: false, metrics: true },
    LabelDef { name: "latency_average", jsonpath: "$.results.latency.average", filtering: false, metrics: true },
    LabelDef { name: "latency_p99_9", jsonpath: "$.results.latency.p99_9", filtering: false, metrics: true },
];

/// The seed's change detection: relative difference of means, 10%, window 5, 10 previous runs.
pub fn change_detection() -> Value {
    json!({
        "model": "relativeDifference",
        "config": {
            "model": "relativeDifference",
            "filter": "mean",
            "threshold": 0.1,
            "window": 5,
            "minPrevious": 10
        }
    })
}

/// Horreum `Schema` without owner/access/id (filled in by `apply`).
pub fn schema_doc() -> Value {
    json!({
        "uri": RESULT_SCHEMA,
        "name": "gobench result",
        "description": "One gobench benchmark run: a Go toolchain, a workload, a benchmark, its measurements and provenance",
        "schema": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": RESULT_SCHEMA,
            "type": "object",
            "required": ["$schema", "started", "ended"],
            "properties": {
                "$schema": { "const": RESULT_SCHEMA },
                "started": { "type": "string", "format": "date-time" },
                "ended": { "type": "string", "format": "date-time" },
                "benchmark": { "type": "string" },
                "host": { "type": "object" },
                "provenance": { "type": "object" },
                "results": { "type": "object" }
            }
        }
    })
}

/// Horreum `Label`s without owner/access/schemaId.
pub fn labels_doc() -> Value {
    Value::Array(
        LABELS
            .iter()
            .map(|l| {
                json!({
                    "name": l.name,
                    "extractors": [{ "name": l.name, "jsonpath": l.jsonpath, "array": false }],
                    "function": null,
                    "filtering": l.filtering,
                    "metrics": l.metrics
                })
            })
            .collect(),
    )
}

/// Horreum `Variable`s (one per metric label) without testId.
pub fn variables_doc() -> Value {
    Value::Array(
        LABELS
            .iter()
            .filter(|l| l.metrics)
            .enumerate()
            .map(|(order, l)| {
                json!({
                    "name": l.name,
                    "group": "gobench",
                    "order": order,
                    "labels": [l.name],
                    "changeDetection": [change_detection()]
                })
            })
            .collect(),
    )
}

/// The files `horreum-setup` writes: name and pretty JSON with a final newline.
pub fn files() -> Vec<(&'static str, String)> {
    [("schema.json", schema_doc()), ("labels.json", labels_doc()), ("variables.json", variables_doc())]
        .into_iter()
        .map(|(name, doc)| {
            let mut text = serde_json::to_string_pretty(&doc).expect("json serialises");
            text.push('\n');
            (name, text)
        })
        .collect()
}

fn expect_ok(what: &str, url: &str, (status, body): (u16, String)) -> anyhow::Result<String> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        bail!("{what} failed: {url} answered {status}: {}", or_empty(&body))
    }
}

fn parse_id(what: &str, body: &str) -> anyhow::Result<i64> {
    body.trim().parse().with_context(|| format!("{what}: expected an id, Horreum answered {:?}", body.trim()))
}

/// Creates or updates the schema, its labels and the test's variables on Horreum.
pub fn apply(horreum: &Horreum, target: &UploadTarget) -> anyhow::Result<()> {
    let base = target.url.trim_end_matches('/');
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };

    // Schema: update in place when one with our URI exists.
    let url = format!("{base}/api/schema/idByUri/{}", encode(RESULT_SCHEMA));
    let (status, body) = horreum.get(&url)?;
    let existing = if status == 200 { Some(parse_id("schema lookup", &body)?) } else { None };
    let mut schema = schema_doc();
    schema["owner"] = json!(target.owner);
    schema["access"] = json!(target.access.as_str());
    if let Some(id) = existing {
        schema["id"] = json!(id);
    }
    let url = format!("{base}/api/schema");
    let schema_id = parse_id("schema upload", &expect_ok("schema upload", &url, horreum.post_json(&url, &schema)?)?)?;
    println!("schema {RESULT_SCHEMA}: id {schema_id}");

    // Labels: keep ids of labels that already exist by name.
    let url = format!("{base}/api/schema/{schema_id}/labels");
    let current: Value = serde_json::from_str(&expect_ok("label list", &url, horreum.get(&url)?)?)
        .with_context(|| format!("label list from {url} is not JSON"))?;
    for mut label in labels_doc().as_array().cloned().unwrap_or_default() {
        let name = label["name"].clone();
        if let Some(id) = current.as_array().into_iter().flatten().find(|l| l["name"] == name).map(|l| l["id"].clone()) {
            label["id"] = id;
        }
        label["owner"] = json!(target.owner);
        label["access"] = json!(target.access.as_str());
        label["schemaId"] = json!(schema_id);
        let id = parse_id("label upload", &expect_ok("label upload", &url, horreum.post_json(&url, &label)?)?)?;
        println!("label {}: id {id}", name.as_str().unwrap_or_default());
    }

    // Variables of the test.
    let test_id: i64 = match target.test.parse() {
        Ok(id) => id,
        Err(_) => {
            let url = format!("{base}/api/test/byName/{}", encode(&target.test));
            let test: Value = serde_json::from_str(&expect_ok("test lookup", &url, horreum.get(&url)?)?)
                .with_context(|| format!("test from {url} is not JSON"))?;
            test["id"].as_i64().with_context(|| format!("test {:?} from {url} has no id", target.test))?
        }
    };
    let mut variables = variables_doc();
    for v in variables.as_array_mut().into_iter().flatten() {
        v["testId"] = json!(test_id);
    }
    let url = format!("{base}/api/alerting/variables?test={test_id}");
    expect_ok("variables upload", &url, horreum.post_json(&url, &variables)?)?;
    println!("test {}: {} change-detection variables", target.test, variables.as_array().map_or(0, Vec::len));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cover_the_agreed_paths() {
        let labels = labels_doc();
        let paths: Vec<&str> = labels.as_array().unwrap().iter().map(|l| l["extractors"][0]["jsonpath"].as_str().unwrap()).collect();
        for p in [
            "$.provenance.go.sha",
            "$.provenance.go.version",
            "$.provenance.workload.ref",
            "$.benchmark",
            "$.host.name",
            "$.results.rps",
            "$.results.latency.average",
            "$.results.latency.p99_9",
        ] {
            assert!(paths.contains(&p), "{p}");
        }
    }

    #[test]
    fn variables_use_the_seed_model() {
        let vars = variables_doc();
        let vars = vars.as_array().unwrap();
        assert_eq!(vars.len(), 3);
        let cfg = &vars[0]["changeDetection"][0]["config"];
        assert_eq!(cfg["threshold"], 0.1);
        assert_eq!(cfg["window"], 5);
        assert_eq!(cfg["minPrevious"], 10);
        assert_eq!(cfg["filter"], "mean");
    }

    #[test]
    fn files_are_deterministic() {
        assert_eq!(files(), files());
        assert!(files().iter().all(|(_, t)| t.ends_with("}\n") || t.ends_with("]\n")));
    }
}
