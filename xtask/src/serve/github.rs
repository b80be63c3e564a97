//! The GitHub REST calls of `serve`: commit statuses and PR comments.
//!
//! The token travels only in a sensitive `Authorization: Bearer` header and
//! is redacted from every message. A call that fails with a connection
//! error, a 5xx or a 429 is retried with exponential backoff; the job's
//! result is stored before any call, so a call that still fails only leaves
//! the report owed for the worker's next pass.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::blocking::Client;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};

use crate::upload::Secret;

pub const TOKEN_ENV: &str = "GITHUB_TOKEN";

pub struct GitHub {
    client: Client,
    api: String,
    token: Secret,
    /// Waits between attempts; one attempt more than there are waits.
    backoff: Vec<Duration>,
}

impl GitHub {
    pub fn new(api: &str, token: Secret) -> Result<GitHub> {
        // reqwest is built without a bundled crypto provider; rustls with ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("gobench-xtask/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let backoff = [500, 1000, 2000, 4000].into_iter().map(Duration::from_millis).collect();
        Ok(GitHub { client, api: api.trim_end_matches('/').to_string(), token, backoff })
    }

    /// `POST /repos/{owner}/{repo}/statuses/{sha}`.
    pub fn status(&self, repository: &str, sha: &str, state: &str, target_url: &str, description: &str, context: &str) -> Result<()> {
        let body = serde_json::json!({"state": state, "target_url": target_url, "description": description, "context": context});
        self.post(&format!("/repos/{repository}/statuses/{sha}"), &body)
    }

    /// `POST /repos/{owner}/{repo}/issues/{number}/comments`.
    pub fn comment(&self, repository: &str, pr: u64, body: &str) -> Result<()> {
        self.post(&format!("/repos/{repository}/issues/{pr}/comments"), &serde_json::json!({ "body": body }))
    }

    fn post(&self, path: &str, body: &serde_json::Value) -> Result<()> {
        let url = format!("{}{path}", self.api);
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
            .map_err(|_| anyhow::anyhow!("the GitHub token contains characters not allowed in an HTTP header"))?;
        auth.set_sensitive(true);
        let mut waits = self.backoff.iter();
        loop {
            let sent = self
                .client
                .post(&url)
                .header(AUTHORIZATION, auth.clone())
                .header(ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .json(body)
                .send();
            let (retry, problem) = match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text: String = r.text().unwrap_or_default().chars().take(300).collect();
                    (status >= 500 || status == 429, format!("GitHub answered {status}: {}", text.trim()))
                }
                Err(e) => (true, format!("{:#}", anyhow::Error::new(e.without_url()))),
            };
            let problem = self.token.redact(&problem);
            match waits.next() {
                Some(wait) if retry => {
                    eprintln!("serve: POST {path} failed ({problem}); retrying in {} ms", wait.as_millis());
                    std::thread::sleep(*wait);
                }
                _ => anyhow::bail!("POST {path}: {problem}"),
            }
        }
    }
}
