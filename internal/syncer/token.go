package syncer

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// ErrTokenSecret is wrapped by [Plan.Err] when the Secret to write, or the
// one it would be written into, is one Kubernetes fills with or accepts as
// credentials. It stays so until the source or the existing Secret
// changes: retrying is useless.
var ErrTokenSecret = errors.New("sealsync does not write Secrets that Kubernetes fills with or accepts as credentials")

// tokenSecret says what makes s a Secret that would give whoever wrote
// its source credentials they do not have, or "" if nothing does:
//
//   - type kubernetes.io/service-account-token: the token controller fills
//     such a Secret with a long-lived token for the service account its
//     kubernetes.io/service-account.name annotation names (ESO
//     CVE-2026-42876). The API server requires the annotation on this type,
//     so refusing the type refuses every Secret that gets a token.
//   - type bootstrap.kubernetes.io/token: the API server authenticates
//     nodes with these.
//   - the kubernetes.io/service-account.name annotation on any type: only
//     the token controller's own Secrets carry it. Refusing it too keeps
//     the check independent of how the type came about.
//
// PlanApply asks it about the object as it would be written, after
// merging into an existing Secret, and about that existing Secret: a
// Secret's type is immutable, so writing into a token Secret is writing
// next to a minted token.
func tokenSecret(s *corev1.Secret) string {
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken, corev1.SecretTypeBootstrapToken:
		return fmt.Sprintf("type %q", s.Type)
	}
	if _, ok := s.Annotations[corev1.ServiceAccountNameKey]; ok {
		return fmt.Sprintf("annotation %q", corev1.ServiceAccountNameKey)
	}
	return ""
}
