#!/usr/bin/env bash
# Writes the Debian changelog of the .deb (usr/share/doc/gosu/changelog.gz,
# the changelog of a native package) from CHANGELOG.md, on stdout:
#
#   scripts/debchangelog.sh CHANGELOG.md DEBVERSION EPOCHSECONDS MAINTAINER
#
# Each "## VERSION (YYYY-MM-DD)" section becomes an entry, newest first. The
# first one is the package being built: it gets DEBVERSION (1:1.20.0, or a
# development build's 1:1.20.1~0.TIME.HASH) and the commit's time
# (EPOCHSECONDS), also while it is "(unreleased)"; the others get "1:VERSION"
# and their heading's date. "### Group" lines become "  * Group:" with the
# group's "- item" lines under it; other text is kept, indented.
set -euo pipefail

[ $# -eq 4 ] || { echo "usage: $0 CHANGELOG.md DEBVERSION EPOCHSECONDS MAINTAINER" >&2; exit 2; }
export LC_ALL=C
awk -v top="$2" -v topdate="$(date -u -R -d "@$3")" -v maint="$4" '
function fail(msg) { print FILENAME ":" FNR ": " msg > "/dev/stderr"; bad = 1; exit 1 }
function close_entry() {
	if (entries > 0) printf "\n -- %s  %s\n", maint, date
}
/^## / {
	if (!match($0, /^## [0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)? \(([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|unreleased)\)$/))
		fail("a version heading is \"## X.Y.Z (YYYY-MM-DD)\" or \"## X.Y.Z (unreleased)\"")
	close_entry()
	version = $2
	when = substr($3, 2, length($3) - 2)
	if (entries == 0) {
		version = top
		date = topdate
	} else {
		if (when == "unreleased") fail("only the newest version can be unreleased")
		version = "1:" version
		cmd = "date -u -R -d " when
		cmd | getline date
		close(cmd)
	}
	if (entries++) print ""
	printf "gosu (%s) unstable; urgency=medium\n", version
	blank = 1   # the blank line after the header comes with the first text
	group = 0
	next
}
entries == 0 { next }   # the introduction of CHANGELOG.md
/^$/ { blank = 1; next }
{
	if (length($0) > 74) fail("longer than 74 columns: the Debian changelog indents it by up to 6")
	if (blank) { print ""; blank = 0 }
}
/^### / { group = 1; print "  * " substr($0, 5) ":"; next }
/^- / { print (group ? "    - " : "  * ") substr($0, 3); next }
/^  / { print (group ? "    " : "  ") $0; next }
{ group = 0; print "  " $0 }
END {
	if (bad) exit 1
	if (entries == 0) { print FILENAME ": no \"## VERSION (DATE)\" section" > "/dev/stderr"; exit 1 }
	close_entry()
}
' "$1"
