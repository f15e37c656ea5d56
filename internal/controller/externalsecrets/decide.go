package externalsecrets

import (
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/internal/template"
)

// Input is everything a decision about one ExternalSecret depends on.
type Input struct {
	// ES is the ExternalSecret as read, status included.
	ES *esv1.ExternalSecret
	// Actual is its target Secret; nil if there is none.
	Actual *corev1.Secret
	// Last is the Secret this process last wrote for ES; nil if none.
	Last *Written
	// Identity is the backend identity of ES's store: refreshes are
	// aligned to slots per identity, so that the refreshes of one slot
	// share their reads (esdata.NextRefresh).
	Identity string
	// Spread is the offset spread of refreshes inside their slot.
	Spread time.Duration
	// Now is when the reconcile began.
	Now time.Time
	// Read is what the providers gave, once a decision asked for it
	// (Decision.Refresh); nil before.
	Read *Read
}

// Read is the outcome of reading an ExternalSecret's providers and
// rendering its template (esdata.BuildDesired).
type Read struct {
	Data *esdata.DesiredData
	Err  error
}

// Written is a Secret this process wrote for an ExternalSecret, as
// decided (Decision.Write), and the spec version (syncedResourceVersion)
// it was written for. While the spec stays at that version, a Secret
// changed or deleted behind the controller's back is repaired by writing
// it again, without calling the provider.
type Written struct {
	Secret  *corev1.Secret
	Version string
}

// Decision is what one reconcile of an ExternalSecret does.
type Decision struct {
	// Refresh asks for the providers' data: read them, accepting reads
	// begun at NotBefore or later (zero: any still within the dedupe
	// TTL), for the refresh slot Slot (esdata.InSlot: a scheduled refresh
	// reads ahead what the slot wants, and the reads are remembered for
	// the slot this ExternalSecret is due in next), and decide again with
	// what was read. No other field is set.
	Refresh   bool
	NotBefore time.Time
	Slot      esdata.Slot

	// Missing lists the provider secrets found gone, each reported in an
	// event.
	Missing []esdata.MissingRef
	// Failure, when set, is reported and nothing is written.
	Failure *Failure
	// Write, when set, is applied over the target Secret. Its Secret
	// carries what the creation policy asks (labels, owner, the data hash
	// of the data as merged) and it says how to merge into the existing
	// Secret. Repair says it is the last write again, after drift.
	Write  *syncer.Desired
	Repair bool
	// Delete deletes the target Secret, if there is one, and forgets the
	// last write (deletionPolicy Delete).
	Delete bool
	// Status, when set, is recorded in the status, unless the write or
	// the delete fails.
	Status *Status
	// Requeue is when to look again; zero waits for an event.
	Requeue time.Time
}

// Failure is a reconcile that leaves the Secret as it is: Ready=False
// with ESO's reason and a message, and a Warning event.
type Failure struct {
	// Message begins the Ready condition's message; Err's text follows it
	// and is the event's note.
	Message string
	Err     error
	// Retry retries with the work queue's backoff. Without it the failure
	// stays until the spec changes, or until Decision.Requeue when set.
	Retry bool
}

// Status is what a reconcile records in an ExternalSecret's status.
type Status struct {
	// Reason and Message are Ready=True's; empty leaves the condition as
	// it is (a failure sets it).
	Reason, Message string
	// RefreshTime and Version are status.refreshTime and
	// syncedResourceVersion.
	RefreshTime time.Time
	Version     string
	// Binding names the target Secret in status.binding; empty leaves it.
	Binding string
}

const (
	// msgProviderError is ESO's condition message when reading failed.
	msgProviderError = "could not get secret data from provider"
	// msgWriteError is ESO's condition message when the Secret could not
	// be written.
	msgWriteError = "could not update Secret"
	// msgDeleteError is ESO's condition message when the Secret could not
	// be deleted.
	msgDeleteError = "could not delete secret"
	// msgTemplateBudget begins the condition message when the templates
	// went over their render budget.
	msgTemplateBudget = "template render budget exceeded"
)

// Decide applies ESO's rules to one reconcile of an ExternalSecret: the
// refresh policy and interval, drift repair, refreshPolicy CreatedOnce,
// the creation policy (Owner, Orphan, Merge, CreateOrMerge, None), the
// deletion policy (Retain, Delete, Merge) and the template render budget.
// It does no I/O. Without in.Read it says whether the providers must be
// read, and from when their reads may be reused; with it, what to write.
func Decide(in Input) Decision {
	s := scheduleOf(in)
	if in.Read == nil {
		return decideRefresh(in, s)
	}
	return decideOutcome(in, s)
}

