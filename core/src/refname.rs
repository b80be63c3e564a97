//! Validation of the strings a user writes that end up in a Containerfile or
//! on a command line: git ref names, URLs, names, package paths.
//!
//! Every check returns a message that says what is expected. The rules are
//! stricter than git's where git allows characters a shell would interpret:
//! a value that passes can be pasted into a `RUN` line unquoted.

/// Characters no value may contain, because a shell gives them meaning.
const SHELL_META: &[char] =
    &[';', '&', '|', '$', '`', '\'', '"', '<', '>', '(', ')', '{', '}', '\\', '!', '*', '?', '[', ']', '#', '~', '%', '^'];

fn check_safe_chars(what: &str, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(c) = v.chars().find(|c| c.is_whitespace() || c.is_control() || SHELL_META.contains(c)) {
        return Err(format!("{what} {v:?} contains {c:?}; only letters, digits and `._-/+:@,=` are allowed"));
    }
    Ok(())
}

/// A branch, tag or commit SHA, following `git check-ref-format` and
/// refusing shell metacharacters.
pub fn check_ref(r: &str) -> Result<(), String> {
    check_safe_chars("git ref", r)?;
    let bad = |why: &str| Err(format!("git ref {r:?} is not a valid ref name: {why}"));
    if r.starts_with('-') {
        return bad("it starts with `-`");
    }
    if r.starts_with('/') || r.ends_with('/') || r.contains("//") {
        return bad("it has an empty path component");
    }
    if r.ends_with('.') {
        return bad("it ends with `.`");
    }
    if r.contains("..") {
        return bad("it contains `..`");
    }
    if r.contains("@{") || r == "@" {
        return bad("it contains `@{` or is `@`");
    }
    if r.contains(':') || r.contains(',') || r.contains('=') {
        return bad("it contains `:`, `,` or `=`");
    }
    for part in r.split('/') {
        if part.starts_with('.') {
            return bad("a component starts with `.`");
        }
        if part.ends_with(".lock") {
            return bad("a component ends with `.lock`");
        }
    }
    Ok(())
}

/// Whether a ref is already a full commit SHA (so resolving it is a no-op).
pub fn is_full_sha(r: &str) -> bool {
    r.len() == 40 && r.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A git URL (`https://`, `ssh://`, `git://`, `file://`, `user@host:path`) or
/// a local path.
pub fn check_url(u: &str) -> Result<(), String> {
    check_safe_chars("git URL", u)?;
    if u.starts_with('-') {
        return Err(format!("git URL {u:?} starts with `-`"));
    }
    Ok(())
}

/// A name of an entry in the pins file: used in image tags, file names and
/// selectors, so kept to a small alphabet.
pub fn check_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && n.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!("name {n:?} must be 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit"))
    }
}

/// A Go import or module path, such as `encoding/json` or `github.com/google/uuid`.
pub fn check_package(p: &str) -> Result<(), String> {
    let ok = !p.is_empty()
        && p.split('/').all(|part| {
            !part.is_empty() && !part.starts_with('.') && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{p:?} is not a Go package path such as \"encoding/json\" or \"github.com/google/uuid\""))
    }
}

/// A container image reference (without digest).
pub fn check_image(i: &str) -> Result<(), String> {
    check_safe_chars("image reference", i)?;
    if i.contains('@') {
        return Err(format!("image reference {i:?} must not carry a digest; put it in `digest`"));
    }
    Ok(())
}

/// An absolute path inside an image.
pub fn check_path(p: &str) -> Result<(), String> {
    check_safe_chars("path", p)?;
    if !p.starts_with('/') {
        return Err(format!("path {p:?} must be absolute"));
    }
    Ok(())
}

/// A value for an environment variable such as `GOPROXY`: may hold commas and
/// `|`, which Go gives meaning, but nothing a Containerfile or shell would.
pub fn check_env_value(v: &str) -> Result<(), String> {
    if let Some(c) = v.chars().find(|&c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '$' | '`' | '\'')) {
        return Err(format!("value {v:?} contains {c:?}, which is not allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        let good = ["master", "release-3.6", "go1.27.3", "refs/heads/main", "dev.boringcrypto", "v3.6.0-rc.1", "a+b"];
        for r in good {
            assert_eq!(check_ref(r), Ok(()), "{r}");
        }
        let bad = [
            "master; rm -rf /",
            "",
            "-delete",
            "a..b",
            "a//b",
            "a/",
            "/a",
            "a.",
            ".hidden",
            "x/.y",
            "a.lock",
            "a@{1}",
            "@",
            "with space",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "$(id)",
            "`id`",
            "a\nb",
        ];
        for r in bad {
            assert!(check_ref(r).is_err(), "{r:?} accepted");
        }
    }

    #[test]
    fn urls() {
        for u in ["https://go.googlesource.com/go", "/srv/mirrors/go.git", "../go", "git@github.com:etcd-io/etcd.git", "file:///x"] {
            assert_eq!(check_url(u), Ok(()), "{u}");
        }
        for u in ["https://x/y;reboot", "-uhttps://x", "http://x/$(id)", "a b", "x'y"] {
            assert!(check_url(u).is_err(), "{u:?} accepted");
        }
    }

    #[test]
    fn names_and_packages() {
        assert!(check_name("go1.27").is_ok());
        assert!(check_name("-x").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_package("encoding/json").is_ok());
        assert!(check_package("strconv").is_ok());
        assert!(check_package("../x").is_err());
        assert!(check_package("a;b").is_err());
        assert!(check_env_value("https://proxy.example.com,direct").is_ok());
        assert!(check_env_value("off|direct").is_ok());
        assert!(check_env_value("x\"y").is_err());
        assert!(check_env_value("$HOME").is_err());
    }

    #[test]
    fn full_sha() {
        assert!(is_full_sha("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_full_sha("0123456789abcdef"));
        assert!(!is_full_sha("0123456789ABCDEF0123456789abcdef01234567"));
    }
}
