#!/usr/bin/env bash
# N Streamlit replicas of the GRU stepper behind nginx, all on this machine, under supervisord:
#   deploy/run.sh [N=2] [PORT=8500] [-- app arguments, e.g. --model mine.pt]
# Replicas listen on 127.0.0.1:PORT+1 .. PORT+N, nginx on $LISTEN (default 127.0.0.1:PORT).
# supervisord (Debian's `supervisor`) restarts a replica that dies, and nginx sends its
# visitors to the others until it answers again (deploy/nginx.conf.template). Ctrl-C or SIGTERM
# stops them all. Settings (GRU_STEPPER_CACHE_MB, GRU_STEPPER_MAX_TEXT) are read by each
# replica from the environment: the memory budget is per replica.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2}; PORT=${2:-8500}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
PY=$(command -v "${PYTHON:-python3}")
LISTEN=${LISTEN:-127.0.0.1:$PORT}
RUN=$(mktemp -d "${TMPDIR:-/tmp}/gru-stepper.XXXXXX")
APP_ARGS=$( (( $# )) && printf ' %q' "$@" || true)
sup=""
stop() { [ -n "$sup" ] && kill "$sup" 2>/dev/null && wait "$sup" 2>/dev/null; rm -rf "$RUN"; }
trap stop EXIT
trap 'exit 0' INT TERM

mkdir -p "$RUN"/{body,proxy,fastcgi,uwsgi,scgi}
conf="$RUN/supervisord.conf"
cat >"$conf" <<EOF
[supervisord]
nodaemon=true
logfile=$RUN/supervisord.log
pidfile=$RUN/supervisord.pid
childlogdir=$RUN

[unix_http_server]
file=$RUN/supervisor.sock
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$RUN/supervisor.sock
EOF
servers=()
for i in $(seq 1 "$N"); do
  port=$((PORT + i))
  servers+=("127.0.0.1:$port")
  # each start (the first and every restart) warms its replica for the next visitor
  # (dashboard/warm.py): the warmer is the replica's child, stopped with its group
  cat >"$RUN/replica-$i.sh" <<EOF
"$PY" -m dashboard.warm http://127.0.0.1:$port >>"$RUN/warm-$i.log" 2>&1 &
MALLOC_ARENA_MAX=2 exec "$PY" -m streamlit run dashboard/app.py --server.port $port --server.address 127.0.0.1 \\
  --server.headless true --browser.gatherUsageStats false --server.fileWatcherType none \\
  --client.showErrorDetails none --client.toolbarMode viewer --$APP_ARGS
EOF
  cat >>"$conf" <<EOF

[program:replica-$i]
command=bash $RUN/replica-$i.sh
directory=$PWD
autorestart=true
startsecs=5
startretries=1000
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=$RUN/replica-$i.log
stdout_logfile_maxbytes=10MB
EOF
done
deploy/nginx-conf.sh "$LISTEN" "$RUN" "${servers[@]}" >"$RUN/nginx.conf"
nginx -t -q -c "$RUN/nginx.conf" -p "$RUN" -e "$RUN/error.log"
cat >>"$conf" <<EOF

[program:nginx]
command=nginx -c $RUN/nginx.conf -p $RUN -e $RUN/error.log -g "daemon off;"
autorestart=true
startretries=1000
redirect_stderr=true
stdout_logfile=$RUN/nginx.log
EOF
echo "GRU stepper: $N replicas behind http://$LISTEN/ (logs in $RUN;" \
     "supervisorctl -c $conf status)"
supervisord -c "$conf" &
sup=$!
wait "$sup"
