package externalsecrets_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers/fake"
)

// leftByESO is an ExternalSecret of the tenant's namespace as ESO leaves
// it behind when it is uninstalled: with ESO's finalizer (and, for
// "other", a finalizer of some other tool as well).
func leftByESO(name, deletionPolicy string, finalizers ...string) string {
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %[1]s
  finalizers: [%[3]s]
spec:
  refreshInterval: 8760h
  secretStoreRef:
    name: fake
    kind: SecretStore
  target:
    name: %[1]s
    deletionPolicy: %[2]s
  data:
  - secretKey: v
    remoteRef:
      key: /foo/baz
      property: john
`, name, deletionPolicy, joinQuoted(finalizers))
}

func joinQuoted(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", s)
	}
	return out
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, e *testkit.Env, obj client.Object) {
	t.Helper()
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		err := e.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return false, fmt.Errorf("%s still there, finalizers %q, deletion requested %v", obj.GetName(), obj.GetFinalizers(), obj.GetDeletionTimestamp())
	})
}

// TestESOFinalizerExternalSecret: ExternalSecrets of the tenant's namespace
// carrying ESO's finalizer, as an uninstalled ESO leaves them, go when
// deleted. Under deletionPolicy Delete their Secret is deleted before the
// ExternalSecret goes, as ESO does (envtest runs no garbage collector, so
// only the controller can have deleted it); under Retain it stays. A
// finalizer of another tool is left alone.
func TestESOFinalizerExternalSecret(t *testing.T) {
	e, r := setup(t, controllertest.ExternalSecrets(fake.New(), time.Second))
	const otherTool = "example.com/keep"
	apply(t, e, r.NS, fakeStore+"---\n"+
		leftByESO("delete-me", "Delete", esv1.ExternalSecretFinalizer)+"---\n"+
		leftByESO("retain-me", "Retain", esv1.ExternalSecretFinalizer)+"---\n"+
		leftByESO("other", "Delete", esv1.ExternalSecretFinalizer, otherTool))
	for _, name := range []string{"delete-me", "retain-me", "other"} {
		waitSecret(t, e, r.NS, name, hasData(map[string]string{"v": "doe"}))
	}
	for _, name := range []string{"delete-me", "retain-me", "other"} {
		es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: name}}
		if err := e.Client.Delete(ctx, es); err != nil {
			t.Fatal(err)
		}
	}

	waitGone(t, e, &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "delete-me"}})
	// No wait: the Secret went before the finalizer did.
	err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "delete-me"}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("Secret of deletionPolicy Delete: %v, want it deleted before its ExternalSecret went", err)
	}

	waitGone(t, e, &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "retain-me"}})
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "retain-me"}, &corev1.Secret{}); err != nil {
		t.Errorf("Secret of deletionPolicy Retain: %v, want it kept", err)
	}

	other := &esv1.ExternalSecret{}
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "other"}, other); err != nil {
			return false, err
		}
		return slices.Equal(other.Finalizers, []string{otherTool}), fmt.Errorf("finalizers %q", other.Finalizers)
	})
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "other"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret of deletionPolicy Delete beside another finalizer: %v, want it deleted", err)
	}
	other.Finalizers = nil
	if err := e.Client.Update(ctx, other); err != nil {
		t.Fatal(err)
	}
}

// TestESOFinalizerClusterExternalSecret: a ClusterExternalSecret (the
// operator's, cluster-scoped) carrying ESO's finalizer, whose namespaces
// carry ESO's per-ClusterExternalSecret finalizer and one of whose
// ExternalSecrets ESO created with its own finalizer, goes when deleted:
// the namespaces lose the finalizer and the ExternalSecrets it controls
// are deleted first, as ESO does. One write per pass, so that the cleanup
// takes several bounded passes.
func TestESOFinalizerClusterExternalSecret(t *testing.T) {
	defer externalsecrets.SetMaxFinalizerWrites(1)()
	e := testkit.RequireEnv(t, env)
	keyNS, ns, ns2 := e.Namespace(t), e.Namespace(t), e.Namespace(t)
	start(t, keyNS, ns, controllertest.ExternalSecrets(fake.New(), time.Second), func(o *controller.Options) {
		o.AdditionalNamespaces = append(o.AdditionalNamespaces, ns2)
	})
	apply(t, e, ns, fakeStore)
	apply(t, e, ns2, fakeStore)
	name := "ces-" + ns // unique among the package's tests
	nsFinalizer := esv1.NamespaceFinalizerPrefix + name
	for _, n := range []string{ns, ns2} {
		patchNamespace(t, e, n, func(o *corev1.Namespace) {
			o.Labels = map[string]string{"ces-test": name}
			o.Finalizers = append(o.Finalizers, nsFinalizer)
		})
	}
	ces := &esv1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{esv1.ClusterExternalSecretFinalizer}},
		Spec: esv1.ClusterExternalSecretSpec{
			NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"ces-test": name}}},
			ExternalSecretSpec: esv1.ExternalSecretSpec{
				SecretStoreRef:  esv1.SecretStoreRef{Name: "fake", Kind: esv1.SecretStoreKind},
				RefreshInterval: &metav1.Duration{Duration: time.Hour},
				Data:            []esv1.ExternalSecretData{{SecretKey: "v", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar", Version: "v1"}}},
			},
		},
	}
	create(t, e, ces)
	t.Cleanup(func() { _ = e.Client.Delete(ctx, ces) })
	// The ExternalSecret ESO made in ns2, with its finalizer.
	create(t, e, &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns2, Name: name, Finalizers: []string{esv1.ExternalSecretFinalizer},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: esv1.SchemeGroupVersion.String(), Kind: "ClusterExternalSecret",
				Name: ces.Name, UID: ces.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: ces.Spec.ExternalSecretSpec,
	})
	for _, n := range []string{ns, ns2} {
		waitSecret(t, e, n, name, hasData(map[string]string{"v": "HELLO1"}))
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(ces), ces); err != nil {
		t.Fatal(err)
	}
	if len(ces.Status.ProvisionedNamespaces) != 2 {
		t.Fatalf("provisioned %q, want both namespaces", ces.Status.ProvisionedNamespaces)
	}

	if err := e.Client.Delete(ctx, ces); err != nil {
		t.Fatal(err)
	}
	waitGone(t, e, ces)
	for _, n := range []string{ns, ns2} {
		waitGone(t, e, &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: n, Name: name}})
		o := &corev1.Namespace{}
		if err := e.Client.Get(ctx, client.ObjectKey{Name: n}, o); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(o.Finalizers, nsFinalizer) {
			t.Errorf("namespace %s still has %s", n, nsFinalizer)
		}
	}
}

// TestESOFinalizerNamespace: a namespace carrying ESO's finalizer for a
// ClusterExternalSecret that no longer exists (set by the operator's ESO)
// goes when deleted. envtest runs no namespace controller, so the test
// plays its part: once the content is gone it empties spec.finalizers and
// deletes again.
func TestESOFinalizerNamespace(t *testing.T) {
	e, _ := setup(t, controllertest.ExternalSecrets(fake.New(), time.Second))
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "t-eso-", Finalizers: []string{esv1.NamespaceFinalizerPrefix + "gone", "example.com/other-tool"},
	}}
	create(t, e, n)
	if err := e.Client.Delete(ctx, n); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(n), n); err != nil {
			return false, err
		}
		return slices.Equal(n.Finalizers, []string{"example.com/other-tool"}), fmt.Errorf("finalizers %q", n.Finalizers)
	})
	patchNamespace(t, e, n.Name, func(o *corev1.Namespace) { o.Finalizers = nil })
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(n), n); err != nil {
		t.Fatal(err)
	}
	n.Spec.Finalizers = nil
	if _, err := cs.CoreV1().Namespaces().Finalize(ctx, n, metav1.UpdateOptions{}); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	if err := e.Client.Delete(ctx, n); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	waitGone(t, e, n)
}

// patchNamespace changes namespace name with f, retrying on conflicts.
func patchNamespace(t *testing.T, e *testkit.Env, name string, f func(*corev1.Namespace)) {
	t.Helper()
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		o := &corev1.Namespace{}
		if err := e.Client.Get(ctx, client.ObjectKey{Name: name}, o); err != nil {
			return false, err
		}
		f(o)
		err := e.Client.Update(ctx, o)
		return err == nil, err
	})
}
