#!/usr/bin/env bash
# tools.sh builds the real peers and dev tools that sealsync's tests need into a
# cache outside the repository, from the Go module proxy alone:
#
#   ~/.cache/sealsync/tools/<name>-<version>/   (override with SEALSYNC_CACHE)
#
# Usage: hack/tools.sh [--print-dir NAME | --cached NAME] [NAME...]
#   With no NAME it builds every tool in DEFAULT_TOOLS. Each tool is built at most
#   once: a stamp file holding the recipe's version is written after a successful
#   build and checked before the next, so a warm run only stats a few files.
#   --print-dir NAME prints the folder holding NAME's binaries (building it first).
#   --cached NAME prints it only if NAME is already built, else exits 1.
#
# Peers are built in throwaway wrapper modules under the cache's build/ folder,
# never inside the repository, and their code is never committed.
#
# To add a tool: write build_<name> (it gets the destination folder in $dest and
# a scratch folder in $work), add "<name>=<version>" to VERSIONS and, if tests
# need it by default, to DEFAULT_TOOLS. A tool that lives outside the cache (a
# Debian package) also writes check_<name>, which ensure runs on a warm cache
# to prove the stamp still tells the truth.
set -euo pipefail

CACHE="${SEALSYNC_CACHE:-$HOME/.cache/sealsync}"
TOOLS="$CACHE/tools"
BUILD="$CACHE/build"

declare -A VERSIONS=(
  [envtest]=1.37.1       # kube-apiserver from k8s.io/kubernetes, plus etcd below
  [kubeseal]=0.36.6      # Bitnami kubeseal + controller
  [eso-chart]=0.16.2     # ESO's Helm chart from its module zip (the newest version the proxy serves whole)
  [sops]=3.13.3
  [age]=1.3.2
  [controller-gen]=0.23.0
  [staticcheck]=0.8.2
  [vault]=1.14.2         # last MPL-2.0 Vault; 1.14.10+ and 1.15+ are BUSL
  [argocd-cmp-server]=3.5.2  # Argo CD's plugin sidecar server + our repo-server stand-in
  [awscli]=2.9.19        # Debian bookworm's awscli (botocore), a client of the AWS test server
)
# etcd is built into envtest's folder; its version is part of envtest's stamp.
ETCD_VERSION=3.6.16
# Vault's sdk is built from this published version with one check patched out
# (see build_vault); both are part of vault's stamp.
VAULT_SDK_VERSION=0.9.2
VAULT_SDK_PATCH=no-create-without-existence-check-panic
# Since v3.4 Argo CD's gitops-engine is a nested module that its module zip
# does not hold (its go.mod replaces it with ./gitops-engine); this is the
# published pseudo-version that v3.5.2 builds with.
ARGOCD_GITOPS_ENGINE=v0.0.0-20260827090335-e258ee23c3e5
# The repo-server stand-in is our code, built inside the Argo CD wrapper so
# sealsync's own module never imports Argo CD.
ARGOCD_CMP_CLIENT_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/argocd-cmp-client/main.go"
DEFAULT_TOOLS=(envtest kubeseal eso-chart sops age controller-gen staticcheck vault awscli argocd-cmp-server)

export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN=local
log() { printf 'tools: %s\n' "$*" >&2; }

dir_of() { echo "$TOOLS/$1-${VERSIONS[$1]}"; }

# recipe_of names what a tool's stamp must match: its version, plus the etcd
# version for envtest.
recipe_of() {
  case $1 in
    envtest) echo "$1 ${VERSIONS[$1]} etcd $ETCD_VERSION" ;;
    vault) echo "$1 ${VERSIONS[$1]} sdk $VAULT_SDK_VERSION $VAULT_SDK_PATCH" ;;
    argocd-cmp-server) echo "$1 ${VERSIONS[$1]} gitops-engine $ARGOCD_GITOPS_ENGINE client $(sha256sum < "$ARGOCD_CMP_CLIENT_SRC" | cut -c1-16)" ;;
    awscli) echo "$1 ${VERSIONS[$1]} debian" ;;
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

