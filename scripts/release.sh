#!/usr/bin/env bash
# Builds a gosu release, reproducibly, from a clean clone of one commit: the
# binaries for every architecture upstream ships (plus armv7), named like
# upstream's assets (gosu-$(dpkg --print-architecture)), an SBOM per binary,
# .deb, .rpm and .apk packages, SHA256SUMS of all of them and, with -k,
# detached GnuPG signatures. docs/release.md describes every file.
#
#   scripts/release.sh [-C REPO] [-r REV] [-k KEYID] OUTDIR [ASSET...]
#
# REPO defaults to the repository holding this script, REV to HEAD; ASSET is a
# subset of the names below (amd64 arm64 ...), all by default. OUTDIR must be
# empty or absent. KEYID is a secret key of the caller's GnuPG (GNUPGHOME as
# usual); it signs each binary (gosu-ASSET.asc) and SHA256SUMS
# (SHA256SUMS.asc), which lists every other file. Without -k the release is
# unsigned, and the script says so.
#
# Uncommitted changes never reach a release: the build runs in a fresh clone of
# REV in a temporary directory (the packaging files, CHANGELOG.md and the man
# page come from there too), so `go version -m` shows vcs.modified=false and
# two runs from the same commit, anywhere, give byte-identical files (same Go
# release, fixed by scripts/toolchain; -trimpath removes every path; file
# times in packages are the commit's). The environment cannot change the
# result: GOFLAGS and the per-architecture tuning variables are unset and set
# explicitly here.
#
# Version: Go itself stamps the main module's version from git (-buildvcs=true):
# vX.Y.Z on a commit tagged vX.Y.Z, otherwise a pseudo-version such as
# v0.0.0-20261127064300-43039fb1c2d3 (or vX.Y.(Z+1)-0.<time>-<hash> after a tag).
# main.Version, which `gosu --version` prints, is that same version without the
# leading "v", so the two always agree; each binary is checked for it. The
# package versions follow from it (scripts/pkgversion.sh). A tagged release
# needs its dated section in CHANGELOG.md.
set -euo pipefail
export LC_ALL=C

# asset name, GOARCH, GOARM, and the architecture's name for dpkg, rpm and apk
# ("-": no such package). armel/armhf follow upstream (armhf is ARMv6 there,
# for the Raspberry Pi, as Alpine's armhf is); armv7 is ours, for ARMv7 cores.
# rpm: the four architectures of RHEL; apk: every one of Alpine's.
assets=(
  "amd64    amd64    - amd64    x86_64  x86_64"
  "i386     386      - i386     -       x86"
  "armel    arm      5 armel    -       -"
  "armhf    arm      6 armhf    -       armhf"
  "armv7    arm      7 -        -       armv7"
  "arm64    arm64    - arm64    aarch64 aarch64"
  "mips64el mips64le - mips64el -       -"
  "ppc64el  ppc64le  - ppc64el  ppc64le ppc64le"
  "riscv64  riscv64  - riscv64  -       riscv64"
  "s390x    s390x    - s390x    s390x   s390x"
  "loong64  loong64  - loong64  -       loongarch64"
)

usage() {
  local names=()
  for a in "${assets[@]}"; do names+=("${a%% *}"); done
  echo "usage: $0 [-C REPO] [-r REV] [-k KEYID] OUTDIR [ASSET...]  (ASSET: ${names[*]})" >&2
  exit 2
}

repo=$(dirname "$0")
rev=HEAD
key=
while getopts C:r:k: opt; do
  case $opt in
  C) repo=$OPTARG ;;
  r) rev=$OPTARG ;;
  k) key=$OPTARG ;;
  *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
out=$1
shift
want=("$@")

