package controller

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/controller/restart"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/server"
)

// Flags are the command-line flags of cmd/controller: Bitnami's controller
// flags, with Bitnami's names and defaults so an existing Deployment's args
// keep working, ESO's controller flags (upstream.go) so its chart's do too,
// plus sealsync's own.
type Flags struct {
	// Key generation: --key-prefix, --my-cn, --key-order-priority,
	// --key-cutoff-time, --key-size, --key-ttl, --key-renew-period.
	KeyPrefix, MyCN, KeyOrderPriority, KeyCutoffTime string
	KeySize                                          int
	KeyTTL, KeyRenewPeriod                           time.Duration
	// Unsealing: --accept-deprecated-v1-data, --all-namespaces,
	// --update-status, --additional-namespaces, --label-selector.
	AcceptV1Data, AllNamespaces, UpdateStatus bool
	AdditionalNamespaces, LabelSelector       string
	// HTTP API rate limit per client: --rate-limit, --rate-limit-burst.
	RateLimit, RateLimitBurst int
	// APIMaxItems is --api-max-items, the most encryptedData items one
	// /v1/verify or /v1/rotate request may carry.
	APIMaxItems int
	// Extra metadata of new key Secrets: --privatekey-annotations,
	// --privatekey-labels.
	PrivateKeyAnnotations, PrivateKeyLabels string
	// Behaviour switches: --old-gc-behavior, --watch-for-secrets,
	// --skip-recreate.
	OldGCBehavior, WatchForSecrets, SkipRecreate bool
	// Logging: --log-info-stdout, --log-level, --log-format, and ESO's
	// --zap-time-encoding (LogTimeEncoding; empty is ISO 8601).
	LogInfoToStdout                      bool
	LogLevel, LogFormat, LogTimeEncoding string
	// MetricsOmitSecretLabels is --metrics-omit-secret-labels (Bitnami
	// v0.40).
	MetricsOmitSecretLabels bool
	// MaxUnsealRetries is --max-unseal-retries.
	MaxUnsealRetries int
	// API client: --kubeclient-qps, --kubeclient-burst, --kubeconfig.
	KubeClientQPS   float32
	KubeClientBurst int
	Kubeconfig      string
	// Serving: --listen-addr, --listen-metrics-addr, --read-timeout,
	// --write-timeout.
	ListenAddr, MetricsAddr   string
	ReadTimeout, WriteTimeout time.Duration
	// Workers is --workers, the concurrent SealedSecret reconciles.
	Workers int
	// Leader election: --leader-elect, --leader-election-id.
	LeaderElect      bool
	LeaderElectionID string
	// Version is --version.
	Version bool
	// Key backup: --backup-recipients, --backup-configmap.
	BackupRecipients, BackupConfigMap string
	// ExternalSecrets: --enable-external-secrets, --controller-class,
	// --enable-flood-gate, --store-requeue-interval, --read-dedupe-ttl,
	// --refresh-spread, --es-workers, --batch-provider-reads.
	ExternalSecrets, FloodGate, BatchReads         bool
	ControllerClass                                string
	StoreRequeueInterval, DedupeTTL, RefreshSpread time.Duration
	ESWorkers                                      int
	// AllowControllerIdentity is --allow-cluster-store-controller-identity.
	AllowControllerIdentity bool
	// RestartOnSecretChange is --enable-restart-on-secret-change.
	RestartOnSecretChange bool
	// POST /v1/refresh: --refresh-token-audiences, --refresh-max-objects.
	RefreshAudiences  []string
	RefreshMaxObjects int

	// eso holds ESO's flags (upstream.go); fs tells which flags were
	// given.
	eso esoFlags
	fs  *pflag.FlagSet
}

