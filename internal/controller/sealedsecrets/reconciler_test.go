package sealedsecrets_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/syncer"
)

func TestUnsealAllScopes(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	for _, scope := range []crypto.Scope{crypto.ScopeStrict, crypto.ScopeNamespaceWide, crypto.ScopeClusterWide} {
		t.Run(scope.String(), func(t *testing.T) {
			name := "db-" + scope.String()
			ss := seal(t, k, r.NS, name, scope, map[string]string{"password": "s3cr3t-" + scope.String()})
			create(t, e, ss)
			s := waitSecret(t, e, r.NS, name, hasData(map[string]string{"password": "s3cr3t-" + scope.String()}))
			got := waitSynced(t, e, r.NS, name, corev1.ConditionTrue, "")
			ref := metav1.GetControllerOf(s)
			if ref == nil || ref.UID != got.UID || ref.Kind != "SealedSecret" {
				t.Errorf("owner reference = %+v", s.OwnerReferences)
			}
			if s.Labels[syncer.ManagedByLabel] != "sealedsecret" {
				t.Errorf("managed-by label missing: %v", s.Labels)
			}
			waitEvent(t, e, r.NS, name, "Unsealed")
		})
	}
}

// TestNamespaceWideAndClusterWideMove: scoped values unseal where their
// scope allows and fail, with a status, where it does not.
func TestWrongNameOrNamespace(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	tests := []struct {
		name      string
		sealedFor string // name the value was sealed for
		scope     crypto.Scope
		wantOK    bool
	}{
		{"strict renamed", "original", crypto.ScopeStrict, false},
		{"namespace-wide renamed", "original", crypto.ScopeNamespaceWide, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := seal(t, k, r.NS, tt.sealedFor, tt.scope, map[string]string{"k": "v"})
			ss.Name = fmt.Sprintf("renamed-%d", i)
			ss.Spec.Template.Name = ss.Name
			create(t, e, ss)
			if tt.wantOK {
				waitSecret(t, e, r.NS, ss.Name, hasData(map[string]string{"k": "v"}))
				return
			}
			got := waitSynced(t, e, r.NS, ss.Name, corev1.ConditionFalse, `item "k": crypto: no key could decrypt the value`)
			if got.Status.Conditions[0].Reason != "ErrUnsealFailed" {
				t.Errorf("reason = %q", got.Status.Conditions[0].Reason)
			}
			waitEvent(t, e, r.NS, ss.Name, "ErrUnsealFailed")
			if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: ss.Name}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
				t.Fatalf("a Secret was created: %v", err)
			}
		})
	}
	// Sealed for another namespace.
	other := seal(t, k, "elsewhere", "moved", crypto.ScopeStrict, map[string]string{"k": "v"})
	other.Namespace = r.NS
	create(t, e, other)
	waitSynced(t, e, r.NS, "moved", corev1.ConditionFalse, "no key could decrypt")
}

func TestTamperedCiphertextKeepsOldSecret(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	ss := seal(t, k, r.NS, "db", crypto.ScopeStrict, map[string]string{"password": "good", "user": "app"})
	create(t, e, ss)
	before := waitSecret(t, e, r.NS, "db", hasData(map[string]string{"password": "good"}))

	var cur ssv1alpha1.SealedSecret
	updateSS(t, e, r.NS, "db", func(ss *ssv1alpha1.SealedSecret) {
		blob, _ := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData["password"])
		blob[len(blob)-1] ^= 1
		ss.Spec.EncryptedData["password"] = base64.StdEncoding.EncodeToString(blob)
		cur = *ss
	})
	waitSynced(t, e, r.NS, "db", corev1.ConditionFalse, `item "password"`)
	waitEvent(t, e, r.NS, "db", "ErrUnsealFailed")
	var after corev1.Secret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "db"}, &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion || string(after.Data["password"]) != "good" {
		t.Fatal("the Secret changed after a failed unseal")
	}
	// Status and events say which item, never a value.
	if got := cur.Status; got != nil && got.Conditions[0].Message == "good" {
		t.Fatal("value in status")
	}
}

