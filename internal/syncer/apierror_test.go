package syncer

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestRedactWriteError: what the API server answers to a Secret write
// built from tenant templates and provider data keeps its reason, code and
// field paths, and loses every message, which may quote the Secret.
func TestRedactWriteError(t *testing.T) {
	secrets := schema.GroupKind{Kind: "Secret"}
	// The byte a template put where the API server's JSON parser quotes it.
	const secretByte = "~"
	tests := []struct {
		name  string
		err   error
		want  string
		check func(error) bool
	}{
		{
			name: "invalid dockerconfigjson",
			err: apierrors.NewInvalid(secrets, "regcred", field.ErrorList{
				field.Invalid(field.NewPath("data").Key(corev1.DockerConfigJsonKey), "<secret contents redacted>", "invalid character '"+secretByte+"' looking for beginning of value"),
			}),
			want:  `the API server refused to write Secret "regcred": Invalid (HTTP 422): data[.dockerconfigjson]: Invalid value`,
			check: apierrors.IsInvalid,
		},
		{
			name: "key built from a value",
			err: apierrors.NewInvalid(secrets, "app", field.ErrorList{
				field.Invalid(field.NewPath("data").Key("my-application-al~ce"), "my-application-al~ce", "a valid config key must consist of ..."),
				field.Required(field.NewPath("data").Key(corev1.BasicAuthUsernameKey), ""),
				field.Invalid(field.NewPath("metadata", "labels").Key("al~ce"), "al~ce", "must be no more than 63 characters"),
			}),
			want:  `Invalid (HTTP 422): data[...]: Invalid value, data[username]: Required value, metadata.labels[...]: Invalid value`,
			check: apierrors.IsInvalid,
		},
		{
			name:  "admission webhook message",
			err:   apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "app", errors.New("denied: value al~ce is on the deny list")),
			want:  `the API server refused to write Secret "app": Forbidden (HTTP 403)`,
			check: apierrors.IsForbidden,
		},
		{
			name:  "conflict",
			err:   fmt.Errorf("update: %w", apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "app", errors.New("the object has been modified"))),
			want:  `Conflict (HTTP 409)`,
			check: apierrors.IsConflict,
		},
		{
			name:  "no reason",
			err:   &apierrors.StatusError{ErrStatus: apierrors.NewInternalError(errors.New("al~ce")).ErrStatus},
			want:  `InternalError (HTTP 500)`,
			check: apierrors.IsInternalError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactWriteError(tt.err)
			if !strings.Contains(tt.err.Error(), secretByte) && tt.name != "conflict" {
				t.Fatalf("the case does not test anything: %v", tt.err)
			}
			if strings.Contains(got.Error(), secretByte) || !strings.Contains(got.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q and no %q", got, tt.want, secretByte)
			}
			if !tt.check(got) {
				t.Errorf("the redacted error lost its reason: %#v", got)
			}
			var se apierrors.APIStatus
			if errors.As(got, &se) && se.Status().Details != nil {
				for _, c := range se.Status().Details.Causes {
					if c.Message != "" || strings.Contains(c.Field, secretByte) {
						t.Errorf("cause %+v", c)
					}
				}
			}
		})
	}
	if err := errors.New("dial tcp: connection refused"); RedactWriteError(err) != err {
		t.Error("an error that is not an API status changed")
	}
	if RedactWriteError(nil) != nil {
		t.Error("nil is not nil")
	}
}

func TestRedactFieldPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"type":                               "type",
		"data[.dockerconfigjson]":            "data[.dockerconfigjson]",
		"data[tls.crt]":                      "data[tls.crt]",
		"metadata.finalizers[0]":             "metadata.finalizers[0]",
		"data[secret-value]":                 "data[...]",
		"data[username]x]":                   "data[username]...",
		"metadata.annotations[a]b[username]": "metadata.annotations[...]",
		"data[unterminated":                  "data[...]",
		"metadata.labels[0]ab":               "metadata.labels[0]...",
		"weird path":                         "weird...",
	} {
		if got := redactFieldPath(in); got != want {
			t.Errorf("redactFieldPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRedactFieldPath: a field path holds keys built from tenant data; its
// redaction never panics and keeps nothing but path characters and
// well-known keys.
func FuzzRedactFieldPath(f *testing.F) {
	for _, s := range []string{"data[.dockerconfigjson]", "data[a]b]", "metadata.labels[x].y[0]", "[", "]", "data[username][0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := redactFieldPath(p)
		rest := got
		for _, k := range wellKnownKeys {
			rest = strings.ReplaceAll(rest, "["+k+"]", "")
		}
		rest = strings.ReplaceAll(strings.ReplaceAll(rest, "[...]", ""), "...", "")
		if strings.Trim(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._[]") != "" {
			t.Fatalf("redactFieldPath(%q) = %q keeps other characters", p, got)
		}
		if !strings.HasPrefix(p, strings.TrimSuffix(strings.TrimSuffix(got, "[...]"), "...")) {
			t.Fatalf("redactFieldPath(%q) = %q is not a prefix of the path", p, got)
		}
	})
}
