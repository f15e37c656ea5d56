// Package externalsecrets_test is the end-to-end suite of the
// ExternalSecret controller: the controller runs in-process, as
// cmd/controller builds it, against a real API server (envtest) and a real
// Vault dev server.
//
// # What it proves
//
//   - Every Vault example of ESO's documentation applies unchanged and
//     syncs to the Secret ESO would write (testdata/docs, each file naming
//     its source). Only the server address, namespaces and credentials are
//     substituted, and the ExternalSecret-only snippets get their store
//     where the doc writes "# ...".
//   - Rotation, Vault outages, the creation and deletion policies, drift
//     repair, ESO's advisories, bad input and the number of Vault requests,
//     counted in Vault's own audit log.
//
// # Layout
//
// TestMain starts one envtest control plane and one Vault dev server with
// a file audit device. Tests run one after another, never in parallel:
// they count requests in that one audit log and reset the KV mount at
// secret/. Each test starts its own controller watching only its own
// namespaces; a test that kills Vault starts a Vault of its own.
//
// Every controller log line goes to one buffer, which each test searches
// for every secret value it used, together with the ExternalSecrets'
// status and the events of its namespaces.
package externalsecrets_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/sealsync/sealsync/internal/testkit"
)

var (
	env *testkit.Env
	// vault is the package's Vault dev server, auditing to auditPath; nil
	// under -short.
	vault     *testkit.Vault
	auditPath string
	// logs holds every line the controllers log.
	logs = &testkit.LogBuffer{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The most verbose level cmd/controller's --log-level offers (DEBUG,
	// logr's V(1)): no secret may appear in debug lines either. client-go
	// logs whole request bodies at V(8), which no flag reaches.
	log.SetLogger(zap.New(zap.WriteTo(logs), zap.Level(zapcore.DebugLevel)))
	if testing.Short() {
		os.Exit(m.Run())
	}
	ctx := context.Background()
	v, err := testkit.StartVault(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vault: %v\n", err)
		os.Exit(1)
	}
	vault = v
	auditPath = filepath.Join(v.Dir, "audit.log")
	if err := v.EnableFileAudit(ctx, auditPath); err != nil {
		fmt.Fprintf(os.Stderr, "vault: %v\n", err)
		_ = v.Stop()
		os.Exit(1)
	}
	secrets.add("the Vault root token", v.RootToken)
	code := testkit.Main(m, &env)
	if code != 0 && os.Getenv("SEALSYNC_E2E_LOGS") != "" {
		os.Stderr.Write(logs.Bytes())
	}
	if err := v.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop vault: %v\n", err)
	}
	os.Exit(code)
}

// requireEnv returns the control plane and the Vault, skipping under
// -short.
func requireEnv(t *testing.T) (*testkit.Env, *testkit.Vault) {
	t.Helper()
	return testkit.RequireEnv(t, env), testkit.RequireVault(t, vault)
}

// Timeouts of the waits. The machine running the suite may be busy: they
// bound failures, not the normal case, which takes a second or two.
const (
	waitTimeout = 30 * time.Second
	// quiet is how long a test watches for something that must not happen.
	quiet = 3 * time.Second
)

// leakSet holds the secret values the suite has used, with what each is.
// No status, event or log line may contain any of them, nor any 4 bytes in
// a row of a canary: a message that quotes part of a value (a truncated
// key, a parser's complaint about one byte of it) leaks it too.
type leakSet struct {
	mu sync.Mutex
	// whole holds the values the suite did not make (Vault-issued IDs,
	// ServiceAccount tokens), matched whole: their short windows are
	// common in logs (hex UUIDs are in every reconcile line).
	whole map[string]string // value -> what
	// windows holds every window of every canary.
	windows map[uint32]string // window -> what
}

// windowLen is the length of the canary windows that must not show.
const windowLen = testkit.CanaryWindow

var secrets = &leakSet{whole: map[string]string{}, windows: map[uint32]string{}}

// add records values the suite did not generate.
func (s *leakSet) add(what string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		// Short values would match by accident (a "1" in a version).
		if len(v) >= 6 {
			s.whole[v] = what
		}
	}
}

// addCanary records values made by canary, whose every window is rare
// enough in ordinary text that finding one means a leak.
func (s *leakSet) addCanary(what string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) < windowLen {
			panic("canary shorter than a window: " + what)
		}
		for i := 0; i+windowLen <= len(v); i++ {
			s.windows[window(v[i:i+windowLen])] = what
		}
	}
}

// window packs the first 4 bytes of b, a window (testkit.CanaryWindow is
// 4), into a map key cheaper than a string.
func window(b string) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// find returns what the first secret value, or canary window, found in
// text is.
func (s *leakSet) find(text string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, what := range s.whole {
		if strings.Contains(text, v) {
			return what, true
		}
	}
	if _, what, ok := s.findWindow(text); ok {
		return what, true
	}
	return "", false
}

// findWindow returns where the first canary window in text starts.
func (s *leakSet) findWindow(text string) (int, string, bool) {
	var w uint32
	for i := 0; i < len(text); i++ {
		// w holds the last windowLen bytes, the oldest lowest, as window
		// packs them.
		w = w>>8 | uint32(text[i])<<24
		if i < windowLen-1 {
			continue
		}
		if what, ok := s.windows[w]; ok {
			return i + 1 - windowLen, what, true
		}
	}
	return 0, "", false
}

// lineWith returns a log line holding the value of what, or a window of
// it, with the value or window cut out, for a failure message.
func (s *leakSet) lineWith(text, what string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range strings.Split(text, "\n") {
		for v, w := range s.whole {
			if w == what && strings.Contains(line, v) {
				return strings.ReplaceAll(line, v, "<"+what+">")
			}
		}
		if at, w, ok := s.findWindow(line); ok && w == what {
			return line[:at] + "<4 bytes of " + what + ">" + line[at+windowLen:]
		}
	}
	return ""
}
