//! `cargo xtask upload` and `cargo xtask horreum-setup`: send result documents to Horreum,
//! each exactly once, and define what Horreum should read from them.
//!
//! The ledger (`results/uploads.json`, git-tracked) maps the sha256 of a result file to the run
//! id(s) Horreum created; a file whose hash is there is never posted again. It is written
//! atomically after every success, so an interruption loses nothing and doubles nothing.
//! Failures go to `.cache/upload-state.json` (untracked: attempts and next-retry times are
//! machine-local and time-dependent, and would only add noise and merge conflicts to git).
//!
//! The API key never leaves [`secret::ApiKey`] except as a sensitive request header; every text
//! that reaches the terminal or a file is redacted first.

mod http;
mod secret;
mod setup;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use gobench_core::ledger::{self, Access, Candidate, Decision, Ledger, LedgerEntry, RetryState, UploadTarget, Urgency, RESULT_SCHEMA};
use xshell::{cmd, Shell};

use crate::paths::{write_atomic, Paths};

use http::{Horreum, PostResult};
pub use secret::{read_secret_file, resolve_config_relative, ApiKey, Secret, SecretKind, API_KEY_ENV};

/// The git-tracked upload ledger, relative to the repository root.
pub const LEDGER_PATH: &str = "results/uploads.json";
/// The untracked retry state, relative to the repository root.
pub const STATE_PATH: &str = ".cache/upload-state.json";
/// Where results live, relative to the repository root.
pub const RESULTS_DIR: &str = "results";
/// The lock held while one call reads, uses and writes the ledger, relative to the repository
/// root. A sidecar file, because the ledger itself is replaced by rename on every write.
pub const LOCK_PATH: &str = ".cache/upload.lock";
/// How long to wait quietly for another upload before saying so.
const LOCK_QUIET: Duration = Duration::from_secs(1);
/// How long to wait for another upload at all: long enough for a slow Horreum, short enough
/// that a stuck job does not block the next nightly run forever.
const LOCK_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Upload result documents to Horreum, each exactly once (see results/uploads.json)
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["all_pending", "files"])))]
pub struct Upload {
    /// Upload every result under results/ not in the ledger yet, honouring the retry backoff
    #[arg(long)]
    pub all_pending: bool,
    /// Result files to upload now, whatever failed before (files in the ledger are still skipped)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Do not commit the ledger after uploading
    #[arg(long)]
    pub no_commit: bool,
    /// Quick retries within this call for 5xx answers and refused connections
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,
}

/// Write Horreum's schema, labels and change-detection variables for gobench results, and print
/// the requests that would make the upload target's Horreum (0.18 or later) hold them
#[derive(Debug, clap::Args)]
pub struct HorreumSetup {
    /// Folder for schema.json, labels.json and variables.json
    #[arg(long, default_value = "horreum", value_name = "DIR")]
    pub out: PathBuf,
    /// Send those requests: create or update the schema, labels, test and variables, then recalculate
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Where to upload; each flag overrides the `[upload]` table of the config file.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Horreum base URL
    #[arg(long)]
    pub url: Option<String>,
    /// Horreum test name or id
    #[arg(long)]
    pub test: Option<String>,
    /// Owning team role (ends in -team)
    #[arg(long)]
    pub owner: Option<String>,
    /// PUBLIC, PROTECTED or PRIVATE
    #[arg(long)]
    pub access: Option<Access>,
    /// Schema URI overriding the documents' $schema
    #[arg(long)]
    pub schema: Option<String>,
    /// File holding the API key, readable by its owner only (otherwise $HORREUM_API_KEY)
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Print request URLs and HTTP statuses (never the API key)
    #[arg(long, short)]
    pub verbose: bool,
    /// Seconds to wait for Horreum before a request counts as failed
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout_secs: u64,
}

