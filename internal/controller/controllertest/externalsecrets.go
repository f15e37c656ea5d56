package controllertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
)

// ExternalSecrets serves ExternalSecrets of the default class from p,
// registered as the fake provider, with reads shared for dedupeTTL and no
// spread inside refresh slots.
func ExternalSecrets(p providers.Provider, dedupeTTL time.Duration) Option {
	return func(o *controller.Options) {
		reg := providers.NewRegistry()
		reg.Register(providers.Fake, p)
		o.ES = externalsecrets.Options{
			Providers: reg, ControllerClass: "default", FloodGate: true,
			StoreInterval: time.Minute, DedupeTTL: dedupeTTL, Spread: 0, Workers: 4,
		}
	}
}

// FakeStore is a SecretStore named fake whose fake provider holds a few
// secrets: /foo/bar (versions v1, v2), /foo/baz and /db (JSON maps).
const FakeStore = `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: fake
spec:
  provider:
    fake:
      data:
      - key: /foo/bar
        value: HELLO1
        version: v1
      - key: /foo/bar
        value: HELLO2
        version: v2
      - key: /foo/baz
        value: '{"john": "doe", "jane": "roe"}'
      - key: /db
        value: '{"user": "app", "password": "p@ss"}'
`

// Apply creates the objects of a YAML stream in namespace ns (but the
// cluster-scoped ones), as kubectl apply would for a tenant's manifests.
func Apply(t *testing.T, e *testkit.Env, ns, docs string) {
	t.Helper()
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		doc += "\n" // the separator took the document's last newline
		var obj client.Object
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "SecretStore":
			obj = &esv1.SecretStore{}
		case "ClusterSecretStore":
			obj = &esv1.ClusterSecretStore{}
		case "ExternalSecret":
			obj = &esv1.ExternalSecret{}
		case "ClusterExternalSecret":
			obj = &esv1.ClusterExternalSecret{}
		case "Secret":
			obj = &corev1.Secret{}
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		default:
			t.Fatalf("unknown kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
		if obj.GetNamespace() == "" && meta.Kind != "ClusterSecretStore" && meta.Kind != "ClusterExternalSecret" {
			obj.SetNamespace(ns)
		}
		Create(t, e, obj)
	}
}

// WaitES waits for the Ready condition of an ExternalSecret to have status
// and a message containing msg.
func WaitES(t *testing.T, e *testkit.Env, ns, name string, status corev1.ConditionStatus, msg string) *esv1.ExternalSecret {
	t.Helper()
	es := &esv1.ExternalSecret{}
	testkit.Eventually(t, Wait, func() (bool, error) {
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, es); err != nil {
			return false, err
		}
		for _, c := range es.Status.Conditions {
			if c.Type == esv1.ExternalSecretReady {
				if c.Status == status && strings.Contains(c.Message, msg) {
					return true, nil
				}
				return false, fmt.Errorf("condition Ready=%s: %s", c.Status, c.Message)
			}
		}
		return false, errors.New("no Ready condition")
	})
	return es
}
