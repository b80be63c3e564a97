//! The job queue: one SQLite file in the cache (rusqlite's bundled SQLite,
//! so there is no server to install), shared by the server and `job ...`.
//!
//! Schema version 1 (`PRAGMA user_version`), a contract like the result
//! document: table `jobs` holds each job as its JSON document
//! (`urn:gobench:job:1`, [`gobench_core::job::Job`]) plus the columns the
//! queries need; table `deliveries` holds every accepted
//! `X-GitHub-Delivery`, so a redelivery is seen as a duplicate.
//!
//! Every change is a compare-and-swap: read the document, let the core's
//! state machine change it, then one `UPDATE ... WHERE id = ? AND doc = ?`
//! with the text read. Claiming the next job is such an UPDATE, so two
//! writers (the server, a `job cancel`) can never both win.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use gobench_core::job::{Job, JobKind, Refused, State};
use rusqlite::{params, Connection, OptionalExtension};

pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA_V1: &str = "
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    repository TEXT,
    pr INTEGER,
    owes_report INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_by_pr ON jobs (repository, pr, id);
CREATE TABLE deliveries (
    delivery TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received TEXT NOT NULL,
    job INTEGER REFERENCES jobs (id)
);
";

pub struct Queue {
    conn: Connection,
}

/// What became of a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Its id was seen before: nothing was done.
    Duplicate,
    /// Recorded; the job queued for it, if any.
    Recorded(Option<u64>),
}

impl Queue {
    pub fn open(path: &Path) -> Result<Queue> {
        let dir = path.parent().context("the queue path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let conn = Connection::open(path).with_context(|| format!("opening the job queue {}", path.display()))?;
        // The server and a `job` command may write at once; WAL lets readers
        // go on, and the busy timeout makes a writer wait instead of failing.
        conn.busy_timeout(Duration::from_secs(10)).context("setting the queue's busy timeout")?;
        conn.pragma_update(None, "journal_mode", "WAL").with_context(|| format!("setting WAL mode on {}", path.display()))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).context("reading the queue's schema version")?;
        match version {
            0 => {
                conn.execute_batch(&format!("BEGIN; {SCHEMA_V1} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
                    .with_context(|| format!("creating the job queue in {}", path.display()))?;
            }
            SCHEMA_VERSION => {}
            v => anyhow::bail!(
                "the job queue {} has schema version {v}, newer than this toolkit's {SCHEMA_VERSION}; update gobench",
                path.display()
            ),
        }
        Ok(Queue { conn })
    }

    /// Stores a new job; returns its id.
    pub fn submit(&self, job: &Job) -> Result<u64> {
        insert(&self.conn, job)
    }

    /// Records a delivery and, unless it is a duplicate, queues its job,
    /// both in one transaction.
    pub fn deliver(&mut self, delivery: &str, event: &str, now: &str, job: Option<&Job>) -> Result<Delivered> {
        let tx = self.conn.transaction().context("starting a queue transaction")?;
        let fresh = tx
            .execute("INSERT OR IGNORE INTO deliveries (delivery, event, received) VALUES (?1, ?2, ?3)", params![delivery, event, now])
            .context("recording the delivery")?;
        if fresh == 0 {
            return Ok(Delivered::Duplicate);
        }
        let id = match job {
            Some(job) => {
                let id = insert(&tx, job)?;
                tx.execute("UPDATE deliveries SET job = ?1 WHERE delivery = ?2", params![id as i64, delivery])
                    .context("linking the delivery to its job")?;
                Some(id)
            }
            None => None,
        };
        tx.commit().context("committing the delivery")?;
        Ok(Delivered::Recorded(id))
    }

    pub fn get(&self, id: u64) -> Result<Option<Job>> {
        Ok(self.get_text(id)?.map(|(_, job)| job))
    }

    fn get_text(&self, id: u64) -> Result<Option<(String, Job)>> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT doc FROM jobs WHERE id = ?1", params![id as i64], |r| r.get(0))
            .optional()
            .with_context(|| format!("reading job {id}"))?;
        text.map(|t| Ok((t.clone(), parse(&t)?))).transpose()
    }

    fn select(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Job>> {
        let mut stmt = self.conn.prepare_cached(sql).context("preparing a queue query")?;
        let docs: Vec<String> = stmt.query_map(args, |r| r.get(0)).context("querying the queue")?.collect::<Result<_, _>>()?;
        docs.iter().map(|d| parse(d)).collect()
    }

    /// Every job, newest first.
    pub fn list(&self) -> Result<Vec<Job>> {
        self.select("SELECT doc FROM jobs ORDER BY id DESC", [])
    }

    pub fn in_state(&self, state: State) -> Result<Vec<Job>> {
        self.select("SELECT doc FROM jobs WHERE state = ?1 ORDER BY id", params![state.as_str()])
    }

    /// Jobs that still owe GitHub a status or a comment.
    pub fn owing_reports(&self) -> Result<Vec<Job>> {
        self.select("SELECT doc FROM jobs WHERE owes_report = 1 ORDER BY id", [])
    }

    /// The newest job of a PR, for `/gobench rerun`.
    pub fn last_of_pr(&self, repository: &str, pr: u64) -> Result<Option<Job>> {
        Ok(self
            .select(
                "SELECT doc FROM jobs WHERE repository = ?1 COLLATE NOCASE AND pr = ?2 ORDER BY id DESC LIMIT 1",
                params![repository, pr as i64],
            )?
            .pop())
    }

    /// The master set: the newest done new-master job.
    pub fn master(&self) -> Result<Option<Job>> {
        let kind = JobKind::NewMaster.as_str();
        Ok(self.select("SELECT doc FROM jobs WHERE kind = ?1 AND state = 'done' ORDER BY id DESC LIMIT 1", params![kind])?.pop())
    }

    /// Applies `change` to job `id` atomically. `Ok(Err(_))`: the state
    /// machine refused; nothing was written.
    pub fn modify<T>(&self, id: u64, mut change: impl FnMut(&mut Job) -> Result<T, Refused>) -> Result<Result<(T, Job), Refused>> {
        loop {
            let (before, mut job) =
                self.get_text(id)?.with_context(|| format!("there is no job {id}; `cargo xtask job list` lists them"))?;
            let out = match change(&mut job) {
                Ok(out) => out,
                Err(refused) => return Ok(Err(refused)),
            };
            let after = serde_json::to_string(&job).context("serialising a job")?;
            let changed = self
                .conn
                .execute(
                    "UPDATE jobs SET state = ?1, owes_report = ?2, doc = ?3 WHERE id = ?4 AND doc = ?5",
                    params![job.state.as_str(), !job.reports_due().is_empty(), after, id as i64, before],
                )
                .with_context(|| format!("updating job {id}"))?;
            if changed == 1 {
                return Ok(Ok((out, job)));
            }
            // Someone else changed the job between the read and the write: read it again.
        }
    }

    /// Claims the oldest queued job: `queued -> running`, one attempt more.
    pub fn claim(&self, now: &str) -> Result<Option<Job>> {
        loop {
            let next: Option<i64> = self
                .conn
                .query_row("SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1", [], |r| r.get(0))
                .optional()
                .context("looking for a queued job")?;
            let Some(id) = next else { return Ok(None) };
            // Refused: cancelled since the SELECT; look again.
            if let Ok(((), job)) = self.modify(id as u64, |j| j.claim(now))? {
                return Ok(Some(job));
            }
        }
    }
}

fn insert(conn: &Connection, job: &Job) -> Result<u64> {
    conn.execute(
        "INSERT INTO jobs (state, kind, repository, pr, owes_report, doc) VALUES (?1, ?2, ?3, ?4, 0, '')",
        params![job.state.as_str(), job.spec.kind.as_str(), job.spec.repository, job.spec.pr.map(|p| p as i64)],
    )
    .context("queueing a job")?;
    let id = conn.last_insert_rowid() as u64;
    let mut job = job.clone();
    job.id = id;
    let doc = serde_json::to_string(&job).context("serialising a job")?;
    conn.execute("UPDATE jobs SET doc = ?1, owes_report = ?2 WHERE id = ?3", params![doc, !job.reports_due().is_empty(), id as i64])
        .context("storing the job")?;
    Ok(id)
}

fn parse(doc: &str) -> Result<Job> {
    serde_json::from_str(doc).with_context(|| format!("a job in the queue is not a {} document", gobench_core::job::JOB_SCHEMA))
}

#[cfg(test)]
mod tests {
    use gobench_core::job::{JobSpec, Role};

    use super::*;

    fn job(pr: Option<u64>) -> Job {
        let spec = JobSpec {
            kind: JobKind::Test,
            role: Role::Go,
            repository: Some("golang/go".into()),
            sha: "a".repeat(40),
            baseline: None,
            pr,
            pr_base: None,
            title: None,
        };
        Job::new(spec, "cli".into(), 2, "t0")
    }

    #[test]
    fn schema_is_versioned_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q/queue.sqlite");
        let q = Queue::open(&path).unwrap();
        let id = q.submit(&job(None)).unwrap();
        drop(q);
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 1);
        // The contract: a version-1 file keeps loading.
        assert_eq!(Queue::open(&path).unwrap().get(id).unwrap().unwrap().id, id);
        conn.pragma_update(None, "user_version", 2).unwrap();
        let e = Queue::open(&path).err().unwrap().to_string();
        assert!(e.contains("schema version 2") && e.contains("update gobench"), "{e}");
    }

