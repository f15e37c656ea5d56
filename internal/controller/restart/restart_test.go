package restart_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/controller/restart"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers/fake"
)

// env is this package's control plane, one for all its tests.
var env *testkit.Env

var logs = &testkit.LogBuffer{}

func TestMain(m *testing.M) { os.Exit(controllertest.Main(m, &env, logs)) }

var ctx = context.Background()

// delay is the operator's --restart delay in these tests: changes within
// it make one rollout.
const delay = 2 * time.Second

// settle is how long a test watches for a rollout that must not happen:
// the delay, then the suite's quiet time.
const settle = delay + controllertest.Quiet

// restarts turns restarts on, as the operator's
// --enable-restart-on-secret-change does, with a short delay, serving
// ExternalSecrets from the fake provider too, and watching extra
// namespaces.
func restarts(extraNS ...string) []controllertest.Option {
	return []controllertest.Option{
		controllertest.ExternalSecrets(fake.New(), time.Second),
		func(o *controller.Options) {
			o.RestartOnSecretChange = true
			o.Restart = restart.Options{Delay: delay}
			o.AdditionalNamespaces = append(o.AdditionalNamespaces, extraNS...)
		},
	}
}

// workload is a tenant's workload of kind in ns using the Secrets named,
// one through each way a pod reads a Secret in turn, opted in unless
// optIn is false.
func workload(kind, ns, name string, optIn bool, secrets ...string) client.Object {
	labels := map[string]string{"app": name}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
	}
	c := &tmpl.Spec.Containers[0]
	for i, s := range secrets {
		ref := corev1.LocalObjectReference{Name: s}
		switch i % 4 {
		case 0:
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref}})
		case 1:
			c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("V%d", i), ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref, Key: "v"}}})
		case 2:
			tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", i),
				VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: s}}})
		case 3:
			tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", i),
				VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{LocalObjectReference: ref}}}}}})
		}
	}
	meta := metav1.ObjectMeta{Name: name, Namespace: ns}
	if optIn {
		meta.Annotations = map[string]string{restart.OptInAnnotation: "true"}
	}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl}}
	case "DaemonSet":
		return &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	}
	return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}
}

// tracker follows one workload through a watch and counts the changes of
// its pod template annotation: the restarts. (Its generation would not
// do: a Deployment's also counts metadata annotation changes.)
type tracker struct {
	obj client.Object
	e   *testkit.Env

	mu       sync.Mutex
	last     string
	restarts int
}

// track creates the tenant's workload obj and follows it until the test
// ends.
func track(t *testing.T, e *testkit.Env, obj client.Object) *tracker {
	t.Helper()
	wc, err := client.NewWithWatch(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var list client.ObjectList
	switch obj.(type) {
	case *appsv1.StatefulSet:
		list = &appsv1.StatefulSetList{}
	case *appsv1.DaemonSet:
		list = &appsv1.DaemonSetList{}
	default:
		list = &appsv1.DeploymentList{}
	}
	controllertest.Create(t, e, obj)
	w, err := wc.Watch(ctx, list, client.InNamespace(obj.GetNamespace()),
		client.MatchingFields{"metadata.name": obj.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	tr := &tracker{obj: obj, e: e}
	go func() {
		first := true
		for ev := range w.ResultChan() {
			o, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			v := templateAnnotation(o)
			tr.mu.Lock()
			if !first && v != tr.last {
				tr.restarts++
			}
			first, tr.last = false, v
			tr.mu.Unlock()
		}
	}()
	return tr
}

func templateAnnotation(obj client.Object) string {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Annotations[restart.TemplateAnnotation]
	case *appsv1.StatefulSet:
		return o.Spec.Template.Annotations[restart.TemplateAnnotation]
	case *appsv1.DaemonSet:
		return o.Spec.Template.Annotations[restart.TemplateAnnotation]
	}
	return ""
}

func (tr *tracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.restarts
}

func (tr *tracker) name() string { return tr.obj.GetNamespace() + "/" + tr.obj.GetName() }

// state is what a test reads of a workload now: the record and the pod
// template annotation.
type state struct {
	record, template string
	hasRecord        bool
}

func (tr *tracker) read(t *testing.T) state {
	t.Helper()
	if err := tr.e.Client.Get(ctx, client.ObjectKeyFromObject(tr.obj), tr.obj); err != nil {
		t.Fatal(err)
	}
	rec, ok := tr.obj.GetAnnotations()[restart.RecordAnnotation]
	return state{record: rec, hasRecord: ok, template: templateAnnotation(tr.obj)}
}

// waitRecorded waits until the controller has recorded the workload's
// Secrets, and checks that recording restarted nothing.
func (tr *tracker) waitRecorded(t *testing.T) state {
	t.Helper()
	var s state
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		s = tr.read(t)
		return s.hasRecord, fmt.Errorf("%s not recorded yet", tr.name())
	})
	if s.template != "" || tr.count() != 0 {
		t.Fatalf("%s: recording it changed its pod template (%d changes, annotation %q)", tr.name(), tr.count(), s.template)
	}
	return s
}