# build_eso-chart downloads ESO's module into the Go module cache for the
# Helm chart it holds (deploy/charts/external-secrets), which the migration
# tests render; nothing is built. v0.16.2 is the newest the module proxy
# serves whole (the v1 zips are refused). The tool's folder holds a link to
# the chart; check_eso-chart re-checks it, since cleaning the module cache
# leaves the stamp behind.
build_eso-chart() {
  local v=${VERSIONS[eso-chart]} dir
  dir=$(cd "$work" && go mod download -json "github.com/external-secrets/external-secrets@v$v" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -f $dir/deploy/charts/external-secrets/Chart.yaml ]] || { log "eso-chart: no chart under '$dir'"; return 1; }
  ln -sfn "$dir/deploy/charts/external-secrets" "$dest/external-secrets"
}
check_eso-chart() { [[ -f "$1/external-secrets/Chart.yaml" ]]; }

build_sops() { gobin_install "$dest" "github.com/getsops/sops/v3/cmd/sops@v${VERSIONS[sops]}"; }
build_age() { gobin_install "$dest" "filippo.io/age/cmd/...@v${VERSIONS[age]}"; }
build_controller-gen() { gobin_install "$dest" "sigs.k8s.io/controller-tools/cmd/controller-gen@v${VERSIONS[controller-gen]}"; }
build_staticcheck() { gobin_install "$dest" "honnef.co/go/tools/cmd/staticcheck@v${VERSIONS[staticcheck]}"; }

# build_vault builds the Vault server for dev-mode tests. Vault's go.mod
# replaces its sdk with ./sdk, a folder its module zip does not hold, so the
# dependency falls back to the sdk version the go.mod requires. That published
# sdk is newer than the tree Vault was released from: its framework panics at
# dev-server start ("Pattern … defines a CreateOperation but no
# ExistenceCheck") on builtin backends the release's own sdk accepted. The
# wrapper copies that sdk, switches the one check off and replaces the sdk
# with the copy. Pseudo-versions of the sdk at the release commit are not
# served by the proxy here.
build_vault() {
  local v=${VERSIONS[vault]} sv=$VAULT_SDK_VERSION
  mkdir -p "$work/vault" && cd "$work/vault"
  log "vault: wrapper module in $work/vault, sdk v$sv patched ($VAULT_SDK_PATCH)"
  # The required sdk must be the one we patch, or the replace silently
  # swaps in a different version.
  go mod download "github.com/hashicorp/vault@v$v"
  local vmod; vmod="$(go env GOMODCACHE)/cache/download/github.com/hashicorp/vault/@v/v$v.mod"
  grep -qE "^[[:space:]]*github.com/hashicorp/vault/sdk v$sv\$" "$vmod" || {
    log "vault v$v no longer requires sdk v$sv; update VAULT_SDK_VERSION"; return 1; }
  go mod download "github.com/hashicorp/vault/sdk@v$sv"
  cp -r "$(go env GOMODCACHE)/github.com/hashicorp/vault/sdk@v$sv" sdk
  chmod -R u+w sdk
  # Anchor on the comment naming the check so the edit lands on its own `if`
  # and nowhere else, then prove it landed exactly once: a changed sdk fails
  # here rather than at dev-server start.
  local f=sdk/framework/backend.go
  sed -i '/Detect the coding error of attempting to define a CreateOperation without defining an ExistenceCheck/{n;s|^\(\t*\)if p\.ExistenceCheck == nil {$|\1if false \&\& p.ExistenceCheck == nil { // sealsync: off, as in the sdk Vault was released with|}' "$f"
  [[ $(grep -cF 'if false && p.ExistenceCheck == nil {' "$f") == 1 ]] || {
    log "vault: the ExistenceCheck panic was not found in sdk v$sv $f; update the patch"; return 1; }
  # Vault 1.14 links a driver whose embedded CA certificates have negative
  # serial numbers; Go 1.23+ refuses to parse them at init without the godebug.
  cat > go.mod <<MOD
module sealsync.local/vault

go 1.24

godebug x509negativeserial=1

replace github.com/hashicorp/vault/sdk => ./sdk
MOD
  go get -tool "github.com/hashicorp/vault@v$v"
  go build -ldflags "-s -w" -o "$dest/vault" github.com/hashicorp/vault
  local got; got=$("$dest/vault" version)
  log "vault: $got"
  [[ $got == "Vault v$v" || $got == "Vault v$v"[\ ,]* ]] || { log "vault: built binary reports $got, want v$v"; return 1; }
}

