package controller

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
)

// ESO's controller flags, so that the arguments ESO's Helm chart renders
// (and those users add through its extraArgs) start this controller too.
// They are the flags of ESO v2.9.0's root command (cmd/controller/root.go)
// and the feature flags its providers and template engine add. The ones
// this controller has under the same name (--controller-class,
// --leader-election-id, --store-requeue-interval, --enable-flood-gate)
// are bound in BindFlags with ESO's meaning; those below either map onto
// an option (esoFlags) or are accepted and ignored (ignoredESOFlags), and
// docs/compatibility.md lists each.

// esoFlags are ESO's flags that have a meaning here.
type esoFlags struct {
	metricsAddr                                     string
	metricsSecure, metricsAuth, enableHTTP2         bool
	metricsCertDir, metricsCertName, metricsKeyName string
	enableLeaderElection                            bool
	leaseDuration, renewDeadline, retryPeriod       time.Duration
	concurrent                                      int
	clientQPS                                       float32
	clientBurst                                     int
	liveAddr                                        string
	loglevel, zapTimeEncoding                       string
	namespace                                       string
	clusterStores, secretStores, ces                bool
	leftDelim, rightDelim                           string
}

// ignoredFlag is an upstream flag accepted for compatibility that has no
// meaning here; it is logged once, with why, when given.
type ignoredFlag struct {
	name string
	// kind is the flag's type upstream: bool, int, duration or string.
	kind string
	// why says what happens here instead.
	why string
}

// ignoredESOFlags are ESO's flags without a meaning here.
var ignoredESOFlags = []ignoredFlag{
	{"enable-push-secret-reconciler", "bool", "PushSecrets are not implemented"},
	{"enable-cluster-push-secret-reconciler", "bool", "ClusterPushSecrets are not implemented"},
	{"enable-secrets-caching", "bool", "only Secrets the controller manages are cached; others are read when needed, so memory does not grow with the cluster"},
	{"enable-configmaps-caching", "bool", "ConfigMaps are read when needed, never cached"},
	{"enable-managed-secrets-caching", "bool", "managed Secrets are always cached"},
	{"enable-secret-api-read-on-cache-mismatch", "bool", "a Secret the cache does not hold is always read from the API server"},
	{"enable-generator-state", "bool", "generators are not implemented"},
	{"generator-gc-grace-period", "duration", "generators are not implemented"},
	{"enable-extended-metric-labels", "bool", "metrics carry ESO's default labels"},
	{"unsafe-allow-generic-targets", "bool", "generic targets (target.manifest) are not implemented; the CRD refuses them"},
	{"enable-vault-token-cache", "bool", "Vault clients and their tokens are always kept per store, until the store or its credentials change or 30 idle minutes pass"},
	{"vault-token-cache-size", "int", "Vault clients are kept per store, not in a fixed-size cache"},
	{"experimental-enable-vault-token-cache", "bool", "Vault clients and their tokens are always kept per store"},
	{"experimental-vault-token-cache-size", "int", "Vault clients are kept per store, not in a fixed-size cache"},
	{"experimental-enable-doppler-oidc-cache", "bool", "the Doppler provider is not implemented"},
	{"experimental-doppler-oidc-cache-size", "int", "the Doppler provider is not implemented"},
	{"doppler-etag-cache-size", "int", "the Doppler provider is not implemented"},
	{"mysterybox-tokens-cache-size", "int", "the Nebius MysteryBox provider is not implemented"},
	{"mysterybox-connections-cache-size", "int", "the Nebius MysteryBox provider is not implemented"},
}