// waitRestarts waits until the workload's pod template changed n times in
// all, then for the settle time, and fails if it changed more.
func (tr *tracker) waitRestarts(t *testing.T, n int) state {
	t.Helper()
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		return tr.count() >= n, fmt.Errorf("%s: %d restarts, want %d", tr.name(), tr.count(), n)
	})
	time.Sleep(settle)
	if got := tr.count(); got != n {
		t.Fatalf("%s: %d restarts, want %d", tr.name(), got, n)
	}
	s := tr.read(t)
	if n > 0 && s.template == "" {
		t.Fatalf("%s restarted without the template annotation", tr.name())
	}
	return s
}

// sealed seals data for ns/name as the tenant's kubeseal would.
func sealed(t *testing.T, r *controllertest.Running, ns, name, v string) *ssv1alpha1.SealedSecret {
	t.Helper()
	return controllertest.Seal(t, r.LatestKey(t), ns, name, crypto.ScopeStrict, map[string]string{"v": v})
}

// reseal is the tenant committing a new value to a SealedSecret.
func reseal(t *testing.T, e *testkit.Env, r *controllertest.Running, ns, name, v string) {
	t.Helper()
	next := sealed(t, r, ns, name, v)
	controllertest.UpdateSS(t, e, ns, name, func(ss *ssv1alpha1.SealedSecret) { ss.Spec = next.Spec })
}

// TestRestartOnSealedSecretChange: tenants' workloads of every kind use a
// Secret unsealed from their SealedSecret. Opting in records without a
// restart; a new value rolls each exactly once; a workload in another
// namespace using a Secret of the same name, and one that did not opt in,
// are not touched.
func TestRestartOnSealedSecretChange(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns, other := e.Namespace(t), e.Namespace(t)
	r := controllertest.Start(t, e.Config, e.Namespace(t), ns, restarts(other)...)
	create := func(o client.Object) { controllertest.Create(t, e, o) }
	create(sealed(t, r, ns, "db", "one"))
	controllertest.WaitSecret(t, e, ns, "db", controllertest.HasData(map[string]string{"v": "one"}))
	// Another tenant's Secret of the same name, which sealsync does not
	// manage, and their workload using it.
	create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: other}, StringData: map[string]string{"v": "theirs"}})

	var opted []*tracker
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet"} {
		opted = append(opted, track(t, e, workload(kind, ns, strings.ToLower(kind), true, "db")))
	}
	elsewhere := track(t, e, workload("Deployment", other, "web", true, "db"))
	notOpted := track(t, e, workload("Deployment", ns, "not-opted", false, "db"))
	for _, w := range append(opted, elsewhere) {
		w.waitRecorded(t)
	}

	reseal(t, e, r, ns, "db", "two")
	controllertest.WaitSecret(t, e, ns, "db", controllertest.HasData(map[string]string{"v": "two"}))
	var first string
	for _, w := range opted {
		s := w.waitRestarts(t, 1)
		if first == "" {
			first = s.template
		}
		if s.template != first {
			t.Errorf("%s: template annotation %q, others %q", w.name(), s.template, first)
		}
	}
	for _, w := range []*tracker{elsewhere, notOpted} {
		if n := w.count(); n != 0 {
			t.Errorf("%s was restarted %d times", w.name(), n)
		}
	}
	if notOpted.read(t).hasRecord {
		t.Error("a workload that did not opt in was annotated")
	}
	// The tenant's workloads never learn the value: the digests are keyed.
	for _, w := range opted {
		if s := w.read(t); strings.Contains(s.record, "two") || strings.Contains(s.template, "two") {
			t.Errorf("%s: annotations carry the value", w.name())
		}
	}

	// A second change is a second restart, with a new template value.
	reseal(t, e, r, ns, "db", "three")
	if s := opted[0].waitRestarts(t, 2); s.template == first {
		t.Error("the second restart set the same template annotation")
	}
}

