#!/usr/bin/env bash
# CI: the installed KommoGrpc package works for a project of its own.
#  1. `cmake --install BUILD_DIR` into a temporary prefix, and check what it holds;
#  2. configure and build each example (client/examples/lead_qualification, customer_inquiry)
#     against that prefix only, in a build tree of its own, and run its unit test (the installed
#     gRPC mocks);
#  3. run lead_qualification's flow against kommo-grpc-server and kommo-emulator from
#     BUILD_DIR/bin on 127.0.0.1 (port 0): twice, so the second run finds the contact the first
#     one created;
#  4. run customer_inquiry's flows (tests/client/customer_inquiry_e2e.sh, which starts its own
#     server and emulator) with the binary built against the prefix.
# Usage: scripts/check_client_package.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=$(cd "${1:-build}" && pwd)
EXAMPLES=(client/examples/lead_qualification client/examples/customer_inquiry)

source tests/client/services.sh  # WORK, start_services, stops them on exit
PREFIX=$WORK/prefix

echo "--- cmake --install $BUILD_DIR --prefix $PREFIX"
cmake --install "$BUILD_DIR" --prefix "$PREFIX" >"$WORK/install.log"
for file in lib/cmake/KommoGrpc/KommoGrpcConfig.cmake lib/cmake/KommoGrpc/KommoGrpcTargets.cmake \
            lib/libkommo_grpc_client.a lib/libkommo_proto.a \
            include/kommo/client/channel.h include/kommo/client/errors.h \
            include/kommo/v1/lead_service.grpc.pb.h include/kommo/v1/lead_service_mock.grpc.pb.h \
            include/kommo/v1/contact_service_mock.grpc.pb.h include/kommo/v1/note_service.grpc.pb.h \
            include/kommo/v1/note_service_mock.grpc.pb.h include/google/rpc/error_details.pb.h \
            share/kommo-grpc/proto/kommo/v1/lead_service.proto \
            share/kommo-grpc/proto/kommo/v1/note_service.proto \
            share/kommo-grpc/proto/google/rpc/status.proto bin/kommo-cli; do
  [[ -f $PREFIX/$file ]] || { echo "FAIL: the install lacks $file"; exit 1; }
done
echo "installed $(grep -c -- '-- Installing' "$WORK/install.log") files"

for example in "${EXAMPLES[@]}"; do
  name=$(basename "$example")
  echo "--- configure and build $example against the prefix"
  cmake -S "$example" -B "$WORK/$name" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/configure-$name.log" ||
    { cat "$WORK/configure-$name.log"; exit 1; }
  cmake --build "$WORK/$name" -j "$(nproc)"
  # The example must see the installed headers only, never the build tree's.
  if grep -q "$BUILD_DIR" "$WORK/$name/build.ninja"; then
    echo "FAIL: the build of $example refers to $BUILD_DIR"
    exit 1
  fi
  ctest --test-dir "$WORK/$name" --output-on-failure
done

echo "--- run lead_qualification's flow against kommo-grpc-server + kommo-emulator"
start_services "$BUILD_DIR/bin"
run_flow() {
  "$WORK/lead_qualification/lead_qualification" --target="$TARGET" --email=ann.lee@example.com \
    --name="Ann Lee" --phone="+1 555 0100" --lead_name="$1" --price=1500 \
    --responsible_user_id=8000001 --qualified_status_id=60000003
}
first=$(run_flow "Chat: pricing question")
echo "$first"
second=$(run_flow "Chat: follow-up")
echo "$second"
contact=$(sed -nE 's/^contact ([0-9]+) created$/\1/p' <<<"$first")
[[ -n $contact ]] || { echo "FAIL: the first run did not create the contact"; exit 1; }
[[ $second == *"contact $contact found"* ]] ||
  { echo "FAIL: the second run did not find contact $contact"; exit 1; }
for out in "$first" "$second"; do
  [[ $out == *"linked to contacts $contact, pipeline 7000001, stage 60000003"* ]] ||
    { echo "FAIL: the lead is not linked and moved: $out"; exit 1; }
done

echo "--- run customer_inquiry's flows against kommo-grpc-server + kommo-emulator (its own pair)"
tests/client/customer_inquiry_e2e.sh "$BUILD_DIR/bin" "$WORK/customer_inquiry/customer_inquiry"
echo "client package: OK"
