//! Horreum definitions for gobench results (the schema, its labels, the test and its
//! change-detection variables) and `apply`, which makes a Horreum server hold them.
//!
//! The documents are built by pure functions. `apply` reads what the server has, and writes only
//! what differs, so a second run sends no write at all. It speaks the API of Horreum 0.18 and
//! later, as defined in Horreum's source at release 0.19.3:
//! - `GET /api/config/version` (`api/services/ConfigService.java`): the version, checked first;
//! - `GET /api/schema/idByUri/{uri}`, `GET /api/schema/{id}`, `POST /api/schema` (create only,
//!   201 with the id) and `PUT /api/schema` (update), split in 0.18 (`api/services/SchemaService.java`);
//! - `GET|POST|PUT /api/schema/{id}/labels`: since 0.19 POST and PUT take a list of labels and
//!   POST answers the new ids as a JSON array; in 0.18 POST takes one label and answers its id;
//! - `GET /api/test/byName/{name}` (404 when missing), `GET /api/test/{id}`, `POST /api/test`
//!   (`api/services/TestService.java`);
//! - `GET|POST /api/alerting/variables?test={id}`, where the POST replaces the test's whole set of
//!   variables, matched by id, `POST /api/alerting/changeDetection?testId={id}` (the test's
//!   fingerprint labels) and `POST /api/alerting/recalculate?test={id}`
//!   (`api/internal/services/AlertingService.java`: internal, not in the published openapi.yaml).

use std::fmt;

use anyhow::{bail, Context};
use gobench_core::ledger::{encode_component, UploadTarget, RESULT_SCHEMA};
use reqwest::Method;
use serde_json::{json, Value};

use super::http::{or_empty, shorten, Horreum};

/// The oldest Horreum whose API `apply` speaks: schema create and update were split in 0.18.
pub const MIN_VERSION: (u64, u64) = (0, 18);
/// From this version on, labels are posted and put as lists.
const LABEL_LISTS: (u64, u64) = (0, 19);

/// One label: a name, a JSON path into the result document, and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelDef {
    pub name: String,
    pub jsonpath: String,
    /// Filtering labels tell runs apart (which Go, which benchmark, which host).
    pub filtering: bool,
    /// Metric labels carry the numbers that change detection watches.
    pub metrics: bool,
}

/// Filtering labels and the seed's headline numbers (`results` of the document).
const FIXED_LABELS: &[(&str, &str, bool)] = &[
    ("cell", "$.cell", true),
    ("benchmark", "$.benchmark", true),
    ("go_commit", "$.provenance.go.sha", true),
    ("go_version", "$.provenance.go.version", true),
    ("etcd_ref", "$.provenance.workload.ref", true),
    ("host", "$.host.name", true),
    ("rps", "$.results.rps", false),
    ("rps_stm", "$.results.rps_stm", false),
    ("latency_average", "$.results.latency.average", false),
    ("latency_fastest", "$.results.latency.fastest", false),
    ("latency_slowest", "$.results.latency.slowest", false),
    ("latency_stddev", "$.results.latency.stddev", false),
    ("latency_p99_9", "$.results.latency.p99_9", false),
];

/// The labels for results whose `metrics` have the given names: the fixed ones, then one per
/// metric (`metric:<name>`, the median over the valid runs), so that Horreum can watch every
/// number a result publishes: etcd's, and go-std's, whose names come from the benchmarks.
pub fn labels(metric_names: &[String]) -> Vec<LabelDef> {
    let fixed = FIXED_LABELS.iter().map(|(name, jsonpath, filtering)| LabelDef {
        name: (*name).to_owned(),
        jsonpath: (*jsonpath).to_owned(),
        filtering: *filtering,
        metrics: !filtering,
    });
    let per_metric = metric_names.iter().map(|m| LabelDef {
        name: format!("metric:{m}"),
        // PostgreSQL's jsonpath (Horreum's): a quoted key holds spaces and slashes ("ns/op").
        jsonpath: format!("$.metrics.{}.summary.median", Value::String(m.clone())),
        filtering: false,
        metrics: true,
    });
    fixed.chain(per_metric).collect()
}

