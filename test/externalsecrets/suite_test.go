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
	"bytes"
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
	logs = &logBuffer{}
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
		os.Stderr.Write(logs.bytes())
	}
	if err := v.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop vault: %v\n", err)
	}
	os.Exit(code)
}

// logBuffer is an io.Writer safe for the controllers' concurrent logging.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
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
// No status, event or log line may contain any of them.
type leakSet struct {
	mu     sync.Mutex
	values map[string]string // value -> what it is
}

var secrets = &leakSet{values: map[string]string{}}

func (s *leakSet) add(what string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		// Short values would match by accident (a "1" in a version).
		if len(v) >= 6 {
			s.values[v] = what
		}
	}
}

// find returns what the first secret value found in text is.
func (s *leakSet) find(text string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, what := range s.values {
		if strings.Contains(text, v) {
			return what, true
		}
	}
	return "", false
}

// lineWith returns the log line holding the value of what, with the value
// itself cut out, for a failure message.
func (s *leakSet) lineWith(text, what string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, w := range s.values {
		if w != what {
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, v) {
				return strings.ReplaceAll(line, v, "<"+what+">")
			}
		}
	}
	return ""
}