/// Everything an upload needs, resolved once.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    pub root: PathBuf,
    pub target: UploadTarget,
    pub key: ApiKey,
    pub timeout: Duration,
    pub quick_retries: u32,
    pub verbose: bool,
    /// Commit the ledger (only that file) when it changed.
    pub commit: bool,
}

impl UploadSettings {
    /// Settings for the automatic upload after `bench`: the key from `$HORREUM_API_KEY` or the
    /// target's `api_key_file` (relative to `root`).
    #[allow(dead_code)] // the entry point for `bench`, wired by its owner
    pub fn for_target(root: &Path, target: UploadTarget) -> anyhow::Result<UploadSettings> {
        target.validate()?;
        let key_file = target.api_key_file.as_ref().map(|p| secret::resolve_config_relative(root, p));
        let key = secret::find_api_key(None, std::env::var(API_KEY_ENV).ok(), key_file.as_deref())?;
        Ok(UploadSettings {
            root: root.to_owned(),
            target,
            key,
            timeout: Duration::from_secs(60),
            quick_retries: 3,
            verbose: false,
            commit: true,
        })
    }
}

/// What one upload call did.
#[derive(Debug, Default)]
pub struct UploadReport {
    /// Posted now: path and run ids.
    pub uploaded: Vec<(String, Vec<u64>)>,
    /// Already in the ledger (or a byte-identical copy of another candidate).
    pub already: usize,
    /// Still pending: path and reason (failed now, waiting for backoff, or not tried).
    pub pending: Vec<(String, String)>,
    /// Refused by Horreum: a human must look.
    pub needs_human: Vec<(String, String)>,
    /// The key, or its user's rights for this target, were refused: message, already redacted.
    pub key_problem: Option<String>,
    pub committed: bool,
}

impl UploadReport {
    #[allow(dead_code)] // for `bench`, which must not fail on a pending upload
    pub fn is_clean(&self) -> bool {
        self.pending.is_empty() && self.needs_human.is_empty() && self.key_problem.is_none()
    }

    pub fn print(&self) {
        for (path, reason) in &self.pending {
            eprintln!("pending: {path}: {reason}");
        }
        for (path, reason) in &self.needs_human {
            eprintln!("needs attention: {path}: {reason}");
        }
        if let Some(problem) = &self.key_problem {
            eprintln!("error: {problem}");
        }
        println!(
            "upload: {} uploaded, {} already in the ledger, {} pending, {} refused{}",
            self.uploaded.len(),
            self.already,
            self.pending.len(),
            self.needs_human.len(),
            if self.committed { ", ledger committed" } else { "" }
        );
    }
}

impl Upload {
    pub fn run(self, sh: &Shell, paths: &Paths) -> anyhow::Result<()> {
        let Upload { all_pending, files, target, common, no_commit, retries } = self;
        let CommonArgs { verbose, timeout_secs } = common;
        let root = paths.root.canonicalize().with_context(|| format!("cannot open the project root {}", paths.root.display()))?;
        let (target_cfg, key) = target_and_key(paths, &target)?;
        let settings = UploadSettings {
            root,
            target: target_cfg,
            key,
            timeout: Duration::from_secs(timeout_secs.max(1)),
            quick_retries: retries,
            verbose,
            commit: !no_commit,
        };
        let report = if all_pending {
            upload_pending(sh, &settings)?
        } else {
            let files = files.iter().map(|f| absolute(f)).collect::<anyhow::Result<Vec<_>>>()?;
            upload_files(sh, &settings, &files)?
        };
        report.print();
        if let Some(problem) = report.key_problem {
            bail!("{problem}");
        }
        if !report.needs_human.is_empty() {
            bail!("Horreum refused {} result(s); fix the cause shown above, then retry them by naming the files", report.needs_human.len());
        }
        if !report.pending.is_empty() {
            bail!("{} result(s) still pending; `cargo xtask upload --all-pending` retries them", report.pending.len());
        }
        Ok(())
    }
}

