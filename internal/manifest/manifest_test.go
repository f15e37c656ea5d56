package manifest_test

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/manifest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeSealedSecrets(t *testing.T) {
	tests := []struct {
		file      string
		wantNames []string
		wantErr   string
	}{
		{"sealedsecret.yaml", []string{"db"}, ""},
		{"sealedsecret.json", []string{"x"}, ""},
		{"multi.yaml", []string{"one", "two"}, ""},
		{"lenient-encrypteddata.yaml", []string{"lenient"}, ""},
		{"list.yaml", nil, "document 1 is a Secret (v1), want SealedSecret (bitnami.com/v1alpha1)"},
		{"malformed.yaml", nil, "document 1"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := manifest.DecodeSealedSecrets(bytes.NewReader(readTestdata(t, tt.file)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ss := range got {
				names = append(names, ss.Name)
			}
			if !reflect.DeepEqual(names, tt.wantNames) {
				t.Fatalf("names = %v, want %v", names, tt.wantNames)
			}
		})
	}
}

func TestDecodeSecretsList(t *testing.T) {
	got, err := manifest.DecodeSecrets(bytes.NewReader(readTestdata(t, "list.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Data["k"]) != "v" || got[1].StringData["k"] != "v" {
		t.Fatalf("got %+v", got)
	}
}

func TestScrubNeverQuotesInput(t *testing.T) {
	inputs := []string{
		`{"data": {"password": hunter2}}`,
		"data:\n  password: [hunter2\n",
		"stringData:\n  password: {hunter2: [}\n",
		`{"metadata": "hunter2"}`,
		"metadata:\n  name: [\"hunter2\"]\n",
		"data:\n  password: hunter2!!\n",
	}
	for _, in := range inputs {
		_, err := manifest.DecodeSecrets(strings.NewReader(in))
		if err == nil {
			t.Errorf("%q decoded", in)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error quotes input: %v", err)
		}
	}
}

func TestEncodeFormats(t *testing.T) {
	ss := &ssv1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "n", Namespace: "ns"}, Spec: ssv1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"b": "2", "a": "1"}}}
	var j, y bytes.Buffer
	if err := manifest.Encode(&j, manifest.JSON, ss); err != nil {
		t.Fatal(err)
	}
	if err := manifest.Encode(&y, manifest.YAML, ss); err != nil {
		t.Fatal(err)
	}
	if want := readTestdata(t, "encoded.json"); !bytes.Equal(j.Bytes(), want) {
		t.Errorf("json:\n%s\nwant:\n%s", j.Bytes(), want)
	}
	if want := readTestdata(t, "encoded.yaml"); !bytes.Equal(y.Bytes(), want) {
		t.Errorf("yaml:\n%s\nwant:\n%s", y.Bytes(), want)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Data: map[string][]byte{"k": []byte("v")}}
	var sb bytes.Buffer
	if err := manifest.Encode(&sb, manifest.YAML, s); err != nil || !strings.Contains(sb.String(), "kind: Secret") {
		t.Fatalf("secret encode: %v\n%s", err, sb.String())
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]manifest.Format{"": manifest.JSON, "json": manifest.JSON, "YAML": manifest.YAML} {
		if got, err := manifest.ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := manifest.ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

// FuzzDecodeSealedSecrets feeds arbitrary bytes to the SealedSecret parser:
// it must never panic, never quote its input in an error beyond what the
// input itself is, and whatever it accepts must survive encode and decode.
func FuzzDecodeSealedSecrets(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	if len(seeds) == 0 {
		f.Fatal("no fuzz seeds found in testdata")
	}
	for _, p := range seeds {
		f.Add(readTestdata(f, filepath.Base(p)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := manifest.DecodeSealedSecrets(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, ss := range got {
			var buf bytes.Buffer
			if err := manifest.Encode(&buf, manifest.YAML, ss); err != nil {
				t.Fatalf("encode accepted object: %v", err)
			}
			again, err := manifest.DecodeSealedSecrets(&buf)
			if err != nil || len(again) != 1 {
				t.Fatalf("re-decode: %v", err)
			}
			if !reflect.DeepEqual(again[0].Spec.EncryptedData, ss.Spec.EncryptedData) && len(ss.Spec.EncryptedData) > 0 {
				t.Fatalf("encryptedData changed in a round trip")
			}
		}
	})
}

// FuzzDecodeSecrets does the same for Secrets, the input of kubeseal.
func FuzzDecodeSecrets(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*"))
	if len(seeds) == 0 {
		f.Fatal("no fuzz seeds found in testdata")
	}
	for _, p := range seeds {
		f.Add(readTestdata(f, filepath.Base(p)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := manifest.DecodeSecrets(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range got {
			var buf bytes.Buffer
			if err := manifest.Encode(&buf, manifest.JSON, s); err != nil {
				t.Fatalf("encode accepted object: %v", err)
			}
		}
	})
}

func TestMergeStrings(t *testing.T) {
	for _, tt := range []struct {
		name     string
		dst, src map[string]string
		want     map[string]string
	}{
		{"nothing into nil stays nil", nil, nil, nil},
		{"into nil", nil, map[string]string{"a": "1"}, map[string]string{"a": "1"}},
		{"src wins", map[string]string{"a": "0", "b": "2"}, map[string]string{"a": "1"}, map[string]string{"a": "1", "b": "2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := manifest.MergeStrings(tt.dst, tt.src)
			if (got == nil) != (tt.want == nil) || !maps.Equal(got, tt.want) {
				t.Errorf("MergeStrings = %v, want %v", got, tt.want)
			}
		})
	}
}
