package keys_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/testkit"
)

// TestFirstKeyIsGeneratedInBitnamiFormat: with no key Secret, the
// renewer makes one as Bitnami's controller would.
func TestFirstKeyIsGeneratedInBitnamiFormat(t *testing.T) {
	e, r := setup(t)
	k := r.latestKey(t)
	secrets := keySecrets(t, e, r.keyNS)
	if len(secrets) != 1 {
		t.Fatalf("key secrets = %d, want 1", len(secrets))
	}
	s := secrets[0]
	if s.Type != corev1.SecretTypeTLS || s.Labels[keysecret.Label] != "active" || s.GenerateName != "sealed-secrets-key" {
		t.Fatalf("key secret not in Bitnami's format: %+v", s.ObjectMeta)
	}
	if !bytes.HasPrefix(s.Data["tls.key"], []byte("-----BEGIN RSA PRIVATE KEY-----")) {
		t.Fatal("tls.key is not PKCS#1")
	}
	back, err := keysecret.ToKey(&s, keysecret.OrderCertNotBefore)
	if err != nil || back.ID != k.ID || back.PrivateKey.N.BitLen() != testBits {
		t.Fatalf("stored key differs: %v", err)
	}
}

// TestKeysReloadLive adds, relabels and deletes key Secrets behind the
// controller's back; the keyring follows without a restart.
func TestKeysReloadLive(t *testing.T) {
	e, r := setup(t)
	first := r.latestKey(t)

	// Add a key made elsewhere (a restored backup).
	added := newKey(t, time.Now().Add(time.Hour))
	s := keysecret.New(added, r.keyNS, keysecret.DefaultPrefix, nil, nil)
	create(t, e, s)
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if _, ok := ring.Lookup(added.ID); !ok {
			return errors.New("added key not loaded")
		}
		if l, _ := ring.Latest(); l.ID != added.ID {
			return errors.New("added key is not the latest")
		}
		return nil
	})

	// Mark it compromised: still in the ring, no longer the sealing key.
	s.Labels[keysecret.Label] = "compromised"
	if err := e.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		k, ok := ring.Lookup(added.ID)
		if !ok || k.Status != crypto.StatusCompromised {
			return errors.New("not compromised yet")
		}
		if l, _ := ring.Latest(); l.ID != first.ID {
			return errors.New("a compromised key is still the latest")
		}
		return nil
	})

	// Delete it.
	if err := e.Client.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if _, ok := ring.Lookup(added.ID); ok {
			return errors.New("deleted key still loaded")
		}
		return nil
	})
}

// TestSameKeyTwiceIsCompromised: one key held by two key Secrets, one
// labelled active and one compromised (a key marked compromised, then
// restored from an old backup under another name; the operator's side),
// is compromised: it still unseals but never seals, whichever Secret the
// controller lists first.
func TestSameKeyTwiceIsCompromised(t *testing.T) {
	e, r := setup(t)
	first := r.latestKey(t)
	dup := newKey(t, time.Now().Add(time.Hour))
	for name, status := range map[string]crypto.Status{
		// Listed in name order: the active copy comes first.
		"aaa-dup-active":      crypto.StatusActive,
		"zzz-dup-compromised": crypto.StatusCompromised,
	} {
		k := *dup
		k.Status = status
		s := keysecret.New(&k, r.keyNS, "", nil, nil)
		s.Name = name
		create(t, e, s)
	}
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		k, ok := ring.Lookup(dup.ID)
		if !ok {
			return errors.New("the key is not loaded")
		}
		if k.Status != crypto.StatusCompromised {
			return fmt.Errorf("the key is %s, want compromised", k.Status)
		}
		if l, _ := ring.Latest(); l.ID != first.ID {
			return fmt.Errorf("the latest key is %s, want %s: a compromised key seals", l.ID.Short(), first.ID.Short())
		}
		return nil
	})
	unseals(t, r, dup)
}

