// Package sealedsecrets unseals SealedSecrets (group bitnami.com) into
// Secrets, as Bitnami's Sealed Secrets controller does: same Secret, same
// Synced condition, events and metrics.
//
// A SealedSecret goes from watch event to Secret write in one reconcile:
// read it from the cache, decrypt it with the keyring (or reuse the data
// of a Secret it already wrote, when the source hash and the data hash say
// nothing changed), and write the Secret through package syncer. The
// Synced condition and the Unsealed event follow in a second pass queued
// at low priority, so that after a restart every Secret exists before any
// bookkeeping starts.
package sealedsecrets
