package testkit

import (
	"bytes"
	"crypto/rand"
	"strings"
	"sync"
)

// CanaryWindow is how many bytes in a row of a canary count as a leak.
const CanaryWindow = 4 // bytes

// Canary returns a fresh secret value for a test to look for where no
// secret may show: 24 random characters cycling through an upper-case
// letter, a digit and a lower-case letter ("Q7xB2m..."), about 100 bits.
// Every [CanaryWindow] bytes of it mix all three classes in that order,
// which words, names, hex hashes, UUIDs and timestamps in logs never do:
// any window found in a log is a leak, not a coincidence. It is a plain
// YAML string, a valid Vault token ID and URL user.
func Canary() string {
	const n = 24
	classes := [...]string{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "abcdefghijklmnopqrstuvwxyz"}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		c := classes[i%len(classes)]
		// The modulo bias (256 is not a multiple of 26 or 10) costs a
		// fraction of a bit; a canary needs uniqueness, not uniformity.
		b[i] = c[int(b[i])%len(c)]
	}
	return string(b)
}

// CanaryIn returns a window of canary that text holds, or "" if it holds
// none. For checking a few canaries; a suite that checks many indexes
// their windows instead.
func CanaryIn(text, canary string) string {
	for i := 0; i+CanaryWindow <= len(canary); i++ {
		if w := canary[i : i+CanaryWindow]; strings.Contains(text, w) {
			return w
		}
	}
	return ""
}

// LogBuffer is an io.Writer that keeps what concurrent loggers write, for
// tests to search.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of everything written so far.
func (b *LogBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