func TestUnmanagedSecretIsNotTouched(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	existing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: r.NS}, Data: map[string][]byte{"mine": []byte("keep")}}
	create(t, e, existing)
	create(t, e, seal(t, k, r.NS, "taken", crypto.ScopeStrict, map[string]string{"k": "v"}))
	got := waitSynced(t, e, r.NS, "taken", corev1.ConditionFalse, `Resource "taken" already exists and is not managed by SealedSecret`)
	if got.Status.Conditions[0].Reason != "ErrUpdateFailed" {
		t.Errorf("reason = %q", got.Status.Conditions[0].Reason)
	}
	waitEvent(t, e, r.NS, "taken", "ErrUpdateFailed")
	var s corev1.Secret
	_ = e.Client.Get(ctx, client.ObjectKeyFromObject(existing), &s)
	if s.ResourceVersion != existing.ResourceVersion || len(s.Data) != 1 {
		t.Fatal("unmanaged Secret was modified")
	}
}

func TestManagedAndPatchAnnotations(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)

	// managed: the Secret is taken over and replaced.
	create(t, e, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "adopt", Namespace: r.NS,
		Annotations: map[string]string{ssv1alpha1.ManagedAnnotation: "true"}, Labels: map[string]string{"old": "label"}},
		Data: map[string][]byte{"old": []byte("x")}})
	create(t, e, seal(t, k, r.NS, "adopt", crypto.ScopeStrict, map[string]string{"new": "y"}))
	s := waitSecret(t, e, r.NS, "adopt", func(s *corev1.Secret) error {
		if string(s.Data["new"]) != "y" || s.Data["old"] != nil || metav1.GetControllerOf(s) == nil || s.Labels["old"] != "" {
			return errors.New("not replaced and adopted yet")
		}
		return nil
	})
	_ = s

	// patch: our keys are merged in; theirs stay; no owner reference.
	create(t, e, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "merge", Namespace: r.NS,
		Annotations: map[string]string{ssv1alpha1.PatchAnnotation: "true"}, Labels: map[string]string{"theirs": "1"}},
		Data: map[string][]byte{"theirs": []byte("kept"), "shared": []byte("old")}})
	ss := seal(t, k, r.NS, "merge", crypto.ScopeStrict, map[string]string{"shared": "new", "ours": "added"})
	ss.Spec.Template.Labels = map[string]string{"ours": "1"}
	create(t, e, ss)
	waitSecret(t, e, r.NS, "merge", func(s *corev1.Secret) error {
		if string(s.Data["theirs"]) != "kept" || string(s.Data["shared"]) != "new" || string(s.Data["ours"]) != "added" ||
			s.Labels["theirs"] != "1" || s.Labels["ours"] != "1" || len(s.OwnerReferences) != 0 {
			return fmt.Errorf("not merged yet: %v %v", s.Labels, s.OwnerReferences)
		}
		return nil
	})
	waitSynced(t, e, r.NS, "merge", corev1.ConditionTrue, "")
}

func TestDeletedSecretIsRecreated(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	create(t, e, seal(t, k, r.NS, "db", crypto.ScopeStrict, map[string]string{"k": "v"}))
	s := waitSecret(t, e, r.NS, "db", nil)
	if err := e.Client.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitSecret(t, e, r.NS, "db", func(n *corev1.Secret) error {
		if n.UID == s.UID {
			return errors.New("not recreated yet")
		}
		return hasData(map[string]string{"k": "v"})(n)
	})
}

func TestDriftIsRepaired(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	ss := seal(t, k, r.NS, "db", crypto.ScopeStrict, map[string]string{"k": "v"})
	ss.Spec.Template.Labels = map[string]string{"app": "db"}
	create(t, e, ss)
	s := waitSecret(t, e, r.NS, "db", hasData(map[string]string{"k": "v"}))
	s.Data["k"] = []byte("hand-edited")
	s.Data["extra"] = []byte("x")
	s.Labels["app"] = "changed"
	if err := e.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitSecret(t, e, r.NS, "db", func(n *corev1.Secret) error {
		if string(n.Data["k"]) != "v" || n.Data["extra"] != nil || n.Labels["app"] != "db" {
			return errors.New("drift not repaired yet")
		}
		return nil
	})
}

