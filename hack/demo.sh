#!/usr/bin/env bash
# demo.sh is `make demo`. It runs from the repository root after `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./hack/demo
