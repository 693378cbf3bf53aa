#!/usr/bin/env bash
# End to end from Python: generates stubs from proto/ with protoc and Debian's grpc_python_plugin,
# then runs client/python/call_every_rpc.py with Debian's python3-grpcio against kommo-grpc-server
# and kommo-emulator on 127.0.0.1. Usage: python_client_e2e.sh BIN_DIR SOURCE_DIR
# Exits 77 (ctest: skipped) when /usr/bin/python3 cannot import grpc: `make deps` installs it.
set -euo pipefail

BIN=$1
SRC=$2
# Debian's python3-grpcio is only visible to Debian's Python (toolchain.md §5).
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null; then
  echo "SKIP: $PYTHON cannot import grpc (apt-get install python3-grpcio python3-protobuf)"
  exit 77
fi

source "$(dirname "$0")/services.sh"
mkdir -p "$WORK/py"
protoc -I "$SRC/proto" -I "$SRC/proto/third_party" \
  --python_out="$WORK/py" --grpc_out="$WORK/py" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
  $(cd "$SRC/proto" && ls kommo/v1/*.proto) \
  google/rpc/status.proto google/rpc/error_details.proto

start_services "$BIN"
PYTHONPATH="$WORK/py" "$PYTHON" "$SRC/client/python/call_every_rpc.py" "$TARGET"
