// Package externalsecrets syncs ExternalSecrets (group
// external-secrets.io) from their stores' providers into Secrets, as the
// External Secrets Operator does, and runs the ClusterExternalSecret,
// SecretStore and ClusterSecretStore controllers around them. Status
// fields, events, labels, annotations and metrics are ESO's.
//
// An ExternalSecret goes from watch event to Secret write in one
// reconcile: read it and resolve its store (class, namespace conditions,
// readiness, a cached client), decide whether a refresh is due, read the
// provider through package esdata (cached clients, shared reads, the
// template), decide what to write under the creation and deletion
// policies, and write through package syncer. The Kubernetes access that
// providers get (credentials, ServiceAccount tokens) is storeKube's, the
// one place that applies ESO's namespace rules and refuses tokens for the
// API server's audiences.
//
// The decisions are one pure function (Decide in decide.go, with the
// creation policy's Secret in target.go): every rule of ESO's they apply
// is tested without an API server. The reconciler (reconciler.go) only
// reads, acts and records; store resolution is in stores.go, what it
// remembers between reconciles in memo.go. The finalizers ESO left on
// ExternalSecrets, ClusterExternalSecrets and namespaces are honoured and
// removed when those are deleted (finalizers.go).
//
// # Performance
//
//   - Clients are cached per store and reused until the store's spec or
//     credentials change (esdata.ClientCache): no login per reconcile.
//   - Identical reads are shared among ExternalSecrets of the same
//     backend identity (esdata.Reads): refreshes are aligned to slots per
//     identity, and every refresh of a slot reuses the slot's reads
//     (Decision.NotBefore); ExternalSecrets created together share their
//     first reads.
//   - Where the provider reads many secrets a call (AWS), the reads that
//     miss are batched, and the first scheduled refresh of a slot reads
//     ahead what the refreshes due in the slot read last time, late ones
//     included (Decision.Slot, esdata.InSlot).
//   - New and changed ExternalSecrets jump the work queue ahead of the
//     refresh backlog (priority queue; refreshes are requeued at low
//     priority).
//   - A Secret changed behind the controller's back is repaired from the
//     last write, without calling the provider; the echo of the
//     controller's own status write is recognised and not synced again.
//
// # Refresh on demand
//
// A change of an ExternalSecret's annotations refreshes it at once, from
// the provider as it is now (Decide: the synced version hashes labels and
// annotations). ESO's force-sync annotation works that way, and so does
// POST /v1/refresh (package server): every replica serves it, and
// [Refresher] sets [RefreshRequestedAnnotation] on the ExternalSecrets the
// authenticated caller may patch, which the leader sees through its watch.
// A ClusterExternalSecret keeps that annotation on the ExternalSecrets it
// owns.
//
// # Adding a provider
//
// A provider implements providers.Provider in its own package under
// providers/ and is registered by cmd/controller (see package providers);
// nothing in this package names a provider.
package externalsecrets
