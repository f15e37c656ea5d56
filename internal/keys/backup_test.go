package keys_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/keybackup"
)

func backupTo(recipients string, debounce time.Duration) optionFunc {
	return func(o *options) {
		o.backup = keys.BackupOptions{Recipients: recipients, ConfigMap: keys.DefaultBackupConfigMap, Debounce: debounce}
	}
}

// backupState is what the backup ConfigMap holds, decrypted.
type backupState struct {
	cm     corev1.ConfigMap
	bundle *keybackup.Bundle
}

// readBackup reads and opens the backup ConfigMap in ns.
func readBackup(e *testkit.Env, ns string, ids ...age.Identity) (*backupState, error) {
	var cm corev1.ConfigMap
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: keys.DefaultBackupConfigMap}, &cm); err != nil {
		return nil, err
	}
	b, err := keybackup.Open(strings.NewReader(cm.Data[keys.BackupDataKey]), ids...)
	if err != nil {
		return nil, err
	}
	return &backupState{cm: cm, bundle: b}, nil
}

// waitBackup waits until the backup holds exactly the keys of the
// controller's keyring, with their status, and returns it.
func waitBackup(t *testing.T, e *testkit.Env, r *running, ids ...age.Identity) *backupState {
	t.Helper()
	var st *backupState
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var err error
		if st, err = readBackup(e, r.keyNS, ids...); err != nil {
			return false, err
		}
		want := keyStates(r.Keyring().Keys())
		got := keyStates(st.bundle.Keys())
		if !slices.Equal(got, want) {
			return false, fmt.Errorf("backup holds %v, keyring %v", got, want)
		}
		return true, nil
	})
	return st
}

func keyStates(keys []*crypto.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID.String()+" "+k.Status.String())
	}
	slices.Sort(out)
	return out
}

// TestKeyBackupFollowsKeys: the backup ConfigMap is written at start and
// follows a renewal and a compromise, holding ciphertext only, with the
// key IDs in an annotation.
func TestKeyBackupFollowsKeys(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e, r := setup(t, backupTo(id.Recipient().String(), 0)) // the default debounce, one second
	first := r.latestKey(t)
	st := waitBackup(t, e, r, id)
	if want := first.ID.String() + " active"; st.cm.Annotations[keys.BackupKeysAnnotation] != want {
		t.Errorf("annotation %q, want %q", st.cm.Annotations[keys.BackupKeysAnnotation], want)
	}
	if st.cm.Labels["app.kubernetes.io/component"] != "key-backup" || !strings.Contains(st.cm.Data["README"], "kubeseal keys restore") {
		t.Errorf("ConfigMap %+v", st.cm.ObjectMeta)
	}
	for k, v := range st.cm.Data {
		if strings.Contains(v, "PRIVATE KEY") || strings.Contains(v, "tls.key") {
			t.Fatalf("data %s holds plaintext", k)
		}
	}
	if _, err := readBackup(e, r.keyNS, mustX25519(t)); !errors.Is(err, keybackup.ErrNoIdentity) {
		t.Fatalf("another identity: %v", err)
	}

	// A renewal: the new key is in the backup within seconds.
	s := keySecrets(t, e, r.keyNS)[0]
	s.Annotations = map[string]string{keysecret.RenewRequestAnnotation: renewalRequest(first)}
	if err := e.Client.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if ring.Len() != 2 {
			return errNotYet
		}
		return nil
	})
	st = waitBackup(t, e, r, id)
	if n := len(strings.Split(st.cm.Annotations[keys.BackupKeysAnnotation], "\n")); n != 2 {
		t.Errorf("annotation lists %d keys", n)
	}

	// The first key compromised: the backup says so.
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(&s), &s); err != nil {
		t.Fatal(err)
	}
	s.Labels[keysecret.Label] = "compromised"
	if err := e.Client.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if k, _ := ring.Lookup(first.ID); k.Status != crypto.StatusCompromised {
			return errNotYet
		}
		return nil
	})
	st = waitBackup(t, e, r, id)
	if !strings.Contains(st.cm.Annotations[keys.BackupKeysAnnotation], first.ID.String()+" compromised") {
		t.Errorf("annotation %q", st.cm.Annotations[keys.BackupKeysAnnotation])
	}
}

