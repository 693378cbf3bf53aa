#!/usr/bin/env node
// Offline validation of Kubernetes manifests (no API server needed):
//   kubectl kustomize deploy/k8s/base | node tools/validate-k8s.js --name base -
//   node tools/validate-k8s.js deploy/k8s/base/secret.example.yaml
//
// 1. Every document is checked against the Kubernetes 1.x JSON schemas that npm kubernetes-models
//    (pinned to 4.5.1 in tools/package.json: 5.x needs node 22) bundles. It catches wrong types,
//    missing required fields and unknown kinds; it does not catch unknown fields.
// 2. kommo-grpc's own rules, on the objects of the kommo-grpc-server Deployment when present:
//    - the Kommo budget: KOMMO_RATE_LIMIT_RPS x the most pods that can run at once (the HPA's
//      maxReplicas, else replicas, plus the rollout's maxSurge) must stay at or below 7 requests/s;
//      with REDIS_URL (one budget shared on Redis): the rps at most 7, REDIS_URL from a Secret, and
//      the fallback without Redis (rps / REDIS_FALLBACK_REPLICAS per pod) within 7 over all pods;
//    - terminationGracePeriodSeconds must be longer than SHUTDOWN_GRACE_PERIOD;
//    - the pod and container security settings the README promises;
//    - with TLS_* set: the probes on the plaintext health port, the files in a mounted volume.
// Prints one line per problem and "N passed, N failed"; exits 1 when anything failed.
'use strict';

const fs = require('fs');
const YAML = require('yaml');

const KOMMO_ACCOUNT_RPS = 7;  // Kommo's documented limit per account (docs/kommo-facts.md)

let passed = 0;
let failed = 0;
const problem = (where, message) => {
  console.error(`FAIL ${where}: ${message}`);
  failed++;
};

function modelFor(object) {
  const apiVersion = object.apiVersion || '';
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [null, apiVersion];
  try {
    return require(`kubernetes-models/${group ? group + '/' : ''}${version}/${object.kind}`)[object.kind];
  } catch {
    return null;
  }
}

// Seconds in a duration such as "10s", "1.5s", "500ms" or "2m" (absl::ParseDuration's common forms).
function seconds(duration) {
  const match = /^([0-9.]+)(ms|s|m|h)$/.exec(String(duration).trim());
  if (!match) return NaN;
  return Number(match[1]) * {ms: 0.001, s: 1, m: 60, h: 3600}[match[2]];
}

