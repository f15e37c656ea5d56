package externalsecrets

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
)

// The decision tests need no API server: Decide is pure. Everything in
// an Input but the controller's flags (Spread) and the store's identity
// is tenant input: the ExternalSecret, the Secret its namespace holds
// (which the tenant may edit), and what the provider holds.

const (
	testIdentity = "vault-identity"
	testInterval = time.Hour
)

// created is when the test ExternalSecret was created; lastRefresh is its
// last refresh in the states that have one.
var (
	created     = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	lastRefresh = created.Add(7*time.Minute + 300*time.Millisecond)
)

// testES is an ExternalSecret of refresh policy p and creation policy c,
// never synced.
func testES(p esv1.ExternalSecretRefreshPolicy, c esv1.ExternalSecretCreationPolicy) *esv1.ExternalSecret {
	return &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "team", Name: "db", UID: "es-uid", Generation: 2,
			CreationTimestamp: metav1.NewTime(created),
		},
		Spec: esv1.ExternalSecretSpec{
			RefreshPolicy:   p,
			RefreshInterval: &metav1.Duration{Duration: testInterval},
			SecretStoreRef:  esv1.SecretStoreRef{Name: "vault"},
			Target:          esv1.ExternalSecretTarget{Name: "db-secret", CreationPolicy: c},
		},
	}
}

// due is when es, last refreshed at lastRefresh, is due again.
func due(es *esv1.ExternalSecret) time.Time {
	return scheduleOf(Input{ES: es, Identity: testIdentity}).due
}

// setState puts es in a sync state and returns the reconcile's time:
//
//   - new: never synced;
//   - fresh: synced at its spec, before its next refresh is due;
//   - due: synced at its spec, its next refresh due;
//   - changed: synced at an older spec (or ESO's force-sync annotation
//     changed), before a refresh would be due.
func setState(es *esv1.ExternalSecret, state string) time.Time {
	if state == "new" {
		return created.Add(time.Second)
	}
	es.Status.RefreshTime = metav1.NewTime(lastRefresh.Truncate(time.Second))
	es.Status.SyncedResourceVersion = syncedVersion(es)
	next := due(es)
	switch state {
	case "fresh":
		return next.Add(-time.Minute)
	case "due":
		return next.Add(time.Second)
	case "changed":
		es.Status.SyncedResourceVersion = "1-older"
		return next.Add(-time.Minute)
	}
	panic("unknown state " + state)
}

// ours is the Secret es wrote: managed, owned, its data hash recorded,
// the key "old" set by es's field manager.
func ours(es *esv1.ExternalSecret) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: es.Namespace, Name: targetName(es), UID: "secret-uid", ResourceVersion: "10",
			Labels: map[string]string{esv1.LabelManaged: esv1.LabelManagedValue, syncer.ManagedByLabel: managedByExternalSecret},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: esv1.SchemeGroupVersion.String(), Kind: "ExternalSecret", Name: es.Name, UID: es.UID, Controller: ptr.To(true),
			}},
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: fieldOwner(es), FieldsV1: metav1.NewFieldsV1(`{"f:data":{"f:old":{}}}`),
			}},
		},
		Data: map[string][]byte{"old": []byte("1")},
	}
	s.Annotations = map[string]string{esv1.AnnotationDataHash: esdata.Hash(s.Data)}
	return s
}

// secretIn returns the target Secret of es in one of the drift states:
// valid (as written), edited (its data changed by hand) or missing.
func secretIn(es *esv1.ExternalSecret, drift string) *corev1.Secret {
	switch drift {
	case "valid":
		return ours(es)
	case "edited":
		s := ours(es)
		s.Data["old"] = []byte("edited")
		return s
	case "missing":
		return nil
	}
	panic("unknown drift " + drift)
}

// lastIn returns what the process remembers writing for es: nothing, a
// write at its current spec, or one at an older spec.
func lastIn(es *esv1.ExternalSecret, memo string) *Written {
	switch memo {
	case "none":
		return nil
	case "current":
		return &Written{Secret: ours(es), Version: syncedVersion(es)}
	case "stale":
		return &Written{Secret: ours(es), Version: "1-older"}
	}
	panic("unknown memo " + memo)
}