impl HorreumSetup {
    pub fn run(self, paths: &Paths) -> anyhow::Result<()> {
        let HorreumSetup { out, apply, target, common } = self;
        let CommonArgs { verbose, timeout_secs } = common;
        let root = paths.root.canonicalize().with_context(|| format!("cannot open the project root {}", paths.root.display()))?;
        let labels = setup::labels(&metric_names(&root)?);
        let out = if out.is_absolute() { out } else { root.join(out) };
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        for (name, text) in setup::files(&labels) {
            let path = out.join(name);
            write_atomic(&path, text.as_bytes())?;
            println!("wrote {}", path.display());
        }
        // Without --apply the server is still read (when one is configured), so that what is
        // printed is exactly what --apply would send to it now.
        let resolved = target_and_key(paths, &target);
        let (target_cfg, key) = match resolved {
            Ok(found) => found,
            Err(e) if !apply => {
                println!("no Horreum to compare with ({e:#}); `--apply` needs the upload target and the API key");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let horreum = Horreum::new(key, Duration::from_secs(timeout_secs.max(1)), 0, verbose)?;
        setup::apply(&horreum, &target_cfg, &labels, apply).map_err(|e| anyhow::anyhow!(horreum.key().redact(&format!("{e:#}"))))
    }
}

/// The names of every metric in the result documents under `results/`, sorted, each once.
fn metric_names(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = std::collections::BTreeSet::new();
    for (_, bytes) in result_documents(root, false)? {
        if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            names.extend(doc["metrics"].as_object().into_iter().flat_map(|m| m.keys().cloned()));
        }
    }
    Ok(names.into_iter().collect())
}

/// Every result document under `results/` (other JSON there is not ours, and bisects' runs are not
/// history): its repository-relative
/// path and its bytes, sorted by path.
fn result_documents(root: &Path, verbose: bool) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let files = crate::paths::json_files_under(&root.join(RESULTS_DIR))?;
    let ledger_path = root.join(LEDGER_PATH);
    let bisect = crate::paths::bisect_dir(&root.join(RESULTS_DIR));
    let mut documents = Vec::new();
    for file in files.iter().filter(|f| **f != ledger_path && !f.starts_with(&bisect)) {
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        if !declares_result_schema(&bytes) {
            if verbose {
                eprintln!("skipping {}: no \"$schema\": {RESULT_SCHEMA:?}", file.display());
            }
            continue;
        }
        if is_abandoned(&bytes) {
            if verbose {
                eprintln!("skipping {}: its host was lost in the middle of its group (\"abandoned\")", file.display());
            }
            continue;
        }
        documents.push((relative_path(root, file)?, bytes));
    }
    Ok(documents)
}

/// Uploads every result under `results/` that is not in the ledger and whose retry time has
/// come. Called by `upload --all-pending` and after `bench` commits its results.
pub fn upload_pending(sh: &Shell, settings: &UploadSettings) -> anyhow::Result<UploadReport> {
    let candidates = result_documents(&settings.root, settings.verbose)?;
    upload_candidates(sh, settings, candidates, Urgency::Scheduled)
}

/// Uploads the named result files now, ignoring backoff and earlier refusals; files already in
/// the ledger are skipped.
pub fn upload_files(sh: &Shell, settings: &UploadSettings, files: &[PathBuf]) -> anyhow::Result<UploadReport> {
    let mut candidates = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        candidates.push((relative_path(&settings.root, file)?, bytes));
    }
    upload_candidates(sh, settings, candidates, Urgency::Explicit)
}

