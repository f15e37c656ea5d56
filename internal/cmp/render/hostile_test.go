package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sealsync/sealsync/internal/sopsx"
	"github.com/sealsync/sealsync/internal/testkit"
)

// Every source here is a tenant's: an application's author controls it
// and tries to read outside it, reach the network, run a program, or make
// the render stall or blow up. The limits are the operator's.

// generous is how long a refused render may take on a loaded 2-core
// machine; the refusals themselves come from budgets, not from the clock.
const generous = 20 * time.Second

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }

const chartYAML = "apiVersion: v2\nname: evil\nversion: 0.1.0\n"

func chartSource(templates map[string]string) fstest.MapFS {
	m := fstest.MapFS{"chart/Chart.yaml": file(chartYAML)}
	for n, t := range templates {
		m["chart/templates/"+n] = file(t)
	}
	return m
}

func kustomization(k string, more map[string]string) fstest.MapFS {
	m := fstest.MapFS{"app/kustomization.yaml": file(k), "app/cm.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")}
	for n, c := range more {
		m[n] = file(c)
	}
	return m
}

func TestRenderRefusesHostileSources(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    fstest.MapFS
		dir    string
		limits Limits
		helm   HelmOptions
		want   error
	}{
		// Kustomize: no network, no programs.
		{name: "kustomize remote base on GitHub", src: kustomization("resources:\n- github.com/org/repo//base?ref=v1\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote base over HTTPS git", src: kustomization("resources:\n- https://github.com/org/repo.git//base\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote base over SSH", src: kustomization("resources:\n- git@github.com:org/repo.git\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote base with an ssh scheme", src: kustomization("resources:\n- ssh://git@example.com/repo\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize forced git protocol", src: kustomization("resources:\n- git::https://example.com/repo\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote resource file", src: kustomization("resources:\n- https://example.com/x.yaml\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize file URL", src: kustomization("resources:\n- file:///etc/passwd\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize legacy bases field", src: kustomization("bases:\n- github.com/org/repo\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote component", src: kustomization("components:\n- https://example.com/c\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote patch", src: kustomization("resources: [cm.yaml]\npatches:\n- path: https://example.com/p.yaml\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote generator file", src: kustomization("secretGenerator:\n- name: s\n  files:\n  - key=https://example.com/k\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote openapi", src: kustomization("resources: [cm.yaml]\nopenapi:\n  path: https://example.com/schema.json\n", nil), dir: "app", want: ErrRemote},
		{name: "kustomize remote base in a nested base", src: kustomization("resources:\n- ../base\n", map[string]string{"base/kustomization.yaml": "resources:\n- github.com/org/repo\n"}), dir: "app", want: ErrRemote},
		{
			name: "kustomize remote patch in a transformer configuration", dir: "app", want: ErrRemote,
			src: kustomization("resources: [cm.yaml]\ntransformers: [t.yaml]\n", map[string]string{
				"app/t.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: https://example.com/p.yaml\n",
			}),
		},
		{
			name: "kustomize exec plugin", dir: "app", want: ErrNotAllowed,
			src: kustomization("resources: [cm.yaml]\ngenerators: [gen.yaml]\n", map[string]string{
				"app/gen.yaml": "apiVersion: example.com/v1\nkind: Gen\nmetadata:\n  name: g\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n",
			}),
		},
		{
			name: "kustomize KRM function in an inline transformer", dir: "app", want: ErrNotAllowed,
			src: kustomization("resources: [cm.yaml]\ntransformers:\n- |\n  apiVersion: example.com/v1\n  kind: Fn\n  metadata:\n    name: f\n    annotations:\n      config.kubernetes.io/function: |\n        container:\n          image: evil\n", nil),
		},
		{name: "kustomize helmCharts", src: kustomization("helmCharts:\n- name: x\n  repo: https://charts.example.com\n", nil), dir: "app", want: ErrNotAllowed},
		{
			name: "kustomize HelmChartInflationGenerator configuration", dir: "app", want: ErrNotAllowed,
			src: kustomization("generators: [h.yaml]\n", map[string]string{"app/h.yaml": "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: h\nchartName: x\n"}),
		},
		// Paths leaving the source.
		{name: "kustomize absolute resource", src: kustomization("resources:\n- /etc/kubernetes/admin.conf\n", nil), dir: "app", want: ErrUnsafePath},
		{name: "kustomize base above the source", src: kustomization("resources:\n- ../../outside\n", nil), dir: "app", want: ErrUnsafePath},
		{
			name: "helm values file above the source", dir: "chart", want: ErrUnsafePath,
			src:  chartSource(map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}),
			helm: HelmOptions{ValueFiles: []string{"../../etc/values.yaml"}},
		},
		{
			name: "helm absolute values file", dir: "chart", want: ErrUnsafePath,
			src:  chartSource(map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}),
			helm: HelmOptions{ValueFiles: []string{"/etc/passwd"}},
		},
		// Limits.
		{
			name: "file over the size limit", dir: ".", want: ErrLimit, limits: Limits{MaxFileSize: 1 << 10},
			src: fstest.MapFS{"big.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  x: " + strings.Repeat("a", 2<<10) + "\n")},
		},
		{
			name: "too many files", dir: ".", want: ErrLimit, limits: Limits{MaxFiles: 10},
			src: func() fstest.MapFS {
				m := fstest.MapFS{}
				for i := range 11 {
					m[fmt.Sprintf("cm%02d.yaml", i)] = file(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm%d\n", i))
				}
				return m
			}(),
		},
		{
			name: "too many bytes in all", dir: ".", want: ErrLimit, limits: Limits{MaxTotalSize: 4 << 10},
			src: func() fstest.MapFS {
				m := fstest.MapFS{}
				for i := range 5 {
					m[fmt.Sprintf("cm%d.yaml", i)] = file(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm%d\ndata:\n  x: %s\n", i, strings.Repeat("b", 1<<10)))
				}
				return m
			}(),
		},
		{
			name: "kustomize diamond reading one file again and again", dir: "app", want: ErrLimit, limits: Limits{MaxTotalSize: 64 << 10},
			src: func() fstest.MapFS {
				m := fstest.MapFS{"app/kustomization.yaml": file("resources:\n- ../a\n")}
				big := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  x: " + strings.Repeat("c", 8<<10) + "\n"
				m["a/kustomization.yaml"] = file("resources: [big.yaml]\nnameSuffix: -a\n" + strings.Repeat("patches:\n- path: big.yaml\n", 0))
				m["a/big.yaml"] = file(big)
				// Ten components each patching with the big file.
				var comps strings.Builder
				for i := range 10 {
					comps.WriteString(fmt.Sprintf("- ../c%d\n", i))
					m[fmt.Sprintf("c%d/kustomization.yaml", i)] = file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- path: big.yaml\n")
					m[fmt.Sprintf("c%d/big.yaml", i)] = file(big)
				}
				m["app/kustomization.yaml"] = file("resources:\n- ../a\ncomponents:\n" + comps.String())
				return m
			}(),
		},
		{
			name: "helm range over a huge until", dir: "chart", want: ErrLimit,
			src: chartSource(map[string]string{"loop.yaml": "{{- range until 100000000 }}x{{ end }}"}),
		},
		{
			name: "helm range over a huge integer", dir: "chart", want: ErrLimit, limits: Limits{MaxTemplateSteps: 1_000_000},
			src: chartSource(map[string]string{"loop.yaml": "{{- range 1000000000 }}{{ end }}"}),
		},
		{
			name: "helm nested ranges", dir: "chart", want: ErrLimit, limits: Limits{MaxTemplateSteps: 1_000_000},
			src: chartSource(map[string]string{"loop.yaml": "{{- range 100000 }}{{ range 100000 }}{{ end }}{{ end }}"}),
		},
		{
			name: "helm include fan-out", dir: "chart", want: ErrLimit, limits: Limits{MaxTemplateSteps: 1_000_000},
			src: chartSource(map[string]string{"_h.tpl": func() string {
				var b strings.Builder
				for i := range 40 {
					fmt.Fprintf(&b, `{{- define "t%d" -}}{{ include "t%d" . }}{{ include "t%d" . }}{{- end -}}`, i, i+1, i+1)
				}
				b.WriteString(`{{- define "t40" -}}x{{- end -}}`)
				return b.String()
			}(), "cm.yaml": `{{ include "t0" . }}`}),
		},
		{
			// Helm's own limit of 1000 nested includes stops it first.
			name: "helm recursive include", dir: "chart", want: nil, limits: Limits{MaxTemplateSteps: 1_000_000},
			src: chartSource(map[string]string{"_h.tpl": `{{- define "r" -}}{{ include "r" . }}{{ include "r" . }}{{- end -}}`, "cm.yaml": `{{ include "r" . }}`}),
		},
		{
			name: "helm tpl running a loop", dir: "chart", want: ErrLimit, limits: Limits{MaxTemplateSteps: 1_000_000},
			src: chartSource(map[string]string{"cm.yaml": `{{ tpl "{{ range 1000000000 }}{{ end }}" . }}`}),
		},
		{
			name: "helm tpl of tpl", dir: "chart", want: ErrLimit, limits: Limits{MaxTemplateSteps: 1_000_000},
			src: chartSource(map[string]string{"cm.yaml": "{{ tpl \"{{ tpl `{{ range 1000000000 }}{{ end }}` . }}\" . }}"}),
		},
		{
			name: "helm list nested in itself, printed", dir: "chart", want: ErrLimit,
			src: chartSource(map[string]string{"cm.yaml": `{{- $l := list "xxxxxxxxxxxxxxxx" }}{{ range until 40 }}{{ $l = list $l $l }}{{ end }}{{ toJson $l }}`}),
		},
		{
			name: "helm list nested in itself, deep-copied", dir: "chart", want: ErrLimit,
			src: chartSource(map[string]string{"cm.yaml": `{{- $l := list "xxxxxxxxxxxxxxxx" }}{{ range until 40 }}{{ $l = list $l $l }}{{ end }}{{ $c := deepCopy $l }}`}),
		},
		{
			name: "helm dict nested in itself, piped", dir: "chart", want: ErrLimit,
			src: chartSource(map[string]string{"cm.yaml": `{{- $d := dict "k" "xxxxxxxxxxxxxxxx" }}{{ range until 40 }}{{ $d = dict "a" $d "b" $d }}{{ end }}{{ $d | toYaml }}`}),
		},
		{name: "helm repeat", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ repeat 1000000000 "xx" }}`})},
		{name: "helm indent", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ indent 1000000000 "x" }}`})},
		{name: "helm printf width", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ printf "%999999999d" 1 }}`})},
		{name: "helm printf width from an argument", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ printf "%*d" 999999999 1 }}`})},
		{name: "helm replace growth", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ $s := repeat 1000000 "a" }}{{ replace "a" (repeat 100 "b") $s }}`})},
		{name: "helm regexReplaceAll growth", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ $s := repeat 100000 "a" }}{{ regexReplaceAll "" $s (repeat 1000 "$0") }}`})},
		{name: "helm randAlphaNum", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ randAlphaNum 1000000000 }}`})},
		{name: "helm key generation in a loop", dir: "chart", want: ErrLimit, src: chartSource(map[string]string{"cm.yaml": `{{ range until 1000 }}{{ genPrivateKey "rsa" }}{{ end }}`})},
		{
			name: "helm output over the limit", dir: "chart", want: ErrLimit, limits: Limits{MaxOutputSize: 1 << 20},
			src: chartSource(map[string]string{"cm.yaml": `{{- $s := repeat 1024 "y" }}{{ range until 100000 }}{{ $s }}{{ end }}`}),
		},
		{
			name: "helm text output over the limit", dir: "chart", want: ErrLimit, limits: Limits{MaxOutputSize: 1 << 20},
			src: chartSource(map[string]string{"cm.yaml": "{{- range until 100000 }}" + strings.Repeat("z", 1024) + "{{ end }}"}),
		},
		{
			name: "helm calls the guard itself", dir: "chart", want: ErrNotAllowed,
			src: chartSource(map[string]string{"cm.yaml": `{{ _sealsync_step -1000000000 0 }}`}),
		},
		{
			name: "helm tpl calls the guard", dir: "chart", want: ErrNotAllowed,
			src: chartSource(map[string]string{"cm.yaml": "{{ tpl `{{ _sealsync_step -1000000000 0 }}` . }}"}),
		},
		{
			name: "helm dependency not vendored", dir: "chart", want: nil,
			src: fstest.MapFS{
				"chart/Chart.yaml":        file(chartYAML + "dependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n"),
				"chart/templates/cm.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"),
			},
		},
		// Nothing to render.
		{name: "directory without manifests", dir: ".", want: ErrEmpty, src: fstest.MapFS{"README.md": file("# hi")}},
		{name: "directory of empty documents", dir: ".", want: ErrEmpty, src: fstest.MapFS{"a.yaml": file("---\n# nothing\n---\n")}},
		{name: "kustomization without resources", dir: "app", want: ErrEmpty, src: fstest.MapFS{"app/kustomization.yaml": file("namespace: x\n")}},
		{name: "chart whose templates print nothing", dir: "chart", want: ErrEmpty, src: chartSource(map[string]string{"cm.yaml": "{{- if false }}x{{ end }}"})},
		// Not manifests.
		{name: "JSON file that is no object", dir: ".", want: ErrNotManifest, src: fstest.MapFS{"package.json": file(`{"name": "app", "version": "1.0.0"}`)}},
		{
			name: "YAML alias bomb", dir: ".", want: nil,
			src: fstest.MapFS{"bomb.yaml": file(`apiVersion: v1
