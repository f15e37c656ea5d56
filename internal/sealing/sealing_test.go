package sealing_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/sealing"
)

func loadKey(t testing.TB, name string) *crypto.Key {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "crypto", "testdata", "keys", name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.ParsePrivateKeyPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.NewKey(priv, certs[0], crypto.StatusActive, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sealerFor(k *crypto.Key) *sealing.Sealer {
	return sealing.NewSealer(rand.Reader, &k.PrivateKey.PublicKey)
}

func testSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "db", Namespace: "prod", UID: "u", ResourceVersion: "9", Generation: 3,
			CreationTimestamp: metav1.Now(),
			Labels:            map[string]string{"app": "db"},
			Annotations: map[string]string{
				"kubectl.kubernetes.io/last-applied-configuration": `{"stringData":{"password":"s3cr3t"}}`,
				"kubecfg.ksonnet.io/last-applied-configuration":    "x",
			},
			OwnerReferences: []metav1.OwnerReference{{Name: "o"}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Type:       corev1.SecretTypeBasicAuth,
		Data:       map[string][]byte{"user": []byte("admin")},
		StringData: map[string]string{"password": "s3cr3t"},
	}
}

func TestSealSecretShape(t *testing.T) {
	k := loadKey(t, "c")
	in := testSecret()
	before := in.DeepCopy()
	ss, err := sealerFor(k).SealSecret(in)
	if err != nil {
		t.Fatal(err)
	}
	if in.String() != before.String() {
		t.Fatal("SealSecret modified its input")
	}
	tm := ss.Spec.Template.ObjectMeta
	if tm.UID != "" || tm.ResourceVersion != "" || tm.Generation != 0 || !tm.CreationTimestamp.IsZero() ||
		tm.OwnerReferences != nil || tm.ManagedFields != nil || tm.Annotations != nil {
		t.Errorf("template metadata kept server or leaking fields: %+v", tm)
	}
	if tm.Labels["app"] != "db" || tm.Name != "db" || tm.Namespace != "prod" || ss.Spec.Template.Type != corev1.SecretTypeBasicAuth {
		t.Errorf("template lost fields: %+v", ss.Spec.Template)
	}
	if got := ss.Annotations[ssv1alpha1.KeyIDAnnotation]; got != k.ID.String() {
		t.Errorf("key-id annotation = %q", got)
	}
	if len(ss.Spec.EncryptedData) != 2 {
		t.Fatalf("encryptedData = %v", ss.Spec.EncryptedData)
	}
	b, _ := json.Marshal(ss)
	if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "admin") {
		t.Fatal("plaintext in the SealedSecret")
	}
}

func TestSealSecretNeedsNamespace(t *testing.T) {
	s := testSecret()
	s.Namespace = ""
	if _, err := sealerFor(loadKey(t, "c")).SealSecret(s); !errors.Is(err, sealing.ErrNoNamespace) {
		t.Fatalf("err = %v", err)
	}
	s.Annotations = map[string]string{ssv1alpha1.ClusterWideAnnotation: "true"}
	if _, err := sealerFor(loadKey(t, "c")).SealSecret(s); err != nil {
		t.Fatalf("cluster-wide without namespace: %v", err)
	}
}

func TestScopeOf(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        crypto.Scope
	}{
		{"none", nil, crypto.ScopeStrict},
		{"namespace-wide", map[string]string{ssv1alpha1.NamespaceWideAnnotation: "true"}, crypto.ScopeNamespaceWide},
		{"cluster-wide", map[string]string{ssv1alpha1.ClusterWideAnnotation: "true"}, crypto.ScopeClusterWide},
		{"cluster-wide wins", map[string]string{ssv1alpha1.ClusterWideAnnotation: "true", ssv1alpha1.NamespaceWideAnnotation: "true"}, crypto.ScopeClusterWide},
		{"only exact true counts", map[string]string{ssv1alpha1.ClusterWideAnnotation: "True"}, crypto.ScopeStrict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &metav1.ObjectMeta{Annotations: tt.annotations}
			if got := sealing.ScopeOf(o); got != tt.want {
				t.Errorf("ScopeOf = %v, want %v", got, tt.want)
			}
			back := sealing.SetScope(nil, tt.want)
			if got := sealing.ScopeOf(&metav1.ObjectMeta{Annotations: back}); got != tt.want {
				t.Errorf("SetScope round trip = %v", got)
			}
		})
	}
}

func sealWithTemplate(t *testing.T, k *crypto.Key, tmpl ssv1alpha1.SecretTemplateSpec) *ssv1alpha1.SealedSecret {
	t.Helper()
	s := testSecret()
	ss, err := sealerFor(k).SealSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Name, tmpl.Namespace = "db", "prod"
	ss.Spec.Template = tmpl
	ss.UID = "ss-uid"
	return ss
}

