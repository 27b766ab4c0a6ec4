#!/usr/bin/env bash
# Start-up benchmark: gosu next to Debian's gosu package (upstream 1.14, Go
# 1.19), setpriv, chroot --userspec and /bin/true, all in the same run, and the
# account-file scale cases. docs/performance.md has the method and numbers.
#
#   bench/bench.sh [ROUNDS [RUNS [SCALE_ROUNDS]]]   (defaults: 60 5 10)
#
# Needs root (switching users), hyperfine, Debian's gosu, util-linux:
#   apt-get install -y hyperfine gosu util-linux        (tini: optional)
# BENCH_GOSU=/path/to/gosu benchmarks that binary (a release asset, say);
# otherwise the working tree is built as a release is (static, -trimpath).
# BENCH_CASES picks cases from "startup init scale chown" (default: all).
#
# Method: `hyperfine -N` (fork and exec, no shell; `perf stat` inflates each
# start about 4x here). One hyperfine invocation runs its commands one after
# another, not interleaved, and this machine drifts by about 10% from one
# minute to the next and shares its 2 cores with bursts of other work. So each
# case runs as ROUNDS short hyperfine invocations of all its commands (1
# warm-up and RUNS runs each, the order rotated every round): a command's block
# lasts some 10-20 ms and a round well under a second, so drift and bursts hit
# every command alike. The result is the median over the rounds of each
# round's median, with the range of the round medians, and the ratio to the
# reference (Debian's gosu). This stays with the standard tool rather than a
# harness of our own: anyone can rerun it, and 5-run blocks interleave nearly
# as finely as a run-by-run round robin would.
# Results go to stdout and bench/results/ (gitignored).
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
rounds=${1:-60}
cases=" ${BENCH_CASES:-startup init scale chown} "
wants() { [[ $cases == *" $1 "* ]]; }
runs=${2:-5}
scale_rounds=${3:-10}
out=bench/results
debian=/usr/sbin/gosu

if [ "${1:-}" = __scale ]; then
  # Internal: runs in a private mount namespace (see below), where the
  # generated account files are bind-mounted over the real ones.
  shift
  mount --bind "$1/passwd" /etc/passwd
  mount --bind "$1/group" /etc/group
  exec "$self" __cases "${@:2}"
fi

[ "$(id -u)" = 0 ] || { echo "run as root: gosu only switches users as root" >&2; exit 1; }
for tool in hyperfine "$debian" unshare setpriv chroot awk; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y hyperfine gosu util-linux" >&2; exit 1; }
done

# bench NAME ROUNDS RUNS WARMUP "LABEL|COMMAND"... : the rounds, then a table of
# medians (ms) with the spread of round medians and the ratio to the first
# command (the reference: Debian's gosu, or tini), to stdout, $out/NAME.txt,
# and every round's medians to $out/NAME.csv.
bench() {
  local name=$1 nrounds=$2 nruns=$3 warmup=$4
  shift 4
  local cmds=("$@") n=$# r i csv="$out/$name.csv"
  echo "round,command,median_s" >"$csv"
  for ((r = 0; r < nrounds; r++)); do
    local args=()
    for ((i = 0; i < n; i++)); do
      local c=${cmds[$(((i + r) % n))]}
      args+=(-n "${c%%|*}" "${c#*|}")
    done
    # Its outlier warnings are expected here (the interleaving is the
    # answer to them); its errors are shown.
    if ! hyperfine -N --style none --warmup "$warmup" --runs "$nruns" --export-csv "$out/round.csv" "${args[@]}" \
      >/dev/null 2>"$out/hyperfine.err"; then
      cat "$out/hyperfine.err" >&2
      exit 1
    fi
    awk -F, -v r="$r" 'NR > 1 { print r "," $1 "," $4 }' "$out/round.csv" >>"$csv"
  done
  rm -f "$out/round.csv" "$out/hyperfine.err"
  local order
  order=$(printf '%s\n' "${cmds[@]%%|*}")
  # Median of the round medians per command, in the given order; the first
  # command is the reference for the ratio column.
  awk -F, -v order="$order" '
    NR > 1 { v[$2] = v[$2] " " $3 * 1000 }
    function median(list,   a, k, m, i, j, t) {
      k = split(list, a, " ")
      for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      lo = a[1]; hi = a[k]
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    END {
      n = split(order, names, "\n")
      printf "%-58s %9s %19s %7s\n", "command", "median", "round medians", "ratio"
      for (i = 1; i <= n; i++) {
        m = median(v[names[i]])
        if (i == 1) ref = m
        printf "%-58s %6.3f ms %7.3f - %7.3f %6.2fx\n", names[i], m, lo, hi, m / ref
      }
    }' "$csv" | tee "$out/$name.txt"
}

if [ "${1:-}" = __cases ]; then
  # Internal, in the namespace: the scale cases.
  shift
  ours=$1 target=$2 rounds=$3
  echo "== scale: 200,000-line passwd with $target last, $target in 1,000 of 50,000 groups (rounds of 5 runs)"
  bench scale "$rounds" 5 1 \
    "Debian gosu $target /bin/true|$debian $target /bin/true" \
    "ours gosu $target /bin/true|$ours $target /bin/true" \
    "Debian gosu root /bin/true (line 1)|$debian root /bin/true" \
    "ours gosu root /bin/true (line 1)|$ours root /bin/true"
  exit 0
fi

mkdir -p "$out"
# Built as released: the release toolchain (scripts/toolchain), static,
# trimmed. bench/forkwait is the floor of init mode (below).
toolchain=$(cat scripts/toolchain)
GOTOOLCHAIN=$toolchain CGO_ENABLED=0 go build -trimpath -ldflags=-w -o "$out/forkwait" ./bench/forkwait
if [ -n "${BENCH_GOSU:-}" ]; then
  ours=$(realpath "$BENCH_GOSU")
else
  GOTOOLCHAIN=$toolchain CGO_ENABLED=0 go build -trimpath -ldflags=-w -o "$out/gosu" ./cmd/gosu
  ours=$PWD/$out/gosu
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine widens the spread)"
  echo "ours: $ours, $(stat -c %s "$ours") bytes, $("$ours" --version)"
  echo "Debian: $debian, $(stat -c %s "$debian") bytes, $("$debian" --version)"
  echo "rounds: $rounds x $runs runs (scale: $scale_rounds x 5)"
} | tee "$out/machine.txt"

