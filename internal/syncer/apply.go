// Package syncer is the Secret writer both products share. Given the
// Secret a source wants and the one that exists, [PlanApply] decides what
// to write (refusing Secrets that Kubernetes fills with credentials) and
// [Apply] carries the plan out: create, update, recreate an immutable
// Secret with preconditions, or refuse, its errors redacted of anything
// the API server quoted ([RedactWriteError]). Around the write it holds
// what both reconcilers need: reading a Secret that may not exist
// ([GetSecret]), the hashes that let them skip work when nothing changed
// ([DataHash], [SourceHash]), the managed-by label the cache selects on,
// a status condition's transition time ([SetCondition]), the events of a
// reconcile, emitted after its status write ([Events]), and what a
// reconcile leaves for the next one in this process ([Memory]).
//
// It takes controller-runtime's client only to carry out a plan; the
// decisions are pure. ESO's data pipeline (provider reads, templates,
// refresh slots) is package esdata.
package syncer

import (
	"fmt"
	"maps"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sealsync/sealsync/internal/manifest"
)

// ConflictRetry is how soon a source whose Secret write lost a race with
// another writer (a conflict, or a Secret created meanwhile) is read again
// and redone.
const ConflictRetry = 100 * time.Millisecond

// ManagedByLabel marks every Secret sealsync writes, with the kind of its
// source as value. The controller caches only Secrets with this label, so
// its memory does not grow with the cluster's other Secrets.
const ManagedByLabel = "sealsync.dev/managed-by"

// Desired is the Secret a source wants to exist.
type Desired struct {
	// Secret carries name, namespace, labels, annotations, type,
	// immutability and data.
	Secret *corev1.Secret
	// Owners replace the Secret's owner references unless KeepOwners is set.
	Owners []metav1.OwnerReference
	// KeepOwners leaves the Secret's owner references as they are.
	KeepOwners bool
	// MergeData merges Secret.Data into the existing data instead of
	// replacing it.
	MergeData bool
	// DropKeys are removed from the existing data before MergeData merges
	// into it: keys the source wrote before, which it may no longer want.
	DropKeys []string
	// MergeMetadata merges labels and annotations into the existing ones
	// instead of replacing them.
	MergeMetadata bool
	// RecreateImmutable allows deleting and recreating an immutable Secret
	// whose data or type must change; without it such a change is
	// [ActionBlocked].
	RecreateImmutable bool
}

// Action is what a [Plan] asks the caller to do.
type Action int

const (
	// ActionNone: the Secret is as desired.
	ActionNone Action = iota
	// ActionCreate: create Plan.Secret.
	ActionCreate
	// ActionUpdate: update the existing Secret to Plan.Secret.
	ActionUpdate
	// ActionRecreate: the existing Secret is immutable; delete it and
	// create Plan.Secret.
	ActionRecreate
	// ActionBlocked: the existing Secret is immutable and may not be
	// recreated.
	ActionBlocked
	// ActionRefused: nothing may be written; Plan.Err says why.
	ActionRefused
)

// String names the action for logs and events.
func (a Action) String() string {
	return [...]string{"none", "create", "update", "recreate", "blocked", "refused"}[a]
}

// Plan is the outcome of [PlanApply].
type Plan struct {
	// Action says what to do.
	Action Action
	// Secret is the object to create or update; it carries the existing
	// Secret's resourceVersion for an update, so a concurrent change
	// makes the write fail with a conflict instead of being lost.
	Secret *corev1.Secret
	// Err says why an [ActionRefused] plan writes nothing; it wraps
	// [ErrTokenSecret].
	Err error
}

