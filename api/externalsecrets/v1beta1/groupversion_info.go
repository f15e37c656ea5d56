package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of the External Secrets Operator API.
const GroupName = "external-secrets.io"

var (
	// SchemeGroupVersion is the group and version of this package's types.
	SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1beta1"}
	// SchemeBuilder registers this package's types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds this package's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&ExternalSecret{}, &ExternalSecretList{},
		&SecretStore{}, &SecretStoreList{},
		&ClusterSecretStore{}, &ClusterSecretStoreList{},
		&ClusterExternalSecret{}, &ClusterExternalSecretList{},
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
