package esdata_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

// desiredCase is one file of testdata/desired: fake stores, template
// sources and an ExternalSecret in, the Secret ESO would write out.
type desiredCase struct {
	// Stores are fake provider data by store name; the ExternalSecret's
	// secretStoreRef and any sourceRef.storeRef name one.
	Stores map[string][]esv1.FakeProviderData `json:"stores"`
	// ConfigMaps and Secrets are templateFrom sources by name.
	ConfigMaps     map[string]map[string]string `json:"configMaps"`
	Secrets        map[string]map[string]string `json:"secrets"`
	ExternalSecret esv1.ExternalSecret          `json:"externalSecret"`
	Want           desiredWant                  `json:"want"`
}

type desiredWant struct {
	Outcome     string              `json:"outcome"`
	Data        map[string]string   `json:"data"`
	Type        corev1.SecretType   `json:"type"`
	Labels      map[string]string   `json:"labels"`
	Annotations map[string]string   `json:"annotations"`
	Finalizers  []string            `json:"finalizers"`
	Immutable   bool                `json:"immutable"`
	Missing     []esdata.MissingRef `json:"missing"`
	// Error is a substring of the expected error; NotFound says it must
	// wrap providers.ErrSecretNotFound.
	Error    string `json:"error"`
	NotFound bool   `json:"notFound"`
}

// fakeFetcher serves fake stores by name and counts provider clients
// asked for, so tests can see that every read goes through the Fetcher.
type fakeFetcher struct {
	es     *esv1.ExternalSecret
	stores map[string][]esv1.FakeProviderData
	calls  int
}

func (f *fakeFetcher) Client(ctx context.Context, ref *esv1.SecretStoreRef) (providers.Client, error) {
	f.calls++
	name := f.es.Spec.SecretStoreRef.Name
	if ref != nil {
		name = ref.Name
	}
	data, ok := f.stores[name]
	if !ok {
		return nil, fmt.Errorf("store %q not found", name)
	}
	return fake.New().NewClient(ctx, providers.Store{
		Kind: esv1.SecretStoreKind, Name: name, Namespace: f.es.Namespace,
		Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{Data: data}}},
	}, nil)
}

type fakeSources struct {
	configMaps map[string]map[string]string
	secrets    map[string]map[string]string
}

func (s fakeSources) ConfigMap(_ context.Context, name string) (map[string]string, error) {
	cm, ok := s.configMaps[name]
	if !ok {
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	return cm, nil
}

func (s fakeSources) Secret(_ context.Context, name string) (map[string][]byte, error) {
	sec, ok := s.secrets[name]
	if !ok {
		return nil, fmt.Errorf("secret %q not found", name)
	}
	out := map[string][]byte{}
	for k, v := range sec {
		out[k] = []byte(v)
	}
	return out, nil
}

func loadCase(t testing.TB, path string) desiredCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c desiredCase
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func runCase(c desiredCase) (*esdata.DesiredData, *fakeFetcher, error) {
	es := c.ExternalSecret.DeepCopy()
	f := &fakeFetcher{es: es, stores: c.Stores}
	d, err := esdata.BuildDesired(context.Background(), es, f, fakeSources{c.ConfigMaps, c.Secrets})
	return d, f, err
}

func TestBuildDesiredGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "desired", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no cases in testdata/desired")
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".yaml"), func(t *testing.T) {
			c := loadCase(t, p)
			got, _, err := runCase(c)
			w := c.Want
			if w.Error != "" || w.NotFound {
				if err == nil {
					t.Fatalf("no error; got %+v", got)
				}
				if !strings.Contains(err.Error(), w.Error) {
					t.Errorf("error %q does not contain %q", err, w.Error)
				}
				if w.NotFound && !errors.Is(err, providers.ErrSecretNotFound) {
					t.Errorf("error %v does not wrap ErrSecretNotFound", err)
				}
				assertNoValues(t, c, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome.String() != cmpOr(w.Outcome, "Apply") {
				t.Errorf("outcome = %s, want %s", got.Outcome, w.Outcome)
			}
			if !reflect.DeepEqual(strs(got.Data), emptyNil(w.Data)) {
				t.Errorf("data:\n got %q\nwant %q", strs(got.Data), w.Data)
			}
			if got.Type != w.Type {
				t.Errorf("type = %q, want %q", got.Type, w.Type)
			}
			if !reflect.DeepEqual(emptyNil(got.Labels), emptyNil(w.Labels)) {
				t.Errorf("labels = %q, want %q", got.Labels, w.Labels)
			}
			if !reflect.DeepEqual(emptyNil(got.Annotations), emptyNil(w.Annotations)) {
				t.Errorf("annotations = %q, want %q", got.Annotations, w.Annotations)
			}
			if !slices.Equal(got.Finalizers, w.Finalizers) {
				t.Errorf("finalizers = %q, want %q", got.Finalizers, w.Finalizers)
			}
			if got.Immutable != w.Immutable {
				t.Errorf("immutable = %v", got.Immutable)
			}
			if !reflect.DeepEqual(got.Missing, w.Missing) {
				t.Errorf("missing = %+v, want %+v", got.Missing, w.Missing)
			}
		})
	}
}

