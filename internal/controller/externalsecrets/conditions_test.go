package externalsecrets

import (
	"context"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// TestNamespaceRegexesMatchAsESO pins ClusterSecretStore namespaceRegexes
// to ESO's semantics (regexp.MatchString, unanchored): an operator who
// writes team-a admits team-a-evil and xteam-a too, and must anchor
// (^team-a$) to admit team-a alone. The expressions are the operator's;
// the namespace names may be chosen by tenants who can create namespaces.
func TestNamespaceRegexesMatchAsESO(t *testing.T) {
	r := &Reconciler{}
	for _, tc := range []struct {
		name    string
		regexes []string
		ns      string
		want    bool
	}{
		{"anchored admits the name", []string{"^team-a$"}, "team-a", true},
		{"anchored refuses a longer name", []string{"^team-a$"}, "team-a-evil", false},
		{"anchored refuses a name ending in it", []string{"^team-a$"}, "evil-team-a", false},
		{"unanchored admits a longer name, as in ESO", []string{"team-a"}, "team-a-evil", true},
		{"unanchored admits a name ending in it, as in ESO", []string{"team-a"}, "xteam-a", true},
		{"unanchored refuses a name without it", []string{"team-a"}, "team-b", false},
		{"anchored prefix", []string{"^team-"}, "team-b", true},
		{"any of several", []string{"^ops$", "^team-a$"}, "team-a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.namespaceAllowed(context.Background(), tc.ns, []esv1.ClusterSecretStoreCondition{{NamespaceRegexes: tc.regexes}})
			if err != nil || got != tc.want {
				t.Errorf("namespace %q, regexes %q: admitted %v (%v), want %v", tc.ns, tc.regexes, got, err, tc.want)
			}
		})
	}
	if _, err := r.namespaceAllowed(context.Background(), "team-a", []esv1.ClusterSecretStoreCondition{{NamespaceRegexes: []string{"("}}}); err == nil {
		t.Error("a regex that does not compile admitted or refused without an error")
	}
}
