package externalsecrets_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
	vaultprovider "github.com/sealsync/sealsync/providers/vault"
)

// suite is one test's world: its namespaces, the Vault it reads and the
// controller serving the namespaces.
type suite struct {
	t     *testing.T
	e     *testkit.Env
	v     *testkit.Vault
	ns    []string
	stop  func()
	audit string // the audit log of v
}

type optionFunc func(*externalsecrets.Options)

// setup creates n namespaces and starts a controller for them against
// the package's Vault. After the test it stops the controller and checks
// that no secret value reached a status, an event or a log line.
func setup(t *testing.T, n int, opts ...optionFunc) *suite {
	t.Helper()
	e, v := requireEnv(t)
	return setupWith(t, e, v, auditPath, n, opts...)
}

func setupWith(t *testing.T, e *testkit.Env, v *testkit.Vault, audit string, n int, opts ...optionFunc) *suite {
	t.Helper()
	var ns []string
	for range n {
		ns = append(ns, e.Namespace(t))
	}
	return setupIn(t, e, v, audit, ns, opts...)
}

// setupIn starts a controller for the namespaces ns, which exist.
func setupIn(t *testing.T, e *testkit.Env, v *testkit.Vault, audit string, ns []string, opts ...optionFunc) *suite {
	t.Helper()
	s := &suite{t: t, e: e, v: v, audit: audit, ns: ns}
	// Registered before the controller's stop, so it runs after it.
	t.Cleanup(s.checkNoLeaks)
	s.start(opts...)
	return s
}

// namespace creates namespace name with labels for the test.
func namespace(t *testing.T, e *testkit.Env, name string, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := e.Client.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return name
}

// start runs a controller for the suite's namespaces as cmd/controller
// builds it from its default flags, with the Vault and fake providers.
// Only what a test in one process needs differs: no leader election, no
// metrics, the HTTP API on a free port, the suite's namespaces only,
// smaller keys.
func (s *suite) start(opts ...optionFunc) {
	t := s.t
	t.Helper()
	o, err := controller.BindFlags(pflag.NewFlagSet("controller", pflag.ContinueOnError)).Options(s.e.Namespace(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry()
	reg.Register(providers.Vault, vaultprovider.New())
	reg.Register(providers.Fake, fake.New())
	o.ES.Providers = reg
	o.Keys.Bits = crypto.MinKeyBits
	o.MetricsAddr, o.Server.Addr = "0", "127.0.0.1:0"
	o.AllNamespaces, o.AdditionalNamespaces = false, s.ns
	o.LeaderElection = false
	for _, f := range opts {
		f(&o.ES)
	}
	c, err := controller.New(s.e.Config, o, controller.SharedProcess())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Manager.Start(ctx) }()
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	}
	t.Cleanup(s.stop)
}

func (s *suite) ctx() context.Context { return s.t.Context() }

// apply creates the objects of a YAML stream as kubectl apply would: with
// strict field validation, so a field the API does not know fails the
// test instead of being dropped. Objects without a namespace land in ns;
// cluster-scoped ones are deleted after the test.
func (s *suite) apply(ns, docs string) {
	s.t.Helper()
	if err := s.tryApply(ns, docs); err != nil {
		s.t.Fatal(err)
	}
}

