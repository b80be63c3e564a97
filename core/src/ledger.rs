//! Upload ledger: which result documents Horreum already has, and how to send the rest.
//!
//! Everything here is pure: no file, network or clock access. The caller reads files, asks the
//! clock and talks HTTP; this module decides what is pending, what a request looks like, how a
//! response is classified and when a failed upload may be tried again.
//!
//! Two documents live here:
//! - [`Ledger`], git-tracked (`results/uploads.json`): content hash of a result file -> the Horreum
//!   run id(s) it became. Only facts about Horreum, no timestamps, sorted keys, so that it is
//!   deterministic and merges cleanly.
//! - [`RetryState`], untracked (`.cache/upload-state.json`): attempts, last error and next retry
//!   time of results that failed. Machine-local and time-dependent, so it stays out of git.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `$schema` of a result document.
pub const RESULT_SCHEMA: &str = "urn:gobench:result:1";
/// The `$schema` of the upload ledger.
pub const LEDGER_SCHEMA: &str = "urn:gobench:uploads:1";
/// The `$schema` of the untracked retry state file.
pub const RETRY_STATE_SCHEMA: &str = "urn:gobench:upload-state:1";
/// Horreum's header for API keys.
pub const API_KEY_HEADER: &str = "X-Horreum-API-Key";

/// An error in a document or a setting; the message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err(msg: impl Into<String>) -> Error {
    Error(msg.into())
}

/// Horreum's access levels for uploaded runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Access {
    Public,
    Protected,
    Private,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "PUBLIC",
            Access::Protected => "PROTECTED",
            Access::Private => "PRIVATE",
        }
    }
}

impl std::str::FromStr for Access {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_uppercase().as_str() {
            "PUBLIC" => Ok(Access::Public),
            "PROTECTED" => Ok(Access::Protected),
            "PRIVATE" => Ok(Access::Private),
            _ => Err(err(format!("access must be PUBLIC, PROTECTED or PRIVATE, not {s:?}"))),
        }
    }
}

/// The `[upload]` table of `toolchains.toml`: where results go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadTarget {
    /// Base URL of the Horreum server, e.g. `https://horreum.example.com`.
    pub url: String,
    /// Horreum test name or id.
    pub test: String,
    /// Owning team role; ends in `-team`.
    pub owner: String,
    pub access: Access,
    /// Overrides the `$schema` of the uploaded document when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// File holding the API key (must be readable by its owner only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
}

impl UploadTarget {
    /// Checks what Horreum would reject anyway, before any request is sent.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(err(format!("upload url must start with http:// or https://: {:?}", self.url)));
        }
        if self.url.contains('?') || self.url.contains('#') {
            return Err(err(format!("upload url must be a base url without query: {:?}", self.url)));
        }
        if self.test.trim().is_empty() {
            return Err(err("upload test must not be empty"));
        }
        if !self.owner.ends_with("-team") || self.owner.len() <= "-team".len() {
            return Err(err(format!("upload owner must be a Horreum team role ending in -team: {:?}", self.owner)));
        }
        if let Some(schema) = &self.schema {
            if schema.trim().is_empty() {
                return Err(err("upload schema must not be empty when set"));
            }
        }
        Ok(())
    }
}

/// SHA-256 of a result file's bytes, lowercase hex: the ledger key.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The parts of a result document the upload needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultTimes {
    pub started: String,
    pub ended: String,
}

