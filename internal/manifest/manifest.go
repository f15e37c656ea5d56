// Package manifest reads and writes streams of Kubernetes objects the way
// kubeseal does: JSON or multi-document YAML in, pretty JSON or YAML out.
//
// # Errors
//
// Input often holds secret values, so decode errors never quote it: syntax
// errors give a position, type errors a field name, and YAML's quoted
// snippets are elided.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esv1beta1 "github.com/sealsync/sealsync/api/externalsecrets/v1beta1"
	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
)

// MaxInputSize is the largest input stream in bytes the decoders accept.
const MaxInputSize = 64 << 20

// Format is an output format.
type Format string

const (
	// JSON is pretty-printed JSON followed by a newline, kubeseal's default.
	JSON Format = "json"
	// YAML is a "---" line followed by the YAML document.
	YAML Format = "yaml"
)

// ParseFormat accepts "json", "yaml" (any case) and "" (JSON).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "json":
		return JSON, nil
	case "yaml":
		return YAML, nil
	}
	return "", fmt.Errorf("unsupported output format: %s (want json or yaml)", s)
}

// Scheme knows the core types, SealedSecret and the external-secrets.io
// kinds in both served versions.
var Scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := ssv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := esv1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := esv1beta1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

var codecs = serializer.NewCodecFactory(Scheme)

// Encode writes obj in format, exactly as kubeseal does: the API machinery's
// pretty serializer for obj's group version, a "---" line before YAML and a
// newline after JSON.
func Encode(w io.Writer, format Format, obj runtime.Object) error {
	gvks, _, err := Scheme.ObjectKinds(obj)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	mediaType := runtime.ContentTypeJSON
	if format == YAML {
		mediaType = runtime.ContentTypeYAML
	}
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return fmt.Errorf("encode: no serializer for %s", mediaType)
	}
	s := info.PrettySerializer
	if s == nil {
		s = info.Serializer
	}
	enc := codecs.EncoderForVersion(s, gvks[0].GroupVersion())
	var buf bytes.Buffer
	if format == YAML {
		buf.WriteString("---\n")
	}
	if err := enc.Encode(obj, &buf); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if format == JSON {
		buf.WriteString("\n")
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// Document is one raw object of a stream with its position (1-based).
type Document struct {
	// Index is the position of the document in the stream, from 1.
	Index int
	// Raw is the document as JSON.
	Raw []byte
	// Kind is the document's apiVersion and kind.
	Kind schema.GroupVersionKind
}

// ReadInput reads r to its end, refusing a stream longer than
// [MaxInputSize] without reading more than one byte past it: an input may
// be a pipe or a device that never ends.
func ReadInput(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	if len(data) > MaxInputSize {
		return nil, fmt.Errorf("input exceeds %d MiB", MaxInputSize>>20)
	}
	return data, nil
}

// Split reads a stream of JSON objects or YAML documents and returns each
// non-empty document as JSON. A v1 List is expanded into its items.
func Split(r io.Reader) ([]Document, error) {
	data, err := ReadInput(r)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var docs []Document
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, Scrub(err))
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var tm struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Items      []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &tm); err != nil {
			return nil, fmt.Errorf("document %d: not an object: %w", n, Scrub(err))
		}
		gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
		if tm.Kind == "List" && (tm.APIVersion == "v1" || tm.APIVersion == "") {
			for _, item := range tm.Items {
				var im struct {
					APIVersion string `json:"apiVersion"`
					Kind       string `json:"kind"`
				}
				_ = json.Unmarshal(item, &im)
				docs = append(docs, Document{Index: n, Raw: item, Kind: schema.FromAPIVersionAndKind(im.APIVersion, im.Kind)})
			}
			continue
		}
		docs = append(docs, Document{Index: n, Raw: raw, Kind: gvk})
	}
	return docs, nil
}

// DecodeSecrets reads v1 Secrets. A document of another kind is an error
// naming it; a document without apiVersion and kind is taken as a Secret,
// as kubeseal does.
func DecodeSecrets(r io.Reader) ([]*corev1.Secret, error) {
	return decodeAll[corev1.Secret](r, corev1.SchemeGroupVersion.WithKind("Secret"))
}

// DecodeSealedSecrets reads SealedSecrets. A document of another kind is an
// error naming it.
func DecodeSealedSecrets(r io.Reader) ([]*ssv1alpha1.SealedSecret, error) {
	return decodeAll[ssv1alpha1.SealedSecret](r, ssv1alpha1.SchemeGroupVersion.WithKind("SealedSecret"))
}

func decodeAll[T any](r io.Reader, want schema.GroupVersionKind) ([]*T, error) {
	docs, err := Split(r)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(docs))
	for _, d := range docs {
		obj, err := DecodeDocument[T](d, want)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// DecodeDocument decodes one document as a T of kind want.
func DecodeDocument[T any](d Document, want schema.GroupVersionKind) (*T, error) {
	if !d.Kind.Empty() && d.Kind != want {
		return nil, fmt.Errorf("document %d is a %s, want %s", d.Index, describe(d.Kind), describe(want))
	}
	obj := new(T)
	if err := json.Unmarshal(d.Raw, obj); err != nil {
		return nil, fmt.Errorf("document %d: %w", d.Index, Scrub(err))
	}
	return obj, nil
}

func describe(gvk schema.GroupVersionKind) string {
	if gvk.Kind == "" {
		return "document without kind (apiVersion " + gvk.GroupVersion().String() + ")"
	}
	return gvk.Kind + " (" + gvk.GroupVersion().String() + ")"
}

// yamlQuoted matches the snippets YAML errors quote from their input.
var yamlQuoted = regexp.MustCompile("`[^`]*`")

// Scrub rewrites a decode error so that it carries no input bytes: JSON
// syntax errors keep only their offset, JSON type errors only the field and
// types, and YAML errors lose their quoted snippets.
func Scrub(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Errorf("field %s: cannot use a JSON %s as %s", te.Field, te.Value, te.Type)
		}
		return fmt.Errorf("cannot use a JSON %s as %s", te.Value, te.Type)
	}
	msg := err.Error()
	if strings.Contains(msg, "invalid character") {
		// Errors from the YAML-to-JSON path embed JSON syntax errors as
		// text, quoting the offending character.
		return errors.New("invalid JSON or YAML syntax")
	}
	return errors.New(yamlQuoted.ReplaceAllString(msg, "`…`"))
}

// MergeStrings copies src into dst and returns dst, made when it is nil
// and src has entries: labels, annotations or data laid over existing
// ones. kubeseal and the controller share it, so it lives here, where
// kubeseal does not link controller-runtime.
func MergeStrings(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]string, len(src))
	}
	maps.Copy(dst, src)
	return dst
}
