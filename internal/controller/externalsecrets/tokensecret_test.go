package externalsecrets_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
)

// refusedToken is what every refusal of a token Secret says.
const refusedToken = "sealsync does not write Secrets that Kubernetes fills with or accepts as credentials"

// TestExternalSecretMergeIntoTokenSecretRefused: an ExternalSecret
// (tenant) with creationPolicy Merge names an existing service account
// token Secret (the token controller's, here the operator's) as its
// target. Nothing in the ExternalSecret asks for a token, so no CRD rule
// applies; the controller refuses to write into it, says so in the status
// and an event, and the token Secret stays as it was.
func TestExternalSecretMergeIntoTokenSecretRefused(t *testing.T) {
	e, r, _ := setupES(t)
	existing := controllertest.TokenSecret(r.NS, "default-token", "default", nil)
	create(t, e, existing)
	apply(t, e, r.NS, fakeStore+`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: merge-into-token
spec:
  secretStoreRef:
    name: fake
  target:
    name: default-token
    creationPolicy: Merge
  data:
  - secretKey: extra
    remoteRef:
      key: /foo/bar
      version: v1
`)
	es := waitES(t, e, r.NS, "merge-into-token", corev1.ConditionFalse, `secret default-token exists with type "kubernetes.io/service-account-token": `+refusedToken)
	if es.Status.Conditions[0].Reason != esv1.ConditionReasonSecretSyncedError {
		t.Errorf("reason %s", es.Status.Conditions[0].Reason)
	}
	waitEvent(t, e, r.NS, "merge-into-token", esv1.ReasonUpdateFailed)
	controllertest.AssertUntouched(t, e, existing)
	if n := controllertest.RetriedErrors(logs.Bytes(), r.NS, "merge-into-token"); n != 0 {
		t.Errorf("retried %d times", n)
	}
}
