#!/usr/bin/env bash
# regenerate.sh encrypts every file under sops-plain/ with the real sops
# CLI (built by hack/tools.sh) for the test-only age key keys/demo/key.txt,
# and writes it at the same path without the sops-plain/ prefix, inside the
# source trees the render tests use. The key is a test fixture, committed
# on purpose; nothing else may trust it. YAML manifests keep apiVersion,
# kind and metadata in clear, as Flux and the GitOps guides advise.
set -euo pipefail
cd "$(dirname "$0")"
root=$(git rev-parse --show-toplevel)
sops="$("$root/hack/tools.sh" --print-dir sops)/sops"
agekeygen="$("$root/hack/tools.sh" --print-dir age)/age-keygen"
home=$(mktemp -d); trap 'rm -rf "$home"' EXIT
export HOME=$home
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS XDG_CONFIG_HOME
recipient=$("$agekeygen" -y keys/demo/key.txt)
find sops-plain -type f | sort | while read -r plain; do
  out=${plain#sops-plain/}
  args=()
  if grep -q '^kind:' "$plain"; then args=(--encrypted-regex '^(data|stringData)$'); fi
  "$sops" --disable-version-check encrypt --age "$recipient" "${args[@]}" "$plain" > "$out"
done
