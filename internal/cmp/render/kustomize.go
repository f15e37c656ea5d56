package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// A kustomization is rendered by kustomize's own library (krusty) on an
// in-memory file system holding the folders it may read, never on disk:
//
//  1. Its graph is walked first (walkKustomizations): every kustomization
//     reached through resources, components and bases, and every plugin
//     configuration reached through generators, transformers and
//     validators, is read and checked. A reference to a URL or a Git
//     repository is refused (kustomize would fetch it over HTTP or run
//     `git clone`: the loader decides that from the string, before any
//     file system is asked), as are helmCharts (kustomize would run the
//     helm binary). Exec and KRM function plugins need no check: the
//     plugin configuration kustomize is given allows builtins only.
//  2. The folders of the kustomizations found are laid out in memory,
//     names only; a file's content is read from the source when kustomize
//     reads it (kustFS.ReadFile), SOPS files decrypted then. Unreferenced
//     files cost nothing and a file for another project's key only fails
//     the render if it is used.
//  3. kustomize runs with the load restrictor "root only" and its default
//     ("legacy") output order, as `kustomize build` and Argo CD.

// memRoot is where the source lies in the in-memory file system. Paths
// that climb above it find nothing.
const memRoot = "/source"

// maxTreeEntries is how many names (files and folders) the in-memory
// layout may hold.
const maxTreeEntries = 100_000

// refKeys are the keys of kustomizations and plugin configurations whose
// values are paths kustomize may load, as a file, a folder or a Git
// repository.
var refKeys = map[string]bool{
	"resources": true, "components": true, "bases": true, "crds": true,
	"configurations": true, "generators": true, "transformers": true, "validators": true,
	"patchesStrategicMerge": true, "path": true, "paths": true,
	"files": true, "envs": true, "env": true, "envSource": true,
}

// helmKeys make kustomize run the helm binary.
var helmKeys = []string{"helmCharts", "helmGlobals", "helmChartInflationGenerator"}

// sshUser is how kustomize's loader recognizes an SCP-style Git URL
// ("git@host:org/repo").
var sshUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether kustomize could take ref for a URL or a Git
// repository. It covers more than kustomize's own tests (its loader
// package is internal): any scheme, "git::" and "github.com" prefixes and
// user@host forms.
func isRemote(ref string) bool {
	l := strings.ToLower(strings.TrimSpace(ref))
	if strings.Contains(l, "://") || strings.HasPrefix(l, "git::") ||
		strings.HasPrefix(l, "github.com/") || strings.HasPrefix(l, "github.com:") ||
		sshUser.MatchString(l) {
		return true
	}
	u, err := url.Parse(l)
	return err == nil && u.Scheme != ""
}

type kustWalker struct {
	s       *source
	visited map[string]bool
	roots   []string
}

// walkKustomizations checks the kustomization in dir and every one it
// reaches, and returns their folders.
func walkKustomizations(s *source, dir string) ([]string, error) {
	w := &kustWalker{s: s, visited: map[string]bool{}}
	if err := w.visit(dir, false); err != nil {
		return nil, err
	}
	return w.roots, nil
}

// kustomizationFile returns the kustomization file of dir, or "" if it
// has none.
func (w *kustWalker) kustomizationFile(dir string) (string, error) {
	found := ""
	for _, n := range kustomizationFiles {
		p := path.Join(dir, n)
		if w.s.exists(p) {
			if found != "" {
				return "", fmt.Errorf("%s: more than one kustomization file", dir)
			}
			found = p
		}
	}
	return found, nil
}

