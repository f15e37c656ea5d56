// Package devenv starts the real parts sealsync is tried against off a
// cluster: the tools built by hack/tools.sh (Bitnami kubeseal, sops, age,
// the envtest control plane, Vault), an envtest API server with sealsync's
// CRDs ([StartEnv]), Vault dev servers ([StartVault]) and their audit logs
// ([ReadAuditLog]), and a Service the API server's proxy reaches
// ([ExposeService]).
//
// # Who uses it
//
// Every function returns an error and the package never imports testing,
// so that programs which are not tests (hack/demo, test/bench) link it
// without linking the testing package into a binary. Tests reach it
// through internal/testkit, which adds what needs a *testing.T: one control
// plane per package from TestMain, skipping under -short and failing the
// test when a tool is missing.
package devenv
