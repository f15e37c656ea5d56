package externalsecrets_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	authv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sealsync/sealsync/internal/testkit"
)

// docRoleID is the AppRole role ID docs/snippets/vault-approle-store.yaml
// names; the test's role gets it, so the snippet needs no substitution.
const docRoleID = "db02de05-fa39-4855-059b-67221c5c2f63"

// docReplacer makes the substitutions a doc example needs to run here:
// the Vault address, the namespace, the token of the quickstart's Secret,
// and the store where an ExternalSecret-only snippet writes "# ...".
func docReplacer(v *testkit.Vault, ns, token string) *strings.Replacer {
	return strings.NewReplacer(
		`"https://vault.acme.org"`, strconv.Quote(v.Addr),
		`"http://my.vault.server:8200"`, strconv.Quote(v.Addr),
		"namespace: example\n", "namespace: "+ns+"\n",
		"cm9vdA==", base64.StdEncoding.EncodeToString([]byte(token)),
		"spec:\n  # ...\n", "spec:\n  secretStoreRef:\n    name: vault-backend\n    kind: SecretStore\n",
	)
}

// docCase is one doc example: the files applied in its namespace, what
// it needs besides, and the Secret it must produce.
type docCase struct {
	name string
	// files are applied in order; paths are relative to testdata.
	files []string
	// prepare creates what the example references (credentials, service
	// accounts) in ns.
	prepare func(t *testing.T, s *suite, ns string)
	// es is the ExternalSecret, target the Secret it writes.
	es, target string
	want       map[string]string
}

// The values the doc examples read, where the doc page seeds "vault kv put
// secret/foo my-value=s3cr3t", the /dev/config of "Nested Values" with
// "mysecret" and "bang", a package.json named "example-app", version
// "1.0.0". Canaries stand in for them: the suite's leak check looks for
// every 4 bytes of a canary, which words like these would match by
// accident.
var (
	docMyValue  = value("the doc's my-value")
	docBar      = value("the doc's nested bar")
	docBaz      = value("the doc's nested baz")
	devConfig   = `{"foo":{"nested":{"bar":"` + docBar + `","baz":"` + docBaz + `"}}}`
	devNested   = map[string]any{"foo": map[string]any{"nested": map[string]any{"bar": docBar, "baz": docBaz}}}
	docAppName  = value("the doc's package name")
	docVersion  = value("the doc's package version")
	packageJSON = `{"name":"` + docAppName + `","version":"` + docVersion + `"}`
	devPackage  = map[string]any{"name": docAppName, "version": docVersion}
)

// quickstartWant is the Secret the quickstart ExternalSecret writes: the
// property, then the custom metadata whole and one of its keys.
var quickstartWant = map[string]string{
	"foobar":    docMyValue,
	"tags":      `{"dev":"jane"}`,
	"developer": "jane",
}

