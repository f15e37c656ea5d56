package externalsecrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// apiServerOIDC returns the issuer of the envtest API server's
// ServiceAccount tokens and the keys it signs them with, from its OIDC
// discovery document and /openid/v1/jwks, as an operator registers a
// cluster's issuer with IAM for IRSA.
func apiServerOIDC(t *testing.T, e *testkit.Env) (string, jose.JSONWebKeySet) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, into any) {
		t.Helper()
		b, err := cs.Discovery().RESTClient().Get().AbsPath(path).DoRaw(context.Background())
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var discovery struct{ Issuer string }
	get("/.well-known/openid-configuration", &discovery)
	var keys jose.JSONWebKeySet
	get("/openid/v1/jwks", &keys)
	if discovery.Issuer == "" || len(keys.Keys) == 0 {
		t.Fatalf("issuer %q, %d keys", discovery.Issuer, len(keys.Keys))
	}
	return discovery.Issuer, keys
}

// irsaStore is ESO's documented IRSA store (auth.jwt.serviceAccountRef),
// reading with ServiceAccount sa.
func irsaStore(name, sa string) string {
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: %s
spec:
  provider:
    aws:
      service: SecretsManager
      region: eu-central-1
      auth:
        jwt:
          serviceAccountRef:
            name: %s
`, name, sa)
}

// readingES is an ExternalSecret that reads property of key through the
// store (kind, name) into Secret name.
func readingES(name, storeKind, store, key, property string) string {
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %s
spec:
  refreshInterval: 1h
  secretStoreRef:
    kind: %s
    name: %s
  target:
    name: %s
  data:
  - secretKey: value
    remoteRef:
      key: %s
      property: %s
`, name, storeKind, store, name, key, property)
}

// TestAWSIRSA: a tenant's store reads with IRSA: the ServiceAccount it
// names carries eks.amazonaws.com/role-arn, the controller gets a token of
// it for sts.amazonaws.com through the TokenRequest API, and STS (the test
// server) exchanges it with AssumeRoleWithWebIdentity after checking its
// signature against the API server's own JWKS, its audience and its
// subject, which the role trusts for one ServiceAccount only. A token of
// another ServiceAccount naming the same role, and one for another
// audience, are refused, and their stores say so.
func TestAWSIRSA(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	w := newAWSWorld(t)
	issuer, keys := apiServerOIDC(t, e)
	w.srv.AddOIDCProvider(awstest.OIDCProvider{Issuer: issuer, Keys: keys})
	r := startAWSES(t, e, e.Config, w, "default", false)
	role := w.srv.AddRole(awstest.Role{
		Name:        "app-" + r.NS,
		Policy:      awstest.Allow([]string{"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"}, "*"),
		WebIdentity: []awstest.WebIdentityTrust{{Issuer: issuer, Subject: "system:serviceaccount:" + r.NS + ":app"}},
	})
	w.secret(t, "app/db", `{"password":"via-irsa"}`)
	for name, ann := range map[string]map[string]string{
		"app":      {"eks.amazonaws.com/role-arn": role},
		"intruder": {"eks.amazonaws.com/role-arn": role},
		"other-audience": {
			"eks.amazonaws.com/role-arn": role, "eks.amazonaws.com/audience": "not-sts",
		},
	} {
		create(t, e, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.NS, Annotations: ann}})
	}
	apply(t, e, r.NS, strings.Join([]string{
		irsaStore("irsa", "app"), readingES("irsa", "SecretStore", "irsa", "app/db", "password"),
		irsaStore("intruder", "intruder"), readingES("intruder", "SecretStore", "intruder", "app/db", "password"),
		irsaStore("other-audience", "other-audience"),
	}, "---\n"))

	waitES(t, e, r.NS, "irsa", corev1.ConditionTrue, "")
	waitSecret(t, e, r.NS, "irsa", hasData(map[string]string{"value": "via-irsa"}))
	for _, tc := range []struct{ store, why string }{
		{"intruder", "AccessDenied"},
		{"other-audience", "Incorrect token audience"},
	} {
		st := &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: tc.store, Namespace: r.NS}}
		waitStoreReady(t, e, st, corev1.ConditionFalse, tc.why)
	}
	var sessions []awstest.Session
	for _, s := range w.srv.Sessions() {
		if s.RoleARN == role {
			sessions = append(sessions, s)
		}
	}
	// Validation and the read share the store's client: one session.
	if len(sessions) != 1 || sessions[0].Action != "AssumeRoleWithWebIdentity" || sessions[0].Caller != "system:serviceaccount:"+r.NS+":app" {
		t.Fatalf("sessions of the role %+v, want one of ServiceAccount app", sessions)
	}
}

