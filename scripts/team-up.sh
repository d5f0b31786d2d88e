#!/usr/bin/env bash
# Team mode: a PostgreSQL server and an MLflow tracking server backed by it, both on loopback.
# usage: scripts/team-up.sh DIR [PG_PORT] [MLFLOW_PORT]   prints the tracking URI to use as tracking_uri.
#        scripts/team-down.sh DIR                          stops both.
# Installs Debian's postgresql when it is missing (as root). PYTHON names the interpreter that has mlflow.
set -euo pipefail
# the servers started below must not hold the caller's files: under `flock LOCK scripts/team-up.sh` they held LOCK until team-down
for fd in /proc/$$/fd/*; do fd=${fd##*/}; case $fd in 0|1|2|255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac; done
DIR=$(realpath -m "$1"); PG_PORT=${2:-55432}; MLFLOW_PORT=${3:-5055}
VENV_PY="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"  # the kit's own: a plain python3 has no mlflow
if [ -z "${PYTHON:-}" ]; then if [ -x "$VENV_PY" ]; then PYTHON=$VENV_PY; else PYTHON=python3; fi; fi
"$PYTHON" -c "import mlflow, psycopg" 2>/dev/null || {  # said before anything starts, not as "mlflow server exited" after PostgreSQL
  echo "team-up: $PYTHON cannot import mlflow and psycopg, which the MLflow server needs." >&2
  echo "  fix: PYTHON=<the python the kit is installed in> scripts/team-up.sh $*  (make install puts it in .venv/bin/python)" >&2; exit 2; }
port_free() { "$PYTHON" -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); sys.exit(s.connect_ex(('127.0.0.1', $1)) == 0)"; }
pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$DIR/mlflow.pid" ] && kill -0 -- -"$(cat "$DIR/mlflow.pid")" 2>/dev/null; then  # this team is up already
  echo "http://127.0.0.1:$MLFLOW_PORT"; exit 0
fi
PG_UP=0  # this DIR's PostgreSQL still running (only MLflow crashed): keep it, start MLflow again
[ -n "$(pgbin)" ] && [ -f "$DIR/pg/PG_VERSION" ] && as_pg "$(pgbin)/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1 && PG_UP=1
for p in "$PG_PORT" "$MLFLOW_PORT"; do
  [ "$p" = "$PG_PORT" ] && [ "$PG_UP" = 1 ] && continue
  port_free "$p" || { echo "team-up: port $p is in use on 127.0.0.1 (another server, or a team already up)." >&2
                      echo "  fix: pick free ports: scripts/team-up.sh $1 <PG_PORT> <MLFLOW_PORT>, or stop it: scripts/team-down.sh DIR" >&2; exit 2; }
done
if [ -z "$(pgbin)" ]; then
  [ "$(id -u)" = 0 ] || { echo "team-up: PostgreSQL is not installed: apt-get install postgresql" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(pgbin)
mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR" && chmod 755 "$DIR"
if [ ! -f "$DIR/pg/PG_VERSION" ]; then
  as_pg "$PGBIN/initdb" -D "$DIR/pg" -U mlflow --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1
fi
[ "$PG_UP" = 1 ] || as_pg "$PGBIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/server.log" -w -t 60 \
  -o "-p $PG_PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U mlflow -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mlflow'" | grep -q 1 \
  || as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U mlflow mlflow
mkdir -p "$DIR/artifacts"
# offline: MLflow 3.18 otherwise fetches model prices from GitHub for each span it is sent with a model and tokens
MLFLOW_MODEL_CATALOG_URI="${MLFLOW_MODEL_CATALOG_URI-}" setsid "$PYTHON" -m mlflow server --backend-store-uri "postgresql://mlflow@127.0.0.1:$PG_PORT/mlflow" \
  --artifacts-destination "$DIR/artifacts" --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
  >"$DIR/mlflow.log" 2>&1 < /dev/null &
echo $! > "$DIR/mlflow.pid"
for _ in $(seq 1 180); do
  if "$PYTHON" -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:$MLFLOW_PORT/health', timeout=2).status != 200)" 2>/dev/null; then
    echo "http://127.0.0.1:$MLFLOW_PORT"; exit 0
  fi
  kill -0 "$(cat "$DIR/mlflow.pid")" 2>/dev/null || { echo "team-up: mlflow server exited; see $DIR/mlflow.log" >&2; tail -20 "$DIR/mlflow.log" >&2; exit 1; }
  sleep 1
done
echo "team-up: mlflow server did not answer in 180 s; see $DIR/mlflow.log" >&2; exit 1
