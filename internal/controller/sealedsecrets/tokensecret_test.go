package sealedsecrets_test

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
)

// refusedToken is what every refusal of a token Secret says.
const refusedToken = "sealsync does not write Secrets that Kubernetes fills with or accepts as credentials"

// sealV1 seals secret whole in the deprecated spec.data format, the way
// Bitnami's oldest kubeseal did. Its type and annotations are inside the
// ciphertext, where no CRD rule sees them.
func sealV1(t *testing.T, k *crypto.Key, ns, name string, secret *corev1.Secret) *ssv1alpha1.SealedSecret {
	t.Helper()
	secret.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	secret.Name, secret.Namespace = name, ns
	b, err := json.Marshal(secret)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, b, crypto.Label(crypto.ScopeStrict, ns, name))
	if err != nil {
		t.Fatal(err)
	}
	return &ssv1alpha1.SealedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       ssv1alpha1.SealedSecretSpec{Data: blob, EncryptedData: ssv1alpha1.SealedSecretEncryptedData{}},
	}
}

// TestSealedSecretTokenSecretsRefused: a SealedSecret (tenant) never makes
// or writes into a Secret Kubernetes fills with credentials. The CRD
// refuses a template of either token type (test/crd); these reach the
// controller's own check on the Secret it would write: the deprecated
// format carries its type inside the ciphertext, a template may name a
// service account on an Opaque Secret, and an existing token Secret (the
// operator's) may carry the managed or patch annotation. Each is refused
// with the Synced condition and an ErrUpdateFailed event, once: the
// refusal is permanent, so nothing retries.
func TestSealedSecretTokenSecretsRefused(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	tests := []struct {
		name     string
		ss       func() *ssv1alpha1.SealedSecret
		existing *corev1.Secret
		want     string
	}{
		{
			name: "v1-service-account-token",
			ss: func() *ssv1alpha1.SealedSecret {
				return sealV1(t, k, r.NS, "v1-service-account-token", controllertest.TokenSecret(r.NS, "", "default", nil))
			},
			want: `secret v1-service-account-token: type "kubernetes.io/service-account-token" is not allowed`,
		},
		{
			name: "v1-bootstrap-token",
			ss: func() *ssv1alpha1.SealedSecret {
				return sealV1(t, k, r.NS, "v1-bootstrap-token", &corev1.Secret{
					Type: corev1.SecretTypeBootstrapToken,
					Data: map[string][]byte{"token-id": []byte("abcdef"), "token-secret": []byte("0123456789abcdef")},
				})
			},
			want: `secret v1-bootstrap-token: type "bootstrap.kubernetes.io/token" is not allowed`,
		},
		{
			name: "annotation-on-opaque",
			ss: func() *ssv1alpha1.SealedSecret {
				ss := seal(t, k, r.NS, "annotation-on-opaque", crypto.ScopeStrict, map[string]string{"k": "v"})
				ss.Spec.Template.Annotations = map[string]string{corev1.ServiceAccountNameKey: "default"}
				return ss
			},
			want: `secret annotation-on-opaque: annotation "kubernetes.io/service-account.name" is not allowed`,
		},
		{
			name: "managed-token-secret",
			ss: func() *ssv1alpha1.SealedSecret {
				return seal(t, k, r.NS, "managed-token-secret", crypto.ScopeStrict, map[string]string{"k": "v"})
			},
			existing: controllertest.TokenSecret(r.NS, "managed-token-secret", "default", map[string]string{ssv1alpha1.ManagedAnnotation: "true"}),
			want:     `secret managed-token-secret exists with type "kubernetes.io/service-account-token"`,
		},
		{
			name: "patch-token-secret",
			ss: func() *ssv1alpha1.SealedSecret {
				return seal(t, k, r.NS, "patch-token-secret", crypto.ScopeStrict, map[string]string{"k": "v"})
			},
			existing: controllertest.TokenSecret(r.NS, "patch-token-secret", "default", map[string]string{ssv1alpha1.PatchAnnotation: "true"}),
			want:     `secret patch-token-secret exists with type "kubernetes.io/service-account-token"`,
		},
	}
	for _, tt := range tests {
		if tt.existing != nil {
			create(t, e, tt.existing)
		}
		create(t, e, tt.ss())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := waitSynced(t, e, r.NS, tt.name, corev1.ConditionFalse, tt.want)
			if c := got.Status.Conditions[0]; c.Reason != "ErrUpdateFailed" || !strings.Contains(c.Message, refusedToken) {
				t.Errorf("condition %s: %s", c.Reason, c.Message)
			}
			waitEvent(t, e, r.NS, tt.name, "ErrUpdateFailed")
			if tt.existing != nil {
				controllertest.AssertUntouched(t, e, tt.existing)
				return
			}
			if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: tt.name}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
				t.Errorf("a Secret was written: %v", err)
			}
		})
	}
	// Permanent: refused once per change of the SealedSecret, not retried
	// (a retry logs "Reconciler error").
	for _, tt := range tests {
		if n := controllertest.RetriedErrors(logs.Bytes(), r.NS, tt.name); n != 0 {
			t.Errorf("%s: retried %d times", tt.name, n)
		}
	}
}