/// Reads `$schema`, `started` and `ended` from a result document; the rest stays opaque.
pub fn result_times(bytes: &[u8]) -> Result<ResultTimes, Error> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let obj = doc.as_object().ok_or_else(|| err("not a JSON object"))?;
    match obj.get("$schema").and_then(|v| v.as_str()) {
        Some(RESULT_SCHEMA) => {}
        Some(other) => return Err(err(format!("$schema is {other:?}, expected {RESULT_SCHEMA:?}"))),
        None => return Err(err(format!("missing \"$schema\": {RESULT_SCHEMA:?}"))),
    }
    let field = |name: &str| -> Result<String, Error> {
        let s = obj.get(name).and_then(|v| v.as_str()).ok_or_else(|| err(format!("missing string field {name:?}")))?;
        if !is_rfc3339(s) {
            return Err(err(format!("{name:?} is not an RFC 3339 time: {s:?}")));
        }
        Ok(s.to_owned())
    };
    let started = field("started")?;
    let ended = field("ended")?;
    // Same shape in UTC ("...Z", same length) orders lexicographically.
    if started.ends_with('Z') && ended.ends_with('Z') && started.len() == ended.len() && started > ended {
        return Err(err(format!("\"started\" ({started}) is after \"ended\" ({ended})")));
    }
    Ok(ResultTimes { started, ended })
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !(b[10] == b'T' || b[10] == b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// What a URL component (query value or path segment) must escape: everything but RFC 3986's
/// unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a URL component: a query value or one path segment.
pub fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// The full URL of Horreum's upload endpoint for one result:
/// `{url}/api/run/data?test=..&start=..&stop=..&owner=..&access=..[&schema=..]`.
pub fn upload_url(target: &UploadTarget, times: &ResultTimes) -> String {
    let (start, stop) = (milliseconds(&times.started), milliseconds(&times.ended));
    let mut params = vec![
        ("test", target.test.as_str()),
        ("start", start.as_str()),
        ("stop", stop.as_str()),
        ("owner", target.owner.as_str()),
        ("access", target.access.as_str()),
    ];
    if let Some(schema) = &target.schema {
        params.push(("schema", schema));
    }
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    format!("{}/api/run/data?{}", target.url.trim_end_matches('/'), query.join("&"))
}

/// An RFC 3339 time with its fraction cut to milliseconds. Horreum reads the upload's `start`
/// and `stop` into java.time instants (`RunServiceImpl.java`), which hold at most nanoseconds,
/// so more than nine fractional digits are refused; it keeps milliseconds anyway.
fn milliseconds(time: &str) -> String {
    let Some(dot) = time.get(19..20).filter(|c| *c == ".").map(|_| 19) else {
        return time.to_owned();
    };
    let digits = time[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
    if digits <= 3 {
        return time.to_owned();
    }
    format!("{}{}", &time[..dot + 4], &time[dot + 1 + digits..])
}

/// What a Horreum answer to the upload means for the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx other than 204: runs created, ids in the body.
    Created,
    /// 204: the data was valid but no run was created. Sending it again changes nothing.
    NoRun,
    /// 401/403: the API key is missing, wrong, expired or lacks rights. Stop everything.
    KeyProblem,
    /// Other 4xx (and anything unexpected): Horreum refused this document; a human must look.
    Rejected,
    /// 5xx, 408, 429: try again later.
    Transient,
}

pub fn classify(status: u16) -> Outcome {
    match status {
        204 => Outcome::NoRun,
        200..=299 => Outcome::Created,
        401 | 403 => Outcome::KeyProblem,
        408 | 429 => Outcome::Transient,
        500..=599 => Outcome::Transient,
        _ => Outcome::Rejected,
    }
}

/// Why Horreum refused the key's user, from an upload answer, and what to change. `None` when the
/// answer is not about rights (then [`classify`] decides).
///
/// From `RunServiceImpl.java` (Horreum 0.18-0.19): `addRunFromData` is `@RolesAllowed(uploader)`,
/// so a key whose user lacks that role is stopped with 403; a test the user cannot upload to gets
/// 400 "Cannot upload to test ..., either it does not exist or user is not an uploader"
/// (`TestServiceImpl.java`, `ensureTestExists`); an owner other than the test's, whose team role
/// the user lacks, gets 400 "This user does not have permissions to upload run for owner=...".
/// Both 400s hold for every result of the target, so they stop the whole call.
pub fn permission_problem(status: u16, body: &str, target: &UploadTarget) -> Option<String> {
    let team_uploader = target.owner.strip_suffix("-team").map_or_else(|| "<team>-uploader".to_owned(), |t| format!("{t}-uploader"));
    match status {
        403 => Some(format!(
            "Horreum refused the upload with 403: the API key's user lacks the uploader role; give that user the \
             role {team_uploader} in Horreum (or use the key of a user who has it)"
        )),
        400 if body.contains("is not an uploader") => Some(format!(
            "Horreum refused the upload to test {:?}: the test does not exist, or the API key's user is not an \
             uploader for the team that owns it; check the test name, or give that user the team's uploader role \
             (for {}: {team_uploader})",
            target.test, target.owner
        )),
        400 if body.contains("permissions to upload run for owner") => Some(format!(
            "Horreum refused owner {:?}: the API key's user is not a member of that team; set [upload] owner \
             (or --owner) to a team the user belongs to, or add the user to {}",
            target.owner, target.owner
        )),
        _ => None,
    }
}

/// Run ids in Horreum's 202 body (plain text: `123`, or several ids separated by commas).
pub fn parse_run_ids(body: &str) -> Vec<u64> {
    body.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect()
}

/// The git-tracked ledger: content hash -> what Horreum made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    #[serde(rename = "$schema")]
    pub schema: String,
    /// Keyed by [`content_hash`] of the result file.
    pub uploads: BTreeMap<String, LedgerEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// Result path relative to the repository root, `/`-separated, as uploaded.
    pub path: String,
    /// Horreum test the run went to.
    pub test: String,
    /// Run ids Horreum answered; empty when it answered 204 (valid, no run created).
    pub run_ids: Vec<u64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger { schema: LEDGER_SCHEMA.to_owned(), uploads: BTreeMap::new() }
    }
}

