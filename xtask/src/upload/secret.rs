//! The Horreum API key: where it comes from, and a type that never prints it. `serve` keeps its
//! webhook secret and GitHub token in the same type, read the same way.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "HORREUM_API_KEY";

/// A secret: the Horreum API key, the webhook secret, the GitHub token. `Debug` and `Display`
/// print `[redacted]`; use [`Secret::expose`] only to build the request header or to redact text.
#[derive(Clone)]
pub struct Secret(String);

pub type ApiKey = Secret;

/// What a secret is, for messages, and what it may hold.
#[derive(Debug, Clone, Copy)]
pub struct SecretKind {
    /// e.g. "the GitHub token".
    pub what: &'static str,
    /// A passphrase (the webhook secret) may hold spaces; a key or token may not.
    pub spaces: bool,
}

const HORREUM_KEY: SecretKind = SecretKind { what: "the Horreum API key", spaces: false };

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Removes the key from any text that is about to be shown or stored.
    pub fn redact(&self, text: &str) -> String {
        gobench_core::ledger::redact(text, &self.0)
    }

    pub fn new(kind: SecretKind, raw: &str, source: &str) -> anyhow::Result<Secret> {
        let what = kind.what;
        let key = raw.trim();
        if key.is_empty() {
            bail!("{what} from {source} is empty");
        }
        if key.chars().any(|c| c.is_control() || (c == ' ' && !kind.spaces)) {
            // Never echo it: say only where it came from.
            bail!("{what} from {source} contains whitespace or control characters inside it");
        }
        Ok(Secret(key.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Finds the key: `--api-key-file` first, then `$HORREUM_API_KEY`, then the config's
/// `api_key_file`.
pub fn find_api_key(flag_file: Option<&Path>, env_value: Option<String>, config_file: Option<&Path>) -> anyhow::Result<ApiKey> {
    if let Some(path) = flag_file {
        return read_key_file(path);
    }
    if let Some(value) = env_value {
        return Secret::new(HORREUM_KEY, &value, &format!("${API_KEY_ENV}"));
    }
    if let Some(path) = config_file {
        return read_key_file(path);
    }
    bail!(
        "no Horreum API key: set ${API_KEY_ENV}, or pass --api-key-file FILE, \
         or set api_key_file in the [upload] table (the file must be chmod 600)"
    )
}

/// Reads a key file that only its owner may read.
pub fn read_key_file(path: &Path) -> anyhow::Result<ApiKey> {
    read_secret_file(HORREUM_KEY, path)
}

/// Reads a secret from a file that only its owner may read.
pub fn read_secret_file(kind: SecretKind, path: &Path) -> anyhow::Result<Secret> {
    let what = kind.what;
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read the file of {what}, {}", path.display()))?;
    if !meta.is_file() {
        bail!("the file of {what}, {}, is not a regular file", path.display());
    }
    check_owner_only(path, &meta)?;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the file of {what}, {}", path.display()))?;
    Secret::new(kind, &text, &format!("file {}", path.display()))
}

#[cfg(unix)]
fn check_owner_only(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "secret file {} has mode {mode:03o}: group or others may access it; \
             run `chmod 600 {}` and consider rotating the secret",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _meta: &std::fs::Metadata) -> anyhow::Result<()> {
    Ok(())
}

/// A path from the config is relative to the config file's folder.
pub fn resolve_config_relative(config_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        config_dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_key() {
        let k = Secret::new(HORREUM_KEY, "HUSR_secret\n", "test").unwrap();
        assert_eq!(k.expose(), "HUSR_secret");
        assert!(!format!("{k:?} {k}").contains("HUSR_secret"));
        assert_eq!(k.redact("x HUSR_secret y"), "x [redacted] y");
    }

    #[test]
    fn empty_key_is_refused_without_echo() {
        assert!(Secret::new(HORREUM_KEY, "  \n", "test").is_err());
        let e = Secret::new(HORREUM_KEY, "HUSR_a b", "test").unwrap_err().to_string();
        assert!(!e.contains("HUSR_a"));
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "HUSR_k\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_key_file(&path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains("HUSR_k"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_key_file(&path).unwrap().expose(), "HUSR_k");
    }
}