// assertNoValues checks that an error names no value of the fake stores or
// template sources longer than a few bytes (short ones collide with words).
func assertNoValues(t *testing.T, c desiredCase, err error) {
	t.Helper()
	var values []string
	for _, data := range c.Stores {
		for _, d := range data {
			values = append(values, d.Value)
			var m map[string]any
			if yaml.Unmarshal([]byte(d.Value), &m) == nil {
				for _, v := range m {
					if s, ok := v.(string); ok {
						values = append(values, s)
					}
				}
			}
		}
	}
	for _, v := range values {
		if len(v) >= 6 && strings.Contains(err.Error(), v) {
			t.Errorf("error leaks a value: %v", err)
		}
	}
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

func strs(m map[string][]byte) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func emptyNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func TestBuildDesiredReadsOnlyThroughFetcher(t *testing.T) {
	c := loadCase(t, filepath.Join("testdata", "desired", "datafrom-order.yaml"))
	_, f, err := runCase(c)
	if err != nil {
		t.Fatal(err)
	}
	// The data entries all read the ExternalSecret's own store.
	if want := 1 + len(c.ExternalSecret.Spec.DataFrom); f.calls != want {
		t.Errorf("Fetcher.Client called %d times, want one per dataFrom entry and one for the data entries' store (%d)", f.calls, want)
	}
}

func TestBuildDesiredDoesNotModifyItsInput(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "desired", "*.yaml"))
	for _, p := range paths {
		c := loadCase(t, p)
		before := c.ExternalSecret.DeepCopy()
		f := &fakeFetcher{es: &c.ExternalSecret, stores: c.Stores}
		_, _ = esdata.BuildDesired(context.Background(), &c.ExternalSecret, f, fakeSources{c.ConfigMaps, c.Secrets})
		if !reflect.DeepEqual(before, &c.ExternalSecret) {
			t.Errorf("%s: BuildDesired modified the ExternalSecret", p)
		}
	}
}

func TestBuildDesiredStoreErrors(t *testing.T) {
	es := &esv1.ExternalSecret{Spec: esv1.ExternalSecretSpec{
		SecretStoreRef: esv1.SecretStoreRef{Name: "gone"},
		Data:           []esv1.ExternalSecretData{{SecretKey: "k", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "k"}}},
	}}
	_, err := esdata.BuildDesired(context.Background(), es, &fakeFetcher{es: es}, nil)
	if err == nil || !strings.Contains(err.Error(), `data[0] (secretKey "k"): store "gone" not found`) {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, providers.ErrSecretNotFound) {
		t.Fatal("a missing store is not a missing secret")
	}
}

func TestDesiredOutcomeString(t *testing.T) {
	got := []string{esdata.DesiredApply.String(), esdata.DesiredDelete.String(), esdata.DesiredRetain.String()}
	if !slices.Equal(got, []string{"Apply", "Delete", "Retain"}) {
		t.Fatal(got)
	}
}

// FuzzBuildDesired feeds arbitrary template and regexp text through every
// place an ExternalSecret puts them: BuildDesired must never panic, and no
// error may carry the secret value.
func FuzzBuildDesired(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "desired", "*.yaml"))
	if len(paths) == 0 {
		f.Fatal("no fuzz seeds found in testdata/desired")
	}
	for _, p := range paths {
		c := loadCase(f, p)
		for _, tpl := range c.templates() {
			f.Add(tpl, "(.*)", "$1")
		}
		for _, rw := range c.ExternalSecret.Spec.DataFrom {
			for _, op := range rw.Rewrite {
				if op.Regexp != nil {
					f.Add("{{ .value }}", op.Regexp.Source, op.Regexp.Target)
				}
				if op.Transform != nil {
					f.Add(op.Transform.Template, "x", "y")
				}
			}
		}
	}
	const secret = "fuzz-secret-value-42"
	f.Fuzz(func(t *testing.T, tpl, source, target string) {
		lit := tpl
		es := &esv1.ExternalSecret{Spec: esv1.ExternalSecretSpec{
			SecretStoreRef: esv1.SecretStoreRef{Name: "s"},
			DataFrom: []esv1.ExternalSecretDataFromRemoteRef{{
				Extract: &esv1.ExternalSecretDataRemoteRef{Key: "json"},
				Rewrite: []esv1.ExternalSecretRewrite{
					{Regexp: &esv1.ExternalSecretRewriteRegexp{Source: source, Target: target}},
					{Transform: &esv1.ExternalSecretRewriteTransform{Template: tpl}},
				},
			}},
			Data: []esv1.ExternalSecretData{{SecretKey: "password", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "pw"}}},
			Target: esv1.ExternalSecretTarget{Template: &esv1.ExternalSecretTemplate{
				Data:         map[string]string{"k": tpl},
				TemplateFrom: []esv1.TemplateFrom{{Literal: &lit}},
				Metadata:     esv1.ExternalSecretTemplateMetadata{Labels: map[string]string{"l": tpl}},
			}},
		}}
		ff := &fakeFetcher{es: es, stores: map[string][]esv1.FakeProviderData{"s": {
			{Key: "pw", Value: secret},
			{Key: "json", Value: `{"user":"` + secret + `","nested":{"a":"` + secret + `"}}`},
		}}}
		_, err := esdata.BuildDesired(context.Background(), es, ff, fakeSources{})
		if err != nil && strings.Contains(err.Error(), secret) && !strings.Contains(tpl+source+target, secret) {
			t.Fatalf("error leaks the secret: %v", err)
		}
	})
}

// templates returns every template text of a case, as fuzz seeds.
func (c desiredCase) templates() []string {
	var out []string
	if tpl := c.ExternalSecret.Spec.Target.Template; tpl != nil {
		out = slices.AppendSeq(out, maps.Values(tpl.Data))
		for _, tf := range tpl.TemplateFrom {
			if tf.Literal != nil {
				out = append(out, *tf.Literal)
			}
		}
	}
	for _, cm := range c.ConfigMaps {
		out = slices.AppendSeq(out, maps.Values(cm))
	}
	return out
}
