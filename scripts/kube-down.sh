#!/usr/bin/env bash
# Stops the local Kubernetes started by scripts/kube-up.sh and removes its state dir (issue 3).
# Only the pids recorded in <state dir>/pids/ are signalled, and only while /proc/<pid>/cmdline still
# names the matching binary (so a recycled pid is never killed). Reverse start order; SIGTERM, wait up to
# NIRO_KUBE_STOP_TIMEOUT (default 15) seconds, then SIGKILL.
# Env: NIRO_KUBE_DIR (default /tmp/niro-kube), NIRO_KUBE_KEEP=1 keeps the state dir (logs) after stopping.
set -euo pipefail

dir=${NIRO_KUBE_DIR:-/tmp/niro-kube}
grace=${NIRO_KUBE_STOP_TIMEOUT:-15}
components=(kwok kube-scheduler kube-controller-manager kube-apiserver kine) # reverse of kube-up

case "$(realpath -m "$dir")" in
  / | "$HOME" | /tmp | /root | /home | /work | /work/*/) echo "kube-down: refusing to use $dir as state dir" >&2; exit 1 ;;
esac
if [ ! -d "$dir" ]; then
  echo "kube-down: nothing to do ($dir does not exist)"
  exit 0
fi

ours() { # pid name -> 0 if pid is alive and runs .../name
  kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "/$2 "
}

failed=0
for c in "${components[@]}"; do
  f="$dir/pids/$c.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if [ -z "$pid" ] || ! ours "$pid" "$c"; then
    echo "kube-down: $c (pid ${pid:-?}) not running"
    rm -f "$f"
    continue
  fi
  t=$EPOCHREALTIME
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(date +%s) + grace))
  while ours "$pid" "$c" && [ "$(date +%s)" -lt $deadline ]; do sleep 0.1; done
  if ours "$pid" "$c"; then
    echo "kube-down: $c (pid $pid) ignored SIGTERM for ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do ours "$pid" "$c" || break; sleep 0.1; done
  fi
  if ours "$pid" "$c"; then
    echo "kube-down: $c (pid $pid) still running" >&2
    failed=1
  else
    awk -v a="$t" -v b="$EPOCHREALTIME" -v c="$c" -v p="$pid" 'BEGIN { printf "kube-down: stopped %s (pid %s) in %.1fs\n", c, p, b - a }'
    rm -f "$f"
  fi
done

if [ $failed = 1 ]; then
  echo "kube-down: some processes are still running; keeping $dir" >&2
  exit 1
fi
if [ "${NIRO_KUBE_KEEP:-0}" = 1 ]; then
  echo "kube-down: stopped; state kept in $dir"
else
  rm -rf "$dir"
  echo "kube-down: removed $dir"
fi
