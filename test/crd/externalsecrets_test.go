package crd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// strict is kubectl's default field validation: a field the schema does not
// know fails the request instead of being dropped with a warning. Applying
// ESO's examples this way proves no field of theirs is missing here.
var strict = client.FieldValidation(metav1.FieldValidationStrict)

// golden is one manifest under testdata/externalsecrets.
type golden struct {
	// name is the file's path below testdata/externalsecrets.
	name string
	// want is the text of the "# want:" comment: a substring of the error
	// the API server must answer an invalid manifest with.
	want string
	// raw is the manifest as JSON.
	raw []byte
}

// loadGolden reads testdata/externalsecrets/<dir>/*.yaml.
func loadGolden(t *testing.T, dir string) []golden {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "externalsecrets", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no golden manifests in testdata/externalsecrets/%s", dir)
	}
	var out []golden
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		g := golden{name: filepath.Join(dir, filepath.Base(p))}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "#") {
				break
			}
			if w, ok := strings.CutPrefix(line, "# want:"); ok {
				g.want = strings.TrimSpace(w)
			}
		}
		if g.raw, err = yaml.YAMLToJSON(b); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, g)
	}
	return out
}

// object decodes g for creating in ns: named after its file so that ESO's
// examples, which share names, do not collide, and in ns when the kind is
// namespaced. Nothing under spec is touched.
func (g golden) object(t *testing.T, c client.Client, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(g.raw, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetName(strings.TrimSuffix(filepath.Base(g.name), ".yaml"))
	namespaced, err := c.IsObjectNamespaced(u)
	if err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
	if namespaced {
		u.SetNamespace(ns)
	} else {
		u.SetNamespace("")
	}
	return u
}

// create creates u and deletes it when the test ends if it is
// cluster-scoped (namespaced objects go with their namespace).
func create(t *testing.T, c client.Client, u *unstructured.Unstructured, opts ...client.CreateOption) error {
	t.Helper()
	err := c.Create(context.Background(), u, opts...)
	if err == nil && u.GetNamespace() == "" {
		t.Cleanup(func() { _ = c.Delete(context.Background(), u) })
	}
	return err
}

// TestExternalSecretsAcceptsESOExamples applies ESO's documented manifests
// for the vault, aws and fake providers, and checks the API server stores
// exactly what was sent: no field pruned, none defaulted.
func TestExternalSecretsAcceptsESOExamples(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	ctx := context.Background()
	for _, g := range loadGolden(t, "valid") {
		t.Run(g.name, func(t *testing.T) {
			if g.want != "" {
				t.Fatalf("a valid manifest has a want comment: %q", g.want)
			}
			u := g.object(t, e.Client, ns)
			sent := normalize(t, u.Object["spec"])
			if err := create(t, e.Client, u, strict); err != nil {
				t.Fatalf("server rejected the example: %v", err)
			}

			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
				t.Fatal(err)
			}
			if stored := normalize(t, got.Object["spec"]); !reflect.DeepEqual(sent, stored) {
				t.Errorf("server changed the spec\nsent:   %s\nstored: %s", jsonOf(t, sent), jsonOf(t, stored))
			}

			// The typed client reads it too.
			typed, err := manifest.Scheme.New(u.GroupVersionKind())
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(u), typed.(client.Object)); err != nil {
				t.Fatalf("typed read: %v", err)
			}
		})
	}
}

// TestExternalSecretsRejectsInvalid checks that the API server refuses what
// ESO's schema or webhook refuses, and what sealsync leaves out, with the
// expected message.
func TestExternalSecretsRejectsInvalid(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	for _, g := range loadGolden(t, "invalid") {
		t.Run(g.name, func(t *testing.T) {
			if g.want == "" {
				t.Fatal(`an invalid manifest needs a leading "# want: <error substring>" comment`)
			}
			err := create(t, e.Client, g.object(t, e.Client, ns), strict)
			if err == nil || !strings.Contains(err.Error(), g.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, g.want)
			}
		})
	}
}

