//! GitHub webhook deliveries: signature checking and what each event asks
//! for, as pure functions of the headers and the raw body.
//!
//! The shell (`xtask serve`) reads the request, calls [`verify`] with the raw
//! body before it looks at anything else, then [`map_event`]; what comes back
//! is either nothing to do, a job to queue, or a rerun of a PR's last job.

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::job::{JobKind, JobSpec, Role};

/// The event name, e.g. `push`.
pub const EVENT_HEADER: &str = "X-GitHub-Event";
/// A GUID per delivery, kept when GitHub redelivers it.
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// `sha256=<hex HMAC-SHA256 of the raw body>`.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// GitHub caps payloads at 25 MB; anything bigger is not from GitHub.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// The comment line that asks for a rerun of a PR's last job.
pub const RERUN_COMMAND: &str = "/gobench rerun";

type HmacSha256 = hmac::Hmac<Sha256>;

/// The `X-Hub-Signature-256` value GitHub sends for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` is a valid signature of `body` under `secret`. The tag is
/// compared in constant time (`Mac::verify_slice`), so a forger learns
/// nothing from how long the answer takes. A missing, malformed or
/// differently hashed header is invalid.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Some(tag) = decode_hex(hex) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

/// The repository `serve` watches, and what its commits are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// `owner/name`, as in `repository.full_name`.
    pub repository: String,
    pub role: Role,
}

/// What a delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `ping`: GitHub checking the hook; answer 200.
    Ping,
    /// Acknowledged, nothing to do; the reason is for the log.
    Ignore(String),
    /// Queue this job.
    Submit(JobSpec),
    /// Queue the last job of this PR again (checked against the queue by the shell).
    Rerun { repository: String, pr: u64 },
}

/// Why a delivery cannot be read: the shell answers 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDelivery(pub String);

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    repository: Repository,
    head_commit: Option<HeadCommit>,
}

#[derive(Deserialize)]
struct HeadCommit {
    message: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    number: u64,
    pull_request: PullRequest,
    repository: Repository,
}

#[derive(Deserialize)]
struct PullRequest {
    title: Option<String>,
    head: Commit,
    base: Commit,
}

#[derive(Deserialize)]
struct Commit {
    sha: String,
}

