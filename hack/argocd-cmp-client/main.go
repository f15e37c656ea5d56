//go:build ignore

// Command argocd-cmp-client plays Argo CD's repo-server against a real
// argocd-cmp-server: it packs a repository with Argo CD's own stream code
// (util/cmp.SendRepoStream, the tarball and metadata the repo-server sends),
// builds the plugin environment the way the repo-server does (build env, then
// the Application's plugin env as ARGOCD_ENV_<NAME> after envsubst against the
// build env), optionally asks MatchRepository, then GenerateManifest, and
// prints the answer as JSON on stdout. Errors go to stderr with exit status 1.
//
// "argocd-cmp-client health -script F -object O" instead runs the Lua health
// script F on the object in O (YAML or JSON) with Argo CD's own Lua VM, as the
// application controller runs resource.customizations.health scripts, and
// prints the HealthStatus as JSON.
//
// It is not part of sealsync's module: hack/tools.sh copies it into the
// wrapper module that builds argocd-cmp-server (dropping the ignore build
// constraint that keeps it out of sealsync's own build and go mod tidy), so
// sealsync never imports Argo CD.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v3/cmpserver/apiclient"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/cmp"
	argolua "github.com/argoproj/argo-cd/v3/util/lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// result is what the client prints.
type result struct {
	Match     *match   `json:"match,omitempty"`
	Manifests []string `json:"manifests"`
}

type match struct {
	IsSupported        bool `json:"isSupported"`
	IsDiscoveryEnabled bool `json:"isDiscoveryEnabled"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "health" {
		if err := health(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var (
		socket, repo, app  string
		env, pluginEnv, ex list
		doMatch            bool
		timeout            time.Duration
	)
	flag.StringVar(&socket, "socket", "", "argocd-cmp-server socket path")
	flag.StringVar(&repo, "repo", "", "repository root")
	flag.StringVar(&app, "app-path", ".", "application path inside the repository")
	flag.Var(&env, "env", "build env entry NAME=VALUE (repeatable), as the repo-server sets ARGOCD_APP_*")
	flag.Var(&pluginEnv, "plugin-env", "Application spec.source.plugin.env entry NAME=VALUE (repeatable)")
	flag.Var(&ex, "exclude", "tar exclusion glob (repeatable), as reposerver.plugin.tar.exclusions")
	flag.BoolVar(&doMatch, "match", false, "call MatchRepository before GenerateManifest")
	flag.DurationVar(&timeout, "timeout", 60*time.Second, "request deadline, as the repo-server's")
	flag.Parse()
	if err := run(socket, repo, app, env, pluginEnv, ex, doMatch, timeout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(socket, repo, app string, env, pluginEnv, ex []string, doMatch bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full, err := pluginEnviron(env, pluginEnv)
	if err != nil {
		return err
	}
	closer, client, err := apiclient.NewConfigManagementPluginClientSet(socket).NewConfigManagementPluginClient()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closer.Close()
	repo, err = filepath.Abs(repo)
	if err != nil {
		return err
	}
	appPath := filepath.Join(repo, app)
	var out result
	if doMatch {
		s, err := client.MatchRepository(ctx)
		if err != nil {
			return fmt.Errorf("match: %w", err)
		}
		if err := cmp.SendRepoStream(ctx, appPath, repo, s, full, ex); err != nil {
			return fmt.Errorf("match: %w", err)
		}
		r, err := s.CloseAndRecv()
		if err != nil {
			return fmt.Errorf("match: %w", err)
		}
		out.Match = &match{IsSupported: r.GetIsSupported(), IsDiscoveryEnabled: r.GetIsDiscoveryEnabled()}
	}
	s, err := client.GenerateManifest(ctx)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := cmp.SendRepoStream(ctx, appPath, repo, s, full, ex); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	r, err := s.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	out.Manifests = r.GetManifests()
	return json.NewEncoder(os.Stdout).Encode(out)
}

// pluginEnviron mirrors reposerver/repository.getPluginParamEnvs: the build
// env as given, then each plugin env entry prefixed ARGOCD_ENV_ with its value
// envsubst'd against the build env.
func pluginEnviron(build, plugin []string) ([]string, error) {
	parsed := make(v1alpha1.Env, 0, len(build))
	for _, kv := range build {
		e, err := v1alpha1.NewEnvEntry(kv)
		if err != nil {
			return nil, fmt.Errorf("env %q: %w", kv, err)
		}
		parsed = append(parsed, e)
	}
	out := append([]string(nil), build...)
	for _, kv := range plugin {
		e, err := v1alpha1.NewEnvEntry(kv)
		if err != nil {
			return nil, fmt.Errorf("plugin env %q: %w", kv, err)
		}
		out = append(out, fmt.Sprintf("ARGOCD_ENV_%s=%s", e.Name, parsed.Envsubst(e.Value)))
	}
	return out, nil
}

// health runs a Lua health script on an object with Argo CD's VM (open
// libraries off, as for scripts from argocd-cm).
func health(args []string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	script := fs.String("script", "", "Lua health script file")
	object := fs.String("object", "", "object file, YAML or JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := os.ReadFile(*script)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(*object)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return err
	}
	st, err := argolua.VM{}.ExecuteHealthLua(&unstructured.Unstructured{Object: m}, string(s))
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}
