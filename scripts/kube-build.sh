#!/usr/bin/env bash
# Builds the local Kubernetes test harness binaries from the Go module proxy (issue 3):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (wrapper module packages/testkit/kube)
#   kwok, kine                                                        (`go install pkg@version`, their own go.mod)
# Versions come from packages/testkit/kube/VERSIONS. Binaries go to
#   ${NIRO_KUBE_CACHE:-$HOME/.cache/niro/kube}/<versions-hash>/bin
# and nothing is rebuilt when that folder already holds every binary for the same pinned versions.
# Progress lines (one per binary, with seconds) go to stdout; the LAST line printed is always the bin path.
# Env: NIRO_KUBE_CACHE (cache root), NIRO_KUBE_FORCE=1 (rebuild), NIRO_KUBE_ONLY="kubectl kine" (subset, for debugging).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/packages/testkit/kube"
start=$(date +%s)

if ! command -v go >/dev/null 2>&1; then
  echo "kube-build: go is not installed (need Go >= 1.26.5 for kine; see docs in issue 3)" >&2
  exit 1
fi

# --- pinned versions -------------------------------------------------------------------------
KUBERNETES='' KWOK='' KINE=''
while IFS='=' read -r key val; do
  case "$key" in
    KUBERNETES | KWOK | KINE) printf -v "$key" '%s' "$val" ;;
  esac
done < <(grep -E '^[A-Z_]+=' "$mod/VERSIONS")
for v in KUBERNETES KWOK KINE; do
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

# Cache key: the pinned versions, the wrapper's go.mod/go.sum, the Go toolchain and this script's build flags.
hash=$(
  {
    cat "$mod/VERSIONS" "$mod/go.mod" "$mod/go.sum"
    go env GOVERSION GOOS GOARCH
    echo "flags-v3" # bump when the build flags below change
  } | sha256sum | cut -c1-16
)
cache_root=${NIRO_KUBE_CACHE:-$HOME/.cache/niro/kube}
bin="$cache_root/$hash/bin"

kube_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
all_bins=("${kube_bins[@]}" kwok kine)
want=("${all_bins[@]}")
if [ -n "${NIRO_KUBE_ONLY:-}" ]; then read -r -a want <<<"$NIRO_KUBE_ONLY"; fi

elapsed() { echo $(($(date +%s) - $1)); }

