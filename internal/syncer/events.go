package syncer

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// Events holds what one reconcile says in events until its status is
// written, then emits them naming the object as that write left it.
//
// The events API (events.k8s.io, client-go's tools/events) folds the
// events of one object version that share type, reason and action into
// one series and keeps the first note: a second failure about the same
// version, with another message, would count in that series and never
// show. That happens when a reconcile reads a version the cache has not
// yet replaced: the previous reconcile's failure and this one's both name
// it. Emitted after the status write, an event names the version the new
// status made, so every new status message has its own event; and two
// notes of one reason in one reconcile are joined into one event.
type Events struct {
	// Recorder emits the events; nil emits none.
	Recorder events.EventRecorder
	// Action is the events' action ("Sync", "Unseal").
	Action string

	list []pendingEvent
}

type pendingEvent struct{ eventType, reason, note string }

// Add holds an event to emit.
func (e *Events) Add(eventType, reason, note string) {
	for i := range e.list {
		if p := &e.list[i]; p.eventType == eventType && p.reason == reason {
			if !strings.Contains(p.note, note) {
				p.note += "; " + note
			}
			return
		}
	}
	e.list = append(e.list, pendingEvent{eventType, reason, note})
}

// Emit emits the events held, about obj as its status write left it, and
// forgets them.
func (e *Events) Emit(obj runtime.Object) {
	if e.Recorder != nil {
		for _, p := range e.list {
			e.Recorder.Eventf(obj, nil, p.eventType, p.reason, e.Action, "%s", p.note)
		}
	}
	e.list = nil
}