// outcome names a decision made before the providers are read, for the
// table below: wait (requeue at the slot due), repair (write the last
// write again), skip (nothing, CreatedOnce), or refresh:<from>, from
// naming NotBefore: created (the ExternalSecret's creation), slot (the
// start of the slot due), now, or any (zero: any read within the TTL).
func outcome(t *testing.T, in Input, d Decision) string {
	t.Helper()
	s := scheduleOf(in)
	switch {
	case d.Refresh:
		if d.Write != nil || d.Delete || d.Failure != nil || d.Status != nil || !d.Requeue.IsZero() {
			t.Errorf("a refresh decided more: %+v", d)
		}
		checkSlot(t, in, d)
		switch d.NotBefore {
		case time.Time{}:
			return "refresh:any"
		case in.ES.CreationTimestamp.Time:
			return "refresh:created"
		case s.slot:
			return "refresh:slot"
		case in.Now:
			return "refresh:now"
		}
		return "refresh:" + d.NotBefore.String()
	case d.Write != nil && d.Repair:
		if d.Write.Secret != in.Last.Secret || d.Requeue != s.due || d.Status == nil ||
			!d.Status.RefreshTime.Equal(in.ES.Status.RefreshTime.Time) || d.Status.Version != s.version {
			t.Errorf("repair %+v, status %+v: want the last write again, recorded at the last refresh, requeued at %v", d, d.Status, s.due)
		}
		return "repair"
	case d.Write == nil && !d.Delete && d.Failure == nil && d.Status == nil:
		if d.Requeue.IsZero() {
			return "skip"
		}
		if d.Requeue != s.due {
			t.Errorf("waits until %v, want the slot due %v", d.Requeue, s.due)
		}
		return "wait"
	}
	return fmt.Sprintf("%+v", d)
}

// checkSlot requires the refresh slot a refresh reads for: the slot due
// for a scheduled refresh, which reads ahead; for any other, the slot now
// falls in, whose reads it is remembered with; none without refreshes.
func checkSlot(t *testing.T, in Input, d Decision) {
	t.Helper()
	s := scheduleOf(in)
	interval := in.ES.Spec.RefreshIntervalOrDefault()
	switch {
	case interval <= 0:
		if d.Slot != (esdata.Slot{}) {
			t.Errorf("slot %+v without refreshes", d.Slot)
		}
	case d.Slot.Scheduled:
		if !d.NotBefore.Equal(s.slot) || !d.Slot.Start.Equal(s.slot) || d.Slot.Interval != interval {
			t.Errorf("scheduled slot %+v, not before %v; want the slot due %v", d.Slot, d.NotBefore, s.slot)
		}
	default:
		if d.Slot.Interval != interval || d.Slot.Start.After(in.Now) || !in.Now.Before(d.Slot.Start.Add(interval)) {
			t.Errorf("slot %+v at %v; want the one now falls in, not scheduled", d.Slot, in.Now)
		}
	}
}

