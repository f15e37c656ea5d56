// Package v1beta1 holds the External Secrets Operator API in group
// external-secrets.io, version v1beta1. It is served, deprecated, for
// manifests written before ESO moved to v1, and has v1's schema: objects are
// stored as v1 and the API server converts by rewriting apiVersion alone.
//
// Every file but this one and groupversion_info.go is generated from package
// v1 by hack/gen-externalsecrets-v1beta1.sh; change v1 and run make generate.
// The controller works with v1 only.
//
// +kubebuilder:object:generate=true
// +groupName=external-secrets.io
package v1beta1
