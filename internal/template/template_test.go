package template_test

import (
	"errors"
	"strings"
	"testing"
	gotemplate "text/template"

	"github.com/sealsync/sealsync/internal/template"
)

func TestExecute(t *testing.T) {
	data := map[string]string{"user": "admin", "password": "hunter2"}
	tests := []struct {
		name    string
		text    string
		want    string
		wantErr string
	}{
		{"plain text", "static", "static", ""},
		{"field", "{{ .user }}", "admin", ""},
		{"index with dash-free key", `{{ index . "password" }}`, "hunter2", ""},
		{"sprig", `{{ .user | upper }}:{{ .password | b64enc }}`, "ADMIN:aHVudGVyMg==", ""},
		{"dsn", "postgres://{{ .user }}:{{ .password }}@db:5432/app", "postgres://admin:hunter2@db:5432/app", ""},
		{"missing key renders no value", "{{ .nope }}", "<no value>", ""},
		{"env is removed", `{{ env "HOME" }}`, "", `function "env" not defined`},
		{"expandenv is removed", `{{ expandenv "$HOME" }}`, "", `function "expandenv" not defined`},
		{"getHostByName is removed", `{{ getHostByName "example.com" }}`, "", `function "getHostByName" not defined`},
		{"parse error", "{{ .user ", "", "parse template"},
		{"fail does not leak its argument", `{{ fail .password }}`, "", "error calling fail"},
		{"b64dec error does not leak input", `{{ .password | b64dec | fromJson }}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := template.Default().Execute(nil, tt.name, tt.text, data)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks secret: %v", err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if tt.want == "" {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOutputCap(t *testing.T) {
	_, err := template.Default().Execute(nil, "big", `{{ repeat 2000000 "x" }}`, nil)
	if !errors.Is(err, template.ErrOutputTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRejectsRemovedFunctions(t *testing.T) {
	if _, err := template.New(gotemplate.FuncMap{"env": func(string) string { return "" }}); err == nil {
		t.Fatal("env accepted")
	}
	e, err := template.New(gotemplate.FuncMap{"shout": strings.ToUpper})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Execute(nil, "x", `{{ shout "a" }}`, nil)
	if err != nil || string(got) != "A" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestFuncsIsACopy(t *testing.T) {
	fm := template.Funcs()
	delete(fm, "upper")
	if _, ok := template.Funcs()["upper"]; !ok {
		t.Fatal("Funcs returned the shared map")
	}
}

func TestBoundedFunctions(t *testing.T) {
	tests := []struct {
		name, text string
	}{
		{"until", `{{ range until 1000000000 }}x{{ end }}`},
		{"untilStep", `{{ range untilStep 0 1000000000 1 }}x{{ end }}`},
		{"seq", `{{ seq 1000000000 }}`},
		{"repeat", `{{ repeat 1000000000 "xyz" }}`},
		{"indent", `{{ indent 1000000000 "x" }}`},
		{"randAlpha", `{{ randAlpha 1000000000 }}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := template.Default().Execute(nil, tt.name, tt.text, nil); err == nil {
				t.Fatal("an unbounded allocation was allowed")
			}
		})
	}
	got, err := template.Default().Execute(nil, "ok", `{{ range until 3 }}{{ . }}{{ end }}{{ repeat 2 "ab" }}{{ seq 3 }}{{ indent 2 "x" }}`, nil)
	if err != nil || string(got) != "012abab1 2 3  x" {
		t.Fatalf("small arguments: %q, %v", got, err)
	}
}
