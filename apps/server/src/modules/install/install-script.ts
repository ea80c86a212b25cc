import {
  AGENT_INSTALL_LABEL,
  AGENT_INSTALL_LABEL_VALUE,
  AGENT_KEY_SECRET,
  AGENT_NAME,
  AGENT_NAMESPACE,
  AGENT_TOKEN_SECRET,
  CAPABILITY_GRANTS,
  CAPABILITY_NAMES,
  type CapabilityGrant,
} from '@niro/protocol';
import { capabilityBinding } from './install-manifest.js';

/** How long the installer waits for the agent's rollout unless NIRO_ROLLOUT_TIMEOUT says otherwise. */
export const DEFAULT_ROLLOUT_TIMEOUT = '180s';
/** Field manager of the installer's server-side applies. */
export const INSTALL_FIELD_MANAGER = 'niro-install';

/** Quotes a value for POSIX sh: single quotes, with embedded ones closed and escaped. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The shell variable holding a capability's 0/1 flag. */
function flagVar(grant: CapabilityGrant): string {
  return `cap_${grant.queryParam}`;
}

/**
 * `GET /install.sh` (DESIGN 3.4): a POSIX sh script (dash, busybox sh) that applies the agent
 * manifest with the user's kubectl. The only value baked in is the server URL; it holds no secret.
 * The whole body is a function called on the last line, so a download cut short runs nothing.
 */