func (s *suite) tryApply(ns, docs string) error {
	for _, doc := range splitYAML(docs) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return fmt.Errorf("decode %q: %w", firstLine(doc), err)
		}
		if len(u.Object) == 0 {
			continue // comments only
		}
		if clusterScoped[u.GetKind()] {
			obj := u.DeepCopy()
			s.t.Cleanup(func() { _ = s.e.Client.Delete(context.Background(), obj) })
		} else if u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		if err := s.e.Client.Create(s.ctx(), u, client.FieldValidation("Strict")); err != nil {
			return fmt.Errorf("create %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

var clusterScoped = map[string]bool{
	"ClusterSecretStore": true, "ClusterExternalSecret": true, "ClusterRoleBinding": true,
}

// splitYAML splits a YAML stream at its "---" lines. Each document keeps
// its last line break, which a block scalar at its end needs.
func splitYAML(docs string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(docs, "\n") {
		if strings.TrimRight(line, " \n") == "---" {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(out, cur.String())
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// golden reads testdata/name with the substitutions r makes.
func golden(t *testing.T, name string, r *strings.Replacer) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if r == nil {
		return string(b)
	}
	return r.Replace(string(b))
}

// es returns the ExternalSecret ns/name.
func (s *suite) es(ns, name string) *esv1.ExternalSecret {
	s.t.Helper()
	es := &esv1.ExternalSecret{}
	if err := s.e.Client.Get(s.ctx(), client.ObjectKey{Namespace: ns, Name: name}, es); err != nil {
		s.t.Fatal(err)
	}
	return es
}

func readyOf(es *esv1.ExternalSecret) *esv1.ExternalSecretStatusCondition {
	for i, c := range es.Status.Conditions {
		if c.Type == esv1.ExternalSecretReady {
			return &es.Status.Conditions[i]
		}
	}
	return nil
}

// waitReady waits until the Ready condition of ExternalSecret ns/name has
// status and reason and a message containing msg, for the current
// generation's spec.
func (s *suite) waitReady(ns, name string, status corev1.ConditionStatus, reason, msg string) *esv1.ExternalSecret {
	s.t.Helper()
	var es *esv1.ExternalSecret
	testkit.Eventually(s.t, waitTimeout, func() (bool, error) {
		es = &esv1.ExternalSecret{}
		if err := s.e.Client.Get(s.ctx(), client.ObjectKey{Namespace: ns, Name: name}, es); err != nil {
			return false, err
		}
		c := readyOf(es)
		if c == nil {
			return false, fmt.Errorf("%s: no Ready condition", name)
		}
		if c.Status != status || c.Reason != reason || !strings.Contains(c.Message, msg) {
			return false, fmt.Errorf("%s: Ready=%s %s: %s", name, c.Status, c.Reason, c.Message)
		}
		return true, nil
	})
	return es
}

// waitSynced waits for Ready=True, SecretSynced.
func (s *suite) waitSynced(ns, name string) *esv1.ExternalSecret {
	s.t.Helper()
	return s.waitReady(ns, name, corev1.ConditionTrue, esv1.ConditionReasonSecretSynced, "")
}

// waitFailed waits for Ready=False, SecretSyncedError, with msg in the
// message.
func (s *suite) waitFailed(ns, name, msg string) *esv1.ExternalSecret {
	s.t.Helper()
	return s.waitReady(ns, name, corev1.ConditionFalse, esv1.ConditionReasonSecretSyncedError, msg)
}

// secret returns the Secret ns/name, or nil if there is none.
func (s *suite) secret(ns, name string) *corev1.Secret {
	s.t.Helper()
	sec := &corev1.Secret{}
	err := s.e.Client.Get(s.ctx(), client.ObjectKey{Namespace: ns, Name: name}, sec)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return sec
}

// waitData waits until Secret ns/name holds exactly want.
func (s *suite) waitData(ns, name string, want map[string]string) *corev1.Secret {
	s.t.Helper()
	var sec *corev1.Secret
	testkit.Eventually(s.t, waitTimeout, func() (bool, error) {
		sec = s.secret(ns, name)
		if sec == nil {
			return false, fmt.Errorf("secret %s/%s does not exist", ns, name)
		}
		if err := sameData(sec, want); err != nil {
			return false, fmt.Errorf("secret %s/%s: %w", ns, name, err)
		}
		return true, nil
	})
	return sec
}

// sameData compares a Secret's data with want, naming keys but never
// printing values (they may be secrets).
func sameData(sec *corev1.Secret, want map[string]string) error {
	w := make(map[string][]byte, len(want))
	for k, v := range want {
		w[k] = []byte(v)
	}
	if d := testkit.DiffData(sec.Data, w); d != "" {
		return errors.New(d)
	}
	return nil
}

// waitFresh waits until Secret ns/name holds want, values written to
// Vault before written, and returns how long after written that was. It
// fails the test as soon as ExternalSecret ns/name (refreshInterval
// interval) has refreshed twice since written without them: the second
// refresh begun after the change belongs to a slot that began after it
// (slots are counted from the end of the second status.refreshTime
// names), so it may only be served a read begun after the change, however
// late a busy machine runs it. The first may still be served a read its
// slot made before the change.
func (s *suite) waitFresh(ns, name string, want map[string]string, written time.Time, interval time.Duration) time.Duration {
	s.t.Helper()
	var after time.Time // status.refreshTime of a refresh begun after written
	testkit.Eventually(s.t, 2*interval+waitTimeout, func() (bool, error) {
		if sec := s.secret(ns, name); sec != nil && sameData(sec, want) == nil {
			return true, nil
		}
		refreshed := s.es(ns, name).Status.RefreshTime.Time
		switch {
		case after.IsZero() && !refreshed.Before(written):
			// refreshTime is cut to the second: this refresh began after
			// the change.
			after = refreshed
		case !after.IsZero() && refreshed.After(after):
			// The Secret is written before the status that says so.
			sec := s.secret(ns, name)
			if sec != nil && sameData(sec, want) == nil {
				return true, nil
			}
			s.t.Fatalf("%s refreshed at %v and again at %v, both begun after the change at %v, and Secret %s/%s still lacks the new values",
				name, after.Format(time.RFC3339), refreshed.Format(time.RFC3339), written.Format(time.RFC3339Nano), ns, name)
		}
		return false, fmt.Errorf("secret %s/%s lacks the new values (last refresh %v)", ns, name, refreshed.Format(time.RFC3339))
	})
	return time.Since(written)
}

// waitGone waits until Secret ns/name does not exist.
func (s *suite) waitGone(ns, name string) {
	s.t.Helper()
	testkit.Eventually(s.t, waitTimeout, func() (bool, error) {
		if s.secret(ns, name) != nil {
			return false, fmt.Errorf("secret %s/%s still exists", ns, name)
		}
		return true, nil
	})
}

// unchanged fails the test if Secret ns/name is not byte for byte (same
// resourceVersion) the Secret before, or if before was nil and one exists.
func (s *suite) unchanged(ns, name string, before *corev1.Secret) {
	s.t.Helper()
	now := s.secret(ns, name)
	switch {
	case before == nil && now != nil:
		s.t.Errorf("secret %s/%s was created", ns, name)
	case before != nil && now == nil:
		s.t.Errorf("secret %s/%s was deleted", ns, name)
	case before != nil && (now.ResourceVersion != before.ResourceVersion || !reflect.DeepEqual(now.Data, before.Data)):
		s.t.Errorf("secret %s/%s was written (resourceVersion %s -> %s)", ns, name, before.ResourceVersion, now.ResourceVersion)
	}
}

// updateES applies mutate to the current ExternalSecret, retrying on
// conflicts with the controller's status writes.
func (s *suite) updateES(ns, name string, mutate func(*esv1.ExternalSecret)) {
	s.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		es := &esv1.ExternalSecret{}
		if err := s.e.Client.Get(s.ctx(), client.ObjectKey{Namespace: ns, Name: name}, es); err != nil {
			return err
		}
		mutate(es)
		return s.e.Client.Update(s.ctx(), es)
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// waitEvent waits for an event of type and reason about the object named
// name in ns whose note contains msg, and returns the note.
func (s *suite) waitEvent(ns, name, typ, reason, msg string) string {
	s.t.Helper()
	var note string
	testkit.Eventually(s.t, waitTimeout, func() (bool, error) {
		var list corev1.EventList
		if err := s.e.Client.List(s.ctx(), &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.InvolvedObject.Name == name && ev.Type == typ && ev.Reason == reason && strings.Contains(ev.Message, msg) {
				note = ev.Message
				return true, nil
			}
		}
		return false, fmt.Errorf("no %s %s event about %s containing %q", typ, reason, name, msg)
	})
	return note
}

// checkNoLeaks fails the test if a secret value used so far appears in the
// status of an ExternalSecret or store, in an event of the suite's
// namespaces, or in a controller log line.
func (s *suite) checkNoLeaks() {
	t := s.t
	ctx := context.Background()
	for _, ns := range s.ns {
		var ess esv1.ExternalSecretList
		if err := s.e.Client.List(ctx, &ess, client.InNamespace(ns)); err != nil {
			t.Error(err)
			continue
		}
		for _, es := range ess.Items {
			if what, ok := secrets.find(fmt.Sprintf("%+v", es.Status)); ok {
				t.Errorf("the status of ExternalSecret %s/%s holds %s", ns, es.Name, what)
			}
		}
		var stores esv1.SecretStoreList
		if err := s.e.Client.List(ctx, &stores, client.InNamespace(ns)); err != nil {
			t.Error(err)
			continue
		}
		for _, st := range stores.Items {
			if what, ok := secrets.find(fmt.Sprintf("%+v", st.Status)); ok {
				t.Errorf("the status of SecretStore %s/%s holds %s", ns, st.Name, what)
			}
		}
		var events corev1.EventList
		if err := s.e.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			t.Error(err)
			continue
		}
		for _, ev := range events.Items {
			if what, ok := secrets.find(ev.Message); ok {
				t.Errorf("event %s about %s holds %s", ev.Reason, ev.InvolvedObject.Name, what)
			}
		}
	}
	var csss esv1.ClusterSecretStoreList
	if err := s.e.Client.List(ctx, &csss); err == nil {
		for _, st := range csss.Items {
			if what, ok := secrets.find(fmt.Sprintf("%+v", st.Status)); ok {
				t.Errorf("the status of ClusterSecretStore %s holds %s", st.Name, what)
			}
		}
	}
	text := string(logs.Bytes())
	if what, ok := secrets.find(text); ok {
		t.Errorf("a controller log line holds %s: %s", what, secrets.lineWith(text, what))
	}
}

// value returns a fresh secret value for what, a canary: no log, status
// or event may show it, whole or any 4 bytes of it.
func value(what string) string {
	v := testkit.Canary()
	secrets.addCanary(what, v)
	return v
}

// Vault.

// readerPolicy may read and list everything under secret/.
const readerPolicy = "reader"

// resetKV replaces the KV engine at secret/ with an empty one of version
// 1 or 2 and makes sure the reader policy exists.
func resetKV(t *testing.T, v *testkit.Vault, version int) {
	t.Helper()
	ctx := t.Context()
	if err := v.Client.Sys().UnmountWithContext(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	if err := v.MountKV(ctx, "secret", version); err != nil {
		t.Fatal(err)
	}
	err := v.Client.Sys().PutPolicyWithContext(ctx, readerPolicy, `path "secret/*" { capabilities = ["read", "list"] }`)
	if err != nil {
		t.Fatal(err)
	}
}

// put writes data at path of the KV v2 engine at secret/, recording its
// string values as secrets.
func put(t *testing.T, v *testkit.Vault, path string, data map[string]any) {
	t.Helper()
	recordValues(path, data)
	if _, err := v.Client.KVv2("secret").Put(t.Context(), path, data); err != nil {
		t.Fatalf("put %s: %v", path, err)
	}
}

func recordValues(path string, data map[string]any) {
	for _, val := range data {
		switch val := val.(type) {
		case string:
			secrets.add("the value at "+path, val)
		case map[string]any:
			recordValues(path, val)
		}
	}
}

// tag sets the custom_metadata of the KV v2 secret at path.
func tag(t *testing.T, v *testkit.Vault, path string, md map[string]any) {
	t.Helper()
	if err := v.Client.KVv2("secret").PutMetadata(t.Context(), path, vaultapi.KVMetadataPutInput{CustomMetadata: md}); err != nil {
		t.Fatalf("metadata %s: %v", path, err)
	}
}

// remove deletes the KV v2 secret at path with all its versions.
func remove(t *testing.T, v *testkit.Vault, path string) {
	t.Helper()
	if err := v.Client.KVv2("secret").DeleteMetadata(t.Context(), path); err != nil {
		t.Fatalf("delete %s: %v", path, err)
	}
}

// esFor is an ExternalSecret named name reading property "value" of the
// Vault secret at path into key "value", with extra spec lines. store is
// a SecretStore's name or "ClusterSecretStore/name".
func esFor(name, store, path, spec string) string {
	kind := "SecretStore"
	if k, n, ok := strings.Cut(store, "/"); ok {
		kind, store = k, n
	}
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %[1]s
spec:
  secretStoreRef:
    name: %[2]s
    kind: %[5]s
%[4]s  data:
  - secretKey: value
    remoteRef:
      key: %[3]s
      property: value
`, name, store, path, spec, kind)
}

// readerToken returns a new Vault token with the reader policy.
func readerToken(t *testing.T, v *testkit.Vault) string {
	t.Helper()
	// A canary as the token's ID (root may choose it), so that a part of
	// it in a log is found too.
	s, err := v.Client.Auth().Token().CreateWithContext(t.Context(), &vaultapi.TokenCreateRequest{
		ID: testkit.Canary(), Policies: []string{readerPolicy}, TTL: "1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets.addCanary("a Vault token", s.Auth.ClientToken)
	return s.Auth.ClientToken
}

// tokenStore is a SecretStore of Vault v with a reader token in Secret
// vault-token, the shape of ESO's quickstart.
func tokenStore(t *testing.T, v *testkit.Vault, name string) string {
	return tokenStoreWith(v, name, readerToken(t, v))
}

// tokenStoreWith is a SecretStore of Vault v (KV v2) authenticating with
// token, kept in Secret vault-token-NAME.
func tokenStoreWith(v *testkit.Vault, name, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: vault-token-%[1]s
stringData:
  token: %[2]s
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: %[1]s
spec:
  provider:
    vault:
      server: %[3]q
      path: secret
      version: v2
      auth:
        tokenSecretRef:
          name: vault-token-%[1]s
          key: token
`, name, token, v.Addr)
}

// audit returns the requests Vault has audited so far.
func (s *suite) auditLog() testkit.AuditLog {
	s.t.Helper()
	l, err := testkit.ReadAuditLog(s.audit)
	if err != nil {
		s.t.Fatal(err)
	}
	return l
}

// auditSince returns the requests audited after before was read.
func (s *suite) auditSince(before testkit.AuditLog) testkit.AuditLog {
	s.t.Helper()
	return s.auditLog()[len(before):]
}

// with returns the suite for a subtest.
func (s *suite) with(t *testing.T) *suite {
	c := *s
	c.t = t
	return &c
}

// waitStore waits until SecretStore ns/name is Ready=status with msg in
// its message.
func (s *suite) waitStore(ns, name string, status corev1.ConditionStatus, msg string) *esv1.SecretStore {
	s.t.Helper()
	st := &esv1.SecretStore{}
	testkit.Eventually(s.t, waitTimeout, func() (bool, error) {
		if err := s.e.Client.Get(s.ctx(), client.ObjectKey{Namespace: ns, Name: name}, st); err != nil {
			return false, err
		}
		for _, c := range st.Status.Conditions {
			if c.Type == esv1.SecretStoreReady {
				if c.Status == status && strings.Contains(c.Message, msg) {
					return true, nil
				}
				return false, fmt.Errorf("store %s: Ready=%s %s: %s", name, c.Status, c.Reason, c.Message)
			}
		}
		return false, fmt.Errorf("store %s: no Ready condition", name)
	})
	return st
}
