#!/usr/bin/env bash
# build.sh - builds the dashboard's assets into ../dashboard/dist, which
# package dashboard embeds: npm ci (the versions of package-lock.json),
# then esbuild bundles and minifies src/main.js with its CSS. The asset
# names carry a hash of their content, so that they may be cached for
# good; index.html names them. Run by `go generate ./dashboard`.
set -euo pipefail
cd "$(dirname "$0")"
OUT=../dashboard/dist
npm ci --no-audit --no-fund --loglevel=error
rm -rf "$OUT"
mkdir -p "$OUT/assets"
./node_modules/.bin/esbuild src/main.js --bundle --minify --format=esm --target=es2020 \
	--entry-names='[name]-[hash]' --outdir="$OUT/assets" --legal-comments=eof --log-level=warning
fav=assets/favicon-$(sha256sum src/favicon.svg | cut -c1-8).svg
cp src/favicon.svg "$OUT/$fav"
js=$(cd "$OUT" && ls assets/main-*.js)
css=$(cd "$OUT" && ls assets/main-*.css)
sed -e "s|{{js}}|$js|" -e "s|{{css}}|$css|" -e "s|{{favicon}}|$fav|" src/index.html >"$OUT/index.html"
(cd "$OUT" && ls -l index.html assets/)
