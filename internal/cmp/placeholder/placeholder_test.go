package placeholder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/internal/redact"
)

// In these tests the manifests are tenant input (an application's author
// writes the placeholders); the store's content and the limits are
// operator input.

// store is a Reader over fixed secrets that counts its reads and how many
// ran at once.
type store struct {
	secrets map[Ref]map[string]any
	delay   time.Duration

	mu             sync.Mutex
	reads          map[Ref]int
	now, maxAtOnce atomic.Int32
}

func (s *store) Read(ctx context.Context, ref Ref) (map[string]any, error) {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		m := s.maxAtOnce.Load()
		if n <= m || s.maxAtOnce.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	if s.reads == nil {
		s.reads = map[Ref]int{}
	}
	s.reads[ref]++
	s.mu.Unlock()
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m, ok := s.secrets[ref]
	if !ok {
		return nil, fmt.Errorf("secret not found: %s", ref.Path)
	}
	return m, nil
}

func vaultLike() *store {
	return &store{secrets: map[Ref]map[string]any{
		{Path: "secret/data/database"}:               {"username": "app", "password": "db-Pa55w0rd-K9", "port": json.Number("5432")},
		{Path: "secret/data/database", Version: "1"}: {"password": "old-Pa55w0rd-J1"},
		{Path: "secret/data/api"}:                    {"token": "api-T0ken-X7qL", "replicas": json.Number("3"), "config": `{"url": "https://api.example.com"}`},
		{Path: "kv/legacy", KVVersion: "1"}:          {"key": "legacy-V4lue-R2"},
		{Path: "secret/data/multi"}:                  {"pem": "-----BEGIN-----\n  line1\n  line2\n-----END-----", "yaml": "a: 1\nb: [x, z]\n", "b64": base64.StdEncoding.EncodeToString([]byte("decoded-V4l"))},
	}}
}

