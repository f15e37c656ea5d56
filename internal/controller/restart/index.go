package restart

import (
	"cmp"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// workloadKey names a workload of one kind.
type workloadKey struct {
	kind string
	types.NamespacedName
}

// indexed is what the index knows of one opted-in workload: the Secrets
// its pod template referenced at a generation.
type indexed struct {
	generation int64
	secrets    []string
}

// index maps each Secret to the opted-in workloads of its namespace that
// reference it, so that a Secret change reaches exactly them. Only
// workloads that opted in are in it, so it grows with those, never with
// the cluster's workloads. It is built by the reconciles, from the full
// object read once per generation.
type index struct {
	mu         sync.Mutex
	byWorkload map[workloadKey]indexed
	bySecret   map[types.NamespacedName]map[workloadKey]struct{}
}

func newIndex() *index {
	return &index{byWorkload: map[workloadKey]indexed{}, bySecret: map[types.NamespacedName]map[workloadKey]struct{}{}}
}

func (x *index) get(k workloadKey) (indexed, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.byWorkload[k]
	return e, ok
}

// set records that workload k references secrets at generation.
func (x *index) set(k workloadKey, generation int64, secrets []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.drop(k)
	x.byWorkload[k] = indexed{generation: generation, secrets: secrets}
	for _, s := range secrets {
		sk := types.NamespacedName{Namespace: k.Namespace, Name: s}
		if x.bySecret[sk] == nil {
			x.bySecret[sk] = map[workloadKey]struct{}{}
		}
		x.bySecret[sk][k] = struct{}{}
	}
}

// forget drops workload k.
func (x *index) forget(k workloadKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.drop(k)
}

func (x *index) drop(k workloadKey) {
	old, ok := x.byWorkload[k]
	if !ok {
		return
	}
	delete(x.byWorkload, k)
	for _, s := range old.secrets {
		sk := types.NamespacedName{Namespace: k.Namespace, Name: s}
		delete(x.bySecret[sk], k)
		if len(x.bySecret[sk]) == 0 {
			delete(x.bySecret, sk)
		}
	}
}

// users returns the workloads of kind that reference Secret s, sorted by
// name, at most max of them, and how many there are in all.
func (x *index) users(s types.NamespacedName, kind string, max int) ([]types.NamespacedName, int) {
	x.mu.Lock()
	var out []types.NamespacedName
	for k := range x.bySecret[s] {
		if k.kind == kind {
			out = append(out, k.NamespacedName)
		}
	}
	x.mu.Unlock()
	slices.SortFunc(out, func(a, b types.NamespacedName) int { return cmp.Compare(a.Name, b.Name) })
	return out[:min(len(out), max)], len(out)
}