// schedule is where an ExternalSecret stands in its refresh slots.
type schedule struct {
	// version is the spec version to sync (syncedResourceVersion).
	version string
	// last is when the last refresh began at the latest, due when the
	// next is due, next when the next after a refresh now is due.
	last, due, next time.Time
	// slot is when the slot due belongs to begins: before every object's
	// offset in the spread, so that its reads serve the whole slot.
	slot time.Time
	// current is when the slot now falls in began, and interval the
	// refresh interval; zero without refreshes.
	current  time.Time
	interval time.Duration
	// following is when the slot a refresh now is next due in begins,
	// once its status is read back: the slot its reads are wanted in
	// next (esdata.Slot.Next).
	following time.Time
}

func scheduleOf(in Input) schedule {
	es := in.ES
	key := types.NamespacedName{Namespace: es.Namespace, Name: es.Name}.String()
	interval := es.Spec.RefreshIntervalOrDefault()
	last := es.Status.RefreshTime.Time
	if !last.IsZero() {
		last = readBack(last)
	}
	return schedule{
		version: syncedVersion(es),
		last:    last,
		due:     esdata.NextRefresh(last, interval, in.Identity, key, in.Spread),
		slot:    esdata.NextRefresh(last, interval, in.Identity, key, 0),
		next:    esdata.NextRefresh(in.Now, interval, in.Identity, key, in.Spread),
		// The first slot after one interval ago: the one now is in.
		current:   esdata.NextRefresh(in.Now.Add(-interval), interval, in.Identity, key, 0),
		interval:  interval,
		following: esdata.NextRefresh(readBack(in.Now), interval, in.Identity, key, 0),
	}
}

// readBack is when the schedule counts a refresh begun at t, once
// status.refreshTime recorded it. The field is stored to the second: the
// refresh it records started up to a second later. Count from the end of
// that second, or a refresh that began just after its slot did reads back
// as before the slot, and the next one finds that served slot due again
// and is served the reads made for it. So a refresh begun in the last
// second of a slot counts in the slot after, and skips that one.
func readBack(t time.Time) time.Time {
	return t.Truncate(time.Second).Add(time.Second - time.Nanosecond)
}

// decideRefresh decides before the providers are read.
func decideRefresh(in Input, s schedule) Decision {
	es := in.ES
	refresh := shouldRefresh(es, s.version, s.due, in.Now)
	valid := isSecretValid(in.Actual, es.Spec.Target.CreationPolicy)
	switch {
	case !refresh && valid:
		return Decision{Requeue: s.due}
	case !refresh && in.Last != nil && in.Last.Version == s.version:
		// Drift: the Secret changed or vanished but no refresh is due.
		// Repair it from the last write, without calling the provider.
		w := desiredWrite(es, in.Last.Secret, in.Actual)
		return Decision{Write: &w, Repair: true, Status: synced(es, es.Status.RefreshTime.Time, s.version), Requeue: s.due}
	case !refresh && lastOverBudget(es):
		// Nothing to repair from, and rendering again before the next
		// refresh would fail the same way.
		return Decision{Requeue: s.due}
	case es.Spec.RefreshPolicy == esv1.RefreshPolicyCreatedOnce && es.Status.SyncedResourceVersion != "" && in.Actual != nil:
		// CreatedOnce: the Secret was written once and is left alone.
		return Decision{}
	}
	d := Decision{Refresh: true}
	if s.interval > 0 {
		d.Slot = esdata.Slot{Start: s.current, Interval: s.interval, Next: s.following}
	}
	switch {
	case es.Status.SyncedResourceVersion == s.version && !s.due.IsZero() && !s.due.After(in.Now):
		// A scheduled refresh: only reads from this slot on will do, and
		// the first of the slot reads ahead. A refresh overdue by more
		// than a slot (failures since: a provider down) takes the slot
		// now is in: the due slot's reads are as old as the outage, and
		// an answer from its start (a secret not found while the provider
		// came back empty) would otherwise serve every retry for good.
		start := s.slot
		if s.current.After(start) {
			start = s.current
		}
		d.NotBefore = start
		d.Slot = esdata.Slot{Start: start, Interval: s.interval, Scheduled: true, Next: s.following}
	case es.Status.SyncedResourceVersion == s.version:
		// A refresh before its slot, such as a drift repair after a
		// restart: any read still within the dedupe TTL will do.
	case es.Status.SyncedResourceVersion == "":
		// A first sync: reads made since the ExternalSecret exists, which
		// ExternalSecrets created together share.
		d.NotBefore = es.CreationTimestamp.Time
	default:
		// The ExternalSecret changed (ESO's force-sync annotation is such
		// a change): the provider as it is now, not a read from before.
		d.NotBefore = in.Now
	}
	return d
}

