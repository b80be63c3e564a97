#!/usr/bin/env bash
# Make a local git repository of one etcd release from the Go module proxy,
# for tests and the demo on machines that cannot reach GitHub.
#
#   scripts/etcd-source-repo.sh <dest> [version]     (version: v3.6.14)
#
# etcd publishes each module of its tree at every release tag. This downloads
# them with the host's `go mod download -json` (so GOPROXY, GOFLAGS and
# GONOSUMDB come from the environment or `go env`, and go.sum checks every
# zip), lays each one out at its directory, and commits the tree. A module
# zip leaves out nested modules, file modes and symlinks: the nested modules
# are laid out one by one, and shell scripts get their exec bit back. The
# untagged modules (tools/mod, tools/rw-heatmaps, tools/testgrid-analysis)
# are not published at the tag, so the tree lacks them; neither `make build`
# nor `tools/benchmark` builds them.
#
# Commits are deterministic (fixed author, committer and date, no user or
# system git config), so the SHA is the same on every run for a version.
# Branch: release-<major.minor> (e.g. release-3.6); tag: the version.
# Prints "<tag> <sha>".
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 <dest> [version]" >&2
    exit 2
fi
dest="$1"
version="${2:-v3.6.14}"
[[ "$version" =~ ^v3\.([0-9]+)\.[0-9]+$ ]] || { echo "version '$version' is not an etcd v3 release such as v3.6.14" >&2; exit 1; }
branch="release-3.${BASH_REMATCH[1]}"
if [[ -e "$dest" ]] && [[ -n "$(ls -A "$dest")" ]]; then
    echo "$dest exists and is not empty" >&2
    exit 1
fi
command -v go > /dev/null || { echo "no go on PATH: this script uses the host's Go to reach the module proxy" >&2; exit 1; }
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

# Module path -> directory in the tree.
modules=(
    "go.etcd.io/etcd/v3 ."
    "go.etcd.io/etcd/api/v3 api"
    "go.etcd.io/etcd/client/pkg/v3 client/pkg"
    "go.etcd.io/etcd/client/v3 client/v3"
    "go.etcd.io/etcd/pkg/v3 pkg"
    "go.etcd.io/etcd/server/v3 server"
    "go.etcd.io/etcd/etcdctl/v3 etcdctl"
    "go.etcd.io/etcd/etcdutl/v3 etcdutl"
    "go.etcd.io/etcd/tests/v3 tests"
)

# A private module cache, so the host's is neither read nor filled.
modcache="$(mktemp -d)"
trap 'chmod -R u+w "$modcache" 2> /dev/null; rm -rf "$modcache"' EXIT
for m in "${modules[@]}"; do
    read -r path dir <<< "$m"
    json="$(cd "$modcache" && GOMODCACHE="$modcache" GOFLAGS=-modcacherw go mod download -json "$path@$version")" || {
        echo "go mod download $path@$version failed (GOPROXY=$(go env GOPROXY)):" >&2
        echo "$json" >&2
        exit 1
    }
    src="$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<< "$json")"
    [[ -d "$src" ]] || { echo "go mod download $path@$version gave no directory: $json" >&2; exit 1; }
    mkdir -p "$dest/$dir"
    cp -R "$src/." "$dest/$dir/"
done
chmod -R u+w,go-w "$dest"
find "$dest" -name '*.sh' -exec chmod 0755 {} +

# Keep the user's and the system's git configuration out of it.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Gobench Fixture" GIT_AUTHOR_EMAIL="fixture@gobench.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_AUTHOR_DATE="@1784764800 +0000" GIT_COMMITTER_DATE="@1784764800 +0000"
# gc.auto=0: a background `git gc --auto` after the commits raced with the
# first clone of the new repository (objects packed away mid-copy); the
# repository is packed once, in the foreground, at the end.
g() { git -C "$dest" -c core.autocrlf=false -c commit.gpgsign=false -c tag.gpgsign=false -c gc.auto=0 "$@"; }
g init --quiet
g symbolic-ref HEAD "refs/heads/$branch"
g add -f -A .
g commit --quiet -m "etcd $version, laid out from its module zips"
g tag "$version"
g gc --quiet
echo "$version $(g rev-parse HEAD)"
