// Command bench measures sealsync against its real peers on a real API
// server. It is a benchmark command, not a test: it prints figures and
// judges them against the goals of the issue that asked for them, and
// `make bench` runs it after the Go benchmarks.
//
//	go run ./test/bench unseal [-skip-slow] [-o FILE] [-profile DIR]
//	go run ./test/bench eso [-cycles N] [-o FILE] [-controller-flags FLAGS]
//	go run ./test/bench argocd [-runs N] [-o FILE]
//	go run ./test/bench aws [-cycles N] [-batch=false] [-o FILE] [-controller-flags FLAGS]
//
// # Subcommands
//
// unseal starts one envtest API server, creates 500 SealedSecrets sealed
// with the oldest of twelve keys and times the sealsync and Bitnami
// controllers turning them into Secrets, against a floor measured in the
// same run, then compares their memory with and without 20,000 unrelated
// Secrets in the cluster. See unseal.go.
//
// eso starts one envtest API server and a Vault dev server, creates 1,000
// ExternalSecrets in 10 namespaces (2 refs each, drawn from 100 Vault
// paths, one AppRole SecretStore per namespace, refreshInterval 1m) and
// measures our controller syncing them: time to all Ready, Vault logins
// and reads per refresh interval (from Vault's file audit log), the time
// a new ExternalSecret created between refresh slots takes to Ready, and
// the controller's memory and CPU. See eso.go.
//
// argocd renders one application of 200 SOPS-encrypted Secrets and 500
// placeholders over 50 Vault paths through `kubeseal argocd generate`, as
// the Argo CD plugin's sidecar runs it, and times it beside `sops
// --decrypt` once per file and one Vault read per placeholder; then the
// 500 placeholders alone in resolve and in reference mode (a sidecar with
// no store credentials, its Vault requests counted). See argocd.go.
// aws starts one envtest API server and sealsync's in-memory AWS
// (internal/awstest), creates 500 ExternalSecrets in 5 namespaces (2 refs
// each, of 200 Secrets Manager secrets, one SecretStore per namespace with
// static keys and an assumed role, refreshInterval 1m) and counts the AWS
// requests per refresh interval by kind (BatchGetSecretValue,
// GetSecretValue, STS), the time to all Ready and a new ExternalSecret's
// time to Ready between slots. -batch=false runs the controller with
// batching off, for comparison. See aws.go.
//
// # Layout
//
// Each subcommand lives in its own file; what any of them may need is
// shared: cluster.go (the API server and clients; Vault dev servers come
// from internal/devenv), process.go (building and running a
// controller binary and reading its CPU and memory from /proc), watch.go
// (waiting for objects with a watch), bitnami.go (running Bitnami's
// controller outside a cluster), cycles.go (the flags, counting windows
// and report output of the ExternalSecret subcommands) and report.go
// (markdown tables). The AWS test server comes from internal/awstest.
//
// # Cleanup
//
// Every controller process, Vault and the API server are stopped when the
// command ends, also on Ctrl-C (a second Ctrl-C exits at once); controller
// and Vault processes also die with the command, through PR_SET_PDEATHSIG.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// subcommands maps each subcommand to its entry point, which gets the
// arguments after its name.
var subcommands = map[string]struct {
	run     func(ctx context.Context, c *cleanups, args []string) error
	summary string
}{
	"unseal": {runUnseal, "time 500 SealedSecrets unsealed by sealsync and Bitnami's controller; compare memory"},
	"eso":    {runESO, "sync 1,000 ExternalSecrets from Vault; count Vault logins and reads per refresh cycle"},
	"argocd": {runArgoCD, "render 200 SOPS Secrets and 500 Vault placeholders through kubeseal argocd generate; beside sops --decrypt per file; the placeholders alone in resolve and reference mode"},
	"aws":    {runAWS, "sync 500 ExternalSecrets from AWS Secrets Manager (test server); count AWS calls per refresh cycle"},
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage()
		return 2
	}
	sub, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: unknown subcommand %q\n", args[0])
		usage()
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// Restore the default action: a second Ctrl-C ends the command
		// even if cleanup hangs.
		stop()
	}()
	c := &cleanups{}
	err := sub.run(ctx, c, args[1:])
	c.run()
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 2
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		return 130
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./test/bench SUBCOMMAND [flags]\n\nsubcommands:")
	for name, s := range subcommands {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, s.summary)
	}
}

// cleanups are undo steps run last-in first-out when the command ends,
// however it ends.
type cleanups struct{ fns []func() }

// add registers f to run at the end.
func (c *cleanups) add(f func()) { c.fns = append(c.fns, f) }

func (c *cleanups) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}
