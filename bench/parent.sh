#!/usr/bin/env bash
# What the resident parent keeps while the command runs: gosu --init next to
# tini -s -- gosu (the same gosu), as the kernel reports it for the parent:
# threads and RssAnon from /proc/PID/status, Anonymous and Pss from
# /proc/PID/smaps_rollup. docs/performance.md has the numbers.
#
#   bench/parent.sh [RUNS]   (default 20)
#
# Needs root and tini (apt-get install -y tini). BENCH_GOSU=/path/to/gosu
# measures that binary; otherwise the working tree is built as a release
# is. Each run starts both parents with "nobody sleep 30", waits until the
# sleep runs (the parent is then in its loop, after its set-up), reads the
# parent's files, and ends both; the table has the median and the range
# over the runs.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/.."
runs=${1:-20}
out=bench/results
mkdir -p "$out"
[ "$(id -u)" = 0 ] || { echo "run as root: gosu only switches users as root" >&2; exit 1; }
command -v tini >/dev/null || { echo "missing tini: apt-get install -y tini" >&2; exit 1; }
if [ -n "${BENCH_GOSU:-}" ]; then
  gosu=$(realpath "$BENCH_GOSU")
else
  GOTOOLCHAIN=$(cat scripts/toolchain) CGO_ENABLED=0 go build -trimpath -ldflags=-w -o "$out/gosu" ./cmd/gosu
  gosu=$PWD/$out/gosu
fi

# measure NAME ARGV...: start the parent, wait for its sleep, record.
measure() {
  local name=$1
  shift
  "$@" nobody sleep 30 &
  local parent=$! child="" i
  for ((i = 0; i < 500; i++)); do
    child=$(cat "/proc/$parent/task/$parent/children" 2>/dev/null || true)
    child=${child%% *}
    if [ -n "$child" ] && [ "$(cat "/proc/$child/comm" 2>/dev/null)" = sleep ]; then
      break
    fi
    sleep 0.01
  done
  sleep 0.2 # the parent settles in its loop
  awk -v name="$name" '
    FILENAME ~ /status$/ && $1 == "Threads:" { t = $2 }
    FILENAME ~ /status$/ && $1 == "RssAnon:" { a = $2 }
    FILENAME ~ /rollup$/ && $1 == "Anonymous:" { sa = $2 }
    FILENAME ~ /rollup$/ && $1 == "Pss:" { pss = $2 }
    END { print name "," t "," a "," sa "," pss }' "/proc/$parent/status" "/proc/$parent/smaps_rollup" >>"$out/parent.csv"
  kill -TERM "$parent"
  wait "$parent" || true
}

echo "parent,threads,rss_anon_kib,anonymous_kib,pss_kib" >"$out/parent.csv"
for ((r = 0; r < runs; r++)); do
  measure "gosu --init" "$gosu" --init
  measure "tini -s -- gosu" tini -s -- "$gosu"
done
{
  echo "gosu: $gosu, $("$gosu" --version); tini: $(tini --version); $runs runs"
  awk -F, '
    NR > 1 { n[$1]++; for (i = 2; i <= 5; i++) v[$1, i] = v[$1, i] " " $i; names[$1] = 1 }
    function stat(list,   a, k, i, j, t) {
      k = split(list, a, " ")
      for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return sprintf("%s (%s-%s)", k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2, a[1], a[k])
    }
    END {
      printf "%-18s %-14s %-20s %-20s %-20s\n", "parent", "threads", "RssAnon KiB", "Anonymous KiB", "Pss KiB"
      for (p in names) printf "%-18s %-14s %-20s %-20s %-20s\n", p, stat(v[p, 2]), stat(v[p, 3]), stat(v[p, 4]), stat(v[p, 5])
    }' "$out/parent.csv"
} | tee "$out/parent.txt"