/// The labels that split a test's runs into series (Horreum's fingerprint): one series per cell
/// (Go toolchain, workload and benchmark) and host, so that master and a release, or put and stm,
/// are never compared with each other.
pub const FINGERPRINT: &[&str] = &["cell", "host"];

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

/// Horreum `Schema` (`api/data/Schema.java`) without id.
pub fn schema_doc(target: Option<&UploadTarget>) -> Value {
    let mut doc = json!({
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
                "results": { "type": "object" },
                "metrics": { "type": "object" }
            }
        }
    });
    owned(&mut doc, target);
    doc
}

/// Horreum `Label`s (`api/data/Label.java`, extractors `api/data/Extractor.java` with `isarray`)
/// without id and schemaId.
pub fn labels_doc(labels: &[LabelDef], target: Option<&UploadTarget>) -> Value {
    Value::Array(
        labels
            .iter()
            .map(|l| {
                let mut doc = json!({
                    "name": l.name,
                    "extractors": [{ "name": l.name, "jsonpath": l.jsonpath, "isarray": false }],
                    "function": null,
                    "filtering": l.filtering,
                    "metrics": l.metrics
                });
                owned(&mut doc, target);
                doc
            })
            .collect(),
    )
}

/// Horreum `Variable`s (`api/alerting/Variable.java`), one per metric label, without ids.
pub fn variables_doc(labels: &[LabelDef]) -> Value {
    Value::Array(
        labels
            .iter()
            .filter(|l| l.metrics)
            .enumerate()
            .map(|(order, l)| {
                json!({
                    "name": l.name,
                    "group": "gobench",
                    "order": order,
                    "labels": [l.name],
                    "calculation": null,
                    "changeDetection": [change_detection()]
                })
            })
            .collect(),
    )
}

fn owned(doc: &mut Value, target: Option<&UploadTarget>) {
    if let Some(t) = target {
        doc["owner"] = json!(t.owner);
        doc["access"] = json!(t.access.as_str());
    }
}

/// The files `horreum-setup` writes: name and pretty JSON with a final newline.
pub fn files(labels: &[LabelDef]) -> Vec<(&'static str, String)> {
    [("schema.json", schema_doc(None)), ("labels.json", labels_doc(labels, None)), ("variables.json", variables_doc(labels))]
        .into_iter()
        .map(|(name, doc)| {
            let mut text = serde_json::to_string_pretty(&doc).expect("json serialises");
            text.push('\n');
            (name, text)
        })
        .collect()
}

/// `true` when `have` (what the server holds) already says everything `want` says. Fields the
/// server adds (ids, timestamps, defaults) do not count as a difference.
fn covers(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w.iter().all(|(k, v)| covers(h.get(k).unwrap_or(&Value::Null), v)),
        (Value::Array(h), Value::Array(w)) => h.len() == w.len() && h.iter().zip(w).all(|(h, w)| covers(h, w)),
        (Value::Number(h), Value::Number(w)) => h.as_f64() == w.as_f64(),
        _ => have == want,
    }
}

/// Our variables merged into the test's current set: ours take the ids of the variables (and
/// change detections) of the same name, so that Horreum keeps their datapoints and changes;
/// variables that are not ours stay as they are. `None` when the server already has all of it.
pub fn merge_variables(current: &[Value], ours: &[Value], test_id: &Value) -> Option<Value> {
    let mut merged: Vec<Value> = current.to_vec();
    let mut changed = false;
    for want in ours {
        let mut want = want.clone();
        want["testId"] = test_id.clone();
        match merged.iter_mut().find(|v| v["name"] == want["name"]) {
            Some(have) => {
                if !covers(have, &without_ids(&want)) {
                    want["id"] = have["id"].clone();
                    for (i, cd) in want["changeDetection"].as_array_mut().into_iter().flatten().enumerate() {
                        if let Some(id) = have["changeDetection"].get(i).filter(|h| h["model"] == cd["model"]).map(|h| h["id"].clone()) {
                            cd["id"] = id;
                        }
                    }
                    *have = want;
                    changed = true;
                }
            }
            None => {
                merged.push(want);
                changed = true;
            }
        }
    }
    changed.then_some(Value::Array(merged))
}

