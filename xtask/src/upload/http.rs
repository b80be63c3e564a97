//! The HTTP side of talking to Horreum: one blocking client, the key in a sensitive header,
//! quick retries for answers that say "try again", and every message redacted.

use std::time::{Duration, Instant};

use anyhow::Context;
use gobench_core::ledger::{self, Outcome, API_KEY_HEADER};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{HeaderValue, CONTENT_TYPE};

use super::secret::ApiKey;

/// A Horreum server as seen by one call of the toolkit.
pub struct Horreum {
    client: Client,
    key: ApiKey,
    verbose: bool,
    quick_retries: u32,
    timeout: Duration,
}

/// What came of posting one result.
#[derive(Debug)]
pub enum PostResult {
    Created(Vec<u64>),
    NoRun,
    KeyProblem {
        status: u16,
        message: String,
    },
    Rejected {
        status: u16,
        message: String,
    },
    /// Still pending. `maybe_delivered`: the body may have reached Horreum (timeout after send).
    Transient {
        reason: String,
        maybe_delivered: bool,
    },
}

enum Failure {
    /// No connection was made: nothing reached the server.
    Connect(String),
    /// The server did not answer in time; it may have processed the request.
    Timeout(String),
    Other(String),
}

impl Horreum {
    pub fn new(key: ApiKey, timeout: Duration, quick_retries: u32, verbose: bool) -> anyhow::Result<Horreum> {
        // reqwest is built without a bundled crypto provider; rustls with ring is ours.
        // Installing twice is harmless (the second call returns Err and changes nothing).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("gobench-xtask/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Horreum { client, key, verbose, quick_retries, timeout })
    }

    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    fn key_header(&self) -> anyhow::Result<HeaderValue> {
        let mut value = HeaderValue::from_str(self.key.expose())
            .map_err(|_| anyhow::anyhow!("the Horreum API key contains characters not allowed in an HTTP header"))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sends one request; returns status and body text (redacted, whole: setup parses it).
    fn send(&self, method: &str, url: &str, request: RequestBuilder) -> Result<(u16, String), Failure> {
        let header = self.key_header().map_err(|e| Failure::Other(e.to_string()))?;
        if self.verbose {
            eprintln!("{method} {}", self.key.redact(url));
        }
        let started = Instant::now();
        let response = request.header(API_KEY_HEADER, header).send();
        let elapsed = started.elapsed().as_millis();
        match response {
            Ok(response) => {
                let status = response.status();
                let body = response.text().unwrap_or_default();
                if self.verbose {
                    eprintln!("  -> {status} ({elapsed} ms)");
                }
                Ok((status.as_u16(), self.key.redact(body.trim())))
            }
            Err(e) => {
                // The URL was printed above (with --verbose) and is in the caller's context.
                let e = e.without_url();
                let text = self.key.redact(&error_chain(&e));
                if self.verbose {
                    eprintln!("  -> failed after {elapsed} ms: {text}");
                }
                Err(if e.is_connect() {
                    Failure::Connect(text)
                } else if e.is_timeout() {
                    Failure::Timeout(format!("no answer within {} s: {text}", self.timeout.as_secs_f64()))
                } else {
                    Failure::Other(text)
                })
            }
        }
    }

    /// `POST url` with a result document, retrying quickly on 5xx and refused connections.
    pub fn post_run(&self, url: &str, body: &[u8]) -> PostResult {
        let delays = ledger::quick_retry_delays_ms(self.quick_retries);
        let mut attempt = 0usize;
        loop {
            let request = self.client.post(url).header(CONTENT_TYPE, "application/json").body(body.to_vec());
            let reason = match self.send("POST", url, request) {
                Ok((status, text)) => match (ledger::classify(status), shorten(&text)) {
                    (Outcome::Created, _) => return PostResult::Created(ledger::parse_run_ids(&text)),
                    (Outcome::NoRun, _) => return PostResult::NoRun,
                    (Outcome::KeyProblem, message) => return PostResult::KeyProblem { status, message },
                    (Outcome::Rejected, message) => return PostResult::Rejected { status, message },
                    (Outcome::Transient, message) => format!("HTTP {status}: {}", or_empty(&message)),
                },
                Err(Failure::Connect(text)) => format!("connection failed: {text}"),
                Err(Failure::Timeout(text)) => {
                    return PostResult::Transient { reason: format!("timed out: {text}"), maybe_delivered: true }
                }
                Err(Failure::Other(text)) => {
                    return PostResult::Transient { reason: format!("request failed: {text}"), maybe_delivered: true }
                }
            };
            match delays.get(attempt) {
                Some(ms) => {
                    if self.verbose {
                        eprintln!("  retrying in {ms} ms ({reason})");
                    }
                    std::thread::sleep(Duration::from_millis(*ms));
                    attempt += 1;
                }
                None => return PostResult::Transient { reason, maybe_delivered: false },
            }
        }
    }

    /// One setup request (`GET`, `POST`, `PUT`), with a JSON body when given; returns status and
    /// body. Nothing is retried: setup is run by hand and reads before it writes.
    pub fn call(&self, method: reqwest::Method, url: &str, body: Option<&serde_json::Value>) -> anyhow::Result<(u16, String)> {
        let name = method.to_string();
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_string());
        }
        self.send(&name, url, request).map_err(|f| failure_error(url, f, &self.key))
    }
}

fn failure_error(url: &str, failure: Failure, key: &ApiKey) -> anyhow::Error {
    let text = match failure {
        Failure::Connect(t) | Failure::Timeout(t) | Failure::Other(t) => t,
    };
    anyhow::anyhow!("request to {} failed: {text}", key.redact(url))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// At most 500 characters of an answer, for messages.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 500;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

pub fn or_empty(text: &str) -> &str {
    if text.is_empty() {
        "(empty answer)"
    } else {
        text
    }
}
