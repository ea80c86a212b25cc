#!/usr/bin/env bash
# Builds the local Kubernetes test harness binaries from the Go module proxy (issue 3):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (wrapper module packages/testkit/kube)
#   kwok, kine, metrics-server                                        (`go install pkg@version`, their own go.mod)
# Versions come from packages/testkit/kube/VERSIONS. Each binary is cached on its own, keyed by what it is built
# from, in ${NIRO_KUBE_CACHE:-$HOME/.cache/niro/kube}/parts/<name>-<key>/, so changing one pin rebuilds only that
# binary. The set for the current pins is linked into ${NIRO_KUBE_CACHE:-$HOME/.cache/niro/kube}/<hash>/bin.
# Progress lines (one per binary, with seconds) go to stdout; the LAST line printed is always the bin path.
# `--check` builds nothing: it prints the bin path and exits 0 when every binary is there, else prints why and exits 1.
# Env: NIRO_KUBE_CACHE (cache root), NIRO_KUBE_FORCE=1 (rebuild), NIRO_KUBE_ONLY="kubectl kine" (subset, for debugging).
set -euo pipefail

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  '') ;;
  *)
    echo "kube-build: unknown argument $1 (only --check)" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/packages/testkit/kube"
start=$(date +%s)

if ! command -v go >/dev/null 2>&1; then
  echo "kube-build: go is not installed, so \`npm run kube:build\` cannot run (need Go >= 1.26.5 for kine)" >&2
  exit 1
fi

# --- pinned versions -------------------------------------------------------------------------
KUBERNETES='' KWOK='' KINE='' METRICS_SERVER=''
while IFS='=' read -r key val; do
  case "$key" in
    KUBERNETES | KWOK | KINE | METRICS_SERVER) printf -v "$key" '%s' "$val" ;;
  esac
done < <(grep -E '^[A-Z_]+=' "$mod/VERSIONS")
for v in KUBERNETES KWOK KINE METRICS_SERVER; do
  if [ -z "${!v}" ]; then
    echo "kube-build: $v missing from $mod/VERSIONS" >&2
    exit 1
  fi
done
# go.mod must require/replace k8s.io/kubernetes at $KUBERNETES and replace every k8s.io/* staging module at v0.X.Y.
staging="v0.${KUBERNETES#v1.}"
bad=$(grep -E '^[[:space:]]*(require )?k8s\.io/kubernetes v|=> k8s\.io/' "$mod/go.mod" |
  grep -v -e "k8s.io/kubernetes $KUBERNETES" -e "=> k8s.io/[a-z-]* $staging\$" || true)
if [ -n "$bad" ] || ! grep -q "k8s.io/kubernetes $KUBERNETES" "$mod/go.mod"; then
  echo "kube-build: $mod/go.mod disagrees with VERSIONS (KUBERNETES=$KUBERNETES, staging $staging):" >&2
  echo "${bad:-  no k8s.io/kubernetes $KUBERNETES require}" >&2
  exit 1
fi

# --- cache keys: what each binary is built from, the Go toolchain and this script's build flags ---
goenv=$(go env GOVERSION GOOS GOARCH)
sum() { sha256sum | cut -c1-16; }
# Bump a *_FLAGS tag when the matching build flags below change.
K8S_FLAGS=k8s-flags-v3
INSTALL_FLAGS=install-flags-v1
k8s_key=$({ echo "$KUBERNETES $K8S_FLAGS $goenv"; cat "$mod/go.mod" "$mod/go.sum"; } | sum)
# `go install` targets and their extra ldflags (stamping) are part of the key.
kwok_pkg="sigs.k8s.io/kwok/cmd/kwok@$KWOK"
kwok_ldflags='' # kwok's version is a source constant (pkg/consts.Version), so it needs no stamping.
kine_pkg="github.com/k3s-io/kine@$KINE"
# As kine's scripts/build does (otherwise `kine --version` says "dev (HEAD)").
kine_ldflags="-X github.com/k3s-io/kine/pkg/version.Version=$KINE"
metrics_server_pkg="sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER"
# As metrics-server's Makefile does (otherwise it reports v0.0.0-master).
metrics_server_ldflags="-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER"
install_key() { # version [ldflags]
  if [ -n "${2:-}" ]; then echo "$1 $INSTALL_FLAGS $goenv $2"; else echo "$1 $INSTALL_FLAGS $goenv"; fi | sum
}
kube_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
all_bins=("${kube_bins[@]}" kwok kine metrics-server)
declare -A key
for b in "${kube_bins[@]}"; do key[$b]=$k8s_key; done
key[kwok]=$(install_key "$KWOK" "$kwok_ldflags")
key[kine]=$(install_key "$KINE" "$kine_ldflags")
key[metrics-server]=$(install_key "$METRICS_SERVER" "$metrics_server_ldflags")

