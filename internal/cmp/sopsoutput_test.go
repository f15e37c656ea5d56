package cmp

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sopsFixture reads a SOPS file the real sops CLI encrypted for the demo
// project (render/testdata/regenerate.sh).
func sopsFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("render", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGenerateSOPSOutsideSecrets: in sealed output, an object other than
// a Secret that holds a value decrypted from a SOPS file is refused, from
// every kind of source, and the error names the object, the field and the
// SOPS file and key, never the value. Every source here is the tenant's
// (files, kustomizations, charts, HELM_VALUES); each case runs again with
// the operator's switch (Config.AllowSOPSOutsideSecrets), which writes the
// object as rendered.
func TestGenerateSOPSOutsideSecrets(t *testing.T) {
	configMap := sopsFixture(t, "policy/configmap.sops.yaml")
	dotenv := sopsFixture(t, "kustomize/apps/web/overlays/prod/web.sops.env")
	binary := sopsFixture(t, "kustomize/apps/web/overlays/prod/tls.sops.key")
	secret := sopsFixture(t, "kustomize/apps/web/overlays/prod/db-secret.sops.yaml")
	values := sopsFixture(t, "helm/env/prod-secrets.sops.yaml")
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx
        env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: db
              key: password
`
	chart := func(templates map[string]string) map[string]string {
		files := map[string]string{
			"chart/Chart.yaml":                "apiVersion: v2\nname: web\nversion: 0.1.0\n",
			"chart/values.yaml":               "db:\n  password: \"\"\n",
			"env/prod-secrets.sops.yaml":      values,
			"chart/templates/secret.yaml":     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-db\nstringData:\n  password: {{ .Values.db.password | quote }}\n",
			"chart/templates/deployment.yaml": deploymentTemplate,
		}
		for name, tpl := range templates {
			files["chart/templates/"+name] = tpl
		}
		return files
	}
	for _, tc := range []struct {
		name  string
		dir   string
		files map[string]string
		// wantErr is what the refusal says; "" if the tenant's source
		// renders as it is.
		wantErr string
		// leak is the SOPS value the operator's switch lets through.
		leak string
	}{
		{
			name:    "directory: a ConfigMap a team encrypted",
			dir:     "app",
			files:   map[string]string{"app/settings.sops.yaml": configMap},
			wantErr: "ConfigMap settings: data.pin holds the value of data.pin in the SOPS file app/settings.sops.yaml",
			leak:    "configmap-sops-secret-T6uH",
		},
		{
			name:  "directory: a SOPS Secret and a Deployment that refers to it",
			dir:   "app",
			files: map[string]string{"app/db.sops.yaml": secret, "app/deployment.yaml": deployment},
		},
		{
			name: "kustomize: a ConfigMap a team encrypted, as a resource",
			dir:  "app",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- settings.sops.yaml\n",
				"app/settings.sops.yaml": configMap,
			},
			wantErr: "ConfigMap settings: data.pin holds the value of data.pin in the SOPS file app/settings.sops.yaml",
			leak:    "configmap-sops-secret-T6uH",
		},
		{
			name: "kustomize: a configMapGenerator reads a SOPS dotenv file",
			dir:  "app",
			files: map[string]string{
				"app/kustomization.yaml": "configMapGenerator:\n- name: app-env\n  envs:\n  - web.sops.env\n",
				"app/web.sops.env":       dotenv,
			},
			wantErr: "data.API_TOKEN holds the value of API_TOKEN in the SOPS file app/web.sops.env",
			leak:    "kustomize-env-token-Z2pX",
		},
		{
			name: "kustomize: a secretGenerator reads the same file",
			dir:  "app",
			files: map[string]string{
				"app/kustomization.yaml": "secretGenerator:\n- name: app-env\n  envs:\n  - web.sops.env\n",
				"app/web.sops.env":       dotenv,
			},
		},
		{
			name: "kustomize: a configMapGenerator reads a SOPS binary file",
			dir:  "app",
			files: map[string]string{
				"app/kustomization.yaml": "configMapGenerator:\n- name: tls\n  files:\n  - tls.key=tls.sops.key\n",
				"app/tls.sops.key":       binary,
			},
			wantErr: "data.tls.key holds the content of the SOPS file app/tls.sops.key",
			leak:    "kustomize-tls-key-H8vN",
		},
		{
			name: "kustomize: replacements copy a SOPS Secret's value into a Deployment",
			dir:  "app",
			files: map[string]string{
				"app/kustomization.yaml": `resources:
- db.sops.yaml
- deployment.yaml
replacements:
- source:
    kind: Secret
    name: db
    fieldPath: stringData.password
  targets:
  - select:
      kind: Deployment
    fieldPaths:
    - spec.template.spec.containers.[name=web].env.[name=DB_PASSWORD].value
    options:
      create: true
`,
				"app/db.sops.yaml":    secret,
				"app/deployment.yaml": deployment,
			},
			wantErr: "Deployment web: spec.template.spec.containers[0].env[0].value holds the value of stringData.password in the SOPS file app/db.sops.yaml",
			leak:    "kustomize-db-secret-M4wQ",
		},
		{
			name:  "helm: a value of a SOPS values file in a Secret",
			dir:   "chart",
			files: chart(nil),
		},
		{
			name: "helm: a value of a SOPS values file in a ConfigMap",
			dir:  "chart",
			files: chart(map[string]string{
				"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  app.ini: |\n    [db]\n    password = {{ .Values.db.password }}\n",
			}),
			wantErr: "ConfigMap web-config: data.app.ini holds the value of db.password in the SOPS file env/prod-secrets.sops.yaml",
			leak:    "helm-values-secret-P5dW",
		},
		{
			name: "helm: a value of a SOPS values file base64-encoded",
			dir:  "chart",
			files: chart(map[string]string{
				"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\nbinaryData:\n  token: {{ .Values.db.password | b64enc }}\n",
			}),
			wantErr: "ConfigMap web-config: binaryData.token holds the value of db.password",
			leak:    "aGVsbS12YWx1ZXMtc2VjcmV0LVA1ZFc=",
		},
		{
			name: "helm: a value of a SOPS values file in a container's env",
			dir:  "chart",
			files: chart(map[string]string{
				"deployment.yaml": strings.Replace(deploymentTemplate, "value: plain", `value: {{ index .Values.db.extra "api-key" }}`, 1),
			}),
			wantErr: "Deployment web: spec.template.spec.containers[0].env[0].value holds the value of db.extra.api-key",
			leak:    "helm-values-extra-J3cV",
		},
		{
			// Documented: a digest is not the value (Helm's checksum
			// annotation idiom), and neither is a part of one.
			name: "helm: a digest and a part of a SOPS value",
			dir:  "chart",
			files: chart(map[string]string{
				"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  annotations:\n    checksum/secret: {{ .Values.db.password | sha256sum }}\ndata:\n  prefix: helm-values-secret\n",
			}),
		},
	} {
		run := func(t *testing.T, allow bool) {
			cfg := testConfig(t)
			cfg.AllowSOPSOutsideSecrets = allow
			env := demoEnv()
			env.Author[AuthorHelmValues] = "../env/prod-secrets.sops.yaml"
			out, err := Generate(context.Background(), cfg, Request{Source: secretSource(tc.files), Dir: tc.dir, Env: env}, &bytes.Buffer{})
			if tc.wantErr != "" && !allow {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				t.Logf("Argo CD shows: %v", err)
				if out != nil {
					t.Error("output on failure")
				}
				for _, v := range []string{"configmap-sops-secret-T6uH", "4711", "kustomize-env-token-Z2pX", "kustomize-tls-key-H8vN", "kustomize-db-secret-M4wQ", "helm-values-secret-P5dW", "helm-values-extra-J3cV"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("the error quotes a SOPS value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.leak != "" && !bytes.Contains(out, []byte(tc.leak)) {
				t.Errorf("the operator allowed it, but the value is not written:\n%s", out)
			}
			unsealAll(t, clusterKey(t), out) // and no Secret is plain
		}
		t.Run(tc.name+"/tenant source", func(t *testing.T) { run(t, false) })
		t.Run(tc.name+"/operator allows SOPS outside Secrets", func(t *testing.T) { run(t, true) })
	}
}

// deploymentTemplate is a chart's Deployment with one plain env value.
const deploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
      - name: web
        image: postgres:16
        env:
        - name: SETTING
          value: plain
`

// TestGenerateSOPSOutsideSecretsPlain: in plain output (the operator's
// choice, argocd-vault-plugin's behaviour) nothing is sealed, and a
// tenant's SOPS ConfigMap is written like its Secrets.
func TestGenerateSOPSOutsideSecretsPlain(t *testing.T) {
	cfg := testConfig(t)
	cfg.Output = Plain
	src := secretSource(map[string]string{"app/settings.sops.yaml": sopsFixture(t, "policy/configmap.sops.yaml")})
	out, err := Generate(context.Background(), cfg, Request{Source: src, Dir: "app", Env: demoEnv()}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("configmap-sops-secret-T6uH")) {
		t.Errorf("out = %s", out)
	}
}
