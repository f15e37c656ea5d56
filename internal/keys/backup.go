package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sealsync/sealsync/keybackup"
)

// DefaultBackupConfigMap is the default of --backup-configmap.
const DefaultBackupConfigMap = "sealed-secrets-key-backup"

// The backup ConfigMap: the bundle in data, what it holds in annotations
// for humans and for deciding whether a new one is due.
const (
	// BackupDataKey holds the armored bundle.
	BackupDataKey = "keys.age"
	// BackupKeysAnnotation lists the bundle's keys, "<key ID> <status>"
	// per line, newest first.
	BackupKeysAnnotation = "sealsync.dev/backup-keys"
	// BackupCreatedAnnotation is when the bundle was made (RFC 3339).
	BackupCreatedAnnotation = "sealsync.dev/backup-created"
	// backupRecipientsAnnotation is the SHA-256 of the recipients the
	// bundle was sealed to, so that a change of recipients makes a new one.
	backupRecipientsAnnotation = "sealsync.dev/backup-recipients-sha256"
	// backupComponent marks the ConfigMap as the controller's, so that it
	// never overwrites one it did not make.
	backupComponent = "key-backup"
)

const backupReadme = `This ConfigMap holds an age-encrypted backup of the sealing keys of the
sealed-secrets controller in this namespace (ciphertext only). The controller
rewrites it whenever its keys change. To restore the keys, into this cluster
or a new one:

  kubectl get configmap %[1]s -n %[2]s -o jsonpath='{.data.keys\.age}' > keys.age
  kubeseal keys restore -i keys.age --identity YOUR-AGE-OR-SSH-KEY --controller-namespace %[2]s

or unseal offline: kubeseal --recovery-unseal --recovery-private-key keys.age --recovery-identity FILE
`

// BackupOptions configure the automatic key backup.
type BackupOptions struct {
	// Recipients is --backup-recipients: a path to a recipients file (one
	// per line, # comments, as age -R reads it), typically mounted from a
	// ConfigMap or Secret and read again for every backup, or a
	// comma-separated list of recipients that each start with age1 or
	// ssh-. Empty turns the backup off.
	Recipients string
	// ConfigMap is the name of the ConfigMap in the controller's
	// namespace that holds the backup (--backup-configmap).
	ConfigMap string
	// Debounce is how long the keys must stay unchanged before a backup
	// is written, so that a burst of changes makes one write. Zero is one
	// second.
	Debounce time.Duration
}

// maxDebounceWaits bounds how many debounce periods a stream of changes
// can put a backup off.
const maxDebounceWaits = 10

// ParseBackupRecipients reads the recipients spec describes (see
// [BackupOptions.Recipients]), and a fingerprint of them that changes when
// they do.
func ParseBackupRecipients(spec string) ([]age.Recipient, string, error) {
	spec = strings.TrimSpace(spec)
	var lines []string
	if strings.HasPrefix(spec, "age1") || strings.HasPrefix(spec, "ssh-") {
		lines = strings.Split(spec, ",")
	} else {
		b, err := os.ReadFile(spec)
		if err != nil {
			return nil, "", fmt.Errorf("backup recipients file: %w", err)
		}
		lines = strings.Split(string(b), "\n")
	}
	var kept []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			kept = append(kept, l)
		}
	}
	recs, err := keybackup.ParseRecipients(strings.NewReader(strings.Join(kept, "\n")))
	if err != nil {
		return nil, "", fmt.Errorf("backup recipients: %w", err)
	}
	slices.Sort(kept)
	sum := sha256.Sum256([]byte(strings.Join(kept, "\n")))
	return recs, hex.EncodeToString(sum[:]), nil
}

// Backup writes an armored age bundle of every key Secret into a
// ConfigMap whenever the set of keys or their status changes (a key
// generated, restored, relabelled or deleted), and when it becomes leader
// if the ConfigMap is out of date. Only ciphertext is written. It never
// replaces a backup with an empty one, nor a ConfigMap it did not make.
type Backup struct {
	m       *Manager
	client  client.Client // writes the ConfigMap
	opts    BackupOptions
	changed chan struct{}
	metrics *backupMetrics
}

// Backup returns the leader-only runnable that keeps the backup ConfigMap
// current. It registers for key changes at once, so that none is missed
// before it starts.
func (m *Manager) Backup(c client.Client, opts BackupOptions) *Backup {
	if opts.Debounce <= 0 {
		opts.Debounce = time.Second
	}
	if opts.ConfigMap == "" {
		opts.ConfigMap = DefaultBackupConfigMap
	}
	b := &Backup{m: m, client: c, opts: opts, changed: make(chan struct{}, 1), metrics: keyBackupMetrics()}
	m.OnChange(func() {
		select {
		case b.changed <- struct{}{}:
		default:
		}
	})
	return b
}

var (
	_ manager.Runnable               = (*Backup)(nil)
	_ manager.LeaderElectionRunnable = (*Backup)(nil)
)

// NeedLeaderElection is true: one writer is enough.
func (b *Backup) NeedLeaderElection() bool { return true }

