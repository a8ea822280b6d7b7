#!/usr/bin/env bash
# Builds the VS Code extension from a clean checkout: installs the locked
# dependencies, compiles the TypeScript and packages lsp/vscode/skippy.vsix;
# then, if kubeskippy is built, smoke-tests `kubeskippy lsp` through the
# client's JSON-RPC library.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "npm is missing: the extension needs Node.js 20 and npm" >&2; exit 1; }
npm ci --no-audit --no-fund
npm run compile
node out/test/grammar.js
npx --no-install vsce package --skip-license --allow-missing-repository -o skippy.vsix
test -s skippy.vsix
echo "built $(pwd)/skippy.vsix"

# The server through the client's JSON-RPC library, when the binary is built
# (CI builds it before this script runs).
bin="${KUBESKIPPY_BIN:-../../target/debug/kubeskippy}"
if [ -x "$bin" ]; then
  node out/test/smoke.js "$bin"
else
  echo "SKIPPED the smoke test: $bin is not built (run cargo build first)" >&2
fi
