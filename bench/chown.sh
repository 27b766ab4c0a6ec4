#!/usr/bin/env bash
# Benchmarks the ownership fix against what official images' entrypoints
# run: `chown -R U:G tree` and `find tree ! -user U -exec chown U:G {} +`,
# on a first run (every entry to change: a prepare step gives the tree back
# to root before each run) and on a restart (nothing to change), all in one
# hyperfine invocation per round. hyperfine runs each command's runs back to
# back, and this shared machine drifts from one minute to the next: several
# short rounds interleave the commands, and the table gives the median of
# the rounds' medians.
#
# Needs root, hyperfine (apt-get install -y hyperfine) and Go.
# Usage: bench/chown.sh [RUNS] [ROUNDS]     (defaults 3 and 7)
#   DIRS=2000 FILES=100   shape of the tree (DIRS directories of FILES files)
#   IDS=4242:4343         the new owner
#   GOSU=/path/to/gosu    also time `gosu --chown=tree U:G true`
#   TMPDIR=...            where the tree goes (its file system is measured)
# Results: a table on stdout, CSVs in bench/results/chown-*.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
rounds=${2:-7}
dirs=${DIRS:-2000}
files=${FILES:-100}
ids=${IDS:-4242:4343}
uid=${ids%%:*}
out=bench/results
mkdir -p "$out"
rm -f "$out"/chown-[0-9]*.csv
command -v hyperfine >/dev/null || { echo "missing hyperfine: apt-get install -y hyperfine" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root: only root gives files away" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags=-w -o "$tmp/chownbench" ./internal/ownership/internal/chownbench
tree=$tmp/tree
mkdir "$tree"
echo "building $dirs x $files = $((dirs * files + dirs + 1)) entries in $tree ($(df --output=fstype "$tmp" | tail -1))"
(
  cd "$tree"
  awk -v D="$dirs" 'BEGIN { for (d = 0; d < D; d++) print "d" d }' | xargs mkdir
  awk -v D="$dirs" -v F="$files" 'BEGIN { for (d = 0; d < D; d++) for (f = 0; f < F; f++) print "d" d "/f" f }' | xargs touch
)
entries=$(find "$tree" | wc -l)

# name, command; the first-run and restart variants of each.
names=("chown -R" "find -exec chown" "ownership.Fix")
cmds=("chown -R $ids $tree" "find $tree ! -user $uid -exec chown $ids {} +" "$tmp/chownbench $ids $tree")
if [ -n "${GOSU:-}" ]; then
  names+=("gosu --chown")
  cmds+=("$GOSU --chown=$tree $ids true")
fi
args=()
for i in "${!names[@]}"; do
  args+=(-n "first: ${names[$i]}" --prepare "chown -R 0:0 $tree" "${cmds[$i]}")
done
# A restart finds the tree as the previous command left it: already right.
for i in "${!names[@]}"; do
  args+=(-n "restart: ${names[$i]}" --prepare "chown -R $ids $tree" "${cmds[$i]}")
done

echo "$(date -u +%FT%TZ) $(nproc) CPUs, kernel $(uname -r), $entries entries, $runs runs x $rounds rounds"
for ((r = 1; r <= rounds; r++)); do
  hyperfine -N --style basic --warmup 1 --runs "$runs" --export-csv "$out/chown-$r.csv" "${args[@]}" >"$out/chown-$r.log" 2>&1
  echo "round $r done"
done

# Median of the rounds' medians, and each tool's time over ours.
awk -F, -v rounds="$rounds" '
  FNR == 1 { next }
  { name = $1; gsub(/"/, "", name); t[name, ++n[name]] = $4; if (!(name in seen)) { seen[name] = 1; order[++k] = name } }
  END {
    for (i = 1; i <= k; i++) {
      name = order[i]; m = n[name]
      for (a = 1; a <= m; a++) v[a] = t[name, a]
      for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[b] < v[a]) { x = v[a]; v[a] = v[b]; v[b] = x }
      med[name] = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
    }
    printf "%-32s %12s %14s\n", "command", "median (s)", "time / ours"
    for (i = 1; i <= k; i++) {
      name = order[i]; split(name, p, ": ")
      printf "%-32s %12.3f %13.2fx\n", name, med[name], med[name] / med[p[1] ": ownership.Fix"]
    }
  }' "$out"/chown-[0-9]*.csv | tee "$out/chown.txt"
