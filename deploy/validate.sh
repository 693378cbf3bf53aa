#!/usr/bin/env bash
# Offline checks of everything under deploy/ (CI runs this; no cluster, registry or image needed):
#  - `kubectl kustomize` renders the base and every overlay;
#  - every rendered object, and the example Secret, validates against the Kubernetes schemas
#    (npm kubernetes-models, tools/validate-k8s.js), plus kommo-grpc's own rules there (the Kommo
#    budget over the most replicas, the grace periods, the security settings);
#  - yamllint on the sources and on the rendered output (.yamllint.yaml);
#  - dockerfilelint on deploy/Dockerfile;
#  - tools/package-lock.json records no download addresses.
# Installs yamllint (apt) and the pinned npm tools (npm ci --prefix tools) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0

step() { echo; echo "=== $*"; }
pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

# --- tools ----------------------------------------------------------------------------------------
SUDO=$([[ $(id -u) == 0 ]] || echo sudo)
if ! command -v yamllint >/dev/null; then
  echo "installing yamllint (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends yamllint >/dev/null
fi
if [[ ! -d tools/node_modules/kubernetes-models || ! -d tools/node_modules/yaml ||
      ! -x tools/node_modules/.bin/dockerfilelint ]]; then
  echo "installing the pinned npm tools (npm ci --prefix tools)"
  npm ci --prefix tools --no-audit --no-fund --loglevel=error >/dev/null
fi
command -v kubectl >/dev/null || {
  echo "FAIL: kubectl not found (it renders the kustomizations; Debian 12 has no current package)"
  exit 1
}

# --- Kubernetes manifests -------------------------------------------------------------------------
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  dir=${dir%/}
  name=${dir#deploy/k8s/}
  rendered=$WORK/${name//\//-}.yaml
  step "$name: kubectl kustomize, schemas, rules, yamllint"
  if ! kubectl kustomize "$dir" >"$rendered" 2>"$WORK/kustomize.err"; then
    fail "kubectl kustomize $dir: $(cat "$WORK/kustomize.err")"
    continue
  fi
  pass "kubectl kustomize $dir: $(grep -c '^kind:' "$rendered") objects"
  if node tools/validate-k8s.js --name "$name" "$rendered"; then
    pass "$name: schemas and kommo-grpc rules"
  else
    fail "$name: schemas or kommo-grpc rules (lines above)"
  fi
  if yamllint -f parsable -c .yamllint.yaml "$rendered"; then
    pass "$name: yamllint on the rendered output"
  else
    fail "$name: yamllint on the rendered output"
  fi
done

step "example Secrets (not part of any kustomization)"
for example in deploy/k8s/base/secret.example.yaml deploy/k8s/overlays/redis/redis-secret.example.yaml; do
  if node tools/validate-k8s.js "$example"; then
    pass "$(basename "$example"): schema"
  else
    fail "$(basename "$example"): schema"
  fi
done

# --- YAML sources and Dockerfile ------------------------------------------------------------------
step "yamllint deploy/ .yamllint.yaml buf.yaml"
if yamllint -f parsable -c .yamllint.yaml deploy/ .yamllint.yaml buf.yaml; then
  pass "yamllint"
else
  fail "yamllint (lines above)"
fi

step "dockerfilelint deploy/Dockerfile"
if tools/node_modules/.bin/dockerfilelint deploy/Dockerfile; then
  pass "dockerfilelint"
else
  fail "dockerfilelint (issues above)"
fi

step "tools/package-lock.json records no download addresses"
if grep -n '"resolved"' tools/package-lock.json; then
  fail "tools/package-lock.json has \"resolved\" fields (regenerate with omit-lockfile-registry-resolved)"
else
  pass "no \"resolved\" fields in tools/package-lock.json"
fi

echo
echo "deploy/validate.sh: $PASSED passed, $FAILED failed"
((FAILED == 0))
