#!/usr/bin/env bash
# check-generate.sh regenerates deepcopy code and CRDs into a scratch copy of
# the tree and fails if anything differs from what is committed, so
# `make generate` stays reproducible.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -C "$root" --exclude=./bin --exclude=./.git -cf - . | tar -C "$scratch" -xf -
(cd "$scratch" && make --no-print-directory -s generate TOOLS_SH="$root/hack/tools.sh" >/dev/null)
if ! diff -ru "$root/api" "$scratch/api" || ! diff -ru "$root/config/crd" "$scratch/config/crd" ||
  ! diff -ru "$root/charts/sealsync/files" "$scratch/charts/sealsync/files"; then
  echo "generated files are out of date: run make generate" >&2
  exit 1
fi
echo "generated files are up to date"