    #[test]
    fn claims_in_order_and_never_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.sqlite");
        let q = Queue::open(&path).unwrap();
        let other = Queue::open(&path).unwrap();
        let a = q.submit(&job(None)).unwrap();
        let b = q.submit(&job(None)).unwrap();
        other.modify(a, |j| j.cancel("t1")).unwrap().unwrap();
        let claimed = q.claim("t2").unwrap().unwrap();
        assert_eq!((claimed.id, claimed.state, claimed.attempts), (b, State::Running, 1));
        assert!(other.claim("t3").unwrap().is_none(), "the running job is not claimed again");
        assert!(q.modify(b, |j| j.claim("t4")).unwrap().is_err());
    }

    #[test]
    fn duplicate_deliveries_queue_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = Queue::open(&dir.path().join("queue.sqlite")).unwrap();
        assert_eq!(q.deliver("d1", "pull_request", "t0", Some(&job(Some(5)))).unwrap(), Delivered::Recorded(Some(1)));
        assert_eq!(q.deliver("d1", "pull_request", "t1", Some(&job(Some(5)))).unwrap(), Delivered::Duplicate);
        assert_eq!(q.deliver("d2", "ping", "t1", None).unwrap(), Delivered::Recorded(None));
        assert_eq!(q.list().unwrap().len(), 1);
        assert_eq!(q.last_of_pr("Golang/Go", 5).unwrap().unwrap().id, 1);
        assert!(q.last_of_pr("golang/go", 6).unwrap().is_none());
    }
}