impl Ledger {
    pub fn parse(text: &str) -> Result<Ledger, Error> {
        let ledger: Ledger = serde_json::from_str(text).map_err(|e| err(format!("invalid ledger: {e}")))?;
        if ledger.schema != LEDGER_SCHEMA {
            return Err(err(format!("ledger $schema is {:?}, expected {LEDGER_SCHEMA:?}", ledger.schema)));
        }
        Ok(ledger)
    }

    /// Pretty JSON with sorted keys and a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("ledger serialises");
        s.push('\n');
        s
    }

    pub fn contains(&self, hash: &str) -> bool {
        self.uploads.contains_key(hash)
    }
}

/// Untracked retry bookkeeping for results that failed to upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryState {
    #[serde(rename = "$schema")]
    pub schema: String,
    pub failures: BTreeMap<String, Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub path: String,
    /// Calls of `upload` that failed for this result (in-call retries count once).
    pub attempts: u32,
    /// Redacted reason of the last failure.
    pub last_error: String,
    /// Unix seconds before which `--all-pending` does not try again.
    pub next_retry_unix: u64,
    /// Horreum refused the document (4xx): not retried until a human asks for it.
    pub needs_human: bool,
    /// The last attempt timed out after the body was sent: Horreum may have created the run.
    #[serde(default)]
    pub maybe_delivered: bool,
}

impl Default for RetryState {
    fn default() -> Self {
        RetryState { schema: RETRY_STATE_SCHEMA.to_owned(), failures: BTreeMap::new() }
    }
}

impl RetryState {
    pub fn parse(text: &str) -> Result<RetryState, Error> {
        let state: RetryState = serde_json::from_str(text).map_err(|e| err(format!("invalid upload state: {e}")))?;
        if state.schema != RETRY_STATE_SCHEMA {
            return Err(err(format!("upload state $schema is {:?}, expected {RETRY_STATE_SCHEMA:?}", state.schema)));
        }
        Ok(state)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("state serialises");
        s.push('\n');
        s
    }

