package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// fuzzSeeds returns every YAML file under testdata/dir whose name ends in
// suffix; the fuzz targets fail without seeds.
func fuzzSeeds(f *testing.F, dir, suffix string) [][]byte {
	var seeds [][]byte
	err := filepath.WalkDir(filepath.Join("testdata", dir), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, suffix) || strings.Contains(p, "sops") {
			return err
		}
		b, err := os.ReadFile(p)
		seeds = append(seeds, b)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	if len(seeds) == 0 {
		f.Fatalf("no seeds under testdata/%s", dir)
	}
	return seeds
}

// fuzzLimits keep one fuzz input cheap; the refusals are what is tested.
var fuzzLimits = Limits{MaxFiles: 50, MaxTotalSize: 1 << 20, MaxOutputSize: 1 << 20, MaxTemplateSteps: 100_000, Timeout: 5 * time.Second}

// FuzzRenderKustomization: a tenant's kustomization file of any shape,
// over a fixed base, fails or renders; it never panics, escapes the
// source or runs past its limits.
func FuzzRenderKustomization(f *testing.F) {
	for _, s := range fuzzSeeds(f, "kustomize", "kustomization.yaml") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		src := fstest.MapFS{
			"app/kustomization.yaml":  file(string(k)),
			"app/cm.yaml":             file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"),
			"base/kustomization.yaml": file("resources:\n- svc.yaml\n"),
			"base/svc.yaml":           file("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"),
		}
		_, _ = Render(context.Background(), src, "app", Options{Limits: fuzzLimits})
	})
}

// FuzzRenderDirectory: a tenant's manifest file of any bytes, in a
// directory source, fails or decodes; it never panics.
func FuzzRenderDirectory(f *testing.F) {
	for _, s := range fuzzSeeds(f, "plain", ".yaml") {
		f.Add(s)
	}
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		src := fstest.MapFS{"m.yaml": file(string(doc))}
		objs, err := Render(context.Background(), src, ".", Options{Limits: fuzzLimits})
		if err == nil {
			if _, err := Stream(objs, fuzzLimits.MaxOutputSize); err != nil && !strings.Contains(err.Error(), "limit") {
				t.Fatalf("a decoded object cannot be written: %v", err)
			}
		}
	})
}
