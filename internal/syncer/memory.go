package syncer

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Memory is what the reconciles of an object leave for its later
// reconciles in this process: a value per object that saves work, or a
// wrong turn, which the object's status alone cannot tell, such as a
// write the informer cache has not shown yet. Nothing in it is needed
// after a restart: without it a reconcile does more work (decrypts or
// reads the provider again), never other work.
//
// Values are kept by object name and belong to one object: recalled for
// another UID (the object was deleted and created again under its name)
// there is nothing. Memory is safe for concurrent use; controller-runtime
// never reconciles one name twice at once, so an object's value is only
// ever replaced by its own reconcile. The zero Memory is empty and ready.
type Memory[V any] struct {
	m sync.Map // types.NamespacedName -> memoryEntry[V]
}

type memoryEntry[V any] struct {
	uid types.UID
	v   V
}

// Remember keeps v for object uid under key, in place of what was kept.
func (m *Memory[V]) Remember(key types.NamespacedName, uid types.UID, v V) {
	m.m.Store(key, memoryEntry[V]{uid: uid, v: v})
}

// Recall returns what is kept for object uid under key.
func (m *Memory[V]) Recall(key types.NamespacedName, uid types.UID) (V, bool) {
	e, ok := m.m.Load(key)
	if !ok || e.(memoryEntry[V]).uid != uid {
		var zero V
		return zero, false
	}
	return e.(memoryEntry[V]).v, true
}

// Take is Recall that also forgets what was kept under key, whatever
// object it was for.
func (m *Memory[V]) Take(key types.NamespacedName, uid types.UID) (V, bool) {
	e, ok := m.m.LoadAndDelete(key)
	if !ok || e.(memoryEntry[V]).uid != uid {
		var zero V
		return zero, false
	}
	return e.(memoryEntry[V]).v, true
}

// Forget drops what is kept under key: the object is gone.
func (m *Memory[V]) Forget(key types.NamespacedName) {
	m.m.Delete(key)
}
