package keyfile

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sealsync/sealsync/crypto"
)

// UndatedNotBefore dates the certificate kubeseal makes for a key that
// was handed to it without one and is not the newest: older than any
// key with a real date, so it never becomes the sealing key ahead of one,
// and the controller's renewal soon makes a fresh sealing key if it is
// the only one. A certificate dated so says "older than every dated
// key", nothing more: two such keys are not ordered.
var UndatedNotBefore = time.Unix(0, 0).UTC()

// MinChoiceDigits is how many leading hex digits of a key ID name a key
// in a choice of the newest key (kubeseal lists 12).
const MinChoiceDigits = 8

// OrderError is returned when the key files do not say which active key
// is the newest, which is the one that seals: keys without a certificate
// carry no date at all, and keys whose certificates carry the same date
// (such as two dated [UndatedNotBefore]) are not ordered.
type OrderError struct {
	// Keys are the active keys any of which may be the newest, dated
	// first, newest first, then the undated ones, by key ID.
	Keys []*crypto.Key
}

func (e *OrderError) Error() string {
	ids := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		ids[i] = k.ID.Short()
	}
	return fmt.Sprintf("cannot tell which of the keys %s is the newest, the one that seals", strings.Join(ids, ", "))
}

// Dated reports whether k's place among keys is known: it has a
// certificate, whose NotBefore orders it.
func Dated(k *crypto.Key) bool { return k.Certificate != nil }

// Newest returns the key that seals among keys read from the operator's
// files: the active key named by choice (a key ID, or a prefix of at
// least MinChoiceDigits hex digits) if given, else the newest active key.
//
// Without a choice, the newest must be known: if an active key has no
// certificate, or the newest certificates of two active keys carry the
// same date, the answer is an *OrderError naming the keys that may be
// it. A choice that contradicts the certificates (a dated key named while
// another active key's certificate is newer) is refused too: the choice
// is for what the files do not say, not to override what they do.
func Newest(keys []*crypto.Key, choice string) (*crypto.Key, error) {
	active := activeKeys(keys)
	if choice != "" {
		chosen, err := find(keys, choice)
		if err != nil {
			return nil, err
		}
		if chosen.Status != crypto.StatusActive || !slices.Contains(active, chosen) {
			return nil, fmt.Errorf("key %s is compromised: it never seals", chosen.ID.Short())
		}
		if !Dated(chosen) || chosen.Created.Equal(UndatedNotBefore) {
			return chosen, nil
		}
		for _, k := range active {
			if Dated(k) && k.Created.After(chosen.Created) {
				return nil, fmt.Errorf("key %s is not the newest: key %s's certificate is dated %s, after its %s",
					chosen.ID.Short(), k.ID.Short(), k.Created.UTC().Format(time.RFC3339), chosen.Created.UTC().Format(time.RFC3339))
			}
		}
		return chosen, nil
	}
	if len(active) == 0 {
		return nil, crypto.ErrNoActiveKey
	}
	var candidates []*crypto.Key
	var newest time.Time
	for _, k := range active {
		if Dated(k) && k.Created.After(newest) {
			newest = k.Created
		}
	}
	for _, k := range active {
		if !Dated(k) || k.Created.Equal(newest) {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) > 1 {
		slices.SortFunc(candidates, func(a, b *crypto.Key) int {
			if Dated(a) != Dated(b) {
				if Dated(a) {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.ID.String(), b.ID.String())
		})
		return nil, &OrderError{Keys: candidates}
	}
	return candidates[0], nil
}

// activeKeys returns the active keys, one per key ID: a key given twice
// is dated if either copy is, and compromised (so not here) if either is,
// as crypto.NewKeyring keeps it.
func activeKeys(keys []*crypto.Key) []*crypto.Key {
	byID := map[crypto.KeyID]*crypto.Key{}
	var order []crypto.KeyID
	for _, k := range keys {
		have, ok := byID[k.ID]
		switch {
		case !ok:
			byID[k.ID] = k
			order = append(order, k.ID)
		case k.Status == crypto.StatusCompromised:
			byID[k.ID] = k
		case have.Status == crypto.StatusActive && !Dated(have) && Dated(k):
			byID[k.ID] = k
		}
	}
	var active []*crypto.Key
	for _, id := range order {
		if k := byID[id]; k.Status == crypto.StatusActive {
			active = append(active, k)
		}
	}
	return active
}

// find returns the key whose ID choice names.
func find(keys []*crypto.Key, choice string) (*crypto.Key, error) {
	c := strings.ToLower(strings.TrimSpace(choice))
	if len(c) < MinChoiceDigits || len(c) > hex.EncodedLen(len(crypto.KeyID{})) {
		return nil, fmt.Errorf("key ID %q: give at least %d of its hex digits", choice, MinChoiceDigits)
	}
	if _, err := hex.DecodeString(c[:len(c)/2*2]); err != nil {
		return nil, fmt.Errorf("key ID %q is not hexadecimal", choice)
	}
	var found *crypto.Key
	for _, k := range keys {
		if !strings.HasPrefix(k.ID.String(), c) || (found != nil && found.ID == k.ID) {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("key ID %q names more than one key: give more digits", choice)
		}
		found = k
	}
	if found == nil {
		return nil, fmt.Errorf("no key %q among the keys given", choice)
	}
	// The copy that decides its status and date.
	for _, k := range activeKeys(keys) {
		if k.ID == found.ID {
			return k, nil
		}
	}
	return found, nil
}
