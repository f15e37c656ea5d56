// Package disaster_test rehearses losing a cluster: everything sealed in
// cluster A must come back, byte for byte, in a new cluster B from nothing
// but the key backup and the SealedSecrets kept in Git.
package disaster_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/keybackup"
)

func init() {
	// Errors only: a passing drill is quiet, a failing one says why.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
}

const (
	keyNS     = "kube-system"
	sealedN   = 50
	rotations = 3
)

var teams = []string{"team-a", "team-b", "team-c"}

var scopes = []string{"strict", "namespace-wide", "cluster-wide"}

// cluster is one envtest control plane with a controller running in it.
type cluster struct {
	name       string
	env        *testkit.Env
	kubeconfig string
	ctl        *controller.Controller
	stopCtl    func()
}

func startCluster(t *testing.T, name string) *cluster {
	t.Helper()
	e, err := testkit.StartEnv()
	if err != nil {
		t.Fatalf("cluster %s: %v", name, err)
	}
	c := &cluster{name: name, env: e, kubeconfig: filepath.Join(t.TempDir(), "kubeconfig-"+name)}
	t.Cleanup(c.stop)
	if err := e.WriteKubeconfig(c.kubeconfig); err != nil {
		t.Fatal(err)
	}
	for _, ns := range teams {
		if err := e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// startController runs the controller of c, keys in kube-system, as
// cmd/controller would with --key-renew-period=0.
func (c *cluster) startController(t *testing.T, backup keys.BackupOptions) {
	t.Helper()
	ctl, err := controller.New(c.env.Config, controller.Options{
		Keys:        keys.Options{Namespace: keyNS, Prefix: keysecret.DefaultPrefix, Bits: 2048, ValidFor: crypto.DefaultCertValidity},
		MetricsAddr: "0", AllNamespaces: true, AcceptV1Data: true, UpdateStatus: true, MaxUnsealRetries: 5, Workers: 4,
		Server: server.Options{Addr: "127.0.0.1:0"}, Backup: backup,
	}, controller.SharedProcess())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Manager.Start(ctx) }()
	c.ctl = ctl
	c.stopCtl = func() { cancel(); <-done }
}

// stop stops the controller and the control plane, once.
func (c *cluster) stop() {
	if c.stopCtl != nil {
		c.stopCtl()
		c.stopCtl = nil
	}
	if c.env != nil {
		_ = c.env.Stop()
		c.env = nil
	}
}

// kubeseal runs kubeseal in process against c.
func (c *cluster) kubeseal(t *testing.T, stdin []byte, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--kubeconfig", c.kubeconfig, "--controller-namespace", keyNS}, args...)
	if code := cli.Run(context.Background(), args, cli.Streams{In: bytes.NewReader(stdin), Out: &out, Err: &errb}); code != 0 {
		t.Fatalf("kubeseal %s: exit %d: %s", strings.Join(args[4:], " "), code, errb.String())
	}
	return out.String(), errb.String()
}

func (c *cluster) latestKey(t *testing.T) *crypto.Key {
	t.Helper()
	var k *crypto.Key
	testkit.Eventually(t, 60*time.Second, func() (bool, error) {
		var err error
		k, err = c.ctl.Keys.Keyring().Latest()
		return err == nil, err
	})
	return k
}

// secretYAML is the i-th Secret of the drill: its scope, type and labels
// vary, and its data holds binary bytes.
func secretYAML(i int) []byte {
	typ := "Opaque"
	if i%4 == 3 {
		typ = "example.com/app-config"
	}
	return fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata:
  name: app-%02d
  namespace: %s
  labels:
    app: app-%02d
    tier: %s
type: %s
data:
  password: %s
  blob: %s
stringData:
  url: postgres://app-%02d:pw-%d@db.%s.svc:5432/app
`, i, teams[i%len(teams)], i, scopes[i%len(scopes)], typ,
		b64(fmt.Sprintf("s3cr3t-%d-%s", i, strings.Repeat("x", i))), b64(string([]byte{0, 1, 2, 0xff, byte(i)})),
		i, i*7919, teams[i%len(teams)])
}

// sealed is one SealedSecret as it would sit in Git.
type sealed struct {
	ns, name string
	yaml     []byte
}

// TestDisasterDrill: cluster A seals 50 SealedSecrets in three scopes over
// three key rotations, with automatic and manual backups. A is destroyed.
// Cluster B gets the manual backup restored, then the same 50
// SealedSecrets, and must produce the very same Secrets.
func TestDisasterDrill(t *testing.T) {
	testkit.SkipIfShort(t, "two envtest control planes")
	idFile := filepath.Join(t.TempDir(), "offline.key")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idFile, []byte("# the offline backup key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	git := t.TempDir() // the repository: SealedSecrets and the backup

	// Cluster A.
	a := startCluster(t, "a")
	a.startController(t, keys.BackupOptions{Recipients: id.Recipient().String(), ConfigMap: keys.DefaultBackupConfigMap})
	var repo []sealed
	perRound := (sealedN + rotations) / (rotations + 1)
	for round := 0; round <= rotations; round++ {
		key := a.latestKey(t)
		certFile := filepath.Join(t.TempDir(), "cert.pem")
		if err := os.WriteFile(certFile, crypto.EncodeCertificatePEM(key.Certificate), 0o600); err != nil {
			t.Fatal(err)
		}
		for i := round * perRound; i < min((round+1)*perRound, sealedN); i++ {
			out, _ := a.kubeseal(t, secretYAML(i), "--cert", certFile, "--scope", scopes[i%len(scopes)], "-o", "yaml")
			path := filepath.Join(git, fmt.Sprintf("app-%02d.yaml", i))
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			repo = append(repo, sealed{ns: teams[i%len(teams)], name: fmt.Sprintf("app-%02d", i), yaml: []byte(out)})
		}
		if round == rotations {
			break
		}
		// The request must be newer than the key, to the second.
		for !time.Now().Truncate(time.Second).After(key.Created) {
			time.Sleep(100 * time.Millisecond)
		}
		a.kubeseal(t, nil, "keys", "rotate")
		testkit.Eventually(t, 60*time.Second, func() (bool, error) {
			l, err := a.ctl.Keys.Keyring().Latest()
			if err != nil || l.ID == key.ID {
				return false, errors.New("no new key yet")
			}
			return true, nil
		})
	}
	if len(repo) != sealedN {
		t.Fatalf("%d SealedSecrets, want %d", len(repo), sealedN)
	}
	applyAll(t, a, repo)
	want := waitSecrets(t, a, repo)
	for i := range sealedN {
		in, err := manifest.DecodeSecrets(bytes.NewReader(secretYAML(i)))
		if err != nil {
			t.Fatal(err)
		}
		w, o := in[0], want[in[0].Namespace+"/"+in[0].Name]
		if !bytes.Equal(o.Data["password"], w.Data["password"]) || !bytes.Equal(o.Data["blob"], w.Data["blob"]) ||
			string(o.Data["url"]) != w.StringData["url"] || o.Type != w.Type || o.Labels["app"] != w.Labels["app"] || o.Labels["tier"] != w.Labels["tier"] {
			t.Fatalf("cluster A unsealed %s/%s wrongly: %+v", w.Namespace, w.Name, o)
		}
	}
	keysA := a.ctl.Keys.Keyring()
	if keysA.Len() != rotations+1 {
		t.Fatalf("cluster A has %d keys, want %d", keysA.Len(), rotations+1)
	}
	sealedWith := map[string]int{}
	for _, s := range repo {
		ss := decodeSealed(t, s.yaml)
		sealedWith[ss.Annotations[ssv1alpha1.KeyIDAnnotation]]++
	}
	if len(sealedWith) != rotations+1 {
		t.Fatalf("the SealedSecrets were sealed with %d keys, want %d", len(sealedWith), rotations+1)
	}

	// Backups: the automatic one follows the last rotation; the manual one
	// goes into Git.
	var auto []byte
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var cm corev1.ConfigMap
		if err := a.env.Client.Get(context.Background(), client.ObjectKey{Namespace: keyNS, Name: keys.DefaultBackupConfigMap}, &cm); err != nil {
			return false, err
		}
		auto = []byte(cm.Data[keys.BackupDataKey])
		b, err := keybackup.Open(bytes.NewReader(auto), id)
		if err != nil {
			return false, err
		}
		if got, want := ids(b.Keys()), ids(keysA.Keys()); !slices.Equal(got, want) {
			return false, fmt.Errorf("automatic backup holds %v, want %v", got, want)
		}
		return true, nil
	})
	manualFile := filepath.Join(git, "keys.age")
	start := time.Now()
	_, stderr := a.kubeseal(t, nil, "keys", "backup", "-r", id.Recipient().String(), "-o", manualFile)
	t.Logf("keys backup of %d keys: %v", keysA.Len(), time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stderr, fmt.Sprintf("Backed up %d keys from namespace %s", rotations+1, keyNS)) {
		t.Fatalf("backup: %s", stderr)
	}

	// Cluster A is gone, with its etcd.
	a.stop()

	// Cluster B: restore first, then the controller, which then has a key
	// and generates none.
	b := startCluster(t, "b")
	start = time.Now()
	stdout, _ := b.kubeseal(t, nil, "keys", "restore", "-i", manualFile, "--identity", idFile)
	t.Logf("keys restore of %d keys: %v", keysA.Len(), time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stdout, fmt.Sprintf("Restored %d keys into namespace %s", rotations+1, keyNS)) {
		t.Fatalf("restore: %s", stdout)
	}
	b.startController(t, keys.BackupOptions{})
	if got := b.latestKey(t); got.ID != mustLatest(t, keysA).ID {
		t.Errorf("cluster B seals with %s, A sealed with %s", got.ID.Short(), mustLatest(t, keysA).ID.Short())
	}
	applyAll(t, b, repo)
	got := waitSecrets(t, b, repo)
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s differs between the clusters:\nA: %+v\nB: %+v", k, w, got[k])
		}
	}
	if n := b.ctl.Keys.Keyring().Len(); n != rotations+1 {
		t.Errorf("cluster B has %d keys: it generated one although the restored keys include an active one", n)
	}

	// And with no cluster at all: the automatic backup unseals offline.
	autoFile := filepath.Join(t.TempDir(), "auto.age")
	if err := os.WriteFile(autoFile, auto, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range []sealed{repo[0], repo[sealedN-1]} {
		out, _ := b.kubeseal(t, s.yaml, "--recovery-unseal", "--recovery-private-key", autoFile, "--recovery-identity", idFile, "-o", "yaml")
		secrets, err := manifest.DecodeSecrets(strings.NewReader(out))
		if err != nil || len(secrets) != 1 {
			t.Fatalf("recovery output: %v", err)
		}
		if !reflect.DeepEqual(secrets[0].Data, want[s.ns+"/"+s.name].Data) {
			t.Errorf("%s/%s: offline recovery differs", s.ns, s.name)
		}
	}
}

// outcome is what must be identical in both clusters.
type outcome struct {
	Data   map[string][]byte
	Type   corev1.SecretType
	Labels map[string]string
}

func applyAll(t *testing.T, c *cluster, repo []sealed) {
	t.Helper()
	for _, s := range repo {
		if err := c.env.Client.Create(context.Background(), decodeSealed(t, s.yaml)); err != nil {
			t.Fatalf("cluster %s: apply %s/%s: %v", c.name, s.ns, s.name, err)
		}
	}
}

func waitSecrets(t *testing.T, c *cluster, repo []sealed) map[string]outcome {
	t.Helper()
	out := map[string]outcome{}
	testkit.Eventually(t, 120*time.Second, func() (bool, error) {
		for _, s := range repo {
			key := s.ns + "/" + s.name
			if _, ok := out[key]; ok {
				continue
			}
			var sec corev1.Secret
			if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: s.name}, &sec); err != nil {
				return false, fmt.Errorf("cluster %s: %d of %d Secrets: %w", c.name, len(out), len(repo), err)
			}
			out[key] = outcome{Data: sec.Data, Type: sec.Type, Labels: sec.Labels}
		}
		return true, nil
	})
	return out
}

func decodeSealed(t *testing.T, b []byte) *ssv1alpha1.SealedSecret {
	t.Helper()
	ss, err := manifest.DecodeSealedSecrets(bytes.NewReader(b))
	if err != nil || len(ss) != 1 {
		t.Fatalf("decode: %v", err)
	}
	return ss[0]
}

func ids(keys []*crypto.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID.String()+" "+k.Status.String())
	}
	slices.Sort(out)
	return out
}

func mustLatest(t *testing.T, r *crypto.Keyring) *crypto.Key {
	t.Helper()
	k, err := r.Latest()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