    /// Records one more failed call for `hash`, scheduling the next retry.
    pub fn record_failure(&mut self, hash: &str, path: &str, error: &str, needs_human: bool, maybe_delivered: bool, now_unix: u64) {
        let attempts = self.failures.get(hash).map_or(0, |f| f.attempts).saturating_add(1);
        self.failures.insert(
            hash.to_owned(),
            Failure {
                path: path.to_owned(),
                attempts,
                last_error: error.to_owned(),
                next_retry_unix: now_unix.saturating_add(retry_delay_secs(attempts)),
                needs_human,
                maybe_delivered,
            },
        );
    }
}

/// Delay before the next call may retry a result that failed `attempts` calls in a row:
/// 5 minutes, doubling, at most a day.
pub fn retry_delay_secs(attempts: u32) -> u64 {
    const BASE: u64 = 5 * 60;
    const MAX: u64 = 24 * 60 * 60;
    let shift = attempts.saturating_sub(1).min(20);
    BASE.saturating_mul(1u64 << shift).min(MAX)
}

/// Pauses (milliseconds) between quick retries inside one call: 500, 1000, 2000, ...
pub fn quick_retry_delays_ms(retries: u32) -> Vec<u64> {
    (0..retries).map(|i| 500u64.saturating_mul(1u64 << i.min(10))).collect()
}

/// One result file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Repository-relative, `/`-separated.
    pub path: String,
    pub hash: String,
}

/// What to do with a candidate now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// In the ledger: never posted again.
    Uploaded,
    /// Same bytes as an earlier candidate in this list: uploaded (or not) with it.
    Duplicate { of: String },
    /// Post it now.
    Due,
    /// Failed before; its backoff has not elapsed.
    Waiting { until_unix: u64 },
    /// Horreum refused it; a human must look (or ask explicitly).
    NeedsHuman { reason: String },
}

/// How [`plan`] treats earlier failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// `--all-pending` and the automatic upload after `bench`: honour backoff and refusals.
    Scheduled,
    /// Files named on the command line: try them now whatever happened before.
    Explicit,
}

/// Decides, for every candidate, whether it is uploaded, due, waiting or blocked.
pub fn plan(candidates: &[Candidate], ledger: &Ledger, state: &RetryState, now_unix: u64, urgency: Urgency) -> Vec<Decision> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    candidates
        .iter()
        .map(|c| {
            if ledger.contains(&c.hash) {
                return Decision::Uploaded;
            }
            if let Some(first) = seen.get(c.hash.as_str()) {
                return Decision::Duplicate { of: (*first).to_owned() };
            }
            seen.insert(&c.hash, &c.path);
            match (urgency, state.failures.get(&c.hash)) {
                (Urgency::Explicit, _) | (_, None) => Decision::Due,
                (Urgency::Scheduled, Some(f)) if f.needs_human => Decision::NeedsHuman { reason: f.last_error.clone() },
                (Urgency::Scheduled, Some(f)) if f.next_retry_unix > now_unix => Decision::Waiting { until_unix: f.next_retry_unix },
                (Urgency::Scheduled, Some(_)) => Decision::Due,
            }
        })
        .collect()
}

