package sopsx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestFormatForPath(t *testing.T) {
	for name, want := range map[string]Format{
		"a.yaml": YAML, "dir/a.yml": YAML, "a.json": JSON, "a.env": Dotenv, "a.ini": INI,
		"a.bin": Binary, "tls.crt": Binary, "noext": Binary, "a.yaml.bak": Binary, "a.enc": Binary,
	} {
		if got := FormatForPath(name); got != want {
			t.Errorf("FormatForPath(%q) = %v, want %v", name, got, want)
		}
	}
}

// The files are tenant input: anything an application's author commits.
func TestIsEncrypted(t *testing.T) {
	committed := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "encrypted", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       bool
	}{
		{"sops YAML", "s.yaml", committed("secret.sops.yaml"), true},
		{"sops multi-document YAML", "s.yaml", committed("multi.sops.yaml"), true},
		{"sops JSON", "s.json", committed("config.sops.json"), true},
		{"sops dotenv", "s.env", committed("app.sops.env"), true},
		{"sops INI", "s.ini", committed("app.sops.ini"), true},
		{"sops binary", "s.bin", committed("blob.sops.bin"), true},
		{"sops binary under any name", "tls.crt", committed("blob.sops.bin"), true},
		{"sops YAML metadata in a later document", "s.yaml", []byte("a: 1\n---\nb: 2\nsops:\n  mac: x\n"), true},
		{"damaged metadata is still SOPS", "s.yaml", []byte("data: ENC[x]\nsops:\n  version: 3\n"), true},
		{"plain YAML", "p.yaml", []byte("apiVersion: v1\nkind: ConfigMap\n"), false},
		{"plain YAML quoting sops in a value", "p.yaml", []byte("data:\n  doc: |\n    sops:\n      mac: ENC[x]\n"), false},
		{"plain YAML with a sops scalar", "p.yaml", []byte("sops: enabled\n"), false},
		{"plain YAML with a nested sops map", "p.yaml", []byte("spec:\n  sops:\n    mac: x\n"), false},
		{"invalid YAML mentioning sops", "p.yaml", []byte("sops: [\n"), false},
		{"plain JSON", "p.json", []byte(`{"sops_like": {"a": [1, {"sops": 2}]}, "x": "sops"}`), false},
		{"JSON with a sops string", "p.json", []byte(`{"sops": "no"}`), false},
		{"JSON array", "p.json", []byte(`[{"sops": {}}]`), false},
		{"truncated JSON", "p.json", []byte(`{"a": [1, {"sops"`), false},
		{"plain dotenv", "p.env", []byte("SOPS_AGE_KEY_FILE=/x\nA=sops_mac\n"), false},
		{"plain INI", "p.ini", []byte("[sopsy]\nsops = 1\n"), false},
		{"YAML named .json", "p.json", committed("secret.sops.yaml"), false},
		{"binary bytes", "p.bin", []byte("\x00\xffsops\x01"), false},
		{"empty", "p.yaml", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsEncrypted(tc.file, tc.data); got != tc.want {
				t.Errorf("IsEncrypted(%q) = %v, want %v", tc.file, got, tc.want)
			}
		})
	}
}

// FuzzIsEncrypted feeds tenant bytes under every format's name: it must
// never panic, and never call a file without sops's metadata key
// encrypted.
func FuzzIsEncrypted(f *testing.F) {
	seeds := 0
	for _, dir := range []string{"encrypted", "plain"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			for _, ext := range []string{".yaml", ".json", ".env", ".ini", ".bin"} {
				f.Add(ext, b)
				seeds++
			}
		}
	}
	if seeds == 0 {
		f.Fatal("no seeds in testdata")
	}
	f.Fuzz(func(t *testing.T, ext string, data []byte) {
		if IsEncrypted("f"+ext, data) && !bytes.Contains(data, []byte(metadataKey)) {
			t.Fatal("a file without the metadata key was called encrypted")
		}
	})
}
