#!/bin/bash
# RSS per plug-in statistic, end to end (docs/PERFORMANCE.md, "Plug-in statistics"):
#   bench/plugin-memory.sh RESMOND [PORT] [EXPORTER-PORT]
# Starts prometheus-node-exporter (every default collector) on 127.0.0.1:EXPORTER-PORT and a
# resmond at its defaults (step 5) on 127.0.0.1:PORT with temporary directories, reads its API
# every 5 s (/metrics, /v1/statistics, /v1/status, /v1/subsystems, /rrd_updates), takes the
# median of six RSS readings 10 s apart from 0:40 on, plugs node_exporter in as
# examples/plugins/node.json does (then SIGHUP), and takes the median again 3 minutes later.
# Both processes are killed by PID at the end. LOAD=0 leaves out the API requests.
set -u
BIN=$(readlink -f "$1"); PORT=${2:-19470}; EXPORTER_PORT=${3:-19100}
D=$(mktemp -d /tmp/resmon-plugin-memory.XXXXXX)
mkdir -p "$D/state" "$D/config/subsystems.d" "$D/config/monitors.d"
setsid /usr/bin/prometheus-node-exporter --web.listen-address=127.0.0.1:$EXPORTER_PORT > "$D/exporter.log" 2>&1 &
EXPORTER=$!
cp "$BIN" "$D/resmond"   # its own copy: pages another process maps stay resident (StartupPages)
setsid "$D/resmond" --state-dir "$D/state" --config-dir "$D/config" --listen 127.0.0.1:$PORT > "$D/resmond.log" 2>&1 &
PID=$!
SOCKET="$D/state/resmond.sock"
trap 'kill $PID $EXPORTER 2>/dev/null; wait $PID $EXPORTER 2>/dev/null; rm -rf "$D"' EXIT
api() { curl -s --unix-socket "$SOCKET" "http://localhost$1"; }
[ "${LOAD:-1}" = 0 ] || ( while kill -0 $PID 2>/dev/null; do
    curl -s http://127.0.0.1:$PORT/metrics > /dev/null; api /v1/statistics > /dev/null; api /v1/status > /dev/null
    api /v1/subsystems > /dev/null; curl -s "http://127.0.0.1:$PORT/rrd_updates?start=-300&cf=AVERAGE&interval=5&host=true" > /dev/null
    sleep 5
  done ) &
rss() { awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Anonymous:/{a=$2} END{printf "%d %d %d\n", r, p, a}' /proc/$PID/smaps_rollup; }
median() { for i in 1 2 3 4 5 6; do rss; sleep 10; done | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}'; }
split() { awk '/^[0-9a-f]+-[0-9a-f]+ /{n=$6; k=(n=="[heap]")?"heap":(substr(n,1,1)=="/")?"file":"anon"} /^Rss:/{s[k]+=$2}
               END{printf "heap %.1f MiB, other anonymous %.1f MiB, file-backed %.1f MiB\n", s["heap"]/1024, s["anon"]/1024, s["file"]/1024}' /proc/$PID/smaps; }
sleep 40; BEFORE=$(median); SPLIT_BEFORE=$(split)
echo "{\"kind\": \"scrape\", \"url\": \"http://127.0.0.1:$EXPORTER_PORT/metrics\", \"interval\": 15, \"timeout\": 5, \"maxBytes\": 4194304}" \
    > "$D/config/subsystems.d/node.json"
kill -HUP $PID
sleep 180; AFTER=$(median); SPLIT_AFTER=$(split)
NODE=$(api /v1/subsystems | python3 -c 'import json,sys; print([s["statistics"] for s in json.load(sys.stdin)["subsystems"] if s["name"]=="node"][0])')
BUSY=$(api /v1/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["statistics"], "statistics, busy:", s["busy"], s.get("busyReason") or "")')
echo "$(basename "$BIN"): node_exporter's statistics $NODE; $BUSY; $(ls -d /proc/[0-9]* 2>/dev/null | wc -l) processes"
echo "  before: $SPLIT_BEFORE"; echo "  after:  $SPLIT_AFTER"
python3 - "$BEFORE" "$AFTER" "$NODE" <<'PY'
import sys
b, a, n = list(map(int, sys.argv[1].split())), list(map(int, sys.argv[2].split())), int(sys.argv[3])
for name, i in (("RSS", 0), ("PSS", 1), ("Anonymous", 2)):
    print(f"  {name}: {b[i]/1024:.1f} -> {a[i]/1024:.1f} MiB, {(a[i]-b[i])*1024/n:+.0f} B per plug-in statistic")
PY
