#!/usr/bin/env bash
# Profiles the benchmark's hot paths on one backend: runs the main benchmark and, while the
# HTTP load of a scenario runs, samples the whole machine with `perf record -a` (gateway, load
# generator and database share the 2 cores, so the split between them is the point). Writes
# one report per scenario into the output folder: CPU by process, then the top symbols.
#
#   scripts/profile-bench.sh [postgres|sqlite] [out-dir]
#
# Needs perf (Debian: linux-perf) and a release build (`cargo build --release --bins`). The
# release profile keeps line tables, so symbols resolve; stacks are not recorded (no frame
# pointers), so the reports are flat: where the cycles are spent, not who called.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-postgres}
out=${2:-target/profile-$backend}
mkdir -p "$out"
bench=target/release/kindbrug-bench
[ -x "$bench" ] || { echo "build first: cargo build --release --bins" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }

log="$out/bench.log"
"$bench" --backend "$backend" --seconds 10 >"$out/bench.md" 2>"$log" &
pid=$!
profile() { # scenario file-name: sample 8 s of the scenario's HTTP run, after its warm-up
  local scenario=$1 name=$2
  until grep -q "^$backend: $scenario …" "$log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  sleep 1.5
  perf record -a -F 999 -o "$out/$name.data" -- sleep 8 >/dev/null 2>&1
  report() { # perf pads its columns; keep the figures and names only
    perf report -i "$out/$name.data" --no-children --stdio "$@" 2>/dev/null \
      | grep '%' | sed -E 's/ +- +- *$//; s/ {2,}/  /g' | head -"$lines" || true
  }
  {
    echo "# $backend, $scenario: CPU by process (all samples of 8 s on every core)"
    lines=12 report --sort comm
    echo
    echo "# by process and library"
    lines=20 report --sort comm,dso
    echo
    echo "# top symbols"
    lines=45 report --sort comm,dso,symbol
  } >"$out/$name.txt"
  echo "profiled $scenario: $out/$name.txt"
}
profile "read child" read-child
profile "submit consultation" submit
profile "relay" relay
wait "$pid"
echo "benchmark tables: $out/bench.md"
