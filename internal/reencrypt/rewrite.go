package reencrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
)

// object is one SealedSecret found in a file.
type object struct {
	// doc is the 1-based position of its YAML document or JSON value;
	// item its 1-based position in a List, 0 outside one.
	doc, item int
	// namespace and name identify it in reports, even when it did not
	// decode.
	namespace, name string
	// ss is the decoded object; nil when err is set.
	ss *ssv1alpha1.SealedSecret
	// err says why it cannot be rewritten.
	err error
	// loc is where its values are: a *yamlObject or a *jsonObject.
	loc any
}

// change sets one value of an object: the encryptedData entry item, or
// the key-id annotation.
type change struct {
	obj        *object
	item       string
	annotation bool
	value      string
}

// insertion is a key-id annotation added as a new entry: to
// metadata.annotations, or to metadata inside a new annotations mapping
// (nested).
type insertion struct {
	id     string
	nested bool
}

// file is a parsed manifest file, in either format.
type file interface {
	// objects returns the SealedSecrets of the file in order.
	objects() []*object
	// edit returns the splice that makes c.
	edit(c change) (edit, error)
	// verify checks that out, the file after the edits of changes, parses
	// to the same tree as the file except for exactly those changes.
	verify(out []byte, changes []change) error
}

// parse reads data as JSON when it starts with an object or array, and as
// YAML otherwise.
func parse(data []byte) (file, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return parseJSON(data)
	}
	return parseYAML(data)
}

// sameItems checks that the values located in a file, by encryptedData
// key, are exactly those of the decoded object, so that rewriting them
// rewrites exactly its values: YAML merge keys or a JSON duplicate would
// otherwise make the two disagree.
func sameItems(located map[string]string, ss *ssv1alpha1.SealedSecret) error {
	if len(located) != len(ss.Spec.EncryptedData) {
		return errors.New("spec.encryptedData is written in a way this tool cannot rewrite")
	}
	for k, v := range located {
		if w, ok := ss.Spec.EncryptedData[k]; !ok || w != v {
			return fmt.Errorf("spec.encryptedData[%q] is written in a way this tool cannot rewrite", k)
		}
	}
	return nil
}

// errMalformedResult is the error for a resealer's answer that cannot be
// what it was asked for.
var errMalformedResult = errors.New("the re-sealed object is malformed")

// rewrite re-seals every SealedSecret of data with r and returns the file
// with the changed values spliced in, and one result per SealedSecret. An
// object that fails is left as it is and the others are still rewritten;
// an error means the whole file is left as it is.
func rewrite(ctx context.Context, r Resealer, data []byte) ([]byte, []ObjectResult, error) {
	f, err := parse(data)
	if err != nil {
		return nil, nil, err
	}
	var (
		edits   []edit
		changes []change
		results []ObjectResult
	)
	for _, o := range f.objects() {
		res := ObjectResult{Document: o.doc, Item: o.item, Namespace: o.namespace, Name: o.name, Err: o.err}
		if o.err == nil {
			res.Items = len(o.ss.Spec.EncryptedData)
			res.FromKey = o.ss.Annotations[ssv1alpha1.KeyIDAnnotation]
			res.ToKey = res.FromKey
			cs, es, err := plan(ctx, r, f, o)
			if err != nil {
				res.Err = err
			} else {
				edits = append(edits, es...)
				changes = append(changes, cs...)
				for _, c := range cs {
					if c.annotation {
						res.ToKey = c.value
					} else {
						res.Resealed = append(res.Resealed, c.item)
					}
				}
			}
		}
		results = append(results, res)
	}
	if len(edits) == 0 {
		return data, results, nil
	}
	out, err := apply(data, edits)
	if err != nil {
		return nil, results, err
	}
	if err := f.verify(out, changes); err != nil {
		return nil, results, fmt.Errorf("the rewritten file does not parse back to the re-sealed objects, so it is left as it is: %w", err)
	}
	return out, results, nil
}

// plan re-seals o with r and returns the changes and the edits that make
// them: only values whose ciphertext changed, and the key-id annotation
// when the resealer names a different key.
func plan(ctx context.Context, r Resealer, f file, o *object) ([]change, []edit, error) {
	out, err := r.Reseal(ctx, o.ss.DeepCopy())
	if err != nil {
		return nil, nil, err
	}
	if out == nil || len(out.Spec.EncryptedData) != len(o.ss.Spec.EncryptedData) {
		return nil, nil, fmt.Errorf("%w: its items differ from the original's", errMalformedResult)
	}
	var cs []change
	for _, k := range slices.Sorted(maps.Keys(o.ss.Spec.EncryptedData)) {
		v, ok := out.Spec.EncryptedData[k]
		if !ok {
			return nil, nil, fmt.Errorf("%w: item %q is missing", errMalformedResult, k)
		}
		if v == o.ss.Spec.EncryptedData[k] {
			continue
		}
		if _, err := base64.StdEncoding.DecodeString(v); err != nil || !isSealedValue(v) {
			return nil, nil, fmt.Errorf("%w: item %q is not base64", errMalformedResult, k)
		}
		cs = append(cs, change{obj: o, item: k, value: v})
	}
	from, to := o.ss.Annotations[ssv1alpha1.KeyIDAnnotation], out.Annotations[ssv1alpha1.KeyIDAnnotation]
	if to != "" && to != from {
		if _, err := crypto.ParseKeyID(to); err != nil {
			return nil, nil, fmt.Errorf("%w: annotation %s is not a key ID", errMalformedResult, ssv1alpha1.KeyIDAnnotation)
		}
		cs = append(cs, change{obj: o, annotation: true, value: to})
	}
	es := make([]edit, 0, len(cs))
	for _, c := range cs {
		e, err := f.edit(c)
		if err != nil {
			return nil, nil, err
		}
		es = append(es, e)
	}
	return cs, es, nil
}
