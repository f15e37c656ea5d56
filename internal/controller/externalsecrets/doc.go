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
// # Adding a provider
//
// A provider implements providers.Provider in its own package under
// providers/ and is registered by cmd/controller; nothing in this package
// names a provider.
package externalsecrets
