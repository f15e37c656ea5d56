// Package keysecret converts sealing keys to and from the Secrets that hold
// them, in exactly Bitnami's format, so that a Bitnami key Secret works here
// as is and the other way round.
//
// # Format
//
// A key Secret lives in the controller's namespace, has type
// kubernetes.io/tls, a PEM PKCS#1 private key in tls.key (PKCS#8 is
// accepted on read), the PEM certificate in tls.crt, and the label
// [Label] set to "active" or "compromised". Bitnami names them with
// generateName [DefaultPrefix]; a legacy Secret named exactly
// [LegacyName] is also a key.
//
// # Renewal requests
//
// Two annotations on key Secrets carry requests for a new key (key
// renewal, which `kubeseal keys rotate` asks for): [RenewRequestAnnotation]
// asks, [RenewAnsweredAnnotation] marks the key made for a request. Their
// values say "rotate" after that command; they are not Bitnami's
// /v1/rotate, which re-encrypts one SealedSecret.
//
// # One codec
//
// Every reader and writer of key Secrets uses this package: the
// controller's key manager (package keys), the public keybackup package,
// kubeseal and the tests. It is pure: it imports only the core API types
// and package crypto, and does no I/O, so that keybackup may use it and
// stay pure too. Reading key files (PEM, YAML, JSON) is package keyfile.
package keysecret

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
)

const (
	// Label marks key Secrets; its value is the key's status.
	Label = "sealedsecrets.bitnami.com/sealed-secrets-key"
	// DefaultPrefix is the generateName of new key Secrets (--key-prefix).
	DefaultPrefix = "sealed-secrets-key"
	// LegacyName is the name of the single key Secret of old Bitnami
	// releases, loaded even without the label.
	LegacyName = "sealed-secrets-key"
)

// RenewRequestAnnotation, set to an RFC 3339 time on any key Secret, asks
// the controller to generate a new key if its newest key is older than
// that time. It is how `kubeseal keys rotate` asks for a key: patching a
// key Secret needs rights the API server checks, which a call through the
// service proxy would not.
const RenewRequestAnnotation = "sealsync.dev/rotate-requested-at"

// RenewAnsweredAnnotation on a key Secret holds the value of the
// [RenewRequestAnnotation] that the key was generated for. A request is
// answered once, even when it names a time after the key's certificate
// (a client clock ahead of the controller's, or a request in the same
// second as the key), so a request can never make keys in a loop.
const RenewAnsweredAnnotation = "sealsync.dev/rotate-answers"

// Order says which time makes a key the newest.
type Order int

const (
	// OrderCertNotBefore ranks keys by their certificate's NotBefore, the
	// Bitnami default (--key-order-priority=CertNotBefore).
	OrderCertNotBefore Order = iota
	// OrderSecretCreation ranks keys by their Secret's creationTimestamp.
	OrderSecretCreation
)

// ParseOrder parses Bitnami's --key-order-priority values.
func ParseOrder(s string) (Order, error) {
	switch s {
	case "", "CertNotBefore":
		return OrderCertNotBefore, nil
	case "SecretCreationTimestamp":
		return OrderSecretCreation, nil
	}
	return 0, fmt.Errorf("unknown key order %q: want CertNotBefore or SecretCreationTimestamp", s)
}

// ErrNotKeySecret is returned by [ToKey] for a Secret that is not a key
// Secret, or whose label value is neither active nor compromised.
var ErrNotKeySecret = errors.New("not a sealing key Secret")

// ErrNoCertificate is returned for a key Secret without tls.crt. Its key
// can unseal but never seal: kubeseal seals to the certificate.
var ErrNoCertificate = errors.New("no " + corev1.TLSCertKey + ": a key needs its certificate to seal")

// StatusOf returns the status the label [Label] of key Secret s gives its
// key. A Secret without the label is active: Bitnami's legacy key Secret
// has none, and a backup may have lost it. A label value that is neither
// active nor compromised marks no key for either controller, and is an
// error that quotes the value (a status, never key material).
func StatusOf(s *corev1.Secret) (crypto.Status, error) {
	v, ok := s.Labels[Label]
	if !ok {
		return crypto.StatusActive, nil
	}
	status, err := crypto.ParseStatus(v)
	if err != nil {
		return 0, fmt.Errorf("label %s=%q is neither active nor compromised", Label, v)
	}
	return status, nil
}

