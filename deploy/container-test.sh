#!/usr/bin/env bash
# The container image, verified for real: builds deploy/Dockerfile with podman, runs the emulator
# and the server from that image, calls the server through `buf curl` (grpc.health.v1 and a
# CreateLead), swaps the mounted token file (the server must use the new token without a restart),
# reads /metrics, stops both (each must exit 0 on SIGTERM) and prints the image size.
#
#   deploy/container-test.sh            # from anywhere; needs root (or sudo) for apt and podman
#
# Installs podman, buildah, runc and debootstrap when missing, configures podman to run here (runc
# as the runtime, explicit nofile/nproc ulimits), and, when the Debian
# base image is not in local storage, makes it offline with debootstrap from the apt mirror this
# machine already uses (no container registry is needed). Everything listens on 127.0.0.1 with
# ports the kernel picks; every container it starts is removed on exit, also on failure.
#
# Environment: IMAGE (default localhost/kommo-grpc:dev), MAX_IMAGE_MB (default 150: a larger image
# fails the test), DEBIAN_MIRROR (overrides the mirror read from /etc/apt), KEEP_IMAGE=0 to remove
# the image at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
  exec sudo --preserve-env=IMAGE,MAX_IMAGE_MB,DEBIAN_MIRROR,KEEP_IMAGE "$0" "$@"
fi

IMAGE=${IMAGE:-localhost/kommo-grpc:dev}
MAX_IMAGE_MB=${MAX_IMAGE_MB:-150}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
BUF=tools/node_modules/@bufbuild/buf-linux-x64/bin/buf
RUN_ID="kommo-grpc-test-$$"
TOKEN="container-test-fake-token-$RANDOM"
WORK=$(mktemp -d /var/tmp/kommo-grpc-container-test.XXXXXX)
CONTAINERS=()
START=$SECONDS

step() { echo; echo "=== $* ($(date -u +%H:%M:%S), +$((SECONDS - START)) s)"; }

# fail MESSAGE: prints the message and the logs of every container this run started, then exits 1
# (the EXIT trap removes the containers).
fail() {
  echo >&2
  echo "container-test: FAILED: $*" >&2
  for name in "${CONTAINERS[@]}"; do
    echo "--- podman logs $name" >&2
    podman logs "$name" >&2 2>&1 || true
  done
  exit 1
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for name in "${CONTAINERS[@]}"; do podman rm --force --time 0 "$name" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
  if [[ ${KEEP_IMAGE:-1} == 0 ]]; then podman rmi --force "$IMAGE" >/dev/null 2>&1 || true; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools ----------------------------------------------------------------------------------------
step "tools: podman, buildah, runc, debootstrap, buf"
missing=()
for tool in podman buildah runc debootstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap >/dev/null ||
    fail "apt-get install podman buildah runc debootstrap failed"
fi
if [[ ! -x $BUF ]]; then
  command -v npm >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
  npm ci --prefix tools --no-audit --no-fund --loglevel=error >/dev/null ||
    fail "npm ci --prefix tools failed (buf is pinned in tools/package-lock.json)"
fi
podman --version

# This sandbox has no CAP_SYS_RESOURCE (crun's setrlimit fails with the default ulimits) and a
# cgroup layout crun refuses ("hybrid mode"): runc with explicit ulimits works (toolchain.md §6).
CONF=/etc/containers/containers.conf.d/ci.conf
read -r -d '' WANT_CONF <<'CONF' || true
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
if [[ ! -f $CONF || $(cat "$CONF") != "$WANT_CONF" ]]; then
  mkdir -p "$(dirname "$CONF")"
  printf '%s\n' "$WANT_CONF" >"$CONF"
  echo "wrote $CONF (runtime runc, nofile/nproc ulimits)"
fi

# --- base image -----------------------------------------------------------------------------------
# debian_mirror: the Debian archive this machine's apt uses (first bookworm URI), or DEBIAN_MIRROR.
debian_mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then echo "$DEBIAN_MIRROR"; return; fi
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources
  elif [[ -f /etc/apt/sources.list ]]; then
    awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list
  fi
}

# make_base_image: BASE_IMAGE from debootstrap (minbase), trimmed like Debian's official slim
# image (no docs, man pages or locales; dpkg told to keep them out), imported into podman's storage
# under the official name so that `FROM docker.io/library/debian:bookworm-slim` resolves offline.
make_base_image() {
  local mirror rootfs=$WORK/rootfs
  mirror=$(debian_mirror)
  [[ -n $mirror ]] || fail "no Debian mirror found in /etc/apt: set DEBIAN_MIRROR"
  echo "debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }

  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
# as in the official slim image: no documentation, man pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* \
         "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
         "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
  # The same archives (bookworm, -updates, -security) as this machine, when it uses deb822 sources.
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  tar --numeric-owner -C "$rootfs" -c . |
    podman import --change 'CMD ["bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --message "debootstrap --variant=minbase bookworm, slimmed (deploy/container-test.sh)" \
      - "$BASE_IMAGE" >/dev/null || fail "podman import of the debootstrap rootfs failed"
  rm -rf "$rootfs"
}

