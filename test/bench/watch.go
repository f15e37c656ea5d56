package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectWatch follows, from one list and watch on the API server, which
// objects of a kind are in a wanted state ("ok"), notes when each first
// was, and the moment all of a wanted set were. Polling lists would load
// the API server under measurement and see the end late.
type objectWatch struct {
	want map[string]bool // "namespace/name"
	ok   func(client.Object) bool
	// seen, if set, is called with every object listed or watched, at
	// the moment the bench learned of it, under the watch's lock.
	seen func(o client.Object, at time.Time)

	mu      sync.Mutex
	present map[string]bool      // wanted objects that are ok now
	first   map[string]time.Time // when any object was first seen ok
	waiters map[string][]chan struct{}
	doneAt  time.Time
	done    chan struct{} // closed when every wanted object is ok
	err     error         // why the watch ended early, once stopped is closed
	stopped chan struct{}
	cancel  context.CancelFunc
}

// watchSecrets lists the Secrets matching selector in all namespaces and
// watches them from there on, counting those named in want. Stop it with
// stop.
func watchSecrets(ctx context.Context, cl client.WithWatch, selector string, want map[string]bool) (*objectWatch, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, err
	}
	return watchObjects(ctx, listWatch{cl: cl, newList: func() client.ObjectList { return &corev1.SecretList{} },
		opts: []client.ListOption{client.MatchingLabelsSelector{Selector: sel}}}, want, nil, nil)
}

// watchObjects lists the objects lw names and watches them from there on,
// counting those named in want for which ok holds (nil: any that
// exists). seen, if set, sees every object as it comes. Stop the watch
// with stop.
func watchObjects(ctx context.Context, lw listWatch, want map[string]bool, ok func(client.Object) bool, seen func(client.Object, time.Time)) (*objectWatch, error) {
	if ok == nil {
		ok = func(client.Object) bool { return true }
	}
	list := lw.newList()
	if err := lw.cl.List(ctx, list, lw.opts...); err != nil {
		return nil, fmt.Errorf("list %T: %w", list, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &objectWatch{want: want, ok: ok, seen: seen, present: map[string]bool{}, first: map[string]time.Time{},
		waiters: map[string][]chan struct{}{}, done: make(chan struct{}), stopped: make(chan struct{}), cancel: cancel}
	items, err := meta.ExtractList(list)
	if err != nil {
		cancel()
		return nil, err
	}
	for _, item := range items {
		if o, isObject := item.(client.Object); isObject {
			w.update(o, false)
		}
	}
	if len(want) == 0 {
		w.markDone()
	}
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.GetResourceVersion(), lw)
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(w.stopped)
		defer rw.Stop()
		for {
			select {
			case <-ctx.Done():
				w.err = context.Cause(ctx)
				return
			case ev, open := <-rw.ResultChan():
				if !open {
					w.err = fmt.Errorf("%T watch ended", list)
					return
				}
				o, isObject := ev.Object.(client.Object)
				switch {
				case ev.Type == watch.Error:
					w.err = fmt.Errorf("%T watch: %v", list, ev.Object)
					return
				case !isObject:
				case ev.Type == watch.Added || ev.Type == watch.Modified:
					w.update(o, false)
				case ev.Type == watch.Deleted:
					w.update(o, true)
				}
			}
		}
	}()
	return w, nil
}

// update records o as it is now, or as gone.
func (w *objectWatch) update(o client.Object, deleted bool) {
	now := time.Now()
	key := o.GetNamespace() + "/" + o.GetName()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen != nil && !deleted {
		w.seen(o, now)
	}
	ok := !deleted && w.ok(o)
	if ok {
		if _, was := w.first[key]; !was {
			w.first[key] = now
			for _, ch := range w.waiters[key] {
				close(ch)
			}
			delete(w.waiters, key)
		}
	}
	if !w.want[key] {
		return
	}
	if !ok {
		delete(w.present, key)
		return
	}
	w.present[key] = true
	if len(w.present) == len(w.want) && w.doneAt.IsZero() {
		w.doneAt = now
		close(w.done)
	}
}

func (w *objectWatch) markDone() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.doneAt.IsZero() {
		w.doneAt = time.Now()
		close(w.done)
	}
}

// count returns how many wanted objects are ok.
func (w *objectWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.present)
}

// wait returns the moment every wanted object was ok. It fails when ctx
// ends, the watch breaks, or abort is closed (with abortErr's error).
func (w *objectWatch) wait(ctx context.Context, abort <-chan struct{}, abortErr func() error, report func(n int)) (time.Time, error) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-w.done:
			return w.doneAt, nil
		case <-ctx.Done():
			return time.Time{}, context.Cause(ctx)
		case <-w.stopped:
			return time.Time{}, w.err
		case <-abort:
			return time.Time{}, abortErr()
		case <-tick.C:
			report(w.count())
		}
	}
}

// waitFor returns when the object key (wanted or not) was first seen ok,
// waiting for it if need be.
func (w *objectWatch) waitFor(ctx context.Context, key string) (time.Time, error) {
	w.mu.Lock()
	if t, ok := w.first[key]; ok {
		w.mu.Unlock()
		return t, nil
	}
	ch := make(chan struct{})
	w.waiters[key] = append(w.waiters[key], ch)
	w.mu.Unlock()
	select {
	case <-ch:
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.first[key], nil
	case <-ctx.Done():
		return time.Time{}, context.Cause(ctx)
	case <-w.stopped:
		return time.Time{}, w.err
	}
}

// stop ends the watch.
func (w *objectWatch) stop() {
	w.cancel()
	<-w.stopped
}

// listWatch lists and watches one kind of object through a
// controller-runtime client; the retry watcher sets only the resource
// version and bookmarks.
type listWatch struct {
	cl      client.WithWatch
	newList func() client.ObjectList
	opts    []client.ListOption
}

func (lw listWatch) WatchWithContext(ctx context.Context, raw metav1.ListOptions) (watch.Interface, error) {
	o := &client.ListOptions{}
	o.ApplyOptions(lw.opts)
	o.Raw = &raw
	return lw.cl.Watch(ctx, lw.newList(), o)
}