missing=()
for b in "${want[@]}"; do
  if [ "${NIRO_KUBE_FORCE:-0}" = 1 ] || [ ! -x "$bin/$b" ]; then missing+=("$b"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "kube-build: all binaries present for kubernetes=$KUBERNETES kwok=$KWOK kine=$KINE (nothing to do, $(elapsed "$start")s)"
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
tmp="$cache_root/$hash/tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
echo "kube-build: kubernetes=$KUBERNETES kwok=$KWOK kine=$KINE -> $bin"
echo "kube-build: building ${missing[*]} with $(go env GOVERSION) on $(nproc) cores"

export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export CGO_ENABLED=0
unset GOBIN GOOS GOARCH GOWORK 2>/dev/null || true # GOPROXY: whatever `go env` says (default proxy.golang.org)

# --- version stamping (hack/lib/version.sh) ---------------------------------------------------
# k8s.io/kubernetes v1.35.8 -> gitVersion v1.35.8, gitMajor 1, gitMinor 35. The proxy does not expose
# the release commit, so gitCommit stays empty (the source default is a `$Format:%H$` placeholder).
gv=$KUBERNETES
major=${gv#v}
major=${major%%.*}
minor=${gv#v*.}
minor=${minor%%.*}
# buildDate: the release's publication time on the module proxy, so rebuilds are reproducible.
# (k8s.io/kubernetes is self-replaced in go.mod, so the time sits on .Replace.)
build_date=$(cd "$mod" && go list -m -f '{{$t := .Time}}{{with .Replace}}{{$t = .Time}}{{end}}{{with $t}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)
build_date=${build_date:-1970-01-01T00:00:00Z}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X '$pkg.gitVersion=$gv' -X '$pkg.gitMajor=$major' -X '$pkg.gitMinor=$minor'"
  ldflags+=" -X '$pkg.gitCommit=' -X '$pkg.gitTreeState=clean' -X '$pkg.buildDate=$build_date'"
done

failed=()
ok() { echo "kube-build: [ok]   $1 in $2s ($(du -h "$bin/$1" | cut -f1))"; }
fail() {
  echo "kube-build: [FAIL] $1 after $2s (log: $3)"
  tail -n 20 "$3" | sed 's/^/kube-build:        /'
  failed+=("$1")
}

# --- k8s binaries: one after another, so each gets both cores and its own timing --------------
needs_kube=0
for b in "${missing[@]}"; do
  case " ${kube_bins[*]} " in *" $b "*) needs_kube=1 ;; esac
done
if [ $needs_kube = 1 ]; then
  t=$(date +%s)
  echo "kube-build: downloading k8s.io/kubernetes $KUBERNETES module graph..."
  if (cd "$mod" && go mod download) >"$tmp/download.log" 2>&1; then
    echo "kube-build: [ok]   module download in $(elapsed "$t")s"
  else
    echo "kube-build: [FAIL] module download after $(elapsed "$t")s"
    tail -n 20 "$tmp/download.log" >&2
    echo "$bin"
    exit 1
  fi
fi
for b in "${missing[@]}"; do
  case " ${kube_bins[*]} " in *" $b "*) ;; *) continue ;; esac
  t=$(date +%s)
  echo "kube-build: building $b..."
  log="$tmp/$b.log"
  if (cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$tmp/$b.out" "k8s.io/kubernetes/cmd/$b") >"$log" 2>&1; then
    mv -f "$tmp/$b.out" "$bin/$b"
    ok "$b" "$(elapsed "$t")"
  else
    fail "$b" "$(elapsed "$t")" "$log"
  fi
done

# --- kwok and kine: `go install pkg@version` uses their own go.mod (outside our module) --------
install_one() { # name pkg@version extra-ldflags [extra env...]
  local name=$1 pkg=$2 xflags=$3
  shift 3
  local t log
  t=$(date +%s)
  log="$tmp/$name.log"
  echo "kube-build: building $name ($pkg)..."
  rm -rf "$tmp/gobin-$name"
  # Run from $tmp so no enclosing go.mod/go.work is used.
  if (cd "$tmp" && env GOBIN="$tmp/gobin-$name" GOWORK=off "$@" go install -trimpath -ldflags "-s -w $xflags" "$pkg") >"$log" 2>&1; then
    mv -f "$tmp/gobin-$name/$name" "$bin/$name"
    ok "$name" "$(elapsed "$t")"
  else
    fail "$name" "$(elapsed "$t")" "$log"
  fi
}
for b in "${missing[@]}"; do
  case "$b" in
    # kwok's version is a source constant (pkg/consts.Version), so it needs no stamping.
    kwok) install_one kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK" "" ;;
    # kine >= v0.16.2 uses pure-Go SQLite (modernc.org/sqlite) when CGO_ENABLED=0.
    # Version stamping as kine's scripts/build does (otherwise `kine --version` says "dev (HEAD)").
    kine) install_one kine "github.com/k3s-io/kine@$KINE" "-X github.com/k3s-io/kine/pkg/version.Version=$KINE" ;;
  esac
done

echo "kube-build: total $(elapsed "$start")s; binaries in $bin:"
ls -l "$bin" | tail -n +2 | sed 's/^/kube-build:   /'
if [ ${#failed[@]} -gt 0 ]; then
  echo "kube-build: FAILED: ${failed[*]}"
  echo "$bin"
  exit 1
fi
rm -rf "$tmp"
echo "$bin"
