// Package v1 holds the reference types that every version of the
// external-secrets.io API shares, field for field those of External Secrets
// Operator's apis/meta/v1: a key in a Secret and a ServiceAccount, each
// optionally in another namespace.
//
// # Namespaces
//
// A namespace in a reference is only meaningful on cluster-scoped objects
// (ClusterSecretStore). On a namespaced SecretStore the referent always lives
// in the store's own namespace; the controller must refuse a reference that
// names another one rather than follow it.
//
// +kubebuilder:object:generate=true
package v1
