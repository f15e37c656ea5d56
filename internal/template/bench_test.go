package template_test

import (
	"testing"

	"github.com/sealsync/sealsync/internal/template"
)

// renderBenchData and renderBenchTemplates are a realistic render: the
// ESO documentation's templates over a handful of provider values.
var renderBenchData = map[string]string{
	"user":     "admin",
	"password": "s3cr3t-p4ss!",
	"host":     "db.example.internal",
	"config":   `{"port":5432,"name":"app","replicas":["r1","r2","r3"]}`,
	"hosts":    "a.example.com,b.example.com,c.example.com",
}

var renderBenchTemplates = map[string]string{
	"dsn":    "postgres://{{ .user }}:{{ .password | urlquery }}@{{ .host }}:{{ (.config | fromJson).port }}/app",
	"config": "{{- $c := .config | fromJson -}}\n[database]\nname = {{ $c.name | quote }}\n{{- range $i, $r := $c.replicas }}\nreplica{{ $i }} = {{ $r | upper }}\n{{- end }}\n",
	"hosts":  `{{ range splitList "," .hosts }}{{ . | b64enc }}{{ "\n" }}{{ end }}`,
	"docker": `{"auths":{"registry.example.com":{"auth":"{{ printf "%s:%s" .user .password | b64enc }}"}}}`,
}

// BenchmarkRender measures one object's render: every template parsed and
// executed once, as a sync does.
func BenchmarkRender(b *testing.B) {
	e := template.ESO()
	for b.Loop() {
		for name, text := range renderBenchTemplates {
			if _, err := e.Execute(nil, name, text, renderBenchData); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRenderLoop measures the per-iteration and per-call cost: a
// range of 1000 function calls.
func BenchmarkRenderLoop(b *testing.B) {
	e := template.ESO()
	const text = `{{ range until 1000 }}{{ $.user | upper | b64enc }}{{ end }}`
	for b.Loop() {
		if _, err := e.Execute(nil, "loop", text, renderBenchData); err != nil {
			b.Fatal(err)
		}
	}
}
