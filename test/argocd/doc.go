// Package argocd runs sealsync's Argo CD config-management plugin as Argo
// CD runs it: config/argocd/plugin.yaml in the real argocd-cmp-server
// v3.5.2 (built by hack/tools.sh), with kubeseal on the sidecar's PATH, and
// a gRPC client that sends a repository the way Argo CD's repo-server
// does (Argo CD's own stream code, hack/argocd-cmp-client). Placeholders
// are read from a real Vault dev server, SOPS fixtures are encrypted by
// the real sops CLI (testdata/regenerate-examples.sh), and sealed output
// is opened by Bitnami's own kubeseal. The tests also render every overlay
// of examples/gitops-repo, build config/argocd as a Kustomize component
// and run its Lua health checks in Argo CD's Lua VM. Reference mode's
// ExternalSecrets are applied on an envtest control plane (started on
// first use) and synced from the real Vault by sealsync's controller, and
// compared byte for byte with what resolve mode writes.
//
// Everything here fails when a tool is missing; only -short skips it.
package argocd
