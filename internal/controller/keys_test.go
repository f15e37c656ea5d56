package controller_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/testkit"
)

func keySecrets(t *testing.T, e *testkit.Env, ns string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := e.Client.List(ctx, &list, client.InNamespace(ns), client.HasLabels{keysecret.Label}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

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
	create(t, e, seal(t, dup, r.ns, "by-dup", crypto.ScopeStrict, map[string]string{"k": "v"}))
	waitSecret(t, e, r.ns, "by-dup", hasData(map[string]string{"k": "v"}))
}

func newKey(t *testing.T, notBefore time.Time) *crypto.Key {
	t.Helper()
	priv, err := crypto.GenerateKey(rand.Reader, testBits)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := crypto.NewCertificate(rand.Reader, priv, notBefore, crypto.DefaultCertValidity, "test")
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.NewKey(priv, cert, crypto.StatusActive, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func waitKeyring(t *testing.T, r *running, check func(*crypto.Keyring) error) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() (bool, error) {
		err := check(r.Keys.Keyring())
		return err == nil, err
	})
}

// TestRotationKeepsOldSecretsWorking: after a rotation request a new key
// seals, and values sealed with the old key and the new one both unseal.
// The request comes from a client whose clock is an hour ahead: it is
// answered with one key, not one key after another until the controller's
// clock catches up.
func TestRotationKeepsOldSecretsWorking(t *testing.T) {
	e, r := setup(t)
	old := r.latestKey(t)
	create(t, e, seal(t, old, r.ns, "before", crypto.ScopeStrict, map[string]string{"k": "old"}))
	waitSecret(t, e, r.ns, "before", hasData(map[string]string{"k": "old"}))

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
	create(t, e, seal(t, fresh, r.ns, "after", crypto.ScopeStrict, map[string]string{"k": "new"}))
	waitSecret(t, e, r.ns, "after", hasData(map[string]string{"k": "new"}))
	// The old one still unseals: delete its Secret and watch it come back.
	var before corev1.Secret
	_ = e.Client.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: "before"}, &before)
	_ = e.Client.Delete(ctx, &before)
	waitSecret(t, e, r.ns, "before", func(s *corev1.Secret) error {
		if s.UID == before.UID {
			return errors.New("not recreated")
		}
		return hasData(map[string]string{"k": "old"})(s)
	})
}

// TestRenewalPeriod generates a new key once the newest is older than the
// renewal period, and a cutoff time forces one at start.
func TestRenewalAndCutoff(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	old := newKey(t, time.Now().Add(-48*time.Hour))
	create(t, e, keysecret.New(old, keyNS, keysecret.DefaultPrefix, nil, nil))

	r := start(t, keyNS, ns, func(o *controller.Options) { o.Keys.RenewPeriod = 24 * time.Hour })
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if ring.Len() != 2 {
			return fmt.Errorf("%d keys, want the old one and a renewal", ring.Len())
		}
		return nil
	})
	r.stop()

	// A cutoff after the newest key forces another at start.
	r2 := start(t, keyNS, ns, func(o *controller.Options) { o.Keys.Cutoff = time.Now().Add(time.Minute) })
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
	create(t, e, seal(t, k, r.ns, "old", crypto.ScopeStrict, map[string]string{"k": "v"}))
	waitSecret(t, e, r.ns, "old", hasData(map[string]string{"k": "v"}))
}

// TestBitnamiKeySecretIsUsedAsIs: a key Secret exactly as Bitnami writes
// it (PKCS#1, its own certificate, the legacy unlabelled name too) is
// loaded, and no new key is generated.
func TestBitnamiKeySecretIsUsedAsIs(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
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
	r := start(t, keyNS, ns)
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if ring.Len() != 2 {
			return fmt.Errorf("%d keys loaded, want 2", ring.Len())
		}
		return nil
	})
	if l, _ := r.Keys.Keyring().Latest(); l.ID != labelled.ID {
		t.Fatal("the newest Bitnami key is not the sealing key")
	}
	create(t, e, seal(t, legacy, ns, "legacy", crypto.ScopeStrict, map[string]string{"k": "v"}))
	waitSecret(t, e, ns, "legacy", hasData(map[string]string{"k": "v"}))
	time.Sleep(500 * time.Millisecond)
	if n := len(keySecrets(t, e, keyNS)); n != 1 {
		t.Fatalf("a key was generated although Bitnami's exist (%d labelled key secrets)", n)
	}
}

