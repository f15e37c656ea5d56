package externalsecrets_test

import (
	"strings"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// TestBadInput breaks synced ExternalSecrets in the ways users do: each
// says what is wrong in its status, keeps its Secret as it was, and the
// controller goes on serving the others.
func TestBadInput(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	val := value("bad-input")
	put(t, v, "badinput/app", map[string]any{"value": val})
	appJSON := `{"value":"` + val + `"}`
	cases := []struct {
		name, spec string
		want       map[string]string
		breakIt    func(*esv1.ExternalSecret)
		msg        string
	}{
		{
			name: "bad-template",
			spec: `  target:
    template:
      data:
        out: "{{ .value }}"
  dataFrom:
  - extract:
      key: badinput/app
`,
			want:    map[string]string{"out": val},
			breakIt: func(es *esv1.ExternalSecret) { es.Spec.Target.Template.Data["out"] = "{{ .value " },
			msg:     `template key "out": parse template "out": template: out:1: unclosed action`,
		},
		{
			name: "bad-find-regexp",
			spec: `  dataFrom:
  - find:
      path: badinput
      name:
        regexp: "^badinput/app$"
`,
			want:    map[string]string{"badinput_app": appJSON},
			breakIt: func(es *esv1.ExternalSecret) { es.Spec.DataFrom[0].Find.Name.RegExp = "([a-z" },
			msg:     "find.name.regexp: error parsing regexp: missing closing ]",
		},
		{
			name: "bad-rewrite-regexp",
			spec: `  dataFrom:
  - extract:
      key: badinput/app
    rewrite:
    - regexp:
        source: "^value$"
        target: renamed
`,
			want:    map[string]string{"renamed": val},
			breakIt: func(es *esv1.ExternalSecret) { es.Spec.DataFrom[0].Rewrite[0].Regexp.Source = "(" },
			msg:     "error parsing regexp: missing closing )",
		},
		{
			name: "unknown-property",
			spec: `  data:
  - secretKey: value
    remoteRef:
      key: badinput/app
      property: value
`,
			want:    map[string]string{"value": val},
			breakIt: func(es *esv1.ExternalSecret) { es.Spec.Data[0].RemoteRef.Property = "nope" },
			msg:     `property "nope"`,
		},
		{
			name: "missing-secret",
			spec: `  data:
  - secretKey: value
    remoteRef:
      key: badinput/app
      property: value
`,
			want:    map[string]string{"value": val},
			breakIt: func(es *esv1.ExternalSecret) { es.Spec.Data[0].RemoteRef.Key = "badinput/missing" },
			msg:     "secret not found: secret/data/badinput/missing",
		},
	}
	s := setup(t, 1)
	ns := s.ns[0]
	s.apply(ns, tokenStore(t, v, "vault"))
	for _, c := range cases {
		s.apply(ns, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: "+c.name+"\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n    name: vault\n"+c.spec)
	}
	for _, c := range cases {
		s.waitSynced(ns, c.name)
		s.waitData(ns, c.name, c.want)
	}
	for _, c := range cases {
		synced := s.secret(ns, c.name)
		s.updateES(ns, c.name, c.breakIt)
		es := s.waitFailed(ns, c.name, c.msg)
		t.Logf("%s: %s", c.name, readyOf(es).Message)
		s.unchanged(ns, c.name, synced)
	}
	// The controller still serves: a new ExternalSecret syncs.
	s.apply(ns, esFor("after", "vault", "badinput/app", ""))
	s.waitSynced(ns, "after")
	if strings.Contains(string(logs.Bytes()), "Observed a panic") {
		t.Error("a reconcile panicked")
	}
}