// TestAWSStoreNeverBorrowsControllerIdentity: the controller process has
// AWS credentials of its own (the operator's: here in its environment, the
// SDK's default chain), which may read everything. Stores naming no auth
// (tenant input) would read with them. A SecretStore never does; a
// ClusterSecretStore does only when the operator allowed it, and the
// controller runs as a ServiceAccount. Refused stores send AWS nothing.
func TestAWSStoreNeverBorrowsControllerIdentity(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	w := newAWSWorld(t)
	own := w.srv.AddUser(awstest.User{Name: "controller", Policy: awstest.AllowAll})
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", own.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", own.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	w.secret(t, "controller/only", `{"v":"the controller's"}`)
	noAuth := func(kind, name, class string) string {
		return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: %s
metadata:
  name: %s
spec:
  controller: %s
  provider:
    aws:
      service: SecretsManager
      region: eu-central-1
`, kind, name, class)
	}
	controllerCalls := func() int {
		n := 0
		for c, k := range w.srv.Calls() {
			if c.Caller == w.srv.UserARN("controller") {
				n += k
			}
		}
		return n
	}

	for _, tc := range []struct {
		name  string
		allow bool
		// clusterWhy is what the ClusterSecretStore's Ready says; empty:
		// it is Ready and reads.
		clusterWhy string
	}{
		{"flag off", false, "--allow-cluster-store-controller-identity"},
		{"flag on, the controller runs as a ServiceAccount", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.Config
			if tc.allow {
				cfg = asServiceAccount(t, e, e.Namespace(t))
			}
			class := "aws-identity-" + utilrand.String(6)
			r := startAWSES(t, e, cfg, w, class, tc.allow)
			cluster := "cluster-" + r.NS
			apply(t, e, r.NS, noAuth("SecretStore", "tenant", class)+"---\n"+noAuth("ClusterSecretStore", cluster, class)+"---\n"+
				readingES("tenant", "SecretStore", "tenant", "controller/only", "v")+"---\n"+
				readingES("cluster", "ClusterSecretStore", cluster, "controller/only", "v"))
			t.Cleanup(func() {
				_ = e.Client.Delete(context.Background(), &esv1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: cluster}})
			})
			before := controllerCalls()

			st := &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: r.NS}}
			waitStoreReady(t, e, st, corev1.ConditionFalse, "a SecretStore must name its own credentials")
			waitES(t, e, r.NS, "tenant", corev1.ConditionFalse, "")
			cst := &esv1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: cluster}}
			if tc.clusterWhy != "" {
				waitStoreReady(t, e, cst, corev1.ConditionFalse, tc.clusterWhy)
				if n := controllerCalls() - before; n != 0 {
					t.Fatalf("%d calls to AWS with the controller's credentials", n)
				}
				return
			}
			waitStoreReady(t, e, cst, corev1.ConditionTrue, "")
			waitSecret(t, e, r.NS, "cluster", hasData(map[string]string{"value": "the controller's"}))
			err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: r.NS, Name: "tenant"}, &corev1.Secret{})
			if !apierrors.IsNotFound(err) {
				t.Fatalf("the SecretStore's target: %v, want none", err)
			}
		})
	}
}
