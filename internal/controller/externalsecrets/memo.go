package externalsecrets

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// memo is what this process remembers of one ExternalSecret between its
// reconciles (kept in a syncer.Memory). Each saves a call to the provider
// that the status alone cannot tell is unneeded; after a restart the
// first reconcile of each ExternalSecret reads its provider once more.
type memo struct {
	// last is the Secret last written for it: drift is repaired from it
	// without calling the provider (Input.Last).
	last *Written
	// failures counts the transient failures in a row since its last
	// success (retryAfter).
	failures int
	// refresh is the refresh time recorded by the last status this
	// controller wrote for it, and at when that status was written (see
	// staleStatus).
	refresh, at time.Time
}

// staleCacheWait bounds how long a status write is trusted over the
// cache, and staleCacheRetry is how soon a stale object is looked at
// again.
const (
	staleCacheWait  = 10 * time.Second
	staleCacheRetry = 500 * time.Millisecond
)

// staleStatus reports whether es, read from the cache, predates the
// status this controller wrote last (m): the echo of its own Secret write
// can be reconciled before the cache has the new status, and acting on
// the old one would sync again what was just synced. The write is trusted
// for staleCacheWait only, so a status changed behind the controller's
// back cannot hold an object forever.
func staleStatus(es *esv1.ExternalSecret, m memo, now time.Time) bool {
	return !m.at.IsZero() && now.Sub(m.at) < staleCacheWait &&
		es.Status.RefreshTime.Time.Before(m.refresh.Truncate(time.Second))
}

// recall returns what is remembered of es.
func (r *Reconciler) recall(es *esv1.ExternalSecret) memo {
	m, _ := r.memory.Recall(types.NamespacedName{Namespace: es.Namespace, Name: es.Name}, es.UID)
	return m
}

// remember changes what is remembered of es.
func (r *Reconciler) remember(es *esv1.ExternalSecret, change func(*memo)) {
	m := r.recall(es)
	change(&m)
	r.memory.Remember(types.NamespacedName{Namespace: es.Namespace, Name: es.Name}, es.UID, m)
}
