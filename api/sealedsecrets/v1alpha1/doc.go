// Package v1alpha1 holds the SealedSecret API (group bitnami.com, version
// v1alpha1), field for field the one of Bitnami Sealed Secrets, so existing
// manifests and the Bitnami CRD work unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=bitnami.com
package v1alpha1