selected=()
for a in "${assets[@]}"; do
  read -r name _ <<<"$a"
  if [ ${#want[@]} -eq 0 ] || [[ " ${want[*]} " == *" $name "* ]]; then
    selected+=("$a")
  fi
done
for w in "${want[@]}"; do
  found=
  for a in "${assets[@]}"; do [ "${a%% *}" = "$w" ] && found=1; done
  [ -n "$found" ] || { echo "$0: unknown asset $w" >&2; usage; }
done

# Fail before the long build, not after it.
if [ -n "$key" ]; then
  command -v gpg >/dev/null || { echo "$0: -k needs gpg (apt-get install gnupg)" >&2; exit 1; }
  gpg --batch --list-secret-keys -- "$key" >/dev/null 2>&1 ||
    { echo "$0: no secret key '$key' in ${GNUPGHOME:-~/.gnupg}" >&2; exit 1; }
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "$0: $out is not empty: a release directory holds one release only" >&2
  exit 1
fi

# The checkout may belong to another user (a CI runner's): reading it is fine.
git() { command git -c safe.directory='*' "$@"; }
top=$(git -C "$repo" rev-parse --show-toplevel)
commit=$(git -C "$top" rev-parse --verify "$rev^{commit}")

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
# Every time stamp in the packages is the commit's.
export SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct)
# shellcheck source=tools.sh
. "$src/scripts/tools.sh"

# The version Go stamps for this commit, learned from a host build.
(cd "$src" && go build -trimpath -buildvcs=true -o "$work/probe-version" ./cmd/gosu)
modversion=$(go version -m "$work/probe-version" | awk '$1 == "mod" { print $3 }')
case $modversion in
v[0-9]*) ;;
*) echo "$0: go stamped no module version ('$modversion'): is git installed?" >&2; exit 1 ;;
esac
version=${modversion#v}
# FORMAT -> nfpm's version fields and the full version, per format.
declare -A pkgver pkgpre pkgrel pkgfull
versions=$(bash "$src/scripts/pkgversion.sh" "$modversion")
while read -r format v p r full; do
  pkgver[$format]=$v pkgpre[$format]=${p#-} pkgrel[$format]=${r#-} pkgfull[$format]=$full
done <<<"$versions"
# A release (not a pre-release or a development build) has its own section in
# CHANGELOG.md, dated: the Debian changelog and the notes come from it.
if [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  heading=$(grep -m1 '^## ' "$src/CHANGELOG.md" || true)
  [[ $heading =~ ^"## $version ("[0-9]{4}-[0-9]{2}-[0-9]{2}")"$ ]] ||
    { echo "$0: $modversion is a release, but CHANGELOG.md's newest section is '$heading', not '## $version (YYYY-MM-DD)'" >&2; exit 1; }
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "gosu $version from $commit with $(go env GOVERSION)" >&2
binaries=()
for a in "${selected[@]}"; do
  read -r name goarch goarm _ <<<"$a"
  goarm=${goarm#-}
  (cd "$src" && GOARCH=$goarch GOARM=$goarm go build -trimpath -buildvcs=true \
    -ldflags="-w -X main.Version=$version" -o "$out/gosu-$name" ./cmd/gosu)
  info=$(go version -m "$out/gosu-$name")
  for line in "mod"$'\t'"gosu"$'\t'"$modversion" "build"$'\t'"vcs.revision=$commit" \
    "build"$'\t'"vcs.modified=false" "build"$'\t'"CGO_ENABLED=0" "build"$'\t'"GOARCH=$goarch"; do
    grep -qF -- "$line" <<<"$info" || { echo "$0: gosu-$name lacks '$line' in:" >&2; echo "$info" >&2; exit 1; }
  done
  binaries+=("gosu-$name")
  echo "  gosu-$name $(wc -c <"$out/gosu-$name") bytes" >&2
done

# The SBOM of each binary: what Go recorded in it (module and version, VCS
# revision and time, golang.org/x/sys, the toolchain as "std", the build
# settings). No serial number and no time stamp: the same commit gives the
# same file. cyclonedx-gomod 1.10.0 writes the package URLs' goarch from the
# environment, not from the binary: GOARCH is the binary's here.
cyclonedx=$(release_tool "$CYCLONEDX_GOMOD")
sboms=()
for a in "${selected[@]}"; do
  read -r name goarch goarm _ <<<"$a"
  goarm=${goarm#-}
  GOARCH=$goarch GOARM=$goarm "$cyclonedx" bin -json -std -noserial -notimestamp \
    -output "$out/gosu-$name.cdx.json" "$out/gosu-$name" 2>"$work/sbom.log" ||
    { cat "$work/sbom.log" >&2; exit 1; }
  sboms+=("gosu-$name.cdx.json")
done

# Packages: nfpm in the clone, with this release's man page and Debian
# changelog (both compressed without names or times).
nfpm=$(release_tool "$NFPM")
maintainer=$(sed -n 's/^maintainer: *//p' "$src/packaging/nfpm.yaml")
gzip -9n <"$src/docs/gosu.1" >"$work/gosu.1.gz"
bash "$src/scripts/debchangelog.sh" "$src/CHANGELOG.md" "${pkgfull[deb]}" "$SOURCE_DATE_EPOCH" "$maintainer" |
  gzip -9n >"$work/changelog.gz"
packages=()
description=$(cat "$src/packaging/description")
synopsis=${description%%$'\n'*}
package() { # FORMAT ARCH ASSET FILE DESCRIPTION
  (cd "$src" && GOSU_PKG_ARCH=$2 GOSU_PKG_VERSION=${pkgver[$1]} GOSU_PKG_PRERELEASE=${pkgpre[$1]} \
    GOSU_PKG_RELEASE=${pkgrel[$1]} GOSU_PKG_BINARY=$out/gosu-$3 GOSU_PKG_MAN=$work/gosu.1.gz \
    GOSU_PKG_DEBCHANGELOG=$work/changelog.gz GOSU_PKG_DESCRIPTION=$5 "$nfpm" package -f packaging/nfpm.yaml -p "$1" -t "$out/$4") \
    >"$work/nfpm.log" 2>&1 || { cat "$work/nfpm.log" >&2; exit 1; }
  packages+=("$4")
}
for a in "${selected[@]}"; do
  read -r name _ _ deb rpm apk <<<"$a"
  # File names: the conventional ones of each format, without the epoch.
  [ "$deb" = - ] || package deb "$deb" "$name" "gosu_${pkgfull[deb]#*:}_$deb.deb" \
    "$synopsis"$'\n'"${description#*$'\n\n'}"
  [ "$rpm" = - ] || package rpm "$rpm" "$name" "gosu-${pkgfull[rpm]#*:}.$rpm.rpm" "$description"
  [ "$apk" = - ] || package apk "$apk" "$name" "gosu-${pkgfull[apk]}.$apk.apk" "$synopsis"
done
echo "  packages: ${pkgfull[deb]} (deb), ${pkgfull[rpm]} (rpm), ${pkgfull[apk]} (apk): ${#packages[@]} files" >&2

(cd "$out" && sha256sum "${binaries[@]}" "${sboms[@]}" "${packages[@]}" >SHA256SUMS)
cat "$out/SHA256SUMS"

# Signatures as upstream's: detached, armored, one per binary, and one for
# SHA256SUMS, which covers the SBOMs and packages too. Each is checked.
if [ -z "$key" ]; then
  echo "unsigned: no -k KEYID given, so no .asc files (scripts/release.sh -k KEYID signs)" >&2
  exit 0
fi
for f in "${binaries[@]}" SHA256SUMS; do
  gpg --batch --yes --quiet --local-user "$key" --armor --detach-sign --output "$out/$f.asc" "$out/$f"
  gpg --batch --quiet --verify "$out/$f.asc" "$out/$f" 2>/dev/null ||
    { echo "$0: the signature $f.asc does not verify" >&2; exit 1; }
done
echo "signed with $key: ${#binaries[@]} binaries and SHA256SUMS (.asc)" >&2
