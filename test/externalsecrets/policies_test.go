package externalsecrets_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// policyES is an ExternalSecret named name with the two policies, reading
// keys "a" and "b" from their own Vault secrets.
func policyES(name, store, creation, deletion string) string {
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %[1]s
spec:
  refreshInterval: 2s
  secretStoreRef:
    name: %[2]s
  target:
    creationPolicy: %[3]s
    deletionPolicy: %[4]s
  data:
  - secretKey: a
    remoteRef:
      key: policy/%[1]s/a
      property: value
  - secretKey: b
    remoteRef:
      key: policy/%[1]s/b
      property: value
`, name, store, creation, deletion)
}

// What a step leaves. A nil map means no Secret; keep means the Secret is
// byte for byte what it was and the ExternalSecret failed with fail.
type policyStep struct {
	keys []string // the Secret holds exactly these keys ("theirs", "a", "b")
	gone bool     // no Secret
	keep bool     // untouched
	fail string   // Ready=False with this in the message; "" means Ready=True
}

// TestPolicies runs every creationPolicy × deletionPolicy the CRD admits
// through three steps: the first sync, Vault secret b deleted, Vault
// secret a deleted too.
func TestPolicies(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	const notFound = "secret not found"
	const notOwned = "Can not delete secret i do not own"
	cases := []struct {
		creation, deletion string
		// existing: a Secret with key "theirs" is there before.
		existing               bool
		synced, bGone, allGone policyStep
	}{
		{creation: "Owner", deletion: "Retain",
			synced: policyStep{keys: []string{"a", "b"}}, bGone: policyStep{keep: true, fail: notFound}, allGone: policyStep{keep: true, fail: notFound}},
		{creation: "Owner", deletion: "Delete",
			synced: policyStep{keys: []string{"a", "b"}}, bGone: policyStep{keys: []string{"a"}}, allGone: policyStep{gone: true}},
		{creation: "Owner", deletion: "Merge",
			synced: policyStep{keys: []string{"a", "b"}}, bGone: policyStep{keys: []string{"a"}}, allGone: policyStep{keys: []string{}}},
		{creation: "Orphan", deletion: "Retain",
			synced: policyStep{keys: []string{"a", "b"}}, bGone: policyStep{keep: true, fail: notFound}, allGone: policyStep{keep: true, fail: notFound}},
		// ESO deletes only a Secret it owns, and says so.
		{creation: "Orphan", deletion: "Delete",
			synced: policyStep{keys: []string{"a", "b"}}, bGone: policyStep{keys: []string{"a"}}, allGone: policyStep{keep: true, fail: notOwned}},
		{creation: "Orphan", deletion: "Merge",
			synced: policyStep{keys: []string{"a", "b"}}, bGone: policyStep{keys: []string{"a"}}, allGone: policyStep{keys: []string{}}},
		{creation: "Merge", deletion: "Retain", existing: true,
			synced: policyStep{keys: []string{"theirs", "a", "b"}}, bGone: policyStep{keep: true, fail: notFound}, allGone: policyStep{keep: true, fail: notFound}},
		{creation: "Merge", deletion: "Merge", existing: true,
			synced: policyStep{keys: []string{"theirs", "a", "b"}}, bGone: policyStep{keys: []string{"theirs", "a"}}, allGone: policyStep{keys: []string{"theirs"}}},
		{creation: "None", deletion: "Retain",
			synced: policyStep{gone: true}, bGone: policyStep{gone: true, fail: notFound}, allGone: policyStep{gone: true, fail: notFound}},
		{creation: "CreateOrMerge", deletion: "Retain", existing: true,
			synced: policyStep{keys: []string{"theirs", "a", "b"}}, bGone: policyStep{keep: true, fail: notFound}, allGone: policyStep{keep: true, fail: notFound}},
		{creation: "CreateOrMerge", deletion: "Merge", existing: true,
			synced: policyStep{keys: []string{"theirs", "a", "b"}}, bGone: policyStep{keys: []string{"theirs", "a"}}, allGone: policyStep{keys: []string{"theirs"}}},
		// Created by the ExternalSecret, merged into afterwards.
		{creation: "CreateOrMerge", deletion: "Merge",
			synced: policyStep{keys: []string{"a", "b"}}, bGone: policyStep{keys: []string{"a"}}, allGone: policyStep{keys: []string{}}},
	}
	s := setup(t, 1)
	ns := s.ns[0]
	s.apply(ns, tokenStore(t, v, "vault"))

	// The combinations the CRD refuses, with ESO's messages.
	for _, c := range []struct{ creation, deletion, msg string }{
		{"Merge", "Delete", "deletionPolicy=Delete must not be used when the controller doesn't own the secret"},
		{"None", "Delete", "deletionPolicy=Delete must not be used when the controller doesn't own the secret"},
		{"CreateOrMerge", "Delete", "deletionPolicy=Delete must not be used when the controller doesn't own the secret"},
		{"None", "Merge", "deletionPolicy=Merge must not be used with creationPolicy=None"},
	} {
		err := s.tryApply(ns, policyES("refused", "vault", c.creation, c.deletion))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("creationPolicy %s, deletionPolicy %s: got %v, want the API server to refuse it: %s", c.creation, c.deletion, err, c.msg)
		}
	}

	names := make([]string, len(cases))
	values := map[string]map[string]string{}
	for i, c := range cases {
		name := strings.ToLower(c.creation + "-" + c.deletion)
		if c.existing {
			name += "-existing"
		}
		names[i] = name
		values[name] = map[string]string{"theirs": "their value", "a": value(name + "-a"), "b": value(name + "-b")}
		put(t, v, "policy/"+name+"/a", map[string]any{"value": values[name]["a"]})
		put(t, v, "policy/"+name+"/b", map[string]any{"value": values[name]["b"]})
		if c.existing {
			s.apply(ns, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\nstringData:\n  theirs: their value\n", name))
		}
		s.apply(ns, policyES(name, "vault", c.creation, c.deletion))
	}

	last := map[string]*corev1.Secret{}
	check := func(step string, pick func(i int) policyStep) {
		t.Helper()
		for i, c := range cases {
			name := names[i]
			t.Run(step+"/"+name, func(t *testing.T) {
				s := s.with(t)
				want := pick(i)
				if want.fail != "" {
					s.waitFailed(ns, name, want.fail)
				} else if c.creation == "Owner" && want.gone {
					s.waitReady(ns, name, corev1.ConditionTrue, esv1.ConditionReasonSecretDeleted, "")
				} else {
					s.waitSynced(ns, name)
				}
				switch {
				case want.keep:
					s.unchanged(ns, name, last[name])
				case want.gone:
					s.waitGone(ns, name)
				default:
					data := map[string]string{}
					for _, k := range want.keys {
						data[k] = values[name][k]
					}
					s.waitData(ns, name, data)
				}
				last[name] = s.secret(ns, name)
			})
		}
	}
	check("synced", func(i int) policyStep { return cases[i].synced })
	for _, name := range names {
		remove(t, v, "policy/"+name+"/b")
	}
	check("b-deleted", func(i int) policyStep { return cases[i].bGone })
	for _, name := range names {
		remove(t, v, "policy/"+name+"/a")
	}
	check("all-deleted", func(i int) policyStep { return cases[i].allGone })
}
