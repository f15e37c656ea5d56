package sopsx

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3/aes"

	"github.com/sealsync/sealsync/internal/testkit"
)

// In these tests the SOPS files are tenant input (an application's author
// commits them); the keys folder, the project name (Argo CD's
// ARGOCD_APP_PROJECT_NAME) and the limits are operator input.

const keysDir = "testdata/keys"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func projectDecryptor(t testing.TB, project string) *Decryptor {
	t.Helper()
	ids, err := LoadIdentities(keysDir, project)
	if err != nil {
		t.Fatal(err)
	}
	return NewDecryptor(ids, Limits{})
}

// TestDecryptCommitted decrypts files the real sops 3.13.3 wrote for two
// recipients (testdata/regenerate.sh), with either recipient's project
// keys, and must give what `sops --decrypt` gave, in every format.
func TestDecryptCommitted(t *testing.T) {
	for _, project := range []string{"project-a", "project-b"} {
		for _, name := range []string{"secret.sops.yaml", "multi.sops.yaml", "config.sops.json", "app.sops.env", "app.sops.ini", "blob.sops.bin"} {
			t.Run(project+"/"+name, func(t *testing.T) {
				d := projectDecryptor(t, project)
				got, ok, err := d.DecryptFile(context.Background(), name, readTestdata(t, "encrypted/"+name))
				if err != nil || !ok {
					t.Fatalf("DecryptFile: %v, %v", ok, err)
				}
				if want := readTestdata(t, "encrypted/"+name+".golden"); !bytes.Equal(got, want) {
					t.Errorf("plaintext differs from sops --decrypt:\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

// TestDecryptFilePassesPlainFiles: a tenant's plain file comes back as is.
func TestDecryptFilePassesPlainFiles(t *testing.T) {
	d := projectDecryptor(t, "project-a")
	plain := readTestdata(t, "plain/secret.yaml")
	got, ok, err := d.DecryptFile(context.Background(), "secret.yaml", plain)
	if err != nil || ok || !bytes.Equal(got, plain) {
		t.Fatalf("DecryptFile(plain) = %q, %v, %v", got, ok, err)
	}
}

// replaceOnce replaces the first match of re in s, failing the test if
// there is none.
func replaceOnce(t *testing.T, s, re, repl string) string {
	t.Helper()
	loc := regexp.MustCompile(re).FindStringSubmatchIndex(s)
	if loc == nil {
		t.Fatalf("no %q in the fixture", re)
	}
	// With a group, replace the group only.
	if len(loc) >= 4 {
		return s[:loc[2]] + repl + s[loc[3]:]
	}
	return s[:loc[0]] + repl + s[loc[1]:]
}

// flipBase64 changes the first base64 character of s.
func flipBase64(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestDecryptRefusals(t *testing.T) {
	secret := string(readTestdata(t, "encrypted/secret.sops.yaml"))
	valueData := `password: ENC\[AES256_GCM,data:([^,]+),`
	macData := `mac: ENC\[AES256_GCM,data:([^,]+),`
	for _, tc := range []struct {
		name    string
		project string
		limits  Limits
		file    string
		data    func(t *testing.T) string
		want    error
	}{
		{
			name: "tenant changed an encrypted value", project: "project-a", file: "s.yaml", want: ErrIntegrity,
			data: func(t *testing.T) string {
				m := regexp.MustCompile(valueData).FindStringSubmatch(secret)
				return replaceOnce(t, secret, valueData, flipBase64(m[1]))
			},
		},
		{
			name: "tenant changed the MAC", project: "project-a", file: "s.yaml", want: ErrIntegrity,
			data: func(t *testing.T) string {
				m := regexp.MustCompile(macData).FindStringSubmatch(secret)
				return replaceOnce(t, secret, macData, flipBase64(m[1]))
			},
		},
		{
			name: "tenant removed an encrypted value", project: "project-a", file: "s.yaml", want: ErrIntegrity,
			data: func(t *testing.T) string { return replaceOnce(t, secret, `\n    token: ENC\[[^\]]+\]`, "") },
		},
		{
			name: "tenant changed a plain field the MAC covers", project: "project-a", file: "s.yaml", want: ErrIntegrity,
			data: func(t *testing.T) string { return replaceOnce(t, secret, `namespace: (app)`, "kube-system") },
		},
		{
			name: "tenant moved a value to another key", project: "project-a", file: "s.yaml", want: ErrIntegrity,
			data: func(t *testing.T) string { return replaceOnce(t, secret, `(password): ENC`, "passwd") },
		},
		{
			name: "tenant removed the MAC", project: "project-a", file: "s.yaml", want: ErrIntegrity,
			data: func(t *testing.T) string { return replaceOnce(t, secret, `\n    mac: ENC\[[^\]]+\]`, "") },
		},
		{
			name: "tenant file for another project's key", project: "project-b", file: "s.yaml", want: ErrNoKey,
			data: func(t *testing.T) string { return string(readTestdata(t, "encrypted/only-a.sops.yaml")) },
		},
		{
			name: "operator gave the project no keys folder", project: "project-without-keys", file: "s.yaml", want: ErrNoKey,
			data: func(t *testing.T) string { return secret },
		},
		{
			name: "tenant file over the operator's size limit", project: "project-a", limits: Limits{MaxFileSize: 1024}, file: "s.yaml", want: ErrTooLarge,
			data: func(t *testing.T) string { return secret },
		},
		{
			name: "tenant plain file", project: "project-a", file: "s.yaml", want: ErrNotEncrypted,
			data: func(t *testing.T) string { return string(readTestdata(t, "plain/secret.yaml")) },
		},
		{
			name: "tenant file whose value has an unknown type", project: "project-a", file: "s.yaml", want: ErrIntegrity,
			data: func(t *testing.T) string { return replaceOnce(t, secret, `password: ENC\[[^\]]+type:(str)\]`, "nope") },
		},
		{
			name: "tenant file with a bad lastmodified", project: "project-a", file: "s.yaml", want: ErrMalformed,
			data: func(t *testing.T) string { return replaceOnce(t, secret, `lastmodified: "([^"]+)"`, "yesterday") },
		},
		{
			name: "tenant file with only a KMS master key", project: "project-a", file: "s.json", want: ErrNoKey,
			data: func(t *testing.T) string {
				return `{"a": "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
				"sops": {"kms": [{"arn": "arn:aws:kms:us-east-1:1:key/x", "enc": "AAAA", "created_at": "2024-01-01T00:00:00Z"}],
				"lastmodified": "2024-01-01T00:00:00Z", "mac": "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]", "version": "3.13.3"}}`
			},
		},
		{
			name: "tenant file with too many master keys", project: "project-a", file: "s.yaml", want: ErrMalformed,
			data: func(t *testing.T) string {
				entry := regexp.MustCompile(`(?s)        - enc: \|.*?recipient: age1[a-z0-9]+\n`).FindString(secret)
				return strings.Replace(secret, entry, strings.Repeat(entry, maxMasterKeys+1), 1)
			},
		},
		{
			name: "tenant file with a huge wrapped key", project: "project-a", file: "s.yaml", want: ErrMalformed,
			data: func(t *testing.T) string {
				line := "            " + strings.Repeat("A", 64) + "\n"
				return strings.Replace(secret, "-----BEGIN AGE ENCRYPTED FILE-----\n", "-----BEGIN AGE ENCRYPTED FILE-----\n"+strings.Repeat(line, maxWrappedKeySize/64+1), 1)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := LoadIdentities(keysDir, tc.project)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecryptor(ids, tc.limits)
			out, err := d.Decrypt(tc.file, []byte(tc.data(t)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", out, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestDecryptMaxFiles(t *testing.T) {
	ids, err := LoadIdentities(keysDir, "project-a")
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecryptor(ids, Limits{MaxFiles: 2})
	data := readTestdata(t, "encrypted/config.sops.json")
	for i := range 3 {
		_, err := d.Decrypt(fmt.Sprintf("f%d.json", i), data)
		if i < 2 && err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if i == 2 && !errors.Is(err, ErrTooManyFiles) {
			t.Fatalf("third file: %v, want ErrTooManyFiles", err)
		}
	}
}

// TestDataKeyCache: one wrapped data key is unwrapped once however many
// times a render reads files holding it.
func TestDataKeyCache(t *testing.T) {
	d := projectDecryptor(t, "project-b")
	secret := readTestdata(t, "encrypted/secret.sops.yaml")
	if _, err := d.Decrypt("a.yaml", secret); err != nil {
		t.Fatal(err)
	}
	once := d.keys.unwraps
	if once == 0 {
		t.Fatal("no unwrap counted")
	}
	for i := range 5 {
		if _, err := d.Decrypt(fmt.Sprintf("copy%d.yaml", i), secret); err != nil {
			t.Fatal(err)
		}
	}
	if d.keys.unwraps != once {
		t.Errorf("6 reads of one file unwrapped %d times, want %d", d.keys.unwraps, once)
	}
	if _, err := d.Decrypt("other.json", readTestdata(t, "encrypted/config.sops.json")); err != nil {
		t.Fatal(err)
	}
	if d.keys.unwraps <= once {
		t.Errorf("a file with another data key was not unwrapped")
	}
}

func TestDecryptConcurrent(t *testing.T) {
	d := projectDecryptor(t, "project-a")
	names := []string{"secret.sops.yaml", "multi.sops.yaml", "config.sops.json", "app.sops.env"}
	var wg sync.WaitGroup
	for i := range 16 {
		name := names[i%len(names)]
		data := readTestdata(t, "encrypted/"+name)
		wg.Go(func() {
			if _, err := d.Decrypt(name, data); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// forgeValue re-encrypts path's value of the YAML file secret (project
// a's fixture) as plaintext with sops's type typ, as an author holding
// the data key could. It returns the file with that value replaced; the
// MAC no longer matches.
func forgeValue(t *testing.T, secret, path, plaintext, typ string) string {
	t.Helper()
	enc := regexp.MustCompile(`(?s)- enc: \|\n(.*?)\n\s+recipient`).FindStringSubmatch(secret)
	var armored strings.Builder
	for _, l := range strings.Split(enc[1], "\n") {
		armored.WriteString(strings.TrimSpace(l) + "\n")
	}
	ids, err := LoadIdentities(keysDir, "project-a")
	if err != nil {
		t.Fatal(err)
	}
	key, err := unwrapAge([]byte(armored.String()), ids)
	if err != nil {
		t.Fatal(err)
	}
	v, err := aes.NewCipher().Encrypt(plaintext, key, strings.ReplaceAll(path, ".", ":")+":")
	if err != nil {
		t.Fatal(err)
	}
	v = strings.Replace(v, "type:str]", "type:"+typ+"]", 1)
	leaf := path[strings.LastIndex(path, ".")+1:]
	return replaceOnce(t, secret, `\n\s+`+leaf+`: (ENC\[[^\]]+\])`, v)
}

// TestErrorsNeverQuotePlaintext: sops's own errors quote decrypted
// values (strconv's error for a value typed int that is not a number);
// ours must not, whatever a tenant's file does.
func TestErrorsNeverQuotePlaintext(t *testing.T) {
	canary := testkit.Canary()
	secret := string(readTestdata(t, "encrypted/only-a.sops.yaml"))
	for _, tc := range []struct {
		name string
		data string
	}{
		{"tenant value typed int", forgeValue(t, secret, "stringData.password", canary, "int")},
		{"tenant value typed float", forgeValue(t, secret, "stringData.password", canary, "float")},
		{"tenant value typed bool", forgeValue(t, secret, "stringData.password", canary, "bool")},
		{"tenant value typed time", forgeValue(t, secret, "stringData.password", canary, "time")},
		{"tenant value typed bytes", forgeValue(t, secret, "stringData.password", canary, "bytes")},
		{"tenant value under a wrong MAC", forgeValue(t, secret, "stringData.password", canary, "str")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := projectDecryptor(t, "project-a")
			_, err := d.Decrypt("s.yaml", []byte(tc.data))
			if err == nil {
				t.Fatal("a forged file decrypted")
			}
			if w := testkit.CanaryIn(err.Error(), canary); w != "" {
				t.Fatalf("error quotes the plaintext (%q): %v", w, err)
			}
			if d.Quotes(canary) {
				t.Error("a file that failed left its values for Quotes")
			}
		})
	}
}

// TestQuotes: after a render decrypted a tenant's file, its values are
// recognized in any message, whole, in part or base64-encoded.
func TestQuotes(t *testing.T) {
	d := projectDecryptor(t, "project-a")
	if d.Quotes("s3cr3t-Passw0rd-Q7xB2m") {
		t.Fatal("Quotes before anything was decrypted")
	}
	for _, name := range []string{"secret.sops.yaml", "app.sops.env"} {
		if _, err := d.Decrypt(name, readTestdata(t, "encrypted/"+name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{`accumulating resources: map[password:s3cr3t-Passw0rd-Q7xB2m]`, true},
		{"a part: ...Passw0rd-Q7...", true},
		{"base64 as in Secret data: " + base64.StdEncoding.EncodeToString([]byte("s3cr3t-Passw0rd-Q7xB2m")), true},
		{"a dotenv value: dotenv-pass-K9zQ", true},
		{"no value: missing metadata.name in Secret db", false},
		{"the plain key names: password, token, DB_PASSWORD", false},
		{"", false},
	} {
		if got := d.Quotes(tc.msg); got != tc.want {
			t.Errorf("Quotes(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}

// TestNoPlaintextOnDisk: decrypting writes nothing to the temporary
// folder (nor anywhere: there is no file API in the package's path).
func TestNoPlaintextOnDisk(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	d := projectDecryptor(t, "project-a")
	for _, name := range []string{"secret.sops.yaml", "blob.sops.bin", "app.sops.ini"} {
		if _, err := d.Decrypt(name, readTestdata(t, "encrypted/"+name)); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Fatalf("decryption wrote %d entries to TMPDIR", len(entries))
	}
}

// FuzzDecrypt feeds tenant bytes to the decryptor under every format's
// name: no panic, and every error wraps one of the package's errors.
func FuzzDecrypt(f *testing.F) {
	files, _ := filepath.Glob("testdata/encrypted/*.sops.*")
	seeds := 0
	for _, p := range files {
		if strings.HasSuffix(p, ".golden") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(filepath.Ext(p), b)
		seeds++
	}
	if seeds == 0 {
		f.Fatal("no seeds in testdata/encrypted")
	}
	ids, err := LoadIdentities(keysDir, "project-a")
	if err != nil {
		f.Fatal(err)
	}
	known := []error{ErrTooLarge, ErrTooManyFiles, ErrNotEncrypted, ErrMalformed, ErrNoKey, ErrIntegrity}
	f.Fuzz(func(t *testing.T, ext string, data []byte) {
		d := NewDecryptor(ids, Limits{MaxFileSize: 64 << 10})
		_, err := d.Decrypt("f"+ext, data)
		if err == nil {
			return
		}
		for _, k := range known {
			if errors.Is(err, k) {
				return
			}
		}
		if !strings.Contains(err.Error(), "cannot be written") {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// TestRealSOPS encrypts fresh files with the real sops CLI (hack/tools.sh)
// for fresh age keys in a throwaway HOME, in every format, with
// --encrypted-regex and with two recipients, and decrypts them with either
// recipient's project keys: our plaintext must equal `sops --decrypt`'s,
// a third project's keys must open nothing, and a changed MAC must fail.
func TestRealSOPS(t *testing.T) {
	sops := testkit.Tool(t, "sops", "sops")
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	var recipients []string
	for _, p := range []string{"team-a", "team-b", "other"} {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(keys, p), 0o700); err != nil {
			t.Fatal(err)
		}
		// As age-keygen writes it.
		content := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().Format(time.RFC3339), id.Recipient(), id)
		if err := os.WriteFile(filepath.Join(keys, p, "keys.txt"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		recipients = append(recipients, id.Recipient().String())
	}
	sopsRun := func(t *testing.T, env []string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(sops, append([]string{"--disable-version-check"}, args...)...)
		// A throwaway HOME and no SOPS_* from the test's environment: sops
		// sees only the keys given here.
		cmd.Env = append([]string{"HOME=" + dir, "PATH=/usr/bin:/bin"}, env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sops %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	// mac_only_encrypted is a creation rule only, not a flag.
	macOnlyEncrypted := filepath.Join(dir, "sops.yaml")
	rules := "creation_rules:\n  - mac_only_encrypted: true\n    encrypted_regex: ^(data|stringData)$\n"
	if err := os.WriteFile(macOnlyEncrypted, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	macData := regexp.MustCompile(`mac[^\n]*?ENC\[AES256_GCM,data:(.)`)
	for _, tc := range []struct {
		name  string
		plain string
		args  []string
	}{
		{"YAML Secret, encrypted-regex", "secret.yaml", []string{"encrypt", "--encrypted-regex", "^(data|stringData)$"}},
		{"YAML, several documents", "multi.yaml", nil},
		{"JSON", "config.json", nil},
		{"dotenv", "app.env", nil},
		{"INI", "app.ini", nil},
		{"binary", "blob.bin", nil},
		{"YAML, MAC over encrypted values only", "secret.yaml", []string{"--config", macOnlyEncrypted, "encrypt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plainPath := filepath.Join(dir, tc.plain)
			if err := os.WriteFile(plainPath, readTestdata(t, "plain/"+tc.plain), 0o600); err != nil {
				t.Fatal(err)
			}
			// Flags before "encrypt" are sops's global ones.
			args := append(tc.args, "--age", recipients[0]+","+recipients[1], plainPath)
			if !slices.Contains(args, "encrypt") {
				args = append([]string{"encrypt"}, args...)
			}
			encrypted := sopsRun(t, nil, args...)
			encPath := filepath.Join(dir, "enc-"+tc.plain)
			if err := os.WriteFile(encPath, encrypted, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, project := range []string{"team-a", "team-b"} {
				ids, err := LoadIdentities(keys, project)
				if err != nil {
					t.Fatal(err)
				}
				got, err := NewDecryptor(ids, Limits{}).Decrypt(tc.plain, encrypted)
				if err != nil {
					t.Fatalf("%s: %v", project, err)
				}
				want := sopsRun(t, []string{"SOPS_AGE_KEY_FILE=" + filepath.Join(keys, project, "keys.txt")}, "decrypt", encPath)
				if !bytes.Equal(got, want) {
					t.Errorf("%s: plaintext differs from sops --decrypt:\n got %q\nwant %q", project, got, want)
				}
			}
			other, err := LoadIdentities(keys, "other")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewDecryptor(other, Limits{}).Decrypt(tc.plain, encrypted); !errors.Is(err, ErrNoKey) {
				t.Errorf("another project's keys: %v, want ErrNoKey", err)
			}
			m := macData.FindSubmatchIndex(encrypted)
			if m == nil {
				t.Fatal("no MAC found")
			}
			tampered := bytes.Clone(encrypted)
			tampered[m[2]] ^= 'A' ^ 'B' // stays base64, changes the ciphertext
			if tampered[m[2]] == encrypted[m[2]] {
				t.Fatal("MAC unchanged")
			}
			ids, _ := LoadIdentities(keys, "team-a")
			if _, err := NewDecryptor(ids, Limits{}).Decrypt(tc.plain, tampered); !errors.Is(err, ErrIntegrity) {
				t.Errorf("changed MAC: %v, want ErrIntegrity", err)
			}
		})
	}
}
