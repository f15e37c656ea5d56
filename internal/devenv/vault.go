package devenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// vaultStartTimeout bounds how long a dev server may take to answer healthy;
// it is ready in about 0.3 s on an idle machine, much later on a loaded one.
const vaultStartTimeout = time.Minute

// Vault is a running Vault dev server (hack/tools.sh builds Vault 1.14.2):
// unsealed, in memory, with KV version 2 mounted at secret/ and a root token.
//
// The server keeps everything in memory: after [Vault.Restart] it answers on
// the same address with the same root token, but mounts, secrets, policies,
// auth methods and audit devices are gone and tests must seed them again.
type Vault struct {
	// Addr is the server's URL, http://127.0.0.1:PORT.
	Addr string
	// RootToken is the dev server's root token, random per server. Never log it.
	RootToken string
	// Client is a client of Addr holding RootToken, for seeding and checking.
	Client *vaultapi.Client
	// Dir is a scratch folder of the server's, removed by [Vault.Stop]:
	// a place for audit logs and other files a test wants gone afterwards.
	Dir string
	// LogPath is the server's stdout and stderr, across restarts. It holds
	// the root token: point people at it, never copy it into test output.
	LogPath string

	bin    string
	listen string // 127.0.0.1:PORT

	mu   sync.Mutex
	proc *vaultProcess // nil while the server is down
}

// vaultProcess is one run of the server.
type vaultProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returns
}

// StartVault starts a dev server on a free loopback port and waits until it
// is healthy; stop it with [Vault.Stop]. A test package calls it from
// TestMain (checking testing.Short first) and its tests reach the server
// through testkit.RequireVault. A Vault that cannot be built or started is
// an error, never a reason to skip.
func StartVault(ctx context.Context) (*Vault, error) {
	dir, err := LookupToolDir("vault")
	if err != nil {
		return nil, err
	}
	return startVault(ctx, filepath.Join(dir, "vault"))
}

func startVault(ctx context.Context, bin string) (*Vault, error) {
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sealsync-vault-")
	if err != nil {
		return nil, err
	}
	// HOME is the scratch folder so nothing the server or its token helper
	// writes lands in the developer's home.
	if err := os.Mkdir(filepath.Join(dir, "home"), 0o700); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	v := &Vault{RootToken: token, Dir: dir, LogPath: filepath.Join(dir, "vault.log"), bin: bin}
	// Another process may take the free port between our probe and Vault's
	// bind; a fresh port then almost always works.
	const attempts = 3
	for i := 1; ; i++ {
		if v.listen, err = freeLoopbackAddr(); err != nil {
			break
		}
		v.Addr = "http://" + v.listen
		if err = v.start(ctx); err == nil || i == attempts || !v.logMentions("address already in use") {
			break
		}
	}
	if err != nil {
		// Keep the folder: its log says why the server did not come up.
		return nil, fmt.Errorf("vault dev server (log in %s): %w", v.LogPath, err)
	}
	cfg := vaultapi.DefaultConfig()
	cfg.Address = v.Addr
	cfg.Timeout = 10 * time.Second
	if v.Client, err = vaultapi.NewClient(cfg); err != nil {
		return nil, errors.Join(err, v.Stop())
	}
	v.Client.SetToken(v.RootToken)
	v.Client.ClearNamespace()
	return v, nil
}

