package keybackup

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

const (
	// FormatName is manifest.format in every bundle.
	FormatName = "sealsync.dev/keybackup"
	// Version is the format version this package writes and the only one it
	// reads.
	Version = 1
)

// Names of Bitnami's key Secret format, from package keysecret, the one
// codec of key Secrets, which is pure as this package is.
const (
	// StatusLabel marks key Secrets; its value is the key's status.
	StatusLabel = keysecret.Label
	// DefaultPrefix is the generateName of a restored key Secret that has
	// no name of its own.
	DefaultPrefix = keysecret.DefaultPrefix
)

// lastApplied is kubectl's copy of an applied object. On a key Secret it is
// a second, unlabelled copy of the private key, so a bundle never carries it.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Manifest lists the keys of a bundle.
type Manifest struct {
	// Version is the format version the bundle was written in.
	Version int
	// Created is when the bundle was made, in UTC, to the second.
	Created time.Time
	// Keys describe the bundle's keys, newest first.
	Keys []KeyInfo
}

// KeyInfo describes one key of a bundle.
type KeyInfo struct {
	// ID is the key's ID.
	ID crypto.KeyID
	// Status is whether the key may seal.
	Status crypto.Status
	// NotBefore and NotAfter are the validity of its certificate.
	NotBefore, NotAfter time.Time
	// Secret is the name of its key Secret, empty if it had none.
	Secret string
}

// Bundle is a set of key Secrets and their manifest. Build one with
// [FromSecrets] or [Open]; it is immutable and safe for concurrent use.
type Bundle struct {
	manifest Manifest
	entries  []entry // manifest.Keys[i] describes entries[i]
}

// entry is one key Secret, reduced to what a bundle carries (see
// [reduce]), with its parsed key.
type entry struct {
	secret corev1.Secret
	key    *crypto.Key
}

// ErrNoKeys is returned by [FromSecrets] when there is nothing to back up.
var ErrNoKeys = errors.New("keybackup: no key Secrets to back up")

// FromSecrets makes a bundle of key Secrets in Bitnami's format, created
// now. Each Secret needs tls.key and tls.crt (the certificate is what a
// restored key seals with); its status is the value of the label
// sealedsecrets.bitnami.com/sealed-secrets-key, and a Secret without the
// label (a legacy key, or a backup that lost it) is active. A key held by
// two Secrets is kept once, compromised if either says so.
//
// Errors name the Secret, never its content.
func FromSecrets(secrets []corev1.Secret) (*Bundle, error) {
	if len(secrets) == 0 {
		return nil, ErrNoKeys
	}
	byID := map[crypto.KeyID]int{}
	var entries []entry
	for i := range secrets {
		s := &secrets[i]
		status, err := keysecret.StatusOf(s)
		if err != nil {
			return nil, fmt.Errorf("keybackup: secret %s: %w", describe(i, s.Name), err)
		}
		key, err := keysecret.ParseKey(s, status, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("keybackup: secret %s: %w", describe(i, s.Name), err)
		}
		if j, dup := byID[key.ID]; dup {
			// The same key twice (restored under two names): keep one, and
			// never let the copy that is still active hide a compromise.
			if status == crypto.StatusCompromised && entries[j].key.Status != crypto.StatusCompromised {
				entries[j] = entry{secret: reduce(s, status), key: key}
			}
			continue
		}
		byID[key.ID] = len(entries)
		entries = append(entries, entry{secret: reduce(s, status), key: key})
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		if c := b.key.Certificate.NotBefore.Compare(a.key.Certificate.NotBefore); c != 0 {
			return c
		}
		return bytes.Compare(a.key.ID[:], b.key.ID[:])
	})
	b := &Bundle{
		manifest: Manifest{Version: Version, Created: time.Now().UTC().Truncate(time.Second)},
		entries:  entries,
	}
	for _, e := range entries {
		b.manifest.Keys = append(b.manifest.Keys, infoOf(e))
	}
	return b, nil
}

// reduce returns the part of key Secret s that a bundle carries: name,
// labels (with the status label set), annotations but kubectl's
// last-applied copy, creation time, type and the two PEM items as stored.
func reduce(s *corev1.Secret, status crypto.Status) corev1.Secret {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[StatusLabel] = status.String()
	var annotations map[string]string
	for k, v := range s.Annotations {
		if k == lastApplied {
			continue
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[k] = v
	}
	var created metav1.Time
	if !s.CreationTimestamp.IsZero() {
		created = metav1.NewTime(s.CreationTimestamp.UTC().Truncate(time.Second))
	}
	return corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              s.Name,
			Labels:            labels,
			Annotations:       annotations,
			CreationTimestamp: created,
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       bytes.Clone(s.Data[corev1.TLSCertKey]),
			corev1.TLSPrivateKeyKey: bytes.Clone(s.Data[corev1.TLSPrivateKeyKey]),
		},
	}
}

func infoOf(e entry) KeyInfo {
	c := e.key.Certificate
	return KeyInfo{
		ID: e.key.ID, Status: e.key.Status,
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		Secret: e.secret.Name,
	}
}

// describe names the i-th Secret (0-based) for an error message.
func describe(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%d", i+1)
	}
	return fmt.Sprintf("%d (%s)", i+1, name)
}

// Manifest returns the bundle's manifest.
func (b *Bundle) Manifest() Manifest {
	m := b.manifest
	m.Keys = slices.Clone(m.Keys)
	return m
}

// Keys returns the bundle's keys, newest first, each created at its
// certificate's NotBefore. They are copies, but share the private keys,
// which must not be modified.
func (b *Bundle) Keys() []*crypto.Key {
	keys := make([]*crypto.Key, len(b.entries))
	for i, e := range b.entries {
		k := *e.key
		keys[i] = &k
	}
	return keys
}

// Secrets returns the key Secrets to create in namespace to restore the
// bundle, newest first. A key that had no Secret name gets generateName
// [DefaultPrefix]. The creation time is left to the API server.
func (b *Bundle) Secrets(namespace string) []*corev1.Secret {
	out := make([]*corev1.Secret, len(b.entries))
	for i, e := range b.entries {
		s := e.secret.DeepCopy()
		s.Namespace = namespace
		s.CreationTimestamp = metav1.Time{}
		if s.Name == "" {
			s.GenerateName = DefaultPrefix
		}
		out[i] = s
	}
	return out
}
