package render

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	ci "helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/ignore"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// Helm's defaults for `helm template` without a name or a namespace.
const (
	defaultReleaseName = "release-name"
	defaultNamespace   = "default"
)

// renderHelm renders the chart in dir as `helm template --include-crds`
// does: the chart's files are read into memory (its .helmignore
// honoured), its values.yaml and the values files of opts decrypted if
// they are SOPS files, its templates instrumented (see helmguard.go), and
// Helm's engine runs with no cluster (lookup finds nothing) and no DNS.
// Dependencies must be in charts/: a render downloads nothing.
//
// The steps are those of Helm's install action in client-only dry-run
// mode, called one by one: the action itself would bring Helm's cluster
// client, release storage and plugin runtime into the binary, none of
// which a render uses.
func renderHelm(ctx context.Context, s *source, dir string, opts Options) ([]byte, error) {
	ch, err := loadChart(ctx, s, dir, opts.Decrypter)
	if err != nil {
		return nil, err
	}
	if reqs := ch.Metadata.Dependencies; len(reqs) > 0 {
		ac, err := ci.NewAccessor(ch)
		if err != nil {
			return nil, err
		}
		if err := checkDependencies(ac); err != nil {
			return nil, err
		}
	}
	meter := newTemplateMeter(ctx, opts.Limits)
	if err := instrumentChart(meter, ch); err != nil {
		return nil, err
	}
	vals, err := readValueFiles(ctx, s, dir, opts)
	if err != nil {
		return nil, err
	}
	name := cmpOr(opts.Helm.ReleaseName, defaultReleaseName)
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return nil, fmt.Errorf("release name %q: %w", name, err)
	}
	caps := common.DefaultCapabilities.Copy()
	if v := opts.Helm.KubeVersion; v != "" {
		kv, err := common.ParseKubeVersion(v)
		if err != nil {
			return nil, fmt.Errorf("KUBE_VERSION %q: %w", v, err)
		}
		caps.KubeVersion = *kv
	}
	caps.APIVersions = append(caps.APIVersions, opts.Helm.APIVersions...)
	if kv := ch.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion %s, incompatible with Kubernetes %s", kv, caps.KubeVersion.Version)
	}

	// Helm's engine takes the context only for lookup; the meter stops
	// templates at the deadline, and this stops waiting for the rest.
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("helm failed: %v", p)}
			}
			done <- r
		}()
		r.out, r.err = renderChart(ctx, ch, vals, name, cmpOr(opts.Helm.Namespace, defaultNamespace), caps, meter, opts.Limits.MaxOutputSize)
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("helm: %w", context.Cause(ctx))
	case r := <-done:
		if r.err != nil {
			if meter.err != nil {
				// The budget stopped the templates: that is the error,
				// whatever Helm made of it.
				return nil, fmt.Errorf("helm: %w", meter.err)
			}
			return nil, fmt.Errorf("helm: %w", r.err)
		}
		return r.out, nil
	}
}

