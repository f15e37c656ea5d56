package server_test

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/sealsync/sealsync/internal/server"
)

// The controller runs the server as a controller-runtime runnable. These
// assertions are here rather than beside the methods so that kubeseal,
// which links package server for the /v1/keys wire types, does not link
// controller-runtime.
var (
	_ manager.Runnable               = (*server.Server)(nil)
	_ manager.LeaderElectionRunnable = (*server.Server)(nil)
)

// TestServesOnEveryReplica: the API runs on every replica, not only on the
// leader, so that kubeseal reaches a key whichever pod the Service picks.
func TestServesOnEveryReplica(t *testing.T) {
	if (&server.Server{}).NeedLeaderElection() {
		t.Fatal("the API would run on the leader only")
	}
}
