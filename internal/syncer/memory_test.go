package syncer_test

import (
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/sealsync/sealsync/internal/syncer"
)

// TestMemory: a value is recalled for its own object only, taken once,
// and forgotten with its object.
func TestMemory(t *testing.T) {
	var m syncer.Memory[string]
	a := types.NamespacedName{Namespace: "n", Name: "a"}
	b := types.NamespacedName{Namespace: "n", Name: "b"}
	if _, ok := m.Recall(a, "u1"); ok {
		t.Fatal("the zero Memory recalled something")
	}
	m.Remember(a, "u1", "first")
	m.Remember(b, "u2", "other")
	if v, ok := m.Recall(a, "u1"); !ok || v != "first" {
		t.Fatalf("Recall = %q, %v", v, ok)
	}
	if _, ok := m.Recall(a, "u9"); ok {
		t.Fatal("recalled for an object created again under the same name")
	}
	m.Remember(a, "u1", "second")
	if v, _ := m.Recall(a, "u1"); v != "second" {
		t.Fatalf("Remember did not replace: %q", v)
	}
	if _, ok := m.Take(a, "u9"); ok {
		t.Fatal("took another object's value")
	}
	if _, ok := m.Recall(a, "u1"); ok {
		t.Fatal("Take for another object left the value")
	}
	m.Remember(a, "u1", "third")
	if v, ok := m.Take(a, "u1"); !ok || v != "third" {
		t.Fatalf("Take = %q, %v", v, ok)
	}
	if _, ok := m.Take(a, "u1"); ok {
		t.Fatal("taken twice")
	}
	m.Forget(b)
	if _, ok := m.Recall(b, "u2"); ok {
		t.Fatal("Forget kept the value")
	}
}

// TestMemoryConcurrent: reconciles of different objects use one Memory at
// once (run with -race).
func TestMemoryConcurrent(t *testing.T) {
	var m syncer.Memory[int]
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			key := types.NamespacedName{Namespace: "n", Name: string(rune('a' + i))}
			for j := range 1000 {
				m.Remember(key, "u", j)
				if v, ok := m.Recall(key, "u"); !ok || v != j {
					t.Errorf("object %d: recalled %d, %v after remembering %d", i, v, ok, j)
					return
				}
			}
			m.Forget(key)
		})
	}
	wg.Wait()
}
