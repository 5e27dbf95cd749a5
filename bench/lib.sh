# What the benchmark scripts share; sourced from the repository root. `shale` runs this checkout's CLI.
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
shale="$(pwd)/bin/shale"
# the Node shale is tested and shipped with
source scripts/node-runtime.sh
use_node 24
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# nanoseconds a command takes, its output dropped
time_cmd() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo $(( $(now) - t0 )); }
# RUNS alternating runs of two shell commands A and B: prints "medianA medianB" (nanoseconds)
pair() {
  local a=$1 b=$2 ta=() tb=()
  for _ in $(seq "$RUNS"); do
    ta+=("$(time_cmd sh -c "$a")")
    tb+=("$(time_cmd sh -c "$b")")
  done
  echo "$(printf '%s\n' "${ta[@]}" | median) $(printf '%s\n' "${tb[@]}" | median)"
}
# one line of a side-by-side table: name, A command, B command, B's name
row() {
  local m
  read -r -a m <<<"$(pair "$2" "$3")"
  awk -v n="$1" -v a="${m[0]}" -v b="${m[1]}" -v bn="$4" 'BEGIN { printf "%-34s %7.1f ms  %-18s %7.1f ms  ratio %.2f\n", n, a/1e6, bn, b/1e6, a/b }'
}
