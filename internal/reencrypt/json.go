package reencrypt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/manifest"
)

// jsonFile is a stream of JSON values, each parsed to a tree that keeps
// the byte range of every value. encoding/json's Decoder gives the offset
// at the end of each token; a string token starts at the first quote after
// the previous token, since only whitespace, ':' and ',' come between.
type jsonFile struct {
	data []byte
	docs []*jvalue
	objs []*object
}

// jvalue is one JSON value and where it lies in the input.
type jvalue struct {
	// kind is '{', '[', '"', or 0 for numbers, booleans and null.
	kind       byte
	start, end int
	// str is a string's value; lit a number's, boolean's or null's.
	str string
	lit any
	// keys and vals are an object's members in order; items an array's.
	keys, vals, items []*jvalue
}

// jsonObject locates the rewritable parts of one SealedSecret.
type jsonObject struct {
	root      *jvalue
	values    map[string]*jvalue
	meta, ann *jvalue
	keyID     *jvalue
}

func parseJSON(data []byte) (*jsonFile, error) {
	f := &jsonFile{data: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		prev := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", manifest.Scrub(err))
		}
		v, err := f.value(dec, tok, prev, 0)
		if err != nil {
			return nil, err
		}
		f.docs = append(f.docs, v)
	}
	for i, doc := range f.docs {
		switch {
		case jsonIsKind(doc, ssv1alpha1.SchemeGroupVersion.String(), "SealedSecret"):
			f.objs = append(f.objs, f.object(i+1, 0, doc))
		case jsonIsKind(doc, "v1", "List") || jsonIsKind(doc, "", "List"):
			_, items, _ := jlookup(doc, "items")
			if items == nil || items.kind != '[' {
				continue
			}
			for j, it := range items.items {
				if jsonIsKind(it, ssv1alpha1.SchemeGroupVersion.String(), "SealedSecret") {
					f.objs = append(f.objs, f.object(i+1, j+1, it))
				}
			}
		}
	}
	return f, nil
}

// value reads the rest of the value that starts with tok, the token read
// from offset prev on.
func (f *jsonFile) value(dec *json.Decoder, tok json.Token, prev, depth int) (*jvalue, error) {
	if depth > maxDepth {
		return nil, errors.New("invalid JSON: nested too deeply")
	}
	end := int(dec.InputOffset())
	switch t := tok.(type) {
	case string:
		q := bytes.IndexByte(f.data[prev:end], '"')
		if q < 0 {
			return nil, errors.New("internal error: cannot find a JSON string")
		}
		return &jvalue{kind: '"', start: prev + q, end: end, str: t}, nil
	case json.Delim:
		v := &jvalue{kind: byte(t), start: end - 1}
		for dec.More() {
			p := int(dec.InputOffset())
			tok, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", manifest.Scrub(err))
			}
			item, err := f.value(dec, tok, p, depth+1)
			if err != nil {
				return nil, err
			}
			if t == '[' {
				v.items = append(v.items, item)
				continue
			}
			v.keys = append(v.keys, item)
			p = int(dec.InputOffset())
			if tok, err = dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", manifest.Scrub(err))
			}
			if item, err = f.value(dec, tok, p, depth+1); err != nil {
				return nil, err
			}
			v.vals = append(v.vals, item)
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", manifest.Scrub(err))
		}
		v.end = int(dec.InputOffset())
		return v, nil
	default:
		return &jvalue{lit: t, end: end}, nil
	}
}

func (f *jsonFile) objects() []*object { return f.objs }

