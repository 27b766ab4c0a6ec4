#!/usr/bin/env bash
# govulncheck, offline, against the pinned Go vulnerability database:
#
#   scripts/vulncheck.sh [BINARY...]
#
# scans the source of this repository (every package, as the release
# toolchain of scripts/toolchain builds it) and then each BINARY
# (-mode=binary: a release asset, which keeps its symbols for this). Exits 1
# on any finding at all: a vulnerable function gosu calls, and also a
# vulnerable package it imports or a vulnerable module it requires (the
# standard library included: the finding CVE scanners report), even when no
# vulnerable code is reached. The data is the module golang.org/x/vulndb at
# the version pinned in scripts/tools.sh, served by the Go module proxy; its
# own cmd/indexdb turns its data/osv into the database govulncheck reads
# (about a minute). Refreshing the pin: docs/release.md.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
unset GOFLAGS
export CGO_ENABLED=0 GOTOOLCHAIN=$(cat "$here/toolchain")
# shellcheck source=tools.sh
. "$here/tools.sh"
binaries=()
for b in "$@"; do
  [ -f "$b" ] || { echo "$0: no file $b" >&2; exit 2; }
  binaries+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")")
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gosu-vulncheck.XXXXXX")
trap 'rm -rf "$work"' EXIT
moddir=$(cd "$work" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$moddir/data/osv" ] || { echo "$0: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv" >&2; exit 1; }
indexdb=$(release_tool "$INDEXDB")
govulncheck=$(release_tool "$GOVULNCHECK")
"$indexdb" -vulns "$moddir/data/osv" -out "$work/db"
echo "vulnerability database: golang.org/x/vulndb@$VULNDB_VERSION ($(ls "$moddir/data/osv" | wc -l) entries); ${GOVULNCHECK##*/}; $(go env GOVERSION)"

findings=0
scan() { # WHAT ARGS...
  local what=$1
  shift
  echo "== govulncheck $what"
  # The text report is for people; the JSON one decides: it has a finding
  # for every level (module, package, function), where the text one details
  # only the vulnerable functions gosu calls and counts the rest. govulncheck
  # exits 3 when it found a vulnerable function, anything else but 0 is an
  # error of its own, which must not pass for a clean scan.
  local rc=0
  "$govulncheck" -db "file://$work/db" "$@" || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "$0: govulncheck failed (exit $rc)" >&2; exit 1; }
  rc=0
  "$govulncheck" -db "file://$work/db" -format json "$@" >"$work/report.json" || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "$0: govulncheck -format json failed (exit $rc)" >&2; exit 1; }
  # Every finding names its vulnerability ("osv": "GO-YYYY-NNNN"); the
  # database's own entries in the report are objects, not strings.
  local ids
  ids=$(grep -o '"osv": "GO-[^"]*"' "$work/report.json" | sed 's/.*"\(GO-[^"]*\)"/\1/' | sort -u || true)
  if [ -n "$ids" ]; then
    echo "FAIL: $(wc -l <<<"$ids") vulnerabilities in $what:"
    sed 's/^/  /' <<<"$ids"
    findings=$((findings + $(wc -l <<<"$ids")))
  fi
}
cd "$top"
scan "source ($top, ./...)" ./...
for b in "${binaries[@]}"; do
  scan "-mode=binary $b" -mode=binary "$b"
done
if [ "$findings" -gt 0 ]; then
  echo "== result: $findings vulnerabilities found"
  exit 1
fi
echo "== result: no vulnerabilities in the source or in ${#binaries[@]} binaries"
