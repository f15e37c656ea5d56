package reencrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"go.yaml.in/yaml/v3"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
)

// everyValue re-seals every value, whatever it holds, to a new one, and
// names a new key: the most a resealer can ask of the splicer.
type everyValue struct{}

func (everyValue) Reseal(_ context.Context, ss *ssv1alpha1.SealedSecret) (*ssv1alpha1.SealedSecret, error) {
	out := ss.DeepCopy()
	for k := range out.Spec.EncryptedData {
		out.Spec.EncryptedData[k] = base64.StdEncoding.EncodeToString([]byte("re-sealed " + k))
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[ssv1alpha1.KeyIDAnnotation] = fakeKeyID("fuzz")
	return out, nil
}

// FuzzRewrite feeds arbitrary bytes to the locator and the splicer,
// seeded with every file in testdata. Whatever the input, nothing panics,
// and the edit for each value covers exactly that value's text: read on
// its own it is the value, so no comment, key or other byte around it is
// ever replaced. Whether a rewrite that passes its own check is accepted
// is up to that check; every byte outside the edits is copied by apply.
func FuzzRewrite(f *testing.F) {
	seeds := 0
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !manifestName(p) {
			return err
		}
		b, err := readFile(p)
		if err != nil {
			return err
		}
		f.Add(b)
		seeds++
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	if seeds == 0 {
		f.Fatal("no fuzz seeds found in testdata")
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := parse(in)
		if err != nil {
			return
		}
		for _, o := range file.objects() {
			if o.err != nil {
				continue
			}
			for k, v := range o.ss.Spec.EncryptedData {
				e, err := file.edit(change{obj: o, item: k, value: "QUJD"})
				if err != nil {
					continue
				}
				checkSpan(t, o, k, false, in[e.start:e.end], v)
			}
			hasID := false
			switch loc := o.loc.(type) {
			case *yamlObject:
				hasID = loc.keyID != nil
			case *jsonObject:
				hasID = loc.keyID != nil
			}
			if e, err := file.edit(change{obj: o, annotation: true, value: fakeKeyID("fuzz")}); err == nil && hasID {
				checkSpan(t, o, ssv1alpha1.KeyIDAnnotation, true, in[e.start:e.end], o.ss.Annotations[ssv1alpha1.KeyIDAnnotation])
			}
		}
		out, _, err := rewrite(context.Background(), everyValue{}, in)
		if err == nil && out == nil {
			t.Fatal("rewrite returned no bytes and no error")
		}
	})
}

// checkSpan fails unless span, the bytes an edit replaces, reads as
// exactly the value v of item k, or of the key-id annotation. A block
// scalar's edit covers its content lines only, which must be v once line
// breaks and indentation are dropped.
func checkSpan(t *testing.T, o *object, k string, annotation bool, span []byte, v string) {
	t.Helper()
	var got string
	switch loc := o.loc.(type) {
	case *jsonObject:
		if err := json.Unmarshal(span, &got); err != nil {
			t.Fatalf("item %q: the edit covers %q, not a JSON string: %v", k, span, err)
		}
	case *yamlObject:
		n := loc.values[k]
		if annotation {
			n = loc.keyID
		}
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			strip := func(s string) string {
				return strings.Map(func(r rune) rune {
					if unicode.IsSpace(r) {
						return -1
					}
					return r
				}, s)
			}
			if strip(string(span)) != strip(v) {
				t.Fatalf("item %q: the edit covers %q, not the block scalar's content", k, span)
			}
			return
		}
		if err := yaml.Unmarshal(span, &got); err != nil {
			t.Fatalf("item %q: the edit covers %q, not one YAML scalar: %v", k, span, err)
		}
		// A scalar read on its own drops a trailing comment: the edit must
		// end where the scalar does.
		switch {
		case n.Style&yaml.DoubleQuotedStyle != 0 && !bytes.HasSuffix(span, []byte(`"`)),
			n.Style&yaml.SingleQuotedStyle != 0 && !bytes.HasSuffix(span, []byte("'")),
			n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && string(span) != v:
			t.Fatalf("item %q: the edit covers %q, more than the scalar", k, span)
		}
	}
	if got != v {
		t.Fatalf("item %q: the edit covers %q, which reads %q, not the value %q", k, span, got, v)
	}
}
