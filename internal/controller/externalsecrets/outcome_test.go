package externalsecrets

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/internal/template"
)

// read is what the provider gave for the outcome tests: data, or nothing
// at all under a deletion policy.
func read(outcome esdata.DesiredOutcome, missing ...esdata.MissingRef) *Read {
	d := &esdata.DesiredData{Outcome: outcome, Missing: missing}
	if outcome == esdata.DesiredApply {
		d.Data = map[string][]byte{"new": []byte("2")}
		d.Labels = map[string]string{"app": "db"}
		d.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: "{}", "note": "x"}
	}
	return &Read{Data: d}
}

// reads are the provider outcomes under each deletion policy: data
// (whatever the policy), no data left under Delete and Retain, and no
// data left under Merge, which package esdata makes a write of nothing.
var reads = []struct {
	name     string
	deletion esv1.ExternalSecretDeletionPolicy
	outcome  esdata.DesiredOutcome
	empty    bool
}{
	{"data/Retain", esv1.DeletionPolicyRetain, esdata.DesiredApply, false},
	{"data/Delete", esv1.DeletionPolicyDelete, esdata.DesiredApply, false},
	{"data/Merge", esv1.DeletionPolicyMerge, esdata.DesiredApply, false},
	{"none left/Delete", esv1.DeletionPolicyDelete, esdata.DesiredDelete, true},
	{"none left/Retain", esv1.DeletionPolicyRetain, esdata.DesiredRetain, true},
	{"none left/Merge", esv1.DeletionPolicyMerge, esdata.DesiredApply, true},
}

// foreign is a Secret another controller owns; unowned one nobody does.
func foreign(es *esv1.ExternalSecret) *corev1.Secret {
	s := ours(es)
	s.OwnerReferences[0].UID = "someone-else"
	s.OwnerReferences[0].Kind = "Other"
	return s
}

func unowned(es *esv1.ExternalSecret) *corev1.Secret {
	s := ours(es)
	s.OwnerReferences = nil
	s.ManagedFields = nil
	s.Data = map[string][]byte{"theirs": []byte("t")}
	return s
}

