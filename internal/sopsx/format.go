package sopsx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"

	"github.com/getsops/sops/v3/cmd/sops/formats"
	"go.yaml.in/yaml/v3"
)

// Format is how a SOPS file stores its tree, chosen by the file's name.
type Format int

// The formats sops reads and writes.
const (
	// Binary is any file whose name has none of the other extensions:
	// sops stores its whole content as one value of a JSON document.
	Binary Format = iota
	// YAML is a .yaml or .yml file, one or more documents.
	YAML
	// JSON is a .json file.
	JSON
	// Dotenv is a .env file of KEY=value lines.
	Dotenv
	// INI is a .ini file.
	INI
)

func (f Format) String() string {
	switch f {
	case YAML:
		return "YAML"
	case JSON:
		return "JSON"
	case Dotenv:
		return "dotenv"
	case INI:
		return "INI"
	default:
		return "binary"
	}
}

// FormatForPath returns the format sops uses for a file of that name, by
// its extension, exactly as `sops --encrypt` chose it.
func FormatForPath(name string) Format {
	switch formats.FormatForPath(name) {
	case formats.Yaml:
		return YAML
	case formats.Json:
		return JSON
	case formats.Dotenv:
		return Dotenv
	case formats.Ini:
		return INI
	default:
		return Binary
	}
}

func (f Format) sops() formats.Format {
	switch f {
	case YAML:
		return formats.Yaml
	case JSON:
		return formats.Json
	case Dotenv:
		return formats.Dotenv
	case INI:
		return formats.Ini
	default:
		return formats.Binary
	}
}

// metadataKey is the top-level key under which sops keeps its metadata in
// YAML and JSON (binary files are JSON); dotenv and INI flatten it to
// "sops_*" keys and a "[sops]" section.
const metadataKey = "sops"

// IsEncrypted reports whether data, the content of a file named name, is
// SOPS-encrypted: for YAML, JSON and binary files, whether a document has
// a top-level "sops" mapping; for dotenv, whether a line sets a "sops_"
// key; for INI, whether it has a [sops] section. It never fails: content
// that does not parse in the file's format is not SOPS-encrypted.
//
// The test looks for sops's metadata, not for a valid MAC, so that a file
// whose metadata was damaged is still treated as encrypted (and then
// refused by [Decryptor.Decrypt]) rather than passed on as plain text.
// Files without the word "sops" are rejected after one byte search.
func IsEncrypted(name string, data []byte) bool {
	if !bytes.Contains(data, []byte(metadataKey)) {
		return false
	}
	switch FormatForPath(name) {
	case YAML:
		return yamlHasMetadata(data)
	case Dotenv:
		return dotenvHasMetadata(data)
	case INI:
		return iniHasMetadata(data)
	default: // JSON, and binary files, which sops stores as JSON
		return jsonHasMetadata(data)
	}
}

// yamlHasMetadata reports whether a document of data has a top-level
// "sops" mapping. Decoding into yaml.Node expands no aliases, so its cost
// is linear in len(data).
func yamlHasMetadata(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			// io.EOF ends the stream; any other error means data is not
			// YAML sops could have written.
			return false
		}
		if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[0].Content
		for i := 0; i+1 < len(m); i += 2 {
			if m[i].Kind == yaml.ScalarNode && m[i].Value == metadataKey && m[i+1].Kind == yaml.MappingNode {
				return true
			}
		}
	}
}

// jsonHasMetadata reports whether data is a JSON object with a top-level
// "sops" object. It reads top-level tokens only and skips the values of
// other keys without building them.
func jsonHasMetadata(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		key, _ := t.(string)
		if key == metadataKey {
			t, err := dec.Token()
			return err == nil && t == json.Delim('{')
		}
		if err := skipJSONValue(dec); err != nil {
			return false
		}
	}
	return false
}

// skipJSONValue consumes one value from dec. Counting delimiters keeps it
// iterative, whatever the nesting.
func skipJSONValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// dotenvHasMetadata reports whether a line of data sets a "sops_" key, as
// sops's dotenv store writes its flattened metadata.
func dotenvHasMetadata(data []byte) bool {
	found := false
	eachLine(data, func(line string) bool {
		key, _, ok := strings.Cut(line, "=")
		found = ok && strings.HasPrefix(key, metadataKey+"_")
		return !found
	})
	return found
}

// iniHasMetadata reports whether data has a [sops] section.
func iniHasMetadata(data []byte) bool {
	found := false
	eachLine(data, func(line string) bool {
		found = strings.TrimSpace(line) == "["+metadataKey+"]"
		return !found
	})
	return found
}

// eachLine calls f on every line of data until f returns false. Lines of
// any length are read (bufio.Reader, not Scanner, whose token limit would
// make a long line end the search early).
func eachLine(data []byte, f func(string) bool) {
	r := bufio.NewReader(bytes.NewReader(data))
	for {
		line, err := r.ReadString('\n')
		if len(line) > 0 && !f(strings.TrimRight(line, "\r\n")) {
			return
		}
		if err != nil { // io.EOF included
			return
		}
	}
}
