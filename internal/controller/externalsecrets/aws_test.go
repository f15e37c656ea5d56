package externalsecrets_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// esoAWSExamples are ESO's documented AWS manifests (docs/provider
// aws-secrets-manager.md and aws-parameter-store.md), comments included,
// as a tenant applies them: a Secrets Manager store with static keys and
// an assumed role, property with gjson, metadataPolicy Fetch, version
// stages and IDs, dataFrom.extract, find by name and by tags, and a
// Parameter Store store with versions, extract and find by path. Only the
// version ID, which AWS makes, is filled in (%s).
const esoAWSExamples = `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: secretstore-sample
spec:
  provider:
    aws:
      service: SecretsManager
      # define a specific role to limit access
      # to certain secrets.
      # role is a optional field that
      # can be omitted for test purposes
      role: arn:aws:iam::123456789012:role/team-a-reader
      region: eu-central-1
      auth:
        secretRef:
          accessKeyIDSecretRef:
            name: awssm-secret
            key: access-key
          secretAccessKeySecretRef:
            name: awssm-secret
            key: secret-access-key
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: example
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: secretstore-sample
    kind: SecretStore
  target:
    name: secret-to-be-created
    creationPolicy: Owner
  data:
  - secretKey: firstname
    remoteRef:
      key: friendslist
      property: name.first # Tom
  - secretKey: first_friend
    remoteRef:
      key: friendslist
      property: friends.1.first # Roger
  # metadataPolicy to fetch all the tags in JSON format
  - secretKey: tags
    remoteRef:
      metadataPolicy: Fetch
      key: database-credentials
  # metadataPolicy to fetch a specific tag (dev) from the source secret
  - secretKey: developer
    remoteRef:
      metadataPolicy: Fetch
      key: database-credentials
      property: dev
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: versions
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: secretstore-sample
    kind: SecretStore
  target:
    name: versions
  data:
  - secretKey: current
    remoteRef:
      key: friendslist
      property: name.first
  - secretKey: previous
    remoteRef:
      key: friendslist
      property: name.first
      version: AWSPREVIOUS
  - secretKey: by-id
    remoteRef:
      key: friendslist
      property: name.first
      version: uuid/%s
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: extract
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: secretstore-sample
    kind: SecretStore
  target:
    name: database-credentials
  dataFrom:
  - extract:
      key: database-credentials
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: find
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: secretstore-sample
    kind: SecretStore
  target:
    name: found
  dataFrom:
  - find:
      name:
        regexp: "^db-"
  - find:
      tags:
        environment: production
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: parameterstore
spec:
  provider:
    aws:
      service: ParameterStore
      region: eu-central-1
      auth:
        secretRef:
          accessKeyIDSecretRef:
            name: awssm-secret
            key: access-key
          secretAccessKeySecretRef:
            name: awssm-secret
            key: secret-access-key
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: parameters
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: parameterstore
    kind: SecretStore
  target:
    name: parameters
  data:
  - secretKey: firstname
    remoteRef:
      key: friendslist
      property: name.first
  - secretKey: old-password
    remoteRef:
      key: /app/db/password
      version: "1"
  dataFrom:
  - extract:
      key: /app/config
  - find:
      path: /app/db
      name:
        regexp: ".*"
    rewrite:
    - regexp:
        source: "/app/db/(.*)"
        target: "db_$1"
`

// friendslist is the JSON secret of ESO's property examples.
const friendslist = `{
  "name": {"first": "Tom", "last": "Anderson"},
  "friends": [
    {"first": "Dale", "last": "Murphy"},
    {"first": "Roger", "last": "Craig"},
    {"first": "Jane", "last": "Murphy"}
  ]
}`

// TestAWSDocumentedExamples applies ESO's documented AWS examples
// unchanged and checks every Secret they make. The store's user may only
// assume the role the store names (and read parameters): the Secrets
// Manager reads happen as the role, or not at all.
func TestAWSDocumentedExamples(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	w := newAWSWorld(t)
	role := w.srv.AddRole(awstest.Role{
		Name: "team-a-reader", Policy: awstest.Allow([]string{"secretsmanager:*"}, "*"),
		TrustedPrincipals: []string{w.srv.UserARN("ci")},
	})
	user := w.srv.AddUser(awstest.User{Name: "ci", Policy: awstest.Policy{
		{Actions: []string{"sts:AssumeRole"}, Resources: []string{role}},
		{Actions: []string{"ssm:GetParameter*", "ssm:DescribeParameters"}, Resources: []string{"*"}},
	}})

	first := w.secret(t, "friendslist", `{"name": {"first": "Thomas"}}`)
	w.update(t, "friendslist", friendslist)
	w.secret(t, "database-credentials", `{"username": "admin", "password": "s3cr3t"}`, "dev", "Jane", "team", "a")
	w.secret(t, "db-alpha", "alpha")
	w.secret(t, "db-beta", "beta")
	w.secret(t, "cache-prod", "c", "environment", "production")
	w.secret(t, "cache-dev", "d", "environment", "dev")
	w.param(t, "friendslist", friendslist)
	w.param(t, "/app/db/password", "old")
	w.param(t, "/app/db/password", "new")
	w.param(t, "/app/db/user", "app")
	w.param(t, "/app/config", `{"log": "debug"}`)

	r := startAWSES(t, e, e.Config, w, "default", false)
	keysSecret(t, e, r.NS, user)
	apply(t, e, r.NS, fmt.Sprintf(esoAWSExamples, first))

	for _, tc := range []struct {
		es, target string
		want       map[string]string
	}{
		{"example", "secret-to-be-created", map[string]string{
			"firstname": "Tom", "first_friend": "Roger", "tags": `{"dev":"Jane","team":"a"}`, "developer": "Jane",
		}},
		{"versions", "versions", map[string]string{"current": "Tom", "previous": "Thomas", "by-id": "Thomas"}},
		{"extract", "database-credentials", map[string]string{"username": "admin", "password": "s3cr3t"}},
		{"find", "found", map[string]string{"db-alpha": "alpha", "db-beta": "beta", "cache-prod": "c"}},
		{"parameters", "parameters", map[string]string{
			"firstname": "Tom", "old-password": "old", "log": "debug", "db_password": "new", "db_user": "app",
		}},
	} {
		t.Run(tc.es, func(t *testing.T) {
			waitES(t, e, r.NS, tc.es, corev1.ConditionTrue, "")
			if diff := sameData(tc.want, targetData(t, e, r.NS, tc.target)); diff != "" {
				t.Errorf("Secret %s: %s; want %v", tc.target, diff, tc.want)
			}
		})
	}
	// The role was assumed once for the store, not per read.
	if n := w.srv.Count(awstest.STS, "AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1", n)
	}
}

