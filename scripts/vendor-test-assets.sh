#!/usr/bin/env bash
# Copies axe-core (the accessibility rules engine the console's browser tests inject into each
# page) with its licence from its npm package into tests/console/vendor/, so the tests load
# nothing from the internet. The files are committed; run this only to move to another
# version, then commit the result.
set -euo pipefail
AXE_CORE=4.14.1
cd "$(dirname "$0")/.."
dest=tests/console/vendor/axe-core
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$AXE_CORE" >/dev/null)
tar xzf "$work/axe-core-$AXE_CORE.tgz" -C "$work"
rm -rf "$dest"
mkdir -p "$dest"
cp "$work/package/axe.min.js" "$work/package/LICENSE" "$dest/"
{
  echo "# Vendored axe-core"
  echo
  echo "Copied unchanged by \`scripts/vendor-test-assets.sh\` from the npm registry package"
  echo "\`axe-core@$AXE_CORE\` (MPL-2.0, see LICENSE). Used only by tests/console/test_a11y.py."
  echo
  echo "| file | sha256 |"
  echo "|---|---|"
  (cd "$dest" && for f in axe.min.js LICENSE; do echo "| $f | $(sha256sum "$f" | cut -d' ' -f1) |"; done)
} > "$dest/VENDORED.md"
echo "vendored axe-core $AXE_CORE into $dest"
