// Package redact recognizes secret values in messages: a program that
// holds plaintext (decrypted SOPS values, values read from a secret
// store) and passes errors of other libraries on checks each message
// against a [Values] set before showing it, and shows a message of its
// own when the check reports a quote. An [Index] of the same values looks
// for them in output that must hold none, by a narrower rule: there a
// false alarm fails the output.
package redact

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync"
)

const (
	// Window is how many bytes in a row of a value, found in a message,
	// make [Values.Quotes] report it. Shorter runs are too likely to be
	// words any message holds.
	Window = 8
	// MinQuoted is the shortest value looked for at all: values of
	// MinQuoted to Window-1 bytes are looked for whole; shorter ones
	// ("1", "yes") cannot be told from the text around them.
	MinQuoted = 4
	// MaxChecked is how much of a message Quotes reads, in bytes;
	// callers cut longer messages to this length before showing them.
	MaxChecked = 64 << 10
)

// Values is a set of secret values. The zero value is empty and ready;
// it is safe for concurrent use.
type Values struct {
	mu     sync.Mutex
	values [][]byte
}

// Add records values. They are kept, not copied: callers must not change
// them afterwards.
func (s *Values) Add(values ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) >= MinQuoted {
			s.values = append(s.values, v)
		}
	}
}

// Quotes reports whether msg holds one of the values (a run of [Window]
// of its bytes, or a short value of [MinQuoted] to Window-1 bytes whole),
// as is or base64-encoded as Kubernetes Secrets hold it.
//
// Only the first [MaxChecked] bytes of msg are checked. The cost is
// linear in len(msg) plus the size of the values, paid only when there is
// a message to show.
func (s *Values) Quotes(msg string) bool {
	if s == nil {
		return false
	}
	if len(msg) > MaxChecked {
		msg = msg[:MaxChecked]
	}
	s.mu.Lock()
	values := s.values
	s.mu.Unlock()
	if len(values) == 0 || len(msg) < MinQuoted {
		return false
	}
	windows := make(map[uint64]struct{}, len(msg))
	for i := 0; i+Window <= len(msg); i++ {
		windows[binary.LittleEndian.Uint64([]byte(msg[i:i+Window]))] = struct{}{}
	}
	found := func(v []byte) bool {
		if len(v) < MinQuoted {
			return false
		}
		if len(v) < Window {
			return strings.Contains(msg, string(v))
		}
		for i := 0; i+Window <= len(v); i++ {
			if _, ok := windows[binary.LittleEndian.Uint64(v[i:i+Window])]; ok {
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