// checkDependencies fails if a dependency Chart.yaml lists is not in
// charts/, as `helm template` does.
func checkDependencies(ac ci.Accessor) error {
	var missing []string
	have := map[string]bool{}
	for _, d := range ac.Dependencies() {
		if dac, err := ci.NewAccessor(d); err == nil {
			have[dac.Name()] = true
		}
	}
	for _, r := range ac.MetaDependencies() {
		rac, err := ci.NewDependencyAccessor(r)
		if err != nil {
			return err
		}
		if !have[rac.Name()] {
			missing = append(missing, rac.Name())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("dependencies %s are in Chart.yaml but not in charts/: a render downloads nothing, so run helm dependency build and commit charts/", strings.Join(missing, ", "))
	}
	return nil
}

// renderChart renders ch and writes its CRDs, manifests (in Helm's
// install order) and hooks, each after a "# Source:" line, as `helm
// template` prints them.
func renderChart(ctx context.Context, ch *chart.Chart, vals map[string]any, name, ns string, caps *common.Capabilities, meter *templateMeter, maxSize int64) ([]byte, error) {
	if err := chartutil.ProcessDependencies(ch, vals); err != nil {
		return nil, fmt.Errorf("chart dependencies: %w", err)
	}
	rv, err := util.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{
		Name: name, Namespace: ns, Revision: 1, IsInstall: true,
	}, caps, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{CustomTemplateFuncs: meter.guardedFuncs()}.RenderWithContext(ctx, ch, rv)
	if err != nil {
		return nil, err
	}
	for k := range files {
		if strings.HasSuffix(k, "/NOTES.txt") {
			delete(files, k)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	write := func(source, content string) error {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", source, content)
		if int64(b.Len()) > maxSize {
			return fmt.Errorf("%w: output larger than %d bytes", ErrLimit, maxSize)
		}
		return nil
	}
	for _, crd := range ch.CRDObjects() {
		if err := write(crd.Filename, string(crd.File.Data)); err != nil {
			return nil, err
		}
	}
	for _, m := range manifests {
		if err := write(m.Name, m.Content); err != nil {
			return nil, err
		}
	}
	for _, h := range hooks {
		if err := write(h.Path, h.Manifest); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// loadChart reads the chart in dir into memory as Helm's LoadDir does
// from disk: .helmignore and Helm's default ignores honoured, a UTF-8
// byte-order mark dropped. The chart's values.yaml is decrypted if it is
// a SOPS file.
func loadChart(ctx context.Context, s *source, dir string, dec Decrypter) (*chart.Chart, error) {
	rules := ignore.Empty()
	if s.exists(path.Join(dir, ignore.HelmIgnore)) {
		b, err := s.readFile(path.Join(dir, ignore.HelmIgnore))
		if err != nil {
			return nil, err
		}
		if rules, err = ignore.Parse(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", ignore.HelmIgnore, err)
		}
	}
	rules.AddDefaults()
	var files []*archive.BufferedFile
	skip := func(name string, d fs.DirEntry) bool {
		rel := strings.TrimPrefix(strings.TrimPrefix(name, dir), "/")
		if dir == "." {
			rel = name
		}
		fi, err := d.Info()
		return err == nil && rules.Ignore(rel, fi)
	}
	err := s.walkFiles(dir, skip, func(name string, data []byte) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(name, dir), "/")
		if dir == "." {
			rel = name
		}
		data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
		if rel == "values.yaml" {
			var err error
			if data, err = decryptFile(ctx, dec, name, data); err != nil {
				return err
			}
		}
		files = append(files, &archive.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loader.LoadFiles(files)
}

// instrumentChart rewrites the templates of ch and its subcharts for the
// meter, charging their parsing.
func instrumentChart(m *templateMeter, ch *chart.Chart) error {
	for _, t := range ch.Templates {
		if err := m.charge(1+int64(len(t.Data))/bytesPerStep, 0); err != nil {
			return err
		}
		out, err := instrument(path.Join(ch.Name(), t.Name), string(t.Data))
		if err != nil {
			return fmt.Errorf("%s: %w", path.Join(ch.ChartFullPath(), t.Name), err)
		}
		t.Data = []byte(out)
	}
	for _, dep := range ch.Dependencies() {
		if err := instrumentChart(m, dep); err != nil {
			return err
		}
	}
	return nil
}

// readValueFiles reads, decrypts and merges the values files of opts,
// later files winning, maps merged key by key, as `helm --values` does.
func readValueFiles(ctx context.Context, s *source, dir string, opts Options) (map[string]any, error) {
	vals := map[string]any{}
	for _, vf := range opts.Helm.ValueFiles {
		p, err := cleanPath(dir, vf)
		if err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
		data, err := s.readFile(p)
		if err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
		if data, err = decryptFile(ctx, opts.Decrypter, p, data); err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
		v, err := common.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", p, err)
		}
		vals = mergeValues(vals, v)
	}
	return vals, nil
}

func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
