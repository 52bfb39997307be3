#!/usr/bin/env sh
# Print the nginx config for replicas: nginx-conf.sh LISTEN RUNDIR HOST:PORT [HOST:PORT ...]
#   deploy/nginx-conf.sh 127.0.0.1:8500 /tmp/stepper 127.0.0.1:8501 127.0.0.1:8502
set -eu
listen=$1 run=$2
shift 2
servers=""
for s in "$@"; do servers="$servers        server $s max_fails=1 fail_timeout=10s;\n"; done
# X-Replica and /_stcore/metrics are for the tests only (GRU_STEPPER_TEST_HEADERS=1)
if [ "${GRU_STEPPER_TEST_HEADERS:-}" = 1 ]; then test_only='s|# @TEST@ ||'; else test_only='/# @TEST@/d'; fi
visitors='/# @VISITORS@/d'; [ "${GRU_STEPPER_TEST_HEADERS:-}" = 1 ] || visitors='s|# @VISITORS@ ||'
sed -e "$test_only" -e "$visitors" -e "s|@LISTEN@|$listen|" -e "s|@RUN@|$run|g" -e "s|^@SERVERS@$|$servers|" \
    "$(dirname "$0")/nginx.conf.template"