fn upload_candidates(
    sh: &Shell,
    settings: &UploadSettings,
    files: Vec<(String, Vec<u8>)>,
    urgency: Urgency,
) -> anyhow::Result<UploadReport> {
    settings.target.validate()?;
    let root = &settings.root;
    let ledger_path = root.join(LEDGER_PATH);
    let state_path = root.join(STATE_PATH);
    // Held until the report is built: another upload that started at the same time reads the
    // ledger only after this one has written it, and so never posts a result twice.
    let _lock = lock_ledger(&root.join(LOCK_PATH), LOCK_QUIET, LOCK_TIMEOUT)?;
    let mut ledger = load_ledger(&ledger_path)?;
    let mut state = load_state(&state_path);
    let now = now_unix();

    let candidates: Vec<Candidate> =
        files.iter().map(|(path, bytes)| Candidate { path: path.clone(), hash: ledger::content_hash(bytes) }).collect();
    let decisions = ledger::plan(&candidates, &ledger, &state, now, urgency);

    let mut report = UploadReport::default();
    let mut horreum: Option<Horreum> = None;
    let mut stop_reason: Option<String> = None;
    let mut ledger_changed = false;

    for ((candidate, decision), (_, bytes)) in candidates.iter().zip(decisions).zip(&files) {
        let path = &candidate.path;
        match decision {
            Decision::Uploaded | Decision::Duplicate { .. } => report.already += 1,
            Decision::Waiting { until_unix } => {
                report.pending.push((path.clone(), format!("retry not before {} s from now (backoff)", until_unix.saturating_sub(now))))
            }
            Decision::NeedsHuman { reason } => report.needs_human.push((path.clone(), reason)),
            Decision::Due => {
                if let Some(reason) = &stop_reason {
                    report.pending.push((path.clone(), format!("not tried: {reason}")));
                    continue;
                }
                let times = match ledger::result_times(bytes) {
                    Ok(t) => t,
                    Err(e) => {
                        report.needs_human.push((path.clone(), format!("not a valid result document: {e}")));
                        continue;
                    }
                };
                if state.failures.get(&candidate.hash).is_some_and(|f| f.maybe_delivered) {
                    eprintln!(
                        "warning: the last upload of {path} timed out after sending; if Horreum created that run \
                         (test {}, start {}), this upload duplicates it",
                        settings.target.test, times.started
                    );
                }
                let client = match &horreum {
                    Some(h) => h,
                    None => horreum.insert(Horreum::new(settings.key.clone(), settings.timeout, settings.quick_retries, settings.verbose)?),
                };
                let url = ledger::upload_url(&settings.target, &times);
                let result = client.post_run(&url, bytes);
                let redact = |s: &str| settings.key.redact(s);
                let success = match &result {
                    PostResult::Created(ids) => Some(ids.clone()),
                    PostResult::NoRun => Some(Vec::new()),
                    _ => None,
                };
                if let Some(run_ids) = success {
                    ledger.uploads.insert(
                        candidate.hash.clone(),
                        LedgerEntry { path: path.clone(), test: settings.target.test.clone(), run_ids: run_ids.clone() },
                    );
                    // Ledger first: once it is on disk, the run is never posted again.
                    write_atomic(&ledger_path, ledger.to_json().as_bytes())?;
                    ledger_changed = true;
                    if state.failures.remove(&candidate.hash).is_some() {
                        save_state(&state_path, &state);
                    }
                    if run_ids.is_empty() {
                        println!("uploaded {path}: Horreum accepted it without creating a run");
                    } else {
                        let ids: Vec<String> = run_ids.iter().map(u64::to_string).collect();
                        println!("uploaded {path}: run {}", ids.join(", "));
                    }
                    report.uploaded.push((path.clone(), run_ids));
                    continue;
                }
                let permission = match &result {
                    PostResult::KeyProblem { status, message } | PostResult::Rejected { status, message } => {
                        ledger::permission_problem(*status, message, &settings.target)
                    }
                    _ => None,
                };
                if let Some(problem) = permission {
                    // The target, not this document, is refused: stop, and keep every result pending.
                    report.key_problem = Some(redact(&problem));
                    stop_reason = Some("Horreum refused the API key's user for this target".to_owned());
                    report.pending.push((path.clone(), "not uploaded: Horreum refused the API key's user for this target".to_owned()));
                    continue;
                }
                match result {
                    PostResult::KeyProblem { status, message } => {
                        let problem = redact(&format!(
                            "Horreum refused the API key ({status}: {}): it is wrong or expired (keys unused for 30 days \
                             are revoked); create a new key and set ${API_KEY_ENV} or the key file",
                            http::or_empty(&message),
                        ));
                        report.key_problem = Some(problem);
                        stop_reason = Some(format!("the API key was refused ({status})"));
                        report.pending.push((path.clone(), format!("not uploaded: the API key was refused ({status})")));
                    }
                    PostResult::Rejected { status, message } => {
                        let reason = redact(&format!("Horreum answered {status}: {}", http::or_empty(&message)));
                        state.record_failure(&candidate.hash, path, &reason, true, false, now_unix());
                        save_state(&state_path, &state);
                        report.needs_human.push((path.clone(), reason));
                    }
                    PostResult::Transient { reason, maybe_delivered } => {
                        let reason = redact(&reason);
                        state.record_failure(&candidate.hash, path, &reason, false, maybe_delivered, now_unix());
                        save_state(&state_path, &state);
                        stop_reason = Some(format!("Horreum did not take the previous result ({reason})"));
                        report.pending.push((path.clone(), reason));
                    }
                    PostResult::Created(_) | PostResult::NoRun => unreachable!(),
                }
            }
        }
    }

    if ledger_changed && settings.commit {
        commit_ledger(sh, root, &settings.target.test, report.uploaded.len())?;
        report.committed = true;
    }
    Ok(report)
}

