package syncer

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrImmutable is what [Apply] returns for an [ActionBlocked] plan when
// the caller names no error of its own ([ApplyOptions.Immutable]).
var ErrImmutable = errors.New("the Secret is immutable and may not be recreated")

// ApplyOptions say how a source kind writes its Secrets.
type ApplyOptions struct {
	// FieldOwner is the field manager the Secret is written with; empty
	// leaves the client's default.
	FieldOwner string
	// Immutable is returned for an [ActionBlocked] plan, in the source
	// kind's own words; nil returns [ErrImmutable].
	Immutable error
}

// Apply carries out plan, made by [PlanApply] from actual (nil if there
// was none), and returns the action it took: ActionNone, ActionCreate,
// ActionUpdate or ActionRecreate. A recreate deletes actual with
// preconditions on its UID and resourceVersion, so that a Secret changed
// since it was read fails the delete with a conflict instead of being
// lost, then creates the new one. A blocked plan returns
// [ApplyOptions.Immutable] and a refused one plan.Err, writing nothing.
//
// Errors never carry what the API server said about the Secret's content
// ([RedactWriteError]); with an error, the returned action is the one
// that failed.
func Apply(ctx context.Context, c client.Writer, plan Plan, actual *corev1.Secret, opts ApplyOptions) (Action, error) {
	var create []client.CreateOption
	var update []client.UpdateOption
	if opts.FieldOwner != "" {
		create = append(create, client.FieldOwner(opts.FieldOwner))
		update = append(update, client.FieldOwner(opts.FieldOwner))
	}
	var err error
	switch plan.Action {
	case ActionNone:
	case ActionCreate:
		err = c.Create(ctx, plan.Secret, create...)
	case ActionUpdate:
		err = c.Update(ctx, plan.Secret, update...)
	case ActionRecreate:
		uid, rv := actual.UID, actual.ResourceVersion
		err = c.Delete(ctx, actual, client.Preconditions{UID: &uid, ResourceVersion: &rv})
		if err == nil || apierrors.IsNotFound(err) {
			err = c.Create(ctx, plan.Secret, create...)
		}
	case ActionBlocked:
		if opts.Immutable != nil {
			return plan.Action, opts.Immutable
		}
		return plan.Action, ErrImmutable
	case ActionRefused:
		return plan.Action, plan.Err
	default:
		return plan.Action, fmt.Errorf("unknown plan action %v", plan.Action)
	}
	return plan.Action, RedactWriteError(err)
}

// Wrote reports whether a carried out action wrote the Secret.
func (a Action) Wrote() bool {
	return a == ActionCreate || a == ActionUpdate || a == ActionRecreate
}

// GetSecret reads the Secret key from r; a Secret that does not exist is
// nil, not an error. Read from a cache of managed Secrets, nil means only
// that the cache does not hold it.
func GetSecret(ctx context.Context, r client.Reader, key types.NamespacedName) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := r.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return s, nil
}