// TestAWSFaultsLoseNothing: AWS throttles every request, then is down,
// each for several refreshes of the ExternalSecrets reading it. Nothing is
// lost: every Secret keeps its data, every ExternalSecret's status and an
// event say why it is not synced, and all sync again, with a value changed
// meanwhile, once AWS answers. The store's retrySettings (tenant input)
// keep each failing read short.
func TestAWSFaultsLoseNothing(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	w := newAWSWorld(t)
	user := w.srv.AddUser(awstest.User{Name: "app", Policy: awstest.Allow([]string{"secretsmanager:*"}, "*")})
	const n = 8
	for i := range n {
		w.secret(t, fmt.Sprintf("svc-%d", i), fmt.Sprintf(`{"user":"u%d","pass":"p%d"}`, i, i))
	}
	r := startAWSES(t, e, e.Config, w, "default", false)
	keysSecret(t, e, r.NS, user)
	docs := keysStore("aws", "  retrySettings:\n    maxRetries: 1\n    retryInterval: 50ms\n")
	for i := range n {
		docs += fmt.Sprintf(`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: app-%d
spec:
  refreshInterval: 2s
  secretStoreRef:
    name: aws
  target:
    name: app-%d
  data:
  - secretKey: user
    remoteRef:
      key: svc-%d
      property: user
  - secretKey: pass
    remoteRef:
      key: svc-%d
      property: pass
`, i, i, i, (i+1)%n)
	}
	apply(t, e, r.NS, docs)
	want := map[string]map[string]string{}
	for i := range n {
		name := fmt.Sprintf("app-%d", i)
		waitES(t, e, r.NS, name, corev1.ConditionTrue, "")
		want[name] = map[string]string{"user": fmt.Sprintf("u%d", i), "pass": fmt.Sprintf("p%d", (i+1)%n)}
	}
	checkKept := func(t *testing.T) {
		t.Helper()
		for name, data := range want {
			if diff := sameData(data, targetData(t, e, r.NS, name)); diff != "" {
				t.Errorf("Secret %s: %s", name, diff)
			}
		}
	}

	round := 0
	for _, tc := range []struct {
		name string
		// start starts the fault and returns its end.
		start func(t *testing.T) (stop func())
		// why is in the status and an event during the fault.
		why string
	}{
		{"throttling storm", func(*testing.T) func() {
			// Every read throttled; the administrator still writes.
			batch := w.srv.Inject(awstest.Fault{Service: awstest.SecretsManager, Action: "BatchGetSecretValue"})
			single := w.srv.Inject(awstest.Fault{Service: awstest.SecretsManager, Action: "GetSecretValue"})
			return func() { batch(); single() }
		}, "ThrottlingException"},
		{"outage", func(t *testing.T) func() {
			if err := w.srv.Down(); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := w.srv.Up(); err != nil {
					t.Fatal(err)
				}
			}
		}, "aws unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			round++
			stop := tc.start(t)
			for name := range want {
				waitES(t, e, r.NS, name, corev1.ConditionFalse, tc.why)
				waitEventNote(t, e, r.NS, name, tc.why)
			}
			checkKept(t)
			// The fault lasts several more refreshes, and a value changes
			// meanwhile.
			value := fmt.Sprintf(`{"user":"u0-%d","pass":"p0-%d"}`, round, round)
			w.update(t, "svc-0", value)
			time.Sleep(3 * 2 * time.Second)
			checkKept(t)
			stop()
			want["app-0"]["user"] = fmt.Sprintf("u0-%d", round)
			want[fmt.Sprintf("app-%d", n-1)]["pass"] = fmt.Sprintf("p0-%d", round)
			for name, data := range want {
				waitES(t, e, r.NS, name, corev1.ConditionTrue, "")
				waitSecret(t, e, r.NS, name, hasData(data))
			}
		})
	}
}

// waitEventNote waits for an event about object ns/name whose message
// contains part.
func waitEventNote(t *testing.T, e *testkit.Env, ns, name, part string) {
	t.Helper()
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		for _, note := range controllertest.EventNotes(t, e, ns, name) {
			if strings.Contains(note, part) {
				return true, nil
			}
		}
		return false, fmt.Errorf("no event about %s says %q", name, part)
	})
}
