package syncer_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sealsync/sealsync/internal/syncer"
)

// recorded is one event as the API would key it: the object version it
// names, type, reason, action, and the note.
type recorded struct{ version, eventType, reason, action, note string }

type recordingRecorder struct{ got []recorded }

func (r *recordingRecorder) Eventf(obj runtime.Object, _ runtime.Object, eventType, reason, action, format string, args ...any) {
	r.got = append(r.got, recorded{obj.(metav1.Object).GetResourceVersion(), eventType, reason, action, fmt.Sprintf(format, args...)})
}

// TestEventsNameTheWrittenVersion: events held during a reconcile are
// emitted once, about the object as its status write left it, and two
// notes of one type and reason become one event, since the events API
// would fold the second into the first's series and drop its note.
func TestEventsNameTheWrittenVersion(t *testing.T) {
	rec := &recordingRecorder{}
	ev := &syncer.Events{Recorder: rec, Action: "Sync"}
	obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "7"}}
	ev.Add(corev1.EventTypeWarning, "Missing", "secret a is missing")
	ev.Add(corev1.EventTypeWarning, "Missing", "secret b is missing")
	ev.Add(corev1.EventTypeWarning, "Missing", "secret b is missing")
	ev.Add(corev1.EventTypeWarning, "UpdateFailed", "denied")
	ev.Add(corev1.EventTypeNormal, "Created", "Created Secret")
	if len(rec.got) != 0 {
		t.Fatalf("emitted before the status write: %v", rec.got)
	}
	obj.ResourceVersion = "8" // the status write
	ev.Emit(obj)
	want := []recorded{
		{"8", corev1.EventTypeWarning, "Missing", "Sync", "secret a is missing; secret b is missing"},
		{"8", corev1.EventTypeWarning, "UpdateFailed", "Sync", "denied"},
		{"8", corev1.EventTypeNormal, "Created", "Sync", "Created Secret"},
	}
	if fmt.Sprint(rec.got) != fmt.Sprint(want) {
		t.Fatalf("emitted\n%v\nwant\n%v", rec.got, want)
	}
	ev.Emit(obj)
	if len(rec.got) != len(want) {
		t.Fatalf("emitted again: %v", rec.got[len(want):])
	}
	(&syncer.Events{}).Emit(obj) // no recorder: nothing, no panic
}