// jlookup returns the key and value of member key of object o; a duplicate
// is an error, since decoders disagree on which one wins.
func jlookup(o *jvalue, key string) (k, v *jvalue, err error) {
	if o.kind != '{' {
		return nil, nil, errors.New("not an object")
	}
	for i, kv := range o.keys {
		if kv.str != key {
			continue
		}
		if k != nil {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		k, v = kv, o.vals[i]
	}
	return k, v, nil
}

func jsonIsKind(o *jvalue, apiVersion, kind string) bool {
	if o.kind != '{' {
		return false
	}
	_, av, _ := jlookup(o, "apiVersion")
	_, k, _ := jlookup(o, "kind")
	if av != nil && av.kind != '"' {
		return false
	}
	return k != nil && k.kind == '"' && k.str == kind && (av == nil && apiVersion == "" || av != nil && av.str == apiVersion)
}

// object decodes the SealedSecret at root and locates its values.
func (f *jsonFile) object(doc, item int, root *jvalue) *object {
	o := &object{doc: doc, item: item}
	if _, meta, _ := jlookup(root, "metadata"); meta != nil && meta.kind == '{' {
		if _, n, _ := jlookup(meta, "namespace"); n != nil {
			o.namespace = n.str
		}
		if _, n, _ := jlookup(meta, "name"); n != nil {
			o.name = n.str
		}
	}
	ss := &ssv1alpha1.SealedSecret{}
	if err := json.Unmarshal(f.data[root.start:root.end], ss); err != nil {
		o.err = fmt.Errorf("cannot decode: %w", manifest.Scrub(err))
		return o
	}
	loc, err := locateJSON(root, ss)
	if err != nil {
		o.err = err
		return o
	}
	o.ss, o.loc = ss, loc
	return o
}

func locateJSON(root *jvalue, ss *ssv1alpha1.SealedSecret) (*jsonObject, error) {
	loc := &jsonObject{root: root, values: map[string]*jvalue{}}
	_, spec, err := jlookup(root, "spec")
	if err != nil {
		return nil, err
	}
	if spec != nil && spec.kind == '{' {
		_, data, err := jlookup(spec, "encryptedData")
		if err != nil {
			return nil, fmt.Errorf("spec: %w", err)
		}
		if data != nil && data.kind == '{' {
			for i, k := range data.keys {
				if _, dup := loc.values[k.str]; dup {
					return nil, fmt.Errorf("spec.encryptedData: duplicate key %q", k.str)
				}
				if data.vals[i].kind != '"' {
					return nil, fmt.Errorf("spec.encryptedData[%q]: not a string", k.str)
				}
				loc.values[k.str] = data.vals[i]
			}
		}
	}
	located := make(map[string]string, len(loc.values))
	for k, v := range loc.values {
		located[k] = v.str
	}
	if err := sameItems(located, ss); err != nil {
		return nil, err
	}
	_, loc.meta, err = jlookup(root, "metadata")
	switch {
	case err != nil:
		return nil, fmt.Errorf("metadata: %w", err)
	case loc.meta == nil:
		return nil, errors.New("no metadata")
	case loc.meta.kind != '{':
		return nil, errors.New("metadata is not an object")
	}
	if _, loc.ann, err = jlookup(loc.meta, "annotations"); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if loc.ann != nil && loc.ann.kind == '{' {
		_, id, err := jlookup(loc.ann, ssv1alpha1.KeyIDAnnotation)
		if err != nil {
			return nil, fmt.Errorf("metadata.annotations: %w", err)
		}
		if id != nil && (id.kind != '"' || id.str != ss.Annotations[ssv1alpha1.KeyIDAnnotation]) {
			return nil, fmt.Errorf("annotation %s is not a string", ssv1alpha1.KeyIDAnnotation)
		}
		loc.keyID = id
	}
	return loc, nil
}

func (f *jsonFile) edit(c change) (edit, error) {
	if !isSealedValue(c.value) {
		return edit{}, errors.New("internal error: value needs escaping")
	}
	loc := c.obj.loc.(*jsonObject)
	quoted := []byte(`"` + c.value + `"`)
	switch {
	case !c.annotation:
		v := loc.values[c.item]
		return edit{v.start, v.end, quoted}, nil
	case loc.keyID != nil:
		return edit{loc.keyID.start, loc.keyID.end, quoted}, nil
	case loc.ann != nil && loc.ann.kind != '{':
		return edit{}, fmt.Errorf("cannot add annotation %s: metadata.annotations is not an object", ssv1alpha1.KeyIDAnnotation)
	case loc.ann != nil:
		return f.insert(loc.ann, loc.meta, `"`+ssv1alpha1.KeyIDAnnotation+`"`, quoted, false), nil
	default:
		return f.insert(loc.meta, loc.root, `"`+ssv1alpha1.KeyIDAnnotation+`"`, quoted, true), nil
	}
}

// insert returns the edit that appends member key: value to object o, or
// "annotations": {key: value} when nested, laid out like o's other
// members: the same whitespace before each and around the colon, and for
// a new nested object one more level of o's indentation relative to its
// parent.
func (f *jsonFile) insert(o, parent *jvalue, key string, value []byte, nested bool) edit {
	colon, sep := ": ", ""
	if len(o.keys) > 0 {
		sep = string(f.data[o.start+1 : o.keys[0].start])
		colon = string(f.data[o.keys[0].end:o.vals[0].start])
	}
	if len(o.keys) > 1 {
		// What follows a comma, rather than the brace: in {"a": 1, "b": 2}
		// that is a space.
		between := f.data[o.vals[0].end:o.keys[1].start]
		sep = string(between[bytes.IndexByte(between, ',')+1:])
	}
	member := key + colon + string(value)
	if nested {
		inner, closing := "", ""
		if strings.ContainsAny(sep, "\r\n") {
			unit := "  "
			if len(parent.keys) > 0 {
				psep := string(f.data[parent.start+1 : parent.keys[0].start])
				if strings.HasPrefix(sep, psep) && len(sep) > len(psep) {
					unit = sep[len(psep):]
				}
			}
			inner, closing = sep+unit, sep
		}
		member = `"annotations"` + colon + "{" + inner + member + closing + "}"
	}
	if len(o.keys) == 0 {
		return edit{o.start + 1, o.start + 1, []byte(member)}
	}
	last := o.vals[len(o.vals)-1]
	return edit{last.end, last.end, []byte("," + sep + member)}
}

// verify parses out and compares it, value by value, with the original.
func (f *jsonFile) verify(out []byte, changes []change) error {
	g, err := parseJSON(out)
	if err != nil {
		return err
	}
	if len(g.docs) != len(f.docs) {
		return fmt.Errorf("%d values instead of %d", len(g.docs), len(f.docs))
	}
	exp := jsonExpect{values: map[*jvalue]string{}, inserts: map[*jvalue]insertion{}}
	for _, c := range changes {
		loc := c.obj.loc.(*jsonObject)
		switch {
		case !c.annotation:
			exp.values[loc.values[c.item]] = c.value
		case loc.keyID != nil:
			exp.values[loc.keyID] = c.value
		case loc.ann != nil:
			exp.inserts[loc.ann] = insertion{id: c.value}
		default:
			exp.inserts[loc.meta] = insertion{id: c.value, nested: true}
		}
	}
	for i := range f.docs {
		if err := exp.compare(f.docs[i], g.docs[i]); err != nil {
			return fmt.Errorf("value %d: %w", i+1, err)
		}
	}
	return nil
}

// jsonExpect is what verify expects to have changed, by original value.
type jsonExpect struct {
	values  map[*jvalue]string
	inserts map[*jvalue]insertion
}

func (e *jsonExpect) compare(a, b *jvalue) error {
	if v, ok := e.values[a]; ok {
		if b.kind != '"' || b.str != v {
			return fmt.Errorf("byte %d: the new value does not read back", b.start)
		}
		return nil
	}
	if a.kind != b.kind || a.str != b.str || a.lit != b.lit || len(a.items) != len(b.items) {
		return fmt.Errorf("byte %d: a value outside the re-sealed values changed", b.start)
	}
	bk, bv := b.keys, b.vals
	if ins, ok := e.inserts[a]; ok {
		if len(bk) == 0 {
			return fmt.Errorf("byte %d: the annotation is missing", b.start)
		}
		k, v := bk[len(bk)-1], bv[len(bv)-1]
		if ins.nested {
			if k.str != "annotations" || v.kind != '{' || len(v.keys) != 1 {
				return fmt.Errorf("byte %d: the annotations are not what was written", b.start)
			}
			k, v = v.keys[0], v.vals[0]
		}
		if k.str != ssv1alpha1.KeyIDAnnotation || v.kind != '"' || v.str != ins.id {
			return fmt.Errorf("byte %d: the annotation is not what was written", b.start)
		}
		bk, bv = bk[:len(bk)-1], bv[:len(bv)-1]
	}
	if len(a.keys) != len(bk) {
		return fmt.Errorf("byte %d: a value outside the re-sealed values changed", b.start)
	}
	for i := range a.keys {
		if a.keys[i].str != bk[i].str {
			return fmt.Errorf("byte %d: a value outside the re-sealed values changed", b.start)
		}
		if err := e.compare(a.vals[i], bv[i]); err != nil {
			return err
		}
	}
	for i := range a.items {
		if err := e.compare(a.items[i], b.items[i]); err != nil {
			return err
		}
	}
	return nil
}
