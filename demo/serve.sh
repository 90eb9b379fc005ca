#!/usr/bin/env bash
# `make run`: the GitHub simulator and a Celery worker with beat in the background, the demo seeded,
# gunicorn in the foreground. Ctrl-C stops gunicorn, and the trap stops the worker and the simulator.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PYTHON")
PORT=${PORT:-8000}
SIM_PORT=${SIM_PORT:-9000}
SIM_GIT_PORT=${SIM_GIT_PORT:-9443}
STATE_DIR=var/githubsim
LOG=var/demo/githubsim.log
WORKER_LOG=var/demo/worker.log

mkdir -p var/demo "$STATE_DIR"
rm -f "$STATE_DIR/config.json"
"$PYTHON" -m githubsim --port "$SIM_PORT" --git-port "$SIM_GIT_PORT" --state-dir "$STATE_DIR" >"$LOG" 2>&1 &
SIM_PID=$!
WORKER_PID=
stop_background() {
    for pid in $WORKER_PID $SIM_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_background EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 150); do
    grep -q "githubsim ready" "$LOG" 2>/dev/null && break
    if ! kill -0 "$SIM_PID" 2>/dev/null; then
        cat "$LOG" >&2
        echo "The GitHub simulator did not start (is port $SIM_PORT or $SIM_GIT_PORT taken?)." >&2
        exit 1
    fi
    sleep 0.2
done
grep -q "githubsim ready" "$LOG" || { cat "$LOG" >&2; echo "The GitHub simulator did not get ready." >&2; exit 1; }
echo "GitHub simulator: API and OIDC issuer on http://127.0.0.1:$SIM_PORT, git on https://127.0.0.1:$SIM_GIT_PORT"

# The server's settings for the simulator; a shell's own values for these would fight them.
unset GITHUB_APP_PRIVATE_KEY DATABASE_URL CELERY_BROKER_URL
eval "$("$PYTHON" -m demo.seed env)"

# The background tasks (webhook deliveries, reconciliation, purges, audit retention): one Celery worker
# with beat embedded, on kombu's broker in files under var/broker (no Redis needed on this machine).
# Production runs them on Redis, beat as a process of its own: README "Production".
export CELERY_BROKER_URL=filesystem://
"$BIN/celery" -A atmospro worker --beat --pool solo --loglevel INFO --without-gossip --without-mingle \
    --without-heartbeat >"$WORKER_LOG" 2>&1 &
WORKER_PID=$!
echo "Celery worker with beat: log in $WORKER_LOG"
DEMO_BASE_URL="http://127.0.0.1:$PORT" "$PYTHON" -m demo.seed

cat <<MESSAGE

Atmos Pro STS serves on http://127.0.0.1:$PORT (Ctrl-C stops it, the Celery worker and the simulator).
The admin is at http://127.0.0.1:$PORT/admin/: log in with one of the demo logins printed above to see
the product through that role's eyes.
Play the Atmos CLI's whole flow (exchange, mint, git clone, revoke) from another terminal with:

    make demo-flow

MESSAGE
# gunicorn.conf.py's access log shows paths without their query: GitHub's redirect to /github/setup
# carries a one-use code.
"$BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$PORT" --workers 2 --graceful-timeout 5