wants startup && echo "== start-up, switching to nobody (65534)" &&
bench startup "$rounds" "$runs" 1 \
  "Debian gosu nobody /bin/true|$debian nobody /bin/true" \
  "/bin/true|/bin/true" \
  "ours gosu nobody /bin/true|$ours nobody /bin/true" \
  "setpriv --reuid=65534 --regid=65534 --clear-groups /bin/true|setpriv --reuid=65534 --regid=65534 --clear-groups /bin/true" \
  "chroot --userspec=65534:65534 / /bin/true|chroot --userspec=65534:65534 / /bin/true" \
  "Debian gosu --version (Go runtime start only)|$debian --version" \
  "ours gosu --version (Go runtime start only)|$ours --version"

# Optional: init mode against the usual pair, tini -s in front of the same
# gosu (the reference, for the ratio), with the floor of any parent written
# in Go: one that only forks gosu and waits (bench/forkwait, two Go start-ups
# where tini + gosu has one). gosu --init adds the supervisor's own image
# (docs/init.md). What the parent keeps resident: bench/parent.sh.
if ! wants init; then
  :
elif "$ours" --help 2>&1 | grep -q -- '--init' && command -v tini >/dev/null; then
  echo "== init mode"
  bench init "$rounds" "$runs" 1 \
    "tini -s -- gosu nobody /bin/true (ours)|$(command -v tini) -s -- $ours nobody /bin/true" \
    "gosu --init nobody /bin/true|$ours --init nobody /bin/true" \
    "floor: forkwait gosu nobody /bin/true|$PWD/$out/forkwait $ours nobody /bin/true" \
    "gosu nobody /bin/true|$ours nobody /bin/true"
else
  echo "(init mode: skipped, needs tini and a gosu with --init)"
fi

# Scale: generated account files, bind-mounted over /etc/passwd and
# /etc/group in a private mount namespace (the machine's /etc is never
# touched), the target on the last of 200,001 passwd lines and in 1,000 of
# 50,000 groups.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
awk 'BEGIN { print "root:x:0:0:root:/root:/bin/sh"
             for (i = 0; i < 200000; i++) printf "user%d:x:%d:100::/home/u:/bin/sh\n", i, 100000 + i
             print "target:x:60000:60000:target:/nonexistent:/bin/sh" }' >"$tmp/passwd"
awk 'BEGIN { print "root:x:0:"
             for (i = 0; i < 50000; i++) printf "group%d:x:%d:%s\n", i, 300000 + i, i % 50 == 0 ? "alice,target,bob" : "alice,bob" }' >"$tmp/group"
wants scale && [ "$scale_rounds" -gt 0 ] &&
  unshare -m --propagation private "$self" __scale "$tmp" "$ours" target "$scale_rounds"

# Optional: the ownership fix has its own benchmark.
if wants chown && [ -x bench/chown.sh ]; then
  GOSU="$ours" bench/chown.sh
fi
