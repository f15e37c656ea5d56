package syncer_test

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/internal/syncer"
)

func TestPlanApply(t *testing.T) {
	yes := true
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "X", Name: "x", UID: "u", Controller: &yes}
	desired := func() *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Labels: map[string]string{"a": "1"}, Annotations: map[string]string{"h": "1"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{"k": []byte("v")},
		}
	}
	tests := []struct {
		name   string
		d      syncer.Desired
		actual *corev1.Secret
		want   syncer.Action
		check  func(*testing.T, *corev1.Secret)
	}{
		{"missing is created", syncer.Desired{Secret: desired(), Owners: []metav1.OwnerReference{owner}}, nil, syncer.ActionCreate,
			func(t *testing.T, s *corev1.Secret) {
				if len(s.OwnerReferences) != 1 {
					t.Error("owner not set")
				}
			}},
		{"equal is left alone", syncer.Desired{Secret: desired()}, func() *corev1.Secret { s := desired(); s.ResourceVersion = "5"; return s }(), syncer.ActionNone, nil},
		{"replace drops foreign keys", syncer.Desired{Secret: desired()}, func() *corev1.Secret {
			s := desired()
			s.Data["extra"] = []byte("x")
			s.Labels["other"] = "y"
			s.ResourceVersion = "5"
			return s
		}(), syncer.ActionUpdate, func(t *testing.T, s *corev1.Secret) {
			if s.Data["extra"] != nil || s.Labels["other"] != "" || s.ResourceVersion != "5" {
				t.Errorf("not replaced: %+v", s)
			}
		}},
		{"merge keeps foreign keys", syncer.Desired{Secret: desired(), MergeData: true, MergeMetadata: true, KeepOwners: true}, func() *corev1.Secret {
			s := desired()
			s.Data = map[string][]byte{"theirs": []byte("x")}
			s.Labels = map[string]string{"theirs": "1"}
			s.OwnerReferences = []metav1.OwnerReference{{Name: "other"}}
			return s
		}(), syncer.ActionUpdate, func(t *testing.T, s *corev1.Secret) {
			if string(s.Data["theirs"]) != "x" || string(s.Data["k"]) != "v" || s.Labels["theirs"] != "1" || s.Labels["a"] != "1" || s.OwnerReferences[0].Name != "other" {
				t.Errorf("not merged: %+v", s)
			}
		}},
		{"merge drops the source's stale keys only", syncer.Desired{Secret: desired(), MergeData: true, DropKeys: []string{"stale", "k"}, KeepOwners: true}, func() *corev1.Secret {
			s := desired()
			s.Data = map[string][]byte{"theirs": []byte("x"), "stale": []byte("old"), "k": []byte("old")}
			return s
		}(), syncer.ActionUpdate, func(t *testing.T, s *corev1.Secret) {
			if len(s.Data) != 2 || string(s.Data["theirs"]) != "x" || string(s.Data["k"]) != "v" {
				t.Errorf("data = %v, want theirs and k", s.Data)
			}
		}},
		{"immutable with new data is recreated", syncer.Desired{Secret: desired(), RecreateImmutable: true}, func() *corev1.Secret {
			s := desired()
			s.Immutable = &yes
			s.UID = "old"
			s.Data["k"] = []byte("old")
			return s
		}(), syncer.ActionRecreate, func(t *testing.T, s *corev1.Secret) {
			if s.UID != "" || s.ResourceVersion != "" || string(s.Data["k"]) != "v" {
				t.Errorf("recreate object: %+v", s)
			}
		}},
		{"immutable without permission is blocked", syncer.Desired{Secret: desired()}, func() *corev1.Secret {
			s := desired()
			s.Immutable = &yes
			s.Data["k"] = []byte("old")
			return s
		}(), syncer.ActionBlocked, nil},
		{"immutable metadata change is an update", syncer.Desired{Secret: func() *corev1.Secret { s := desired(); s.Immutable = &yes; return s }()}, func() *corev1.Secret {
			s := desired()
			s.Immutable = &yes
			s.Labels["a"] = "old"
			return s
		}(), syncer.ActionUpdate, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := syncer.PlanApply(tt.d, tt.actual)
			if p.Action != tt.want {
				t.Fatalf("action = %v, want %v", p.Action, tt.want)
			}
			if tt.check != nil {
				tt.check(t, p.Secret)
			}
		})
	}
}