func decode(t testing.TB, doc string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatal(err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func field(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s: no field %v (%v)", o.GetName(), path, err)
	}
	return v
}

// TestResolveAVPExamples: the manifests of AVP's documentation render as
// AVP renders them.
func TestResolveAVPExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "avp-examples.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, string(b))
	s := vaultLike()
	var values redact.Values
	res, err := Resolve(context.Background(), objs, s, Limits{}, &values)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		obj  int
		path []string
		want any
	}{
		{"generic key with the path annotation", 0, []string{"stringData", "password"}, "db-Pa55w0rd-K9"},
		{"inline with a modifier in data", 1, []string{"data", "password"}, base64.StdEncoding.EncodeToString([]byte("db-Pa55w0rd-K9"))},
		{"base64-encoded inline placeholder", 1, []string{"data", "token"}, base64.StdEncoding.EncodeToString([]byte("api-T0ken-X7qL"))},
		{"inline with a version", 1, []string{"stringData", "old"}, "old-Pa55w0rd-J1"},
		{"sha256sum in an annotation", 2, []string{"metadata", "annotations", "checksum/db"}, "3c83b1b5bd0e8236bb40bd1d3e2c07c0b5b45bc3df7e6ec6b41eea1b5d1cd71b"},
		{"angle brackets without a placeholder", 2, []string{"data", "html"}, "<b>not a placeholder</b>"},
		{"number in a ConfigMap is a string", 2, []string{"data", "port"}, "5432"},
		{"jsonPath inside text", 2, []string{"data", "conf"}, "key: https://api.example.com\n"},
		{"number replaces the whole field", 3, []string{"spec", "replicas"}, json.Number("3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := field(t, objs[tc.obj], tc.path...)
			if tc.name == "sha256sum in an annotation" {
				// Checked against the value, not a constant typed here.
				tc.want = sha256hex("db-Pa55w0rd-K9")
			}
			if got != tc.want {
				t.Errorf("%v = %#v, want %#v", tc.path, got, tc.want)
			}
		})
	}
	args := field(t, objs[3], "spec", "template", "spec", "containers").([]any)[0].(map[string]any)["args"].([]any)
	if args[1] != "api-T0ken-X7qL" {
		t.Errorf("list item = %v", args[1])
	}
	if want := []int{2, 3, 3, 2}; fmt.Sprint(res.Replaced) != fmt.Sprint(want) {
		t.Errorf("Replaced = %v, want %v", res.Replaced, want)
	}
	// Three distinct secrets, each read once.
	if res.Reads != 3 || len(s.reads) != 3 {
		t.Errorf("reads = %d (%v), want 3", res.Reads, s.reads)
	}
	for ref, n := range s.reads {
		if n != 1 {
			t.Errorf("%s read %d times", ref, n)
		}
	}
	if !values.Quotes("oops: db-Pa55w0rd-K9") {
		t.Error("a value read was not recorded for redaction")
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestResolveAnnotations covers ignore, kv-version, secret-version and
// remove-missing.
func TestResolveAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		doc     string
		want    map[string]any // field (dotted) -> value; nil value: absent
		wantErr error
	}{
		{
			name: "tenant ignores an object",
			doc:  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    avp.kubernetes.io/ignore: \"true\"\nstringData:\n  a: <path:secret/data/nowhere#x>\n",
			want: map[string]any{"stringData.a": "<path:secret/data/nowhere#x>"},
		},
		{
			name: "tenant asks for the KV v1 layout",
			doc:  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    avp.kubernetes.io/kv-version: \"1\"\nstringData:\n  a: <path:kv/legacy#key>\n",
			want: map[string]any{"stringData.a": "legacy-V4lue-R2"},
		},
		{
			name: "tenant pins the annotated path's version",
			doc:  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    avp.kubernetes.io/path: secret/data/database\n    avp.kubernetes.io/secret-version: \"1\"\nstringData:\n  a: <password>\n",
			want: map[string]any{"stringData.a": "old-Pa55w0rd-J1"},
		},
		{
			name: "tenant removes missing keys",
			doc:  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    avp.kubernetes.io/path: secret/data/database\n    avp.kubernetes.io/remove-missing: \"true\"\nstringData:\n  a: <password>\n  b: <nope>\n",
			want: map[string]any{"stringData.a": "db-Pa55w0rd-K9", "stringData.b": nil},
		},
		{
			name:    "missing key fails without remove-missing",
			doc:     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  b: <path:secret/data/database#nope>\n",
			wantErr: ErrMissing,
		},
		{
			name:    "remove-missing on a Deployment",
			doc:     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations:\n    avp.kubernetes.io/remove-missing: \"true\"\n",
			wantErr: ErrSyntax,
		},
		{
			name:    "kv-version 3",
			doc:     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    avp.kubernetes.io/kv-version: \"3\"\n",
			wantErr: ErrSyntax,
		},
		{
			name:    "unknown modifier",
			doc:     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: <path:secret/data/database#password | rot13>\n",
			wantErr: ErrSyntax,
		},
		{
			name:    "indent wider than allowed",
			doc:     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: <path:secret/data/multi#pem | indent 100000>\n",
			wantErr: ErrSyntax,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := decode(t, tc.doc)
			_, err := Resolve(context.Background(), objs, vaultLike(), Limits{}, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for f, want := range tc.want {
				got, ok, _ := unstructured.NestedFieldNoCopy(objs[0].Object, strings.Split(f, ".")...)
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want it removed", f, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %#v, want %#v", f, got, want)
				}
			}
		})
	}
}

