// Package sealing turns Secrets into SealedSecrets and back: the object
// level above package crypto's values, shared by kubeseal and the
// controller.
//
// # Where scope comes from
//
// The scope, name and namespace that bind each value are read from the
// SealedSecret's top-level metadata only, never from spec.template, which
// anyone who can write the object controls without knowing any key (Bitnami
// CVE-2026-22728).
package sealing

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
)

// lastAppliedAnnotations hold a full copy of an applied object, plaintext
// Secret values included (Bitnami #227); sealing drops them.
var lastAppliedAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"kubecfg.ksonnet.io/last-applied-configuration",
}

// ScopeOf returns the scope o's annotations declare: cluster-wide wins over
// namespace-wide, and only the exact value "true" counts.
func ScopeOf(o metav1.Object) crypto.Scope {
	a := o.GetAnnotations()
	switch {
	case a[ssv1alpha1.ClusterWideAnnotation] == "true":
		return crypto.ScopeClusterWide
	case a[ssv1alpha1.NamespaceWideAnnotation] == "true":
		return crypto.ScopeNamespaceWide
	}
	return crypto.ScopeStrict
}

// SetScope rewrites the scope annotations of a so that they declare scope,
// returning the (possibly new) map.
func SetScope(a map[string]string, scope crypto.Scope) map[string]string {
	if a == nil {
		a = map[string]string{}
	}
	delete(a, ssv1alpha1.NamespaceWideAnnotation)
	delete(a, ssv1alpha1.ClusterWideAnnotation)
	switch scope {
	case crypto.ScopeNamespaceWide:
		a[ssv1alpha1.NamespaceWideAnnotation] = "true"
	case crypto.ScopeClusterWide:
		a[ssv1alpha1.ClusterWideAnnotation] = "true"
	}
	return a
}

// Label returns the OAEP label for o from its top-level metadata.
func Label(o metav1.Object) []byte {
	return crypto.Label(ScopeOf(o), o.GetNamespace(), o.GetName())
}

// Sealer seals for one public key.
type Sealer struct {
	random io.Reader
	pub    *rsa.PublicKey
	keyID  crypto.KeyID
	// convergence is the key of a convergent sealer (see
	// NewConvergentSealer); nil for a sealer drawing from random.
	convergence []byte
}

// NewSealer returns a sealer for pub, drawing randomness from random (most
// callers pass crypto/rand.Reader).
func NewSealer(random io.Reader, pub *rsa.PublicKey) *Sealer {
	return &Sealer{random: random, pub: pub, keyID: crypto.KeyIDOf(pub)}
}

// KeyID returns the ID of the key the sealer seals to.
func (s *Sealer) KeyID() crypto.KeyID { return s.keyID }

// SealValue seals one value for scope, namespace and name and returns it
// base64-encoded, as kubeseal --raw prints it.
func (s *Sealer) SealValue(scope crypto.Scope, namespace, name string, value []byte) (string, error) {
	return s.sealItem(scope, namespace, name, "", value)
}

// sealItem seals value, the item key item of a Secret (empty when
// unknown), for scope, namespace and name. The item key binds nothing in
// the wire format; a convergent sealer derives its randomness from it.
func (s *Sealer) sealItem(scope crypto.Scope, namespace, name, item string, value []byte) (string, error) {
	label := crypto.Label(scope, namespace, name)
	blob, err := crypto.HybridEncrypt(s.randomFor(label, item, value), s.pub, value, label)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(blob), nil
}

// ErrNoNamespace is returned when a strict or namespace-wide Secret has no
// namespace to bind to.
var ErrNoNamespace = errors.New("secret must declare a namespace")

// SealSecret seals every data and stringData value of secret into a new
// SealedSecret, as Bitnami's kubeseal does: the scope comes from secret's
// annotations, its metadata, type and immutability become the template
// (minus last-applied annotations and owner references), and the
// SealedSecret's own metadata holds only its name, namespace, the scope
// annotations and the [ssv1alpha1.KeyIDAnnotation] hint. secret is not
// modified.
func (s *Sealer) SealSecret(secret *corev1.Secret) (*ssv1alpha1.SealedSecret, error) {
	scope := ScopeOf(secret)
	if scope != crypto.ScopeClusterWide && secret.Namespace == "" {
		return nil, ErrNoNamespace
	}
	ss := &ssv1alpha1.SealedSecret{
		TypeMeta:   metav1.TypeMeta{APIVersion: ssv1alpha1.SchemeGroupVersion.String(), Kind: "SealedSecret"},
		ObjectMeta: metav1.ObjectMeta{Name: secret.Name, Namespace: secret.Namespace},
		Spec: ssv1alpha1.SealedSecretSpec{
			Template: ssv1alpha1.SecretTemplateSpec{
				Type:      secret.Type,
				Immutable: secret.Immutable,
			},
			EncryptedData: map[string]string{},
		},
	}
	secret.ObjectMeta.DeepCopyInto(&ss.Spec.Template.ObjectMeta)
	stripForTemplate(&ss.Spec.Template.ObjectMeta)

	// Sorted so that a failure is reported for the same key every time.
	for _, k := range slices.Sorted(maps.Keys(secret.Data)) {
		v, err := s.sealItem(scope, secret.Namespace, secret.Name, k, secret.Data[k])
		if err != nil {
			return nil, fmt.Errorf("seal %q: %w", k, err)
		}
		ss.Spec.EncryptedData[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(secret.StringData)) {
		v, err := s.sealItem(scope, secret.Namespace, secret.Name, k, []byte(secret.StringData[k]))
		if err != nil {
			return nil, fmt.Errorf("seal %q: %w", k, err)
		}
		ss.Spec.EncryptedData[k] = v
	}
	ss.Annotations = SetScope(nil, scope)
	ss.Annotations[ssv1alpha1.KeyIDAnnotation] = s.keyID.String()
	return ss, nil
}

// stripForTemplate removes from a Secret's metadata what must not travel
// into a SealedSecret's template: the last-applied annotations (they hold
// the plaintext), owner references (they point at objects of the source
// cluster) and every field the API server sets.
func stripForTemplate(m *metav1.ObjectMeta) {
	for _, k := range lastAppliedAnnotations {
		delete(m.Annotations, k)
	}
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	}
	m.OwnerReferences = nil
	m.UID = ""
	m.ResourceVersion = ""
	m.Generation = 0
	m.CreationTimestamp = metav1.Time{}
	m.DeletionTimestamp = nil
	m.DeletionGracePeriodSeconds = nil
	m.ManagedFields = nil
}
