package keybackup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

var (
	// ErrInvalid is returned by [Open] for a bundle that decrypts but whose
	// content is not a valid version 1 payload or does not match its
	// manifest.
	ErrInvalid = errors.New("keybackup: invalid bundle content")
	// ErrUnsupportedVersion is returned by [Open] for a bundle written in a
	// format version this package does not know.
	ErrUnsupportedVersion = errors.New("keybackup: unsupported bundle format version")
)

// payload is the plaintext of a bundle, as described in the package
// documentation.
type payload struct {
	Manifest wireManifest    `json:"manifest"`
	Secrets  []corev1.Secret `json:"secrets"`
}

type wireManifest struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Keys    []wireKey `json:"keys"`
}

type wireKey struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	Secret    string    `json:"secret,omitempty"`
}

// encodePayload returns the plaintext of b. The caller clears it.
func encodePayload(b *Bundle) ([]byte, error) {
	p := payload{Manifest: wireManifest{
		Format: FormatName, Version: b.manifest.Version, Created: b.manifest.Created,
	}}
	for i, k := range b.manifest.Keys {
		p.Manifest.Keys = append(p.Manifest.Keys, wireKey{
			ID: k.ID.String(), Status: k.Status.String(),
			NotBefore: k.NotBefore, NotAfter: k.NotAfter, Secret: k.Secret,
		})
		p.Secrets = append(p.Secrets, b.entries[i].secret)
	}
	return json.MarshalIndent(p, "", "  ")
}

// decodePayload parses and verifies the plaintext of a bundle: the
// manifest parser. Errors describe the structure, never key material.
func decodePayload(b []byte) (*Bundle, error) {
	// The format and version first, leniently, so that a newer bundle is
	// reported as such rather than as a pile of unknown fields.
	// json.Unmarshal also refuses anything after the object.
	var head struct {
		Manifest struct {
			Format  string `json:"format"`
			Version int    `json:"version"`
		} `json:"manifest"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object with a manifest", ErrInvalid)
	}
	if head.Manifest.Format != FormatName {
		return nil, fmt.Errorf("%w: manifest.format is not %q: not a sealsync key backup", ErrInvalid, FormatName)
	}
	if head.Manifest.Version != Version {
		return nil, fmt.Errorf("%w %d: this kubeseal reads version %d only; use a newer release", ErrUnsupportedVersion, head.Manifest.Version, Version)
	}

	var p payload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			// Its message quotes the offending character.
			return nil, fmt.Errorf("%w: malformed JSON at byte %d", ErrInvalid, syntax.Offset)
		}
		// The other messages name fields and types, never values.
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return p.verify()
}

// verify checks that the manifest describes the Secrets exactly, and
// returns the bundle.
func (p *payload) verify() (*Bundle, error) {
	m := p.Manifest
	if m.Created.IsZero() {
		return nil, fmt.Errorf("%w: manifest.created is missing", ErrInvalid)
	}
	if len(m.Keys) == 0 {
		return nil, fmt.Errorf("%w: the manifest lists no keys", ErrInvalid)
	}
	if len(m.Keys) != len(p.Secrets) {
		return nil, fmt.Errorf("%w: the manifest lists %d keys but the bundle holds %d Secrets", ErrInvalid, len(m.Keys), len(p.Secrets))
	}
	b := &Bundle{manifest: Manifest{Version: m.Version, Created: m.Created.UTC()}}
	ids := map[crypto.KeyID]bool{}
	names := map[string]bool{}
	for i, wk := range m.Keys {
		s := &p.Secrets[i]
		where := describe(i, s.Name)
		e, err := verifyEntry(wk, s)
		if err != nil {
			return nil, fmt.Errorf("%w: secret %s: %v", ErrInvalid, where, err)
		}
		if ids[e.key.ID] {
			return nil, fmt.Errorf("%w: secret %s: key %s appears twice", ErrInvalid, where, e.key.ID.Short())
		}
		ids[e.key.ID] = true
		if s.Name != "" {
			if names[s.Name] {
				return nil, fmt.Errorf("%w: secret %s: the name appears twice", ErrInvalid, where)
			}
			names[s.Name] = true
		}
		b.entries = append(b.entries, e)
		b.manifest.Keys = append(b.manifest.Keys, infoOf(e))
	}
	return b, nil
}

// verifyEntry checks one Secret against its manifest entry.
func verifyEntry(wk wireKey, s *corev1.Secret) (entry, error) {
	id, err := crypto.ParseKeyID(wk.ID)
	if err != nil {
		return entry{}, errors.New("manifest id is not 64 hex digits")
	}
	status, err := crypto.ParseStatus(wk.Status)
	if err != nil {
		return entry{}, errors.New("manifest status is neither active nor compromised")
	}
	if v, ok := s.Labels[StatusLabel]; !ok || v != wk.Status {
		return entry{}, fmt.Errorf("label %s does not match the manifest status", StatusLabel)
	}
	if wk.Secret != s.Name {
		return entry{}, errors.New("the name does not match the manifest")
	}
	// Only what reduce keeps may be there: no namespace, owner, finalizer
	// or extra item can ride along into a restore.
	if !sameJSON(reduce(s, status), *s) {
		return entry{}, errors.New("holds fields a bundle never carries (a bundle Secret has only name, labels, annotations, creationTimestamp, type kubernetes.io/tls, and data tls.crt and tls.key)")
	}
	key, err := keysecret.ParseKey(s, status, time.Time{})
	if err != nil {
		return entry{}, err
	}
	if key.ID != id {
		return entry{}, errors.New("the key ID of tls.key does not match the manifest")
	}
	c := key.Certificate
	if !c.NotBefore.Equal(wk.NotBefore) || !c.NotAfter.Equal(wk.NotAfter) {
		return entry{}, errors.New("the certificate's validity does not match the manifest")
	}
	return entry{secret: *s, key: key}, nil
}

// sameJSON reports whether a and b encode alike.
func sameJSON(a, b corev1.Secret) bool {
	ja, err := json.Marshal(a)
	if err != nil {
		return false
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false
	}
	return bytes.Equal(ja, jb)
}
