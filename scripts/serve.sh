#!/usr/bin/env bash
# `make serve`: a Prefect server on 127.0.0.1 (port PREFECT_PORT, 4200 by default),
# the `feedwatch` process work pool, the deployments of prefect.yaml and a worker.
# Ctrl-C (or TERM) stops the worker and the server this script started.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PORT=${PREFECT_PORT:-4200}
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
# FEEDWATCH_PREFECT_DB=postgresql://user@host:port/db: the server's database in
# PostgreSQL (asyncpg) instead of SQLite in PREFECT_HOME, for a busy server.
if [ -n "${FEEDWATCH_PREFECT_DB:-}" ]; then
    PREFECT_API_DATABASE_CONNECTION_URL=$("$BIN/python" -c '
import os, sys
from flows.runtime.prefect_api import asyncpg_url
try:
    print(asyncpg_url(os.environ["FEEDWATCH_PREFECT_DB"]))
except ValueError as e:
    sys.exit(f"FEEDWATCH_PREFECT_DB: {e}")
') || exit 2
    export PREFECT_API_DATABASE_CONNECTION_URL
    echo "Prefect server database: PostgreSQL at ${FEEDWATCH_PREFECT_DB##*@}"
fi

# Each child reads a lifeline on its standard input (flows/runtime/lifeline.py): a pipe that
# stays open while this script lives, so the server and the worker end with it
# however it ends (a closed terminal, SIGKILL), not only on Ctrl-C.
lifeline() { while kill -0 $$ 2>/dev/null; do sleep 1; done; }

pids=()
stop() {
    trap - EXIT INT TERM HUP
    # The worker first (it tells the server it is leaving), then the server; each
    # gets 10 s to stop cleanly before it is killed.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill -TERM -- "-$pid" 2>/dev/null || continue
        for _ in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    echo "stopped the Prefect worker and server"
}
trap stop EXIT INT TERM HUP

# Each in its own process group, so that stopping it stops its children too.
setsid "$BIN/python" -m flows.runtime.lifeline prefect server start --host 127.0.0.1 --port "$PORT" < <(lifeline) &
pids+=($!)
echo "waiting for the Prefect server on port $PORT …"
for _ in $(seq 1 120); do
    if "$BIN/python" -c "import httpx, sys; sys.exit(httpx.get('$PREFECT_API_URL/health', timeout=2).json() is not True)" 2>/dev/null; then
        break
    fi
    sleep 1
done

"$BIN/prefect" work-pool inspect feedwatch >/dev/null 2>&1 \
    || "$BIN/prefect" work-pool create feedwatch --type process
"$BIN/prefect" --no-prompt deploy --all
# The automation that marks a run Crashed when its heartbeats stop (a killed process).
"$BIN/python" -c 'from flows.runtime.liveness import ensure_automation; ensure_automation()'
setsid "$BIN/python" -m flows.runtime.lifeline prefect worker start --pool feedwatch < <(lifeline) &
pids+=($!)
echo
echo "Prefect UI: http://127.0.0.1:$PORT  (deployments poll-feeds, rescore-topics, digest)"
echo "Ctrl-C stops the worker and the server."
wait