func TestDocExamples(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "foo", map[string]any{"my-value": docMyValue})
	tag(t, v, "foo", map[string]any{"dev": "jane"})
	put(t, v, "dev/package.json", devPackage)
	put(t, v, "dev/config", devNested)
	grafanaUser, grafanaPassword := value("grafana-user"), value("grafana-password")
	put(t, v, "grafana/user", map[string]any{"user": grafanaUser})
	put(t, v, "grafana/password", map[string]any{"password": grafanaPassword})
	// The doc's postgres://app@db:5432/app, with a secret user.
	dbUser := value("database user")
	put(t, v, "database/url", map[string]any{"url": "postgres://" + dbUser + "@db:5432/app"})
	// A second version: the version example reads the first.
	first, second := value("first password"), value("second password")
	put(t, v, "versioned", map[string]any{"password": first})
	put(t, v, "versioned", map[string]any{"password": second})

	// What the ExternalSecrets read without a property: the whole secret
	// as JSON, as ESO's Vault provider returns it.
	userJSON := `{"user":"` + grafanaUser + `"}`
	passwordJSON := `{"password":"` + grafanaPassword + `"}`
	withSecret := func(data map[string]string) func(*testing.T, *suite, string) {
		return func(t *testing.T, s *suite, ns string) {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "my-secret", Namespace: ns}, StringData: data}
			if err := s.e.Client.Create(t.Context(), sec); err != nil {
				t.Fatal(err)
			}
		}
	}
	approle, err := v.CreateAppRole(t.Context(), "docs", readerPolicy)
	if err != nil {
		t.Fatal(err)
	}
	write(t, v, "auth/approle/role/docs/role-id", map[string]any{"role_id": docRoleID})
	refRole, err := v.CreateAppRole(t.Context(), "docs-ref", readerPolicy)
	if err != nil {
		t.Fatal(err)
	}
	secrets.add("an AppRole secret ID", approle.SecretID, refRole.SecretID)

	cases := []docCase{
		{
			name: "quickstart token store", files: []string{"docs/quickstart-store.yaml", "docs/quickstart-es.yaml"},
			es: "vault-example", target: "example-sync", want: quickstartWant,
		},
		{
			name: "token store", files: []string{"docs/token-store.yaml", "docs/quickstart-es.yaml"},
			prepare: func(t *testing.T, s *suite, ns string) {
				withSecret(map[string]string{"vault-token": readerToken(t, v)})(t, s, ns)
			},
			es: "vault-example", target: "example-sync", want: quickstartWant,
		},
		{
			name: "approle roleId", files: []string{"docs/approle-store.yaml", "docs/quickstart-es.yaml"},
			prepare: withSecret(map[string]string{"secret-id": approle.SecretID}),
			es:      "vault-example", target: "example-sync", want: quickstartWant,
		},
		{
			name: "approle roleRef", files: []string{"docs/approle-roleref-store.yaml", "docs/quickstart-es.yaml"},
			prepare: withSecret(map[string]string{"vault-role-id": refRole.RoleID, "secret-id": refRole.SecretID}),
			es:      "vault-example", target: "example-sync", want: quickstartWant,
		},
		{
			name: "kubernetes serviceAccountRef", files: []string{"docs/kubernetes-store.yaml", "docs/quickstart-es.yaml"},
			prepare: func(t *testing.T, s *suite, ns string) { serviceAccount(t, s, ns, "my-sa", true) },
			es:      "vault-example", target: "example-sync", want: quickstartWant,
		},
		{
			name: "jwt secretRef", files: []string{"docs/jwt-store.yaml", "docs/quickstart-es.yaml"},
			prepare: func(t *testing.T, s *suite, ns string) {
				serviceAccount(t, s, ns, "my-sa", false)
				withSecret(map[string]string{"jwt-token": saToken(t, s, ns, "my-sa", "vault")})(t, s, ns)
			},
			es: "vault-example", target: "example-sync", want: quickstartWant,
		},
		{
			name: "jwt kubernetesServiceAccountToken", files: []string{"docs/jwt-sa-token-store.yaml", "docs/quickstart-es.yaml"},
			prepare: func(t *testing.T, s *suite, ns string) { serviceAccount(t, s, ns, "my-sa", false) },
			es:      "vault-example", target: "example-sync", want: quickstartWant,
		},
		{
			name: "raw value", files: []string{"docs/quickstart-store.yaml", "docs/raw-value-es.yaml"},
			es: "vault-example", target: "vault-example", want: map[string]string{"foobar": packageJSON},
		},
		{
			name: "nested property", files: []string{"docs/quickstart-store.yaml", "docs/nested-property-es.yaml"},
			es: "vault-example", target: "vault-example", want: map[string]string{"foobar": docBar},
		},
		{
			name: "dataFrom extract of a nested property", files: []string{"docs/quickstart-store.yaml", "docs/extract-es.yaml"},
			es: "vault-example", target: "vault-example", want: map[string]string{"bar": docBar, "baz": docBaz},
		},
		{
			name: "template engine v2", files: []string{"docs/quickstart-store.yaml", "docs/multiline-template-es.yaml"},
			es: "template", target: "secret-to-be-created", want: map[string]string{
				"config": "datasources:\n- name: Graphite\n  type: graphite\n  access: proxy\n  url: http://localhost:8080\n" +
					`  password: "` + passwordJSON + "\"\n" + `  user: "` + userJSON + "\"\n",
				"connection": `{"url":"postgresql://` + dbUser + `@db:5432/app"}`,
			},
		},
		{
			name: "templateFrom a ConfigMap", files: []string{"docs/quickstart-store.yaml", "docs/template-from-es.yaml"},
			es: "my-template-example", target: "secret-to-be-created", want: map[string]string{
				"config.yaml": "datasources:\n  - name: Graphite\n    type: graphite\n    access: proxy\n    url: http://localhost:8080\n" +
					`    password: "` + passwordJSON + `" # <-- convert []byte to string` + "\n" +
					`    user: "` + userJSON + `"         # <-- convert []byte to string` + "\n",
			},
		},
		{
			// Not a doc example: the docs show remoteRef.version for no
			// Vault store. ESO passes it to KV v2 as ?version=.
			name: "remoteRef.version", files: []string{"docs/quickstart-store.yaml", "version-es.yaml"},
			es: "versioned", target: "versioned", want: map[string]string{"first": first, "latest": second},
		},
	}

	s := setup(t, len(cases))
	configureDocAuth(t, s, s.ns[4], []string{s.ns[5], s.ns[6]})
	for i, c := range cases {
		ns := s.ns[i]
		if c.prepare != nil {
			c.prepare(t, s, ns)
		}
		r := docReplacer(v, ns, readerToken(t, v))
		for _, f := range c.files {
			s.apply(ns, golden(t, f, r))
		}
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := s.with(t)
			s.waitSynced(s.ns[i], c.es)
			s.waitData(s.ns[i], c.target, c.want)
		})
	}
}

