package template

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
)

// rsaDecrypt decrypts in (raw bytes) with a PEM RSA private key. scheme is
// "RSA-OAEP", or "None" to return in as it is; hash is "SHA1", "SHA256"
// or "SHA512" (anything else means SHA256), as in ESO. The error is
// deliberately vague.
func rsaDecrypt(scheme, hashName, in, privateKey string) (string, error) {
	switch scheme {
	case "None":
		return in, nil
	case "RSA-OAEP":
	default:
		return "", fmt.Errorf("decryption scheme %q is not supported", scheme)
	}
	block, _, err := decodePEM(privateKey, "private key")
	if err != nil {
		return "", err
	}
	k, err := parsePrivateKey(block.Bytes)
	if err != nil {
		return "", err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("private key is not an RSA key")
	}
	out, err := rsa.DecryptOAEP(oaepHash(hashName), nil, rk, []byte(in), nil)
	if err != nil {
		return "", errors.New("error decrypting data with RSA")
	}
	return string(out), nil
}

func oaepHash(name string) hash.Hash {
	switch name {
	case "SHA1":
		return sha1.New()
	case "SHA512":
		return sha512.New()
	}
	return sha256.New()
}