// TestDecideOutcome covers every creation policy, target Secret and
// deletion policy, with data read and with none left, once the providers
// were read: what is written, how, what is deleted, and what is recorded.
func TestDecideOutcome(t *testing.T) {
	type want struct {
		fail   string // a failure's error contains it
		retry  bool
		write  bool
		merge  bool // MergeData
		keep   bool // KeepOwners
		owned  bool // owner reference to the ExternalSecret
		drop   []string
		data   []string // keys of the data as it will be
		delete bool
	}
	policies := []esv1.ExternalSecretCreationPolicy{"", esv1.CreatePolicyOwner, esv1.CreatePolicyOrphan, esv1.CreatePolicyMerge, esv1.CreatePolicyCreateOrMerge, esv1.CreatePolicyNone}
	targets := map[string]func(*esv1.ExternalSecret) *corev1.Secret{
		"none":    func(*esv1.ExternalSecret) *corev1.Secret { return nil },
		"ours":    ours,
		"foreign": foreign,
		"unowned": unowned,
	}
	expect := func(p esv1.ExternalSecretCreationPolicy, target string, o esdata.DesiredOutcome, empty bool) want {
		owner := p == "" || p == esv1.CreatePolicyOwner
		switch o {
		case esdata.DesiredRetain:
			return want{}
		case esdata.DesiredDelete:
			switch {
			case !owner:
				return want{fail: "invalid creationPolicy=" + string(p), retry: true}
			case target == "foreign" || target == "unowned":
				return want{fail: "is not owned by this ExternalSecret", retry: true}
			}
			return want{delete: true}
		}
		merge := p == esv1.CreatePolicyMerge || p == esv1.CreatePolicyCreateOrMerge && target != "none"
		switch {
		case p == esv1.CreatePolicyNone:
			return want{}
		case p == esv1.CreatePolicyMerge && target == "none":
			return want{fail: "With creationPolicy=Merge the secret won't be created"}
		case owner && target == "foreign":
			return want{fail: "is owned by Other"}
		}
		w := want{write: true, merge: merge, keep: !owner, owned: owner, data: []string{"new"}}
		if empty {
			w.data = nil
		}
		if merge {
			switch target {
			case "ours", "foreign":
				w.drop = []string{"old"}
			case "unowned":
				w.data = append(w.data, "theirs")
			}
		}
		return w
	}
	for _, p := range policies {
		for _, target := range []string{"none", "ours", "foreign", "unowned"} {
			for _, rd := range reads {
				name := fmt.Sprintf("%s/%s/%s", cmpOr(string(p), "default"), target, rd.name)
				t.Run(name, func(t *testing.T) {
					es := testES("", p)
					es.Spec.Target.DeletionPolicy = rd.deletion
					now := setState(es, "due")
					in := Input{ES: es, Actual: targets[target](es), Identity: testIdentity, Now: now, Read: read(rd.outcome)}
					if rd.empty {
						in.Read.Data.Data = nil
					}
					d := Decide(in)
					w := expect(p, target, rd.outcome, rd.empty)
					checkOutcome(t, in, d, w.fail, w.retry)
					if w.fail != "" {
						return
					}
					if d.Delete != w.delete || (d.Write != nil) != w.write {
						t.Fatalf("delete %v, write %v; want %v, %v", d.Delete, d.Write != nil, w.delete, w.write)
					}
					if d.Write == nil {
						return
					}
					got := d.Write
					if got.MergeData != w.merge || got.KeepOwners != w.keep || !got.MergeMetadata ||
						(len(got.Owners) == 1 && got.Owners[0].UID == es.UID) != w.owned || fmt.Sprint(got.DropKeys) != fmt.Sprint(w.drop) {
						t.Errorf("write %+v, want %+v", got, w)
					}
					if want := in.Actual == nil || target == "ours"; got.RecreateImmutable != want {
						t.Errorf("RecreateImmutable %v, want %v: only a Secret this ExternalSecret owns is recreated", got.RecreateImmutable, want)
					}
					data := got.DataOver(in.Actual)
					if keys := slices.Sorted(maps.Keys(data)); fmt.Sprint(keys) != fmt.Sprint(w.data) {
						t.Errorf("data keys %v, want %v", keys, w.data)
					}
					s := got.Secret
					if s.Annotations[esv1.AnnotationDataHash] != esdata.Hash(data) {
						t.Error("the data hash is not that of the data as it will be")
					}
					if s.Labels[esv1.LabelManaged] != esv1.LabelManagedValue || s.Labels[syncer.ManagedByLabel] != managedByExternalSecret || s.Labels["app"] != "db" {
						t.Errorf("labels %v", s.Labels)
					}
					if _, ok := s.Annotations[corev1.LastAppliedConfigAnnotation]; ok || s.Annotations["note"] != "x" {
						t.Errorf("annotations %v", s.Annotations)
					}
					if w.owned != (s.Labels[esv1.LabelOwner] != "") {
						t.Errorf("owner label %q", s.Labels[esv1.LabelOwner])
					}
					if want := map[bool]corev1.SecretType{true: corev1.SecretTypeOpaque, false: ""}[in.Actual == nil]; s.Type != want {
						t.Errorf("type %q, want %q", s.Type, want)
					}
				})
			}
		}
	}
}

