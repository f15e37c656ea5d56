#!/usr/bin/env bash
# regenerate-examples.sh encrypts every file under gitops-plain/ with the
# real sops CLI (built by hack/tools.sh), by the creation rules of
# examples/gitops-repo/.sops.yaml, into the same path under
# examples/gitops-repo/. The example project's private key is
# age/team-web/key.txt here: a test fixture, committed on purpose, that
# nothing else may trust. A real repository has no plain copies: people
# run `sops edit` on the encrypted files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
sops="$("$root/hack/tools.sh" --print-dir sops)/sops"
home=$(mktemp -d); trap 'rm -rf "$home"' EXIT
export HOME=$home
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS XDG_CONFIG_HOME
cd "$root/examples/gitops-repo"
(cd "$here/gitops-plain" && find . -type f | sort) | while read -r f; do
  f=${f#./}
  "$sops" --disable-version-check encrypt --filename-override "$f" "$here/gitops-plain/$f" > "$f"
done
