package redact

import (
	"encoding/base64"
	"errors"
	"strings"
)

// ErrBudget is returned by [Index.Find] once the index has spent its
// step budget.
var ErrBudget = errors.New("redact: the search for secret values exceeded its step budget")

// Index is a set of values prepared to be looked for in many fields of
// output that must hold none of them: the Argo CD plugin looks for the
// values it decrypted in every object it writes in plain text. There a
// false alarm fails a render, so the rule is narrower than
// [Values.Quotes]: a value of [Window] bytes or more is recognized
// anywhere in a field but only whole, and a value of [MinQuoted] to
// Window-1 bytes only as the whole field; each as is or base64-encoded.
// Runs of eight bytes are not enough here: "https://" and "postgres" are
// parts of many values and of many manifests.
//
// An Index is not safe for concurrent use: it counts the steps it takes.
type Index struct {
	// long maps the first Window bytes of each form of Window bytes or
	// more to the forms that start with them.
	long  map[uint64][]int
	forms []indexForm
	// short maps each shorter form to its value.
	short    map[string]int
	maxShort int

	steps, maxSteps int64
}

// indexForm is a value, or its base64 encoding, and which value it is.
type indexForm struct {
	s     string
	value int
}

// NewIndex returns an Index of values, which may repeat. Find takes at
// most maxSteps steps in all: one for each byte of a field it reads, one
// for each Window bytes of a value it compares with a field.
func NewIndex(values [][]byte, maxSteps int64) *Index {
	x := &Index{long: map[uint64][]int{}, short: map[string]int{}, maxSteps: maxSteps}
	seen := map[string]bool{}
	for i, v := range values {
		if len(v) < MinQuoted {
			continue
		}
		for _, f := range []string{string(v), base64.StdEncoding.EncodeToString(v)} {
			if seen[f] {
				continue
			}
			seen[f] = true
			if len(v) < Window {
				x.short[f] = i
				x.maxShort = max(x.maxShort, len(f))
				continue
			}
			w := window(f)
			x.long[w] = append(x.long[w], len(x.forms))
			x.forms = append(x.forms, indexForm{s: f, value: i})
		}
	}
	return x
}

// Find returns the index, in the values given to NewIndex, of a value
// field holds (see [Index]), or -1. Once the step budget is spent it
// fails with [ErrBudget], and so does every later call.
func (x *Index) Find(field string) (int, error) {
	if x.steps += int64(len(field)); x.steps > x.maxSteps {
		return -1, ErrBudget
	}
	if len(field) <= x.maxShort {
		if v, ok := x.short[field]; ok {
			return v, nil
		}
	}
	if len(x.forms) == 0 {
		return -1, nil
	}
	for i := 0; i+Window <= len(field); i++ {
		for _, f := range x.long[window(field[i:])] {
			form := x.forms[f]
			if x.steps += 1 + int64(len(form.s)/Window); x.steps > x.maxSteps {
				return -1, ErrBudget
			}
			if strings.HasPrefix(field[i:], form.s) {
				return form.value, nil
			}
		}
	}
	return -1, nil
}

// window returns the first Window bytes of s, which has as many, as a
// number (without the copy a []byte conversion would make per byte of a
// field).
func window(s string) uint64 {
	_ = s[Window-1]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
