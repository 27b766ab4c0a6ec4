#!/usr/bin/env bash
# Benchmarks gosu side by side with Debian's gosu package (upstream 1.14) and
# /bin/true in the same hyperfine runs. Needs root, hyperfine and gosu:
#   apt-get install -y hyperfine gosu   (and linux-perf for perf stat)
# Usage: bench/bench.sh [RUNS]   (results also land in bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
upstream=/usr/sbin/gosu
out=bench/results
mkdir -p "$out"
for tool in hyperfine "$upstream" unshare; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y hyperfine gosu util-linux" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run as root: gosu can only switch users as root" >&2; exit 1; }

CGO_ENABLED=0 go build -trimpath -ldflags=-w -o "$out/gosu" ./cmd/gosu
ours=$PWD/$out/gosu
echo "ours: $(stat -c %s "$ours") bytes; upstream $("$upstream" --version)"

echo "== start-up: gosu nobody /bin/true"
hyperfine -N --warmup 20 --runs "$runs" --export-markdown "$out/startup.md" \
  -n true '/bin/true' \
  -n upstream "$upstream nobody /bin/true" \
  -n ours "$ours nobody /bin/true"

# perf stat, where it works, is far less noisy per run (±1%), but this
# machine drifts by ±10% from one minute to the next: only interleaving
# short batches compares fairly. 20 rounds of 50 runs each, alternating.
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
  echo "== start-up, interleaved perf stat: 20 rounds x 50 runs, mean elapsed and CPU per run"
  echo "   (root: no switch needed; --version: runtime start-up only)"
  declare -A elapsed cpu
  # --version runs the Go runtime's start-up and nothing else: it tells
  # the toolchain's share (upstream's Debian build uses Go 1.19) from ours.
  cmds=("/bin/true" "$upstream nobody /bin/true" "$ours nobody /bin/true" "$upstream root /bin/true" "$ours root /bin/true" "$upstream --version" "$ours --version")
  for ((r = 0; r < 20; r++)); do
    for c in "${cmds[@]}"; do
      stat=$(perf stat -r 50 -e task-clock $c 2>&1 >/dev/null)
      elapsed[$c]=$(awk -v a="${elapsed[$c]:-0}" '/seconds time elapsed/ {print a + $1 * 1000}' <<<"$stat")
      cpu[$c]=$(awk -v a="${cpu[$c]:-0}" '/task-clock/ {print a + $1}' <<<"$stat")
    done
  done
  for c in "${cmds[@]}"; do
    awk -v e="${elapsed[$c]}" -v u="${cpu[$c]}" -v c="$c" 'BEGIN { printf "  %-60s %6.3f ms elapsed %6.3f ms CPU\n", c, e / 20, u / 20 }'
  done | tee "$out/perf.txt"
fi

# Scale: large account files, bind-mounted over /etc in a private mount
# namespace (the machine's /etc is never touched).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
awk 'BEGIN { print "root:x:0:0:root:/root:/bin/sh";
             for (i = 0; i < 200000; i++) printf "user%d:x:%d:100::/home/u:/bin/sh\n", i, 10000 + i;
             print "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh" }' > "$tmp/passwd"
awk 'BEGIN { print "root:x:0:"; print "nogroup:x:65534:";
             for (i = 0; i < 50000; i++) printf "group%d:x:%d:alice,nobody,bob\n", i, 100000 + i }' > "$tmp/group"
echo "== scale: 200k users (first and last), nobody in 50k groups"
unshare -m --propagation private sh -c '
  mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group &&
  hyperfine -N --warmup 5 --runs "$2" --export-markdown "$3/scale.md" \
    -n "upstream root (line 1)" "$4 root /bin/true" \
    -n "ours root (line 1)" "$5 root /bin/true" \
    -n "upstream user199999 (line 200001)" "$4 user199999 /bin/true" \
    -n "ours user199999 (line 200001)" "$5 user199999 /bin/true" \
    -n "upstream nobody (50k groups)" "$4 nobody /bin/true" \
    -n "ours nobody (50k groups)" "$5 nobody /bin/true"
' sh "$tmp" "$((runs / 10 > 10 ? runs / 10 : 10))" "$out" "$upstream" "$ours"