// start runs the server on v.listen and waits until it is healthy. The
// caller holds no process.
func (v *Vault) start(ctx context.Context) error {
	logf, err := os.OpenFile(v.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own copy
	cmd := exec.Command(v.bin, "server", "-dev", "-dev-no-store-token")
	// The token and address go in through the environment, not argv, which
	// any local user can read in /proc.
	cmd.Env = append(vaultServerEnv(),
		"HOME="+filepath.Join(v.Dir, "home"),
		"VAULT_DEV_ROOT_TOKEN_ID="+v.RootToken,
		"VAULT_DEV_LISTEN_ADDRESS="+v.listen,
	)
	cmd.Dir = v.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = vaultSysProcAttr()
	p := &vaultProcess{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The kernel sends the parent-death signal when the thread that
		// forked exits, not the process: hold this thread until the server
		// is gone, or an unrelated thread exit would kill it mid-test.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return err
	}
	v.mu.Lock()
	v.proc = p
	v.mu.Unlock()
	if err := v.waitHealthy(ctx, p); err != nil {
		return errors.Join(err, v.Kill())
	}
	return nil
}

// waitHealthy waits until /v1/sys/health answers 200 (initialized,
// unsealed, active) and the dev server's KV v2 at secret/ serves requests,
// which comes a little later; it gives up when the process exits or the
// context or vaultStartTimeout ends.
func (v *Vault) waitHealthy(ctx context.Context, p *vaultProcess) error {
	ctx, cancel := context.WithTimeout(ctx, vaultStartTimeout)
	defer cancel()
	for _, path := range []string{"sys/health", "secret/config"} {
		if err := v.waitOK(ctx, path, p.exited); err != nil {
			select {
			case <-p.exited: // ProcessState is set and no longer written
				return fmt.Errorf("exited before it was ready: %v", p.cmd.ProcessState)
			default:
				return err
			}
		}
	}
	return nil
}

// waitOK polls GET /v1/<path> with the root token until it answers 200, the
// exited channel closes (nil to ignore) or ctx ends.
func (v *Vault) waitOK(ctx context.Context, path string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Addr+"/v1/"+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-Vault-Token", v.RootToken)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			return fmt.Errorf("exited while waiting for /v1/%s", path)
		case <-ctx.Done():
			return fmt.Errorf("/v1/%s not ready (last: %s): %w", path, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill takes the server down, killing its process group, and keeps its
// address, token and folder for [Vault.Restart]. Clients then fail to
// connect until the server is back. Killing a server that is down does
// nothing.
func (v *Vault) Kill() error {
	v.mu.Lock()
	p := v.proc
	v.proc = nil
	v.mu.Unlock()
	if p == nil {
		return nil
	}
	pid := p.cmd.Process.Pid
	if err := killProcessGroup(pid); err != nil {
		select {
		case <-p.exited: // it was already gone
		default:
			return fmt.Errorf("kill vault pid %d: %w", pid, err)
		}
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("vault pid %d still running 30s after SIGKILL", pid)
	}
}

// Restart takes the server down if it is up and starts it again on the same
// address with the same root token, then waits until it is healthy. The dev
// server keeps nothing across the restart: seed mounts, secrets, policies,
// auth methods and audit devices again. Files in Dir, such as audit logs,
// stay and grow.
func (v *Vault) Restart(ctx context.Context) error {
	if err := v.Kill(); err != nil {
		return err
	}
	if err := v.start(ctx); err != nil {
		return fmt.Errorf("restart vault on %s (log in %s): %w", v.listen, v.LogPath, err)
	}
	return nil
}

// Stop kills the server and removes Dir with its log. v is unusable
// afterwards; stopping twice is harmless.
func (v *Vault) Stop() error {
	if err := v.Kill(); err != nil {
		return err
	}
	return os.RemoveAll(v.Dir)
}

// MountKV mounts a KV secrets engine of version 1 or 2 at path.
func (v *Vault) MountKV(ctx context.Context, path string, version int) error {
	if version != 1 && version != 2 {
		return fmt.Errorf("mount kv at %s: version %d is neither 1 nor 2", path, version)
	}
	err := v.Client.Sys().MountWithContext(ctx, path, &vaultapi.MountInput{
		Type:    "kv",
		Options: map[string]string{"version": fmt.Sprint(version)},
	})
	if err != nil {
		return fmt.Errorf("mount kv v%d at %s: %w", version, path, err)
	}
	if version == 2 {
		// A new KV v2 mount refuses requests until its storage upgrade
		// check finishes, a moment after the mount call returns.
		ctx, cancel := context.WithTimeout(ctx, vaultStartTimeout)
		defer cancel()
		if err := v.waitOK(ctx, strings.Trim(path, "/")+"/config", nil); err != nil {
			return fmt.Errorf("mount kv v2 at %s: %w", path, err)
		}
	}
	return nil
}

// AppRole is the credentials of one AppRole role.
type AppRole struct {
	// Mount is the auth mount the role lives under, e.g. "approle".
	Mount string
	// RoleID and SecretID log in at auth/<Mount>/login.
	RoleID, SecretID string
}

// CreateAppRole enables the AppRole auth method at auth/approle if it is not
// enabled yet, creates role with the given policies and returns a fresh
// secret ID for it.
func (v *Vault) CreateAppRole(ctx context.Context, role string, policies ...string) (AppRole, error) {
	const mount = "approle"
	auths, err := v.Client.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return AppRole{}, fmt.Errorf("list auth methods: %w", err)
	}
	if _, ok := auths[mount+"/"]; !ok {
		err := v.Client.Sys().EnableAuthWithOptionsWithContext(ctx, mount, &vaultapi.EnableAuthOptions{Type: "approle"})
		if err != nil {
			return AppRole{}, fmt.Errorf("enable approle: %w", err)
		}
	}
	rolePath := "auth/" + mount + "/role/" + role
	lg := v.Client.Logical()
	if _, err := lg.WriteWithContext(ctx, rolePath, map[string]any{
		"token_policies": strings.Join(policies, ","),
	}); err != nil {
		return AppRole{}, fmt.Errorf("write approle role %s: %w", role, err)
	}
	r := AppRole{Mount: mount}
	s, err := lg.ReadWithContext(ctx, rolePath+"/role-id")
	if err != nil || s == nil {
		return AppRole{}, fmt.Errorf("read role id of %s: %w", role, orNotFound(err))
	}
	r.RoleID, _ = s.Data["role_id"].(string)
	if s, err = lg.WriteWithContext(ctx, rolePath+"/secret-id", nil); err != nil || s == nil {
		return AppRole{}, fmt.Errorf("create secret id of %s: %w", role, orNotFound(err))
	}
	r.SecretID, _ = s.Data["secret_id"].(string)
	if r.RoleID == "" || r.SecretID == "" {
		return AppRole{}, fmt.Errorf("approle %s: empty role or secret id", role)
	}
	return r, nil
}

// EnableFileAudit enables a file audit device named "file" writing JSON
// lines to path; read it with [ReadAuditLog]. Vault writes a request's entry
// before it answers, so the log is complete once a call returns. It opens
// with Vault's own "update sys/audit/test" entry. Values are HMACed in the
// log; paths and operations are plain. The device is named "file", so a
// server takes one; after [Vault.Restart] enable it again.
func (v *Vault) EnableFileAudit(ctx context.Context, path string) error {
	err := v.Client.Sys().EnableAuditWithOptionsWithContext(ctx, "file", &vaultapi.EnableAuditOptions{
		Type:    "file",
		Options: map[string]string{"file_path": path},
	})
	if err != nil {
		return fmt.Errorf("enable file audit to %s: %w", path, err)
	}
	return nil
}

func orNotFound(err error) error {
	if err == nil {
		return errors.New("not found")
	}
	return err
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "sealsync-dev-" + hex.EncodeToString(b), nil
}

// freeLoopbackAddr returns 127.0.0.1:PORT for a port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// vaultServerEnv is the test's environment without HOME and the VAULT_*
// variables, which would point the server's own client at another Vault or
// change its mode.
func vaultServerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// logMentions reports whether the server's log contains s.
func (v *Vault) logMentions(s string) bool {
	b, err := os.ReadFile(v.LogPath)
	return err == nil && strings.Contains(string(b), s)
}
