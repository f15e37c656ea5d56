// Package v1 holds the External Secrets Operator API in group
// external-secrets.io, version v1, the storage version: ExternalSecret,
// SecretStore, ClusterSecretStore and ClusterExternalSecret. JSON field names,
// enums and validation are ESO's, so ESO's manifests for the vault, aws and
// fake providers apply unchanged.
//
// # No server-side defaults
//
// No field carries a CRD default. ESO defaulted optional fields, and the API
// server writing values the manifest never held kept Argo CD OutOfSync for
// good (ESO #6398). Where ESO documents a default, a DefaultX constant in
// defaults.go names it, and the controller applies it when it reads the
// object, for example cmp.Or(target.CreationPolicy, DefaultCreationPolicy).
//
// # Admission rules
//
// ESO enforces some rules in its validating webhook. Those that need no
// lookups are schema and CEL rules here, with ESO's messages, so the API
// server enforces them without a webhook: spec and data or dataFrom are
// required, deletionPolicy Delete only with a Secret the controller owns,
// deletionPolicy Merge not with creationPolicy None, one of extract, find or
// sourceRef per dataFrom entry, and no templates that mint ServiceAccount or
// bootstrap tokens.
//
// # What is left out
//
// Fields of features sealsync does not implement are absent: generators
// (sourceRef.generatorRef), generic targets (target.manifest), sync windows
// (syncWindows), providers other than vault, aws and fake, and the AWS
// CertificateManager service. A manifest using one fails kubectl's default
// strict field validation instead of being half applied; a client that asks
// only for warnings gets the field dropped, with a warning. ESO's deprecated
// fake provider field valueMap is kept.
//
// # Version v1beta1
//
// Package v1beta1 is generated from this one by
// hack/gen-externalsecrets-v1beta1.sh, so both versions serve the same schema
// and the API server converts between them by rewriting apiVersion alone.
//
// +kubebuilder:object:generate=true
// +groupName=external-secrets.io
package v1
