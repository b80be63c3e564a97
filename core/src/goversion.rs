//! Go version strings: releases (`go1.27.3`), devel builds
//! (`go1.28-devel_0123456789 Thu Nov 19 10:00:00 2026 +0000`), the minor
//! number in `src/internal/goversion/goversion.go`, and the bootstrap rule of
//! `cmd/dist`.

/// A Go release version `go1.MINOR.PATCH` (or `go1.MINOR` for the first
/// releases before Go 1.21, or a pre-release such as `go1.28rc1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    pub minor: u32,
    pub patch: u32,
}

/// Parses `go1.N`, `go1.N.P`, `go1.NrcK` and `go1.NbetaK` (pre-releases count
/// as patch 0).
pub fn parse_release(v: &str) -> Option<Release> {
    let rest = v.strip_prefix("go1.")?;
    let (minor, patch) = match rest.split_once('.') {
        Some((m, p)) => (m, p),
        None => (rest, "0"),
    };
    let minor = minor.split(|c: char| !c.is_ascii_digit()).next()?;
    let minor: u32 = minor.parse().ok()?;
    let patch: u32 = patch.parse().ok()?;
    Some(Release { minor, patch })
}

/// The `N` of `const Version = N` in `src/internal/goversion/goversion.go`,
/// which `cmd/dist` uses for devel version strings.
pub fn minor_from_goversion_go(source: &str) -> Option<u32> {
    source.lines().find_map(|l| l.strip_prefix("const Version = ")?.trim().parse().ok())
}

/// The version string `cmd/dist` makes for a commit without a VERSION file:
/// `go1.N-devel_` followed by `git log -n 1 --format=format:'%h %cd'`.
pub fn devel_string(minor: u32, log_line: &str) -> String {
    format!("go1.{minor}-devel_{log_line}")
}

/// Whether a devel string has the shape `devel_string` gives, with nothing a
/// Containerfile label or a shell quote would trip on.
pub fn is_devel_string(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("go1.") else { return false };
    let Some((minor, rest)) = rest.split_once("-devel_") else { return false };
    let Some((hash, date)) = rest.split_once(' ') else { return false };
    !minor.is_empty()
        && minor.bytes().all(|b| b.is_ascii_digit())
        && !hash.is_empty()
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && date.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b':' | b'+' | b'-'))
}

/// The release-shaped version a devel commit of Go 1.N is built as: etcd's
/// build and go.mod checks need `go1.N.0`, not `go1.N-devel_...`.
pub fn release_shaped(minor: u32) -> String {
    format!("go1.{minor}.0")
}

/// The oldest Go minor version that can bootstrap Go 1.N, as `cmd/dist`
/// states it: for N >= 22, N-2 rounded down to an even number.
pub fn min_bootstrap_minor(minor: u32) -> u32 {
    match minor {
        22.. => (minor - 2) & !1,
        20..=21 => 17,
        5..=19 => 4,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_rule() {
        let table = [(28, 26), (27, 24), (26, 24), (25, 22), (24, 22), (23, 20), (22, 20), (21, 17), (20, 17), (19, 4)];
        for (minor, want) in table {
            assert_eq!(min_bootstrap_minor(minor), want, "go1.{minor}");
        }
    }

    #[test]
    fn releases() {
        assert_eq!(parse_release("go1.27.3"), Some(Release { minor: 27, patch: 3 }));
        assert_eq!(parse_release("go1.20"), Some(Release { minor: 20, patch: 0 }));
        assert_eq!(parse_release("go1.28rc1"), Some(Release { minor: 28, patch: 0 }));
        assert_eq!(parse_release("go2.0"), None);
        assert_eq!(parse_release("go1.x.1"), None);
        assert!(parse_release("go1.27.10") > parse_release("go1.27.9"));
    }

    #[test]
    fn goversion_go() {
        let src = "// Copyright\n\npackage goversion\n\n// Version is the Go 1.x version.\nconst Version = 28\n";
        assert_eq!(minor_from_goversion_go(src), Some(28));
        assert_eq!(minor_from_goversion_go("package goversion\n"), None);
    }

    #[test]
    fn devel() {
        let s = devel_string(28, "0123abcdef Thu Nov 19 10:00:00 2026 +0000");
        assert_eq!(s, "go1.28-devel_0123abcdef Thu Nov 19 10:00:00 2026 +0000");
        assert!(is_devel_string(&s));
        assert!(!is_devel_string("go1.28-devel_0123 Thu'; rm -rf /"));
        assert!(!is_devel_string("go1.27.3"));
        assert_eq!(release_shaped(28), "go1.28.0");
    }
}