/// Takes the exclusive upload lock at `path`, waiting for another upload that holds it. The lock
/// is the OS's (`flock`), so it goes away with the process that held it: a killed upload leaves
/// no stale lock behind. The holder's pid is written into the file for the waiting message.
fn lock_ledger(path: &Path, quiet: Duration, timeout: Duration) -> anyhow::Result<std::fs::File> {
    use std::io::{Seek, Write};
    let dir = path.parent().context("lock path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open the upload lock {}", path.display()))?;
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
        let waited = started.elapsed();
        if waited >= timeout {
            bail!(
                "another upload ({}) has held {} for {} s; wait for it to finish or stop it, then retry",
                lock_holder(path),
                path.display(),
                waited.as_secs()
            );
        }
        if waited >= quiet && !said {
            eprintln!("waiting for another upload to Horreum to finish ({}, lock {})", lock_holder(path), path.display());
            said = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    file.set_len(0).with_context(|| format!("cannot write {}", path.display()))?;
    file.rewind().with_context(|| format!("cannot write {}", path.display()))?;
    write!(file, "{}", std::process::id()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(file)
}

fn lock_holder(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(pid) if !pid.trim().is_empty() => format!("pid {}", pid.trim()),
        _ => "pid unknown".to_owned(),
    }
}

fn commit_ledger(sh: &Shell, root: &Path, test: &str, count: usize) -> anyhow::Result<()> {
    let _dir = sh.push_dir(root);
    let message = format!("Upload ledger: {count} result(s) sent to Horreum test {test}");
    cmd!(sh, "git add -- {LEDGER_PATH}")
        .quiet()
        .run()
        .with_context(|| format!("cannot git add {LEDGER_PATH} in {}; pass --no-commit outside a git repository", root.display()))?;
    cmd!(sh, "git commit --quiet --no-verify -m {message} -- {LEDGER_PATH}")
        .quiet()
        .run()
        .with_context(|| format!("cannot commit {LEDGER_PATH} in {}", root.display()))?;
    Ok(())
}

fn declares_result_schema(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("$schema").and_then(|s| s.as_str()).map(|s| s == RESULT_SCHEMA))
        .unwrap_or(false)
}

