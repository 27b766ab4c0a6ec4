# The release tools, pinned: sourced by scripts/release.sh and
# scripts/vulncheck.sh. None of them is a dependency of the gosu module (its
# go.mod stays as it is): each is built from the Go module proxy by its exact
# version, like `go run PKG@VERSION`, with the release toolchain
# (scripts/toolchain). docs/release.md says how to move a pin.

# Packages (.deb, .rpm, .apk).
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
# The SBOM (CycloneDX JSON) from each binary's build information.
CYCLONEDX_GOMOD=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
# The vulnerability scanner, and the Go vulnerability database as a module:
# its data/osv, indexed by its own cmd/indexdb, is what govulncheck reads
# offline. Refresh: docs/release.md.
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
INDEXDB=golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION

# release_tool PKG@VERSION prints the path of that tool's binary, building it
# first when this machine has not (once per version and toolchain: kept under
# ~/.cache/gosu-release, outside the build cache, so that a release built with
# an empty GOCACHE does not rebuild its tools). Needs GOTOOLCHAIN set.
release_tool() {
  local pkg=${1%@*} version=${1##*@}
  local dir=${XDG_CACHE_HOME:-$HOME/.cache}/gosu-release/tools/${GOTOOLCHAIN:?}/${pkg//\//_}@$version
  local bin=$dir/${pkg##*/}
  if [ ! -x "$bin" ]; then
    mkdir -p "$dir"
    local tmp
    tmp=$(mktemp -d "$dir/.install.XXXXXX")
    # Outside any module, for this machine (the caller may have set GOARCH),
    # static like everything here.
    (cd "$tmp" && env -u GOARCH -u GOARM -u GOFLAGS CGO_ENABLED=0 GOBIN="$tmp" go install "$1") >&2 ||
      { rm -rf "$tmp"; return 1; }
    mv -f "$tmp/${pkg##*/}" "$bin"
    rm -rf "$tmp"
  fi
  echo "$bin"
}