// bindESOFlags defines ESO's flags on fs, with ESO's defaults and help.
func (f *Flags) bindESOFlags(fs *pflag.FlagSet) {
	e := &f.eso
	fs.StringVar(&e.metricsAddr, "metrics-addr", ":8080", "ESO's name for --listen-metrics-addr: the address the metric endpoint binds to.")
	fs.BoolVar(&e.metricsSecure, "metrics-secure", false, "Serve the metrics endpoint over HTTPS (ESO).")
	fs.BoolVar(&e.metricsAuth, "metrics-auth", false, "Serve metrics only to clients the API server authenticates and authorizes (TokenReview, SubjectAccessReview); needs --metrics-secure (ESO).")
	fs.StringVar(&e.metricsCertDir, "metrics-cert-dir", "", "Directory of the metrics endpoint's TLS certificate and key; a self-signed certificate when absent (ESO).")
	fs.StringVar(&e.metricsCertName, "metrics-cert-name", "tls.crt", "TLS certificate file name in --metrics-cert-dir (ESO).")
	fs.StringVar(&e.metricsKeyName, "metrics-key-name", "tls.key", "TLS key file name in --metrics-cert-dir (ESO).")
	fs.BoolVar(&e.enableHTTP2, "enable-http2", false, "Allow HTTP/2 on the HTTPS metrics endpoint (ESO).")
	fs.BoolVar(&e.enableLeaderElection, "enable-leader-election", false, "ESO's name for --leader-elect.")
	fs.DurationVar(&e.leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long non-leaders wait before forcing leadership (ESO).")
	fs.DurationVar(&e.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader retries renewing before it stops leading (ESO).")
	fs.DurationVar(&e.retryPeriod, "leader-election-retry-period", 2*time.Second, "How long leader election clients wait between tries (ESO).")
	fs.IntVar(&e.concurrent, "concurrent", 1, "ESO's name for --es-workers: concurrent ExternalSecret reconciles.")
	fs.Float32Var(&e.clientQPS, "client-qps", 50, "ESO's name for --kubeclient-qps.")
	fs.IntVar(&e.clientBurst, "client-burst", 100, "ESO's name for --kubeclient-burst.")
	fs.StringVar(&e.liveAddr, "live-addr", "", "Serve /healthz and /readyz on this address, as ESO's probes expect (ESO serves :8082 by default; here none unless given).")
	fs.StringVar(&e.loglevel, "loglevel", "info", "ESO's name for --log-level: debug, info, warn, error, dpanic, panic or fatal (the last three log as error).")
	fs.StringVar(&e.zapTimeEncoding, "zap-time-encoding", "epoch", "Time encoding of log lines: epoch, millis, nanos, iso8601, rfc3339 or rfc3339nano (ESO).")
	fs.StringVar(&e.namespace, "namespace", "", "Watch this namespace only, besides the controller's own, as --all-namespaces=false --additional-namespaces (ESO).")
	fs.BoolVar(&e.clusterStores, "enable-cluster-store-reconciler", true, "Serve ClusterSecretStores; off, ExternalSecrets using one are skipped (ESO).")
	fs.BoolVar(&e.secretStores, "enable-secret-store-reconciler", true, "Validate SecretStores; off, they get no Ready condition (ESO).")
	fs.BoolVar(&e.ces, "enable-cluster-external-secret-reconciler", true, "Serve ClusterExternalSecrets (ESO).")
	fs.StringVar(&e.leftDelim, "template-left-delimiter", "{{", "Template left delimiter; only the default is supported (ESO).")
	fs.StringVar(&e.rightDelim, "template-right-delimiter", "}}", "Template right delimiter; only the default is supported (ESO).")
	for _, fl := range ignoredESOFlags {
		usage := "Accepted for compatibility with ESO and ignored: " + fl.why + "."
		switch fl.kind {
		case "bool":
			fs.Bool(fl.name, false, usage)
		case "int":
			fs.Int(fl.name, 0, usage)
		case "duration":
			fs.Duration(fl.name, 0, usage)
		default:
			fs.String(fl.name, "", usage)
		}
	}
}

// Resolve settles the flags given under two names (Bitnami's and ESO's)
// into Bitnami's fields, which the rest reads: --metrics-addr,
// --enable-leader-election, --concurrent, --client-qps, --client-burst,
// --loglevel and --zap-time-encoding. Giving both names different values
// is an error. Options calls it; cmd/controller calls it first, since it
// builds the logger and the API client before the options.
func (f *Flags) Resolve() error {
	if f.fs == nil {
		return nil
	}
	var errs []error
	errs = append(errs,
		alias(f.fs, "listen-metrics-addr", "metrics-addr", &f.MetricsAddr, f.eso.metricsAddr),
		alias(f.fs, "leader-elect", "enable-leader-election", &f.LeaderElect, f.eso.enableLeaderElection),
		alias(f.fs, "es-workers", "concurrent", &f.ESWorkers, f.eso.concurrent),
		alias(f.fs, "kubeclient-qps", "client-qps", &f.KubeClientQPS, f.eso.clientQPS),
		alias(f.fs, "kubeclient-burst", "client-burst", &f.KubeClientBurst, f.eso.clientBurst),
	)
	if f.fs.Changed("loglevel") {
		level, err := esoLogLevel(f.eso.loglevel)
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, alias(f.fs, "log-level", "loglevel", &f.LogLevel, level))
		}
	}
	if f.fs.Changed("zap-time-encoding") {
		f.LogTimeEncoding = f.eso.zapTimeEncoding
	}
	// ESO logs JSON; its chart's arguments keep that unless --log-format
	// says otherwise.
	if (f.fs.Changed("loglevel") || f.fs.Changed("zap-time-encoding")) && !f.fs.Changed("log-format") {
		f.LogFormat = "json"
	}
	return errors.Join(errs...)
}