// TestKeyBackupOneWritePerBurst: keys restored in one go (the operator's
// side) make one backup write, not one per key. The keys are made before
// the first is restored and the debounce is three seconds, so that the
// Secrets land well within one debounce period of each other however
// loaded the machine: key generation between the restores, not the
// backup, is what once made this take two writes.
func TestKeyBackupOneWritePerBurst(t *testing.T) {
	id := mustX25519(t)
	e, r := setup(t, backupTo(id.Recipient().String(), 3*time.Second))
	r.latestKey(t)
	waitBackup(t, e, r, id)

	var restored []*corev1.Secret
	for range 3 {
		restored = append(restored, keysecret.New(newKey(t, time.Now().Add(-time.Hour)), r.keyNS, keysecret.DefaultPrefix, nil, nil))
	}
	w := watchBackup(t, e, r.keyNS)
	for _, s := range restored {
		create(t, e, s)
	}
	waitKeyring(t, r, func(ring *crypto.Keyring) error {
		if ring.Len() != 4 {
			return errNotYet
		}
		return nil
	})
	waitBackup(t, e, r, id)
	time.Sleep(time.Second)
	if n := w.modified(); n != 1 {
		t.Errorf("three restored keys made %d writes, want 1", n)
	}
}

// renewalRequest returns the current time as a renewal request holds it,
// to the second, once that is after latest's creation, so that the
// request asks for a key newer than latest.
func renewalRequest(latest *crypto.Key) string {
	for !time.Now().Truncate(time.Second).After(latest.Created) {
		time.Sleep(100 * time.Millisecond)
	}
	return time.Now().UTC().Format(time.RFC3339)
}

func mustX25519(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// configMapWatch counts changes to the backup ConfigMap.
type configMapWatch struct{ events <-chan watch.Event }

func watchBackup(t *testing.T, e *testkit.Env, ns string) *configMapWatch {
	t.Helper()
	wc, err := client.NewWithWatch(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", keys.DefaultBackupConfigMap)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &configMapWatch{events: w.ResultChan()}
}

// modified counts the updates seen so far, skipping the initial ADDED.
func (w *configMapWatch) modified() int {
	n := 0
	for {
		select {
		case ev := <-w.events:
			if ev.Type == watch.Modified {
				n++
			}
		case <-time.After(100 * time.Millisecond):
			return n
		}
	}
}

// TestKeyBackupRecipientsFile reads the recipients from a file with
// comments, SSH keys among them, and never overwrites a ConfigMap it did
// not make.
func TestKeyBackupRecipientsFile(t *testing.T) {
	id := mustX25519(t)
	ssh := filepath.Join("..", "..", "keybackup", "testdata", "identities")
	pub, err := os.ReadFile(filepath.Join(ssh, "id_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "recipients")
	content := "# ops\n" + string(pub) + "\n# offline\n" + id.Recipient().String() + "\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	e, r := setup(t, backupTo(file, 0))
	r.latestKey(t)
	waitBackup(t, e, r, id)
	f, err := os.Open(filepath.Join(ssh, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sshIDs, err := keybackup.ParseIdentities(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitBackup(t, e, r, sshIDs...)

	// Someone else's ConfigMap under the backup's name stays as it is.
	keyNS := e.Namespace(t)
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: keys.DefaultBackupConfigMap, Namespace: keyNS}, Data: map[string]string{"mine": "yes"}}
	create(t, e, foreign)
	r2 := start(t, keyNS, backupTo(file, 0))
	r2.latestKey(t)
	time.Sleep(2 * time.Second)
	var got corev1.ConfigMap
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(foreign), &got); err != nil {
		t.Fatal(err)
	}
	if got.Data["mine"] != "yes" || len(got.Data) != 1 || got.ResourceVersion != foreign.ResourceVersion {
		t.Fatalf("a foreign ConfigMap was overwritten: %+v", got)
	}
}

// TestParseBackupRecipients reads --backup-recipients (the operator's
// flag) as a list or as a file with comments, gives the same fingerprint
// for the same recipients in any order, and names what is wrong.
func TestParseBackupRecipients(t *testing.T) {
	id1, id2 := mustX25519(t).Recipient().String(), mustX25519(t).Recipient().String()
	file := filepath.Join(t.TempDir(), "recipients")
	if err := os.WriteFile(file, []byte("# ops\n"+id2+"\n\n  # offline\n"+id1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, want, err := keys.ParseBackupRecipients(id1 + "," + id2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, spec string
		n          int
		wantErr    string
	}{
		{"list", id1 + "," + id2, 2, ""},
		{"list in another order", " " + id2 + "," + id1 + " ", 2, ""},
		{"file with comments", file, 2, ""},
		{"malformed", "age1notakey", 0, "backup recipients: line 1: malformed recipient"},
		{"no such file", "/no/such/file", 0, "backup recipients file: open /no/such/file"},
		{"SSH key cut by a comma", "ssh-ed25519 AAAA,age1xxxxxx", 0, "backup recipients: line 1: SSH recipient"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, fingerprint, err := keys.ParseBackupRecipients(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(recs) != tt.n || fingerprint != want {
				t.Fatalf("%d recipients, fingerprint %s (want %s), %v", len(recs), fingerprint, want, err)
			}
		})
	}
}
