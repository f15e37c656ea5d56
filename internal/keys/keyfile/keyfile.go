// Package keyfile reads the unencrypted key files kubeseal accepts
// (--recovery-private-key, reencrypt --private-key, keys backup
// --from-file, keys restore -i): a PEM private key, or key Secrets as
// YAML or JSON, as `kubectl get secret -o yaml` writes them. They come from the operator, who may have trimmed or converted
// them, so reading them is lenient where package keysecret, which reads
// the key Secrets of a cluster, is strict.
//
// It is apart from keysecret because decoding YAML and JSON manifests
// links Kubernetes' scheme machinery (package manifest), which keysecret
// and the public keybackup package, which uses it, must not.
package keyfile

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
)

// ParseKeys reads the keys in one file given to --recovery-private-key:
// anything [ParseSecrets] reads. A key whose certificate is missing can
// only unseal.
func ParseKeys(b []byte) ([]*crypto.Key, error) {
	secrets, err := ParseSecrets(b)
	if err != nil {
		return nil, err
	}
	keys := make([]*crypto.Key, 0, len(secrets))
	for _, s := range secrets {
		k, err := KeyOf(s)
		if err != nil {
			if s.Name == "" {
				return nil, err // a PEM file: the caller names it
			}
			return nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// KeyOf returns the key a Secret of [ParseSecrets] holds. Recovery only
// unseals, so a status neither controller knows counts as active, and a
// certificate that is missing or does not parse does not keep a private
// key from being used: the key has no certificate then.
func KeyOf(s *corev1.Secret) (*crypto.Key, error) {
	status, err := keysecret.StatusOf(s)
	if err != nil {
		status = crypto.StatusActive
	}
	priv, err := keysecret.PrivateKey(s)
	if err != nil {
		return nil, err
	}
	cert, _ := keysecret.Certificate(s)
	return crypto.NewKey(priv, cert, status, time.Time{})
}

// ParseSecrets reads the key Secrets in one unencrypted backup file: PEM
// (an RSA private key, PKCS#1 or PKCS#8, with or without its certificate
// beside it), which becomes one unnamed key Secret, or YAML/JSON key
// Secrets, alone, as several documents, or in a v1 List as `kubectl get
// secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` writes
// it. Backups are taken as they are: a Secret's labels may have been lost
// and its certificate may be missing, but it must hold tls.key. Errors
// name the Secret, never its content.
func ParseSecrets(b []byte) ([]*corev1.Secret, error) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		s, err := secretFromPEM(b)
		if err != nil {
			return nil, err
		}
		return []*corev1.Secret{s}, nil
	}
	secrets, err := manifest.DecodeSecrets(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("neither a PEM private key nor key Secrets: %w", err)
	}
	if len(secrets) == 0 {
		return nil, errors.New("no private key found")
	}
	for _, s := range secrets {
		if _, ok := s.Data[corev1.TLSPrivateKeyKey]; !ok {
			return nil, fmt.Errorf("secret %s/%s has no %s", s.Namespace, s.Name, corev1.TLSPrivateKeyKey)
		}
	}
	return secrets, nil
}

// secretFromPEM makes an unnamed key Secret of a PEM file: the first
// private key block as tls.key, every certificate block as tls.crt.
func secretFromPEM(b []byte) (*corev1.Secret, error) {
	var keyPEM, certPEM []byte
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "RSA PRIVATE KEY", "PRIVATE KEY":
			if keyPEM == nil {
				keyPEM = pem.EncodeToMemory(block)
			}
		case "CERTIFICATE":
			certPEM = append(certPEM, pem.EncodeToMemory(block)...)
		}
	}
	if keyPEM == nil {
		return nil, errors.New("crypto: no RSA private key PEM block found")
	}
	data := map[string][]byte{corev1.TLSPrivateKeyKey: keyPEM}
	if certPEM != nil {
		data[corev1.TLSCertKey] = certPEM
	}
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		Type:     corev1.SecretTypeTLS,
		Data:     data,
	}, nil
}
