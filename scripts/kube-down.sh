#!/usr/bin/env bash
# Stops the local Kubernetes started by scripts/kube-up.sh and removes its state dir (issue 3).
# Only the pids recorded in <state dir>/pids/ are signalled, and only while /proc/<pid>/cmdline still
# names the matching binary (so a recycled pid is never killed). All components but kine at once, then kine;
# SIGTERM, wait up to NIRO_KUBE_STOP_TIMEOUT (default 15) seconds, then SIGKILL.
# Env: NIRO_KUBE_DIR (default /tmp/niro-kube), NIRO_KUBE_KEEP=1 keeps the state dir (logs) after stopping.
set -euo pipefail

if [ "${NIRO_KUBE_FROM_WATCHDOG:-0}" = 1 ] && [ -z "${NIRO_KUBE_DIR:-}" ]; then
  echo "kube-down: the watchdog must name its NIRO_KUBE_DIR" >&2
  exit 1
fi
dir=${NIRO_KUBE_DIR:-/tmp/niro-kube}
grace=${NIRO_KUBE_STOP_TIMEOUT:-15}
components=(image-pull-webhook metrics-server kwok kube-scheduler kube-controller-manager kube-apiserver kine) # reverse of kube-up

case "$(realpath -m "$dir")" in
  / | "$HOME" | /tmp | /root | /home | /work | /work/*/) echo "kube-down: refusing to use $dir as state dir" >&2; exit 1 ;;
esac
if [ ! -d "$dir" ]; then
  echo "kube-down: nothing to do ($dir does not exist)"
  exit 0
fi

ours() { # pid name -> 0 if pid is alive and runs .../name (or the Node script .../name.ts)
  kill -0 "$1" 2>/dev/null && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qE "/$2(\.ts)? "
}

# The watchdog goes first, unless it is the one running this script.
wf="$dir/pids/watchdog.pid"
if [ -f "$wf" ] && [ "${NIRO_KUBE_FROM_WATCHDOG:-0}" != 1 ]; then
  pid=$(cat "$wf")
  if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q niro-kube-watchdog; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  rm -f "$wf"
fi

failed=0
# Stops a group of components at once: SIGTERM to all, wait up to the grace time, then SIGKILL.
stop_group() {
  local c f pid t=$EPOCHREALTIME deadline
  local -a names=() pids=()
  for c in "$@"; do
    f="$dir/pids/$c.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ -z "$pid" ] || ! ours "$pid" "$c"; then
      echo "kube-down: $c (pid ${pid:-?}) not running"
      rm -f "$f"
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    names+=("$c")
    pids+=("$pid")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  deadline=$(($(date +%s) + grace))
  any_alive() {
    local i
    for i in "${!pids[@]}"; do ours "${pids[$i]}" "${names[$i]}" && return 0; done
    return 1
  }
  while any_alive && [ "$(date +%s)" -lt $deadline ]; do sleep 0.1; done
  local i
  for i in "${!pids[@]}"; do
    c=${names[$i]}
    pid=${pids[$i]}
    if ours "$pid" "$c"; then
      echo "kube-down: $c (pid $pid) ignored SIGTERM for ${grace}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do ours "$pid" "$c" || break; sleep 0.1; done
    fi
    if ours "$pid" "$c"; then
      echo "kube-down: $c (pid $pid) still running" >&2
      failed=1
    else
      rm -f "$dir/pids/$c.pid"
    fi
  done
  awk -v a="$t" -v b="$EPOCHREALTIME" -v c="${names[*]}" 'BEGIN { printf "kube-down: stopped %s in %.1fs\n", c, b - a }'
}
# Storage last, so the apiserver shuts down cleanly; everything above it at once.
stop_group "${components[@]:0:${#components[@]}-1}"
stop_group "${components[@]: -1}"

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
