package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers/fake"
)

// TestRefusalsQuoteNoPlaintext: a tenant shapes a template so that a
// refusal would quote its plaintext. The API server refuses a
// .dockerconfigjson that is not JSON with a message quoting the byte its
// parser stumbled on, so a template that puts one byte of a secret there
// reads the secret a byte per edit; and a key built from a value with a
// character no key may hold (ESO's docs build "my-application-{{ .user
// }}") used to be quoted whole. For a SealedSecret and an ExternalSecret,
// the status and events say what is wrong, and no status, event or log
// line holds the byte (a '~', which the controller never says otherwise),
// the API server's message, or any 4 bytes of the secrets.
func TestRefusalsQuoteNoPlaintext(t *testing.T) {
	e, r := setup(t, controllertest.ExternalSecrets(fake.New(), 5*time.Second))
	k := r.latestKey(t)
	const marker = "~"
	c, u := testkit.Canary(), testkit.Canary()
	password := c[:12] + marker + c[12:]
	user := u[:12] + "@" + u[12:]

	// What the API server says about that byte, asked directly.
	probe := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: r.ns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(marker)},
	}
	err := e.Client.Create(ctx, probe, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "'"+marker+"'") {
		t.Fatalf("the API server's refusal does not quote the byte, so this test proves nothing: %v", err)
	}
	apiMessage := err.Error()

	ss := seal(t, k, r.ns, "one-byte-sealed", crypto.ScopeStrict, map[string]string{"password": password})
	ss.Spec.Template.Type = corev1.SecretTypeDockerConfigJson
	ss.Spec.Template.Data = map[string]string{corev1.DockerConfigJsonKey: "{{ .password | substr 12 13 }}"}
	create(t, e, ss)
	controllertest.Apply(t, e, r.ns, fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: leaky
spec:
  provider:
    fake:
      data:
      - key: /leak
        value: '{"password": %q, "user": %q}'
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: one-byte
spec:
  secretStoreRef:
    name: leaky
  target:
    template:
      type: kubernetes.io/dockerconfigjson
      data:
        .dockerconfigjson: '{{ .password | substr 12 13 }}'
  dataFrom:
  - extract:
      key: /leak
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: key-from-value
spec:
  secretStoreRef:
    name: leaky
  target:
    template:
      templateFrom:
      - literal: 'my-application-{{ .user }}: "{{ .password }}"'
  dataFrom:
  - extract:
      key: /leak
`, password, user))

	invalid := `data[.dockerconfigjson]: Invalid value`
	statuses := map[string]string{
		"one-byte-sealed": waitSynced(t, e, r.ns, "one-byte-sealed", corev1.ConditionFalse, invalid).Status.Conditions[0].Message,
		"one-byte":        controllertest.WaitES(t, e, r.ns, "one-byte", corev1.ConditionFalse, invalid).Status.Conditions[0].Message,
		"key-from-value":  controllertest.WaitES(t, e, r.ns, "key-from-value", corev1.ConditionFalse, "templateFrom[0].literal: a rendered key is not a valid Secret key").Status.Conditions[0].Message,
	}
	waitEvent(t, e, r.ns, "one-byte-sealed", "ErrUpdateFailed")
	waitEvent(t, e, r.ns, "one-byte", esv1.ReasonUpdateFailed)
	waitEvent(t, e, r.ns, "key-from-value", esv1.ReasonUpdateFailed)
	for name, status := range statuses {
		t.Logf("%s: %s", name, status)
		for _, text := range append(controllertest.EventNotes(t, e, r.ns, name), status) {
			if strings.Contains(text, marker) || strings.Contains(text, "invalid character") || strings.Contains(text, apiMessage) {
				t.Errorf("%s: %q relays the API server's message", name, text)
			}
			for _, secret := range []string{password, user} {
				if w := testkit.CanaryIn(text, secret); w != "" {
					t.Errorf("%s: %q holds 4 bytes of a secret", name, text)
				}
			}
		}
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, &corev1.Secret{}); !isNotFound(err) {
			t.Errorf("%s: a Secret was written: %v", name, err)
		}
	}
	text := string(logs.Bytes())
	for _, quoted := range []string{"'" + marker + "'", "looking for beginning of value"} {
		if strings.Contains(text, quoted) {
			t.Errorf("a log line holds %q", quoted)
		}
	}
	for _, secret := range []string{password, user} {
		if w := testkit.CanaryIn(text, secret); w != "" {
			t.Errorf("a log line holds 4 bytes of a secret: %s", strings.ReplaceAll(lineOf(text, w), w, "<4 bytes>"))
		}
	}
}

// lineOf returns the line of text holding s.
func lineOf(text, s string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
