package keybackup

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sealsync/sealsync/internal/testkit"
)

// ageCLI runs the real age tool built by hack/tools.sh, with its folder on
// PATH so that age finds age-plugin-batchpass.
type ageCLI struct {
	dir string
	env []string
}

func newAgeCLI(t *testing.T) *ageCLI {
	t.Helper()
	bin := testkit.Tool(t, "age", "age")
	testkit.Tool(t, "age", "age-keygen")
	dir := filepath.Dir(bin)
	return &ageCLI{dir: dir, env: append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))}
}

func (a *ageCLI) run(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(filepath.Join(a.dir, name), args...)
	cmd.Env = append(a.env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// keygen makes an identity file with age-keygen and returns its path and
// public key.
func (a *ageCLI) keygen(t *testing.T) (path, recipient string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "key.txt")
	a.run(t, nil, "age-keygen", "-o", path)
	return path, strings.TrimSpace(string(a.run(t, nil, "age-keygen", "-y", path)))
}

// TestAgeDecryptsOurBundles: `age -d` opens what Seal writes, so a bundle
// stays readable without kubeseal.
func TestAgeDecryptsOurBundles(t *testing.T) {
	a := newAgeCLI(t)
	b := goldenBundle(t)
	want, err := encodePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, rec := a.keygen(t)
	ed := filepath.Join("testdata", "identities", "id_ed25519")
	rsa := filepath.Join("testdata", "identities", "id_rsa")
	for _, tc := range []struct {
		name       string
		binary     bool
		recipients []age.Recipient
		env        []string
		args       []string
	}{
		{name: "x25519 armored", recipients: []age.Recipient{parseRecipient(t, rec)}, args: []string{"-i", keyFile}},
		{name: "x25519 binary", binary: true, recipients: []age.Recipient{parseRecipient(t, rec)}, args: []string{"-i", keyFile}},
		{name: "ssh-ed25519 among others", recipients: append(recipients(t, "id_ed25519.pub"), recipients(t, "id_rsa.pub")...), args: []string{"-i", ed}},
		{name: "ssh-rsa", recipients: recipients(t, "id_rsa.pub"), args: []string{"-i", rsa}},
		{name: "passphrase", recipients: []age.Recipient{passphraseRecipient(t, 10)},
			env: []string{"AGE_PASSPHRASE=" + goldenPassphrase}, args: []string{"-j", "batchpass"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "bundle.age")
			if err := os.WriteFile(in, sealBundle(t, b, tc.binary, tc.recipients...), 0o600); err != nil {
				t.Fatal(err)
			}
			got := a.run(t, tc.env, "age", append(append([]string{"-d"}, tc.args...), in)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("age -d printed another payload:\n%.200s", got)
			}
		})
	}
}

// TestWeOpenAgeFiles: a payload encrypted by `age -e` opens with Open and
// identities parsed from the files age-keygen and ssh-keygen write.
func TestWeOpenAgeFiles(t *testing.T) {
	a := newAgeCLI(t)
	b := goldenBundle(t)
	pt, err := encodePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	payloadFile := filepath.Join(t.TempDir(), "payload.json")
	if err := os.WriteFile(payloadFile, pt, 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile, rec := a.keygen(t)
	recFile := filepath.Join(t.TempDir(), "recipients.txt")
	pubs := "# ops team\n\n" + string(readTestdata(t, "identities", "id_ed25519.pub")) + "# offline key\r\n" + rec + "\r\n"
	if err := os.WriteFile(recFile, []byte(pubs), 0o600); err != nil {
		t.Fatal(err)
	}
	readIDs := func(path string) func(*testing.T) []age.Identity {
		return func(t *testing.T) []age.Identity {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ids, err := ParseIdentities(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			return ids
		}
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		ids  func(*testing.T) []age.Identity
	}{
		{name: "x25519 armored", args: []string{"-a", "-r", rec}, ids: readIDs(keyFile)},
		{name: "x25519 binary", args: []string{"-r", rec}, ids: readIDs(keyFile)},
		{name: "to the identity file", args: []string{"-a", "-i", keyFile}, ids: readIDs(keyFile)},
		{name: "recipients file, ssh identity", args: []string{"-a", "-R", recFile}, ids: readIDs(filepath.Join("testdata", "identities", "id_ed25519"))},
		{name: "recipients file, age identity", args: []string{"-R", recFile}, ids: readIDs(keyFile)},
		{name: "ssh-rsa", args: []string{"-a", "-R", filepath.Join("testdata", "identities", "id_rsa.pub")}, ids: readIDs(filepath.Join("testdata", "identities", "id_rsa"))},
		{name: "passphrase", env: []string{"AGE_PASSPHRASE=" + goldenPassphrase, "AGE_PASSPHRASE_WORK_FACTOR=10"}, args: []string{"-a", "-j", "batchpass"},
			ids: func(t *testing.T) []age.Identity { return []age.Identity{passphraseIdentity(t, goldenPassphrase)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := a.run(t, tc.env, "age", append(append([]string{"-e"}, tc.args...), payloadFile)...)
			if !IsAgeFile(enc) {
				t.Fatalf("IsAgeFile does not recognise age's output %.40q", enc)
			}
			got, err := Open(bytes.NewReader(enc), tc.ids(t)...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Manifest(), b.Manifest()) {
				t.Error("manifest differs")
			}
		})
	}
}
