package externalsecrets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

// TestControllerIdentityRule: the store's kind is tenant input (anyone may
// create a SecretStore), the lent ServiceAccount is the operator's
// --allow-cluster-store-controller-identity. The storeKube has no API
// client, so a refusal that reached for the API server would panic: each
// refusal happens before any request.
func TestControllerIdentityRule(t *testing.T) {
	self := &types.NamespacedName{Namespace: "sealsync", Name: "sealsync-controller"}
	tests := []struct {
		name    string
		kind    string
		self    *types.NamespacedName
		wantErr string // "" when the identity is lent
	}{
		{"SecretStore, operator off", esv1.SecretStoreKind, nil, "a SecretStore must name its own credentials"},
		{"SecretStore, operator on", esv1.SecretStoreKind, self, "a SecretStore must name its own credentials"},
		{"store of no known kind, operator on", "", self, "a SecretStore must name its own credentials"},
		{"ClusterSecretStore, operator off", esv1.ClusterSecretStoreKind, nil, "--allow-cluster-store-controller-identity"},
		{"ClusterSecretStore, operator on", esv1.ClusterSecretStoreKind, self, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newStoreKube(nil, nil, providers.Store{Kind: tt.kind, Name: "s", Namespace: "tenant"}, tt.self, nil)
			sa, err := k.controllerIdentity()
			// The AWS provider's default chain asks the same rule.
			if allowed := k.ControllerIdentityAllowed(); (allowed == nil) != (err == nil) || (err != nil && allowed.Error() != err.Error()) {
				t.Fatalf("ControllerIdentityAllowed() = %v, controllerIdentity() error %v: the rules differ", allowed, err)
			}
			if tt.wantErr == "" {
				if err != nil || sa != *tt.self {
					t.Fatalf("controllerIdentity() = %v, %v; want %v", sa, err, *tt.self)
				}
				return
			}
			if !errors.Is(err, providers.ErrControllerIdentity) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("controllerIdentity() error %v, want ErrControllerIdentity saying %q", err, tt.wantErr)
			}
			if _, err := k.ControllerToken(context.Background(), []string{"vault"}); !errors.Is(err, providers.ErrControllerIdentity) {
				t.Errorf("ControllerToken error %v, want ErrControllerIdentity", err)
			}
		})
	}
}

// TestServiceAccountAnnotationsNamespaceRule: the ServiceAccount a store
// names (tenant input) is read under the namespace rule of every
// reference. The storeKube has no API client, so a refusal that reached
// for the API server would panic: each refusal happens before any request.
func TestServiceAccountAnnotationsNamespaceRule(t *testing.T) {
	other := "other"
	k := newStoreKube(nil, nil, providers.Store{Kind: esv1.SecretStoreKind, Name: "s", Namespace: "tenant"}, nil, nil)
	if _, err := k.ServiceAccountAnnotations(context.Background(), esmeta.ServiceAccountSelector{Name: "app", Namespace: &other}); !errors.Is(err, errForeignNamespace) {
		t.Errorf("another namespace's ServiceAccount: %v, want errForeignNamespace", err)
	}
	if _, err := k.ServiceAccountAnnotations(context.Background(), esmeta.ServiceAccountSelector{}); !errors.Is(err, errNoName) {
		t.Errorf("no name: %v, want errNoName", err)
	}
	cluster := newStoreKube(nil, nil, providers.Store{Kind: esv1.ClusterSecretStoreKind, Name: "s"}, nil, nil)
	if _, err := cluster.ServiceAccountAnnotations(context.Background(), esmeta.ServiceAccountSelector{Name: "app"}); !errors.Is(err, errReferentAuth) {
		t.Errorf("ClusterSecretStore validated without a namespace: %v, want errReferentAuth", err)
	}
}

// TestTokenNeedsAudience: a token request with no audience (the store's
// audiences are tenant input) is refused before the API server is asked,
// which would fill in its own audience.
func TestTokenNeedsAudience(t *testing.T) {
	k := newStoreKube(nil, nil, providers.Store{Kind: esv1.SecretStoreKind, Name: "s", Namespace: "tenant"}, nil, nil)
	for _, aud := range [][]string{nil, {}, {""}} {
		_, err := k.ServiceAccountToken(context.Background(), esmeta.ServiceAccountSelector{Name: "reader"}, aud, 0)
		if err == nil || !strings.Contains(err.Error(), "no audience") {
			t.Errorf("audiences %q: error %v, want a refusal", aud, err)
		}
	}
}

func TestServiceAccountOf(t *testing.T) {
	tests := []struct {
		user string
		want *types.NamespacedName
	}{
		{"system:serviceaccount:kube-system:sealed-secrets-controller", &types.NamespacedName{Namespace: "kube-system", Name: "sealed-secrets-controller"}},
		{"system:admin", nil},
		{"kubernetes-admin", nil},
		{"system:serviceaccount:kube-system", nil},
		{"system:serviceaccount::name", nil},
		{"system:serviceaccount:ns:", nil},
		{"system:serviceaccount:ns:a:b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got, ok := serviceAccountOf(tt.user)
			if ok != (tt.want != nil) || (ok && got != *tt.want) {
				t.Errorf("serviceAccountOf(%q) = %v, %v; want %v", tt.user, got, ok, tt.want)
			}
		})
	}
}