step "base image $BASE_IMAGE"
if podman image exists "$BASE_IMAGE"; then
  echo "present in local storage"
else
  make_base_image
  echo "made offline with debootstrap and podman import"
fi

# --- build ----------------------------------------------------------------------------------------
step "podman build $IMAGE (compiles the server and the emulator: several minutes when cold)"
build_start=$SECONDS
version=$(sed -nE 's/^project\(kommo-grpc VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
podman build --pull=never --network=host -f deploy/Dockerfile -t "$IMAGE" \
  --build-arg VERSION="${version:-unknown}" \
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  . >"$WORK/build.log" 2>&1 ||
  { tail -n 40 "$WORK/build.log" >&2; fail "podman build failed (last lines above)"; }
echo "built in $((SECONDS - build_start)) s"

user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")
echo "user $user, entrypoint $entrypoint, version $(podman image inspect \
  --format '{{index .Labels "org.opencontainers.image.version"}}' "$IMAGE")"
[[ $user == 65532:65532 ]] || fail "the image runs as '$user', expected 65532:65532"

# --- run ------------------------------------------------------------------------------------------
# wait_for_log NAME PATTERN: waits up to 20 s for a log line of container NAME matching PATTERN;
# prints it. Fails when the container has exited.
wait_for_log() {
  local logs line
  for _ in $(seq 1 200); do
    # The whole log first: `podman logs | grep -m1` could fail on SIGPIPE under pipefail.
    logs=$(podman logs "$1" 2>&1 || true)
    if line=$(grep -m1 -E "$2" <<<"$logs"); then echo "$line"; return 0; fi
    [[ $(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null) == true ]] ||
      fail "container $1 exited before printing '$2'"
    sleep 0.1
  done
  fail "container $1 did not print '$2' within 20 s"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Both containers share the host's network namespace and listen on 127.0.0.1 only, on ports the
# kernel picks (port 0; each binary prints the port it bound). Both run the way the Kubernetes
# manifests run them: read-only root filesystem (not even a /tmp), no capabilities, no privilege
# escalation; the server reads its token from a read-only mounted file.
step "run the emulator and the server from the image"
emulator=$RUN_ID-emulator
CONTAINERS+=("$emulator")
podman run -d --name "$emulator" --network=host --read-only --read-only-tmpfs=false --cap-drop=ALL \
  --security-opt=no-new-privileges --entrypoint /usr/local/bin/kommo-emulator "$IMAGE" \
  --listen=127.0.0.1:0 --token="$TOKEN" >/dev/null || fail "podman run (emulator) failed"
emulator_url=$(wait_for_log "$emulator" '^kommo-emulator listening on ')
emulator_url=${emulator_url##* }
echo "emulator: $emulator_url"

mkdir -p "$WORK/secret"
printf '%s\n' "$TOKEN" >"$WORK/secret/token"
chmod 0755 "$WORK" "$WORK/secret"
chmod 0444 "$WORK/secret/token"
metrics_port=$(free_port)
server=$RUN_ID-server
CONTAINERS+=("$server")
podman run -d --name "$server" --network=host --read-only --read-only-tmpfs=false --cap-drop=ALL \
  --security-opt=no-new-privileges \
  -v "$WORK/secret:/var/run/secrets/kommo:ro" \
  -e GRPC_LISTEN_ADDRESS=127.0.0.1:0 \
  -e METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics_port" \
  -e KOMMO_API_URL="$emulator_url" \
  -e KOMMO_ACCESS_TOKEN_FILE=/var/run/secrets/kommo/token \
  -e KOMMO_RATE_LIMIT_RPS=2 \
  -e SHUTDOWN_GRACE_PERIOD=10s \
  "$IMAGE" >/dev/null || fail "podman run (server) failed"
server_line=$(wait_for_log "$server" 'listening on port [0-9]+')
port=$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$server_line")
echo "server: $server_line"
TARGET=http://127.0.0.1:$port

# --- call -----------------------------------------------------------------------------------------
# call PATH JSON: buf curl through the server's reflection; prints the response, fails on an error.
call() {
  local out rc=0
  out=$("$BUF" curl --protocol grpc --http2-prior-knowledge --timeout 20s -d "$2" "$TARGET/$1" 2>&1) ||
    rc=$?
  ((rc == 0)) || fail "buf curl $1 exited $rc (gRPC code $((rc / 8))): $out"
  echo "$out"
}

step "buf curl grpc.health.v1.Health/Check"
for service in "" kommo.v1.LeadService kommo.v1.ContactService; do
  health=$(call grpc.health.v1.Health/Check "{\"service\":\"$service\"}")
  echo "service \"$service\": $(tr -d ' \n' <<<"$health")"
  grep -q '"SERVING"' <<<"$health" || fail "health of \"$service\" is not SERVING: $health"
done

step "buf curl kommo.v1.LeadService/CreateLead"
lead=$(call kommo.v1.LeadService/CreateLead '{"name":"Container test lead","price":"1500"}')
echo "$lead"
grep -q '"id": *"[1-9][0-9]*"' <<<"$lead" || fail "CreateLead returned no lead id: $lead"
grep -q '"name": *"Container test lead"' <<<"$lead" || fail "CreateLead returned another name"

# try_call PATH JSON: like call, but prints buf's exit code (the gRPC code times 8) and output.
try_call() {
  local out rc=0
  out=$("$BUF" curl --protocol grpc --http2-prior-knowledge --timeout 20s -d "$2" "$TARGET/$1" 2>&1) ||
    rc=$?
  echo "$rc $(tr -s ' \n' ' ' <<<"$out")"
}

# The Kubernetes way of rotating a Secret: the kubelet swaps the mounted file for a new one. The
# server looks at the file at most once a second and uses what it holds from the next call on.
step "token rotation: swap the mounted token file, no restart"
lead_id=$(sed -nE 's/.*"id": *"([0-9]+)".*/\1/p' <<<"$lead" | head -n 1)
# rotate TOKEN: replaces the token file by rename, as the kubelet does.
rotate() {
  printf '%s\n' "$1" >"$WORK/secret/token.new"
  chmod 0444 "$WORK/secret/token.new"
  mv -f "$WORK/secret/token.new" "$WORK/secret/token"
}
# wait_for_code CODE: calls GetLead until buf exits with CODE (the gRPC code times 8), 10 s at most.
wait_for_code() {
  local result
  for _ in $(seq 1 20); do
    result=$(try_call kommo.v1.LeadService/GetLead "{\"lead_id\":\"$lead_id\"}")
    if [[ ${result%% *} == "$1" ]]; then echo "$result"; return 0; fi
    sleep 0.5
  done
  fail "GetLead did not exit $1 within 10 s after the token file changed; last: $result"
}
rotate "a-token-the-emulator-refuses"
result=$(wait_for_code 72)
echo "token file replaced by one the emulator refuses: buf exit ${result%% *} (FAILED_PRECONDITION)"
server_logs=$(podman logs "$server" 2>&1)
grep -m1 '"reason":"KOMMO_UNAUTHORIZED"' <<<"$server_logs" ||
  fail "the server did not log reason KOMMO_UNAUTHORIZED: $result"
rotate "$TOKEN"
result=$(wait_for_code 0)
echo "token file replaced by the right one: GetLead OK again, ${result#0 }"

# Resident memory after a call: the basis of the Deployment's memory request and limit.
server_pid=$(podman inspect --format '{{.State.Pid}}' "$server")
echo "server memory: $(awk '/^VmRSS/ {print $2, $3}' "/proc/$server_pid/status") resident"

step "metrics on 127.0.0.1:$metrics_port/metrics (METRICS_LISTEN_ADDRESS)"
metrics=$(curl -fsS --max-time 5 "http://127.0.0.1:$metrics_port/metrics" 2>&1) ||
  fail "GET /metrics on METRICS_LISTEN_ADDRESS failed: $metrics"
echo "$(wc -l <<<"$metrics") lines, the RPCs above among them:"
grep -E '^kommo_grpc_[a-z_]+\{.*(CreateLead|GetLead)' <<<"$metrics" | grep -v _bucket ||
  fail "/metrics does not count the CreateLead and GetLead calls"

# --- stop -----------------------------------------------------------------------------------------
step "podman stop: SIGTERM, drain, exit 0"
stop_start=$SECONDS
podman stop --time 15 "$server" >/dev/null
server_exit=$(podman inspect --format '{{.State.ExitCode}}' "$server")
echo "server exited $server_exit after $((SECONDS - stop_start)) s"
[[ $server_exit == 0 ]] || fail "the server exited $server_exit on SIGTERM, expected 0"
podman stop --time 15 "$emulator" >/dev/null
emulator_exit=$(podman inspect --format '{{.State.ExitCode}}' "$emulator")
echo "emulator exited $emulator_exit"
[[ $emulator_exit == 0 ]] || fail "the emulator exited $emulator_exit on SIGTERM, expected 0"

# --- size -----------------------------------------------------------------------------------------
step "image size"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$(((size + 500000) / 1000000))
echo "$IMAGE: $size bytes = $size_mb MB (goal: under $MAX_IMAGE_MB MB)"
((size_mb < MAX_IMAGE_MB)) || fail "the image is $size_mb MB, over $MAX_IMAGE_MB MB"

echo
echo "container test passed in $((SECONDS - START)) s"
