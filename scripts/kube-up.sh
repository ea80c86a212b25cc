#!/usr/bin/env bash
# Starts a local Kubernetes for tests (issue 3), loopback only:
#   kine (SQLite) -> kube-apiserver (RBAC) -> kube-controller-manager + kube-scheduler -> kwok -> fake nodes
#   -> metrics-server (metrics.k8s.io, from kwok's simulated kubelet resource metrics)
#   + image-pull-webhook (Node: checks images on loopback registries at pod creation, like a kubelet's pull).
# Every component binds 127.0.0.1 on a free port. Binaries come from scripts/kube-build.sh (or NIRO_KUBE_BIN).
# State (pids/, logs/, pki/, db/, kwok/, pod-logs.log, kubeconfig.yaml, bin/kubectl) lives in ${NIRO_KUBE_DIR:-/tmp/niro-kube}.
# Progress lines go to stdout; the LAST line is always `KUBECONFIG=<path>` on success.
# Idempotent: when the cluster in that dir is already up, it only prints the KUBECONFIG line again.
# Env: NIRO_KUBE_DIR, NIRO_KUBE_BIN (bin folder; default: last line of scripts/kube-build.sh),
#      NIRO_KUBE_STAGES (folder of kwok Stage YAMLs, default packages/testkit/kube/stages),
#      NIRO_KUBE_NODES (fake nodes, default 3), NIRO_KUBE_TIMEOUT (seconds per wait, default 120),
#      NIRO_KUBE_OWNER_PID (a watchdog runs kube-down as soon as that process is gone, e.g. a crashed test worker).
# Several clusters may start at once (different NIRO_KUBE_DIRs): ports are reserved under a lock.
# Stop with scripts/kube-down.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${NIRO_KUBE_DIR:-/tmp/niro-kube}
nodes=${NIRO_KUBE_NODES:-3}
timeout=${NIRO_KUBE_TIMEOUT:-120}
stages_dir=${NIRO_KUBE_STAGES:-"$root/packages/testkit/kube/stages"}
metrics_dir="$root/packages/testkit/kube/metrics"
logs_dir="$root/packages/testkit/kube/logs"
kubeconfig="$dir/kubeconfig.yaml"
start=$EPOCHREALTIME

say() { awk -v a="$start" -v b="$EPOCHREALTIME" -v m="$*" 'BEGIN { printf "kube-up: [%5.1fs] %s\n", b - a, m }'; }
die() {
  echo "kube-up: ERROR: $*" >&2
  exit 1
}

# Start order; kube-down stops all but kine at once, then kine.
components=(kine kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server image-pull-webhook)
webhook_script="$root/packages/testkit/src/kube/image-pull-webhook.ts"

