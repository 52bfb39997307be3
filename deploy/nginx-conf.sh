#!/usr/bin/env sh
# Print the nginx config for replicas: nginx-conf.sh LISTEN RUNDIR HOST:PORT [HOST:PORT ...]
#   deploy/nginx-conf.sh 127.0.0.1:8500 /tmp/stepper 127.0.0.1:8501 127.0.0.1:8502
set -eu
listen=$1 run=$2
shift 2
servers=""
for s in "$@"; do servers="$servers        server $s max_fails=0;\n"; done
sed -e "s|@LISTEN@|$listen|" -e "s|@RUN@|$run|g" -e "s|^@SERVERS@$|$servers|" \
    "$(dirname "$0")/nginx.conf.template"
