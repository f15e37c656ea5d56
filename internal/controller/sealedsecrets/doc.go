// Package sealedsecrets unseals SealedSecrets (group bitnami.com) into
// Secrets, as Bitnami's Sealed Secrets controller does: same Secret, same
// Synced condition, events and metrics.
//
// A SealedSecret goes from watch event to Secret write in one reconcile
// (reconciler.go): read it from the cache, find its Secret, decide whether
// the Secret may be written (ownership, Bitnami's managed and patch
// annotations) and what it holds (unseal.go), write it through package
// syncer, and record the Synced condition (status.go). Watches, the work
// queue's rate limiter and priorities are set up in setup.go, the metrics
// in metrics.go.
//
// # Performance
//
// The path is tuned for many SealedSecrets at once, after a restart or a
// key restore:
//
//   - The status pass is separate: a reconcile that writes a Secret
//     queues the Synced condition and the Unsealed event at a priority
//     below every unseal still waiting, so that every Secret exists before
//     bookkeeping starts (Reconciler.pending remembers the write).
//   - Decryption is skipped when the Secret was written from this very
//     SealedSecret (source-hash annotation) and its data is untouched
//     (data-hash annotation): the Secret's data is reused.
//   - Only managed Secrets are cached. A new SealedSecret's Secret is
//     created without reading it first; only a create that finds one
//     reads it from the API server.
//   - A failing write is retried quickly a few times, then every minute,
//     never given up (retryLimiter).
package sealedsecrets