alive() { # component -> 0 if its pid file names a live process running our binary
  local f="$dir/pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  # (the webhook is a Node script: its command line names .../image-pull-webhook.ts)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qE "/$1(\.ts)? "
}
running() { # component -> 0 unless the process we just launched has exited (a zombie counts as exited);
  # unlike alive, it does not look at the command line, which is still the forked shell's until exec
  local pid state
  pid=$(cat "$dir/pids/$1.pid" 2>/dev/null) || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# --- already up? -------------------------------------------------------------------------------
if [ -f "$kubeconfig" ] && [ -x "$dir/bin/kubectl" ]; then
  all=1
  for c in "${components[@]}"; do alive "$c" || all=0; done
  if [ $all = 1 ] && [ "$("$dir/bin/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz 2>/dev/null)" = ok ]; then
    say "already up in $dir"
    echo "KUBECONFIG=$kubeconfig"
    exit 0
  fi
fi
if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  say "stale state in $dir: running kube-down first"
  NIRO_KUBE_DIR="$dir" bash "$root/scripts/kube-down.sh" | sed 's/^/  /'
fi

# --- binaries ------------------------------------------------------------------------------------
if [ -z "${NIRO_KUBE_BIN:-}" ]; then
  NIRO_KUBE_BIN=$(bash "$root/scripts/kube-build.sh" | tail -n 1) || die "scripts/kube-build.sh failed (run npm run kube:build)"
fi
bin=$NIRO_KUBE_BIN
for b in kine kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server kubectl; do
  [ -x "$bin/$b" ] || die "missing $bin/$b (run npm run kube:build)"
done
command -v openssl >/dev/null || die "openssl is required"
command -v node >/dev/null || die "node is required (for the image-pull webhook)"
[ -f "$webhook_script" ] && [ -d "$root/node_modules/tsx" ] || die "missing $webhook_script or tsx (run npm install)"
ls "$stages_dir"/*.yaml >/dev/null 2>&1 || die "no kwok Stage configs in $stages_dir"
ls "$metrics_dir"/*.yaml >/dev/null 2>&1 || die "no kwok Metric/ResourceUsage configs in $metrics_dir"
ls "$logs_dir"/*.yaml >/dev/null 2>&1 || die "no kwok ClusterLogs configs in $logs_dir"

mkdir -p "$dir"/{pids,logs,pki,db,bin,kwok}
ln -sf "$bin/kubectl" "$dir/bin/kubectl"
kubectl=("$dir/bin/kubectl" --kubeconfig "$kubeconfig")

# --- watchdog ------------------------------------------------------------------------------------
# Components run in their own sessions, so they outlive a killed caller; the watchdog stops them when
# the owner process is gone. The owner is matched by pid AND start time, so a recycled pid does not count.
start_time() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
if [ -n "${NIRO_KUBE_OWNER_PID:-}" ]; then
  owner=$NIRO_KUBE_OWNER_PID
  owner_start=$(start_time "$owner")
  [ -n "$owner_start" ] || die "NIRO_KUBE_OWNER_PID=$owner is not a running process"
  # shellcheck disable=SC2016 # expanded by the watchdog's own bash
  setsid bash -c '
    st() { sed "s/.*) //" "/proc/$1/stat" 2>/dev/null | cut -d" " -f20; }
    while [ "$(st "$1")" = "$2" ]; do sleep 1; done
    echo "watchdog: owner $1 is gone, stopping the cluster"
    NIRO_KUBE_DIR="$3" NIRO_KUBE_FROM_WATCHDOG=1 bash "$4"
  ' niro-kube-watchdog "$owner" "$owner_start" "$dir" "$root/scripts/kube-down.sh" \
    </dev/null >>"$dir/logs/watchdog.log" 2>&1 &
  echo $! >"$dir/pids/watchdog.pid"
fi

# --- free loopback ports -------------------------------------------------------------------------
# Pick below the kernel's ephemeral range (outgoing connections take ports from there, and one that
# holds 127.0.0.1:P makes a later bind on P fail), skipping every port any TCP socket uses right now.
read -r eph_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_low=32768
[ "$eph_low" -gt 12000 ] || eph_low=61000
# Concurrent kube-ups: under a lock, each skips ports another one reserved in the last 2 minutes
# (by then its components listen, and ss shows them).
reservations=${TMPDIR:-/tmp}/niro-kube-ports
mkdir -p "$reservations"
exec 9>"$reservations/lock"
flock -w 30 9 || die "could not lock $reservations/lock"
find "$reservations" -maxdepth 1 -type f -name '[0-9]*' -mmin +2 -delete 2>/dev/null || true
reserved=" $(find "$reservations" -maxdepth 1 -type f -name '[0-9]*' -printf '%f ') "
used_ports=" $(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | tr '\n' ' ') "
picked=" "
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % (eph_low - 10000)))
    case "$used_ports$reserved$picked" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      picked+="$p "
      echo "$p"
      return
    fi
  done
}
kine_port=$(free_port)
kine_metrics_port=$(free_port)
api_port=$(free_port)
kcm_port=$(free_port)
sched_port=$(free_port)
kwok_port=$(free_port)
metrics_port=$(free_port)
webhook_port=$(free_port)
for p in $picked; do echo "$dir" >"$reservations/$p"; done
exec 9>&-
cat >"$dir/ports.env" <<EOF
KINE_PORT=$kine_port
KINE_METRICS_PORT=$kine_metrics_port
APISERVER_PORT=$api_port
KCM_PORT=$kcm_port
SCHEDULER_PORT=$sched_port
KWOK_PORT=$kwok_port
METRICS_SERVER_PORT=$metrics_port
IMAGE_PULL_WEBHOOK_PORT=$webhook_port
EOF

# --- PKI -----------------------------------------------------------------------------------------
pki="$dir/pki"
t=$(date +%s)
(
  cd "$pki"
  exec >openssl.log 2>&1
  cert() { # name subject ca extfile-content
    openssl genrsa -out "$1.key" 2048
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    printf '%s\n' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days 365 -sha256 \
      -extfile "$1.ext" -out "$1.crt"
  }
  ca() { # name cn
    openssl genrsa -out "$1.key" 2048
    openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -sha256 -out "$1.crt" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
  }
  ca ca niro-kube-ca
  ca front-proxy-ca niro-kube-front-proxy-ca
  cert apiserver /CN=kube-apiserver ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=niro-admin" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  cert front-proxy-client /CN=front-proxy-client front-proxy-ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  # The image-pull webhook's serving cert (the API server dials https://127.0.0.1:<port>); EC: fast to make.
  openssl ecparam -name prime256v1 -genkey -noout -out image-pull-webhook.key
  openssl req -new -key image-pull-webhook.key -subj /CN=image-pull-webhook -out image-pull-webhook.csr
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1" >image-pull-webhook.ext
  openssl x509 -req -in image-pull-webhook.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -sha256 \
    -extfile image-pull-webhook.ext -out image-pull-webhook.crt
  openssl genrsa -out sa.key 2048
  openssl rsa -in sa.key -pubout -out sa.pub
  rm -f ./*.csr ./*.ext ./*.srl
) || die "openssl failed, see $pki/openssl.log"
say "PKI generated in $(($(date +%s) - t))s"

b64() { base64 -w0 <"$1"; }
cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: niro-kube
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: niro-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: niro-kube
  context:
    cluster: niro-kube
    user: niro-admin
current-context: niro-kube
EOF
chmod 600 "$kubeconfig"

# --- process helpers -----------------------------------------------------------------------------
launch() { # component args...  (own session, so a Ctrl-C on the caller does not reach it)
  local name=$1
  shift
  setsid "$bin/$name" "$@" </dev/null >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
}
fail_with_log() {
  echo "kube-up: ERROR: $1; last lines of $dir/logs/$2.log:" >&2
  tail -n 25 "$dir/logs/$2.log" | sed 's/^/kube-up:   /' >&2
  echo "kube-up: stopping what was started (kube-down)" >&2
  NIRO_KUBE_DIR="$dir" bash "$root/scripts/kube-down.sh" >&2 || true
  exit 1
}
wait_for() { # component description command...
  local name=$1 what=$2 deadline=$(($(date +%s) + timeout))
  shift 2
  until "$@" >/dev/null 2>&1; do
    running "$name" || fail_with_log "$name exited while waiting for $what" "$name"
    [ "$(date +%s)" -lt $deadline ] || fail_with_log "timed out after ${timeout}s waiting for $what" "$name"
    sleep 0.2
  done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
https_ok() { [ "$(curl -sk --max-time 2 "https://127.0.0.1:$1$2")" = ok ]; }

# --- image-pull webhook -------------------------------------------------------------------------
# A mutating admission webhook for pods with images on loopback registries (kube/README.md, "Image pulls"); it
# reads pull secrets as admin. Started first, so Node's ~0.5 s start overlaps with kine and the API server;
# registered (and probed) after metrics-server below. cwd = repo root, so `--import tsx` resolves.
abs_pki=$(realpath "$pki")
(
  cd "$root"
  exec setsid node --conditions=@niro/source --import tsx "$webhook_script" \
    --port="$webhook_port" \
    --tls-cert="$abs_pki/image-pull-webhook.crt" --tls-key="$abs_pki/image-pull-webhook.key" \
    --api-server="https://127.0.0.1:$api_port" --ca="$abs_pki/ca.crt" \
    --client-cert="$abs_pki/admin.crt" --client-key="$abs_pki/admin.key"
) </dev/null >"$dir/logs/image-pull-webhook.log" 2>&1 &
echo $! >"$dir/pids/image-pull-webhook.pid"

# --- kine ----------------------------------------------------------------------------------------
launch kine \
  --listen-address="127.0.0.1:$kine_port" \
  --metrics-bind-address="127.0.0.1:$kine_metrics_port" \
  --endpoint="sqlite://$dir/db/state.db?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate"
wait_for kine "kine on 127.0.0.1:$kine_port" port_open "$kine_port"
say "kine listening on 127.0.0.1:$kine_port (SQLite $dir/db/state.db)"

# --- kube-apiserver ------------------------------------------------------------------------------
launch kube-apiserver \
  --etcd-servers="http://127.0.0.1:$kine_port" \
  --bind-address=127.0.0.1 --secure-port="$api_port" \
  --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --authorization-mode=Node,RBAC \
  --allow-privileged=true \
  --service-cluster-ip-range=10.96.0.0/16 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-signing-key-file="$pki/sa.key" --service-account-key-file="$pki/sa.pub" \
  --kubelet-preferred-address-types=Hostname \
  --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key" \
  --requestheader-client-ca-file="$pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --profiling=false
wait_for kube-apiserver "kube-apiserver /readyz on 127.0.0.1:$api_port" https_ok "$api_port" /readyz
say "kube-apiserver ready on https://127.0.0.1:$api_port"

# --- kube-controller-manager + kube-scheduler ----------------------------------------------------
always_allow=/healthz,/readyz,/livez,/metrics
launch kube-controller-manager \
  --kubeconfig="$kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$kcm_port" \
  --authorization-always-allow-paths="$always_allow" \
  --cert-dir="$pki/kube-controller-manager" \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --use-service-account-credentials=false \
  --node-monitor-period=25s --node-monitor-grace-period=3m20s \
  --leader-elect=false --profiling=false
launch kube-scheduler \
  --kubeconfig="$kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$sched_port" \
  --authorization-always-allow-paths="$always_allow" \
  --cert-dir="$pki/kube-scheduler" \
  --leader-elect=false --profiling=false
wait_for kube-controller-manager "kube-controller-manager /healthz" https_ok "$kcm_port" /healthz
wait_for kube-scheduler "kube-scheduler /healthz" https_ok "$sched_port" /healthz
say "kube-controller-manager (127.0.0.1:$kcm_port) and kube-scheduler (127.0.0.1:$sched_port) healthy"

# --- kwok ----------------------------------------------------------------------------------------
stage_args=()
for f in "$stages_dir"/*.yaml; do stage_args+=(--config="$f"); done
metric_args=()
for f in "$metrics_dir"/*.yaml; do metric_args+=(--config="$f"); done
# Pod logs: the ClusterLogs templates point every container at $dir/pod-logs.log, which must exist before a read.
: >"$dir/pod-logs.log"
logs_args=()
for f in "$logs_dir"/*.yaml; do
  sed "s|NIRO_KUBE_DIR|$dir|g" "$f" >"$dir/kwok/$(basename "$f")"
  logs_args+=(--config="$dir/kwok/$(basename "$f")")
done
launch kwok \
  --kubeconfig="$kubeconfig" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 --node-name=localhost \
  --node-port="$kwok_port" --server-address="127.0.0.1:$kwok_port" \
  --cidr=10.244.0.0/16 \
  --node-lease-duration-seconds=40 \
  "${stage_args[@]}" "${metric_args[@]}" "${logs_args[@]}"
http_ok() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$1$2")" = ok ]; }
wait_for kwok "kwok /healthz on 127.0.0.1:$kwok_port" http_ok "$kwok_port" /healthz
say "kwok healthy on 127.0.0.1:$kwok_port (${#stage_args[@]} stages)"

# --- fake nodes ----------------------------------------------------------------------------------
{
  for i in $(seq 0 $((nodes - 1))); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-$i/metrics/resource
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    node-role.kubernetes.io/agent: ""
EOF
  done
} | "${kubectl[@]}" apply -f - >"$dir/logs/nodes.log" 2>&1 || fail_with_log "creating nodes failed" nodes
deadline=$(($(date +%s) + timeout))
until [ "$("${kubectl[@]}" get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c '^True$')" -ge "$nodes" ]; do
  alive kwok || fail_with_log "kwok exited while waiting for nodes" kwok
  [ "$(date +%s)" -lt $deadline ] || fail_with_log "timed out waiting for $nodes Ready nodes" kwok
  sleep 0.2
done
# Loopback safety: every node address must be loopback or the literal hostname "localhost".
bad=$("${kubectl[@]}" get nodes -o jsonpath='{range .items[*]}{range .status.addresses[*]}{.address}{"\n"}{end}{end}' |
  grep -v -x -e 127.0.0.1 -e localhost -e '' || true)
[ -z "$bad" ] || fail_with_log "a node has a non-loopback address: $bad" kwok
say "$nodes kwok nodes Ready"

deadline=$(($(date +%s) + timeout))
until "${kubectl[@]}" -n default get serviceaccount default >/dev/null 2>&1; do
  alive kube-controller-manager || fail_with_log "kube-controller-manager exited" kube-controller-manager
  [ "$(date +%s)" -lt $deadline ] || fail_with_log "timed out waiting for serviceaccount/default" kube-controller-manager
  sleep 0.2
done
say "serviceaccount/default exists"

# --- metrics-server (+ the image-pull webhook's registration) -----------------------------------
# CEL regex for images on a loopback registry (host 127.x.x.x, localhost or [::1], optional port), as in
# src/kube/image-pull-check.ts.
loopback_image_re='^(localhost|127\\.[0-9]+\\.[0-9]+\\.[0-9]+|\\[::1\\])(:[0-9]+)?/'
# It scrapes kwok's per-node resource metrics (node address "localhost", the node's kubelet port, the path from
# the node annotation) and serves metrics.k8s.io. The apiserver reaches it through an APIService whose Service is
# an ExternalName "localhost": Endpoints cannot hold loopback IPs, an ExternalName needs none.
launch metrics-server \
  --bind-address=127.0.0.1 --secure-port="$metrics_port" \
  --cert-dir="$pki/metrics-server" \
  --kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
  --kubelet-preferred-address-types=Hostname --kubelet-use-node-status-port --kubelet-insecure-tls \
  --kubelet-request-timeout=5s --metric-resolution=10s \
  --profiling=false
"${kubectl[@]}" apply -f - >"$dir/logs/metrics-apiservice.log" 2>&1 <<EOF || fail_with_log "registering metrics.k8s.io and the image-pull webhook failed" metrics-apiservice
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
  labels: { app.kubernetes.io/name: metrics-server }
spec:
  type: ExternalName
  externalName: localhost
  ports: [{ name: https, port: $metrics_port, protocol: TCP }]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
  labels: { app.kubernetes.io/name: metrics-server }
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: { name: metrics-server, namespace: kube-system, port: $metrics_port }
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: niro-test-image-pull
webhooks:
- name: image-pull.niro.test
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  timeoutSeconds: 15
  reinvocationPolicy: Never
  clientConfig:
    url: https://127.0.0.1:$webhook_port/mutate
    caBundle: $(b64 "$pki/ca.crt")
  rules: [{ apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods], scope: Namespaced }]
  namespaceSelector:
    matchExpressions: [{ key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system] }]
  # Only pods with an image on a loopback registry reach the webhook; every other pod is admitted untouched.
  matchConditions:
  - name: loopback-registry-image
    expression: >-
      object.spec.containers.exists(c, c.image.matches('$loopback_image_re')) ||
      (has(object.spec.initContainers) && object.spec.initContainers.exists(c, c.image.matches('$loopback_image_re')))
EOF
wait_for metrics-server "metrics-server /livez on 127.0.0.1:$metrics_port" https_ok "$metrics_port" /livez
# Until the APIService is Available, API discovery (kubectl, client libraries) reports metrics.k8s.io as failed.
metrics_api_available() {
  [ "$("${kubectl[@]}" get apiservice v1beta1.metrics.k8s.io \
    -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>/dev/null)" = True ] &&
    "${kubectl[@]}" get --raw /apis/metrics.k8s.io/v1beta1 >/dev/null 2>&1
}
wait_for metrics-server "the metrics.k8s.io APIService to be Available" metrics_api_available
# The webhook is live once a server-side dry run of a pod with an unreachable loopback image comes back annotated
# (the API server has loaded the configuration, reached the webhook, and the webhook ran its check).
webhook_probe() {
  "${kubectl[@]}" -n default create --dry-run=server -o jsonpath='{.metadata.annotations}' -f - <<EOF | grep -q image-pull-error
apiVersion: v1
kind: Pod
metadata: { name: niro-image-pull-probe }
spec: { containers: [{ name: probe, image: "127.0.0.1:1/niro-image-pull-probe:1" }] }
EOF
}
wait_for image-pull-webhook "the image-pull webhook to annotate a probe pod" webhook_probe
say "metrics-server on 127.0.0.1:$metrics_port, metrics.k8s.io available (usage data follows 10-20 s after start)"
say "image-pull webhook on https://127.0.0.1:$webhook_port (loopback registries are checked at pod creation)"
say "cluster up (kubectl: $dir/bin/kubectl)"
echo "KUBECONFIG=$kubeconfig"
