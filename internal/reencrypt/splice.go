package reencrypt

import (
	"bytes"
	"errors"
	"slices"
)

// edit replaces in[start:end] with text; start == end inserts text there.
type edit struct {
	start, end int
	text       []byte
}

// apply returns in with edits made. The edits must not overlap: each is
// made against the original bytes, and every byte outside them is copied
// as it is.
func apply(in []byte, edits []edit) ([]byte, error) {
	edits = slices.Clone(edits)
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	var out bytes.Buffer
	out.Grow(len(in))
	pos := 0
	for i, e := range edits {
		if e.start < pos || e.end < e.start || e.end > len(in) {
			return nil, errors.New("internal error: overlapping or out-of-range edits")
		}
		if i > 0 && e.start == edits[i-1].start {
			return nil, errors.New("internal error: two edits at one offset")
		}
		out.Write(in[pos:e.start])
		out.Write(e.text)
		pos = e.end
	}
	out.Write(in[pos:])
	return out.Bytes(), nil
}

// lineBreakBefore returns the line break that ends just before off, which
// must be the start of a line, so that inserted lines use the file's own
// line endings (CRLF stays CRLF).
func lineBreakBefore(data []byte, off int) []byte {
	for _, b := range [][]byte{[]byte("\r\n"), []byte("\u2028"), []byte("\u2029"), []byte("\u0085"), []byte("\n"), []byte("\r")} {
		if bytes.HasSuffix(data[:off], b) {
			return b
		}
	}
	return []byte("\n")
}

// breakLen returns the length of the line break at data[i], or 0 if
// there is none: "\r\n", "\r", "\n", and the NEL, LS and PS characters
// that the YAML parser also counts as line breaks.
func breakLen(data []byte, i int) int {
	if i >= len(data) {
		return 0
	}
	switch data[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(data) && data[i+1] == '\n' {
			return 2
		}
		return 1
	case 0xC2:
		if i+1 < len(data) && data[i+1] == 0x85 {
			return 2
		}
	case 0xE2:
		if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

// lineEnd returns the offset of the line break (or end of data) of the
// line that holds off.
func lineEnd(data []byte, off int) int {
	for off < len(data) && breakLen(data, off) == 0 {
		off++
	}
	return off
}

// isSealedValue reports whether v may be spliced into a file as it is:
// standard base64 (a ciphertext) or hex (a key ID), which need no quoting
// or escaping in JSON or in any YAML scalar style.
func isSealedValue(v string) bool {
	if v == "" {
		return false
	}
	for i := range len(v) {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
