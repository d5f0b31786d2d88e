#!/usr/bin/env bash
# Stop the servers that scripts/team-up.sh DIR started.
set -uo pipefail
DIR=$(realpath -m "$1")
if [ -f "$DIR/mlflow.pid" ]; then  # the server's whole process group (its uvicorn and huey workers), gone before this returns
  G=$(cat "$DIR/mlflow.pid"); kill -- -"$G" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 -- -"$G" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- -"$G" 2>/dev/null; rm -f "$DIR/mlflow.pid"
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -n "$PGBIN" ] && [ -f "$DIR/pg/postmaster.pid" ]; then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null
  else "$PGBIN/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null; fi
fi
exit 0