// PrivateKey parses the private key in tls.key of key Secret s: PEM,
// PKCS#1 as Bitnami writes it or PKCS#8. Errors name the item, never its
// content.
func PrivateKey(s *corev1.Secret) (*rsa.PrivateKey, error) {
	b, ok := s.Data[corev1.TLSPrivateKeyKey]
	if !ok {
		return nil, fmt.Errorf("no %s", corev1.TLSPrivateKeyKey)
	}
	priv, err := crypto.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", corev1.TLSPrivateKeyKey, err)
	}
	return priv, nil
}

// Certificate parses the first PEM certificate in tls.crt of key Secret s,
// the one kubeseal seals to; without tls.crt the error is
// [ErrNoCertificate].
func Certificate(s *corev1.Secret) (*x509.Certificate, error) {
	b, ok := s.Data[corev1.TLSCertKey]
	if !ok {
		return nil, ErrNoCertificate
	}
	certs, err := crypto.ParseCertificatesPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", corev1.TLSCertKey, err)
	}
	return certs[0], nil
}

// ParseKey returns the key key Secret s holds, with the status the caller
// decided (from the label, or from a backup's manifest) and creation time
// created (zero: the certificate's NotBefore). s needs tls.key and tls.crt,
// and the certificate must be the private key's. Errors name the item
// that failed, never its content; the caller names the Secret as it knows
// it.
func ParseKey(s *corev1.Secret, status crypto.Status, created time.Time) (*crypto.Key, error) {
	priv, err := PrivateKey(s)
	if err != nil {
		return nil, err
	}
	cert, err := Certificate(s)
	if err != nil {
		return nil, err
	}
	return crypto.NewKey(priv, cert, status, created)
}

// ToKey reads a key Secret of the cluster as the controller does: the
// status is the label's value, and only the legacy Secret [LegacyName] may
// lack the label (it is active); order says which time makes the key the
// newest. Errors name the Secret, never its content.
func ToKey(s *corev1.Secret, order Order) (*crypto.Key, error) {
	if _, labelled := s.Labels[Label]; !labelled && s.Name != LegacyName {
		return nil, fmt.Errorf("key secret %s/%s: %w", s.Namespace, s.Name, ErrNotKeySecret)
	}
	status, err := StatusOf(s)
	if err != nil {
		return nil, fmt.Errorf("key secret %s/%s: %w: %w", s.Namespace, s.Name, err, ErrNotKeySecret)
	}
	var created time.Time
	if order == OrderSecretCreation {
		created = s.CreationTimestamp.Time
	}
	k, err := ParseKey(s, status, created)
	if err != nil {
		return nil, fmt.Errorf("key secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return k, nil
}

// IDOf returns the key ID of key Secret s, from its certificate, which is
// public, or else from its private key.
func IDOf(s *corev1.Secret) (crypto.KeyID, error) {
	if cert, err := Certificate(s); err == nil {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return crypto.KeyIDOf(pub), nil
		}
	}
	priv, err := PrivateKey(s)
	if err != nil {
		return crypto.KeyID{}, fmt.Errorf("key secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return crypto.KeyIDOf(&priv.PublicKey), nil
}

// New returns the Secret that stores k in namespace, named by generateName
// prefix, with labels and annotations added to the key label.
func New(k *crypto.Key, namespace, prefix string, labels, annotations map[string]string) *corev1.Secret {
	l := map[string]string{}
	for key, v := range labels {
		l[key] = v
	}
	l[Label] = k.Status.String()
	var a map[string]string
	if len(annotations) > 0 {
		a = map[string]string{}
		for key, v := range annotations {
			a[key] = v
		}
	}
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix,
			Namespace:    namespace,
			Labels:       l,
			Annotations:  a,
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSPrivateKeyKey: crypto.EncodePrivateKeyPEM(k.PrivateKey),
			corev1.TLSCertKey:       crypto.EncodeCertificatePEM(k.Certificate),
		},
	}
}
