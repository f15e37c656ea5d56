package providers

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// Decode applies a remoteRef's decodingStrategy to a value read from a
// provider, as ESO does:
//   - None, or unset: the value as it is.
//   - Base64: standard, padded base64 (RFC 4648 §4); anything else fails.
//   - Base64URL: URL-safe, padded base64 (RFC 4648 §5); anything else fails.
//   - Auto: Base64, else Base64URL, else the value as it is. A plain value
//     that happens to be valid base64 ("test", "1234") is decoded: that is
//     why Auto is not the default.
//
// Errors say where the input stopped being base64, never what it holds.
func Decode(strategy esv1.ExternalSecretDecodingStrategy, in []byte) ([]byte, error) {
	switch strategy {
	case "", esv1.ExternalSecretDecodeNone:
		return in, nil
	case esv1.ExternalSecretDecodeBase64:
		return decodeWith(base64.StdEncoding, in)
	case esv1.ExternalSecretDecodeBase64URL:
		return decodeWith(base64.URLEncoding, in)
	case esv1.ExternalSecretDecodeAuto:
		if out, err := decodeWith(base64.StdEncoding, in); err == nil {
			return out, nil
		}
		if out, err := decodeWith(base64.URLEncoding, in); err == nil {
			return out, nil
		}
		return in, nil
	}
	return nil, fmt.Errorf("decoding strategy %q is not supported", strategy)
}

func decodeWith(enc *base64.Encoding, in []byte) ([]byte, error) {
	out := make([]byte, enc.DecodedLen(len(in)))
	n, err := enc.Decode(out, in)
	if err != nil {
		// CorruptInputError is an offset only.
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return out[:n], nil
}

// DecodeMap applies [Decode] to every value of in and returns a new map.
// The first failing key, in sorted order, is named in the error.
func DecodeMap(strategy esv1.ExternalSecretDecodingStrategy, in map[string][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v, err := Decode(strategy, in[k])
		if err != nil {
			return nil, fmt.Errorf("decode key %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// CheckNullBytes applies a nullBytePolicy to one value read for key: under
// Fail, a value holding a NUL byte is an error; under Ignore or unset,
// anything goes. The check runs on the value as it will be written, after
// decoding, since that is where binary data shows.
func CheckNullBytes(policy esv1.ExternalSecretNullBytePolicy, key string, value []byte) error {
	if policy != esv1.ExternalSecretNullBytePolicyFail || bytes.IndexByte(value, 0) < 0 {
		return nil
	}
	return fmt.Errorf("value for key %q contains NUL bytes (nullBytePolicy Fail)", key)
}

// CheckNullBytesMap applies [CheckNullBytes] to every value of m and names
// the first offending key in sorted order.
func CheckNullBytesMap(policy esv1.ExternalSecretNullBytePolicy, m map[string][]byte) error {
	if policy != esv1.ExternalSecretNullBytePolicyFail {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := CheckNullBytes(policy, k, m[k]); err != nil {
			return err
		}
	}
	return nil
}
