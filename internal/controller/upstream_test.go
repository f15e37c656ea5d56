package controller

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/pflag"
)

// upstreamFlag is one line of testdata/upstream-flags.txt.
type upstreamFlag struct{ tool, name, kind string }

func readUpstreamFlags(t *testing.T) []upstreamFlag {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "upstream-flags.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []upstreamFlag
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("bad line %q", line)
		}
		out = append(out, upstreamFlag{fields[0], fields[1], fields[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 70 {
		t.Fatalf("only %d upstream flags read", len(out))
	}
	return out
}

// sampleValues are values the operator might give the string flags;
// the other kinds take a sample of their type.
var sampleValues = map[string]string{
	"key-cutoff-time": "Mon, 02 Jan 2006 15:04:05 -0700", "key-order-priority": "SecretCreationTimestamp",
	"log-level": "ERROR", "log-format": "json", "loglevel": "debug", "zap-time-encoding": "iso8601",
	"label-selector": "team=a", "privatekey-labels": "a=b", "privatekey-annotations": "a=b",
	"listen-addr": ":9080", "listen-metrics-addr": ":9081", "metrics-addr": ":9090", "live-addr": ":9082",
	"template-left-delimiter": "{{", "template-right-delimiter": "}}", "key-size": "3072",
}

// companions are flags that upstream too needs another to start.
var companions = map[string][]string{"metrics-auth": {"--metrics-secure"}}

func sample(fl upstreamFlag) string {
	if v, ok := sampleValues[fl.name]; ok {
		return v
	}
	switch fl.kind {
	case "bool":
		return "true"
	case "int":
		return "3"
	case "float":
		return "20"
	case "duration":
		return "90s"
	}
	return "x"
}

// parse parses args as cmd/controller does and returns the flags and
// their options.
func parse(t *testing.T, args ...string) (*Flags, Options, error) {
	t.Helper()
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, Options{}, err
	}
	o, err := f.Options("sealsync")
	return f, o, err
}

// TestUpstreamFlags: every controller flag of Bitnami's and ESO's (the
// operator's arguments) parses and starts the controller's options, and
// docs/compatibility.md says what each does here.
func TestUpstreamFlags(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## Upstream controller flags")
	if !ok {
		t.Fatal("docs/compatibility.md has no section \"## Upstream controller flags\"")
	}
	for _, fl := range readUpstreamFlags(t) {
		t.Run(fl.tool+"/"+fl.name, func(t *testing.T) {
			if _, _, err := parse(t, append(companions[fl.name], "--"+fl.name+"="+sample(fl))...); err != nil {
				t.Errorf("--%s=%s: %v", fl.name, sample(fl), err)
			}
			if fl.kind == "bool" {
				if _, _, err := parse(t, append(companions[fl.name], "--"+fl.name)...); err != nil {
					t.Errorf("--%s: %v", fl.name, err)
				}
			}
			if !strings.Contains(table, "`--"+fl.name+"`") {
				t.Errorf("docs/compatibility.md: --%s is not in the upstream flag table", fl.name)
			}
		})
	}
}

// TestUpstreamFlagMeaning: each upstream flag that has a meaning here
// sets the option it should (the operator's arguments).
func TestUpstreamFlagMeaning(t *testing.T) {
	tests := []struct {
		args  []string
		check func(*Flags, Options) bool
	}{
		// ESO's.
		{[]string{"--metrics-addr=:9090"}, func(_ *Flags, o Options) bool { return o.MetricsAddr == ":9090" && o.Server.Addr == ":8080" }},
		{[]string{"--metrics-secure", "--metrics-cert-dir=/etc/tls", "--metrics-cert-name=c.pem", "--metrics-key-name=k.pem"}, func(_ *Flags, o Options) bool {
			return o.Metrics == MetricsOptions{Secure: true, CertDir: "/etc/tls", CertName: "c.pem", KeyName: "k.pem"}
		}},
		{[]string{"--metrics-secure", "--metrics-auth"}, func(_ *Flags, o Options) bool { return o.Metrics.Auth && o.Metrics.Secure }},
		{[]string{"--metrics-secure", "--enable-http2"}, func(_ *Flags, o Options) bool { return o.Metrics.HTTP2 }},
		{[]string{"--controller-class=team-a"}, func(_ *Flags, o Options) bool { return o.ES.ControllerClass == "team-a" }},
		{[]string{"--enable-leader-election=false"}, func(_ *Flags, o Options) bool { return !o.LeaderElection }},
		{[]string{"--leader-election-id=external-secrets-controller"}, func(_ *Flags, o Options) bool { return o.LeaderElectionID == "external-secrets-controller" }},
		{[]string{"--leader-election-lease-duration=30s", "--leader-election-renew-deadline=20s", "--leader-election-retry-period=4s"}, func(_ *Flags, o Options) bool {
			return o.LeaseDuration == 30*time.Second && o.RenewDeadline == 20*time.Second && o.RetryPeriod == 4*time.Second
		}},
		{[]string{"--concurrent=7"}, func(_ *Flags, o Options) bool { return o.ES.Workers == 7 }},
		{[]string{"--client-qps=33", "--client-burst=66"}, func(f *Flags, _ Options) bool { return f.KubeClientQPS == 33 && f.KubeClientBurst == 66 }},
		{[]string{"--live-addr=:8082"}, func(_ *Flags, o Options) bool { return o.HealthAddr == ":8082" }},
		{[]string{"--loglevel=warn"}, func(f *Flags, _ Options) bool { return f.LogLevel == "WARN" && f.LogFormat == "json" }},
		{[]string{"--loglevel=dpanic", "--log-format=text"}, func(f *Flags, _ Options) bool { return f.LogLevel == "ERROR" && f.LogFormat == "text" }},
		{[]string{"--zap-time-encoding=rfc3339"}, func(f *Flags, _ Options) bool { return f.LogTimeEncoding == "rfc3339" && f.LogFormat == "json" }},
		{[]string{"--namespace=team-a"}, func(_ *Flags, o Options) bool {
			return !o.AllNamespaces && reflect.DeepEqual(o.AdditionalNamespaces, []string{"team-a"})
		}},
		{[]string{"--enable-cluster-store-reconciler=false"}, func(_ *Flags, o Options) bool { return o.ES.DisableClusterStores && !o.ES.DisableSecretStores }},
		{[]string{"--enable-secret-store-reconciler=false"}, func(_ *Flags, o Options) bool { return o.ES.DisableSecretStores && !o.ES.DisableClusterStores }},
		{[]string{"--enable-cluster-external-secret-reconciler=false"}, func(_ *Flags, o Options) bool { return o.ES.DisableClusterExternalSecrets }},
		{[]string{"--store-requeue-interval=1m"}, func(_ *Flags, o Options) bool { return o.ES.StoreInterval == time.Minute }},
		{[]string{"--enable-flood-gate=false"}, func(_ *Flags, o Options) bool { return !o.ES.FloodGate }},
		// Bitnami's, v0.40.
		{[]string{"--metrics-omit-secret-labels"}, func(_ *Flags, o Options) bool { return o.OmitConditionMetric }},
		{[]string{"--log-level=WARN"}, func(f *Flags, _ Options) bool { return f.LogLevel == "WARN" && f.LogFormat == "text" }},
		// Defaults: none of ESO's changes anything unless given.
		{nil, func(f *Flags, o Options) bool {
			return o.MetricsAddr == ":8081" && o.Server.Addr == ":8080" && o.HealthAddr == "" && o.LeaderElection &&
				o.Metrics == MetricsOptions{CertName: "tls.crt", KeyName: "tls.key"} && !o.ES.DisableClusterStores &&
				!o.ES.DisableSecretStores && !o.ES.DisableClusterExternalSecrets && o.LeaseDuration == 0 &&
				f.LogFormat == "text" && f.LogTimeEncoding == "" && f.KubeClientQPS == 200 && o.AllNamespaces
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, o, err := parse(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(f, o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

// TestUpstreamFlagConflicts: arguments that contradict each other, or
// that this controller cannot honour, stop it at start with the reason
// (the operator's arguments).
func TestUpstreamFlagConflicts(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--listen-metrics-addr=:8081", "--metrics-addr=:9090"}, "--listen-metrics-addr and --metrics-addr name the same setting"},
		{[]string{"--log-level=ERROR", "--loglevel=debug"}, "--log-level and --loglevel name the same setting"},
		{[]string{"--leader-elect=true", "--enable-leader-election=false"}, "--leader-elect and --enable-leader-election"},
		{[]string{"--es-workers=4", "--concurrent=2"}, "--es-workers and --concurrent"},
		{[]string{"--loglevel=verbose"}, `--loglevel "verbose"`},
		{[]string{"--metrics-auth"}, "--metrics-auth requires --metrics-secure"},
		{[]string{"--template-left-delimiter=[["}, "only the default delimiters"},
		{[]string{"--listen-addr=:8080", "--metrics-addr=:8080"}, "cannot share a port"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := parse(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// The same value under both names is no conflict.
	if _, _, err := parse(t, "--log-level=DEBUG", "--loglevel=debug", "--kubeclient-qps=50", "--client-qps=50"); err != nil {
		t.Error(err)
	}
}

// TestUpstreamChartArgs: the arguments the upstream Helm charts render
// (the operator's install) start the controller with their meaning.
// ESO's are deploy/charts/external-secrets/templates/deployment.yaml of
// v2.9.0 rendered with its default values, then with leaderElect,
// scopedRBAC, both probes and secure, authorized metrics; Bitnami's are
// helm/sealed-secrets/templates/deployment.yaml of v0.36.6 and v0.40.0
// with their default values.
func TestUpstreamChartArgs(t *testing.T) {
	esoDefault := []string{"--concurrent=1", "--metrics-addr=:8080", "--loglevel=info", "--zap-time-encoding=epoch"}
	tests := []struct {
		name  string
		args  []string
		check func(*Flags, Options) bool
	}{
		{"ESO defaults", esoDefault, func(f *Flags, o Options) bool {
			// ESO's metrics port is the HTTP API's: the API gives way.
			return o.MetricsAddr == ":8080" && o.Server.Addr == "0" && o.ES.Workers == 1 &&
				f.LogLevel == "INFO" && f.LogFormat == "json" && f.LogTimeEncoding == "epoch"
		}},
		{"ESO all options", append([]string{
			"--enable-leader-election=true", "--leader-election-id=eso", "--leader-election-lease-duration=30s",
			"--leader-election-renew-deadline=20s", "--leader-election-retry-period=5s", "--namespace=eso",
			"--enable-cluster-store-reconciler=false", "--enable-cluster-external-secret-reconciler=false",
			"--enable-cluster-push-secret-reconciler=false", "--enable-push-secret-reconciler=false",
			"--store-requeue-interval=10m", "--controller-class=eso", "--enable-extended-metric-labels=true",
			"--enable-http2=true", "--enable-vault-token-cache=true", "--vault-token-cache-size=100",
			"--unsafe-allow-generic-targets=true",
		}, append(esoDefault[1:], "--live-addr=:8082", "--metrics-secure=true", "--metrics-cert-dir=/etc/tls",
			"--metrics-cert-name=tls.crt", "--metrics-key-name=tls.key", "--metrics-auth=true")...), func(f *Flags, o Options) bool {
			return o.LeaderElection && o.LeaderElectionID == "eso" && o.RetryPeriod == 5*time.Second &&
				!o.AllNamespaces && o.ES.DisableClusterStores && o.ES.DisableClusterExternalSecrets &&
				o.ES.ControllerClass == "eso" && o.HealthAddr == ":8082" && o.Metrics.Auth && o.Metrics.HTTP2 &&
				o.Server.Addr == "0"
		}},
		{"Bitnami defaults", []string{"--update-status", "--key-prefix", "sealed-secrets-key", "--listen-addr", ":8080", "--listen-metrics-addr", ":8081"}, func(_ *Flags, o Options) bool {
			return o.UpdateStatus && o.Keys.Prefix == "sealed-secrets-key" && o.Server.Addr == ":8080" && o.MetricsAddr == ":8081"
		}},
		{"Bitnami options", []string{"--update-status", "--skip-recreate", "--key-renew-period", "720h30m", "--key-ttl", "8760h", "--rate-limit", "5",
			"--rate-limit-burst", "10", "--key-prefix", "sealed-secrets-key", "--additional-namespaces", "a,b", "--log-info-stdout",
			"--log-level", "ERROR", "--log-format", "json", "--listen-addr", ":8080", "--listen-metrics-addr", ":8081",
			"--max-unseal-retries", "3", "--watch-for-secrets", "--kubeclient-qps", "5", "--kubeclient-burst", "10"}, func(f *Flags, o Options) bool {
			return o.SkipRecreate && o.Keys.RenewPeriod == 720*time.Hour+30*time.Minute && o.Server.RateBurst == 10 &&
				reflect.DeepEqual(o.AdditionalNamespaces, []string{"a", "b"}) && f.KubeClientQPS == 5 && o.MaxUnsealRetries == 3
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, o, err := parse(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(f, o) {
				t.Errorf("options %+v", o)
			}
			if _, err := f.Logger(); err != nil {
				t.Errorf("logger: %v", err)
			}
		})
	}
}

// TestIgnoredFlagsLoggedOnce: an upstream flag without a meaning here is
// logged once, with why, when the operator gives it, and not otherwise.
func TestIgnoredFlagsLoggedOnce(t *testing.T) {
	for _, fl := range ignoredESOFlags {
		t.Run(fl.name, func(t *testing.T) {
			var lines []string
			log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
			f, _, err := parse(t, "--"+fl.name+"="+sample(upstreamFlag{name: fl.name, kind: fl.kind}))
			if err != nil {
				t.Fatal(err)
			}
			f.LogUpstream(log)
			if len(lines) != 1 || !strings.Contains(lines[0], `"flag"="--`+fl.name+`"`) || !strings.Contains(lines[0], fl.why) {
				t.Errorf("logged %q", lines)
			}
		})
	}
	var lines []string
	f, _, _ := parse(t)
	f.LogUpstream(funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{}))
	if len(lines) != 0 {
		t.Errorf("no upstream flags given, logged %q", lines)
	}
}
