package restart

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
)

// record is what RecordAnnotation holds: the digest of each Secret a
// workload references, as of its last rollout (or of the first time it
// was seen), under the key whose id it names.
//
// Its text form is "<key id>:<name>=<digest>,<name>=<digest>", names
// sorted: Secret names never hold ':', '=' or ','.
type record struct {
	keyID   string
	digests map[string]string
}

// maxRecordBytes bounds the annotation parseRecord reads: a tenant may
// write anything there. Enough for DefaultMaxSecrets names of 253 bytes.
const maxRecordBytes = 64 << 10

var errBadRecord = errors.New("malformed record")

// parseRecord reads a record written by format. Anything else (a hand
// edit, a tenant's value) is an error, and the caller treats the workload
// as seen for the first time: it records what is, and restarts nothing.
func parseRecord(s string) (record, error) {
	if len(s) > maxRecordBytes {
		return record{}, errBadRecord
	}
	keyID, rest, ok := strings.Cut(s, ":")
	if !ok || keyID == "" {
		return record{}, errBadRecord
	}
	r := record{keyID: keyID, digests: map[string]string{}}
	if rest == "" {
		return r, nil
	}
	for entry := range strings.SplitSeq(rest, ",") {
		name, digest, ok := strings.Cut(entry, "=")
		if !ok || name == "" || digest == "" {
			return record{}, errBadRecord
		}
		if _, dup := r.digests[name]; dup {
			return record{}, errBadRecord
		}
		r.digests[name] = digest
	}
	return r, nil
}

// format is the annotation's text form of r.
func (r record) format() string {
	var b strings.Builder
	b.WriteString(r.keyID)
	b.WriteByte(':')
	for i, name := range slices.Sorted(maps.Keys(r.digests)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(r.digests[name])
	}
	return b.String()
}

// templateHash is the pod template annotation of a rollout for r: it
// changes whenever a digest does, so setting it rolls the pods.
func (r record) templateHash() string {
	sum := sha256.Sum256([]byte(r.format()))
	return hex.EncodeToString(sum[:16])
}

// decide compares the Secrets a workload references now (refs; current
// holds the digests of those that exist and are managed) with what was
// recorded (prev, if hadPrev), and returns the record to keep and the
// names of the Secrets that changed, sorted.
//
//   - No record, or one under another key: nothing changed; record what
//     is. That is the first time a workload is seen, so adding the
//     annotation never restarts it.
//   - A Secret whose digest differs from the recorded one changed; so did
//     one that appeared (created, or written by sealsync for the first
//     time), so that pods that started without it get it.
//   - A Secret that is gone (deleted, or never managed) changes nothing:
//     new pods would not start without it. Its recorded digest is kept
//     while the workload references it, so that it coming back unchanged
//     changes nothing either. Secrets no longer referenced are dropped.
func decide(prev record, hadPrev bool, keyID string, refs []string, current map[string]string) (next record, changed []string) {
	comparable := hadPrev && prev.keyID == keyID
	next = record{keyID: keyID, digests: map[string]string{}}
	for _, name := range refs {
		d, ok := current[name]
		if !ok {
			if old, had := prev.digests[name]; comparable && had {
				next.digests[name] = old
			}
			continue
		}
		next.digests[name] = d
		if comparable && prev.digests[name] != d {
			changed = append(changed, name)
		}
	}
	return next, changed
}