#[derive(Deserialize)]
struct IssueCommentEvent {
    action: String,
    issue: Issue,
    comment: Comment,
    repository: Repository,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    /// Present only when the issue is a pull request.
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Comment {
    body: String,
    author_association: String,
}

/// Associations that may ask for a rerun: people with write access.
const TRUSTED: &[&str] = &["OWNER", "MEMBER", "COLLABORATOR"];

/// Maps an authenticated delivery to what it asks for. `event` is the
/// `X-GitHub-Event` header. Events other than ping, push, pull_request and
/// issue_comment are ignored; so are events of other repositories.
pub fn map_event(event: &str, body: &[u8], watch: &Watch) -> Result<Action, BadDelivery> {
    let ignore = |why: String| Ok(Action::Ignore(why));
    match event {
        "ping" => Ok(Action::Ping),
        "push" => {
            let p: Push = parse(event, body)?;
            if let Some(other) = other_repository(&p.repository, watch) {
                return ignore(other);
            }
            let default = p.repository.default_branch.as_deref().unwrap_or("master");
            if p.git_ref != format!("refs/heads/{default}") {
                return ignore(format!("push to {} is not to the default branch {default}", p.git_ref));
            }
            if p.deleted || p.after.bytes().all(|b| b == b'0') {
                return ignore("push deleted the branch".into());
            }
            check_sha(&p.after)?;
            let title = p.head_commit.and_then(|c| c.message).map(|m| m.lines().next().unwrap_or("").to_string());
            Ok(Action::Submit(JobSpec {
                kind: JobKind::NewMaster,
                role: watch.role,
                repository: Some(p.repository.full_name),
                sha: p.after,
                baseline: None,
                pr: None,
                pr_base: None,
                title,
            }))
        }
        "pull_request" => {
            let p: PullRequestEvent = parse(event, body)?;
            if let Some(other) = other_repository(&p.repository, watch) {
                return ignore(other);
            }
            if !matches!(p.action.as_str(), "opened" | "synchronize" | "reopened") {
                return ignore(format!("pull_request action {:?} needs no run", p.action));
            }
            check_sha(&p.pull_request.head.sha)?;
            check_sha(&p.pull_request.base.sha)?;
            Ok(Action::Submit(JobSpec {
                kind: JobKind::Test,
                role: watch.role,
                repository: Some(p.repository.full_name),
                sha: p.pull_request.head.sha,
                baseline: None,
                pr: Some(p.number),
                pr_base: Some(p.pull_request.base.sha),
                title: p.pull_request.title,
            }))
        }
        "issue_comment" => {
            let c: IssueCommentEvent = parse(event, body)?;
            if let Some(other) = other_repository(&c.repository, watch) {
                return ignore(other);
            }
            if c.action != "created" {
                return ignore(format!("issue_comment action {:?} needs no run", c.action));
            }
            if c.issue.pull_request.is_none() {
                return ignore(format!("#{} is an issue, not a pull request", c.issue.number));
            }
            if !c.comment.body.lines().any(|l| l.trim() == RERUN_COMMAND) {
                return ignore("the comment does not ask for a rerun".into());
            }
            if !TRUSTED.contains(&c.comment.author_association.as_str()) {
                return ignore(format!(
                    "a rerun needs an owner, member or collaborator; the comment's author is {}",
                    c.comment.author_association
                ));
            }
            Ok(Action::Rerun { repository: c.repository.full_name, pr: c.issue.number })
        }
        other => ignore(format!("event {other:?} is not one serve acts on")),
    }
}

fn parse<'a, T: Deserialize<'a>>(event: &str, body: &'a [u8]) -> Result<T, BadDelivery> {
    serde_json::from_slice(body).map_err(|e| BadDelivery(format!("the body is not a {event} payload: {e}")))
}

fn other_repository(repo: &Repository, watch: &Watch) -> Option<String> {
    (!repo.full_name.eq_ignore_ascii_case(&watch.repository))
        .then(|| format!("repository {} is not the watched {}", repo.full_name, watch.repository))
}

fn check_sha(sha: &str) -> Result<(), BadDelivery> {
    if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(BadDelivery(format!("{sha:?} is not a 40-digit commit SHA")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "1111111111111111111111111111111111111111";
    const BASE: &str = "2222222222222222222222222222222222222222";

    fn watch() -> Watch {
        Watch { repository: "etcd-io/etcd".into(), role: Role::Workload }
    }

    #[test]
    fn githubs_test_vector() {
        let want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(b"It's a Secret to Everybody", b"Hello, World!"), want);
        assert!(verify(b"It's a Secret to Everybody", b"Hello, World!", Some(want)));
    }

    #[test]
    fn forged_or_malformed_signatures_fail() {
        let secret = b"It's a Secret to Everybody";
        let good = sign(secret, b"Hello, World!");
        let flipped = format!("{}{}", &good[..good.len() - 1], if good.ends_with('7') { '8' } else { '7' });
        let table: &[(&[u8], &[u8], Option<&str>)] = &[
            (secret, b"Hello, World!", None),
            (secret, b"Hello, World!", Some("")),
            (secret, b"Hello, World!", Some(&good[7..])),
            (secret, b"Hello, World!", Some(&flipped)),
            (secret, b"Hello, World!", Some("sha1=757107ea0eb2509fc211221cce984b8a37570b6d")),
            (secret, b"Hello, World!", Some("sha256=zz")),
            (secret, b"Hello, World!", Some("sha256=757")),
            (secret, b"Hello, World!", Some(&good[..good.len() - 2])),
            (secret, b"Hello, World?", Some(&good)),
            (b"another secret", b"Hello, World!", Some(&good)),
        ];
        for (i, (secret, body, header)) in table.iter().enumerate() {
            assert!(!verify(secret, body, *header), "row {i} verified: {header:?}");
        }
    }

    fn push(branch: &str, repo: &str, after: &str, deleted: bool) -> String {
        serde_json::json!({
            "ref": format!("refs/heads/{branch}"), "before": BASE, "after": after, "deleted": deleted,
            "repository": {"full_name": repo, "default_branch": "main"},
            "head_commit": {"message": "server: faster apply\n\nlong text"},
        })
        .to_string()
    }

    fn pr(action: &str, head: &str) -> String {
        serde_json::json!({
            "action": action, "number": 42,
            "pull_request": {"title": "<script>alert(1)</script>", "head": {"sha": head}, "base": {"sha": BASE}},
            "repository": {"full_name": "etcd-io/etcd"},
        })
        .to_string()
    }

    fn comment(body: &str, association: &str, on_pr: bool) -> String {
        let mut issue = serde_json::json!({"number": 42});
        if on_pr {
            issue["pull_request"] = serde_json::json!({"url": "x"});
        }
        serde_json::json!({
            "action": "created", "issue": issue,
            "comment": {"body": body, "author_association": association},
            "repository": {"full_name": "etcd-io/etcd"},
        })
        .to_string()
    }

    #[test]
    fn events_map_to_jobs() {
        let master = JobSpec {
            kind: JobKind::NewMaster,
            role: Role::Workload,
            repository: Some("etcd-io/etcd".into()),
            sha: HEAD.into(),
            baseline: None,
            pr: None,
            pr_base: None,
            title: Some("server: faster apply".into()),
        };
        let test = JobSpec {
            kind: JobKind::Test,
            role: Role::Workload,
            repository: Some("etcd-io/etcd".into()),
            sha: HEAD.into(),
            baseline: None,
            pr: Some(42),
            pr_base: Some(BASE.into()),
            title: Some("<script>alert(1)</script>".into()),
        };
        let rerun = Action::Rerun { repository: "etcd-io/etcd".into(), pr: 42 };
        let table: Vec<(&str, String, Option<Action>)> = vec![
            ("ping", "{\"zen\": \"Keep it logically awesome.\"}".into(), Some(Action::Ping)),
            ("push", push("main", "etcd-io/etcd", HEAD, false), Some(Action::Submit(master.clone()))),
            (
                "push",
                push("main", "ETCD-IO/etcd", HEAD, false),
                Some(Action::Submit(JobSpec { repository: Some("ETCD-IO/etcd".into()), ..master })),
            ),
            ("push", push("release-3.6", "etcd-io/etcd", HEAD, false), None),
            ("push", push("main", "someone/etcd", HEAD, false), None),
            ("push", push("main", "etcd-io/etcd", &"0".repeat(40), true), None),
            ("pull_request", pr("opened", HEAD), Some(Action::Submit(test.clone()))),
            ("pull_request", pr("synchronize", HEAD), Some(Action::Submit(test.clone()))),
            ("pull_request", pr("reopened", HEAD), Some(Action::Submit(test))),
            ("pull_request", pr("closed", HEAD), None),
            ("pull_request", pr("labeled", HEAD), None),
            ("issue_comment", comment("/gobench rerun", "OWNER", true), Some(rerun.clone())),
            ("issue_comment", comment("looks odd\n  /gobench rerun  \n", "MEMBER", true), Some(rerun.clone())),
            ("issue_comment", comment("/gobench rerun", "COLLABORATOR", true), Some(rerun)),
            ("issue_comment", comment("/gobench rerun", "CONTRIBUTOR", true), None),
            ("issue_comment", comment("/gobench rerun", "NONE", true), None),
            ("issue_comment", comment("/gobench rerun", "FIRST_TIME_CONTRIBUTOR", true), None),
            ("issue_comment", comment("/gobench rerun", "OWNER", false), None),
            ("issue_comment", comment("please /gobench rerun", "OWNER", true), None),
            ("issues", "{}".into(), None),
            ("workflow_run", "not even json".into(), None),
        ];
        for (event, body, want) in table {
            let got = map_event(event, body.as_bytes(), &watch()).unwrap();
            match want {
                Some(want) => assert_eq!(got, want, "{event} {body}"),
                None => assert!(matches!(got, Action::Ignore(_)), "{event} {body}: {got:?}"),
            }
        }
    }

    #[test]
    fn unreadable_payloads_are_bad_deliveries() {
        let table = [
            ("push", "{".to_string()),
            ("push", "{\"ref\": \"refs/heads/main\"}".to_string()),
            ("push", push("main", "etcd-io/etcd", "HEAD; rm -rf /", false)),
            ("pull_request", pr("opened", "abc")),
            ("pull_request", "[]".to_string()),
            ("issue_comment", "{\"action\": \"created\"}".to_string()),
        ];
        for (event, body) in table {
            assert!(map_event(event, body.as_bytes(), &watch()).is_err(), "{event} {body}");
        }
    }
}
