package template_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/internal/template"
)

// FuzzBudget runs arbitrary template text (tenant-controlled) through both
// engines over fixed data: no execution may panic, run past a generous
// time limit, or take more than the budget's steps and bytes. Seeded with
// the hostile templates and the ExternalSecret templates of
// internal/esdata's testdata.
func FuzzBudget(f *testing.F) {
	for _, tt := range hostile {
		if !slow[tt.name] || !testing.Short() {
			f.Add(tt.text)
		}
	}
	seeds := externalSecretTemplates(f)
	if len(seeds) == 0 {
		f.Fatal("no templates found in ../esdata/testdata/desired")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	data := map[string]string{"username": "admin", "password": "hunter2", "db": `{"a":[1,2,{"b":"c"}]}`}
	f.Fuzz(func(t *testing.T, text string) {
		for _, e := range []*template.Engine{template.Default(), template.ESO()} {
			b := template.NewBudget()
			var out []byte
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				out, err = e.Execute(b, "fuzz", text, data)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("did not end within 30 s (%d steps taken)", b.Steps())
			}
			if err != nil && strings.Contains(err.Error(), "function panicked") {
				t.Fatalf("panicked outside a function: %v", err)
			}
			if b.Steps() > template.MaxSteps || b.Size() > template.MaxRenderSize {
				t.Fatalf("budget overdrawn: %d steps, %d bytes", b.Steps(), b.Size())
			}
			if err == nil && int64(len(out)) != b.Size() {
				t.Fatalf("rendered %d bytes, counted %d", len(out), b.Size())
			}
		}
	})
}

// externalSecretTemplates returns every string holding an action in the
// ExternalSecret cases of internal/esdata's testdata.
func externalSecretTemplates(t testing.TB) []string {
	paths, err := filepath.Glob(filepath.Join("..", "esdata", "testdata", "desired", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if strings.Contains(v, "{{") {
				out = append(out, v)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		walk(doc)
	}
	return out
}
