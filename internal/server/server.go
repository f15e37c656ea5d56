// Package server is the controller's HTTP API, on Bitnami's port and paths
// so that Bitnami's kubeseal reaches it unchanged.
package server

import (
	"github.com/sealsync/sealsync/crypto"
)

// Keys gives the server the controller's current keys.
type Keys interface {
	// Keyring returns the current snapshot; never nil, possibly empty while
	// the first key is being generated.
	Keyring() *crypto.Keyring
}

// KeyInfo is one entry of GET /v1/keys: what anyone may know about a key.
type KeyInfo struct {
	// ID is the key ID (crypto.KeyID) in hex.
	ID string `json:"id"`
	// Status is "active" or "compromised".
	Status string `json:"status"`
	// Created orders the keys (certificate NotBefore by default).
	Created string `json:"created"`
	// NotAfter is when the key's certificate expires, if it has one.
	NotAfter string `json:"notAfter,omitempty"`
	// Latest is true for the key new values are sealed with.
	Latest bool `json:"latest"`
}

// KeyList is the body of GET /v1/keys, newest first.
type KeyList struct {
	// Keys are the controller's keys, newest first.
	Keys []KeyInfo `json:"keys"`
}

// RotateRequestAnnotation, set to an RFC 3339 time on any key Secret, asks
// the controller to generate a new key if its newest key is older than
// that time. It is how `kubeseal keys rotate` asks for a key: patching a
// key Secret needs rights the API server checks, which a call through the
// service proxy would not.
const RotateRequestAnnotation = "sealsync.dev/rotate-requested-at"