// Start writes the backup when it is out of date, then after each burst of
// key changes, until ctx is done. A failed write is retried with backoff.
func (b *Backup) Start(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithName("key-backup")
	ctx = logr.NewContext(ctx, log)
	select {
	case <-b.m.loaded:
	case <-ctx.Done():
		return nil
	}
	backoff := time.Second
	for {
		if err := b.sync(ctx); err != nil {
			b.metrics.errors.Inc()
			log.Error(err, "key backup failed, retrying", "in", backoff.String())
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, 5*time.Minute)
			continue
		}
		backoff = time.Second
		select {
		case <-ctx.Done():
			return nil
		case <-b.changed:
		}
		if !b.settle(ctx) {
			return nil
		}
	}
}

// settle waits until the keys have not changed for a debounce period, or
// for maxDebounceWaits periods at most. It returns false when ctx is done.
func (b *Backup) settle(ctx context.Context) bool {
	quiet := time.NewTimer(b.opts.Debounce)
	defer quiet.Stop()
	limit := time.NewTimer(maxDebounceWaits * b.opts.Debounce)
	defer limit.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-b.changed:
			quiet.Reset(b.opts.Debounce)
		case <-quiet.C:
			return true
		case <-limit.C:
			return true
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sync writes a new bundle into the ConfigMap if the keys or the
// recipients differ from those of the one there.
func (b *Backup) sync(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx)
	ns := b.m.opts.Namespace
	// Uncached: a key the renewer has just made is in the keyring
	// before the cache has seen its Secret.
	secrets, _, err := b.m.keySecrets(ctx, b.m.api)
	if err != nil {
		return err
	}
	if len(secrets) == 0 {
		log.Info("no keys to back up: keeping the last backup")
		return nil
	}
	recipients, fingerprint, err := ParseBackupRecipients(b.opts.Recipients)
	if err != nil {
		return err
	}
	bundle, err := keybackup.FromSecrets(secrets)
	if err != nil {
		return err
	}
	keys := describeKeys(bundle.Manifest())

	var cm corev1.ConfigMap
	key := types.NamespacedName{Namespace: ns, Name: b.opts.ConfigMap}
	exists := true
	if err := b.m.api.Get(ctx, key, &cm); apierrors.IsNotFound(err) {
		exists = false
		cm = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: b.opts.ConfigMap}}
	} else if err != nil {
		return fmt.Errorf("get ConfigMap %s: %w", key, err)
	}
	if exists && cm.Labels["app.kubernetes.io/component"] != backupComponent {
		return fmt.Errorf("ConfigMap %s exists and is not a key backup (no label app.kubernetes.io/component=%s): refusing to overwrite it; choose another --backup-configmap", key, backupComponent)
	}
	if exists && cm.Annotations[BackupKeysAnnotation] == keys && cm.Annotations[backupRecipientsAnnotation] == fingerprint && cm.Data[BackupDataKey] != "" {
		b.metrics.success.SetToCurrentTime()
		return nil
	}

	var sealed bytes.Buffer
	if err := keybackup.Seal(&sealed, bundle, recipients...); err != nil {
		return err
	}
	m := bundle.Manifest()
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels["app.kubernetes.io/name"] = "sealsync"
	cm.Labels["app.kubernetes.io/component"] = backupComponent
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[BackupKeysAnnotation] = keys
	cm.Annotations[BackupCreatedAnnotation] = m.Created.Format(time.RFC3339)
	cm.Annotations[backupRecipientsAnnotation] = fingerprint
	cm.Data = map[string]string{
		BackupDataKey: sealed.String(),
		"README":      fmt.Sprintf(backupReadme, b.opts.ConfigMap, ns),
	}
	if exists {
		err = b.client.Update(ctx, &cm)
	} else {
		err = b.client.Create(ctx, &cm)
	}
	if err != nil {
		// A conflict or a concurrent create: the next attempt reads again.
		return fmt.Errorf("write ConfigMap %s: %w", key, err)
	}
	b.metrics.success.SetToCurrentTime()
	log.Info("wrote the key backup", "configMap", key.String(), "keys", len(m.Keys), "recipients", len(recipients), "bytes", sealed.Len())
	return nil
}

// describeKeys lists a bundle's keys for the annotation.
func describeKeys(m keybackup.Manifest) string {
	var sb strings.Builder
	for i, k := range m.Keys {
		if i > 0 {
			sb.WriteByte('\n')
		}
		fmt.Fprintf(&sb, "%s %s", k.ID, k.Status)
	}
	return sb.String()
}

// backupMetrics let alerts catch a backup that keeps failing.
type backupMetrics struct {
	success prometheus.Gauge
	errors  prometheus.Counter
}

// keyBackupMetrics are registered once per process on controller-runtime's
// registry, however many managers a process (a test) starts.
var keyBackupMetrics = sync.OnceValue(func() *backupMetrics {
	m := &backupMetrics{
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "sealsync", Name: "key_backup_last_success_timestamp_seconds",
			Help: "When the key backup ConfigMap was last found or made up to date, in seconds since the epoch",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "sealsync", Name: "key_backup_errors_total",
			Help: "Failed attempts to write the key backup ConfigMap",
		}),
	}
	ctrlmetrics.Registry.MustRegister(m.success, m.errors)
	return m
})
