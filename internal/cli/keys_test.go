package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
)

func TestKeysList(t *testing.T) {
	latest, older := cliKey(t, "key", t0.Add(time.Hour)), cliKey(t, "other-key", t0)
	compromised := *older
	compromised.Status = crypto.StatusCompromised
	ns, kc := onlineController(t, newKeys(&compromised, latest), server.Options{RateLimit: math.Inf(1)})
	online := []string{"--kubeconfig", kc, "--controller-namespace", ns, "keys", "list"}

	stdout, stderr, code := kubeseal(nil, online...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "KEY ID        STATUS       CREATED               EXPIRES               LATEST\n" +
		latest.ID.Short() + "  active       2027-02-01T01:00:00Z  2127-01-08T00:00:00Z  yes\n" +
		older.ID.Short() + "  compromised  2027-02-01T00:00:00Z  2127-01-08T00:00:00Z  no\n"
	if stdout != want {
		t.Errorf("table:\n%s\nwant:\n%s", stdout, want)
	}

	stdout, _, _ = kubeseal(nil, append(online, "--long")...)
	if !strings.Contains(stdout, latest.ID.String()+"  active") || !strings.Contains(stdout, older.ID.String()+"  compromised") {
		t.Errorf("--long does not show full IDs:\n%s", stdout)
	}

	wantList := server.KeyList{Keys: []server.KeyInfo{
		{ID: latest.ID.String(), Status: "active", Created: "2027-02-01T01:00:00Z", NotAfter: "2127-01-08T00:00:00Z", Latest: true},
		{ID: older.ID.String(), Status: "compromised", Created: "2027-02-01T00:00:00Z", NotAfter: "2127-01-08T00:00:00Z"},
	}}
	for _, format := range []string{"json", "yaml"} {
		stdout, stderr, code := kubeseal(nil, append(online, "-o", format)...)
		if code != 0 {
			t.Fatalf("-o %s: exit %d: %s", format, code, stderr)
		}
		var got server.KeyList
		if err := yaml.UnmarshalStrict([]byte(stdout), &got); err != nil {
			t.Fatalf("-o %s: %v\n%s", format, err, stdout)
		}
		if !equalJSON(t, got, wantList) {
			t.Errorf("-o %s:\n%s", format, stdout)
		}
	}

	if _, stderr, code := kubeseal(nil, append(online, "-o", "xml")...); code != 1 || !strings.Contains(stderr, "unsupported output format: xml") {
		t.Errorf("-o xml: exit %d: %s", code, stderr)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func TestKeysListErrors(t *testing.T) {
	ns, kc := onlineController(t, newKeys(), server.Options{})
	stdout, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", ns, "keys", "list")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "No keys") {
		t.Errorf("no keys: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// No controller where the user points: Bitnami's message.
	_, stderr, code = kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", "default", "keys", "list")
	if code != 1 || !strings.HasPrefix(stderr, "error: cannot get sealed secret service: ") {
		t.Errorf("no controller: exit %d, stderr %q", code, stderr)
	}

	// Bitnami's controller has no /v1/keys.
	bitnamiNs := testkit.RequireEnv(t, env).Namespace(t)
	serveController(t, bitnamiNs, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		http.NotFound(w, r)
	}))
	stdout, stderr, code = kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", bitnamiNs, "keys", "list")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "does not serve /v1/keys: Bitnami's sealed-secrets controller cannot list its keys") {
		t.Errorf("Bitnami controller: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// createKeySecret stores k as a key Secret in ns, as the controller does.
func createKeySecret(t *testing.T, ns string, k *crypto.Key) *corev1.Secret {
	t.Helper()
	s := keysecret.New(k, ns, keysecret.DefaultPrefix, nil, nil)
	if err := testkit.RequireEnv(t, env).Client.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func rotateAnnotation(t *testing.T, ns, name string) string {
	t.Helper()
	s := &metav1.PartialObjectMetadata{}
	s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	return s.Annotations[keysecret.RenewRequestAnnotation]
}

func TestKeysRotate(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	kc := writeKubeconfig(t)
	older := createKeySecret(t, ns, cliKey(t, "other-key", t0))
	// creationTimestamp has whole seconds: make the second Secret newer.
	time.Sleep(1100 * time.Millisecond)
	newer := createKeySecret(t, ns, cliKey(t, "key", t0))
	unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: ns}, StringData: map[string]string{"k": "v"}}
	if err := e.Client.Create(context.Background(), unrelated); err != nil {
		t.Fatal(err)
	}

	before := time.Now().Add(-time.Second)
	stdout, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", ns, "keys", "rotate")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := rotateAnnotation(t, ns, newer.Name)
	at, err := time.Parse(time.RFC3339, got)
	if err != nil {
		t.Fatalf("annotation %s=%q on the newest key Secret: %v", keysecret.RenewRequestAnnotation, got, err)
	}
	if at.Before(before) || at.After(time.Now()) {
		t.Errorf("annotation time %v is not now", at)
	}
	if !strings.Contains(stdout, "Requested a new sealing key at "+got+" (annotated Secret "+ns+"/"+newer.Name+")") {
		t.Errorf("stdout %q", stdout)
	}
	if a := rotateAnnotation(t, ns, older.Name); a != "" {
		t.Errorf("the older key Secret was annotated too: %q", a)
	}
	if a := rotateAnnotation(t, ns, unrelated.Name); a != "" {
		t.Errorf("an unrelated Secret was annotated: %q", a)
	}

	// No key Secrets where the user points.
	stdout, stderr, code = kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", "default", "keys", "rotate")
	if code != 1 || stdout != "" || !strings.Contains(stderr, `no sealing key Secrets (label sealedsecrets.bitnami.com/sealed-secrets-key) in namespace "default"`) {
		t.Errorf("no key Secrets: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestKeysRotateWait plays the controller: when the rotation annotation
// appears on its key Secret, it adds a new latest key to what /v1/keys
// serves, and kubeseal keys rotate --wait must notice.
func TestKeysRotateWait(t *testing.T) {
	defer cli.SetKeysPollInterval(100 * time.Millisecond)()
	old, next := cliKey(t, "other-key", t0), cliKey(t, "key", t0.Add(time.Hour))
	k := newKeys(old)
	ns, kc := onlineController(t, k, server.Options{RateLimit: math.Inf(1)})
	secret := createKeySecret(t, ns, old)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	generated := make(chan struct{})
	go func() {
		defer close(generated)
		for ctx.Err() == nil {
			s := &metav1.PartialObjectMetadata{}
			s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: secret.Name}, s); err == nil && s.Annotations[keysecret.RenewRequestAnnotation] != "" {
				k.ring.Store(crypto.NewKeyring(old, next))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	stdout, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", ns, "keys", "rotate", "--wait", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	<-generated
	if want := "The controller now seals with key " + next.ID.String() + ".\n"; !strings.HasSuffix(stdout, want) {
		t.Errorf("stdout %q, want it to end with %q", stdout, want)
	}

	// A controller that never answers the request.
	stdout, stderr, code = kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", ns, "keys", "rotate", "--wait", "--timeout", "500ms")
	if code != 1 || !strings.Contains(stdout, "Requested a new sealing key") || !strings.Contains(stderr, "error: no new key after 500ms: is the controller running") {
		t.Errorf("no new key: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// --wait checks the controller before changing anything.
	bare := testkit.RequireEnv(t, env).Namespace(t)
	lone := createKeySecret(t, bare, old)
	_, stderr, code = kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", bare, "keys", "rotate", "--wait")
	if code != 1 || !strings.Contains(stderr, "cannot get sealed secret service") {
		t.Errorf("no controller: exit %d, stderr %q", code, stderr)
	}
	if a := rotateAnnotation(t, bare, lone.Name); a != "" {
		t.Errorf("annotated although the controller cannot be reached: %q", a)
	}
}
