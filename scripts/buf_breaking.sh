#!/usr/bin/env bash
# CI: `buf breaking` (rules: buf.yaml, FILE) of proto/ against the previous commit, so that nobody
# breaks callers' generated code by accident. BUF_BREAKING_AGAINST=<git ref> compares against
# another commit (e.g. origin/main, or HEAD for uncommitted changes).
# Skips, saying why, when that commit is not there (the first commit; a shallow clone that cannot
# be deepened) or has no buf.yaml yet.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=${BUF:-tools/node_modules/@bufbuild/buf-linux-x64/bin/buf}
AGAINST=${BUF_BREAKING_AGAINST:-HEAD~1}

has_commit() { git rev-parse -q --verify "$AGAINST^{commit}" >/dev/null; }

if ! has_commit && [[ $(git rev-parse --is-shallow-repository) == true ]]; then
  git fetch -q --deepen=1 2>/dev/null || true
fi
if ! has_commit; then
  echo "buf breaking: skipped: $AGAINST is not in this clone (first commit, or a shallow clone)"
  exit 0
fi
if ! git cat-file -e "$AGAINST:buf.yaml" 2>/dev/null; then
  echo "buf breaking: skipped: $AGAINST has no buf.yaml"
  exit 0
fi
# Exits 100 and names each break (file:line:column: what changed) when there is one.
"$BUF" breaking --against ".git#ref=$AGAINST"
echo "buf breaking: proto/ has no breaking change against $AGAINST ($(git rev-parse --short "$AGAINST"))"