// TestExternalSecretsGoTypesRoundTrip decodes each valid example into the Go
// types and encodes it again: every field must survive, and none may be
// added, or the controller would lose or invent fields whenever it writes an
// object back.
func TestExternalSecretsGoTypesRoundTrip(t *testing.T) {
	for _, g := range loadGolden(t, "valid") {
		t.Run(g.name, func(t *testing.T) {
			var tm metav1.TypeMeta
			if err := json.Unmarshal(g.raw, &tm); err != nil {
				t.Fatal(err)
			}
			obj, err := manifest.Scheme.New(tm.GroupVersionKind())
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(g.raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(obj); err != nil {
				t.Fatalf("decode into %T: %v", obj, err)
			}
			out, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			var in, back map[string]any
			if err := json.Unmarshal(g.raw, &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatal(err)
			}
			for _, d := range diffRoundTrip("spec", in["spec"], back["spec"]) {
				t.Error(d)
			}
		})
	}
}

// TestExternalSecretsStoresNoDefaults creates objects holding only what the
// schema requires, and the sparse shapes ESO used to default (target,
// remoteRef strategies, templates, rewrite merge, vault mount paths), and
// checks the server stores them as sent (ESO #6398).
func TestExternalSecretsStoresNoDefaults(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	ctx := context.Background()
	tests := []struct {
		name string
		kind string
		spec string
	}{
		{"externalsecret required fields", "ExternalSecret",
			`{"data":[{"secretKey":"a","remoteRef":{"key":"k"}}]}`},
		{"externalsecret sparse", "ExternalSecret", `{
			"secretStoreRef":{"name":"s"},
			"target":{"template":{"data":{"a":"{{ .a }}"},"templateFrom":[{"configMap":{"name":"t","items":[{"key":"k"}]}},{"literal":"b: c"}]}},
			"data":[{"secretKey":"a","remoteRef":{"key":"k","property":"p"}}],
			"dataFrom":[{"extract":{"key":"k"}},{"find":{"name":{"regexp":".*"}},"rewrite":[{"merge":{}},{"regexp":{"source":"a","target":"b"}}]}]}`},
		{"secretstore vault required fields", "SecretStore",
			`{"provider":{"vault":{"server":"https://vault.example.com"}}}`},
		{"secretstore vault sparse auth", "SecretStore", `{"provider":{"vault":{"server":"https://vault.example.com","auth":{
			"appRole":{"secretRef":{"name":"s"}},"kubernetes":{"role":"r"},"jwt":{},"ldap":{"username":"u"},
			"userPass":{"username":"u"},"cert":{},"iam":{"vaultRole":"r"},"gcp":{"role":"r"}}}}}`},
		{"secretstore aws required fields", "SecretStore",
			`{"provider":{"aws":{"service":"SecretsManager","region":"eu-central-1"}}}`},
		{"secretstore fake required fields", "SecretStore",
			`{"provider":{"fake":{"data":[{"key":"k","value":"v"}]}}}`},
		{"clustersecretstore required fields", "ClusterSecretStore",
			`{"provider":{"fake":{"data":[]}}}`},
		{"clusterexternalsecret required fields", "ClusterExternalSecret",
			`{"externalSecretSpec":{"data":[{"secretKey":"a","remoteRef":{"key":"k"}}]}}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var spec any
			if err := json.Unmarshal([]byte(tt.spec), &spec); err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
			u.SetGroupVersionKind(esv1.SchemeGroupVersion.WithKind(tt.kind))
			u.SetName(fmt.Sprintf("no-defaults-%d", i))
			if !strings.HasPrefix(tt.kind, "Cluster") {
				u.SetNamespace(ns)
			}
			sent := normalize(t, spec)
			if err := create(t, e.Client, u, strict); err != nil {
				t.Fatal(err)
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
				t.Fatal(err)
			}
			if stored := normalize(t, got.Object["spec"]); !reflect.DeepEqual(sent, stored) {
				t.Errorf("server defaulted fields\nsent:   %s\nstored: %s", jsonOf(t, sent), jsonOf(t, stored))
			}
		})
	}

	// What the schema no longer defaults, the API package names for the
	// controller.
	var es esv1.ExternalSecret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "no-defaults-0"}, &es); err != nil {
		t.Fatal(err)
	}
	if es.Spec.RefreshInterval != nil || es.Spec.Target.CreationPolicy != "" {
		t.Fatalf("typed object carries defaults: %+v", es.Spec)
	}
	if got := es.Spec.RefreshIntervalOrDefault(); got != time.Hour {
		t.Fatalf("RefreshIntervalOrDefault() = %v, want ESO's 1h", got)
	}
}

// TestExternalSecretsVersions creates each kind in one served version and
// reads it in the other: both serve one schema, so nothing may change but
// apiVersion.
func TestExternalSecretsVersions(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	ctx := context.Background()
	specs := map[string]string{
		"ExternalSecret": `{"refreshInterval":"15s","secretStoreRef":{"name":"vault-backend","kind":"SecretStore"},
			"target":{"name":"example-sync","creationPolicy":"Owner","template":{"type":"Opaque","data":{"a":"{{ .foobar }}"}}},
			"data":[{"secretKey":"foobar","remoteRef":{"key":"foo","property":"my-value","nullBytePolicy":"Fail"}}]}`,
		"SecretStore": `{"provider":{"vault":{"server":"https://vault.acme.org","path":"secret","version":"v2",
			"auth":{"kubernetes":{"mountPath":"kubernetes","role":"demo","serviceAccountRef":{"name":"my-sa"}}}}}}`,
		"ClusterSecretStore": `{"provider":{"aws":{"service":"SecretsManager","region":"eu-central-1",
			"auth":{"jwt":{"serviceAccountRef":{"name":"my-sa","namespace":"external-secrets"}}}}},
			"conditions":[{"namespaces":["team-a"]}]}`,
		"ClusterExternalSecret": `{"externalSecretName":"hello","namespaceSelectors":[{"matchLabels":{"cool":"label"}}],
			"refreshTime":"1m","externalSecretSpec":{"dataFrom":[{"extract":{"key":"k"}}]}}`,
	}
	for _, kind := range slices.Sorted(maps.Keys(specs)) {
		for _, dir := range [][2]string{{"v1beta1", "v1"}, {"v1", "v1beta1"}} {
			from, to := dir[0], dir[1]
			t.Run(kind+" "+from+" to "+to, func(t *testing.T) {
				var spec any
				if err := json.Unmarshal([]byte(specs[kind]), &spec); err != nil {
					t.Fatal(err)
				}
				u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
				u.SetGroupVersionKind(schema.GroupVersionKind{Group: esv1.GroupName, Version: from, Kind: kind})
				u.SetName(strings.ToLower(kind) + "-from-" + from)
				if !strings.HasPrefix(kind, "Cluster") {
					u.SetNamespace(ns)
				}
				if err := create(t, e.Client, u, strict); err != nil {
					t.Fatal(err)
				}
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(schema.GroupVersionKind{Group: esv1.GroupName, Version: to, Kind: kind})
				if err := e.Client.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
					t.Fatal(err)
				}
				if got.GetAPIVersion() != esv1.GroupName+"/"+to {
					t.Fatalf("read as %s", got.GetAPIVersion())
				}
				if a, b := normalize(t, spec), normalize(t, got.Object["spec"]); !reflect.DeepEqual(a, b) {
					t.Errorf("spec changed between versions\n%s: %s\n%s: %s", from, jsonOf(t, a), to, jsonOf(t, b))
				}
			})
		}
	}
}

// TestExternalSecretsPrinterColumns asks the API server for the table kubectl
// get prints and checks ESO's columns and their cells.
func TestExternalSecretsPrinterColumns(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	ctx := context.Background()

	es := &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "columns", Namespace: ns},
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Name: "vault-backend", Kind: esv1.SecretStoreKind},
			RefreshInterval: &metav1.Duration{Duration: 15 * time.Second},
			Data:            []esv1.ExternalSecretData{{SecretKey: "a", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "k"}}},
		},
	}
	if err := e.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	es.Status.Conditions = []esv1.ExternalSecretStatusCondition{{
		Type: esv1.ExternalSecretReady, Status: corev1.ConditionTrue,
		Reason: esv1.ConditionReasonSecretSynced, LastTransitionTime: metav1.Now(),
	}}
	if err := e.Client.Status().Update(ctx, es); err != nil {
		t.Fatalf("status subresource: %v", err)
	}

	ss := &esv1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: "columns", Namespace: ns},
		Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{
			Fake: &esv1.FakeProvider{Data: []esv1.FakeProviderData{{Key: "k", Value: "v"}}},
		}},
	}
	if err := e.Client.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	ss.Status = esv1.SecretStoreStatus{
		Capabilities: esv1.SecretStoreReadOnly,
		Conditions: []esv1.SecretStoreStatusCondition{{
			Type: esv1.SecretStoreReady, Status: corev1.ConditionTrue,
			Reason: esv1.ReasonStoreValid, LastTransitionTime: metav1.Now(),
		}},
	}
	if err := e.Client.Status().Update(ctx, ss); err != nil {
		t.Fatalf("status subresource: %v", err)
	}

	tests := []struct {
		resource  string
		wantCols  []string
		wantCells []any
	}{
		{"externalsecrets", []string{"Name", "StoreType", "Store", "Refresh Interval", "Status", "Ready"},
			[]any{"columns", "SecretStore", "vault-backend", "15s", "SecretSynced", "True"}},
		{"secretstores", []string{"Name", "AGE", "Status", "Capabilities", "Ready"},
			[]any{"columns", nil, "Valid", "ReadOnly", "True"}},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			table := getTable(t, e.Config, "/apis/external-secrets.io/v1/namespaces/"+ns+"/"+tt.resource)
			var cols []string
			for _, c := range table.ColumnDefinitions {
				cols = append(cols, c.Name)
			}
			if !slices.Equal(cols, tt.wantCols) {
				t.Fatalf("columns = %q, want %q", cols, tt.wantCols)
			}
			if len(table.Rows) != 1 {
				t.Fatalf("%d rows, want 1", len(table.Rows))
			}
			for i, want := range tt.wantCells {
				if want != nil && table.Rows[0].Cells[i] != want {
					t.Errorf("column %s = %v, want %v", cols[i], table.Rows[0].Cells[i], want)
				}
			}
		})
	}
}

// TestExternalSecretsCRDs checks the generated CRDs themselves: ESO's names
// and scopes, v1 stored and v1beta1 served with the very same schema and no
// conversion webhook, and no default anywhere.
func TestExternalSecretsCRDs(t *testing.T) {
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		plural, kind, scope, shortName string
	}{
		{"externalsecrets", "ExternalSecret", "Namespaced", "es"},
		{"secretstores", "SecretStore", "Namespaced", "ss"},
		{"clustersecretstores", "ClusterSecretStore", "Cluster", "css"},
		{"clusterexternalsecrets", "ClusterExternalSecret", "Cluster", "ces"},
	}
	for _, tt := range tests {
		t.Run(tt.plural, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(root, "config", "crd", "bases", "external-secrets.io_"+tt.plural+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var crd struct {
				Spec struct {
					Group string
					Scope string
					Names struct {
						Kind       string
						ShortNames []string
						Categories []string
					}
					Versions   []map[string]any
					Conversion *struct{ Strategy string }
				}
			}
			if err := yaml.Unmarshal(b, &crd); err != nil {
				t.Fatal(err)
			}
			s := crd.Spec
			if s.Group != esv1.GroupName || s.Scope != tt.scope || s.Names.Kind != tt.kind ||
				!slices.Equal(s.Names.ShortNames, []string{tt.shortName}) || !slices.Equal(s.Names.Categories, []string{"external-secrets"}) {
				t.Errorf("group %s, scope %s, names %+v", s.Group, s.Scope, s.Names)
			}
			if s.Conversion != nil && s.Conversion.Strategy != "None" {
				t.Errorf("conversion strategy %s, want None: the versions share one schema", s.Conversion.Strategy)
			}
			if len(s.Versions) != 2 {
				t.Fatalf("%d versions, want v1 and v1beta1", len(s.Versions))
			}
			v1, v1beta1 := s.Versions[0], s.Versions[1]
			if v1["name"] != "v1" || v1["served"] != true || v1["storage"] != true || v1["deprecated"] != nil {
				t.Errorf("v1: served %v, storage %v, deprecated %v", v1["served"], v1["storage"], v1["deprecated"])
			}
			if v1beta1["name"] != "v1beta1" || v1beta1["served"] != true || v1beta1["storage"] != false || v1beta1["deprecated"] != true {
				t.Errorf("v1beta1: served %v, storage %v, deprecated %v", v1beta1["served"], v1beta1["storage"], v1beta1["deprecated"])
			}
			for _, k := range []string{"schema", "subresources", "additionalPrinterColumns", "selectableFields"} {
				if !reflect.DeepEqual(v1[k], v1beta1[k]) {
					t.Errorf("v1 and v1beta1 differ in %s", k)
				}
			}
			for _, p := range findKey(v1["schema"], "default", "schema") {
				t.Errorf("CRD default at %s: optional fields must stay unset (ESO #6398)", p)
			}
		})
	}
}

// getTable GETs path as the Table kubectl get asks for.
func getTable(t *testing.T, cfg *rest.Config, path string) *metav1.Table {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	return &table
}

// normalize returns v as generic JSON without null members: the API server
// prunes nulls of fields that are not nullable, and numbers decode alike.
func normalize(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(jsonOf(t, v)), &out); err != nil {
		t.Fatal(err)
	}
	return dropNulls(out)
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				delete(v, k)
				continue
			}
			v[k] = dropNulls(x)
		}
	case []any:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return v
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// diffRoundTrip lists how back, a manifest after a round trip through the Go
// types, differs from in. Encodings the types canonicalize are equal: an
// empty map or list may vanish, as may a null, and durations may be
// respelled ("1h" as "1h0m0s").
func diffRoundTrip(path string, in, back any) []string {
	switch in := in.(type) {
	case nil:
		if back != nil {
			return []string{path + ": added"}
		}
		return nil
	case map[string]any:
		b, ok := back.(map[string]any)
		if !ok {
			if back == nil && len(in) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("%s: %v became %v", path, in, back)}
		}
		var diffs []string
		for _, k := range sortedKeys(in, b) {
			x, inHas := in[k]
			y, backHas := b[k]
			switch {
			case !backHas && (x == nil || isEmpty(x)):
			case !backHas:
				diffs = append(diffs, path+"."+k+": dropped")
			case !inHas:
				diffs = append(diffs, fmt.Sprintf("%s.%s: added %v", path, k, y))
			default:
				diffs = append(diffs, diffRoundTrip(path+"."+k, x, y)...)
			}
		}
		return diffs
	case []any:
		b, ok := back.([]any)
		if !ok || len(b) != len(in) {
			if back == nil && len(in) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("%s: %v became %v", path, in, back)}
		}
		var diffs []string
		for i := range in {
			diffs = append(diffs, diffRoundTrip(fmt.Sprintf("%s[%d]", path, i), in[i], b[i])...)
		}
		return diffs
	case string:
		if s, ok := back.(string); ok && s != in {
			d1, err1 := time.ParseDuration(in)
			d2, err2 := time.ParseDuration(s)
			if err1 == nil && err2 == nil && d1 == d2 {
				return nil
			}
		}
	}
	if !reflect.DeepEqual(in, back) {
		return []string{fmt.Sprintf("%s: %v became %v", path, in, back)}
	}
	return nil
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

func sortedKeys(ms ...map[string]any) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// findKey lists the paths in v where a map has the key name. Under
// "properties" the keys are field names, not schema keywords, and are not
// matched.
func findKey(v any, name, path string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if k == name && !strings.HasSuffix(path, ".properties") {
				out = append(out, path+"."+k)
			}
			out = append(out, findKey(v[k], name, path+"."+k)...)
		}
	case []any:
		for i, x := range v {
			out = append(out, findKey(x, name, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}