// BindFlags defines the flags on fs.
func BindFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.KeyPrefix, "key-prefix", keysecret.DefaultPrefix, "Prefix used to name keys.")
	fs.IntVar(&f.KeySize, "key-size", crypto.DefaultKeyBits, "Size of encryption key.")
	fs.DurationVar(&f.KeyTTL, "key-ttl", crypto.DefaultCertValidity, "Duration that certificate is valid for.")
	fs.StringVar(&f.MyCN, "my-cn", "", "Common name to be used as issuer/subject DN in generated certificate.")
	fs.DurationVar(&f.KeyRenewPeriod, "key-renew-period", 30*24*time.Hour, "New key generation period (automatic rotation deactivated if 0)")
	fs.DurationVar(&f.KeyRenewPeriod, "rotate-period", 30*24*time.Hour, "")
	_ = fs.MarkDeprecated("rotate-period", "please use key-renew-period instead")
	fs.StringVar(&f.KeyOrderPriority, "key-order-priority", "CertNotBefore", "Ordering of keys based on NotBefore certificate attribute or secret creation timestamp.")
	fs.BoolVar(&f.AcceptV1Data, "accept-deprecated-v1-data", true, "Accept deprecated V1 data field.")
	fs.StringVar(&f.KeyCutoffTime, "key-cutoff-time", "", "Create a new key if latest one is older than this cutoff time. RFC1123 format with numeric timezone expected.")
	fs.BoolVar(&f.AllNamespaces, "all-namespaces", true, "Scan all namespaces or only the current namespace (default=true).")
	fs.StringVar(&f.AdditionalNamespaces, "additional-namespaces", "", "Comma-separated list of additional namespaces to be scanned.")
	fs.StringVar(&f.LabelSelector, "label-selector", "", "Label selector which can be used to filter sealed secrets.")
	fs.IntVar(&f.RateLimit, "rate-limit", 2, "Number of allowed sustained request per second for each client on the HTTP API")
	fs.IntVar(&f.RateLimitBurst, "rate-limit-burst", 2, "Number of requests allowed to exceed the rate limit per second for each client on the HTTP API")
	fs.IntVar(&f.APIMaxItems, "api-max-items", server.DefaultMaxItems, "Most encryptedData items one /v1/verify or /v1/rotate request may carry; each costs an RSA private-key operation.")
	fs.StringVar(&f.PrivateKeyAnnotations, "privatekey-annotations", "", "Comma-separated list of additional annotations to be put on renewed sealing keys.")
	fs.StringVar(&f.PrivateKeyLabels, "privatekey-labels", "", "Comma-separated list of additional labels to be put on renewed sealing keys.")
	fs.BoolVar(&f.OldGCBehavior, "old-gc-behavior", false, "Revert to old GC behavior where the controller deletes secrets instead of delegating that to k8s itself.")
	fs.BoolVar(&f.UpdateStatus, "update-status", true, "If true, the controller will update the status sub-resource whenever it processes a sealed secret")
	fs.BoolVar(&f.WatchForSecrets, "watch-for-secrets", true, "Accepted for compatibility: key Secrets are always watched and reloaded live.")
	fs.BoolVar(&f.SkipRecreate, "skip-recreate", false, "If true the controller will skip listening for managed secret changes to recreate them. This helps on limited permission environments.")
	fs.BoolVar(&f.LogInfoToStdout, "log-info-stdout", true, "If true the controller will log info to stdout and error/warn to stderr.")
	fs.StringVar(&f.LogLevel, "log-level", "INFO", "Log level (DEBUG|INFO|WARN|ERROR).")
	fs.BoolVar(&f.MetricsOmitSecretLabels, "metrics-omit-secret-labels", false, "Do not update the sealed_secrets_controller_condition_info metric, so /metrics names no SealedSecret.")
	fs.StringVar(&f.LogFormat, "log-format", "text", "Log format (text|json).")
	fs.IntVar(&f.MaxUnsealRetries, "max-unseal-retries", 5, "Quick retries of a failing Secret write before backing off to one a minute (retries never stop).")
	fs.Float32Var(&f.KubeClientQPS, "kubeclient-qps", 200, "Kubeclient QPS (negative value disables ratelimiting)")
	fs.IntVar(&f.KubeClientBurst, "kubeclient-burst", 400, "Kubeclient Burst")
	fs.StringVar(&f.ListenAddr, "listen-addr", ":8080", "HTTP serving address.")
	fs.StringVar(&f.MetricsAddr, "listen-metrics-addr", ":8081", "HTTP metrics serving address.")
	fs.DurationVar(&f.ReadTimeout, "read-timeout", 2*time.Minute, "HTTP request timeout.")
	fs.DurationVar(&f.WriteTimeout, "write-timeout", 2*time.Minute, "HTTP response timeout.")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "Path to a kubeconfig, to run outside a cluster (default: in-cluster, then $KUBECONFIG).")
	fs.IntVar(&f.Workers, "workers", 2*runtime.GOMAXPROCS(0), "Concurrent reconciles.")
	fs.BoolVar(&f.LeaderElect, "leader-elect", true, "Elect a leader so that several replicas are safe; only the leader reconciles and generates keys.")
	fs.StringVar(&f.LeaderElectionID, "leader-election-id", "sealed-secrets-controller.sealsync.dev", "Name of the leader election lease.")
	fs.BoolVar(&f.Version, "version", false, "Print version information and exit")
	fs.StringVar(&f.BackupRecipients, "backup-recipients", "", "Keep an age-encrypted backup of the sealing keys in --backup-configmap, for these recipients: a file of public keys, one per line (mounted from a ConfigMap or Secret), or a comma-separated list of age1… / ssh-… public keys. Off when empty.")
	fs.StringVar(&f.BackupConfigMap, "backup-configmap", keys.DefaultBackupConfigMap, "ConfigMap in the controller's namespace that holds the key backup.")
	fs.BoolVar(&f.ExternalSecrets, "enable-external-secrets", true, "Sync ExternalSecrets (external-secrets.io) besides unsealing SealedSecrets.")
	fs.StringVar(&f.ControllerClass, "controller-class", "default", "Serve SecretStores whose spec.controller is empty or this class, as ESO's --controller-class.")
	fs.BoolVar(&f.FloodGate, "enable-flood-gate", true, "Fail ExternalSecrets whose store is not Ready instead of calling its provider, as ESO's.")
	fs.DurationVar(&f.StoreRequeueInterval, "store-requeue-interval", 5*time.Minute, "How often SecretStores are validated again.")
	fs.DurationVar(&f.DedupeTTL, "read-dedupe-ttl", 10*time.Second, "How long an identical provider read is shared among ExternalSecrets using the same backend and credentials; the refreshes of one refresh slot share the slot's reads however long the slot takes.")
	fs.DurationVar(&f.RefreshSpread, "refresh-spread", 2*time.Second, "Offset spread of ExternalSecret refreshes inside their refresh slot.")
	fs.BoolVar(&f.BatchReads, "batch-provider-reads", true, "Read many secrets of one store identity in one provider call where the provider can (AWS BatchGetSecretValue, Parameter Store GetParameters), reading ahead in each refresh slot what the slot before read. Off, every read is a call of its own; it is there to measure what batching saves.")
	fs.IntVar(&f.ESWorkers, "es-workers", 4*runtime.GOMAXPROCS(0), "Concurrent ExternalSecret reconciles (mostly waiting on providers).")
	f.bindESOFlags(fs)
	fs.BoolVar(&f.AllowControllerIdentity, externalsecrets.AllowControllerIdentityFlag, false, "Let ClusterSecretStores that name no credentials log in as the controller itself: Vault kubernetes auth without serviceAccountRef or secretRef with the controller's own ServiceAccount (a fresh 10-minute token for audience \"vault\"), aws without auth with the AWS SDK's default chain (the controller pod's IRSA token, environment, instance profile). Whoever may write a ClusterSecretStore then acts with the controller's identity at the server it names. SecretStores never may.")
	fs.BoolVar(&f.RestartOnSecretChange, "enable-restart-on-secret-change", true, "Roll Deployments, StatefulSets and DaemonSets annotated "+restart.OptInAnnotation+"=true when a Secret sealsync manages that they use changes.")
	fs.StringSliceVar(&f.RefreshAudiences, "refresh-token-audiences", []string{externalsecrets.DefaultRefreshAudience}, "Token audiences POST /v1/refresh accepts (kubectl create token --audience sealsync). Empty accepts tokens for the API server itself, which the plain-HTTP endpoint would then see.")
	fs.IntVar(&f.RefreshMaxObjects, "refresh-max-objects", externalsecrets.DefaultRefreshMaxObjects, "Most ExternalSecrets one POST /v1/refresh request may refresh through a store.")
	return f
}