fn without_ids(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    v
}

/// `major.minor.patch` of a Horreum version string such as `0.19.3` or `0.20.0-SNAPSHOT`.
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.trim().split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// An id on the server, or one that a write not sent (dry run) would have created.
#[derive(Debug, Clone)]
enum Id {
    Known(i64),
    New(&'static str),
}

impl Id {
    fn json(&self) -> Value {
        match self {
            Id::Known(id) => json!(id),
            Id::New(what) => json!(format!("<{what}>")),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Known(id) => write!(f, "{id}"),
            Id::New(what) => write!(f, "<{what}>"),
        }
    }
}

/// The server, with reads always sent and writes sent only when `send_writes`.
struct Server<'a> {
    horreum: &'a Horreum,
    base: String,
    send_writes: bool,
    writes: usize,
}

impl Server<'_> {
    /// `GET path`: `None` on 404, the JSON otherwise.
    fn read(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let url = format!("{}{path}", self.base);
        let (status, body) = self.horreum.call(Method::GET, &url, None)?;
        match status {
            404 => Ok(None),
            200 => serde_json::from_str(&body)
                .map(Some)
                .with_context(|| format!("{url} answered with text that is not JSON: {}", shorten(&body))),
            _ => bail!("GET {url} answered {status}: {}", or_empty(&shorten(&body))),
        }
    }

    /// A write: sent and its JSON answer returned (`Null` when empty), or printed in a dry run.
    fn write(&mut self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Option<Value>> {
        let url = format!("{}{path}", self.base);
        self.writes += 1;
        if !self.send_writes {
            println!("would send: {method} {url}");
            if let Some(body) = body {
                println!("{}", serde_json::to_string_pretty(body).expect("json serialises"));
            }
            return Ok(None);
        }
        let (status, text) = self.horreum.call(method.clone(), &url, body)?;
        if !(200..300).contains(&status) {
            bail!("{method} {url} answered {status}: {}", or_empty(&shorten(&text)));
        }
        if text.trim().is_empty() {
            return Ok(Some(Value::Null));
        }
        serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{method} {url} answered with text that is not JSON: {}", shorten(&text)))
    }
}

fn id_of(what: &str, v: &Value) -> anyhow::Result<i64> {
    v.as_i64()
        .or_else(|| v["id"].as_i64())
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .with_context(|| format!("{what}: expected an id, Horreum answered {v}"))
}

/// Makes the server hold our schema, labels, test and variables, writing only what differs, and
/// asks Horreum to recalculate the test's datapoints when anything changed. With `send_writes`
/// false nothing is written: each write it would send is printed instead.
pub fn apply(horreum: &Horreum, target: &UploadTarget, labels: &[LabelDef], send_writes: bool) -> anyhow::Result<()> {
    let mut server = Server { horreum, base: target.url.trim_end_matches('/').to_owned(), send_writes, writes: 0 };

    let version_info = server.read("/api/config/version")?.with_context(|| {
        format!("{} has no /api/config/version: it is not Horreum, or older than {}.{}", server.base, MIN_VERSION.0, MIN_VERSION.1)
    })?;
    let version_text = version_info["version"].as_str().unwrap_or_default().to_owned();
    let version = parse_version(&version_text).with_context(|| format!("cannot read Horreum's version {version_text:?}"))?;
    if (version.0, version.1) < MIN_VERSION {
        bail!(
            "Horreum {version_text} at {} is older than {}.{}, the oldest whose API horreum-setup speaks; upgrade Horreum",
            server.base,
            MIN_VERSION.0,
            MIN_VERSION.1
        );
    }
    println!("Horreum {version_text} at {}", server.base);

    let schema_id = apply_schema(&mut server, target)?;
    apply_labels(&mut server, target, labels, &schema_id, (version.0, version.1) >= LABEL_LISTS)?;
    let test_id = apply_test(&mut server, target)?;

    let current = match &test_id {
        Id::Known(id) => server.read(&format!("/api/alerting/variables?test={id}"))?.unwrap_or(json!([])),
        Id::New(_) => json!([]),
    };
    let current = current.as_array().cloned().unwrap_or_default();
    let ours = variables_doc(labels);
    let ours = ours.as_array().cloned().unwrap_or_default();
    if let Some(merged) = merge_variables(&current, &ours, &test_id.json()) {
        server.write(Method::POST, &format!("/api/alerting/variables?test={test_id}"), Some(&merged))?;
        println!("test {}: {} change-detection variables written", target.test, ours.len());
    }
    if server.writes > 0 {
        // Datapoints exist only for variables and labels as they were; recompute them.
        server.write(Method::POST, &format!("/api/alerting/recalculate?test={test_id}"), None)?;
        println!("{} write(s){}", server.writes, if send_writes { " sent" } else { " would be sent (dry run)" });
    } else {
        println!("Horreum already holds the schema, labels, test and variables: nothing to change");
    }
    Ok(())
}

