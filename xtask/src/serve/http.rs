//! The HTTP side of `serve`: `POST /webhook`, the pages, `/healthz` and
//! the result files the pages link to.
//!
//! hyper's HTTP/1 server on a single-threaded tokio runtime: every
//! connection is a task, so idle keep-alive connections cost nothing and
//! never hold back a new one (tiny_http, tried first, serves each connection
//! on a pool thread, and a burst of 100 deliveries from 10 keep-alive
//! clients left 3 of them waiting past 30 s). hyper and tokio are already
//! in the tree through reqwest. A delivery is only ever queued here, never
//! run, so the answer takes milliseconds; the handler runs the (fast,
//! synchronous) queue and page code inline.

use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use gobench_core::job::Job;
use gobench_core::webhook::{self, Action, Watch};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response};

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

struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

fn text(status: u16, body: impl Into<String>) -> Answer {
    Answer { status, content_type: "text/plain; charset=utf-8", body: body.into().into_bytes() }
}

fn html(page: String) -> Answer {
    Answer { status: 200, content_type: "text/html; charset=utf-8", body: page.into_bytes() }
}

/// A request body: read in full, or too big to read.
enum Body {
    Read(Vec<u8>),
    TooBig,
}

pub fn serve(listen: &str, site: Site) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().context("starting the HTTP runtime")?;
    runtime.block_on(accept(listen, Arc::new(Mutex::new(site))))
}

async fn accept(listen: &str, site: Arc<Mutex<Site>>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; is another server running there?"))?;
    eprintln!("serve: listening on http://{}", listener.local_addr().context("reading the listening address")?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("serve: accepting a connection: {e}");
                continue;
            }
        };
        let site = site.clone();
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |request| handle(site.clone(), request));
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await
            {
                eprintln!("serve: a connection failed: {e}");
            }
        });
    }
}

async fn handle(site: Arc<Mutex<Site>>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, incoming) = request.into_parts();
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let body = if parts.method != Method::POST {
        Ok(Body::Read(Vec::new()))
    } else if declared.is_some_and(|n| n > webhook::MAX_BODY_BYTES as u64) {
        Ok(Body::TooBig)
    } else {
        match Limited::new(incoming, webhook::MAX_BODY_BYTES).collect().await {
            Ok(collected) => Ok(Body::Read(collected.to_bytes().to_vec())),
            Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Ok(Body::TooBig),
            Err(e) => Err(anyhow::anyhow!("reading the request body: {e}")),
        }
    };
    let path = parts.uri.path().to_string();
    let answer = body.and_then(|body| site.lock().expect("a handler panicked").answer(&parts.method, &path, &parts.headers, body));
    let answer = answer.unwrap_or_else(|e| {
        eprintln!("serve: {} {path}: {e:#}", parts.method);
        text(500, "internal error; see the server's log\n")
    });
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status).expect("a valid status");
    response.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(answer.content_type));
    Ok(response)
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Site {
    fn answer(&mut self, method: &Method, path: &str, headers: &HeaderMap, body: Body) -> Result<Answer> {
        match (method, path) {
            (&Method::POST, "/webhook") => self.webhook(headers, body),
            (&Method::GET, "/healthz") => {
                self.queue.in_state(gobench_core::job::State::Running).context("reading the queue")?;
                Ok(text(200, "ok\n"))
            }
            (&Method::GET, "/") => {
                let jobs = self.queue.list()?;
                let watched = Watched { repository: &self.watch.repository, role: self.watch.role.as_str(), benchmark: &self.benchmark };
                Ok(html(self.pages.index(&watched, &jobs)?))
            }
            (&Method::GET, p) if p.starts_with("/jobs/") => {
                let Some(job) = p["/jobs/".len()..].parse().ok().map(|id| self.queue.get(id)).transpose()?.flatten() else {
                    return Ok(text(404, "no such job\n"));
                };
                // A test job shows the stored master set beside its comparison.
                let master = match job.spec.kind {
                    gobench_core::job::JobKind::Test => self.queue.master()?.filter(|m| m.id != job.id),
                    gobench_core::job::JobKind::NewMaster => None,
                };
                Ok(html(self.pages.job(&job, master.as_ref())?))
            }
            (&Method::GET, p) if p.starts_with("/files/") => Ok(self.file(&p["/files/".len()..])),
            (_, "/webhook" | "/healthz" | "/") => Ok(text(405, "method not allowed\n")),
            _ => Ok(text(404, "not found\n")),
        }
    }

    fn webhook(&mut self, headers: &HeaderMap, body: Body) -> Result<Answer> {
        let event = header(headers, webhook::EVENT_HEADER).unwrap_or("").to_string();
        let delivery = header(headers, webhook::DELIVERY_HEADER).unwrap_or("").to_string();
        let signature = header(headers, webhook::SIGNATURE_HEADER).map(str::to_string);
        let Body::Read(body) = body else {
            eprintln!("serve: delivery {delivery:?} ({event:?}) refused: over {} bytes", webhook::MAX_BODY_BYTES);
            return Ok(text(413, "payload over 25 MB\n"));
        };
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
                Answer { status: 200, content_type: kind, body: bytes }
            }
            Err(_) => text(404, "not found\n"),
        }
    }
}
