#!/usr/bin/env bash
# Vendors the pages' third-party assets into assets/vendor/ at exact versions, with their
# licences and a VERSIONS file. Run by hand when a version changes; `cargo build` never needs
# npm or a network (the files are committed and embedded in the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
UTRECHT=9.0.4        # @utrecht/component-library-css (EUPL-1.2), component CSS only
TOKENS=7.4.1         # @nl-design-system-unstable/voorbeeld-design-tokens (EUPL-1.2)
HTMX=2.0.11          # htmx.org (0BSD)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts \
  "@utrecht/component-library-css@$UTRECHT" \
  "@nl-design-system-unstable/voorbeeld-design-tokens@$TOKENS" \
  "htmx.org@$HTMX" >/dev/null)
out=assets/vendor
rm -rf "$out" && mkdir -p "$out/utrecht" "$out/voorbeeld-design-tokens" "$out/htmx"
m="$work/node_modules"
cp "$m/@utrecht/component-library-css/dist/index.css" "$out/utrecht/component-library.css"
cp "$m/@utrecht/component-library-css/LICENSE.md" "$out/utrecht/LICENSE.md"
cp "$m/@nl-design-system-unstable/voorbeeld-design-tokens/dist/theme.css" "$out/voorbeeld-design-tokens/theme.css"
cp "$m/@nl-design-system-unstable/voorbeeld-design-tokens/LICENSE.md" "$out/voorbeeld-design-tokens/LICENSE.md"
cp "$m/htmx.org/dist/htmx.min.js" "$out/htmx/htmx.min.js"
cp "$m/htmx.org/LICENSE" "$out/htmx/LICENSE"
{
  echo "# Vendored by scripts/vendor-assets.sh; do not edit by hand."
  echo "@utrecht/component-library-css $UTRECHT EUPL-1.2 utrecht/component-library.css"
  echo "@nl-design-system-unstable/voorbeeld-design-tokens $TOKENS EUPL-1.2 voorbeeld-design-tokens/theme.css"
  echo "htmx.org $HTMX 0BSD htmx/htmx.min.js"
  echo
  echo "# sha256"
  (cd "$out" && sha256sum utrecht/component-library.css voorbeeld-design-tokens/theme.css htmx/htmx.min.js)
} > "$out/VERSIONS"
echo "vendored into $out:"; cat "$out/VERSIONS"
