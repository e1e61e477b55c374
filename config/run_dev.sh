#!/usr/bin/env bash
# `make run`: a Celery worker and the web app side by side. Ctrl-C or SIGTERM stops both within
# seconds, always: the worker gets a warm shutdown (its running job is handed back, acks_late), and
# whatever still runs 5 s later is killed; the job is redelivered to the next worker (jobs resume).
set -u
venv=$1 host=$2 port=$3 concurrency=$4

# Its own process group, so that the terminal's Ctrl-C reaches only this script, which stops it in order.
setsid "$venv/bin/celery" -A config worker -Q default,llm,gpu -c "$concurrency" -l info &
worker=$!
"$venv/bin/python" manage.py runserver --noreload "$host:$port" &
web=$!

stop() {
  trap - INT TERM EXIT
  kill -TERM "$web" "$worker" 2>/dev/null
  for _ in $(seq 1 20); do
    kill -0 "$worker" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL -- "-$worker" 2>/dev/null  # the worker and its pool, if a warm shutdown did not end in time
  kill -KILL "$web" 2>/dev/null
  wait 2>/dev/null
  exit 0
}
trap stop INT TERM EXIT
wait -n  # one of the two ended: stop the other
