#!/usr/bin/env bash
# N Streamlit replicas of the GRU stepper behind nginx, all on this machine:
#   deploy/run.sh [N=2] [PORT=8500] [-- app arguments, e.g. --model mine.pt]
# Replicas listen on 127.0.0.1:PORT+1 .. PORT+N, nginx on $LISTEN (default 127.0.0.1:PORT).
# Stops them all on Ctrl-C or SIGTERM. Settings (GRU_STEPPER_CACHE_MB, GRU_STEPPER_MAX_TEXT)
# are read by each replica from the environment: the memory budget is per replica.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2}; PORT=${2:-8500}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
PY=${PYTHON:-python3}
LISTEN=${LISTEN:-127.0.0.1:$PORT}
RUN=$(mktemp -d "${TMPDIR:-/tmp}/gru-stepper-nginx.XXXXXX")
pids=(); warmers=()
stop() { kill "${pids[@]}" "${warmers[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$RUN"; }
trap stop EXIT
trap 'exit 0' INT TERM

servers=()
for i in $(seq 1 "$N"); do
  port=$((PORT + i))
  "$PY" -m streamlit run dashboard/app.py --server.port "$port" --server.address 127.0.0.1 \
    --server.headless true --browser.gatherUsageStats false --server.fileWatcherType none \
    --client.showErrorDetails none --client.toolbarMode viewer -- "$@" \
    >"$RUN/replica-$i.log" 2>&1 &
  pids+=($!)
  servers+=("127.0.0.1:$port")
  # the first visitor waits for no import, model or trace (dashboard/warm.py)
  "$PY" -m dashboard.warm "http://127.0.0.1:$port" >>"$RUN/warm-$i.log" 2>&1 &
  warmers+=($!)
done
mkdir -p "$RUN"/{body,proxy,fastcgi,uwsgi,scgi}
deploy/nginx-conf.sh "$LISTEN" "$RUN" "${servers[@]}" >"$RUN/nginx.conf"
nginx -t -q -c "$RUN/nginx.conf" -p "$RUN" -e "$RUN/error.log"
nginx -c "$RUN/nginx.conf" -p "$RUN" -e "$RUN/error.log" -g "daemon off;" &
pids+=($!)
echo "GRU stepper: $N replicas behind http://$LISTEN/ (logs in $RUN)"
wait -n "${pids[@]}"  # one of them stopped: stop the rest