// TestSealedByBitnamiKubeseal: a SealedSecret made by the real Bitnami
// kubeseal with the controller's certificate unseals.
func TestSealedByBitnamiKubeseal(t *testing.T) {
	bin := testkit.Tool(t, "kubeseal", "kubeseal")
	e, r := setup(t)
	k := r.latestKey(t)
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, crypto.EncodeCertificatePEM(k.Certificate), 0o600); err != nil {
		t.Fatal(err)
	}
	in := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-bitnami\n  namespace: %s\n  labels: {app: x}\nstringData:\n  password: by-bitnami\n", r.ns)
	cmd := exec.Command(bin, "--cert", cert, "-o", "yaml")
	cmd.Env = []string{"HOME=" + dir, "KUBECONFIG=" + filepath.Join(dir, "none")}
	cmd.Stdin = bytes.NewReader([]byte(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bitnami kubeseal: %v", err)
	}
	sealed, err := manifest.DecodeSealedSecrets(bytes.NewReader(out))
	if err != nil || len(sealed) != 1 {
		t.Fatalf("decode: %v", err)
	}
	create(t, e, sealed[0])
	s := waitSecret(t, e, r.ns, "from-bitnami", hasData(map[string]string{"password": "by-bitnami"}))
	if s.Labels["app"] != "x" {
		t.Errorf("labels = %v", s.Labels)
	}
}

// TestRestartResumes stops the controller, changes things while it is
// down, and starts a new one: it converges, and Secrets that still match
// are not rewritten.
func TestRestartResumes(t *testing.T) {
	e, r := setup(t)
	k := r.latestKey(t)
	for _, n := range []string{"kept", "changed", "deleted"} {
		create(t, e, seal(t, k, r.ns, n, crypto.ScopeStrict, map[string]string{"v": "1"}))
	}
	kept := waitSecret(t, e, r.ns, "kept", hasData(map[string]string{"v": "1"}))
	waitSecret(t, e, r.ns, "changed", hasData(map[string]string{"v": "1"}))
	del := waitSecret(t, e, r.ns, "deleted", hasData(map[string]string{"v": "1"}))
	waitSynced(t, e, r.ns, "kept", corev1.ConditionTrue, "")
	r.stop()

	next := seal(t, k, r.ns, "changed", crypto.ScopeStrict, map[string]string{"v": "2"})
	updateSS(t, e, r.ns, "changed", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.EncryptedData = next.Spec.EncryptedData })
	if err := e.Client.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	create(t, e, seal(t, k, r.ns, "new", crypto.ScopeStrict, map[string]string{"v": "3"}))

	r2 := start(t, r.keyNS, r.ns)
	waitSecret(t, e, r.ns, "changed", hasData(map[string]string{"v": "2"}))
	waitSecret(t, e, r.ns, "deleted", hasData(map[string]string{"v": "1"}))
	waitSecret(t, e, r.ns, "new", hasData(map[string]string{"v": "3"}))
	if n := len(keySecrets(t, e, r.keyNS)); n != 1 {
		t.Fatalf("restart generated a key: %d key secrets", n)
	}
	_ = r2
	var after corev1.Secret
	_ = e.Client.Get(ctx, client.ObjectKeyFromObject(kept), &after)
	if after.ResourceVersion != kept.ResourceVersion {
		t.Fatal("an unchanged Secret was rewritten after restart")
	}
}
