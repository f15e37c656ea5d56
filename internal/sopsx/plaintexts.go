package sopsx

import (
	"slices"
	"strings"

	"github.com/getsops/sops/v3"
)

// A Plaintext is a string value a [Decryptor] decrypted, and where it
// stood. The key path is not secret: sops never encrypts keys.
type Plaintext struct {
	// File is the SOPS file's name as the caller gave it.
	File string
	// Key is the value's keys in the file joined by dots ("db.password",
	// "API_TOKEN"), or "" for the content of a binary file.
	Key string
	// Value is the plaintext. It is shared with the Decryptor: callers
	// must not change it.
	Value []byte
}

// Plaintexts returns the string values this Decryptor has decrypted so
// far, in the order decrypted: what a caller looks for in output that
// must hold no secret (the Argo CD plugin refuses objects other than
// Secrets that hold one). Two kinds of values are left out, as not secret
// material:
//
//   - values that are not strings (numbers, booleans, times) and
//     comments: sops encrypts every value of a file unless told otherwise,
//     and `replicas: 3` or `enabled: true` are found in every manifest;
//   - the apiVersion, kind and metadata of a Kubernetes object, in a YAML
//     or JSON file whose every document is one: a Secret's name,
//     namespace and labels are how other objects refer to it.
func (d *Decryptor) Plaintexts() []Plaintext {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.strings)
}

// manifestKeys are the top-level keys of a Kubernetes object whose
// values are not secret material.
var manifestKeys = []string{"apiVersion:", "kind:", "metadata:"}

// addStrings keeps the string values of one file that are secret
// material (see Plaintexts), their keys joined by dots.
func (d *Decryptor) addStrings(format Format, branches sops.TreeBranches, strs []Plaintext) {
	manifest := (format == YAML || format == JSON) && len(branches) > 0
	for _, b := range branches {
		manifest = manifest && hasKey(b, "apiVersion") && hasKey(b, "kind")
	}
	kept := strs[:0]
	for _, p := range strs {
		if manifest && slices.ContainsFunc(manifestKeys, func(k string) bool { return strings.HasPrefix(p.Key, k) }) {
			continue
		}
		p.Key = strings.ReplaceAll(strings.TrimSuffix(p.Key, ":"), ":", ".")
		if format == Binary {
			// sops keeps a binary file's content under the key "data".
			p.Key = ""
		}
		kept = append(kept, p)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.strings = append(d.strings, kept...)
}

// hasKey reports whether the top level of a document has the key.
func hasKey(b sops.TreeBranch, key string) bool {
	return slices.ContainsFunc(b, func(it sops.TreeItem) bool { return it.Key == key })
}