// PlanApply decides how to turn actual (nil if there is none) into d.
// Whether the caller may touch actual at all (ownership, adoption) is the
// caller's decision, made before. A Secret that Kubernetes would fill with
// credentials, or an existing one that holds them, is [ActionRefused]
// whatever the source: this is the one place that sees the object as it
// would be written, merged into the existing one.
func PlanApply(d Desired, actual *corev1.Secret) Plan {
	if actual == nil {
		s := d.Secret.DeepCopy()
		s.ResourceVersion = ""
		if !d.KeepOwners {
			s.OwnerReferences = d.Owners
		}
		if what := tokenSecret(s); what != "" {
			return refused("secret %s: %s is not allowed: %w", s.Name, what)
		}
		return Plan{Action: ActionCreate, Secret: s}
	}
	if what := tokenSecret(actual); what != "" {
		return refused("secret %s exists with %s: %w", actual.Name, what)
	}
	next := actual.DeepCopy()
	next.Data = d.DataOver(next)
	next.StringData = nil
	if d.MergeMetadata {
		next.Labels = manifest.MergeStrings(next.Labels, d.Secret.Labels)
		next.Annotations = manifest.MergeStrings(next.Annotations, d.Secret.Annotations)
	} else {
		next.Labels = maps.Clone(d.Secret.Labels)
		next.Annotations = maps.Clone(d.Secret.Annotations)
	}
	if !d.KeepOwners {
		next.OwnerReferences = d.Owners
	}
	if d.Secret.Type != "" {
		next.Type = d.Secret.Type
	}
	if d.Secret.Immutable != nil {
		next.Immutable = d.Secret.Immutable
	}
	if what := tokenSecret(next); what != "" {
		return refused("secret %s: %s is not allowed: %w", next.Name, what)
	}
	if secretsEqual(actual, next) {
		return Plan{Action: ActionNone}
	}
	if actual.Immutable != nil && *actual.Immutable && (!reflect.DeepEqual(emptyNil(actual.Data), emptyNil(next.Data)) || actual.Type != next.Type || !boolEq(actual.Immutable, next.Immutable)) {
		if !d.RecreateImmutable {
			return Plan{Action: ActionBlocked}
		}
		fresh := next.DeepCopy()
		fresh.ObjectMeta = metav1.ObjectMeta{
			Name: next.Name, Namespace: next.Namespace,
			Labels: next.Labels, Annotations: next.Annotations, OwnerReferences: next.OwnerReferences,
		}
		return Plan{Action: ActionRecreate, Secret: fresh}
	}
	return Plan{Action: ActionUpdate, Secret: next}
}

// DataOver is the data a Secret holds once d is applied over actual (nil
// if there is none): d's data alone, or, with MergeData, actual's without
// DropKeys and with d's laid over. actual is not modified.
func (d Desired) DataOver(actual *corev1.Secret) map[string][]byte {
	if !d.MergeData || actual == nil {
		return maps.Clone(d.Secret.Data)
	}
	data := maps.Clone(actual.Data)
	if data == nil {
		data = map[string][]byte{}
	}
	for _, k := range d.DropKeys {
		delete(data, k)
	}
	maps.Copy(data, d.Secret.Data)
	return data
}

func refused(format, name, what string) Plan {
	return Plan{Action: ActionRefused, Err: fmt.Errorf(format, name, what, ErrTokenSecret)}
}

func secretsEqual(a, b *corev1.Secret) bool {
	return reflect.DeepEqual(emptyNil(a.Data), emptyNil(b.Data)) &&
		a.Type == b.Type && boolEq(a.Immutable, b.Immutable) &&
		reflect.DeepEqual(emptyNilS(a.Labels), emptyNilS(b.Labels)) &&
		reflect.DeepEqual(emptyNilS(a.Annotations), emptyNilS(b.Annotations)) &&
		ownersEqual(a.OwnerReferences, b.OwnerReferences)
}

func ownersEqual(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].UID != b[i].UID || a[i].Kind != b[i].Kind || a[i].APIVersion != b[i].APIVersion ||
			a[i].Name != b[i].Name || !boolEq(a[i].Controller, b[i].Controller) {
			return false
		}
	}
	return true
}

func boolEq(a, b *bool) bool {
	return (a != nil && *a) == (b != nil && *b)
}

func emptyNil(m map[string][]byte) map[string][]byte {
	if len(m) == 0 {
		return nil
	}
	return m
}

func emptyNilS(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// ControlledBy reports whether s has a controller owner reference to uid.
func ControlledBy(s metav1.Object, uid types.UID) bool {
	ref := metav1.GetControllerOf(s)
	return ref != nil && ref.UID == uid
}
