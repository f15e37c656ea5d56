package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Defaults of [Limits]. A render runs inside Argo CD's repo-server
// deadline (60 s by default, shared with fetching the source) and its
// output travels in one gRPC message of at most 100 MiB.
const (
	// DefaultMaxFiles is how many files a render may read.
	DefaultMaxFiles = 5000
	// DefaultMaxFileSize is the largest file a render reads, in bytes.
	DefaultMaxFileSize = 4 << 20
	// DefaultMaxTotalSize is how many bytes a render may read in all,
	// counting a file read twice twice.
	DefaultMaxTotalSize = 64 << 20
	// DefaultMaxOutputSize is the largest output, in bytes of YAML.
	DefaultMaxOutputSize = 64 << 20
	// DefaultMaxTemplateSteps is how many steps Helm's templates may take
	// in one render (see [Limits.MaxTemplateSteps]): large charts take a
	// few hundred thousand.
	DefaultMaxTemplateSteps = 20_000_000
	// DefaultTimeout is how long a render may take when its context has
	// no earlier deadline, under Argo CD's 60 s.
	DefaultTimeout = 45 * time.Second
)

// Limits bound what one render may cost. The operator sets them (plugin
// flags); zero fields take the defaults.
type Limits struct {
	// MaxFiles is how many files the render may read.
	MaxFiles int
	// MaxFileSize is the largest file read, in bytes.
	MaxFileSize int64
	// MaxTotalSize is how many bytes may be read in all.
	MaxTotalSize int64
	// MaxOutputSize is the largest output, in bytes: the rendered
	// manifests, and for Helm every template's output together.
	MaxOutputSize int64
	// MaxTemplateSteps is the step budget of Helm's templates: each
	// executed node of a {{range}} body or of a template called, each
	// function call and every 64 bytes a function reads or returns cost
	// one step.
	MaxTemplateSteps int64
	// Timeout bounds the render's wall time on top of its context's
	// deadline.
	Timeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultMaxTotalSize
	}
	if l.MaxOutputSize <= 0 {
		l.MaxOutputSize = DefaultMaxOutputSize
	}
	if l.MaxTemplateSteps <= 0 {
		l.MaxTemplateSteps = DefaultMaxTemplateSteps
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// Errors a caller may branch on; each is wrapped with the file or field
// that caused it.
var (
	// ErrLimit is wrapped when a render exceeds one of its [Limits].
	ErrLimit = errors.New("render limit exceeded")
	// ErrUnsafePath is wrapped when a path or a symbolic link of the
	// source is absolute or leads out of the source.
	ErrUnsafePath = errors.New("path leaves the source")
	// ErrRemote is wrapped when a kustomization refers to a URL or a Git
	// repository: renders have no network.
	ErrRemote = errors.New("remote references are not allowed")
	// ErrNotAllowed is wrapped when a kustomization asks for something a
	// render never runs: exec and KRM function plugins, Helm charts.
	ErrNotAllowed = errors.New("not allowed in a render")
	// ErrEmpty is returned when a render yields no object, so that an
	// Argo CD application with pruning never deletes everything because
	// of a mistake.
	ErrEmpty = errors.New("the render produced no objects")
	// ErrNotManifest is wrapped when a file of a directory source holds a
	// document that is not a Kubernetes object.
	ErrNotManifest = errors.New("not a Kubernetes object")
	// ErrWithheld is returned instead of an error whose message would
	// quote a value decrypted from a SOPS file.
	ErrWithheld = errors.New("the error's details are withheld: they quote decrypted data")
)

// Decrypter opens the SOPS-encrypted files of a source; *sopsx.Decryptor
// is one. DecryptFile returns the plaintext of data, the content of the
// file name, and true if it is encrypted, or data itself and false.
//
// If the Decrypter also has a method Quotes(msg string) bool, errors
// whose message quotes a decrypted value are replaced by [ErrWithheld].
type Decrypter interface {
	DecryptFile(ctx context.Context, name string, data []byte) ([]byte, bool, error)
}

// quoter is the optional capability of a Decrypter to recognize its
// plaintexts in a message.
type quoter interface {
	Quotes(msg string) bool
}

// Kind is how a source folder is rendered.
type Kind int

// The kinds of source, as Argo CD tells them apart.
const (
	// Directory is a folder of YAML and JSON manifests.
	Directory Kind = iota
	// Kustomize is a folder with a kustomization file.
	Kustomize
	// Helm is a folder with a Chart.yaml.
	Helm
)

func (k Kind) String() string {
	switch k {
	case Kustomize:
		return "kustomize"
	case Helm:
		return "helm"
	default:
		return "directory"
	}
}

// kustomizationFiles are the names kustomize looks for, in its order.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Detect returns how the folder dir of src renders: [Kustomize] if it
// holds a kustomization file, else [Helm] if it holds a Chart.yaml, else
// [Directory].
func Detect(src fs.FS, dir string) (Kind, error) {
	if !fs.ValidPath(dir) {
		return 0, fmt.Errorf("%w: %q", ErrUnsafePath, dir)
	}
	s := newSource(src, Limits{}.withDefaults())
	for _, n := range kustomizationFiles {
		if s.exists(path.Join(dir, n)) {
			return Kustomize, nil
		}
	}
	if s.exists(path.Join(dir, "Chart.yaml")) {
		return Helm, nil
	}
	return Directory, nil
}

// Options configure a render.
type Options struct {
	// Decrypter decrypts SOPS files: every manifest of a directory
	// source, every file a kustomization reads, and Helm values files.
	// With nil, SOPS files are refused rather than passed on encrypted.
	Decrypter Decrypter
	// Helm configures Helm sources.
	Helm HelmOptions
	// Limits bound the render.
	Limits Limits
}

// HelmOptions are what Argo CD tells a plugin about the release.
type HelmOptions struct {
	// ReleaseName is the release's name: ARGOCD_APP_NAME.
	ReleaseName string
	// Namespace is the release's namespace: ARGOCD_APP_NAMESPACE.
	Namespace string
	// KubeVersion is the cluster's version for .Capabilities:
	// KUBE_VERSION. Empty means Helm's default.
	KubeVersion string
	// APIVersions are the cluster's API versions for .Capabilities:
	// KUBE_API_VERSIONS, split at commas.
	APIVersions []string
	// ValueFiles are values files, relative to the chart's folder, merged
	// in order over the chart's own values.yaml. They may lie anywhere in
	// the source.
	ValueFiles []string
}

// Render renders the folder dir of src, as [Detect] classifies it, into
// Kubernetes objects, in a deterministic order: directory sources by path
// and document, kustomize's output order (kustomize build's default,
// "legacy"), Helm's install order. src is the whole repository (a
// kustomization may use ../base), and nothing outside it is read: paths
// and symbolic links leading out are refused, and no network is used.
//
// SOPS files are decrypted in memory by opts.Decrypter. No file is
// written. A render that yields no object fails with [ErrEmpty].
func Render(ctx context.Context, src fs.FS, dir string, opts Options) (objs []*unstructured.Unstructured, err error) {
	opts.Limits = opts.Limits.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Limits.Timeout)
	defer cancel()
	dir = path.Clean(dir)
	if !fs.ValidPath(dir) {
		return nil, fmt.Errorf("%w: %q", ErrUnsafePath, dir)
	}
	defer func() {
		if err != nil {
			err = withhold(err, opts.Decrypter)
		}
	}()
	kind, err := Detect(src, dir)
	if err != nil {
		return nil, err
	}
	s := newSource(src, opts.Limits)
	var out []byte
	switch kind {
	case Kustomize:
		out, err = renderKustomize(ctx, s, dir, opts)
	case Helm:
		out, err = renderHelm(ctx, s, dir, opts)
	default:
		objs, err = renderDirectory(ctx, s, dir, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("render %s source %s: %w", kind, dir, err)
	}
	if out != nil {
		if objs, err = decodeObjects(out, "output"); err != nil {
			return nil, fmt.Errorf("render %s source %s: %w", kind, dir, err)
		}
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("render %s source %s: %w", kind, dir, ErrEmpty)
	}
	return objs, nil
}

// maxErrorSize is how much of an error message a render returns: Argo CD
// shows it in its UI.
const maxErrorSize = 4 << 10

// withhold replaces err by ErrWithheld (keeping which limit or refusal
// it was) if its message quotes a value the Decrypter decrypted, and cuts
// long messages.
func withhold(err error, d Decrypter) error {
	msg := err.Error()
	if q, ok := d.(quoter); ok && q.Quotes(msg) {
		for _, kind := range []error{ErrLimit, ErrUnsafePath, ErrRemote, ErrNotAllowed, ErrNotManifest, context.DeadlineExceeded} {
			if errors.Is(err, kind) {
				return fmt.Errorf("%w: %w", kind, ErrWithheld)
			}
		}
		return ErrWithheld
	}
	if len(msg) > maxErrorSize {
		return &restatedError{msg: msg[:maxErrorSize] + "...", err: err}
	}
	return err
}

// restatedError is an error whose message was cut or reworded;
// errors.Is still sees the original.
type restatedError struct {
	msg string
	err error
}

func (e *restatedError) Error() string { return e.msg }
func (e *restatedError) Unwrap() error { return e.err }

// decodeObjects splits a YAML or JSON stream into objects, skipping empty
// documents (and Lists' items are kept as one List object, as kubectl and
// Argo CD do). Every document must have an apiVersion and a kind.
func decodeObjects(data []byte, name string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for i := 0; ; i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			// Parse errors give a line and a reason; the Quotes check
			// in Render covers the rare one quoting a value.
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
			continue // an empty document, or only comments
		}
		var m map[string]any
		// apimachinery's json keeps whole numbers int64, as
		// unstructured objects need them.
		if err := utiljson.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w: %w", name, i+1, ErrNotManifest, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("%s: document %d: %w: no apiVersion or kind", name, i+1, ErrNotManifest)
		}
		objs = append(objs, u)
	}
}

// Stream writes objs as one YAML stream, documents separated by "---",
// failing with [ErrLimit] past maxSize bytes.
func Stream(objs []*unstructured.Unstructured, maxSize int64) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxOutputSize
	}
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("write %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		if int64(b.Len()+len(y)+4) > maxSize {
			return nil, fmt.Errorf("%w: output larger than %d bytes", ErrLimit, maxSize)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}
