#!/usr/bin/env bash
# Builds gosu's release binaries, reproducibly, from a clean clone of one
# commit, for every architecture upstream ships (plus armv7), named like
# upstream's assets (gosu-$(dpkg --print-architecture)), with SHA256SUMS.
#
#   scripts/release.sh [-C REPO] [-r REV] OUTDIR [ASSET...]
#
# REPO defaults to the repository holding this script, REV to HEAD; ASSET is a
# subset of the names below (amd64 arm64 ...), all by default.
# Uncommitted changes never reach a release: the build runs in a fresh clone of
# REV in a temporary directory, so `go version -m` shows vcs.modified=false and
# two runs from the same commit, anywhere, give byte-identical files (same Go
# release; -trimpath removes every path). The environment cannot change the
# result: GOFLAGS and the per-architecture tuning variables are unset and set
# explicitly here.
#
# Version: Go itself stamps the main module's version from git (-buildvcs=true):
# vX.Y.Z on a commit tagged vX.Y.Z, otherwise a pseudo-version such as
# v0.0.0-20261127064300-43039fb1c2d3 (or vX.Y.(Z+1)-0.<time>-<hash> after a tag).
# main.Version, which `gosu --version` prints, is that same version without the
# leading "v", so the two always agree; each binary is checked for it.
set -euo pipefail
export LC_ALL=C

# asset name, GOARCH, GOARM (empty: not arm). armel/armhf follow upstream
# (armhf is ARMv6 there, for the Raspberry Pi); armv7 is ours, for ARMv7 cores.
assets=(
  "amd64 amd64"
  "i386 386"
  "armel arm 5"
  "armhf arm 6"
  "armv7 arm 7"
  "arm64 arm64"
  "mips64el mips64le"
  "ppc64el ppc64le"
  "riscv64 riscv64"
  "s390x s390x"
  "loong64 loong64"
)

usage() {
  echo "usage: $0 [-C REPO] [-r REV] OUTDIR [ASSET...]  (ASSET: ${assets[*]%% *})" >&2
  exit 2
}

repo=$(dirname "$0")
rev=HEAD
while getopts C:r: opt; do
  case $opt in
  C) repo=$OPTARG ;;
  r) rev=$OPTARG ;;
  *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
out=$1
shift
want=("$@")

# The checkout may belong to another user (a CI runner's): reading it is fine.
git() { command git -c safe.directory='*' "$@"; }
top=$(git -C "$repo" rev-parse --show-toplevel)
commit=$(git -C "$top" rev-parse --verify "$rev^{commit}")

selected=()
for a in "${assets[@]}"; do
  read -r name _ <<<"$a"
  if [ ${#want[@]} -eq 0 ] || [[ " ${want[*]} " == *" $name "* ]]; then
    selected+=("$a")
  fi
done
for w in "${want[@]}"; do
  [[ " ${assets[*]%% *} " == *" $w "* ]] || { echo "$0: unknown asset $w" >&2; usage; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gosu-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/src
git clone -q --upload-pack="git -c safe.directory='*' upload-pack" "$top" "$src"
git -C "$src" -c advice.detachedHead=false checkout -q --detach "$commit"

# Only what is set here decides the output.
unset GOFLAGS GOEXPERIMENT GO386 GOAMD64 GOARM GOARM64 GOMIPS64 GOPPC64 GORISCV64 GOWASM
# The release toolchain (scripts/toolchain): the go command fetches it from the
# module proxy like a module. go.mod stays at the Go that source builds need.
export CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=$(cat "$src/scripts/toolchain")

# The version Go stamps for this commit, learned from a host build.
(cd "$src" && go build -trimpath -buildvcs=true -o "$work/probe-version" ./cmd/gosu)
modversion=$(go version -m "$work/probe-version" | awk '$1 == "mod" { print $3 }')
case $modversion in
v[0-9]*) ;;
*) echo "$0: go stamped no module version ('$modversion'): is git installed?" >&2; exit 1 ;;
esac
version=${modversion#v}

mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "gosu $version from $commit with $(go env GOVERSION)" >&2
files=()
for a in "${selected[@]}"; do
  read -r name goarch goarm <<<"$a"
  (cd "$src" && GOARCH=$goarch GOARM=$goarm go build -trimpath -buildvcs=true \
    -ldflags="-w -X main.Version=$version" -o "$out/gosu-$name" ./cmd/gosu)
  info=$(go version -m "$out/gosu-$name")
  for line in "mod"$'\t'"gosu"$'\t'"$modversion" "build"$'\t'"vcs.revision=$commit" \
    "build"$'\t'"vcs.modified=false" "build"$'\t'"CGO_ENABLED=0" "build"$'\t'"GOARCH=$goarch"; do
    grep -qF -- "$line" <<<"$info" || { echo "$0: gosu-$name lacks '$line' in:" >&2; echo "$info" >&2; exit 1; }
  done
  files+=("gosu-$name")
  echo "  gosu-$name $(wc -c <"$out/gosu-$name") bytes" >&2
done
(cd "$out" && sha256sum "${files[@]}" >SHA256SUMS)
cat "$out/SHA256SUMS"
