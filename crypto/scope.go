package crypto

import (
	"fmt"
)

// Scope says where a sealed value may be unsealed.
type Scope int

const (
	// ScopeStrict binds a value to one namespace and one name.
	ScopeStrict Scope = iota
	// ScopeNamespaceWide binds a value to one namespace; the name may change.
	ScopeNamespaceWide
	// ScopeClusterWide lets a value be unsealed under any name in any namespace.
	ScopeClusterWide
)

// ParseScope parses the names kubeseal's --scope flag takes. The empty
// string is the default, strict.
func ParseScope(s string) (Scope, error) {
	switch s {
	case "", "strict":
		return ScopeStrict, nil
	case "namespace-wide":
		return ScopeNamespaceWide, nil
	case "cluster-wide":
		return ScopeClusterWide, nil
	}
	return ScopeStrict, fmt.Errorf("crypto: unknown scope %q: must be one of: strict, namespace-wide, cluster-wide", s)
}

// String returns the scope's flag name.
func (s Scope) String() string {
	switch s {
	case ScopeStrict:
		return "strict"
	case ScopeNamespaceWide:
		return "namespace-wide"
	case ScopeClusterWide:
		return "cluster-wide"
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// Label returns the RSA-OAEP label that binds a value to its scope:
// "<namespace>/<name>" for strict (a literal slash), "<namespace>" for
// namespace-wide and empty for cluster-wide. These bytes are the Bitnami
// wire format's; changing them breaks every sealed value.
func Label(scope Scope, namespace, name string) []byte {
	switch scope {
	case ScopeClusterWide:
		return []byte{}
	case ScopeNamespaceWide:
		return []byte(namespace)
	default:
		return []byte(namespace + "/" + name)
	}
}
