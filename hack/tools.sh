#!/usr/bin/env bash
# tools.sh builds the real peers and dev tools that sealsync's tests need into a
# cache outside the repository, from the Go module proxy alone:
#
#   ~/.cache/sealsync/tools/<name>-<version>/   (override with SEALSYNC_CACHE)
#
# Usage: hack/tools.sh [--print-dir NAME] [NAME...]
#   With no NAME it builds every tool in DEFAULT_TOOLS. Each tool is built at most
#   once: a stamp file holding the recipe's version is written after a successful
#   build and checked before the next, so a warm run only stats a few files.
#   --print-dir NAME prints the folder holding NAME's binaries (building it first).
#
# Peers are built in throwaway wrapper modules under the cache's build/ folder,
# never inside the repository, and their code is never committed.
#
# To add a tool: write build_<name> (it gets the destination folder in $dest and
# a scratch folder in $work), add "<name>=<version>" to VERSIONS and, if tests
# need it by default, to DEFAULT_TOOLS.
set -euo pipefail

CACHE="${SEALSYNC_CACHE:-$HOME/.cache/sealsync}"
TOOLS="$CACHE/tools"
BUILD="$CACHE/build"

declare -A VERSIONS=(
  [envtest]=1.37.1       # kube-apiserver from k8s.io/kubernetes, plus etcd below
  [kubeseal]=0.36.6      # Bitnami kubeseal + controller
  [sops]=3.13.3
  [age]=1.3.2
  [controller-gen]=0.23.0
  [staticcheck]=0.8.2
)
# etcd is built into envtest's folder; its version is part of envtest's stamp.
ETCD_VERSION=3.6.16
DEFAULT_TOOLS=(envtest kubeseal sops age controller-gen staticcheck)

export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN=local
log() { printf 'tools: %s\n' "$*" >&2; }

dir_of() { echo "$TOOLS/$1-${VERSIONS[$1]}"; }

# recipe_of names what a tool's stamp must match: its version, plus the etcd
# version for envtest.
recipe_of() {
  case $1 in
    envtest) echo "$1 ${VERSIONS[$1]} etcd $ETCD_VERSION" ;;
    *) echo "$1 ${VERSIONS[$1]}" ;;
  esac
}

# gobin_install DEST PKG@VERSION... installs plain `go install`-able commands.
gobin_install() {
  local dest=$1; shift
  GOBIN="$dest" go install "$@"
}

build_envtest() {
  local v=${VERSIONS[envtest]} ev=$ETCD_VERSION
  local minor=${v#*.}; minor=${minor%%.*}
  local staging="0.${v#*.}"
  # kube-apiserver: a wrapper module requiring k8s.io/kubernetes with its staging
  # replaces turned into published module versions.
  mkdir -p "$work/apiserver" && cd "$work/apiserver"
  cat > go.mod <<MOD
module sealsync.local/kube-apiserver

go 1.26

require k8s.io/kubernetes v$v
MOD
  go mod download k8s.io/kubernetes@v$v
  local kmod; kmod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$v.mod"
  {
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "$kmod" | grep '=> ./staging/' |
      awk -v sv="v$staging" '{print "\t" $1 " => " $1 " " sv}'
    echo ")"
  } >> go.mod
  cp "$(go env GOMODCACHE)/k8s.io/kubernetes@v$v/cmd/kube-apiserver/apiserver.go" main.go
  chmod u+w main.go
  go mod tidy
  local ld="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  go build -ldflags "-s -w $ld" -o "$dest/kube-apiserver" .
  # etcd: a wrapper main around etcdmain.
  mkdir -p "$work/etcd" && cd "$work/etcd"
  cat > go.mod <<MOD
module sealsync.local/etcd

go 1.26

require go.etcd.io/etcd/server/v3 v$ev
MOD
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod tidy
  go build -ldflags "-s -w" -o "$dest/etcd" .
}

build_kubeseal() {
  local v=${VERSIONS[kubeseal]}
  gobin_install "$dest" \
    "github.com/bitnami-labs/sealed-secrets/cmd/kubeseal@v$v" \
    "github.com/bitnami-labs/sealed-secrets/cmd/controller@v$v"
}

build_sops() { gobin_install "$dest" "github.com/getsops/sops/v3/cmd/sops@v${VERSIONS[sops]}"; }
build_age() { gobin_install "$dest" "filippo.io/age/cmd/...@v${VERSIONS[age]}"; }
build_controller-gen() { gobin_install "$dest" "sigs.k8s.io/controller-tools/cmd/controller-gen@v${VERSIONS[controller-gen]}"; }
build_staticcheck() { gobin_install "$dest" "honnef.co/go/tools/cmd/staticcheck@v${VERSIONS[staticcheck]}"; }

ensure() {
  local name=$1
  [[ -n "${VERSIONS[$name]:-}" ]] || { log "unknown tool $name"; exit 2; }
  local dest; dest=$(dir_of "$name")
  local stamp="$dest/.sealsync-stamp" recipe; recipe=$(recipe_of "$name")
  if [[ -f "$stamp" && "$(<"$stamp")" == "$recipe" ]]; then
    return 0
  fi
  # Test packages may ask for the same tool at once on a cold cache: one
  # builds, the others wait and then find the stamp.
  mkdir -p "$TOOLS"
  exec {lock}>"$TOOLS/.$name.lock"
  flock "$lock"
  if [[ -f "$stamp" && "$(<"$stamp")" == "$recipe" ]]; then
    exec {lock}>&-
    return 0
  fi
  log "building $name ${VERSIONS[$name]} into $dest"
  local start=$SECONDS
  rm -rf "$dest"; mkdir -p "$dest" "$BUILD"
  local work; work=$(mktemp -d "$BUILD/$name.XXXXXX")
  # Bash ignores `set -e` inside a subshell whose status is tested (`( … ) ||`),
  # so a failing step in the middle of a recipe would go unnoticed. Run the
  # recipe untested, with errexit off out here, and read its status afterwards.
  local rc
  set +e
  ( set -e; "build_$name" )
  rc=$?
  set -e
  if ((rc != 0)); then
    log "FAILED to build $name (exit $rc; scratch kept in $work)"
    rm -rf "$dest"
    exit 1
  fi
  rm -rf "$work"
  echo "$recipe" > "$stamp"
  exec {lock}>&-
  log "built $name ${VERSIONS[$name]} in $((SECONDS - start))s: $(cd "$dest" && ls | tr '\n' ' ')"
}

main() {
  if [[ "${1:-}" == "--print-dir" ]]; then
    ensure "$2" >&2
    dir_of "$2"
    return
  fi
  local names=("$@")
  [[ ${#names[@]} -gt 0 ]] || names=("${DEFAULT_TOOLS[@]}")
  local n
  for n in "${names[@]}"; do ensure "$n"; done
}

main "$@"