fn apply_schema(server: &mut Server, target: &UploadTarget) -> anyhow::Result<Id> {
    let want = schema_doc(Some(target));
    let found = server.read(&format!("/api/schema/idByUri/{}", encode_component(RESULT_SCHEMA)))?;
    match found {
        None => {
            let answer = server.write(Method::POST, "/api/schema", Some(&want))?;
            let id = answer.map(|a| id_of("schema create", &a)).transpose()?.map_or(Id::New("new schema id"), Id::Known);
            println!("schema {RESULT_SCHEMA}: created, id {id}");
            Ok(id)
        }
        Some(found) => {
            let id = id_of("schema lookup", &found)?;
            let have = server.read(&format!("/api/schema/{id}"))?.with_context(|| format!("schema {id} vanished while reading it"))?;
            if !covers(&have, &want) {
                let mut body = want;
                body["id"] = json!(id);
                server.write(Method::PUT, "/api/schema", Some(&body))?;
                println!("schema {RESULT_SCHEMA}: id {id}, updated");
            }
            Ok(Id::Known(id))
        }
    }
}

fn apply_labels(server: &mut Server, target: &UploadTarget, labels: &[LabelDef], schema_id: &Id, lists: bool) -> anyhow::Result<()> {
    let current = match schema_id {
        Id::Known(id) => server.read(&format!("/api/schema/{id}/labels"))?.unwrap_or(json!([])),
        Id::New(_) => json!([]),
    };
    let current = current.as_array().cloned().unwrap_or_default();
    let (mut new, mut changed) = (Vec::new(), Vec::new());
    for mut want in labels_doc(labels, Some(target)).as_array().cloned().unwrap_or_default() {
        want["schemaId"] = schema_id.json();
        match current.iter().find(|l| l["name"] == want["name"]) {
            Some(have) if covers(have, &want) => {}
            Some(have) => {
                want["id"] = have["id"].clone();
                changed.push(want);
            }
            None => new.push(want),
        }
    }
    let path = format!("/api/schema/{schema_id}/labels");
    if lists {
        if !new.is_empty() {
            server.write(Method::POST, &path, Some(&Value::Array(new.clone())))?;
        }
        if !changed.is_empty() {
            server.write(Method::PUT, &path, Some(&Value::Array(changed.clone())))?;
        }
    } else {
        // Horreum 0.18: one label per request, POST creating or updating by id.
        for label in new.iter().chain(&changed) {
            server.write(Method::POST, &path, Some(label))?;
        }
    }
    println!("labels: {} created, {} updated, {} unchanged", new.len(), changed.len(), labels.len() - new.len() - changed.len());
    Ok(())
}