/// Replaces every occurrence of `secret` in `text` (no-op for an empty secret).
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> UploadTarget {
        UploadTarget {
            url: "https://horreum.example.com/".into(),
            test: "etcd put".into(),
            owner: "perf-team".into(),
            access: Access::Public,
            schema: None,
            api_key_file: None,
        }
    }

    fn doc(started: &str, ended: &str) -> Vec<u8> {
        format!(r#"{{"$schema":"{RESULT_SCHEMA}","started":"{started}","ended":"{ended}","x":1}}"#).into_bytes()
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(content_hash(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn url_has_all_params_encoded() {
        let times = result_times(&doc("2026-11-21T05:30:00Z", "2026-11-21T05:31:00.5+01:00")).unwrap();
        assert_eq!(
            upload_url(&target(), &times),
            "https://horreum.example.com/api/run/data?test=etcd%20put&start=2026-11-21T05%3A30%3A00Z\
             &stop=2026-11-21T05%3A31%3A00.5%2B01%3A00&owner=perf-team&access=PUBLIC"
        );
        let mut t = target();
        t.schema = Some("urn:x:1".into());
        assert!(upload_url(&t, &times).ends_with("&access=PUBLIC&schema=urn%3Ax%3A1"));
    }

    #[test]
    fn times_are_sent_in_milliseconds() {
        for (doc_time, sent) in [
            ("2026-11-21T05:30:00Z", "2026-11-21T05:30:00Z"),
            ("2026-11-21T05:30:00.5Z", "2026-11-21T05:30:00.5Z"),
            ("2026-11-21T05:30:00.123Z", "2026-11-21T05:30:00.123Z"),
            ("2026-11-21T05:30:00.123456789Z", "2026-11-21T05:30:00.123Z"),
            ("2026-11-21T05:30:00.1234567890123+01:00", "2026-11-21T05:30:00.123+01:00"),
        ] {
            assert_eq!(milliseconds(doc_time), sent, "{doc_time}");
            let times = result_times(&doc(doc_time, doc_time)).unwrap();
            assert!(upload_url(&target(), &times).contains(&format!("start={}&", encode_component(sent))));
        }
    }

    #[test]
    fn result_times_table() {
        let ok = result_times(&doc("2026-11-21T05:30:00Z", "2026-11-21T05:30:01Z")).unwrap();
        assert_eq!(ok.started, "2026-11-21T05:30:00Z");
        for (bytes, want) in [
            (b"[]".to_vec(), "not a JSON object"),
            (b"{".to_vec(), "not valid JSON"),
            (br#"{"started":"2026-11-21T05:30:00Z"}"#.to_vec(), "missing \"$schema\""),
            (br#"{"$schema":"urn:other:1"}"#.to_vec(), "expected"),
            (doc("yesterday", "2026-11-21T05:30:01Z"), "not an RFC 3339 time"),
            (doc("2026-11-21T05:30:00", "2026-11-21T05:30:01Z"), "not an RFC 3339 time"),
            (doc("2026-11-21T05:31:00Z", "2026-11-21T05:30:00Z"), "is after"),
        ] {
            let e = result_times(&bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }

    #[test]
    fn target_validation() {
        assert!(target().validate().is_ok());
        let mut t = target();
        t.owner = "perf".into();
        assert!(t.validate().unwrap_err().to_string().contains("-team"));
        let mut t = target();
        t.url = "horreum".into();
        assert!(t.validate().is_err());
        let parsed: UploadTarget =
            toml::from_str("url = \"http://h\"\ntest = \"t\"\nowner = \"a-team\"\naccess = \"PRIVATE\"\napi_key_file = \"k\"\n").unwrap();
        assert_eq!(parsed.access, Access::Private);
        assert!(toml::from_str::<UploadTarget>("url = \"http://h\"\ntest = \"t\"\nowner = \"a-team\"\naccess = \"OPEN\"\n").is_err());
    }

    #[test]
    fn classify_table() {
        for (status, want) in [
            (202, Outcome::Created),
            (200, Outcome::Created),
            (204, Outcome::NoRun),
            (400, Outcome::Rejected),
            (413, Outcome::Rejected),
            (401, Outcome::KeyProblem),
            (403, Outcome::KeyProblem),
            (429, Outcome::Transient),
            (500, Outcome::Transient),
            (503, Outcome::Transient),
            (302, Outcome::Rejected),
        ] {
            assert_eq!(classify(status), want, "{status}");
        }
    }

    #[test]
    fn permission_answers_say_what_to_change() {
        let t = target();
        let forbidden = permission_problem(403, "", &t).unwrap();
        assert!(forbidden.contains("uploader role") && forbidden.contains("perf-uploader"), "{forbidden}");
        let test = permission_problem(400, "Cannot upload to test etcd put, either it does not exist or user is not an uploader", &t);
        assert!(test.unwrap().contains("not an uploader for the team"));
        let owner = permission_problem(400, "This user does not have permissions to upload run for owner=perf-team", &t).unwrap();
        assert!(owner.contains("set [upload] owner"), "{owner}");
        assert_eq!(permission_problem(400, "Cannot parse start", &t), None);
        assert_eq!(permission_problem(401, "", &t), None);
    }

    #[test]
    fn run_ids() {
        assert_eq!(parse_run_ids("123"), vec![123]);
        assert_eq!(parse_run_ids("12, 13\n"), vec![12, 13]);
        assert_eq!(parse_run_ids("[7,8]"), vec![7, 8]);
        assert!(parse_run_ids("").is_empty());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(retry_delay_secs(1), 300);
        assert_eq!(retry_delay_secs(2), 600);
        assert_eq!(retry_delay_secs(3), 1200);
        assert_eq!(retry_delay_secs(100), 86400);
        assert_eq!(quick_retry_delays_ms(3), vec![500, 1000, 2000]);
    }

    #[test]
    fn ledger_round_trips_sorted() {
        let mut l = Ledger::default();
        for h in ["bb", "aa"] {
            l.uploads.insert(h.into(), LedgerEntry { path: format!("results/{h}.json"), test: "t".into(), run_ids: vec![1] });
        }
        let text = l.to_json();
        assert!(text.find("\"aa\"").unwrap() < text.find("\"bb\"").unwrap());
        assert!(text.starts_with("{\n  \"$schema\": \"urn:gobench:uploads:1\""));
        assert_eq!(Ledger::parse(&text).unwrap(), l);
        assert!(Ledger::parse("{\"$schema\":\"urn:x\",\"uploads\":{}}").is_err());
    }

    #[test]
    fn plan_table() {
        let c = |p: &str, h: &str| Candidate { path: p.into(), hash: h.into() };
        let cands = [c("a", "h1"), c("b", "h2"), c("c", "h3"), c("d", "h4"), c("e", "h1"), c("f", "h5")];
        let mut ledger = Ledger::default();
        ledger.uploads.insert("h2".into(), LedgerEntry { path: "b".into(), test: "t".into(), run_ids: vec![5] });
        let mut state = RetryState::default();
        state.record_failure("h3", "c", "503", false, false, 1000); // retry at 1300
        state.record_failure("h4", "d", "400 bad", true, false, 1000);
        state.record_failure("h5", "f", "503", false, false, 0); // retry at 300
        let got = plan(&cands, &ledger, &state, 1200, Urgency::Scheduled);
        assert_eq!(
            got,
            vec![
                Decision::Due,
                Decision::Uploaded,
                Decision::Waiting { until_unix: 1300 },
                Decision::NeedsHuman { reason: "400 bad".into() },
                Decision::Duplicate { of: "a".into() },
                Decision::Due,
            ]
        );
        let got = plan(&cands, &ledger, &state, 1200, Urgency::Explicit);
        assert_eq!(got[2], Decision::Due);
        assert_eq!(got[3], Decision::Due);
        assert_eq!(got[1], Decision::Uploaded);
    }

    #[test]
    fn failures_count_up() {
        let mut s = RetryState::default();
        s.record_failure("h", "p", "e1", false, false, 0);
        s.record_failure("h", "p", "e2", false, true, 10);
        let f = &s.failures["h"];
        assert_eq!((f.attempts, f.last_error.as_str(), f.next_retry_unix, f.maybe_delivered), (2, "e2", 610, true));
        assert_eq!(RetryState::parse(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("key HUSR_x in HUSR_x", "HUSR_x"), "key [redacted] in [redacted]");
        assert_eq!(redact("abc", ""), "abc");
    }
}