cache_root=${NIRO_KUBE_CACHE:-$HOME/.cache/niro/kube}
part() { echo "$cache_root/parts/$1-${key[$1]}/$1"; }
hash=$(for b in "${all_bins[@]}"; do echo "$b ${key[$b]}"; done | sum)
bin="$cache_root/$hash/bin"

want=("${all_bins[@]}")
if [ -n "${NIRO_KUBE_ONLY:-}" ]; then read -r -a want <<<"$NIRO_KUBE_ONLY"; fi

elapsed() { echo $(($(date +%s) - $1)); }
versions="kubernetes=$KUBERNETES kwok=$KWOK kine=$KINE metrics-server=$METRICS_SERVER"

if [ $check_only = 1 ]; then
  absent=()
  for b in "${all_bins[@]}"; do [ -x "$bin/$b" ] || absent+=("$b"); done
  if [ ${#absent[@]} -gt 0 ]; then
    echo "kube-build: not built for the pinned versions (missing ${absent[*]} in $bin); run \`npm run kube:build\`" >&2
    exit 1
  fi
  echo "$bin"
  exit 0
fi

# Links the cached parts into the bin folder; true when every binary is there.
assemble() {
  local b complete=0
  mkdir -p "$bin"
  for b in "${all_bins[@]}"; do
    if [ -x "$(part "$b")" ]; then
      [ "$bin/$b" -ef "$(part "$b")" ] || ln -f "$(part "$b")" "$bin/$b" 2>/dev/null || cp -f "$(part "$b")" "$bin/$b"
    else
      complete=1
    fi
  done
  return $complete
}

missing=()
for b in "${want[@]}"; do
  if [ "${NIRO_KUBE_FORCE:-0}" = 1 ] || [ ! -x "$(part "$b")" ]; then missing+=("$b"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  if assemble; then
    echo "kube-build: all binaries present for $versions (nothing to do, $(elapsed "$start")s)"
  else
    echo "kube-build: the requested binaries are present; others are missing in $bin"
  fi
  echo "$bin"
  exit 0
fi

tmp="$cache_root/tmp-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "kube-build: $versions -> $bin"
echo "kube-build: building ${missing[*]} with $(go env GOVERSION) on $(nproc) cores (a cold build takes tens of minutes)"

export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export CGO_ENABLED=0
unset GOBIN GOOS GOARCH GOWORK 2>/dev/null || true # GOPROXY: whatever `go env` says (default proxy.golang.org)

failed=()
store() { # name built-file
  mkdir -p "$(dirname "$(part "$1")")"
  mv -f "$2" "$(part "$1")"
}
ok() { echo "kube-build: [ok]   $1 in $2s ($(du -h "$(part "$1")" | cut -f1))"; }
fail() {
  local kept="$cache_root/last-failure-$1.log"
  cp -f "$3" "$kept" 2>/dev/null || kept=$3
  echo "kube-build: [FAIL] $1 after $2s (log: $kept)"
  tail -n 20 "$3" | sed 's/^/kube-build:        /'
  failed+=("$1")
}
exec 3>&1 # the real stdout, for heartbeats from steps whose output goes to a log
# A slow step prints a line every minute, so a long first build is visibly alive.
with_heartbeat() { # label command...
  local label=$1 t=$SECONDS rc
  shift
  "$@" &
  local pid=$!
  while ! wait_up_to 60 "$pid"; do echo "kube-build:        ... still building $label ($((SECONDS - t))s)" >&3; done
  wait "$pid" && rc=0 || rc=$?
  return $rc
}
wait_up_to() { # seconds pid -> 0 once pid has exited, 1 if still running after seconds
  local i
  for ((i = 0; i < $1 * 5; i++)); do
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.2
  done
  return 1
}

# --- version stamping (hack/lib/version.sh) ---------------------------------------------------
# k8s.io/kubernetes v1.35.8 -> gitVersion v1.35.8, gitMajor 1, gitMinor 35. The proxy does not expose
# the release commit, so gitCommit stays empty (the source default is a `$Format:%H$` placeholder).
gv=$KUBERNETES
major=${gv#v}
major=${major%%.*}
minor=${gv#v*.}
minor=${minor%%.*}

# --- k8s binaries: one after another, so each gets both cores and its own timing --------------
needs_kube=0
for b in "${missing[@]}"; do
  case " ${kube_bins[*]} " in *" $b "*) needs_kube=1 ;; esac
done
if [ $needs_kube = 1 ]; then
  t=$(date +%s)
  echo "kube-build: downloading k8s.io/kubernetes $KUBERNETES module graph..."
  if (cd "$mod" && with_heartbeat "the module download" go mod download) >"$tmp/download.log" 2>&1; then
    echo "kube-build: [ok]   module download in $(elapsed "$t")s"
  else
    echo "kube-build: [FAIL] module download after $(elapsed "$t")s"
    tail -n 20 "$tmp/download.log" >&2
    echo "$bin"
    exit 1
  fi
  # buildDate: the release's publication time on the module proxy, so rebuilds are reproducible.
  # (k8s.io/kubernetes is self-replaced in go.mod, so the time sits on .Replace.)
  build_date=$(cd "$mod" && go list -m -f '{{$t := .Time}}{{with .Replace}}{{$t = .Time}}{{end}}{{with $t}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)
  build_date=${build_date:-1970-01-01T00:00:00Z}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X '$pkg.gitVersion=$gv' -X '$pkg.gitMajor=$major' -X '$pkg.gitMinor=$minor'"
    ldflags+=" -X '$pkg.gitCommit=' -X '$pkg.gitTreeState=clean' -X '$pkg.buildDate=$build_date'"
  done
fi
for b in "${missing[@]}"; do
  case " ${kube_bins[*]} " in *" $b "*) ;; *) continue ;; esac
  t=$(date +%s)
  echo "kube-build: building $b..."
  log="$tmp/$b.log"
  if (cd "$mod" && with_heartbeat "$b" go build -trimpath -ldflags "$ldflags" -o "$tmp/$b.out" "k8s.io/kubernetes/cmd/$b") >"$log" 2>&1; then
    store "$b" "$tmp/$b.out"
    ok "$b" "$(elapsed "$t")"
  else
    fail "$b" "$(elapsed "$t")" "$log"
  fi
done

# --- kwok, kine, metrics-server: `go install pkg@version` uses their own go.mod ----------------
install_one() { # name pkg@version extra-ldflags
  local name=$1 pkg=$2 xflags=$3
  local t log
  t=$(date +%s)
  log="$tmp/$name.log"
  echo "kube-build: building $name ($pkg)..."
  rm -rf "$tmp/gobin-$name"
  # Run from $tmp so no enclosing go.mod/go.work is used.
  if (cd "$tmp" && GOBIN="$tmp/gobin-$name" GOWORK=off with_heartbeat "$name" go install -trimpath -ldflags "-s -w $xflags" "$pkg") >"$log" 2>&1; then
    store "$name" "$tmp/gobin-$name/$name"
    ok "$name" "$(elapsed "$t")"
  else
    fail "$name" "$(elapsed "$t")" "$log"
  fi
}
for b in "${missing[@]}"; do
  case "$b" in
    kwok) install_one kwok "$kwok_pkg" "$kwok_ldflags" ;;
    # kine >= v0.16.2 uses pure-Go SQLite (modernc.org/sqlite) when CGO_ENABLED=0.
    kine) install_one kine "$kine_pkg" "$kine_ldflags" ;;
    metrics-server) install_one metrics-server "$metrics_server_pkg" "$metrics_server_ldflags" ;;
  esac
done

assemble || true
echo "kube-build: total $(elapsed "$start")s; binaries in $bin:"
ls -lL "$bin" | tail -n +2 | sed 's/^/kube-build:   /'
if [ ${#failed[@]} -gt 0 ]; then
  echo "kube-build: FAILED: ${failed[*]}"
  echo "$bin"
  exit 1
fi
echo "$bin"