// TestRestartOncePerChange: a tenant's Deployment uses two Secrets from
// SealedSecrets and one Secret sealsync does not manage. Both managed
// ones changing together roll it once; the unmanaged one changing never
// does.
func TestRestartOncePerChange(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	r := controllertest.Start(t, e.Config, e.Namespace(t), e.Namespace(t), restarts()...)
	ns := r.NS
	for _, name := range []string{"a", "b"} {
		controllertest.Create(t, e, sealed(t, r, ns, name, "one"))
		controllertest.WaitSecret(t, e, ns, name, controllertest.HasData(map[string]string{"v": "one"}))
	}
	unmanaged := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unmanaged", Namespace: ns}, StringData: map[string]string{"v": "one"}}
	controllertest.Create(t, e, unmanaged)
	w := track(t, e, workload("Deployment", ns, "web", true, "a", "unmanaged", "b"))
	w.waitRecorded(t)

	// The tenant changes the Secret sealsync does not manage.
	unmanaged.StringData = map[string]string{"v": "two"}
	if err := e.Client.Update(ctx, unmanaged); err != nil {
		t.Fatal(err)
	}
	w.waitRestarts(t, 0)

	// The tenant commits new values of both SealedSecrets at once.
	reseal(t, e, r, ns, "a", "two")
	reseal(t, e, r, ns, "b", "two")
	for _, name := range []string{"a", "b"} {
		controllertest.WaitSecret(t, e, ns, name, controllertest.HasData(map[string]string{"v": "two"}))
	}
	w.waitRestarts(t, 1)
	controllertest.WaitEvent(t, e, ns, "web", "SecretsChanged")
}

