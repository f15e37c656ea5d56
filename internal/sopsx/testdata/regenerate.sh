#!/usr/bin/env bash
# regenerate.sh re-encrypts the plain fixtures with the real sops CLI (built
# by hack/tools.sh) for the test-only age keys under keys/, and writes what
# `sops --decrypt` makes of each file as its .golden. The keys are test
# fixtures, committed on purpose; nothing else may trust them.
#
# TestRealSOPS does the same at test time with fresh keys; these committed
# files serve the -short tests and seed the fuzz tests.
set -euo pipefail
cd "$(dirname "$0")"
root=$(git rev-parse --show-toplevel)
sops="$("$root/hack/tools.sh" --print-dir sops)/sops"
agekeygen="$("$root/hack/tools.sh" --print-dir age)/age-keygen"
home=$(mktemp -d); trap 'rm -rf "$home"' EXIT
export HOME=$home
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS XDG_CONFIG_HOME
for p in project-a project-b; do
  [[ -f keys/$p/key.txt ]] || { mkdir -p keys/$p; "$agekeygen" -o keys/$p/key.txt 2>/dev/null; }
done
a=$("$agekeygen" -y keys/project-a/key.txt)
b=$("$agekeygen" -y keys/project-b/key.txt)
enc() { # enc RECIPIENTS PLAIN OUT [sops flags...]
  local r=$1 in=$2 out=$3; shift 3
  "$sops" --disable-version-check encrypt --age "$r" "$@" "plain/$in" > "encrypted/$out"
  SOPS_AGE_KEY_FILE=keys/project-a/key.txt "$sops" --disable-version-check decrypt "encrypted/$out" > "encrypted/$out.golden"
}
mkdir -p encrypted
enc "$a,$b" secret.yaml secret.sops.yaml --encrypted-regex '^(data|stringData)$'
enc "$a,$b" multi.yaml multi.sops.yaml
enc "$a,$b" config.json config.sops.json
enc "$a,$b" app.env app.sops.env
enc "$a,$b" app.ini app.sops.ini
enc "$a,$b" blob.bin blob.sops.bin
enc "$a" secret.yaml only-a.sops.yaml --encrypted-regex '^(data|stringData)$'
