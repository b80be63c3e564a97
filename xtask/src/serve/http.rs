//! The HTTP side of `serve`, on `tiny_http`: `POST /webhook`, the pages,
//! `/healthz` and the result files the pages link to.
//!
//! A delivery is only ever queued here, never run, so GitHub gets its answer
//! in milliseconds. Requests are handled one at a time on this thread; the
//! worker and the reporter have their own threads and queue connections.

use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::Sender;

use anyhow::{Context, Result};
use gobench_core::job::Job;
use gobench_core::webhook::{self, Action, Watch};
use tiny_http::{Header, Method, Request, Response};

use super::now;
use super::pages::{Pages, Watched};
use super::queue::{Delivered, Queue};
use crate::upload::Secret;

pub struct Site {
    pub queue: Queue,
    pub watch: Watch,
    pub benchmark: String,
    pub secret: Secret,
    pub max_attempts: u32,
    pub pages: Pages,
    /// Where `/files/...` are read from: the project root, `results/` only.
    pub root: PathBuf,
    /// Woken when a job is queued: the worker and the reporter.
    pub wake: Vec<Sender<()>>,
}

type Answer = Response<Cursor<Vec<u8>>>;

fn text(status: u16, body: impl Into<String>) -> Answer {
    Response::from_string(body.into()).with_status_code(status).with_header(content_type("text/plain; charset=utf-8"))
}

fn content_type(value: &str) -> Header {
    Header::from_bytes("Content-Type", value).expect("a valid header")
}

pub fn serve(listen: &str, mut site: Site) -> Result<()> {
    let server =
        tiny_http::Server::http(listen).map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}; is another server running there?"))?;
    eprintln!("serve: listening on http://{}", server.server_addr());
    for mut request in server.incoming_requests() {
        let answer = site.answer(&mut request).unwrap_or_else(|e| {
            eprintln!("serve: {} {}: {e:#}", request.method(), request.url());
            text(500, "internal error; see the server's log\n")
        });
        if let Err(e) = request.respond(answer) {
            eprintln!("serve: answering a request: {e}");
        }
    }
    Ok(())
}

fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

impl Site {
    fn answer(&mut self, request: &mut Request) -> Result<Answer> {
        let path = request.url().split('?').next().unwrap_or("").to_string();
        let method = request.method().clone();
        match (&method, path.as_str()) {
            (Method::Post, "/webhook") => self.webhook(request),
            (Method::Get, "/healthz") => {
                self.queue.in_state(gobench_core::job::State::Running).context("reading the queue")?;
                Ok(text(200, "ok\n"))
            }
            (Method::Get, "/") => {
                let jobs = self.queue.list()?;
                let watched = Watched { repository: &self.watch.repository, role: self.watch.role.as_str(), benchmark: &self.benchmark };
                Ok(html(self.pages.index(&watched, &jobs)?))
            }
            (Method::Get, p) if p.starts_with("/jobs/") => {
                let Some(job) = p["/jobs/".len()..].parse().ok().map(|id| self.queue.get(id)).transpose()?.flatten() else {
                    return Ok(text(404, "no such job\n"));
                };
                Ok(html(self.pages.job(&job)?))
            }
            (Method::Get, p) if p.starts_with("/files/") => Ok(self.file(&p["/files/".len()..])),
            (_, "/webhook" | "/healthz" | "/") => Ok(text(405, "method not allowed\n")),
            _ => Ok(text(404, "not found\n")),
        }
    }

    fn webhook(&mut self, request: &mut Request) -> Result<Answer> {
        let event = header(request, webhook::EVENT_HEADER).unwrap_or("").to_string();
        let delivery = header(request, webhook::DELIVERY_HEADER).unwrap_or("").to_string();
        let signature = header(request, webhook::SIGNATURE_HEADER).map(str::to_string);
        if request.body_length().is_some_and(|n| n > webhook::MAX_BODY_BYTES) {
            eprintln!("serve: delivery {delivery:?} ({event:?}) refused: over {} bytes", webhook::MAX_BODY_BYTES);
            return Ok(text(413, "payload over 25 MB\n"));
        }
        let mut body = Vec::new();
        request.as_reader().take(webhook::MAX_BODY_BYTES as u64 + 1).read_to_end(&mut body).context("reading the request body")?;
        if body.len() > webhook::MAX_BODY_BYTES {
            eprintln!("serve: delivery {delivery:?} ({event:?}) refused: over {} bytes", webhook::MAX_BODY_BYTES);
            return Ok(text(413, "payload over 25 MB\n"));
        }
        if !webhook::verify(self.secret.expose().as_bytes(), &body, signature.as_deref()) {
            // Only the event and the delivery id: the body is not trusted, not even for the log.
            eprintln!("serve: delivery {delivery:?} ({event:?}) rejected: missing or wrong X-Hub-Signature-256");
            return Ok(text(401, "bad signature\n"));
        }
        if delivery.is_empty() || event.is_empty() {
            return Ok(text(400, "missing X-GitHub-Delivery or X-GitHub-Event\n"));
        }
        let action = match webhook::map_event(&event, &body, &self.watch) {
            Ok(a) => a,
            Err(webhook::BadDelivery(why)) => {
                eprintln!("serve: delivery {delivery} ({event}) is malformed: {why}");
                return Ok(text(400, format!("{why}\n")));
            }
        };
        let now = now();
        let (job, note) = match action {
            Action::Ping => (None, "pong".to_string()),
            Action::Ignore(why) => (None, format!("ignored: {why}")),
            Action::Submit(spec) => (Some(Job::new(spec, format!("webhook {delivery}"), self.max_attempts, &now)), String::new()),
            Action::Rerun { repository, pr } => match self.queue.last_of_pr(&repository, pr)? {
                None => (None, format!("ignored: no job of {repository}#{pr} to rerun")),
                Some(last) => match last.rerun(&now) {
                    Ok(job) => (Some(job), String::new()),
                    Err(refused) => (None, format!("ignored: {refused}")),
                },
            },
        };
        let answer = match self.queue.deliver(&delivery, &event, &now, job.as_ref())? {
            Delivered::Duplicate => "duplicate delivery, ignored".to_string(),
            Delivered::Recorded(Some(id)) => {
                for w in &self.wake {
                    let _ = w.send(());
                }
                format!("queued job {id}")
            }
            Delivered::Recorded(None) => note,
        };
        eprintln!("serve: delivery {delivery} ({event}): {answer}");
        Ok(text(if answer.starts_with("queued") { 202 } else { 200 }, format!("{answer}\n")))
    }

    /// A file under `results/`, for the pages' links.
    fn file(&self, rel: &str) -> Answer {
        let path = Path::new(rel);
        let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain || !rel.starts_with("results/") {
            return text(404, "not found\n");
        }
        match std::fs::read(self.root.join(path)) {
            Ok(bytes) => {
                let kind = match path.extension().and_then(|e| e.to_str()) {
                    Some("json") => "application/json",
                    Some("html") => "text/html; charset=utf-8",
                    _ => "text/plain; charset=utf-8",
                };
                Response::from_data(bytes).with_header(content_type(kind))
            }
            Err(_) => text(404, "not found\n"),
        }
    }
}

fn html(page: String) -> Answer {
    Response::from_string(page).with_header(content_type("text/html; charset=utf-8"))
}