// checkOutcome checks what every decision after a read shares: the
// failure (fail empty: none), the missing secrets reported, the status
// and the next refresh.
func checkOutcome(t *testing.T, in Input, d Decision, fail string, retry bool) {
	t.Helper()
	s := scheduleOf(in)
	if d.Refresh {
		t.Fatal("refresh decided again after the read")
	}
	if fmt.Sprint(d.Missing) != fmt.Sprint(in.Read.Data.Missing) {
		t.Errorf("missing %v, want %v", d.Missing, in.Read.Data.Missing)
	}
	if fail != "" {
		if d.Failure == nil || !strings.Contains(d.Failure.Err.Error(), fail) || d.Failure.Retry != retry {
			t.Fatalf("failure %+v, want one saying %q, retry %v", d.Failure, fail, retry)
		}
		if d.Write != nil || d.Delete || d.Status != nil {
			t.Errorf("a failure wrote: %+v", d)
		}
		return
	}
	if d.Failure != nil {
		t.Fatalf("failure %v", d.Failure.Err)
	}
	if d.Status == nil || !d.Status.RefreshTime.Equal(in.Now) || d.Status.Version != s.version || d.Requeue != s.next {
		t.Errorf("status %+v, requeue %v; want the refresh now recorded at version %s, the next at %v", d.Status, d.Requeue, s.version, s.next)
	}
	wantReason, wantBinding := esv1.ConditionReasonSecretSynced, targetName(in.ES)
	if d.Delete {
		wantReason, wantBinding = esv1.ConditionReasonSecretDeleted, ""
	}
	if in.ES.Spec.Target.CreationPolicy == esv1.CreatePolicyNone {
		wantBinding = ""
	}
	if d.Status != nil && (d.Status.Reason != wantReason || d.Status.Binding != wantBinding) {
		t.Errorf("status reason %q binding %q, want %q %q", d.Status.Reason, d.Status.Binding, wantReason, wantBinding)
	}
}

// TestDecideReadFailures: a provider error is retried; a render over the
// template budget is not before the next refresh, and counts as that
// refresh unless under CreatedOnce; missing secrets are reported whatever
// follows.
func TestDecideReadFailures(t *testing.T) {
	budget := fmt.Errorf("data: %w", template.ErrBudgetExceeded)
	for _, tt := range []struct {
		name   string
		policy esv1.ExternalSecretRefreshPolicy
		err    error
	}{
		{"provider error", "", errors.New("vault: permission denied")},
		{"over budget", "", budget},
		{"over budget, created once", esv1.RefreshPolicyCreatedOnce, budget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es := testES(tt.policy, "")
			now := setState(es, "new")
			in := Input{ES: es, Identity: testIdentity, Now: now, Read: &Read{Err: tt.err}}
			d := Decide(in)
			s := scheduleOf(in)
			if d.Failure == nil || d.Write != nil || d.Delete || d.Refresh {
				t.Fatalf("%+v, want a failure only", d)
			}
			if !errors.Is(tt.err, template.ErrBudgetExceeded) {
				if d.Failure.Message != msgProviderError || !d.Failure.Retry || d.Status != nil || !d.Requeue.IsZero() {
					t.Errorf("%+v: want the provider error retried", d)
				}
				return
			}
			if d.Failure.Message != msgTemplateBudget || d.Failure.Retry || d.Requeue != s.next {
				t.Errorf("%+v: want no retry before the next refresh %v", d, s.next)
			}
			if once := tt.policy == esv1.RefreshPolicyCreatedOnce; once != (d.Status == nil) {
				t.Errorf("status %+v: recorded as a refresh %v, want %v", d.Status, d.Status != nil, !once)
			}
			if d.Status != nil && (d.Status.Reason != "" || !d.Status.RefreshTime.Equal(now) || d.Status.Version != s.version) {
				t.Errorf("status %+v", d.Status)
			}
		})
	}
	t.Run("missing secrets are reported with a failure", func(t *testing.T) {
		es := testES("", esv1.CreatePolicyMerge)
		now := setState(es, "new")
		missing := esdata.MissingRef{Field: "data[0]", Key: "/gone"}
		in := Input{ES: es, Identity: testIdentity, Now: now, Read: read(esdata.DesiredApply, missing)}
		d := Decide(in)
		checkOutcome(t, in, d, "won't be created", false)
	})
}

// TestDecideDoesNotModifyItsInput: Decide reads its input only; the
// reconciler patches the status from its own copy.
func TestDecideDoesNotModifyItsInput(t *testing.T) {
	es := testES("", esv1.CreatePolicyCreateOrMerge)
	now := setState(es, "due")
	actual := unowned(es)
	esBefore, actualBefore := es.DeepCopy(), actual.DeepCopy()
	in := Input{ES: es, Actual: actual, Identity: testIdentity, Now: now}
	Decide(in)
	in.Read = read(esdata.DesiredApply)
	Decide(in)
	if fmt.Sprint(es) != fmt.Sprint(esBefore) || fmt.Sprint(actual) != fmt.Sprint(actualBefore) {
		t.Error("Decide modified its input")
	}
}
