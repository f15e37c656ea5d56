package testkit

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// RenderChart renders the Helm chart in dir with values for release name
// in namespace ns, as `helm template` would, and returns its objects by
// kind, in the order of their template files.
func RenderChart(tb testing.TB, dir, name, ns string, values map[string]any) map[string][]*unstructured.Unstructured {
	tb.Helper()
	ch, err := loader.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	rv, err := util.ToRenderValues(ch, values, common.ReleaseOptions{Name: name, Namespace: ns, IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		tb.Fatal(err)
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		tb.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string][]*unstructured.Unstructured{}
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(files[n], "\n---") {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				tb.Fatalf("%s: %v", n, err)
			}
			if len(u.Object) != 0 {
				out[u.GetKind()] = append(out[u.GetKind()], u)
			}
		}
	}
	return out
}

// ModuleDir returns the folder of module path@version in the Go module
// cache, where hack/tools.sh's builds put the modules they build from
// (Bitnami's chart ships inside its module). tool is the hack/tools.sh
// tool that downloads the module; it is built first if missing.
func ModuleDir(tb testing.TB, tool, path, version string) string {
	tb.Helper()
	SkipIfShort(tb, tool)
	if _, err := LookupToolDir(tool); err != nil {
		tb.Fatalf("required tool %s is missing: %v", tool, err)
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		tb.Fatalf("go env GOMODCACHE: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), path+"@"+version)
}