export function renderInstallScript(serverUrl: string): string {
  const grants = CAPABILITY_NAMES.map((name) => CAPABILITY_GRANTS[name]);
  const ns = AGENT_NAMESPACE;
  const deploy = `deployment/${AGENT_NAME}`;
  const apply = `kubectl apply --server-side --force-conflicts --field-manager=${INSTALL_FIELD_MANAGER} -f -`;
  const width = Math.max(...grants.map((g) => g.envVar.length)) + 2;

  const usage = grants.map((g) => `#   ${g.envVar.padEnd(width)}${g.defaultOn ? 1 : 0}  ${g.summary}`).join('\n');
  const readFlags = grants
    .map((g) => `  ${flagVar(g)}=$(flag ${g.envVar} "\${${g.envVar}:-${g.defaultOn ? 1 : 0}}")`)
    .join('\n');
  const query = grants.map((g) => `${g.queryParam}=$${flagVar(g)}`).join('&');
  const removeDisabled = grants
    .map((g) => {
      const b = capabilityBinding(g);
      const bindingRef =
        b.namespace === undefined ? `clusterrolebinding ${g.roleName}` : `-n ${b.namespace} rolebinding ${g.roleName}`;
      return [
        `  if [ "$${flagVar(g)}" = 0 ]; then`,
        `    out=$(kubectl delete ${bindingRef} --ignore-not-found </dev/null 2>&1) || fail "could not remove the ${g.queryParam} capability: $out"`,
        `    out2=$(kubectl delete clusterrole ${g.roleName} --ignore-not-found </dev/null 2>&1) || fail "could not remove the ${g.queryParam} capability: $out2"`,
        `    [ -z "$out$out2" ] || { say "removed capability ${g.queryParam}:"; indent "$out"; indent "$out2"; }`,
        '  fi',
      ].join('\n');
    })
    .join('\n');
  const summary = grants
    .map((g) => `  printf '  %-11s %-3s  %s\\n' ${g.queryParam} "$(onoff "$${flagVar(g)}")" ${shQuote(g.summary)}`)
    .join('\n');

  return `#!/bin/sh
# Installs or updates the Niro agent in the cluster that kubectl points at:
#
#   curl -fsSL ${serverUrl}/install.sh | NIRO_TOKEN=<enrollment token> sh
#
# Capabilities (1 = on, 0 = off; default shown):
${usage}
#
# NIRO_TOKEN            enrollment token from Niro; leave it out when re-running to change
#                       capabilities (the agent keeps its key)
# NIRO_URL              the Niro server to fetch the manifest from (default ${serverUrl})
# NIRO_ROLLOUT_TIMEOUT  how long to wait for the agent to start (default ${DEFAULT_ROLLOUT_TIMEOUT})
#
# Needs kubectl (with cluster-admin rights) and curl. Guide: docs/install-agent.md.
set -eu

say() { printf 'niro: %s\\n' "$*"; }
fail() {
  printf 'niro: error: %s\\n' "$*" >&2
  exit 1
}
indent() { [ -z "$1" ] || printf '%s\\n' "$1" | sed 's/^/    /'; }
onoff() { if [ "$1" = 1 ]; then echo on; else echo off; fi; }
flag() {
  case $2 in
    1 | true | yes | on) echo 1 ;;
    0 | false | no | off) echo 0 ;;
    *) fail "$1 must be 1 or 0, not '$2'" ;;
  esac
}

main() {
  # Keep the token out of the environment of every command this script runs (unset first: a
  # variable inherited from the environment would stay exported).
  unset enroll_token token_secret
  enroll_token=\${NIRO_TOKEN:-}
  unset NIRO_TOKEN
  url=\${NIRO_URL:-${shQuote(serverUrl)}}
  url=\${url%/}
  timeout=\${NIRO_ROLLOUT_TIMEOUT:-${DEFAULT_ROLLOUT_TIMEOUT}}
  case $timeout in
    '' | *[!0-9smh]*) fail "NIRO_ROLLOUT_TIMEOUT must be a duration such as 180s or 5m, not '$timeout'" ;;
  esac
${readFlags}

  command -v kubectl >/dev/null 2>&1 || fail "kubectl not found on PATH: install it (k3s ships it as /usr/local/bin/kubectl) and run this again"
  command -v curl >/dev/null 2>&1 || fail "curl not found on PATH: install curl and run this again"
  if ! out=$(kubectl version --request-timeout=15s </dev/null 2>&1); then
    fail "kubectl cannot reach the cluster: $(printf '%s' "$out" | tail -n 1)
  Point kubectl at the cluster first (KUBECONFIG; on a k3s server run this as root, or export KUBECONFIG=/etc/rancher/k3s/k3s.yaml)."
  fi
  context=$(kubectl config current-context </dev/null 2>/dev/null || echo default)
  if ! kubectl auth can-i create clusterrolebindings.rbac.authorization.k8s.io </dev/null >/dev/null 2>&1; then
    fail "kubectl's user (context $context) may not create ClusterRoleBindings: run this as a cluster administrator"
  fi
  say "installing the Niro agent into cluster context '$context', namespace ${ns}"

  manifest_url="$url/install/manifest.yaml?${query}"
  say "fetching $manifest_url"
  manifest=$(curl -fsSL --connect-timeout 10 --retry 3 "$manifest_url" </dev/null) ||
    fail "could not fetch the agent manifest from $url: is Niro reachable from here and NIRO_URL right?"

  say "applying namespace, service account, RBAC and Deployment"
  out=$(printf '%s\\n' "$manifest" | ${apply} 2>&1) || fail "kubectl apply failed:
$out"
  indent "$out"

${removeDisabled}

  if [ -n "$enroll_token" ]; then
    say "storing the enrollment token in Secret ${ns}/${AGENT_TOKEN_SECRET}"
    # From stdin, so the token never appears on a command line.
    token_secret=$(printf '%s' "$enroll_token" |
      kubectl -n ${ns} create secret generic ${AGENT_TOKEN_SECRET} --from-file=token=/dev/stdin --dry-run=client -o yaml |
      kubectl label --local -f - -o yaml ${AGENT_INSTALL_LABEL}=${AGENT_INSTALL_LABEL_VALUE}) ||
      fail "could not build the token Secret"
    out=$(printf '%s\\n' "$token_secret" | ${apply} 2>&1) || fail "could not store the token Secret:
$out"
    token_secret=
    out=$(kubectl -n ${ns} rollout restart ${deploy} </dev/null 2>&1) || fail "could not restart the agent:
$out"
    say "restarted the agent so it enrolls with the new token"
  elif ! kubectl -n ${ns} get secret ${AGENT_KEY_SECRET} </dev/null >/dev/null 2>&1 &&
    ! kubectl -n ${ns} get secret ${AGENT_TOKEN_SECRET} </dev/null >/dev/null 2>&1; then
    say "warning: no NIRO_TOKEN given and the agent has no key yet. Create the cluster in Niro"
    say "  and run the install command it shows (it carries a one-hour enrollment token)."
  fi

  say "waiting up to $timeout for the agent to start"
  if ! out=$(kubectl -n ${ns} rollout status ${deploy} --timeout="$timeout" </dev/null 2>&1); then
    indent "$out" >&2
    fail "the agent did not start within $timeout. Look at:
  kubectl -n ${ns} describe pods -l app.kubernetes.io/name=${AGENT_NAME}
  kubectl -n ${ns} logs ${deploy}"
  fi
  indent "$out"

  say "done: the Niro agent runs in namespace ${ns} with these capabilities:"
${summary}
  say "Niro ($url) shows the cluster as connected after the agent's first heartbeat."
  say "agent logs:           kubectl -n ${ns} logs ${deploy}"
  say "change capabilities:  re-run this installer with NIRO_ENABLE_...=1 or 0 and without NIRO_TOKEN"
}

main "$@"
`;
}
