package restart

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestSecretRefs: the Secrets a tenant's pod template uses, from every
// place a running container reads one, each once; imagePullSecrets are
// not among them.
func TestSecretRefs(t *testing.T) {
	env := func(name string) corev1.EnvVar {
		return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}}}
	}
	spec := corev1.PodSpec{
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}},
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol"}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "projected"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "not-a-secret"}}},
			}}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
		},
		InitContainers: []corev1.Container{{Env: []corev1.EnvVar{env("init-env")}}},
		Containers: []corev1.Container{
			{Env: []corev1.EnvVar{env("env"), {Name: "plain", Value: "v"}, env("vol")},
				EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "envfrom"}}},
					{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm2"}}}}},
		},
	}
	got, err := secretRefs(&spec, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"env", "envfrom", "init-env", "projected", "vol"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := secretRefs(&spec, 4); err == nil {
		t.Fatal("5 Secrets with a limit of 4: no error")
	}
}

// TestRecordRoundTrip: what the controller writes, it reads back.
func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []record{
		{keyID: "k1", digests: map[string]string{}},
		{keyID: "k1", digests: map[string]string{"db": "aa", "tls.cert": "bb", "a-b": "cc"}},
	} {
		got, err := parseRecord(r.format())
		if err != nil || got.format() != r.format() {
			t.Errorf("%q: read back %q, %v", r.format(), got.format(), err)
		}
	}
	if got := (record{keyID: "k", digests: map[string]string{"b": "2", "a": "1"}}).format(); got != "k:a=1,b=2" {
		t.Errorf("format %q, want names sorted", got)
	}
}

// TestParseRecordRefuses: the record annotation is on the tenant's
// workload, which they may edit; what the controller did not write is
// refused (and then the workload counts as new).
func TestParseRecordRefuses(t *testing.T) {
	for name, s := range map[string]string{
		"tenant empties it":         "",
		"tenant drops the key id":   ":a=1",
		"tenant writes no colon":    "a=1",
		"tenant writes no digest":   "k:a=",
		"tenant writes no name":     "k:=1",
		"tenant writes a bare name": "k:a",
		"tenant repeats a name":     "k:a=1,a=2",
		"tenant writes a huge one":  "k:a=" + strings.Repeat("1", maxRecordBytes),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseRecord(s); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// FuzzParseRecord: any annotation a tenant writes parses without panic,
// and what parses formats back to an annotation that parses the same.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"k1:", "k1:a=1", "k1:a=1,b.c=2", ":", "k:a=1,a=2", "k:=,", "k::a=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRecord(s)
		if err != nil {
			return
		}
		again, err := parseRecord(r.format())
		if err != nil || again.format() != r.format() {
			t.Fatalf("%q formats to %q, which reads back as %q, %v", s, r.format(), again.format(), err)
		}
	})
}

// TestDecide is the decision table of restarts. refs and the Secrets'
// data come from the tenant; the record is what the controller wrote
// before (or, as a workload's annotation, what the tenant put there).
func TestDecide(t *testing.T) {
	rec := func(key string, kv ...string) record {
		r := record{keyID: key, digests: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			r.digests[kv[i]] = kv[i+1]
		}
		return r
	}
	for _, tc := range []struct {
		name        string
		prev        record
		hadPrev     bool
		refs        []string
		current     map[string]string
		wantNext    string
		wantChanged []string
	}{
		{"tenant opts in: recorded, no restart", record{}, false, []string{"a", "b"},
			map[string]string{"a": "1", "b": "2"}, "k:a=1,b=2", nil},
		{"no-op sync: nothing changed", rec("k", "a", "1", "b", "2"), true, []string{"a", "b"},
			map[string]string{"a": "1", "b": "2"}, "k:a=1,b=2", nil},
		{"one Secret's data changed", rec("k", "a", "1", "b", "2"), true, []string{"a", "b"},
			map[string]string{"a": "1", "b": "3"}, "k:a=1,b=3", []string{"b"}},
		{"two Secrets changed in one sync: one restart naming both", rec("k", "a", "1", "b", "2"), true, []string{"a", "b"},
			map[string]string{"a": "9", "b": "3"}, "k:a=9,b=3", []string{"a", "b"}},
		{"a Secret appears (created, or first written by sealsync)", rec("k", "a", "1"), true, []string{"a", "b"},
			map[string]string{"a": "1", "b": "2"}, "k:a=1,b=2", []string{"b"}},
		{"a Secret goes: no restart, its digest kept", rec("k", "a", "1", "b", "2"), true, []string{"a", "b"},
			map[string]string{"a": "1"}, "k:a=1,b=2", nil},
		{"a Secret no longer referenced is dropped", rec("k", "a", "1", "b", "2"), true, []string{"a"},
			map[string]string{"a": "1", "b": "2"}, "k:a=1", nil},
		{"unmanaged Secrets never count", rec("k"), true, []string{"unmanaged"},
			map[string]string{}, "k:", nil},
		{"the digest key changed: recorded again, no restart", rec("old", "a", "1"), true, []string{"a"},
			map[string]string{"a": "2"}, "k:a=2", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, changed := decide(tc.prev, tc.hadPrev, "k", tc.refs, tc.current)
			if next.format() != tc.wantNext || !slices.Equal(changed, tc.wantChanged) {
				t.Errorf("got %q %q, want %q %q", next.format(), changed, tc.wantNext, tc.wantChanged)
			}
		})
	}
}