/// A document of a group whose host died: kept in the repository, not history.
fn is_abandoned(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).ok().is_some_and(|v| v.get("abandoned").is_some_and(|a| !a.is_null()))
}

fn load_ledger(path: &Path) -> anyhow::Result<Ledger> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ledger::parse(&text).with_context(|| format!("cannot use the upload ledger {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read the upload ledger {}", path.display())),
    }
}

/// The retry state is a cache: when it is unreadable, start afresh (with a warning).
fn load_state(path: &Path) -> RetryState {
    match std::fs::read_to_string(path) {
        Ok(text) => RetryState::parse(&text).unwrap_or_else(|e| {
            eprintln!("warning: ignoring {}: {e}", path.display());
            RetryState::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RetryState::default(),
        Err(e) => {
            eprintln!("warning: ignoring {}: {e}", path.display());
            RetryState::default()
        }
    }
}

fn save_state(path: &Path, state: &RetryState) {
    if let Err(e) = write_atomic(path, state.to_json().as_bytes()) {
        eprintln!("warning: cannot save the upload retry state: {e:#}");
    }
}

/// The upload target with the command-line overrides, and the API key from
/// `--api-key-file`, `HORREUM_API_KEY` or the config's `api_key_file`.
fn target_and_key(paths: &Paths, target: &TargetArgs) -> anyhow::Result<(UploadTarget, secret::ApiKey)> {
    let (target_cfg, config_key_file) = resolve_target(paths, target)?;
    let flag_file = target.api_key_file.as_ref().map(|p| absolute(p)).transpose()?;
    let key = secret::find_api_key(flag_file.as_deref(), std::env::var(API_KEY_ENV).ok(), config_key_file.as_deref())?;
    Ok((target_cfg, key))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// `root`-relative, `/`-separated path of a file inside the root.
fn relative_path(root: &Path, file: &Path) -> anyhow::Result<String> {
    let canonical = file.canonicalize().with_context(|| format!("cannot open {}", file.display()))?;
    let rel = canonical.strip_prefix(root).with_context(|| {
        format!("{} is outside the repository root {}; results must live in the repository", file.display(), root.display())
    })?;
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    Ok(parts.join("/"))
}

/// The upload target from the config's `[upload]` table with the command-line overrides, and
/// the config's `api_key_file` (resolved against the config's folder).
fn resolve_target(paths: &Paths, args: &TargetArgs) -> anyhow::Result<(UploadTarget, Option<PathBuf>)> {
    let TargetArgs { url, test, owner, access, schema, api_key_file: _ } = args;
    let (config_path, required) = (paths.config.clone(), false);
    let mut table = match std::fs::read_to_string(&config_path) {
        Ok(text) => {
            let doc: toml::Table = toml::from_str(&text).with_context(|| format!("cannot parse {}", config_path.display()))?;
            match doc.get("upload") {
                Some(toml::Value::Table(t)) => t.clone(),
                Some(_) => bail!("[upload] in {} must be a table", config_path.display()),
                None => toml::Table::new(),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => toml::Table::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", config_path.display())),
    };
    let overrides = [
        ("url", url.clone()),
        ("test", test.clone()),
        ("owner", owner.clone()),
        ("access", access.map(|a| a.as_str().to_owned())),
        ("schema", schema.clone()),
    ];
    for (name, value) in overrides {
        if let Some(v) = value {
            table.insert(name.to_owned(), toml::Value::String(v));
        }
    }
    let target: UploadTarget = toml::Value::Table(table).try_into().with_context(|| {
        format!(
            "incomplete upload target: set url, test, owner and access in the [upload] table of {} \
             or with --url/--test/--owner/--access",
            config_path.display()
        )
    })?;
    target.validate()?;
    let config_dir = config_path.parent().unwrap_or(&paths.root).to_owned();
    let key_file = target.api_key_file.as_ref().map(|p| secret::resolve_config_relative(&config_dir, p));
    Ok((target, key_file))
}