# build_argocd-cmp-server builds Argo CD's config-management-plugin server
# (the repo-server sidecar that runs our plugin.yaml) and argocd-cmp-client,
# a small gRPC client that sends a repository the way the repo-server does.
# The wrapper copies argo-cd's own replace block verbatim (it pins k8s.io/* to
# the versions Argo CD builds with) and points the nested gitops-engine module
# at its published pseudo-version.
build_argocd-cmp-server() {
  local v=${VERSIONS[argocd-cmp-server]} m=github.com/argoproj/argo-cd/v3
  mkdir -p "$work/argocd" && cd "$work/argocd"
  go mod download "$m@v$v"
  local amod; amod="$(go env GOMODCACHE)/cache/download/$m/@v/v$v.mod"
  local gover; gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$amod")
  {
    printf 'module sealsync.local/argocd\n\ngo %s\n\nrequire %s v%s\n\n' "$gover" "$m" "$v"
    sed -n '/^replace (/,/^)/p' "$amod"
    printf '\nreplace github.com/argoproj/argo-cd/gitops-engine => github.com/argoproj/argo-cd/gitops-engine %s\n' "$ARGOCD_GITOPS_ENGINE"
  } > go.mod
  mkdir -p server client
  cat > server/main.go <<'GO'
package main

import (
	"os"

	cmpserver "github.com/argoproj/argo-cd/v3/cmd/argocd-cmp-server/commands"
)

func main() {
	if err := cmpserver.NewCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
GO
  sed '/^\/\/go:build ignore$/d' "$ARGOCD_CMP_CLIENT_SRC" > client/main.go
  go mod tidy
  local ld="-s -w -X $m/common.version=$v"
  go build -ldflags "$ld" -o "$dest/argocd-cmp-server" ./server
  go build -ldflags "$ld" -o "$dest/argocd-cmp-client" ./client
}

# build_awscli installs Debian's awscli package, the AWS CLI v2 on botocore,
# which the AWS test server's tests use as a client nobody here wrote. It is
# not built: the Go module proxy does not serve it and PyPI is not reachable,
# but Debian's packages are. Its folder in the cache holds only a link to
# /usr/bin/aws, so --print-dir names a folder with `aws` in it as for every
# other tool, and never a different `aws` that happens to be on PATH (images
# with a pip-installed AWS CLI 1.x have one). check_awscli re-checks the link
# on every warm run, since removing the package leaves the stamp behind.
build_awscli() {
  local v=${VERSIONS[awscli]} sudo=()
  command -v apt-get >/dev/null || { log "awscli: needs apt-get (a Debian or Ubuntu machine)"; return 1; }
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || { log "awscli: apt-get install needs root or sudo"; return 1; }
    sudo=(sudo)
  fi
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
  if ! /usr/bin/aws --version >/dev/null 2>&1; then
    # An image may ship without package lists; fetch them only then.
    "${apt[@]}" install -y --no-install-recommends awscli ||
      { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends awscli; }
  fi
  local got; got=$(/usr/bin/aws --version 2>&1)
  log "awscli: $got"
  [[ $got == "aws-cli/$v "* ]] || { log "awscli: /usr/bin/aws reports $got, want aws-cli/$v; update VERSIONS"; return 1; }
  ln -sfn /usr/bin/aws "$dest/aws"
}
check_awscli() { [[ -x "$1/aws" ]]; }

# fresh reports whether NAME's stamp matches its recipe and, for a tool with
# a check_NAME, whether the check passes.
fresh() {
  local name=$1 dest; dest=$(dir_of "$1")
  [[ -f "$dest/.sealsync-stamp" && "$(<"$dest/.sealsync-stamp")" == "$(recipe_of "$name")" ]] || return 1
  if declare -F "check_$name" >/dev/null; then "check_$name" "$dest" || return 1; fi
}

ensure() {
  local name=$1
  [[ -n "${VERSIONS[$name]:-}" ]] || { log "unknown tool $name"; exit 2; }
  local dest; dest=$(dir_of "$name")
  local stamp="$dest/.sealsync-stamp" recipe; recipe=$(recipe_of "$name")
  if fresh "$name"; then
    return 0
  fi
  # Test packages may ask for the same tool at once on a cold cache: one
  # builds, the others wait and then find the stamp.
  mkdir -p "$TOOLS"
  exec {lock}>"$TOOLS/.$name.lock"
  flock "$lock"
  if fresh "$name"; then
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
  if [[ "${1:-}" == "--cached" ]]; then
    # Prints NAME's folder if it is already built; exits 1 without building.
    [[ -n "${VERSIONS[$2]:-}" ]] || exit 1
    fresh "$2" || exit 1
    dir_of "$2"
    return
  fi
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