kind: ConfigMap
metadata:
  name: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			objs, err := Render(context.Background(), tc.src, tc.dir, Options{Decrypter: demoDecryptor(t), Helm: tc.helm, Limits: tc.limits})
			if err == nil {
				t.Fatalf("rendered %d objects", len(objs))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %q, want %v", err, tc.want)
			}
			if d := time.Since(start); d > generous {
				t.Errorf("refusal took %v", d)
			}
			t.Logf("%v (%v)", err, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestRenderDeadline: a Helm render whose step budget would outlast the
// deadline stops at the deadline.
func TestRenderDeadline(t *testing.T) {
	src := chartSource(map[string]string{"loop.yaml": "{{- range 1000000000000 }}{{ end }}"})
	start := time.Now()
	_, err := Render(context.Background(), src, "chart", Options{Limits: Limits{MaxTemplateSteps: 1 << 60, Timeout: 300 * time.Millisecond}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
	if d := time.Since(start); d > generous {
		t.Errorf("took %v", d)
	}
}

// TestRenderSymlinks runs against a real folder through os.DirFS, which
// follows links wherever they lead: the render's own checks must refuse
// those leaving the source.
func TestRenderSymlinks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.yaml")
	if err := os.WriteFile(secret, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"
	for _, tc := range []struct {
		name  string
		setup func(root string) error
		dir   string
		helm  HelmOptions
		want  error
	}{
		{name: "link to an absolute path", dir: ".", want: ErrUnsafePath, setup: func(root string) error {
			return os.Symlink(secret, filepath.Join(root, "stolen.yaml"))
		}},
		{name: "relative link out of the source", dir: "app", want: ErrUnsafePath, setup: func(root string) error {
			rel, _ := filepath.Rel(filepath.Join(root, "app"), secret)
			return os.Symlink(rel, filepath.Join(root, "app", "stolen.yaml"))
		}},
		{name: "link out of the source not even read", dir: ".", want: ErrUnsafePath, setup: func(root string) error {
			return os.Symlink(secret, filepath.Join(root, "notes.txt"))
		}},
		{name: "folder link out of the source in a values path", dir: "chart", want: ErrUnsafePath, helm: HelmOptions{ValueFiles: []string{"../vals/secret.yaml"}}, setup: func(root string) error {
			if err := os.MkdirAll(filepath.Join(root, "chart", "templates"), 0o755); err != nil {
				return err
			}
			os.WriteFile(filepath.Join(root, "chart", "Chart.yaml"), []byte(chartYAML), 0o644)
			os.WriteFile(filepath.Join(root, "chart", "templates", "cm.yaml"), []byte(cm), 0o644)
			return os.Symlink(outside, filepath.Join(root, "vals"))
		}},
		{name: "kustomize resource through a link out", dir: "app", want: ErrUnsafePath, setup: func(root string) error {
			os.WriteFile(filepath.Join(root, "app", "kustomization.yaml"), []byte("resources:\n- stolen.yaml\n"), 0o644)
			return os.Symlink(secret, filepath.Join(root, "app", "stolen.yaml"))
		}},
		{name: "link loop", dir: ".", want: ErrUnsafePath, setup: func(root string) error {
			os.Symlink("b.yaml", filepath.Join(root, "a.yaml"))
			return os.Symlink("a.yaml", filepath.Join(root, "b.yaml"))
		}},
		{name: "link to a folder inside", dir: ".", want: ErrUnsafePath, setup: func(root string) error {
			return os.Symlink("app", filepath.Join(root, "again.yaml"))
		}},
		{name: "link to a file inside is read", dir: ".", setup: func(root string) error {
			return os.Symlink("app/cm.yaml", filepath.Join(root, "alias.yaml"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "app", "cm.yaml"), []byte(cm), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(root); err != nil {
				t.Fatal(err)
			}
			objs, err := Render(context.Background(), os.DirFS(root), tc.dir, Options{Helm: tc.helm})
			if tc.want == nil {
				if err != nil || len(objs) != 2 {
					t.Fatalf("Render = %d objects, %v; want the file and its alias", len(objs), err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			for _, o := range objs {
				if o.GetName() == "stolen" {
					t.Fatal("read a file outside the source")
				}
			}
		})
	}
}

// TestRenderSOPSRefusals: SOPS files the render cannot open fail it,
// naming the file; none is passed on as ciphertext.
func TestRenderSOPSRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		root, dir string
		dec       Decrypter
		want      error
	}{
		{"no Decrypter given", "plain", ".", nil, errSOPSWithoutDecrypter},
		{"operator gave the project no keys", "plain", ".", sopsx.NewDecryptor(nil, sopsx.Limits{}), sopsx.ErrNoKey},
		// kustomize flattens the errors of files it reads into strings;
		// the cause must still be one a caller can branch on.
		{"operator gave the project no keys, through kustomize", "kustomize", "apps/web/overlays/prod", sopsx.NewDecryptor(nil, sopsx.Limits{}), sopsx.ErrNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := openSource(t, tc.root)
			_, err := Render(context.Background(), src.FS(), tc.dir, Options{Decrypter: tc.dec})
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), ".sops.") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestRenderWithholdsDecryptedValues: a chart that fails with a message
// quoting a value from a SOPS values file gets ErrWithheld, without the
// value.
func TestRenderWithholdsDecryptedValues(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/helm")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "chart", "templates", "leak.yaml"), []byte(`{{ fail (printf "bad password %s" .Values.db.password) }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Render(context.Background(), os.DirFS(root), "chart", Options{
		Decrypter: demoDecryptor(t),
		Helm:      HelmOptions{ValueFiles: []string{"../env/prod-secrets.sops.yaml"}},
	})
	if !errors.Is(err, ErrWithheld) {
		t.Fatalf("error %v, want ErrWithheld", err)
	}
	if w := testkit.CanaryIn(err.Error(), "helm-values-secret-P5dW"); w != "" {
		t.Fatalf("error quotes the decrypted value: %v", err)
	}
}

var _ fs.FS = fstest.MapFS{}
