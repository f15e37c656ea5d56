package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	watchtools "k8s.io/client-go/tools/watch"
)

// secretWatch counts, from one watch on the API server, how many of a set
// of Secrets exist, and notes the moment they all do. Polling lists would
// load the API server under measurement and see the end late.
type secretWatch struct {
	want map[string]bool // "namespace/name"

	mu      sync.Mutex
	present map[string]bool
	doneAt  time.Time
	done    chan struct{} // closed when every wanted Secret exists
	err     error         // why the watch ended early, once stopped is closed
	stopped chan struct{}
	cancel  context.CancelFunc
}

// watchSecrets lists the Secrets matching selector in all namespaces and
// watches them from there on, counting those named in want. Stop it with
// stop.
func watchSecrets(ctx context.Context, cs kubernetes.Interface, selector string, want map[string]bool) (*secretWatch, error) {
	list, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &secretWatch{want: want, present: map[string]bool{}, done: make(chan struct{}), stopped: make(chan struct{}), cancel: cancel}
	for i := range list.Items {
		w.add(&list.Items[i])
	}
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, selectedSecrets{cs, selector})
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
			case ev, ok := <-rw.ResultChan():
				if !ok {
					w.err = fmt.Errorf("secret watch ended")
					return
				}
				s, isSecret := ev.Object.(*corev1.Secret)
				switch {
				case ev.Type == watch.Error:
					w.err = fmt.Errorf("secret watch: %v", ev.Object)
					return
				case !isSecret:
				case ev.Type == watch.Added || ev.Type == watch.Modified:
					w.add(s)
				case ev.Type == watch.Deleted:
					w.mu.Lock()
					delete(w.present, s.Namespace+"/"+s.Name)
					w.mu.Unlock()
				}
			}
		}
	}()
	return w, nil
}

func (w *secretWatch) add(s *corev1.Secret) {
	key := s.Namespace + "/" + s.Name
	if !w.want[key] {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.present[key] = true
	if len(w.present) == len(w.want) && w.doneAt.IsZero() {
		w.doneAt = time.Now()
		close(w.done)
	}
}

// count returns how many wanted Secrets exist.
func (w *secretWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.present)
}

// wait returns the moment every wanted Secret existed. It fails when ctx
// ends, the watch breaks, or abort is closed (with abortErr's error).
func (w *secretWatch) wait(ctx context.Context, abort <-chan struct{}, abortErr func() error, report func(n int)) (time.Time, error) {
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

// stop ends the watch.
func (w *secretWatch) stop() {
	w.cancel()
	<-w.stopped
}

// selectedSecrets watches the Secrets of every namespace that match a
// label selector; the retry watcher sets only the resource version.
type selectedSecrets struct {
	cs       kubernetes.Interface
	selector string
}

func (s selectedSecrets) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.LabelSelector = s.selector
	return s.cs.CoreV1().Secrets("").Watch(ctx, opts)
}