// alias sets *field from the ESO flag esoName when it was given; if the
// Bitnami (or sealsync) flag name was given too, both must agree.
func alias[T comparable](fs *pflag.FlagSet, name, esoName string, field *T, value T) error {
	if !fs.Changed(esoName) {
		return nil
	}
	if fs.Changed(name) && *field != value {
		return fmt.Errorf("--%s and --%s name the same setting: give one, or the same value", name, esoName)
	}
	*field = value
	return nil
}

// esoLogLevel maps ESO's (zap's) level names onto --log-level's.
func esoLogLevel(l string) (string, error) {
	switch strings.ToLower(l) {
	case "debug":
		return "DEBUG", nil
	case "info":
		return "INFO", nil
	case "warn":
		return "WARN", nil
	case "error", "dpanic", "panic", "fatal":
		return "ERROR", nil
	}
	return "", fmt.Errorf("--loglevel %q: want debug, info, warn, error, dpanic, panic or fatal", l)
}

// applyESO sets the options ESO's flags describe onto o.
func (f *Flags) applyESO(o *Options) error {
	if f.fs == nil {
		return nil
	}
	e := &f.eso
	if e.leftDelim != "{{" || e.rightDelim != "}}" {
		return fmt.Errorf("--template-left-delimiter %q, --template-right-delimiter %q: only the default delimiters {{ and }} are supported", e.leftDelim, e.rightDelim)
	}
	if e.metricsAuth && !e.metricsSecure {
		return errors.New("--metrics-auth requires --metrics-secure: bearer tokens must not cross plain HTTP")
	}
	o.Metrics = MetricsOptions{
		Secure: e.metricsSecure, CertDir: e.metricsCertDir, CertName: e.metricsCertName, KeyName: e.metricsKeyName,
		Auth: e.metricsAuth, HTTP2: e.enableHTTP2,
	}
	o.HealthAddr = e.liveAddr
	if f.fs.Changed("leader-election-lease-duration") {
		o.LeaseDuration = e.leaseDuration
	}
	if f.fs.Changed("leader-election-renew-deadline") {
		o.RenewDeadline = e.renewDeadline
	}
	if f.fs.Changed("leader-election-retry-period") {
		o.RetryPeriod = e.retryPeriod
	}
	if e.namespace != "" {
		o.AllNamespaces = false
		o.AdditionalNamespaces = append(o.AdditionalNamespaces, e.namespace)
	}
	o.ES.DisableClusterStores = !e.clusterStores
	o.ES.DisableSecretStores = !e.secretStores
	o.ES.DisableClusterExternalSecrets = !e.ces
	if samePort(o.MetricsAddr, o.Server.Addr) {
		if f.fs.Changed("listen-addr") {
			return fmt.Errorf("the metrics endpoint (%s) and the HTTP API (--listen-addr %s) cannot share a port", o.MetricsAddr, o.Server.Addr)
		}
		o.Server.Addr = "0"
	}
	return nil
}

// apiDisplaced reports whether ESO's metrics address took the HTTP API's
// default port, which turns the API off (see applyESO).
func (f *Flags) apiDisplaced() bool {
	return f.fs != nil && f.fs.Changed("metrics-addr") && !f.fs.Changed("listen-addr") && samePort(f.MetricsAddr, f.ListenAddr)
}

// samePort reports whether two listen addresses would collide: the same
// port, on the same host or on all interfaces.
func samePort(a, b string) bool {
	if a == "0" || b == "0" {
		return false
	}
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return pa == pb && (ha == hb || ha == "" || hb == "" || ha == "0.0.0.0" || hb == "0.0.0.0" || ha == "::" || hb == "::")
}

// LogUpstream logs, once each, the upstream flags that were given but
// mean nothing here, and what ESO's arguments changed that an operator
// would not expect.
func (f *Flags) LogUpstream(log logr.Logger) {
	if f.fs == nil {
		return
	}
	for _, fl := range ignoredESOFlags {
		if f.fs.Changed(fl.name) {
			log.Info("flag accepted for compatibility and ignored", "flag", "--"+fl.name, "reason", fl.why)
		}
	}
	if f.apiDisplaced() {
		log.Info("the HTTP API (kubeseal's certificate, verify and rotate) is not served: ESO's --metrics-addr takes its port; give --listen-addr to serve it", "metricsAddr", f.MetricsAddr)
	}
}
