package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/internal/syncer"
)

// recorder records the calls Apply makes and fails the ones a test says.
// What the API server would decide is not simulated: only which calls,
// with which options, are made.
type recorder struct {
	calls []string
	fail  map[string]error
}

var _ client.Writer = (*recorder)(nil)

func (w *recorder) call(what string, opts ...any) error {
	c := what
	for _, o := range opts {
		switch o := o.(type) {
		case client.FieldOwner:
			c += " owner=" + string(o)
		case client.Preconditions:
			c += fmt.Sprintf(" uid=%s rv=%s", *o.UID, *o.ResourceVersion)
		}
	}
	w.calls = append(w.calls, c)
	return w.fail[what]
}

func (w *recorder) Create(_ context.Context, _ client.Object, opts ...client.CreateOption) error {
	return w.call("create", anys(opts)...)
}
func (w *recorder) Update(_ context.Context, _ client.Object, opts ...client.UpdateOption) error {
	return w.call("update", anys(opts)...)
}
func (w *recorder) Delete(_ context.Context, _ client.Object, opts ...client.DeleteOption) error {
	return w.call("delete", anys(opts)...)
}
func (w *recorder) Patch(context.Context, client.Object, client.Patch, ...client.PatchOption) error {
	return w.call("patch")
}
func (w *recorder) Apply(context.Context, runtime.ApplyConfiguration, ...client.ApplyOption) error {
	return w.call("apply")
}
func (w *recorder) DeleteAllOf(context.Context, client.Object, ...client.DeleteAllOfOption) error {
	return w.call("deleteallof")
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestApply: each plan action makes its calls and no others; a recreate
// deletes with preconditions on the Secret read, and goes on when that
// Secret is already gone; blocked and refused plans write nothing; the
// API server's words about the content never come back.
func TestApply(t *testing.T) {
	actual := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", UID: "u1", ResourceVersion: "7"}}
	next := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n"}}
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "s")
	quoted := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "s", field.ErrorList{
		field.Invalid(field.NewPath("data", ".dockerconfigjson"), "~", "invalid character '~' looking for beginning of value"),
	})
	blocked := errors.New("immutable, in the source's words")
	refused := fmt.Errorf("secret s: %w", syncer.ErrTokenSecret)
	create := syncer.Plan{Action: syncer.ActionCreate, Secret: next}
	update := syncer.Plan{Action: syncer.ActionUpdate, Secret: next}
	recreate := syncer.Plan{Action: syncer.ActionRecreate, Secret: next}
	conflict := apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "s", errors.New("changed"))
	tests := []struct {
		name    string
		plan    syncer.Plan
		opts    syncer.ApplyOptions
		fail    map[string]error // by call
		calls   []string
		wantErr error // matched with errors.Is
		failed  bool  // with wantErr nil: some error is wanted
	}{
		{name: "none", plan: syncer.Plan{Action: syncer.ActionNone}},
		{name: "create", plan: create, calls: []string{"create"}},
		{name: "create as field owner", plan: create, opts: syncer.ApplyOptions{FieldOwner: "es/x"}, calls: []string{"create owner=es/x"}},
		{name: "update as field owner", plan: update, opts: syncer.ApplyOptions{FieldOwner: "es/x"}, calls: []string{"update owner=es/x"}},
		{name: "recreate", plan: recreate, calls: []string{"delete uid=u1 rv=7", "create"}},
		{name: "recreate of a Secret gone meanwhile", plan: recreate, fail: map[string]error{"delete": notFound},
			calls: []string{"delete uid=u1 rv=7", "create"}},
		{name: "recreate of a Secret changed meanwhile", plan: recreate, fail: map[string]error{"delete": conflict},
			calls: []string{"delete uid=u1 rv=7"}, failed: true},
		{name: "blocked, in the source's words", plan: syncer.Plan{Action: syncer.ActionBlocked}, opts: syncer.ApplyOptions{Immutable: blocked}, wantErr: blocked},
		{name: "blocked", plan: syncer.Plan{Action: syncer.ActionBlocked}, wantErr: syncer.ErrImmutable},
		{name: "refused", plan: syncer.Plan{Action: syncer.ActionRefused, Err: refused}, wantErr: syncer.ErrTokenSecret},
		{name: "refusal quoting the content", plan: update, fail: map[string]error{"update": quoted}, calls: []string{"update"}, failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &recorder{fail: tt.fail}
			got, err := syncer.Apply(context.Background(), w, tt.plan, actual, tt.opts)
			if got != tt.plan.Action {
				t.Errorf("action %v, want %v", got, tt.plan.Action)
			}
			if fmt.Sprint(w.calls) != fmt.Sprint(tt.calls) {
				t.Errorf("calls %q, want %q", w.calls, tt.calls)
			}
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("error %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && (err != nil) != tt.failed:
				t.Errorf("error %v, want one: %v", err, tt.failed)
			}
			if err != nil && strings.Contains(err.Error(), "~") {
				t.Errorf("the error quotes the content: %v", err)
			}
			if wrote := len(tt.calls) > 0; got.Wrote() != wrote {
				t.Errorf("Wrote() = %v, want %v", got.Wrote(), wrote)
			}
		})
	}
}

// reader answers every Get with err.
type reader struct{ err error }

func (r reader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if r.err != nil {
		return r.err
	}
	obj.SetName(key.Name)
	return nil
}

func (r reader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func TestGetSecret(t *testing.T) {
	key := types.NamespacedName{Namespace: "n", Name: "s"}
	if s, err := syncer.GetSecret(context.Background(), reader{}, key); err != nil || s == nil || s.Name != "s" {
		t.Errorf("existing: %v, %v", s, err)
	}
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "s")
	if s, err := syncer.GetSecret(context.Background(), reader{err: notFound}, key); err != nil || s != nil {
		t.Errorf("missing: %v, %v; want nil, nil", s, err)
	}
	down := errors.New("connection refused")
	if s, err := syncer.GetSecret(context.Background(), reader{err: down}, key); !errors.Is(err, down) || s != nil {
		t.Errorf("failing: %v, %v", s, err)
	}
}