// TestRenewalRequestKeepsOldKeys: after a renewal request (kubeseal keys
// rotate, the operator's side) a new key seals, and values sealed with the
// old key and the new one both unseal. The request comes from a client
// whose clock is an hour ahead: it is answered with one key, not one key
// after another until the controller's clock catches up.
func TestRenewalRequestKeepsOldKeys(t *testing.T) {
	e, r := setup(t)
	old := r.latestKey(t)

	s := keySecrets(t, e, r.keyNS)[0]
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	requested := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	s.Annotations[keysecret.RenewRequestAnnotation] = requested
	if err := e.Client.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	var fresh *crypto.Key
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		l, err := ring.Latest()
		if err != nil || l.ID == old.ID {
			return errors.New("no new key yet")
		}
		fresh = l
		return nil
	})
	time.Sleep(time.Second)
	secrets := keySecrets(t, e, r.keyNS)
	if len(secrets) != 2 {
		t.Fatalf("key secrets = %d, want 2", len(secrets))
	}
	answered := 0
	for _, s := range secrets {
		if s.Annotations[keysecret.RenewAnsweredAnnotation] == requested {
			answered++
		}
	}
	if answered != 1 {
		t.Fatalf("%d key secrets answer the request, want 1", answered)
	}
	unseals(t, r, fresh)
	unseals(t, r, old)
}

// TestRenewalAndCutoff generates a new key once the newest is older than
// the renewal period, and a cutoff time (both the operator's flags) forces
// one at start.
func TestRenewalAndCutoff(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS := e.Namespace(t)
	old := newKey(t, time.Now().Add(-48*time.Hour))
	create(t, e, keysecret.New(old, keyNS, keysecret.DefaultPrefix, nil, nil))

	r := start(t, keyNS, func(o *options) { o.keys.RenewPeriod = 24 * time.Hour })
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if ring.Len() != 2 {
			return fmt.Errorf("%d keys, want the old one and a renewal", ring.Len())
		}
		return nil
	})
	r.stop()

	// A cutoff after the newest key forces another at start.
	r2 := start(t, keyNS, func(o *options) { o.keys.Cutoff = time.Now().Add(time.Minute) })
	waitKeyring(t, r2, func(ring *crypto.Keyring) error {
		if ring.Len() != 3 {
			return fmt.Errorf("%d keys, want 3", ring.Len())
		}
		return nil
	})
}

// TestCompromisedKeyStillUnseals: marking the only key compromised makes
// the controller generate a new sealing key, and what the compromised key
// sealed keeps unsealing.
func TestCompromisedKeyStillUnseals(t *testing.T) {
	e, r := setup(t)
	k := r.latestKey(t)
	s := keySecrets(t, e, r.keyNS)[0]
	s.Labels[keysecret.Label] = "compromised"
	if err := e.Client.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		l, err := ring.Latest()
		if err != nil || l.ID == k.ID {
			return errors.New("no new sealing key yet")
		}
		return nil
	})
	unseals(t, r, k)
}

// TestBitnamiKeySecretIsUsedAsIs: a key Secret exactly as Bitnami writes
// it (PKCS#1, its own certificate, the legacy unlabelled name too) is
// loaded, and no new key is generated.
func TestBitnamiKeySecretIsUsedAsIs(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS := e.Namespace(t)
	labelled := newKey(t, time.Now().Add(-time.Hour))
	legacy := newKey(t, time.Now().Add(-2*time.Hour))
	create(t, e, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "sealed-secrets-key", Namespace: keyNS,
			Labels: map[string]string{keysecret.Label: "active"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.key": crypto.EncodePrivateKeyPEM(labelled.PrivateKey), "tls.crt": crypto.EncodeCertificatePEM(labelled.Certificate)},
	})
	create(t, e, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: keysecret.LegacyName, Namespace: keyNS},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.key": crypto.EncodePrivateKeyPEM(legacy.PrivateKey), "tls.crt": crypto.EncodeCertificatePEM(legacy.Certificate)},
	})
	r := start(t, keyNS)
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if ring.Len() != 2 {
			return fmt.Errorf("%d keys loaded, want 2", ring.Len())
		}
		return nil
	})
	if l, _ := r.Keyring().Latest(); l.ID != labelled.ID {
		t.Fatal("the newest Bitnami key is not the sealing key")
	}
	unseals(t, r, legacy)
	time.Sleep(time.Second)
	if n := len(keySecrets(t, e, keyNS)); n != 1 {
		t.Fatalf("a key was generated although Bitnami's exist (%d labelled key secrets)", n)
	}
}