// TestDocFindExamples runs the find examples on a mount holding the doc's
// secret and one that matches neither the name nor the tags.
func TestDocFindExamples(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "dev/config", devNested)
	tag(t, v, "dev/config", map[string]any{"environment": "dev", "component": "app-1"})
	put(t, v, "prod/config", map[string]any{"password": value("prod-password")})
	tag(t, v, "prod/config", map[string]any{"environment": "prod", "component": "app-1"})

	s := setup(t, 2)
	for i, f := range []string{"find-es.yaml", "find-path-es.yaml"} {
		s.apply(s.ns[i], golden(t, "docs/quickstart-store.yaml", docReplacer(v, s.ns[i], readerToken(t, v))))
		s.apply(s.ns[i], golden(t, "docs/"+f, docReplacer(v, s.ns[i], "")))
	}
	// The doc shows "dev_config" for the first and "config" for find.path
	// "dev"; ESO's provider returns the key relative to the store's path
	// either way ("dev/config"), which the conversion makes "dev_config".
	for i := range 2 {
		s.waitData(s.ns[i], "vault-example", map[string]string{"dev_config": devConfig})
		s.waitSynced(s.ns[i], "vault-example")
	}
}

// TestDocKVv1 runs the quickstart store with version "v1" on a KV v1 mount.
// (metadataPolicy Fetch "only works with KV secrets engine version v2", so
// the quickstart ExternalSecret is not one of them.)
func TestDocKVv1(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 1)
	// The other tests expect KV v2 at secret/ as the dev server mounts it.
	t.Cleanup(func() {
		ctx := context.Background()
		if err := v.Client.Sys().UnmountWithContext(ctx, "secret"); err != nil {
			t.Error(err)
		}
		if err := v.MountKV(ctx, "secret", 2); err != nil {
			t.Error(err)
		}
	})
	ctx := t.Context()
	if err := v.Client.KVv1("secret").Put(ctx, "dev/config", devNested); err != nil {
		t.Fatal(err)
	}
	if err := v.Client.KVv1("secret").Put(ctx, "dev/package.json", devPackage); err != nil {
		t.Fatal(err)
	}
	s := setup(t, 3)
	for i, f := range []string{"nested-property-es.yaml", "extract-es.yaml", "raw-value-es.yaml"} {
		r := docReplacer(v, s.ns[i], readerToken(t, v))
		s.apply(s.ns[i], golden(t, "docs/kv1-store.yaml", r))
		s.apply(s.ns[i], golden(t, "docs/"+f, r))
	}
	s.waitData(s.ns[0], "vault-example", map[string]string{"foobar": docBar})
	s.waitData(s.ns[1], "vault-example", map[string]string{"bar": docBar, "baz": docBaz})
	s.waitData(s.ns[2], "vault-example", map[string]string{"foobar": packageJSON})
	for _, ns := range s.ns {
		s.waitSynced(ns, "vault-example")
	}
}