// TestDecideRefresh covers every refresh policy, creation policy, sync
// state, drift of the target Secret and memory of the last write, before
// the providers are read: whether to read them, and from when reads may
// be reused.
// Each row lists the outcomes for the Secret valid, edited, missing, each
// with no last write remembered, one at the current spec, one at an
// older spec.
func TestDecideRefresh(t *testing.T) {
	const (
		all       = "refresh:created "
		fresh     = "wait wait wait refresh:any repair refresh:any refresh:any repair refresh:any"
		onceFresh = "wait wait wait skip repair skip refresh:any repair refresh:any"
	)
	tests := []struct {
		policy esv1.ExternalSecretRefreshPolicy
		state  string
		want   string
	}{
		{"", "new", strings.Repeat(all, 9)},
		{"", "fresh", fresh},
		{"", "due", strings.Repeat("refresh:slot ", 9)},
		{"", "changed", strings.Repeat("refresh:now ", 9)},
		{esv1.RefreshPolicyPeriodic, "new", strings.Repeat(all, 9)},
		{esv1.RefreshPolicyPeriodic, "fresh", fresh},
		{esv1.RefreshPolicyPeriodic, "due", strings.Repeat("refresh:slot ", 9)},
		{esv1.RefreshPolicyPeriodic, "changed", strings.Repeat("refresh:now ", 9)},
		{esv1.RefreshPolicyOnChange, "new", strings.Repeat(all, 9)},
		{esv1.RefreshPolicyOnChange, "fresh", fresh},
		{esv1.RefreshPolicyOnChange, "due", "wait wait wait refresh:slot repair refresh:slot refresh:slot repair refresh:slot"},
		{esv1.RefreshPolicyOnChange, "changed", strings.Repeat("refresh:now ", 9)},
		{esv1.RefreshPolicyCreatedOnce, "new", strings.Repeat(all, 9)},
		{esv1.RefreshPolicyCreatedOnce, "fresh", onceFresh},
		{esv1.RefreshPolicyCreatedOnce, "due", "wait wait wait skip repair skip refresh:slot repair refresh:slot"},
		{esv1.RefreshPolicyCreatedOnce, "changed", "wait wait wait skip repair skip refresh:now repair refresh:now"},
	}
	// Every creation policy but None (see below) decides alike here;
	// they differ in how a repair is written.
	creation := []esv1.ExternalSecretCreationPolicy{"", esv1.CreatePolicyOwner, esv1.CreatePolicyOrphan, esv1.CreatePolicyMerge, esv1.CreatePolicyCreateOrMerge}
	for _, tt := range tests {
		want := strings.Fields(tt.want)
		for _, c := range creation {
			i := 0
			for _, drift := range []string{"valid", "edited", "missing"} {
				for _, memo := range []string{"none", "current", "stale"} {
					name := fmt.Sprintf("%s/%s/%s/%s/last write %s", cmpOr(string(tt.policy), "default"), cmpOr(string(c), "default"), tt.state, drift, memo)
					w := want[i]
					i++
					t.Run(name, func(t *testing.T) {
						es := testES(tt.policy, c)
						now := setState(es, tt.state)
						in := Input{ES: es, Actual: secretIn(es, drift), Last: lastIn(es, memo), Identity: testIdentity, Now: now}
						d := Decide(in)
						if got := outcome(t, in, d); got != w {
							t.Errorf("%s, want %s", got, w)
						}
						if d.Repair {
							merge := c == esv1.CreatePolicyMerge || c == esv1.CreatePolicyCreateOrMerge && in.Actual != nil
							owner := c == "" || c == esv1.CreatePolicyOwner
							if d.Write.MergeData != merge || d.Write.KeepOwners == owner {
								t.Errorf("repair merges %v, keeps owners %v; want %v, %v", d.Write.MergeData, d.Write.KeepOwners, merge, !owner)
							}
						}
					})
				}
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestDecideRefreshCreationPolicyNone: under creationPolicy None there is
// no Secret to drift, so between refreshes there is only waiting.
func TestDecideRefreshCreationPolicyNone(t *testing.T) {
	for _, policy := range []esv1.ExternalSecretRefreshPolicy{"", esv1.RefreshPolicyOnChange, esv1.RefreshPolicyCreatedOnce} {
		for _, drift := range []string{"valid", "edited", "missing"} {
			t.Run(cmpOr(string(policy), "default")+"/"+drift, func(t *testing.T) {
				es := testES(policy, esv1.CreatePolicyNone)
				now := setState(es, "fresh")
				in := Input{ES: es, Actual: secretIn(es, drift), Identity: testIdentity, Now: now}
				if got := outcome(t, in, Decide(in)); got != "wait" {
					t.Errorf("%s, want wait", got)
				}
			})
		}
	}
}

// TestDecideRefreshEdges: an interval of zero, a render over budget with
// nothing to repair from, and the spread inside the slot.
func TestDecideRefreshEdges(t *testing.T) {
	t.Run("interval zero: synced once, never again", func(t *testing.T) {
		es := testES("", "")
		es.Spec.RefreshInterval = &metav1.Duration{}
		setState(es, "fresh")
		d := Decide(Input{ES: es, Actual: ours(es), Identity: testIdentity, Now: lastRefresh.Add(48 * time.Hour)})
		if d.Refresh || !d.Requeue.IsZero() {
			t.Errorf("%+v, want no refresh and no requeue", d)
		}
	})
	t.Run("over budget last time, nothing to repair from: wait for the slot", func(t *testing.T) {
		es := testES("", "")
		now := setState(es, "fresh")
		es.Status.Conditions = []esv1.ExternalSecretStatusCondition{{
			Type: esv1.ExternalSecretReady, Status: corev1.ConditionFalse, Message: msgTemplateBudget + ": more than 1000000 steps",
		}}
		in := Input{ES: es, Actual: secretIn(es, "missing"), Identity: testIdentity, Now: now}
		if got := outcome(t, in, Decide(in)); got != "wait" {
			t.Errorf("%s, want wait", got)
		}
	})
	t.Run("overdue after failures: only reads of the slot now", func(t *testing.T) {
		// The provider was down for three intervals (status keeps the
		// last success); the due slot's reads may be answers from the
		// outage, such as "not found" from a provider that came back
		// empty.
		es := testES("", "")
		setState(es, "fresh")
		in := Input{ES: es, Actual: ours(es), Identity: testIdentity}
		s := scheduleOf(in)
		in.Now = s.slot.Add(3*testInterval + time.Minute)
		now := scheduleOf(in).current
		d := Decide(in)
		if !d.Refresh || !d.NotBefore.Equal(now) || !d.Slot.Start.Equal(now) || now.Sub(s.slot) != 3*testInterval {
			t.Errorf("%+v, want a refresh sharing reads from the current slot %v, not the due %v", d, now, s.slot)
		}
	})
	t.Run("reads are remembered for the slot the next refresh runs in", func(t *testing.T) {
		// status.refreshTime keeps seconds only: a refresh begun in the
		// last second of a slot may count in the slot after and skip it.
		// Its reads must be read ahead for the slot it runs in next, not
		// the one after the slot it read in (esdata.Slot.Next).
		fresh := testES("", "")
		setState(fresh, "fresh")
		start := scheduleOf(Input{ES: fresh, Identity: testIdentity}).slot
		end := start.Add(testInterval)
		skipped := false
		for _, state := range []string{"due", "new"} {
			for _, before := range []time.Duration{testInterval - time.Minute, 2 * time.Second, time.Second, 300 * time.Millisecond, time.Nanosecond} {
				t.Run(fmt.Sprintf("%s, %v before the slot ends", state, before), func(t *testing.T) {
					es := testES("", "")
					if state == "due" {
						setState(es, "due")
					}
					in := Input{ES: es, Actual: ours(es), Identity: testIdentity, Now: end.Add(-before)}
					d := Decide(in)
					if !d.Refresh || !d.Slot.Start.Equal(start) || d.Slot.Scheduled != (state == "due") {
						t.Fatalf("%+v, want a refresh in the slot of %v", d, start)
					}
					// The API server keeps the refresh time to the second.
					es.Status.RefreshTime = metav1.NewTime(in.Now.Truncate(time.Second))
					es.Status.SyncedResourceVersion = syncedVersion(es)
					nextSlot := scheduleOf(Input{ES: es, Identity: testIdentity}).slot
					if !d.Slot.Next.Equal(nextSlot) {
						t.Errorf("reads remembered for the slot of %v, but the next refresh is due in the slot of %v", d.Slot.Next, nextSlot)
					}
					in.Now = nextSlot.Add(-time.Nanosecond)
					if got := Decide(in); got.Refresh {
						t.Errorf("refresh before the slot of %v: %+v", nextSlot, got)
					}
					in.Now = nextSlot
					if got := Decide(in); !got.Refresh || !got.Slot.Scheduled || !got.Slot.Start.Equal(d.Slot.Next) {
						t.Errorf("%+v, want a scheduled refresh in the slot of %v", got, d.Slot.Next)
					}
					skipped = skipped || nextSlot.Equal(end.Add(testInterval))
				})
			}
		}
		if !skipped {
			t.Error("no case began late enough in its slot to count in the next one")
		}
	})
	t.Run("the spread delays the refresh, not the reads it may share", func(t *testing.T) {
		es := testES("", "")
		setState(es, "fresh")
		in := Input{ES: es, Actual: ours(es), Identity: testIdentity, Spread: 2 * time.Second}
		s := scheduleOf(in)
		if s.due.Before(s.slot) || s.due.Sub(s.slot) >= 2*time.Second {
			t.Fatalf("due %v is not within the spread after the slot %v", s.due, s.slot)
		}
		in.Now = s.due
		if d := Decide(in); !d.Refresh || !d.NotBefore.Equal(s.slot) {
			t.Errorf("%+v, want a refresh sharing reads from the slot's start %v", d, s.slot)
		}
	})
}