func TestUnsealTemplates(t *testing.T) {
	k := loadKey(t, "c")
	ring := crypto.NewKeyring(k)
	yes := true
	tests := []struct {
		name      string
		tmpl      ssv1alpha1.SecretTemplateSpec
		wantData  map[string]string
		wantOwner bool
		wantErr   string
	}{
		{
			name:      "values only",
			wantData:  map[string]string{"user": "admin", "password": "s3cr3t"},
			wantOwner: true,
		},
		{
			name: "templates over values and plain template data",
			tmpl: ssv1alpha1.SecretTemplateSpec{Data: map[string]string{
				"dsn":    "{{ .user }}:{{ .password }}@{{ .host }}",
				"host":   "db.prod",
				"shout":  "{{ .user | upper }}",
				"user":   "override-{{ .user }}",
				"static": "plain",
			}},
			wantData:  map[string]string{"dsn": "admin:s3cr3t@db.prod", "host": "db.prod", "shout": "ADMIN", "user": "override-admin", "static": "plain", "password": "s3cr3t"},
			wantOwner: true,
		},
		{
			name:     "skip owner references",
			tmpl:     ssv1alpha1.SecretTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ssv1alpha1.SkipSetOwnerReferencesAnnotation: "true"}}},
			wantData: map[string]string{"user": "admin", "password": "s3cr3t"},
		},
		{
			name:      "type, labels and immutability come from the template",
			tmpl:      ssv1alpha1.SecretTemplateSpec{Type: corev1.SecretTypeTLS, Immutable: &yes, ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"x": "y"}}},
			wantData:  map[string]string{"user": "admin", "password": "s3cr3t"},
			wantOwner: true,
		},
		{
			name:    "bad template names the key, not the values",
			tmpl:    ssv1alpha1.SecretTemplateSpec{Data: map[string]string{"broken": "{{ .password "}},
			wantErr: `parse template "broken"`,
		},
		{
			name:    "env is not available",
			tmpl:    ssv1alpha1.SecretTemplateSpec{Data: map[string]string{"leak": `{{ env "HOME" }}`}},
			wantErr: `function "env" not defined`,
		},
		{
			name:    "fail does not echo the secret",
			tmpl:    ssv1alpha1.SecretTemplateSpec{Data: map[string]string{"f": `{{ fail .password }}`}},
			wantErr: "error calling fail",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := sealWithTemplate(t, k, tt.tmpl)
			secret, u, err := sealing.Unseal(ring, ss, sealing.Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "admin") {
					t.Fatalf("error leaks a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(secret.Data) != len(tt.wantData) {
				t.Errorf("data keys = %d, want %d", len(secret.Data), len(tt.wantData))
			}
			for k, v := range tt.wantData {
				if string(secret.Data[k]) != v {
					t.Errorf("%s = %q, want %q", k, secret.Data[k], v)
				}
			}
			if secret.Name != "db" || secret.Namespace != "prod" {
				t.Errorf("name = %s/%s", secret.Namespace, secret.Name)
			}
			if got := len(secret.OwnerReferences) == 1; got != tt.wantOwner {
				t.Errorf("owner reference = %v, want %v", secret.OwnerReferences, tt.wantOwner)
			}
			if tt.wantOwner && (secret.OwnerReferences[0].UID != "ss-uid" || !*secret.OwnerReferences[0].Controller || secret.OwnerReferences[0].Kind != "SealedSecret") {
				t.Errorf("owner reference = %+v", secret.OwnerReferences[0])
			}
			if tt.tmpl.Type != "" && secret.Type != tt.tmpl.Type {
				t.Errorf("type = %s", secret.Type)
			}
			if len(u.Keys) != 1 || u.Keys[0] != k.ID {
				t.Errorf("keys = %v", u.Keys)
			}
		})
	}
}