// configureDocAuth sets up Vault's kubernetes and jwt auth methods at the
// mounts the doc snippets name, with their roles: "demo" for my-sa of
// k8sNS, "vault-jwt-role" for my-sa of the jwtNS.
func configureDocAuth(t *testing.T, s *suite, k8sNS string, jwtNS []string) {
	t.Helper()
	v := s.v
	enableAuth(t, v, "kubernetes", "kubernetes")
	// Vault runs outside the cluster and has no pod token of its own
	// (disable_local_ca_jwt). ESO's docs let it review each login's token
	// with that token, which works only because ESO requests tokens for
	// the API server's audience; sealsync requests them for "vault", so
	// Vault gets a reviewer token of its own, and the role names the
	// audience (see docs/compatibility.md).
	serviceAccount(t, s, k8sNS, "vault-reviewer", true)
	write(t, v, "auth/kubernetes/config", map[string]any{
		"kubernetes_host":      s.e.Config.Host,
		"kubernetes_ca_cert":   string(s.e.Config.CAData),
		"disable_local_ca_jwt": true,
		"token_reviewer_jwt":   saToken(t, s, k8sNS, "vault-reviewer", ""),
	})
	write(t, v, "auth/kubernetes/role/demo", map[string]any{
		"bound_service_account_names":      []string{"my-sa"},
		"bound_service_account_namespaces": []string{k8sNS},
		"token_policies":                   readerPolicy,
		"audience":                         "vault",
	})
	enableAuth(t, v, "jwt", "jwt")
	issuer, err := s.e.ServiceAccountIssuerPEM(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	write(t, v, "auth/jwt/config", map[string]any{"jwt_validation_pubkeys": []string{issuer}})
	var subjects []string
	for _, ns := range jwtNS {
		subjects = append(subjects, "system:serviceaccount:"+ns+":my-sa")
	}
	write(t, v, "auth/jwt/role/vault-jwt-role", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"vault"},
		"bound_claims": map[string]any{"sub": subjects}, "token_policies": readerPolicy,
	})
}

// enableAuth enables the auth method typ at path unless something is
// enabled there already.
func enableAuth(t *testing.T, v *testkit.Vault, typ, path string) {
	t.Helper()
	auths, err := v.Client.Sys().ListAuthWithContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := auths[path+"/"]; ok {
		return
	}
	if err := v.Client.Sys().EnableAuthWithOptionsWithContext(t.Context(), path, &vaultapi.EnableAuthOptions{Type: typ}); err != nil {
		t.Fatal(err)
	}
}

// write writes data at a Vault path with the root token.
func write(t *testing.T, v *testkit.Vault, path string, data map[string]any) {
	t.Helper()
	if _, err := v.Client.Logical().WriteWithContext(t.Context(), path, data); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// serviceAccount creates ServiceAccount ns/name; with reviewer set it is
// bound to system:auth-delegator, which Vault's kubernetes auth needs.
func serviceAccount(t *testing.T, s *suite, ns, name string, reviewer bool) {
	t.Helper()
	ctx := t.Context()
	if err := s.e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	if !reviewer {
		return
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-review-" + ns + "-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}
	if err := s.e.Client.Create(ctx, crb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.e.Client.Delete(context.Background(), crb) })
	s.e.WaitForGrant(t, ns, name, authzv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"})
}

// saToken requests a token for ServiceAccount ns/name with audience, or
// with the API server's own when audience is "".
func saToken(t *testing.T, s *suite, ns, name, audience string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	if audience != "" {
		tr.Spec.Audiences = []string{audience}
	}
	if err := s.e.Client.SubResource("token").Create(t.Context(), sa, tr); err != nil {
		t.Fatal(err)
	}
	secrets.add("a ServiceAccount token", tr.Status.Token)
	return tr.Status.Token
}

// TestDocQuickstartStoreBeforeSecret applies the quickstart as the doc
// page prints it, the SecretStore before the Secret holding its token, and
// lets the store fail on the missing Secret first. It must sync once the
// Secret is there, as ESO does by retrying the store with backoff, not
// after --store-requeue-interval (5 minutes).
func TestDocQuickstartStoreBeforeSecret(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "foo", map[string]any{"my-value": docMyValue})
	tag(t, v, "foo", map[string]any{"dev": "jane"})
	s := setup(t, 1)
	ns := s.ns[0]
	docs := splitYAML(golden(t, "docs/quickstart-store.yaml", docReplacer(v, ns, readerToken(t, v))))
	if len(docs) != 2 {
		t.Fatalf("quickstart-store.yaml has %d documents, want the store and its Secret", len(docs))
	}
	s.apply(ns, docs[0])
	s.apply(ns, golden(t, "docs/quickstart-es.yaml", nil))
	s.waitStore(ns, "vault-backend", corev1.ConditionFalse, `secrets "vault-token" not found`)
	start := time.Now()
	s.apply(ns, docs[1])
	s.waitSynced(ns, "vault-example")
	s.waitData(ns, "example-sync", quickstartWant)
	t.Logf("synced %v after the Secret was created", time.Since(start).Round(time.Millisecond))
}