fn apply_test(server: &mut Server, target: &UploadTarget) -> anyhow::Result<Id> {
    let found = match target.test.parse::<i64>() {
        Ok(id) => Some(server.read(&format!("/api/test/{id}"))?.with_context(|| {
            format!("Horreum has no test with id {id}; set [upload] test to an existing test, or to a name to create it")
        })?),
        Err(_) => server.read(&format!("/api/test/byName/{}", encode_component(&target.test)))?,
    };
    let Some(test) = found else {
        let body = json!({
            "name": target.test,
            "description": "gobench results",
            "owner": target.owner,
            "access": target.access.as_str(),
            "fingerprintLabels": FINGERPRINT
        });
        let answer = server.write(Method::POST, "/api/test", Some(&body))?;
        let id = answer.map(|a| id_of("test create", &a)).transpose()?.map_or(Id::New("new test id"), Id::Known);
        println!("test {}: created, id {id}, owned by {}", target.test, target.owner);
        return Ok(id);
    };
    let id = id_of("test lookup", &test)?;
    if !covers(&test, &json!({ "fingerprintLabels": FINGERPRINT })) {
        // AlertingService.java `changeDetection` sets all four fields: keep the test's others.
        let update = json!({
            "fingerprintLabels": FINGERPRINT,
            "fingerprintFilter": test["fingerprintFilter"],
            "timelineLabels": test["timelineLabels"],
            "timelineFunction": test["timelineFunction"]
        });
        server.write(Method::POST, &format!("/api/alerting/changeDetection?testId={id}"), Some(&update))?;
        println!("test {}: id {id}, series split by {}", target.test, FINGERPRINT.join(", "));
    }
    Ok(Id::Known(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cover_every_published_number() {
        let labels = labels(&["BenchmarkQuote-2 ns/op".to_owned()]);
        let paths: Vec<&str> = labels.iter().map(|l| l.jsonpath.as_str()).collect();
        for p in [
            "$.provenance.go.sha",
            "$.benchmark",
            "$.host.name",
            "$.results.rps",
            "$.results.rps_stm",
            "$.results.latency.average",
            "$.results.latency.p99_9",
            "$.metrics.\"BenchmarkQuote-2 ns/op\".summary.median",
        ] {
            assert!(paths.contains(&p), "{p}");
        }
        let doc = labels_doc(&labels, None);
        assert_eq!(doc[0]["extractors"][0]["isarray"], false);
        assert!(doc[0]["extractors"][0].get("array").is_none());
    }

    #[test]
    fn variables_use_the_seed_model() {
        let vars = variables_doc(&labels(&[]));
        let vars = vars.as_array().unwrap();
        assert_eq!(vars.len(), 7);
        let cfg = &vars[0]["changeDetection"][0]["config"];
        assert_eq!((cfg["threshold"].as_f64(), cfg["window"].as_u64(), cfg["minPrevious"].as_u64()), (Some(0.1), Some(5), Some(10)));
        assert_eq!(cfg["filter"], "mean");
    }

    #[test]
    fn merging_variables_keeps_ids_and_foreign_variables() {
        let ours = variables_doc(&labels(&[]));
        let ours = ours.as_array().unwrap();
        let mut have_rps = ours[0].clone();
        have_rps["id"] = json!(11);
        have_rps["testId"] = json!(42);
        have_rps["changeDetection"][0]["id"] = json!(21);
        have_rps["changeDetection"][0]["config"]["threshold"] = json!(0.2);
        let foreign = json!({"id": 12, "name": "theirs", "testId": 42, "labels": ["x"], "changeDetection": []});
        let merged = merge_variables(&[have_rps, foreign.clone()], ours, &json!(42)).unwrap();
        let merged = merged.as_array().unwrap();
        assert_eq!(merged.len(), ours.len() + 1);
        assert_eq!((&merged[0]["id"], &merged[0]["changeDetection"][0]["id"]), (&json!(11), &json!(21)));
        assert_eq!(merged[0]["changeDetection"][0]["config"]["threshold"], 0.1);
        assert_eq!(merged[1], foreign);
        // Once the server holds the merge, nothing is left to write.
        assert_eq!(merge_variables(merged, ours, &json!(42)), None);
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("0.19.3"), Some((0, 19, 3)));
        assert_eq!(parse_version("0.20.0-SNAPSHOT"), Some((0, 20, 0)));
        assert_eq!(parse_version("1.2"), Some((1, 2, 0)));
        assert_eq!(parse_version("dev"), None);
    }

    #[test]
    fn files_are_deterministic() {
        let l = labels(&[]);
        assert_eq!(files(&l), files(&l));
        assert!(files(&l).iter().all(|(_, t)| t.ends_with("}\n") || t.ends_with("]\n")));
    }
}
