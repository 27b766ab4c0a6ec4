#!/usr/bin/env bash
# Prints the package versions of a gosu release, one line per package format:
#
#   FORMAT VERSION PRERELEASE RELEASE FULL
#
# from the Go module version that scripts/release.sh stamps (vX.Y.Z, a
# pre-release tag vX.Y.Z-rc.N, or a pseudo-version of an untagged commit).
# VERSION, PRERELEASE and RELEASE are nfpm's fields ("-" for empty); FULL is
# what dpkg, rpm and apk show and compare. The scheme (docs/release.md):
#
#   deb  epoch 1, no Debian revision:     1:1.20.0   1:1.20.0~rc.1
#   rpm  epoch 1, release 1:              1:1.20.0-1 1:1.20.0~rc.1-1
#   apk  no epochs in apk, release r0:    1.20.0-r0  1.20.0_rc1-r0
#
# The epoch makes deb and rpm order after every version of upstream gosu
# (Debian's 1.14, upstream's 1.19, and any later one); apk has no epochs, so
# there the numbers alone must do it: this project's releases start at 1.20.0.
# Pseudo-versions sort before the release they lead to ("~" in dpkg and rpm)
# and after the tag they follow ("_git" in apk, whose numbers must stay below
# 2^31 for apk-tools 2: the date and the time of day are two suffixes).
#
#   scripts/pkgversion.sh MODVERSION
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 MODVERSION (as Go stamps it: v1.20.0, v1.20.1-0.20261203041538-9e37a922ac25)" >&2; exit 2; }
mod=$1
num='(0|[1-9][0-9]*)'
pre='(alpha|beta|rc)\.([0-9]+)'
pseudo='([0-9]{8})([0-9]{6})-[0-9a-f]{12}'
if ! [[ $mod =~ ^v$num\.$num\.$num(-(.*))?$ ]]; then
  echo "$0: $mod is not a semantic version vX.Y.Z[-PRERELEASE]" >&2
  exit 1
fi
x=${BASH_REMATCH[1]} y=${BASH_REMATCH[2]} z=${BASH_REMATCH[3]} p=${BASH_REMATCH[5]}
base=$x.$y.$z
apkbase=$base
case $p in
"") apkpre= ;; # a release
*)
  if [[ $p =~ ^$pre$ ]]; then
    # a pre-release tag: v1.20.0-rc.1
    apkpre=_${BASH_REMATCH[1]}${BASH_REMATCH[2]}
  elif [[ $p =~ ^$pre\.0\.$pseudo$ ]]; then
    # a commit after a pre-release tag: v1.20.0-rc.1.0.TIME-HASH
    apkpre=_${BASH_REMATCH[1]}${BASH_REMATCH[2]}_git${BASH_REMATCH[3]}_p$((10#${BASH_REMATCH[4]}))
  elif [[ $p =~ ^0\.$pseudo$ ]] && [ "$z" -gt 0 ]; then
    # a commit after the release tag vX.Y.(Z-1): v1.20.1-0.TIME-HASH
    apkbase=$x.$y.$((z - 1))
    apkpre=_git${BASH_REMATCH[1]}_p$((10#${BASH_REMATCH[2]}))
  elif [[ $p =~ ^$pseudo$ ]]; then
    # no tag before it: v0.0.0-TIME-HASH
    apkpre=_git${BASH_REMATCH[1]}_p$((10#${BASH_REMATCH[2]}))
  else
    echo "$0: $mod: pre-releases must be tagged vX.Y.Z-alpha.N, -beta.N or -rc.N" >&2
    exit 1
  fi
  ;;
esac
# dpkg and rpm: "~" sorts before anything, even the end of the version; the
# hyphens of a pseudo-version become dots (a hyphen would start the revision).
debpre=${p//-/.}
echo "deb $base ${debpre:--} - 1:$base${debpre:+~$debpre}"
echo "rpm $base ${debpre:--} 1 1:$base${debpre:+~$debpre}-1"
apkfield=${apkpre#_}
echo "apk $apkbase ${apkfield:--} 0 $apkbase$apkpre-r0"
