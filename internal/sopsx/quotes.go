package sopsx

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
)

const (
	// quoteWindow is how many bytes in a row of a decrypted value, found
	// in a message, make [Decryptor.Quotes] report it. Shorter runs are
	// too likely to be words any message holds.
	quoteWindow = 8
	// minQuoted is the shortest value looked for at all: values of
	// minQuoted to quoteWindow-1 bytes are looked for whole; shorter ones
	// ("1", "yes") cannot be told from the text around them.
	minQuoted = 4
	// maxCheckedMessage is how much of a message Quotes reads; callers
	// should cut messages to this length before showing them.
	maxCheckedMessage = 64 << 10
)

// Quotes reports whether msg holds a value this Decryptor decrypted (a
// run of 8 of its bytes, or a short value of 4 to 7 bytes whole), as is
// or base64-encoded as Kubernetes Secrets hold it. A caller whose later
// steps may quote what they read (kustomize and Helm print objects and
// values in some of their errors) checks its error with Quotes and, when
// it reports true, shows a message of its own instead.
//
// Only the first 64 KiB of msg are checked; callers cut longer messages.
// The cost is linear in len(msg) plus the size of everything decrypted,
// paid only when there is an error to show.
func (d *Decryptor) Quotes(msg string) bool {
	if len(msg) > maxCheckedMessage {
		msg = msg[:maxCheckedMessage]
	}
	d.mu.Lock()
	values := d.values
	d.mu.Unlock()
	if len(values) == 0 || len(msg) < minQuoted {
		return false
	}
	windows := make(map[uint64]struct{}, len(msg))
	for i := 0; i+quoteWindow <= len(msg); i++ {
		windows[binary.LittleEndian.Uint64([]byte(msg[i:i+quoteWindow]))] = struct{}{}
	}
	found := func(v []byte) bool {
		if len(v) < minQuoted {
			return false
		}
		if len(v) < quoteWindow {
			return strings.Contains(msg, string(v))
		}
		for i := 0; i+quoteWindow <= len(v); i++ {
			if _, ok := windows[binary.LittleEndian.Uint64(v[i:i+quoteWindow])]; ok {
				return true
			}
		}
		return false
	}
	for _, v := range values {
		if found(v) || found([]byte(base64.StdEncoding.EncodeToString(v))) {
			return true
		}
	}
	return false
}
