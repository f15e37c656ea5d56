// Package esdata computes the data of an ExternalSecret's Secret as ESO
// does: it reads the providers through a cache of authenticated clients
// ([ClientCache]) and a layer that shares identical reads among
// ExternalSecrets ([Reads], [NotBefore]) and batches those that miss for
// providers that read many secrets a call, reading each refresh slot
// ahead ([InSlot], batch.go), applies dataFrom rewrites and
// conversions, and renders the target template ([BuildDesired]). It also
// aligns refreshes to slots per backend identity ([NextRefresh]), so that
// the refreshes of one slot share its reads, and computes ESO's hash
// ([Hash]).
//
// What to do with the result (create, merge into, delete or keep the
// Secret under the ExternalSecret's policies) is decided by
// internal/controller/externalsecrets; package syncer plans and carries
// out the write.
package esdata