// FlagsFromEnv sets every flag not given on the command line from
// SEALED_SECRETS_<FLAG>, as Bitnami's controller does.
func FlagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if err != nil || fl.Changed {
			return
		}
		name := "SEALED_SECRETS_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(fl.Name, v); serr != nil {
				err = fmt.Errorf("environment variable %s: %w", name, serr)
			}
		}
	})
	return err
}

// Options turns the flags into controller options. namespace is the
// controller's own.
func (f *Flags) Options(namespace string) (Options, error) {
	if err := f.Resolve(); err != nil {
		return Options{}, err
	}
	order, err := keysecret.ParseOrder(f.KeyOrderPriority)
	if err != nil {
		return Options{}, err
	}
	var cutoff time.Time
	if f.KeyCutoffTime != "" {
		cutoff, err = time.Parse(time.RFC1123Z, f.KeyCutoffTime)
		if err != nil {
			return Options{}, fmt.Errorf("--key-cutoff-time: %w", err)
		}
	}
	labels, err := parsePairs(f.PrivateKeyLabels)
	if err != nil {
		return Options{}, fmt.Errorf("--privatekey-labels: %w", err)
	}
	annotations, err := parsePairs(f.PrivateKeyAnnotations)
	if err != nil {
		return Options{}, fmt.Errorf("--privatekey-annotations: %w", err)
	}
	if f.KeySize < crypto.MinKeyBits {
		return Options{}, fmt.Errorf("--key-size %d is below the minimum of %d", f.KeySize, crypto.MinKeyBits)
	}
	var extra []string
	for _, n := range strings.Split(f.AdditionalNamespaces, ",") {
		if n = strings.TrimSpace(n); n != "" {
			extra = append(extra, n)
		}
	}
	o := Options{
		Keys: keys.Options{
			Namespace: namespace, Prefix: f.KeyPrefix, Bits: f.KeySize, ValidFor: f.KeyTTL,
			CommonName: f.MyCN, RenewPeriod: f.KeyRenewPeriod, Cutoff: cutoff, Order: order,
			Labels: labels, Annotations: annotations,
		},
		MetricsAddr:          f.MetricsAddr,
		AllNamespaces:        f.AllNamespaces,
		AdditionalNamespaces: extra,
		LabelSelector:        f.LabelSelector,
		AcceptV1Data:         f.AcceptV1Data,
		UpdateStatus:         f.UpdateStatus,
		SkipRecreate:         f.SkipRecreate,
		OldGCBehavior:        f.OldGCBehavior,
		MaxUnsealRetries:     f.MaxUnsealRetries,
		Workers:              f.Workers,
		LeaderElection:       f.LeaderElect,
		LeaderElectionID:     f.LeaderElectionID,
		Backup:               keys.BackupOptions{Recipients: f.BackupRecipients, ConfigMap: f.BackupConfigMap},
		Server: server.Options{
			Addr: f.ListenAddr, RateLimit: float64(f.RateLimit), RateBurst: f.RateLimitBurst,
			ReadTimeout: f.ReadTimeout, WriteTimeout: f.WriteTimeout, MaxItems: f.APIMaxItems,
		},
		ES: externalsecrets.Options{
			ControllerClass: f.ControllerClass, FloodGate: f.FloodGate,
			StoreInterval: f.StoreRequeueInterval, DedupeTTL: f.DedupeTTL,
			Spread: f.RefreshSpread, Workers: f.ESWorkers, UnbatchedReads: !f.BatchReads,
			AllowControllerIdentity: f.AllowControllerIdentity,
			Refresh:                 externalsecrets.RefreshOptions{Audiences: nonEmpty(f.RefreshAudiences), MaxObjects: f.RefreshMaxObjects},
		},
		RestartOnSecretChange: f.RestartOnSecretChange,
		OmitConditionMetric:   f.MetricsOmitSecretLabels,
	}
	if err := f.applyESO(&o); err != nil {
		return Options{}, err
	}
	return o, nil
}

// nonEmpty drops the empty strings of a list flag, so that
// --refresh-token-audiences= means none.
func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parsePairs parses Bitnami's "k=v,k2=v2" lists.
func parsePairs(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

// ControllerNamespace returns the namespace the controller runs in:
// $POD_NAMESPACE, else the service account's namespace, else "default",
// as Bitnami's controller finds it.
func ControllerNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return "default"
}