// decideOutcome decides with what the providers gave.
func decideOutcome(in Input, s schedule) Decision {
	es := in.ES
	if err := in.Read.Err; err != nil {
		if !errors.Is(err, template.ErrBudgetExceeded) {
			return Decision{Failure: &Failure{Message: msgProviderError, Err: err, Retry: true}}
		}
		// The render fails the same way until the spec or the provider
		// data change: no retry before the next refresh. It counts as that
		// refresh, so neither a restart nor a store becoming ready renders
		// the same spec again sooner; under CreatedOnce, which refreshes
		// only before a first sync, nothing is recorded and a restart
		// renders it once more.
		d := Decision{Failure: &Failure{Message: msgTemplateBudget, Err: err}, Requeue: s.next}
		if es.Spec.RefreshPolicy != esv1.RefreshPolicyCreatedOnce {
			d.Status = &Status{RefreshTime: in.Now, Version: s.version}
		}
		return d
	}
	data := in.Read.Data
	d := Decision{Missing: data.Missing, Requeue: s.next}
	switch data.Outcome {
	case esdata.DesiredRetain:
		d.Status = synced(es, in.Now, s.version)
	case esdata.DesiredDelete:
		if err := mayDelete(es, in.Actual); err != nil {
			return Decision{Missing: data.Missing, Failure: &Failure{Message: msgDeleteError, Err: err, Retry: true}}
		}
		d.Delete = true
		d.Status = &Status{Reason: esv1.ConditionReasonSecretDeleted, Message: "secret deleted due to DeletionPolicy", RefreshTime: in.Now, Version: s.version}
	default:
		w, err := targetWrite(es, data, in.Actual)
		if err != nil {
			return Decision{Missing: data.Missing, Failure: &Failure{Message: msgWriteError, Err: err}}
		}
		d.Write = w
		d.Status = synced(es, in.Now, s.version)
	}
	return d
}

// synced is the status of an ExternalSecret synced at version by a
// refresh at.
func synced(es *esv1.ExternalSecret, at time.Time, version string) *Status {
	st := &Status{Reason: esv1.ConditionReasonSecretSynced, Message: "secret synced", RefreshTime: at, Version: version}
	if es.Spec.Target.CreationPolicy != esv1.CreatePolicyNone {
		st.Binding = targetName(es)
	}
	return st
}

// syncedVersion is ESO's syncedResourceVersion: the generation and a hash
// of labels and annotations, so that metadata edits (force-sync) refresh.
func syncedVersion(es *esv1.ExternalSecret) string {
	return fmt.Sprintf("%d-%s", es.Generation, esdata.Hash(struct {
		Labels, Annotations map[string]string
	}{es.Labels, es.Annotations}))
}

// shouldRefresh applies ESO's refresh rules, with due the aligned slot.
func shouldRefresh(es *esv1.ExternalSecret, version string, due, now time.Time) bool {
	switch es.Spec.RefreshPolicy {
	case esv1.RefreshPolicyCreatedOnce:
		return es.Status.SyncedResourceVersion == ""
	case esv1.RefreshPolicyOnChange:
		return es.Status.SyncedResourceVersion != version
	}
	if es.Status.SyncedResourceVersion != version || es.Status.RefreshTime.IsZero() {
		return true
	}
	if es.Spec.RefreshIntervalOrDefault() <= 0 {
		return false
	}
	return !now.Before(due)
}

// isSecretValid is ESO's check that a Secret is as last written: present,
// labelled managed, and its data matching the recorded hash.
func isSecretValid(s *corev1.Secret, policy esv1.ExternalSecretCreationPolicy) bool {
	if policy == esv1.CreatePolicyNone {
		return true
	}
	if s == nil || s.Labels[esv1.LabelManaged] != esv1.LabelManagedValue {
		return false
	}
	return s.Annotations[esv1.AnnotationDataHash] == esdata.Hash(s.Data)
}

// lastOverBudget reports whether the last refresh went over the template
// budget.
func lastOverBudget(es *esv1.ExternalSecret) bool {
	for _, c := range es.Status.Conditions {
		if c.Type == esv1.ExternalSecretReady {
			return c.Status == corev1.ConditionFalse &&
				(c.Message == msgTemplateBudget || strings.HasPrefix(c.Message, msgTemplateBudget+":"))
		}
	}
	return false
}

// mayDelete says why the target Secret may not be deleted under
// deletionPolicy Delete, or nil: like ESO, only a Secret this
// ExternalSecret owns.
func mayDelete(es *esv1.ExternalSecret, actual *corev1.Secret) error {
	if es.Spec.Target.CreationPolicy != esv1.CreatePolicyOwner && es.Spec.Target.CreationPolicy != "" {
		return fmt.Errorf("invalid creationPolicy=%s. Can not delete secret i do not own", es.Spec.Target.CreationPolicy)
	}
	if actual != nil && !syncer.ControlledBy(actual, es.UID) {
		return fmt.Errorf("secret %s is not owned by this ExternalSecret", actual.Name)
	}
	return nil
}