func TestUnsealForcesNameAndNamespace(t *testing.T) {
	k := loadKey(t, "c")
	ss := sealWithTemplate(t, k, ssv1alpha1.SecretTemplateSpec{})
	ss.Spec.Template.Name, ss.Spec.Template.Namespace = "elsewhere", "kube-system"
	secret, _, err := sealing.Unseal(crypto.NewKeyring(k), ss, sealing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Name != "db" || secret.Namespace != "prod" {
		t.Fatalf("template moved the Secret to %s/%s", secret.Namespace, secret.Name)
	}
}

func TestUnsealFailures(t *testing.T) {
	k, other := loadKey(t, "c"), loadKey(t, "a")
	tests := []struct {
		name    string
		mutate  func(*ssv1alpha1.SealedSecret)
		ring    *crypto.Keyring
		wantErr string
	}{
		{"wrong key", nil, crypto.NewKeyring(other), `item "password": crypto: no key could decrypt the value`},
		{"renamed", func(ss *ssv1alpha1.SealedSecret) { ss.Name = "other" }, nil, "no key could decrypt"},
		{"moved", func(ss *ssv1alpha1.SealedSecret) { ss.Namespace = "dev" }, nil, "no key could decrypt"},
		{"scope widened at top level", func(ss *ssv1alpha1.SealedSecret) {
			ss.Annotations[ssv1alpha1.ClusterWideAnnotation] = "true"
		}, nil, "no key could decrypt"},
		{"tampered", func(ss *ssv1alpha1.SealedSecret) {
			b, _ := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData["user"])
			b[len(b)-1] ^= 1
			ss.Spec.EncryptedData["user"] = base64.StdEncoding.EncodeToString(b)
		}, nil, `item "user": crypto: no key could decrypt`},
		{"not base64", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.EncryptedData["user"] = "!!!" }, nil, `item "user": not valid base64`},
		{"truncated", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.EncryptedData["user"] = "AgA=" }, nil, `item "user": crypto: malformed sealed value`},
		{"both data fields", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.Data = []byte("x") }, nil, "at the same time"},
		{"bad hint is harmless", func(ss *ssv1alpha1.SealedSecret) { ss.Annotations[ssv1alpha1.KeyIDAnnotation] = "zz" }, nil, ""},
		{"wrong hint is harmless", func(ss *ssv1alpha1.SealedSecret) { ss.Annotations[ssv1alpha1.KeyIDAnnotation] = other.ID.String() }, crypto.NewKeyring(other, k), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := sealWithTemplate(t, k, ssv1alpha1.SecretTemplateSpec{})
			if tt.mutate != nil {
				tt.mutate(ss)
			}
			ring := tt.ring
			if ring == nil {
				ring = crypto.NewKeyring(k)
			}
			secret, _, err := sealing.Unseal(ring, ss, sealing.Options{})
			if tt.wantErr == "" {
				if err != nil || string(secret.Data["password"]) != "s3cr3t" {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if secret != nil {
				t.Fatal("partial Secret returned with an error")
			}
		})
	}
}

func TestUnsealV1Data(t *testing.T) {
	k := loadKey(t, "c")
	inner, _ := json.Marshal(&corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "ignored", Labels: map[string]string{"v": "1"}},
		Data:       map[string][]byte{"k": []byte("v1-value")},
	})
	blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, inner, crypto.Label(crypto.ScopeStrict, "prod", "old"))
	if err != nil {
		t.Fatal(err)
	}
	ss := &ssv1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "prod"}, Spec: ssv1alpha1.SealedSecretSpec{Data: blob}}
	if _, _, err := sealing.Unseal(crypto.NewKeyring(k), ss, sealing.Options{}); !errors.Is(err, sealing.ErrV1DataRefused) {
		t.Fatalf("err = %v", err)
	}
	secret, _, err := sealing.Unseal(crypto.NewKeyring(k), ss, sealing.Options{AcceptV1Data: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["k"]) != "v1-value" || secret.Name != "old" || secret.Labels["v"] != "1" {
		t.Fatalf("v1 secret = %+v", secret)
	}
}

func TestReseal(t *testing.T) {
	oldKey, newKey := loadKey(t, "bench-01"), loadKey(t, "c")
	ring := crypto.NewKeyring(oldKey, newKey)
	ss := sealWithTemplate(t, oldKey, ssv1alpha1.SecretTemplateSpec{Data: map[string]string{"t": "{{ fail .password }}"}})
	ss.Annotations = sealing.SetScope(ss.Annotations, crypto.ScopeStrict)
	ss.Annotations[ssv1alpha1.KeyIDAnnotation] = oldKey.ID.String()

	rotated, err := sealing.Reseal(ring, sealerFor(newKey), ss)
	if err != nil {
		t.Fatalf("reseal must not run templates: %v", err)
	}
	if rotated.Annotations[ssv1alpha1.KeyIDAnnotation] != newKey.ID.String() {
		t.Error("key-id annotation not updated")
	}
	u, err := sealing.UnsealItems(crypto.NewKeyring(newKey), rotated)
	if err != nil || string(u.Items["password"]) != "s3cr3t" {
		t.Fatalf("rotated values do not open with the new key alone: %v", err)
	}
	if rotated.Spec.Template.Data["t"] != ss.Spec.Template.Data["t"] {
		t.Error("template changed")
	}
	again, err := sealing.Reseal(ring, sealerFor(newKey), rotated)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rotated.Spec.EncryptedData {
		if again.Spec.EncryptedData[k] != v {
			t.Errorf("re-sealing with the same key changed %q", k)
		}
	}
	if ss.Spec.EncryptedData["password"] == rotated.Spec.EncryptedData["password"] {
		t.Error("value not re-sealed")
	}
}

func TestUnsealItemsReportsEveryKey(t *testing.T) {
	a, c := loadKey(t, "a"), loadKey(t, "c")
	ss := sealWithTemplate(t, a, ssv1alpha1.SecretTemplateSpec{})
	v, err := sealerFor(c).SealValue(crypto.ScopeStrict, "prod", "db", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	ss.Spec.EncryptedData["z-added-later"] = v
	u, err := sealing.UnsealItems(crypto.NewKeyring(a, c), ss)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Keys) != 2 {
		t.Fatalf("keys = %v, want both", u.Keys)
	}
}
