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
