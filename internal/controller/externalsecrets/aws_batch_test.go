package externalsecrets_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// TestAWSReadsInBatches: 30 ExternalSecrets (tenant input) read two of 40
// Secrets Manager secrets each through one store. The controller never
// reads a secret on its own (GetSecretValue): first syncs read each
// ExternalSecret's keys in one BatchGetSecretValue, and every refresh
// slot after reads the 40 secrets ahead in 2 calls of 20, whichever
// ExternalSecret refreshes first. A new ExternalSecret reads its keys in
// one call.
func TestAWSReadsInBatches(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	w := newAWSWorld(t)
	user := w.srv.AddUser(awstest.User{Name: "app", Policy: awstest.Allow([]string{"secretsmanager:*"}, "*")})
	const secrets, ess = 40, 30
	const interval = 5 * time.Second
	for i := range secrets {
		w.secret(t, fmt.Sprintf("b-%02d", i), fmt.Sprintf(`{"user":"u%d","pass":"p%d"}`, i, i))
	}
	r := startAWSES(t, e, e.Config, w, "default", false)
	keysSecret(t, e, r.NS, user)
	docs := keysStore("aws", "")
	es := func(name string, a, b int) string {
		return fmt.Sprintf(`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %s
spec:
  refreshInterval: %s
  secretStoreRef:
    name: aws
  target:
    name: %s
  data:
  - secretKey: user
    remoteRef:
      key: b-%02d
      property: user
  - secretKey: pass
    remoteRef:
      key: b-%02d
      property: pass
`, name, interval, name, a, b)
	}
	for i := range ess {
		// Together they read every secret.
		docs += es(fmt.Sprintf("es-%02d", i), (2*i)%secrets, (2*i+1)%secrets)
	}
	apply(t, e, r.NS, docs)
	for i := range ess {
		waitES(t, e, r.NS, fmt.Sprintf("es-%02d", i), corev1.ConditionTrue, "")
	}
	refreshedSince := func(t0 time.Time) (int, error) {
		var list esv1.ExternalSecretList
		if err := e.Client.List(context.Background(), &list, client.InNamespace(r.NS)); err != nil {
			return 0, err
		}
		n := 0
		for _, x := range list.Items {
			if x.Status.RefreshTime.Time.After(t0) {
				n++
			}
		}
		return n, nil
	}
	// Count over the slots after the first syncs: until every
	// ExternalSecret refreshed twice more.
	w.srv.ResetCalls()
	from := time.Now()
	t1 := from.Add(interval)
	testkit.Eventually(t, 4*interval+controllertest.Wait, func() (bool, error) {
		n, err := refreshedSince(t1)
		return n == ess, err
	})
	// The slots' phase comes from the store's identity, which the test
	// does not know: a window of length L overlaps at most L/interval+2
	// of them, the first and the last perhaps only in part.
	slots := int(time.Since(from)/interval) + 2
	if n := w.srv.Count(awstest.SecretsManager, "GetSecretValue"); n != 0 {
		t.Errorf("%d GetSecretValue calls, want none", n)
	}
	t.Logf("%d BatchGetSecretValue calls over %d slots", w.srv.Count(awstest.SecretsManager, "BatchGetSecretValue"), slots)
	if n := w.srv.Count(awstest.SecretsManager, "BatchGetSecretValue"); n > 2*slots {
		t.Errorf("%d BatchGetSecretValue calls over %d slots of 40 secrets, want at most %d", n, slots, 2*slots)
	}

	w.srv.ResetCalls()
	apply(t, e, r.NS, es("new", 0, 1))
	waitES(t, e, r.NS, "new", corev1.ConditionTrue, "")
	waitSecret(t, e, r.NS, "new", hasData(map[string]string{"user": "u0", "pass": "p1"}))
	if n := w.srv.Count(awstest.SecretsManager, "GetSecretValue"); n != 0 {
		t.Errorf("the new ExternalSecret made %d GetSecretValue calls, want none", n)
	}
}