// TestNoRestartOnNoopSync: a tenant's ExternalSecret refreshed with
// nothing new at the provider (a force-sync), and its Secret's metadata
// changed without its data, restart nothing; a new value at the provider
// restarts once. Opting out removes the record, and opting in again
// records without a restart.
func TestNoRestartOnNoopSync(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	r := controllertest.Start(t, e.Config, e.Namespace(t), e.Namespace(t), restarts()...)
	ns := r.NS
	controllertest.Apply(t, e, ns, controllertest.FakeStore+`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
spec:
  refreshInterval: 8760h
  secretStoreRef:
    name: fake
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
      version: v1
`)
	controllertest.WaitSecret(t, e, ns, "db", controllertest.HasData(map[string]string{"v": "HELLO1"}))
	w := track(t, e, workload("Deployment", ns, "web", true, "db"))
	w.waitRecorded(t)

	// A refresh that reads the same value.
	// (The synced version hashes the annotations: it changes once the
	// refresh the annotation asked for is done. The refresh time, kept to
	// the second, may not.)
	before := controllertest.WaitES(t, e, ns, "db", corev1.ConditionTrue, "secret synced").Status.SyncedResourceVersion
	patchES(t, e, ns, "db", `{"metadata":{"annotations":{"`+esv1.AnnotationForceSync+`":"1"}}}`)
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		es := controllertest.WaitES(t, e, ns, "db", corev1.ConditionTrue, "secret synced")
		return es.Status.SyncedResourceVersion != before, errors.New("the force-sync refresh is not done yet")
	})
	// The Secret's metadata changes, its data does not.
	var s corev1.Secret
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "db"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Annotations["example.com/note"] = "metadata only"
	if err := e.Client.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	w.waitRestarts(t, 0)

	// The provider has a new value.
	patchES(t, e, ns, "db", `{"spec":{"data":[{"secretKey":"v","remoteRef":{"key":"/foo/bar","version":"v2"}}]}}`)
	controllertest.WaitSecret(t, e, ns, "db", controllertest.HasData(map[string]string{"v": "HELLO2"}))
	w.waitRestarts(t, 1)

	// The tenant opts out: the record goes, nothing restarts.
	setOptIn(t, e, w.obj, "")
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		return !w.read(t).hasRecord, fmt.Errorf("record still there")
	})
	// And in again, after a change it did not see: recorded, no restart.
	patchES(t, e, ns, "db", `{"spec":{"data":[{"secretKey":"v","remoteRef":{"key":"/foo/bar","version":"v1"}}]}}`)
	controllertest.WaitSecret(t, e, ns, "db", controllertest.HasData(map[string]string{"v": "HELLO1"}))
	setOptIn(t, e, w.obj, "true")
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		return w.read(t).hasRecord, fmt.Errorf("not recorded again")
	})
	w.waitRestarts(t, 1)
}

func patchES(t *testing.T, e *testkit.Env, ns, name, patch string) {
	t.Helper()
	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := e.Client.Patch(ctx, es, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// setOptIn is the tenant setting (or, with "", removing) the opt-in
// annotation.
func setOptIn(t *testing.T, e *testkit.Env, obj client.Object, v string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		a := obj.GetAnnotations()
		if v == "" {
			delete(a, restart.OptInAnnotation)
		} else {
			if a == nil {
				a = map[string]string{}
			}
			a[restart.OptInAnnotation] = v
		}
		obj.SetAnnotations(a)
		return e.Client.Update(ctx, obj)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestartBounds: a tenant's workload that names more Secrets than the
// operator's limit is left alone with a Warning event; one that did not
// opt in costs a stub in the cache; and the digest key Secret is made in
// the controller's namespace, not the tenant's.
func TestRestartBounds(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	r := controllertest.Start(t, e.Config, e.Namespace(t), e.Namespace(t), append(restarts(), func(o *controller.Options) {
		o.Restart.MaxSecrets = 3
	})...)
	w := track(t, e, workload("Deployment", r.NS, "greedy", true, "a", "b", "c", "d"))
	controllertest.WaitEvent(t, e, r.NS, "greedy", "TooManySecrets")
	if w.read(t).hasRecord {
		t.Error("a workload over the limit was recorded")
	}
	track(t, e, workload("Deployment", r.NS, "fine", true, "a")).waitRecorded(t)
	// A workload that did not opt in is cached as a stub: no labels, no
	// annotations, no pod template.
	plain := workload("Deployment", r.NS, "plain", false, "a")
	plain.SetLabels(map[string]string{"team": "x"})
	plain.SetAnnotations(map[string]string{"note": strings.Repeat("x", 4096)})
	controllertest.Create(t, e, plain)
	cached := &metav1.PartialObjectMetadata{}
	cached.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		err := r.Manager.GetCache().Get(ctx, client.ObjectKeyFromObject(plain), cached)
		return err == nil, err
	})
	if cached.Labels != nil || cached.Annotations != nil || cached.ManagedFields != nil || cached.Name != "plain" {
		t.Errorf("the cache holds more than a stub: %+v", cached.ObjectMeta)
	}
	var key corev1.Secret
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: r.KeyNS, Name: restart.KeySecretName}, &key); err != nil {
		t.Fatalf("no digest key in the controller's namespace: %v", err)
	}
	if key.Labels != nil {
		t.Errorf("the digest key is labelled %v: it must stay out of the managed Secrets' cache", key.Labels)
	}
}
