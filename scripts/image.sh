#!/usr/bin/env bash
# Builds the FROM-scratch gosu image (Dockerfile: one file, /gosu) for every
# binary of a release directory made by scripts/release.sh, and joins them
# under one tag as a multi-architecture manifest list:
#
#   scripts/image.sh OUTDIR TAG        (TAG: localhost/gosu:1.20.0, say)
#
# Each image is tagged TAG-ASSET (localhost/gosu:1.20.0-arm64) and carries its
# platform (architecture and variant: armel is linux/arm/v5, armhf
# linux/arm/v6, armv7 linux/arm/v7, arm64 linux/arm64/v8). TAG is the manifest
# list; `podman manifest push --all TAG docker://REGISTRY/gosu:VERSION`
# publishes it.
#
# Reproducible: no network, no base image, the files checked against
# SHA256SUMS, every time stamp the commit's (go version -m reads it from the
# binary), no build-tool label: two runs from the same OUTDIR give the same
# image IDs, on any machine with the same podman. Prints "ASSET IMAGE-ID" per
# image, the amd64 image last. Needs podman and go. Podman's own settings
# apply (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF: the tests use a private
# store that way); on Debian 12's podman 4.3 the build runs nothing, so it
# needs none of the run flags of docs/release.md.
set -euo pipefail
export LC_ALL=C

[ $# -eq 2 ] || { echo "usage: $0 OUTDIR TAG" >&2; exit 2; }
out=$(cd "$1" && pwd)
tag=$2
top=$(cd "$(dirname "$0")/.." && pwd)

# asset -> OCI platform (GOARCH names; GOARM as the variant).
declare -A platform=(
  [amd64]=linux/amd64 [i386]=linux/386 [armel]=linux/arm/v5 [armhf]=linux/arm/v6
  [armv7]=linux/arm/v7 [arm64]=linux/arm64/v8 [mips64el]=linux/mips64le
  [ppc64el]=linux/ppc64le [riscv64]=linux/riscv64 [s390x]=linux/s390x [loong64]=linux/loong64
)

assets=()
while read -r _ file; do
  case $file in
  gosu-*.*) ;; # SBOMs and packages
  gosu-*)
    name=${file#gosu-}
    [ -n "${platform[$name]:-}" ] || { echo "$0: no platform for $file" >&2; exit 1; }
    assets+=("$name")
    ;;
  esac
done <"$out/SHA256SUMS"
[ ${#assets[@]} -gt 0 ] || { echo "$0: $out/SHA256SUMS lists no gosu-ASSET binary" >&2; exit 1; }
(cd "$out" && for a in "${assets[@]}"; do grep " gosu-$a\$" SHA256SUMS; done | sha256sum --quiet -c -)

# The version and the commit's time, from Go's stamp in the first binary.
info=$(go version -m "$out/gosu-${assets[0]}")
version=$(awk '$1 == "mod" { sub(/^v/, "", $3); print $3 }' <<<"$info")
revision=$(sed -n 's/.*\tvcs.revision=//p' <<<"$info")
vcstime=$(sed -n 's/.*\tvcs.time=//p' <<<"$info")
[ -n "$version" ] && [ -n "$revision" ] && [ -n "$vcstime" ] ||
  { echo "$0: gosu-${assets[0]} has no module version or VCS stamp: not a release binary" >&2; exit 1; }
epoch=$(date -u -d "$vcstime" +%s)

work=$(mktemp -d "${TMPDIR:-/tmp}/gosu-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
# amd64 last, so that the last line is the image most people run.
ordered=()
for a in "${assets[@]}"; do [ "$a" = amd64 ] || ordered+=("$a"); done
for a in "${assets[@]}"; do [ "$a" = amd64 ] && ordered+=("$a"); done

# set_variant IMAGE VARIANT: podman 4.3 (buildah 1.28) writes "variant":"v7"
# into the config of every linux/arm image it builds, whatever --platform
# says, so an ARMv6 host would be told the image is for ARMv7. This rewrites
# the variant in the config (and the config's digest in the manifest) of a
# saved copy and loads it back under the same name; it prints the new image
# ID, the new config's digest. Nothing else changes, and an image that
# already has the variant is left as it is.
set_variant() {
  local dir=$work/oci.$2 config manifest old new
  rm -rf "$dir"
  podman save --quiet --format oci-dir -o "$dir" "$1"
  manifest=$(sed -n 's/.*"manifests":\[{[^}]*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' "$dir/index.json")
  old=$(sed -n 's/.*"config":{[^}]*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' "$dir/blobs/sha256/$manifest")
  config=$(cat "$dir/blobs/sha256/$old")
  case $config in
  *'"variant":"'"$2"'"'*) echo "$old"; return ;;
  *'"variant":"'*) config=$(sed 's/"variant":"[^"]*"/"variant":"'"$2"'"/' <<<"$config") ;;
  *) config=$(sed 's/"architecture":"\([^"]*\)"/&,"variant":"'"$2"'"/' <<<"$config") ;;
  esac
  printf '%s' "$config" >"$dir/config"
  new=$(sha256sum "$dir/config" | cut -d' ' -f1)
  mv "$dir/config" "$dir/blobs/sha256/$new"
  sed 's/"digest":"sha256:'"$old"'","size":[0-9]*/"digest":"sha256:'"$new"'","size":'"${#config}"'/' \
    "$dir/blobs/sha256/$manifest" >"$dir/manifest"
  manifest=$(sha256sum "$dir/manifest" | cut -d' ' -f1)
  mv "$dir/manifest" "$dir/blobs/sha256/$manifest"
  sed 's/"digest":"sha256:[0-9a-f]*","size":[0-9]*/"digest":"sha256:'"$manifest"'","size":'"$(wc -c <"$dir/blobs/sha256/$manifest")"'/' \
    "$dir/index.json" >"$dir/index" && mv "$dir/index" "$dir/index.json"
  # As an OCI archive, podman 4.3 loads it under the name saved in
  # index.json (from a directory it would name it after the path).
  tar -C "$dir" -cf "$dir.tar" .
  podman rmi --force "$1" >/dev/null
  podman load --quiet -i "$dir.tar" >/dev/null
  podman tag "$new" "$1"
  echo "$new"
}

podman manifest rm "$tag" >/dev/null 2>&1 || true
podman manifest create "$tag" >/dev/null
for a in "${ordered[@]}"; do
  # A context of the one file: nothing else of OUTDIR reaches the build.
  mkdir "$work/$a"
  cp "$out/gosu-$a" "$work/$a/"
  podman build --quiet --pull=never --network=none --layers=false --identity-label=false \
    --platform "${platform[$a]}" --timestamp "$epoch" --iidfile "$work/$a.id" \
    --build-arg GOSU_ARCH="$a" --build-arg GOSU_VERSION="$version" --build-arg GOSU_REVISION="$revision" \
    -f "$top/Dockerfile" -t "$tag-$a" "$work/$a" >/dev/null
  id=$(cat "$work/$a.id")
  IFS=/ read -r _ arch variant <<<"${platform[$a]}"
  [ -z "$variant" ] || id=$(set_variant "$tag-$a" "$variant")
  podman manifest add ${variant:+--variant "$variant"} --arch "$arch" --os linux "$tag" "containers-storage:$tag-$a" >/dev/null
  echo "$a ${id#sha256:}"
done
