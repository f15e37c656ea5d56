package argocd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/internal/testkit"
)

// The files of config/argocd are operator input: they configure Argo CD.

// stubArgoCD is the part of Argo CD's install the component patches.
const stubArgoCD = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-repo-server
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-repo-server
    spec:
      initContainers:
      - name: copyutil
        image: quay.io/argoproj/argocd:v3.5.2
        command: [/bin/cp, -n, /usr/local/bin/argocd, /var/run/argocd/argocd-cmp-server]
        volumeMounts:
        - name: var-files
          mountPath: /var/run/argocd
      containers:
      - name: argocd-repo-server
        image: quay.io/argoproj/argocd:v3.5.2
      volumes:
      - name: var-files
        emptyDir: {}
      - name: plugins
        emptyDir: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  url: https://argocd.example.com
`

// TestArgoCDComponent builds config/argocd as the component it is, over
// the part of Argo CD's install it patches, and checks the sidecar: Argo
// CD's own cmp-server, our plugin.yaml, its own /tmp, non-root, read-only
// root, no privilege escalation, the operator's folders read-only, and
// reference mode's switch and mapping file.
func TestArgoCDComponent(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"kustomization.yaml", "plugin.yaml", "repo-server-patch.yaml", "argocd-cm-patch.yaml"} {
		copyFile(t, filepath.Join(repoRoot(t), "config", "argocd", f), filepath.Join(dir, "argocd", f))
	}
	writeFile(t, filepath.Join(dir, "install.yaml"), []byte(stubArgoCD))
	writeFile(t, filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n- install.yaml\ncomponents:\n- argocd\n"))
	o := krusty.MakeDefaultOptions()
	o.PluginConfig = types.DisabledPluginConfig()
	m, err := krusty.MakeKustomizer(o).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var dep struct {
		Spec struct {
			Template struct {
				Spec corev1.PodSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	var pluginCM, argocdCM corev1.ConfigMap
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		switch r.GetKind() + "/" + r.GetName() {
		case "Deployment/argocd-repo-server":
			err = yaml.Unmarshal(b, &dep)
		case "ConfigMap/sealsync-cmp-plugin":
			err = yaml.Unmarshal(b, &pluginCM)
		case "ConfigMap/argocd-cm":
			err = yaml.Unmarshal(b, &argocdCM)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	plugin, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "argocd", "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if pluginCM.Data["plugin.yaml"] != string(plugin) {
		t.Error("the plugin ConfigMap does not hold plugin.yaml")
	}
	if argocdCM.Data["url"] == "" || argocdCM.Data["resource.customizations.health.bitnami.com_SealedSecret"] == "" {
		t.Error("argocd-cm lost its data or got no health checks")
	}
	pod := dep.Spec.Template.Spec
	var side *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "sealsync" {
			side = &pod.Containers[i]
		}
	}
	if side == nil {
		t.Fatal("no sealsync sidecar")
	}
	if len(side.Command) != 1 || side.Command[0] != "/var/run/argocd/argocd-cmp-server" {
		t.Errorf("command %v", side.Command)
	}
	sc := side.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 999 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("securityContext %+v", sc)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range side.VolumeMounts {
		mounts[vm.MountPath] = vm
		if _, ok := volumes[vm.Name]; !ok {
			t.Errorf("mount %s of missing volume %s", vm.MountPath, vm.Name)
		}
	}
	if tmp, ok := mounts["/tmp"]; !ok || volumes[tmp.Name].EmptyDir == nil || tmp.Name == "tmp" {
		t.Errorf("/tmp is not an emptyDir of the sidecar's own: %+v", tmp)
	}
	if mounts["/home/argocd/cmp-server/config/plugin.yaml"].SubPath != "plugin.yaml" {
		t.Error("plugin.yaml is not mounted where argocd-cmp-server reads it")
	}
	for _, p := range []string{"/etc/sealsync/age", "/etc/sealsync/stores", "/etc/sealsync/convergence", "/etc/sealsync/stores-map"} {
		if !mounts[p].ReadOnly {
			t.Errorf("%s is not read-only", p)
		}
	}
	env := map[string]string{}
	for _, e := range side.Env {
		env[e.Name] = e.Value
	}
	for _, name := range []string{"SEALSYNC_AGE_KEYS_DIR", "SEALSYNC_STORES_DIR", "SEALED_SECRETS_CERT", "SEALSYNC_CONVERGENCE_KEY_FILE"} {
		if env[name] == "" {
			t.Errorf("sidecar env lacks %s", name)
		}
	}
	// Reference mode is one variable away: resolve by default, and the
	// mapping file where the optional ConfigMap is mounted, which resolve
	// mode does not read.
	if env["SEALSYNC_PLACEHOLDERS"] != "resolve" {
		t.Errorf("SEALSYNC_PLACEHOLDERS = %q, want resolve", env["SEALSYNC_PLACEHOLDERS"])
	}
	storesMap := mounts["/etc/sealsync/stores-map"]
	if env["SEALSYNC_STORES_FILE"] != storesMap.MountPath+"/stores.yaml" {
		t.Errorf("SEALSYNC_STORES_FILE = %q, not stores.yaml in the mount of %s", env["SEALSYNC_STORES_FILE"], storesMap.MountPath)
	}
	cm := volumes[storesMap.Name].ConfigMap
	if cm == nil || cm.Name != "sealsync-plugin-stores" || cm.Optional == nil || !*cm.Optional ||
		len(cm.Items) != 1 || cm.Items[0].Key != "stores.yaml" || cm.Items[0].Path != "stores.yaml" {
		t.Errorf("the stores mapping is not the optional ConfigMap sealsync-plugin-stores, key stores.yaml: %+v", volumes[storesMap.Name])
	}
}

// TestHealthChecks runs the Lua health checks of argocd-cm-patch.yaml in
// Argo CD's own Lua VM (argocd-cmp-client health), as the application
// controller runs them. The objects' status is what sealsync's controller
// writes (operator side).
func TestHealthChecks(t *testing.T) {
	client := testkit.Tool(t, "argocd-cmp-server", "argocd-cmp-client")
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "argocd", "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, kind, object, want string
	}{
		{"SealedSecret unsealed", "bitnami.com_SealedSecret", "metadata: {generation: 2}\nstatus:\n  observedGeneration: 2\n  conditions:\n  - {type: Synced, status: \"True\"}\n", "Healthy"},
		{"SealedSecret failed", "bitnami.com_SealedSecret", "metadata: {generation: 2}\nstatus:\n  observedGeneration: 2\n  conditions:\n  - {type: Synced, status: \"False\", message: no key could decrypt the value}\n", "Degraded"},
		{"SealedSecret of an older generation", "bitnami.com_SealedSecret", "metadata: {generation: 3}\nstatus:\n  observedGeneration: 2\n  conditions:\n  - {type: Synced, status: \"True\"}\n", "Progressing"},
		{"SealedSecret new", "bitnami.com_SealedSecret", "metadata: {generation: 1}\n", "Progressing"},
		{"ExternalSecret ready", "external-secrets.io_ExternalSecret", "status:\n  conditions:\n  - {type: Ready, status: \"True\", reason: SecretSynced}\n", "Healthy"},
		{"ExternalSecret failing", "external-secrets.io_ExternalSecret", "status:\n  conditions:\n  - {type: Ready, status: \"False\", reason: SecretSyncedError, message: could not get secret data from provider}\n", "Degraded"},
		{"ExternalSecret new", "external-secrets.io_ExternalSecret", "metadata: {name: x}\n", "Progressing"},
		{"SecretStore valid", "external-secrets.io_SecretStore", "status:\n  conditions:\n  - {type: Ready, status: \"True\"}\n", "Healthy"},
		{"SecretStore invalid", "external-secrets.io_SecretStore", "status:\n  conditions:\n  - {type: Ready, status: \"False\", reason: InvalidProviderConfig}\n", "Degraded"},
		{"ClusterSecretStore valid", "external-secrets.io_ClusterSecretStore", "status:\n  conditions:\n  - {type: Ready, status: \"True\"}\n", "Healthy"},
		{"ClusterSecretStore new", "external-secrets.io_ClusterSecretStore", "metadata: {name: x}\n", "Progressing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := cm.Data["resource.customizations.health."+tc.kind]
			if script == "" {
				t.Fatalf("no health check for %s", tc.kind)
			}
			sf, of := filepath.Join(dir, "health.lua"), filepath.Join(dir, "object.yaml")
			writeFile(t, sf, []byte(script))
			writeFile(t, of, []byte(tc.object))
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(client, "health", "-script", sf, "-object", of)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			var hs struct{ Status, Message string }
			if err := json.Unmarshal(stdout.Bytes(), &hs); err != nil {
				t.Fatal(err)
			}
			if hs.Status != tc.want {
				t.Errorf("health %s (%s), want %s", hs.Status, strings.TrimSpace(hs.Message), tc.want)
			}
		})
	}
}
