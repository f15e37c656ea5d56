package redact

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestIndexFind: the values are secrets the Argo CD plugin decrypted from
// a tenant's SOPS files; the fields are those of objects the tenant's
// source rendered, which must not carry them into Argo CD.
func TestIndexFind(t *testing.T) {
	values := [][]byte{
		[]byte("s3cr3t-Passw0rd-Q7xB2m"),
		[]byte("pin7"),
		[]byte("no"),
		[]byte("postgres://app:s3cr3t@db/app"),
		[]byte("s3cr3t-Passw0rd-Q7xB2m"), // a repeat keeps the first index
	}
	x := NewIndex(values, 1<<20)
	for _, tc := range []struct {
		name, field string
		want        int
	}{
		{"whole field", "s3cr3t-Passw0rd-Q7xB2m", 0},
		{"inside a config file", "[db]\npassword = s3cr3t-Passw0rd-Q7xB2m\nhost = db\n", 0},
		{"base64 as in binaryData", base64.StdEncoding.EncodeToString([]byte("s3cr3t-Passw0rd-Q7xB2m")), 0},
		{"a URL value whole", "DATABASE_URL=postgres://app:s3cr3t@db/app", 3},
		{"eight bytes of a value are not enough", "image: postgres:16 from https://postgres.example", -1},
		{"all but the last byte of a value", "s3cr3t-Passw0rd-Q7xB2", -1},
		{"short value as the whole field", "pin7", 1},
		{"short value base64 as the whole field", base64.StdEncoding.EncodeToString([]byte("pin7")), 1},
		{"short value inside a field", "spin7 is a word", -1},
		{"value under four bytes is never looked for", "no", -1},
		{"field without values", "nginx:1.27", -1},
		{"empty field", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := x.Find(tc.field)
			if err != nil || got != tc.want {
				t.Errorf("Find = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestIndexBudget: a tenant who commits many SOPS values sharing a prefix
// and fields full of it meets the budget, not a quadratic search; once
// spent, the budget stays spent.
func TestIndexBudget(t *testing.T) {
	var values [][]byte
	for i := range 1000 {
		values = append(values, fmt.Appendf(nil, "%s%d", strings.Repeat("A", 64), i))
	}
	x := NewIndex(values, 1<<20)
	field := strings.Repeat("A", 1<<12)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = x.Find(field)
	}
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("err = %v, want ErrBudget", err)
	}
	if x.steps > x.maxSteps+1+64/Window {
		t.Errorf("took %d steps, budget %d", x.steps, x.maxSteps)
	}
	if _, err := x.Find("x"); !errors.Is(err, ErrBudget) {
		t.Errorf("after the budget: err = %v", err)
	}
	// Reading fields costs a step a byte, values or not.
	y := NewIndex(nil, 10)
	if _, err := y.Find(strings.Repeat("x", 11)); !errors.Is(err, ErrBudget) {
		t.Errorf("an 11-byte field within 10 steps: err = %v", err)
	}
}