function checkKommoGrpc(where, objects) {
  const deployment = objects.find(o => o.kind === 'Deployment' &&
      (o.spec?.template?.spec?.containers || []).some(c => c.name === 'server' &&
          !(c.command || []).length));
  if (!deployment) return;
  const name = deployment.metadata.name;
  const spec = deployment.spec;
  const pod = spec.template.spec;
  const server = pod.containers.find(c => c.name === 'server');
  const rules = [];
  const rule = (ok, message) => rules.push([ok, message]);

  // Settings reach the server from its ConfigMap(s) and env.
  const settings = {};
  for (const source of server.envFrom || []) {
    const ref = source.configMapRef?.name;
    const map = objects.find(o => o.kind === 'ConfigMap' && o.metadata.name === ref);
    if (map) Object.assign(settings, map.data);
  }
  // Settings read from a Secret (valueFrom) are known to be set, not their values.
  const fromSecret = new Set();
  for (const variable of server.env || []) {
    if (variable.value !== undefined) settings[variable.name] = variable.value;
    if (variable.valueFrom?.secretKeyRef) {
      settings[variable.name] = '(from a Secret)';
      fromSecret.add(variable.name);
    }
  }

  const rps = Number(settings.KOMMO_RATE_LIMIT_RPS ?? 7);  // the server's default
  const hpa = objects.find(o => o.kind === 'HorizontalPodAutoscaler' &&
      o.spec.scaleTargetRef?.name === name);
  const maxReplicas = hpa ? hpa.spec.maxReplicas : (spec.replicas ?? 1);
  const surge = spec.strategy?.type === 'Recreate' ? 0 : spec.strategy?.rollingUpdate?.maxSurge ?? '25%';
  const surgePods = typeof surge === 'string' ? Math.ceil(maxReplicas * parseFloat(surge) / 100) : surge;
  const pods = maxReplicas + surgePods;
  if (settings.REDIS_URL) {
    // One budget shared on Redis (overlays/redis): the rate is the account's, and while Redis is
    // unreachable each pod falls back to rps / REDIS_FALLBACK_REPLICAS, so that number must cover
    // every pod that can run. REDIS_URL holds Redis's password: from a Secret only.
    const fallback = Number(settings.REDIS_FALLBACK_REPLICAS ?? 1);  // the server's default
    rule(fromSecret.has('REDIS_URL'), 'REDIS_URL comes from a Secret (it holds the password)');
    rule(rps <= KOMMO_ACCOUNT_RPS,
         `Kommo budget shared on Redis: KOMMO_RATE_LIMIT_RPS ${rps} <= ${KOMMO_ACCOUNT_RPS}`);
    rule(fallback >= 1 && rps / fallback * pods <= KOMMO_ACCOUNT_RPS + 1e-9,
         `Kommo budget without Redis: KOMMO_RATE_LIMIT_RPS ${rps} / REDIS_FALLBACK_REPLICAS ` +
         `${fallback} x ${pods} pods at most (maxReplicas ${maxReplicas} + maxSurge ${surgePods}) ` +
         `= ${(rps / fallback * pods).toFixed(2)} requests/s, Kommo allows ${KOMMO_ACCOUNT_RPS}`);
  } else {
    rule(rps * pods <= KOMMO_ACCOUNT_RPS,
         `Kommo budget: KOMMO_RATE_LIMIT_RPS ${rps} x ${pods} pods at most (maxReplicas ` +
         `${maxReplicas} + maxSurge ${surgePods}) = ${rps * pods} requests/s, Kommo allows ` +
         `${KOMMO_ACCOUNT_RPS}`);
  }

  const grace = seconds(settings.SHUTDOWN_GRACE_PERIOD ?? '10s');
  const termination = pod.terminationGracePeriodSeconds ?? 30;
  rule(termination > grace,
       `terminationGracePeriodSeconds ${termination} > SHUTDOWN_GRACE_PERIOD ${grace}s`);

  const podSecurity = pod.securityContext || {};
  const security = server.securityContext || {};
  rule((podSecurity.runAsNonRoot || security.runAsNonRoot) === true, 'runAsNonRoot');
  rule(security.readOnlyRootFilesystem === true, 'readOnlyRootFilesystem');
  rule(security.allowPrivilegeEscalation === false, 'allowPrivilegeEscalation false');
  rule((security.capabilities?.drop || []).includes('ALL'), 'capabilities drop ALL');
  rule((security.seccompProfile || podSecurity.seccompProfile)?.type === 'RuntimeDefault',
       'seccompProfile RuntimeDefault');
  rule(pod.automountServiceAccountToken === false, 'automountServiceAccountToken false');
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    rule(server[probe]?.grpc?.port > 0, `${probe} is a native gRPC probe`);
  }
  rule(server.resources?.requests && server.resources?.limits, 'resources requests and limits');
  rule(!!settings.KOMMO_ACCESS_TOKEN_FILE && !settings.KOMMO_ACCESS_TOKEN,
       'the token comes from a mounted file (KOMMO_ACCESS_TOKEN_FILE)');
  rule(!(server.volumeMounts || []).some(m => m.subPath),
       'no subPath mounts (they freeze Secret updates)');
  // TLS on the gRPC port (overlays/tls): the kubelet's gRPC probe speaks plaintext only, so the
  // probes must use the plaintext health-only port, and the certificate files must come from a
  // mounted volume (which a renewal updates in place).
  if (settings.TLS_CERT_FILE || settings.TLS_KEY_FILE || settings.TLS_CLIENT_CA_FILE) {
    rule(!!settings.TLS_CERT_FILE && !!settings.TLS_KEY_FILE,
         'TLS: TLS_CERT_FILE and TLS_KEY_FILE are set together');
    const healthPort = Number(/:([0-9]+)$/.exec(settings.HEALTH_LISTEN_ADDRESS || '')?.[1]);
    rule(healthPort > 0, 'TLS: HEALTH_LISTEN_ADDRESS gives the probes a plaintext port');
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      rule(server[probe]?.grpc?.port === healthPort,
           `TLS: ${probe} uses the health port ${healthPort}, not the TLS port`);
    }
    for (const setting of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_CLIENT_CA_FILE']) {
      const file = settings[setting];
      if (!file) continue;
      rule((server.volumeMounts || []).some(m => file.startsWith(m.mountPath + '/')),
           `TLS: ${setting} ${file} lies in a mounted volume`);
    }
  }
  // Who may call (CALLERS_FILE): the file comes from a mounted volume too, so that an edit of its
  // Secret reaches the server (which checks it every second) without a restart.
  if (settings.CALLERS_FILE) {
    rule((server.volumeMounts || []).some(m => settings.CALLERS_FILE.startsWith(m.mountPath + '/')),
         `CALLERS_FILE ${settings.CALLERS_FILE} lies in a mounted volume`);
  }
  const service = objects.find(o => o.kind === 'Service' && o.metadata.name === name);
  rule((service?.spec.ports || []).some(p => p.name === 'grpc' && p.appProtocol === 'grpc'),
       'Service port named grpc with appProtocol grpc');

  for (const [ok, message] of rules) {
    if (ok) {
      passed++;
    } else {
      problem(`${where}: Deployment/${name}`, message);
    }
  }
}

function main(argv) {
  let name = null;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--name') {
      name = argv[++i];
    } else {
      files.push(argv[i]);
    }
  }
  if (!files.length) {
    console.error('usage: validate-k8s.js [--name LABEL] FILE|- ...');
    return 2;
  }
  for (const file of files) {
    const where = name || (file === '-' ? 'stdin' : file);
    const objects = [];
    for (const document of YAML.parseAllDocuments(fs.readFileSync(file === '-' ? 0 : file, 'utf8'))) {
      if (document.errors.length) {
        problem(where, document.errors[0].message);
        continue;
      }
      const object = document.toJS();
      if (!object) continue;
      const label = `${where}: ${object.kind}/${object.metadata?.name}`;
      const Model = modelFor(object);
      if (!Model) {
        problem(label, `unknown kind ${object.apiVersion} ${object.kind}`);
        continue;
      }
      try {
        new Model(object).validate();
        passed++;
        objects.push(object);
      } catch (error) {
        problem(label, error.message);
      }
    }
    if (!objects.length && !failed) problem(where, 'no Kubernetes object found');
    console.log(`${where}: ${objects.length} objects valid`);
    checkKommoGrpc(where, objects);
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exit(main(process.argv.slice(2)));