// visit checks the kustomization of dir. configs says that its resources
// are plugin configurations (it was reached through generators,
// transformers or validators), to be checked too.
func (w *kustWalker) visit(dir string, configs bool) error {
	if w.visited[dir] {
		return nil
	}
	w.visited[dir] = true
	kf, err := w.kustomizationFile(dir)
	if err != nil || kf == "" {
		// A folder without a kustomization: kustomize says so itself.
		return err
	}
	w.roots = append(w.roots, dir)
	data, err := w.s.readFile(kf)
	if err != nil {
		return err
	}
	docs, err := yamlDocuments(data)
	if err != nil || len(docs) != 1 || docs[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a kustomization", kf)
	}
	k := docs[0]
	for _, key := range helmKeys {
		if mapValue(k, key) != nil {
			return fmt.Errorf("%s: %s: %w (kustomize would run the helm binary): render the chart as a Helm source", kf, key, ErrNotAllowed)
		}
	}
	if err := checkRefs(kf, dir, k, true); err != nil {
		return err
	}
	for _, key := range []string{"resources", "components", "bases", "generators", "transformers", "validators"} {
		plugin := key == "generators" || key == "transformers" || key == "validators"
		for _, entry := range stringList(mapValue(k, key)) {
			if strings.Contains(entry, "\n") {
				// Inline plugin configuration.
				if plugin {
					if err := checkConfig(kf, []byte(entry)); err != nil {
						return err
					}
				}
				continue
			}
			p, err := cleanPath(dir, entry)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", kf, key, err)
			}
			switch {
			case w.s.isDir(p):
				if err := w.visit(p, configs || plugin); err != nil {
					return err
				}
			case (plugin || configs) && w.s.exists(p):
				b, err := w.s.readFile(p)
				if err != nil {
					return err
				}
				if err := checkConfig(p, b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkConfig checks a file of plugin configurations: no Helm, and no
// remote reference in any path-like field.
func checkConfig(name string, data []byte) error {
	docs, err := yamlDocuments(data)
	if err != nil {
		// kustomize will fail to read it as well.
		return nil
	}
	for _, d := range docs {
		if kind := mapValue(d, "kind"); kind != nil && kind.Value == "HelmChartInflationGenerator" {
			return fmt.Errorf("%s: %w: HelmChartInflationGenerator runs the helm binary", name, ErrNotAllowed)
		}
		// kustomize's plugin configuration refuses these too; saying so
		// here gives the reason, and does not depend on it.
		if av := mapValue(d, "apiVersion"); av == nil || av.Value != "builtin" {
			return fmt.Errorf("%s: %w: only kustomize's builtin plugins run (apiVersion: builtin); exec and KRM function plugins do not", name, ErrNotAllowed)
		}
		if err := checkRefs(name, ".", d, false); err != nil {
			return err
		}
	}
	return nil
}

// checkRefs walks n and checks every value under a key of refKeys:
// remote references are refused and, in kustomization files (local),
// absolute paths and paths leaving the source too. Plugin configurations
// use "path" for field paths as well, so only remote references are
// checked there.
func checkRefs(file, dir string, n *yaml.Node, local bool) error {
	var walk func(n *yaml.Node, underRef bool) error
	walk = func(n *yaml.Node, underRef bool) error {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if err := walk(n.Content[i+1], refKeys[n.Content[i].Value]); err != nil {
					return err
				}
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if err := walk(c, underRef); err != nil {
					return err
				}
			}
		case yaml.ScalarNode:
			if !underRef || strings.Contains(n.Value, "\n") {
				return nil
			}
			for _, ref := range refForms(n.Value) {
				if isRemote(ref) {
					return fmt.Errorf("%s: %q: %w (renders have no network): vendor it into the repository", file, ref, ErrRemote)
				}
				if local {
					if _, err := cleanPath(dir, ref); err != nil {
						return fmt.Errorf("%s: %w", file, err)
					}
				}
			}
		case yaml.AliasNode:
			return walk(n.Alias, underRef)
		}
		return nil
	}
	return walk(n, false)
}

// refForms returns the paths a reference may name: generator files are
// written "key=path".
func refForms(v string) []string {
	if k, p, ok := strings.Cut(v, "="); ok && k != "" {
		return []string{v, p}
	}
	return []string{v}
}

func yamlDocuments(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var d yaml.Node
		if err := dec.Decode(&d); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, err
		}
		if len(d.Content) == 1 {
			docs = append(docs, d.Content[0])
		}
	}
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func stringList(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

// layout makes the in-memory file system: every folder and file name
// under roots, with empty files (kustFS reads contents on demand).
func layout(s *source, roots []string) (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	slices.Sort(roots)
	entries := 0
	var done []string
	for _, root := range roots {
		if slices.ContainsFunc(done, func(d string) bool { return d == "." || root == d || strings.HasPrefix(root, d+"/") }) {
			continue // inside a folder already laid out
		}
		done = append(done, root)
		real, err := s.resolve(root)
		if err != nil {
			return nil, err
		}
		err = fs.WalkDir(s.fsys, real, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if entries++; entries > maxTreeEntries {
				return fmt.Errorf("%w: more than %d files and folders under the kustomizations", ErrLimit, maxTreeEntries)
			}
			name := path.Join(root, strings.TrimPrefix(strings.TrimPrefix(p, real), "/"))
			mp := path.Join(memRoot, name)
			switch {
			case d.IsDir():
				if d.Name() == ".git" {
					return fs.SkipDir
				}
				return mem.MkdirAll(mp)
			case d.Type()&fs.ModeSymlink != 0:
				if _, err := s.resolve(name); err != nil {
					return err
				}
				if s.isDir(name) {
					return fmt.Errorf("%w: %s is a symbolic link to a folder", ErrUnsafePath, name)
				}
			case !d.Type().IsRegular():
				return nil
			}
			return mem.WriteFile(mp, nil)
		})
		if err != nil {
			return nil, err
		}
	}
	return mem, nil
}

// errReadOnly is what kustFS answers to any write: a build writes
// nothing.
var errReadOnly = errors.New("the source is read-only")

// kustFS is the file system kustomize builds on: the layout in memory,
// whose files' contents come from the source, within its limits, SOPS
// files decrypted.
type kustFS struct {
	filesys.FileSystem
	ctx context.Context
	s   *source
	dec Decrypter

	mu    sync.Mutex
	plain map[string][]byte
	// decErr is the first SOPS file that failed to decrypt. kustomize
	// flattens the errors of the files it reads into strings and tries
	// other readings of a path that failed; when the build fails, this
	// is its cause, and keeps what the caller may branch on (sopsx.ErrNoKey).
	decErr error
}

var _ filesys.FileSystem = (*kustFS)(nil)

// ReadFile is the only way kustomize's loader reads content.
func (f *kustFS) ReadFile(p string) ([]byte, error) {
	rel, ok := strings.CutPrefix(path.Clean(p), memRoot+"/")
	if !ok || !f.FileSystem.Exists(p) || f.FileSystem.IsDir(p) {
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
	f.mu.Lock()
	b, ok := f.plain[rel]
	f.mu.Unlock()
	if ok {
		if err := f.s.chargeRead(rel, int64(len(b))); err != nil {
			return nil, err
		}
		return bytes.Clone(b), nil
	}
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	data, err := f.s.readFile(rel)
	if err != nil {
		return nil, err
	}
	if data, err = decryptFile(f.ctx, f.dec, rel, data); err != nil {
		f.mu.Lock()
		if f.decErr == nil {
			f.decErr = err
		}
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Lock()
	f.plain[rel] = data
	f.mu.Unlock()
	return bytes.Clone(data), nil
}

// Open would give kustomize a second way to read content; it has no use
// for it in a build.
func (f *kustFS) Open(p string) (filesys.File, error) {
	return nil, &fs.PathError{Op: "open", Path: p, Err: errReadOnly}
}

func (f *kustFS) Create(p string) (filesys.File, error) {
	return nil, &fs.PathError{Op: "create", Path: p, Err: errReadOnly}
}

func (f *kustFS) WriteFile(p string, _ []byte) error {
	return &fs.PathError{Op: "write", Path: p, Err: errReadOnly}
}

func (f *kustFS) Mkdir(p string) error {
	return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
}

func (f *kustFS) MkdirAll(p string) error {
	return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
}

func (f *kustFS) RemoveAll(p string) error {
	return &fs.PathError{Op: "remove", Path: p, Err: errReadOnly}
}

// renderKustomize builds the kustomization in dir.
func renderKustomize(ctx context.Context, s *source, dir string, opts Options) ([]byte, error) {
	roots, err := walkKustomizations(s, dir)
	if err != nil {
		return nil, err
	}
	mem, err := layout(s, roots)
	if err != nil {
		return nil, err
	}
	kfs := &kustFS{FileSystem: mem, ctx: ctx, s: s, dec: opts.Decrypter, plain: map[string][]byte{}}
	o := krusty.MakeDefaultOptions()
	o.Reorder = krusty.ReorderOptionLegacy
	o.LoadRestrictions = types.LoadRestrictionsRootOnly
	o.PluginConfig = types.DisabledPluginConfig()

	// kustomize takes no context: it runs on its own goroutine, and a
	// render past its deadline returns without waiting for it. Its reads
	// fail from then on (kustFS checks the context), which ends it soon.
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("kustomize failed: %v", p)}
			}
			done <- r
		}()
		m, err := krusty.MakeKustomizer(o).Run(kfs, path.Join(memRoot, dir))
		if err != nil {
			r.err = err
			return
		}
		r.out, r.err = m.AsYaml()
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("kustomize: %w", context.Cause(ctx))
	case r := <-done:
		if err := s.failure(); err != nil {
			// A limit hit while kustomize read: its error says where,
			// this one says what.
			return nil, fmt.Errorf("kustomize: %w", err)
		}
		if r.err != nil {
			kfs.mu.Lock()
			decErr := kfs.decErr
			kfs.mu.Unlock()
			if decErr != nil {
				return nil, fmt.Errorf("kustomize: %w", decErr)
			}
			// Name files as the repository does, not as the layout.
			msg := strings.ReplaceAll(r.err.Error(), memRoot+"/", "")
			return nil, &restatedError{msg: "kustomize: " + msg, err: r.err}
		}
		if int64(len(r.out)) > opts.Limits.MaxOutputSize {
			return nil, fmt.Errorf("%w: output larger than %d bytes", ErrLimit, opts.Limits.MaxOutputSize)
		}
		return r.out, nil
	}
}
