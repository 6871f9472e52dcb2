#!/usr/bin/env bash
# Sanity check of the native server foundation (issue 13 part 1): wrk, 10 s, 8 keep-alive
# connections over loopback, against engram serve (engramd); prints requests/s and the server
# process's CPU (utime+stime from /proc) per request. Not the issue's benchmark.
# usage: scripts/bench-server-sanity.sh /health/live|/api/v1/spaces/bench 0|1 (API key)
set -e
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
path=$1; auth=$2
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
d=$(mktemp -d)
if [ "$auth" = 1 ]; then
  key=$(python -c "from engram.server.auth import add_key; print(add_key('$d/keys.json','bench',['*'],'admin'))")
  authflags="--api-keys $d/keys.json"; hdr="Authorization: Bearer $key"
else
  authflags="--no-auth"; hdr="X-Bench: 1"
fi
engram serve --in-memory $authflags --dim 8 --port $port > $d/log 2>&1 &
pid=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$port/health/ready >/dev/null && break; sleep 0.1; done
curl -sf -XPOST -H "$hdr" http://127.0.0.1:$port/api/v1/spaces -d '{"name":"bench"}' >/dev/null
curl -sf -H "$hdr" http://127.0.0.1:$port$path >/dev/null
read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
out=$(wrk -t1 -c8 -d10s -H "$hdr" http://127.0.0.1:$port$path)
read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
lat=$(echo "$out" | awk '/Latency/ {print $2, $3, $4}')
tck=$(getconf CLK_TCK)
cpu_us=$(python -c "print(round(((($u1-$u0)+($s1-$s0))/$tck)/$reqs*1e6, 1))")
non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
echo "path=$path auth=$auth requests=$reqs rps=$rps latency(avg stdev max)=[$lat] server_cpu_us_per_req=$cpu_us non2xx=${non2xx:-0}"
kill -TERM $pid; wait $pid || true
rm -rf $d
