package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/sealing"
)

// floor is the least any controller could take for the unseal run on this
// machine: every value opened once with the right key on every core, then
// every Secret created with an unthrottled client. It leaves out what a
// controller must also do (list and watch, status, events), so a real
// controller can only come near it.
type floor struct {
	// Decrypt is the wall time of the private-key operations, spread over
	// DecryptWorkers goroutines, and DecryptCPU the CPU time they took: on
	// a shared machine their ratio shows how many cores the bench got.
	Decrypt, DecryptCPU time.Duration
	Ops                 int
	DecryptWorkers      int
	// Create is the wall time of the Secret creates, made by
	// CreateWorkers goroutines.
	Create        time.Duration
	Creates       int
	CreateWorkers int
	// CreateControlPlaneCPU is what kube-apiserver and etcd used for the
	// creates.
	CreateControlPlaneCPU time.Duration
}

// Total is the floor: both parts one after the other.
func (f floor) Total() time.Duration { return f.Decrypt + f.Create }

// measureFloor opens every value of sealed with key and creates targets
// (after deleting those of an earlier run), then deletes them again.
func measureFloor(ctx context.Context, b *unsealBench, key *crypto.Key, sealed []*ssv1alpha1.SealedSecret, targets []*corev1.Secret) (floor, error) {
	type item struct{ blob, label []byte }
	var items []item
	for _, ss := range sealed {
		label := sealing.Label(ss)
		for k, v := range ss.Spec.EncryptedData {
			blob, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return floor{}, fmt.Errorf("%s/%s item %q: %w", ss.Namespace, ss.Name, k, err)
			}
			items = append(items, item{blob, label})
		}
	}
	f := floor{Ops: len(items), DecryptWorkers: runtime.GOMAXPROCS(0), Creates: len(targets), CreateWorkers: 2 * runtime.GOMAXPROCS(0)}

	cpu0, err := readProcStats(os.Getpid())
	if err != nil {
		return f, err
	}
	start := time.Now()
	err = parallel(ctx, len(items), f.DecryptWorkers, func(_ context.Context, i int) error {
		_, err := crypto.HybridDecrypt(key.PrivateKey, items[i].blob, items[i].label)
		return err
	})
	f.Decrypt = time.Since(start)
	if err != nil {
		return f, fmt.Errorf("floor: decrypt: %w", err)
	}
	cpu1, err := readProcStats(os.Getpid())
	if err != nil {
		return f, err
	}
	f.DecryptCPU = cpu1.CPU - cpu0.CPU

	if err := b.deleteTargets(ctx); err != nil {
		return f, err
	}
	cp0, err := b.k.controlPlaneCPU()
	if err != nil {
		return f, err
	}
	start = time.Now()
	err = parallel(ctx, len(targets), f.CreateWorkers, func(ctx context.Context, i int) error {
		return b.k.client.Create(ctx, targets[i].DeepCopy())
	})
	f.Create = time.Since(start)
	if err != nil {
		return f, fmt.Errorf("floor: create secrets: %w", err)
	}
	cp1, err := b.k.controlPlaneCPU()
	if err != nil {
		return f, err
	}
	f.CreateControlPlaneCPU = cp1 - cp0
	return f, b.deleteTargets(ctx)
}
