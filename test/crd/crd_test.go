// Package crd_test installs the generated CRDs into a real API server and
// checks what the server accepts and rejects.
package crd_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/testkit"
)

var env *testkit.Env

func TestMain(m *testing.M) { os.Exit(testkit.Main(m, &env)) }

func TestSealedSecretCRD(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	ctx := context.Background()

	tests := []struct {
		name    string
		obj     string
		wantErr string
	}{
		{
			name: "valid with template",
			obj: `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"ok"},
			  "spec":{"encryptedData":{"password":"AgBy..."},
			    "template":{"metadata":{"labels":{"app":"db"},"annotations":{"a":"b"}},"type":"Opaque","immutable":true,
			      "data":{"dsn":"postgres://{{ .password }}@db"}}}}`,
		},
		{
			name: "template metadata may be null",
			obj:  `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"nullmeta"},"spec":{"encryptedData":{},"template":{"metadata":null}}}`,
		},
		{
			name:    "encryptedData values must be strings",
			obj:     `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"lenient"},"spec":{"encryptedData":{"n":1}}}`,
			wantErr: "spec.encryptedData.n in body must be of type string",
		},
		{
			name:    "spec is required",
			obj:     `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"nospec"}}`,
			wantErr: "spec: Required value",
		},
		{
			name:    "encryptedData is required",
			obj:     `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"noenc"},"spec":{"template":{"type":"Opaque"}}}`,
			wantErr: "spec.encryptedData: Required value",
		},
		{
			name:    "template type must be a string",
			obj:     `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"badtype"},"spec":{"encryptedData":{},"template":{"type":7}}}`,
			wantErr: "spec.template.type: Invalid value",
		},
		// Rules Bitnami does not have (tenant input): Secrets that
		// Kubernetes fills with credentials. The controller refuses them
		// too, on the Secret it would write.
		{
			name:    "no service-account-token template",
			obj:     `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"satoken"},"spec":{"encryptedData":{},"template":{"type":"kubernetes.io/service-account-token","metadata":{"annotations":{"kubernetes.io/service-account.name":"default"}}}}}`,
			wantErr: `template.type="kubernetes.io/service-account-token" is not allowed`,
		},
		{
			name:    "no bootstrap token template",
			obj:     `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"bootstrap"},"spec":{"encryptedData":{},"template":{"type":"bootstrap.kubernetes.io/token"}}}`,
			wantErr: `template.type="bootstrap.kubernetes.io/token" is not allowed`,
		},
		{
			name: "other Kubernetes types are accepted",
			obj:  `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"dockercfg"},"spec":{"encryptedData":{},"template":{"type":"kubernetes.io/dockerconfigjson"}}}`,
		},
		{
			name:    "immutable must be a boolean",
			obj:     `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"badimm"},"spec":{"encryptedData":{},"template":{"immutable":"yes"}}}`,
			wantErr: "spec.template.immutable: Invalid value",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			if err := json.Unmarshal([]byte(tt.obj), &u.Object); err != nil {
				t.Fatal(err)
			}
			u.SetNamespace(ns)
			err := e.Client.Create(ctx, u)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("server rejected a valid object: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}

	// The typed client reads back what the server stored, status subresource
	// included, and the printer columns are Bitnami's.
	var ss ssv1alpha1.SealedSecret
	if err := e.Client.Get(ctx, keyOf(ns, "ok"), &ss); err != nil {
		t.Fatal(err)
	}
	if ss.Spec.Template.Labels["app"] != "db" || *ss.Spec.Template.Immutable != true || ss.Spec.Template.Data["dsn"] == "" {
		t.Fatalf("round trip lost template fields: %+v", ss.Spec.Template)
	}
	ss.Status = &ssv1alpha1.SealedSecretStatus{ObservedGeneration: ss.Generation, Conditions: []ssv1alpha1.SealedSecretCondition{{
		Type: ssv1alpha1.SealedSecretSynced, Status: "True", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}}
	if err := e.Client.Status().Update(ctx, &ss); err != nil {
		t.Fatalf("status subresource: %v", err)
	}
}

func TestSealedSecretPrinterColumns(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	b, err := os.ReadFile(e.CRDDir + "/bitnami.com_sealedsecrets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{".status.conditions[0].message", ".status.conditions[0].status", ".metadata.creationTimestamp"} {
		if !strings.Contains(string(b), "jsonPath: "+col) {
			t.Errorf("printer column %s missing", col)
		}
	}
}