func TestImmutableSecretIsRecreated(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	yes := true
	ss := seal(t, k, r.NS, "frozen", crypto.ScopeStrict, map[string]string{"k": "v1"})
	ss.Spec.Template.Immutable = &yes
	create(t, e, ss)
	first := waitSecret(t, e, r.NS, "frozen", hasData(map[string]string{"k": "v1"}))
	if first.Immutable == nil || !*first.Immutable {
		t.Fatal("Secret is not immutable")
	}
	next := seal(t, k, r.NS, "frozen", crypto.ScopeStrict, map[string]string{"k": "v2"})
	updateSS(t, e, r.NS, "frozen", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.EncryptedData = next.Spec.EncryptedData })
	waitSecret(t, e, r.NS, "frozen", func(s *corev1.Secret) error {
		if s.UID == first.UID {
			return errors.New("not recreated yet")
		}
		return hasData(map[string]string{"k": "v2"})(s)
	})
	waitSynced(t, e, r.NS, "frozen", corev1.ConditionTrue, "")
}

func TestTemplateAndSkipOwnerReferences(t *testing.T) {
	e, r := setup(t)
	k := r.LatestKey(t)
	ss := seal(t, k, r.NS, "tmpl", crypto.ScopeStrict, map[string]string{"user": "app", "password": "pw"})
	ss.Spec.Template.Type = corev1.SecretTypeBasicAuth
	ss.Spec.Template.Annotations = map[string]string{ssv1alpha1.SkipSetOwnerReferencesAnnotation: "true"}
	ss.Spec.Template.Data = map[string]string{"dsn": "postgres://{{ .user }}:{{ .password }}@db"}
	create(t, e, ss)
	s := waitSecret(t, e, r.NS, "tmpl", hasData(map[string]string{"dsn": "postgres://app:pw@db"}))
	if len(s.OwnerReferences) != 0 || s.Type != corev1.SecretTypeBasicAuth {
		t.Fatalf("owner refs %v, type %s", s.OwnerReferences, s.Type)
	}
	// A bad template is reported and leaves the Secret as it was.
	updateSS(t, e, r.NS, "tmpl", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.Template.Data["broken"] = "{{ .password " })
	waitSynced(t, e, r.NS, "tmpl", corev1.ConditionFalse, `parse template "broken"`)
	var after corev1.Secret
	_ = e.Client.Get(ctx, client.ObjectKeyFromObject(s), &after)
	if after.ResourceVersion != s.ResourceVersion {
		t.Fatal("Secret changed after a template error")
	}
}

// TestConcurrentWorkersLoseNoUpdate applies many SealedSecrets, then
// changes each twice in quick succession: with several workers, every
// Secret must end at its last value.
func TestConcurrentWorkersLoseNoUpdate(t *testing.T) {
	e, r := setup(t, func(o *controller.Options) { o.Workers = 8 })
	k := r.LatestKey(t)
	const n = 40
	for i := range n {
		create(t, e, seal(t, k, r.NS, fmt.Sprintf("s%02d", i), crypto.ScopeStrict, map[string]string{"v": "0"}))
	}
	for round := 1; round <= 2; round++ {
		for i := range n {
			name := fmt.Sprintf("s%02d", i)
			next := seal(t, k, r.NS, name, crypto.ScopeStrict, map[string]string{"v": fmt.Sprint(round)})
			updateSS(t, e, r.NS, name, func(ss *ssv1alpha1.SealedSecret) { ss.Spec.EncryptedData = next.Spec.EncryptedData })
		}
	}
	for i := range n {
		waitSecret(t, e, r.NS, fmt.Sprintf("s%02d", i), hasData(map[string]string{"v": "2"}))
	}
}
