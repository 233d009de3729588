#!/usr/bin/env bash
# Copies the Swagger UI and ReDoc browser bundles, with their licences, from their npm packages
# into api/static/ so that /docs and /redoc load nothing from the internet (LGWAN has none).
# The files are committed; run this only to move to another version, then commit the result.
set -euo pipefail
SWAGGER_UI=5.35.0
REDOC=2.5.4
cd "$(dirname "$0")/.."
dest=api/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$SWAGGER_UI" "redoc@$REDOC" >/dev/null)
mkdir -p "$work/swagger" "$work/redoc"
tar xzf "$work/swagger-ui-dist-$SWAGGER_UI.tgz" -C "$work/swagger"
tar xzf "$work/redoc-$REDOC.tgz" -C "$work/redoc"
rm -rf "$dest/swagger-ui" "$dest/redoc"
mkdir -p "$dest/swagger-ui" "$dest/redoc"
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png \
         LICENSE NOTICE; do
  cp "$work/swagger/package/$f" "$dest/swagger-ui/$f"
done
for f in bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt LICENSE; do
  cp "$work/redoc/package/$f" "$dest/redoc/$(basename "$f")"
done
{
  echo "# Vendored browser assets of /docs and /redoc"
  echo
  echo "Copied unchanged by \`scripts/vendor-docs-assets.sh\` from the npm registry packages"
  echo "\`swagger-ui-dist@$SWAGGER_UI\` (Apache-2.0, see swagger-ui/LICENSE and NOTICE) and"
  echo "\`redoc@$REDOC\` (MIT, see redoc/LICENSE). The bundled third-party licences are in the"
  echo "\`*.LICENSE.txt\` files. Source maps are not vendored."
  echo
  echo "| file | sha256 |"
  echo "|---|---|"
  (cd "$dest" && find swagger-ui redoc -type f | sort | while read -r f; do
     echo "| $f | $(sha256sum "$f" | cut -d' ' -f1) |"
   done)
} > "$dest/VENDORED.md"
echo "vendored swagger-ui-dist $SWAGGER_UI and redoc $REDOC into $dest"