// TestPlanApplyRefusesTokenSecrets: whatever a source asks for (tenant
// input: a SealedSecret's template or sealed v1 Secret, an ExternalSecret's
// template) and whatever exists (operator or cluster: a Secret the token
// controller filled), no write makes or touches a Secret Kubernetes fills
// with or accepts as credentials. The check sees the object after the
// merge, so a type or annotation that only the existing Secret carries
// counts too.
func TestPlanApplyRefusesTokenSecrets(t *testing.T) {
	secret := func(typ corev1.SecretType, annotations map[string]string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Annotations: annotations, ResourceVersion: "7"},
			Type:       typ,
			Data:       map[string][]byte{"k": []byte("v")},
		}
	}
	saName := map[string]string{corev1.ServiceAccountNameKey: "deployer"}
	yes := true
	tests := []struct {
		name   string
		d      syncer.Desired
		actual *corev1.Secret
		want   string // in Plan.Err
	}{
		{"source type service-account-token", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, saName)}, nil,
			`type "kubernetes.io/service-account-token"`},
		{"source type service-account-token without annotation", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, nil)}, nil,
			`type "kubernetes.io/service-account-token"`},
		{"source type bootstrap token", syncer.Desired{Secret: secret(corev1.SecretTypeBootstrapToken, nil)}, nil,
			`type "bootstrap.kubernetes.io/token"`},
		{"source annotation on an Opaque Secret", syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, saName)}, nil,
			`annotation "kubernetes.io/service-account.name"`},
		{"source type replaces an Opaque Secret's", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, saName)},
			secret(corev1.SecretTypeOpaque, nil), `type "kubernetes.io/service-account-token"`},
		{"merge into a service-account-token Secret", syncer.Desired{Secret: secret("", nil), MergeData: true, MergeMetadata: true, KeepOwners: true},
			secret(corev1.SecretTypeServiceAccountToken, saName), `secret s exists with type "kubernetes.io/service-account-token": sealsync does not write`},
		{"replace a service-account-token Secret with an Opaque one", syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, nil)},
			secret(corev1.SecretTypeServiceAccountToken, saName), `exists with`},
		{"recreate an immutable bootstrap token", syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, nil), RecreateImmutable: true},
			func() *corev1.Secret { s := secret(corev1.SecretTypeBootstrapToken, nil); s.Immutable = &yes; return s }(), `exists with`},
		{"merged annotation of an Opaque Secret", syncer.Desired{Secret: secret("", nil), MergeMetadata: true},
			secret(corev1.SecretTypeOpaque, saName), `secret s exists with annotation "kubernetes.io/service-account.name"`},
		{"unchanged token Secret is still refused", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, saName)},
			secret(corev1.SecretTypeServiceAccountToken, saName), `exists with`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := syncer.PlanApply(tt.d, tt.actual)
			if p.Action != syncer.ActionRefused || p.Secret != nil {
				t.Fatalf("action = %v, secret %v; want refused", p.Action, p.Secret)
			}
			if !errors.Is(p.Err, syncer.ErrTokenSecret) || !strings.Contains(p.Err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrTokenSecret with %q", p.Err, tt.want)
			}
		})
	}
	// The annotation is the token controller's key only with the type;
	// other annotations of its namespace are fine.
	p := syncer.PlanApply(syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, map[string]string{"kubernetes.io/description": "x"})}, nil)
	if p.Action != syncer.ActionCreate {
		t.Errorf("an Opaque Secret: %v %v", p.Action, p.Err)
	}
}

func TestDataHashIsStableAndUnambiguous(t *testing.T) {
	a := syncer.DataHash(map[string][]byte{"ab": []byte("c"), "x": nil})
	b := syncer.DataHash(map[string][]byte{"x": nil, "ab": []byte("c")})
	c := syncer.DataHash(map[string][]byte{"a": []byte("bc"), "x": nil})
	if a != b || a == c {
		t.Fatalf("hashes: %s %s %s", a, b, c)
	}
}
