package externalsecrets_test

import (
	"strings"
	"testing"

	"github.com/sealsync/sealsync/internal/testkit"
)

// TestLeakSetFindsPartialLeaks tests the suite's leak check itself: any 4
// bytes in a row of a canary are found wherever they are, 3 are not, and
// values the suite did not make are found whole only. Runs under -short.
func TestLeakSetFindsPartialLeaks(t *testing.T) {
	s := &leakSet{whole: map[string]string{}, windows: map[uint32]string{}}
	c := testkit.Canary()
	s.addCanary("a canary", c)
	issued := "8f14e45f-ceea-467f-a0e6-1d6e2c8e7b3a" // a Vault secret ID
	s.add("a secret ID", issued)
	for i := 0; i+windowLen <= len(c); i++ {
		text := `{"level":"error","msg":"Reconciler error","error":"key ` + c[i:i+windowLen] + ` is bad"}`
		if what, ok := s.find(text); !ok || what != "a canary" {
			t.Errorf("window %d not found", i)
		}
		if line := s.lineWith(text, "a canary"); strings.Contains(line, c[i:i+windowLen]) || !strings.Contains(line, "<4 bytes of a canary>") {
			t.Errorf("lineWith = %q", line)
		}
	}
	if _, ok := s.find(" " + c[5:8] + " "); ok {
		t.Error("3 bytes of a canary count as a leak")
	}
	if _, ok := s.find("id " + issued); !ok {
		t.Error("a whole secret ID not found")
	}
	if _, ok := s.find("id " + issued[:8]); ok {
		t.Error("part of a UUID counts as a leak: UUIDs are in every log line")
	}
}

// TestCanaryWindowsAvoidLogText: the windows of many canaries are absent
// from text shaped like the controller's logs (words, CamelCase kinds,
// UUIDs, hashes, timestamps, Kubernetes names), so the suite's check
// fails on leaks only. Runs under -short.
func TestCanaryWindowsAvoidLogText(t *testing.T) {
	s := &leakSet{whole: map[string]string{}, windows: map[uint32]string{}}
	for range 5000 {
		s.addCanary("a canary", testkit.Canary())
	}
	logText := strings.Repeat(`{"level":"error","ts":"2026-12-06T06:10:15.123Z","msg":"Reconciler error","controller":"externalsecret",`+
		`"controllerGroup":"external-secrets.io","controllerKind":"ExternalSecret","ExternalSecret":{"name":"key-from-value","namespace":"t-6h9fljrf"},`+
		`"reconcileID":"d90b405a-1d25-48ea-b9ff-1e81e4bdcc9e","error":"could not update Secret: the API server refused to write Secret \"app\": `+
		`Invalid (HTTP 422): data[.dockerconfigjson]: Invalid value","creationPolicy":"CreateOrMerge","hash":"3f9a2b7c1d0e4f5a6b7c8d9e0f1a2b3c",`+
		`"kind":"*v1.ClusterSecretStore","source":"kind source: *v1alpha1.SealedSecret","syncedResourceVersion":"1-5d41402abc4b2a76b9719d911017c592"}`+"\n", 3)
	if what, ok := s.find(logText); ok {
		t.Fatalf("log-like text holds %s: %s", what, s.lineWith(logText, what))
	}
}