// TestStripWorkload: a workload is cached with what the controller reads
// and nothing else: the tenant's labels, annotations and the rest of its
// metadata are dropped.
func TestStripWorkload(t *testing.T) {
	in := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "app", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3,
		Labels: map[string]string{"app": "x"},
		Annotations: map[string]string{
			OptInAnnotation: "true", RecordAnnotation: "k:", "kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 10000),
		},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		OwnerReferences: []metav1.OwnerReference{{Name: "o"}},
		Finalizers:      []string{"f"},
	}}
	out, err := stripWorkload(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*metav1.PartialObjectMetadata)
	want := metav1.ObjectMeta{Name: "app", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3,
		Annotations: map[string]string{OptInAnnotation: "true", RecordAnnotation: "k:"}}
	if m.Name != want.Name || m.Generation != 3 || m.ResourceVersion != "7" || len(m.Annotations) != 2 ||
		m.Labels != nil || m.ManagedFields != nil || m.OwnerReferences != nil || m.Finalizers != nil {
		t.Errorf("stripped to %+v", m.ObjectMeta)
	}
	plain, _ := stripWorkload(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "other", Annotations: map[string]string{"a": "b"}}})
	if plain.(*metav1.PartialObjectMetadata).Annotations != nil {
		t.Error("a workload that did not opt in keeps annotations")
	}
	if s := "not metadata"; func() any { o, _ := stripWorkload(s); return o }() != s {
		t.Error("another object was changed")
	}
}

// TestIndex: a Secret reaches only the workloads of its namespace that
// use it, at most the limit of them; a workload that changes its Secrets
// or goes is found under its new ones only.
func TestIndex(t *testing.T) {
	x := newIndex()
	wk := func(kind, ns, name string) workloadKey {
		return workloadKey{kind: kind, NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}
	}
	x.set(wk("Deployment", "a", "web"), 1, []string{"db", "tls"})
	x.set(wk("Deployment", "a", "api"), 1, []string{"db"})
	x.set(wk("StatefulSet", "a", "pg"), 1, []string{"db"})
	x.set(wk("Deployment", "b", "web"), 1, []string{"db"})
	users := func(ns, secret, kind string, max int) ([]string, int) {
		got, n := x.users(types.NamespacedName{Namespace: ns, Name: secret}, kind, max)
		var names []string
		for _, g := range got {
			names = append(names, g.Namespace+"/"+g.Name)
		}
		return names, n
	}
	if got, n := users("a", "db", "Deployment", 10); !slices.Equal(got, []string{"a/api", "a/web"}) || n != 2 {
		t.Errorf("a/db: %q %d", got, n)
	}
	if got, n := users("a", "db", "Deployment", 1); !slices.Equal(got, []string{"a/api"}) || n != 2 {
		t.Errorf("a/db, limit 1: %q %d", got, n)
	}
	x.set(wk("Deployment", "a", "web"), 2, []string{"tls"})
	if got, _ := users("a", "db", "Deployment", 10); !slices.Equal(got, []string{"a/api"}) {
		t.Errorf("after web dropped db: %q", got)
	}
	x.forget(wk("Deployment", "a", "api"))
	if got, _ := users("a", "db", "Deployment", 10); got != nil {
		t.Errorf("after api went: %q", got)
	}
	if got, _ := users("a", "db", "StatefulSet", 10); !slices.Equal(got, []string{"a/pg"}) {
		t.Errorf("StatefulSets: %q", got)
	}
	x.forget(wk("Deployment", "a", "web"))
	x.forget(wk("StatefulSet", "a", "pg"))
	x.forget(wk("Deployment", "b", "web"))
	if len(x.bySecret) != 0 || len(x.byWorkload) != 0 {
		t.Errorf("index not empty after every workload went: %v %v", x.bySecret, x.byWorkload)
	}
}