// TestModifiers: each of AVP's modifiers, alone and chained.
func TestModifiers(t *testing.T) {
	for _, tc := range []struct {
		name, placeholder string
		want              any
	}{
		{"base64encode", "secret/data/database#username | base64encode", "YXBw"},
		{"base64decode", "secret/data/multi#b64 | base64decode", "decoded-V4l"},
		{"jsonParse then jsonPath", "secret/data/api#config | jsonParse | jsonPath {.url}", "https://api.example.com"},
		{"yamlParse", "secret/data/multi#yaml | yamlParse | jsonPath {.b[1]}", "z"},
		{"indent", "secret/data/multi#pem | indent 4", "-----BEGIN-----\n    line1\n    line2\n    -----END-----"},
		{"sha256sum", "secret/data/database#username | sha256sum", sha256hex("app")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: <path:"+tc.placeholder+">\n")
			if _, err := Resolve(context.Background(), objs, vaultLike(), Limits{}, nil); err != nil {
				t.Fatal(err)
			}
			if got := field(t, objs[0], "data", "v"); got != tc.want {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestResolveReadsOncePerPathInParallel: 500 placeholders over 50 paths
// cost 50 reads, several at once but never more than MaxParallel.
func TestResolveReadsOncePerPathInParallel(t *testing.T) {
	s := &store{secrets: map[Ref]map[string]any{}, delay: 20 * time.Millisecond}
	var doc bytes.Buffer
	for p := range 50 {
		s.secrets[Ref{Path: fmt.Sprintf("secret/data/app%d", p)}] = map[string]any{"k": fmt.Sprintf("value-%d-abcdef", p)}
	}
	for i := range 500 {
		fmt.Fprintf(&doc, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s%d\nstringData:\n  k: <path:secret/data/app%d#k>\n", i, i%50)
	}
	objs := decode(t, doc.String())
	res, err := Resolve(context.Background(), objs, s, Limits{MaxParallel: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reads != 50 || len(s.reads) != 50 {
		t.Errorf("reads = %d, want 50", res.Reads)
	}
	if m := s.maxAtOnce.Load(); m > 4 || m < 2 {
		t.Errorf("%d reads at once, want 2 to 4", m)
	}
	if got := field(t, objs[499], "stringData", "k"); got != "value-49-abcdef" {
		t.Errorf("last object: %v", got)
	}
}

// TestResolveLimits: a tenant's manifests cannot make a render read or
// write without bound.
func TestResolveLimits(t *testing.T) {
	many := func(n, paths int) string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n")
		for i := range n {
			fmt.Fprintf(&b, "  k%d: <path:secret/data/p%d#k>\n", i, i%paths)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name string
		doc  string
		lim  Limits
	}{
		{"too many placeholders", many(11, 1), Limits{MaxPlaceholders: 10}},
		{"too many distinct secrets", many(11, 11), Limits{MaxRefs: 10}},
		{"indent past the byte budget", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: <path:secret/data/multi#pem | indent 256>\n", Limits{MaxBytes: 512}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve(context.Background(), decode(t, tc.doc), vaultLike(), tc.lim, nil)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
		})
	}
}

// TestResolveErrorsQuoteNoValue: errors after a read name the object, the
// field and the placeholder, never a value read.
func TestResolveErrorsQuoteNoValue(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: <path:secret/data/database#password | jsonParse>\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: <path:secret/data/database#password | base64decode>\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: <path:secret/data/api#config | jsonPath {.nope}>\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: <path:secret/data/api#replicas | base64encode>\n",
	} {
		_, err := Resolve(context.Background(), decode(t, doc), vaultLike(), Limits{}, nil)
		if err == nil {
			t.Fatalf("no error for %s", doc)
		}
		for _, v := range []string{"db-Pa55w0rd-K9", "api.example.com", "Pa55"} {
			if strings.Contains(err.Error(), v) {
				t.Errorf("error quotes a value: %v", err)
			}
		}
	}
}

// TestResolveReadFailure: a failed read fails the render; other reads are
// cancelled.
func TestResolveReadFailure(t *testing.T) {
	doc := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: <path:secret/data/gone#x>\n  b: <path:secret/data/database#password>\n"
	_, err := Resolve(context.Background(), decode(t, doc), vaultLike(), Limits{}, nil)
	if err == nil || !strings.Contains(err.Error(), "secret/data/gone") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzResolve: tenant manifests of any shape never panic the resolver.
func FuzzResolve(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			f.Add([]byte(doc))
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil || m == nil {
			return
		}
		objs := []*unstructured.Unstructured{{Object: m}}
		_, _, _ = Count(objs)
		_, _ = Resolve(context.Background(), objs, vaultLike(), Limits{MaxBytes: 1 << 20}, nil)
	})
}
