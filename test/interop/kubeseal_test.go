// Package interop_test proves wire and CLI compatibility against the real
// Bitnami kubeseal v0.36.6, built by hack/tools.sh: what one side seals the
// other unseals, for every scope, raw values and templates, and the two
// write the same documents.
package interop_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/manifest"
)

// fixture is a key pair in files, shared by both tools.
type fixture struct {
	dir, key, cert string
	bitnami        string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bin := testToolPath(t)
	dir := t.TempDir()
	keyPEM, err := os.ReadFile(filepath.Join("..", "..", "crypto", "testdata", "keys", "a.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, key: filepath.Join(dir, "key.pem"), cert: filepath.Join(dir, "cert.pem"), bitnami: bin}
	write(t, f.key, keyPEM)
	write(t, f.cert, crypto.EncodeCertificatePEM(certs[0]))
	return f
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runBitnami runs Bitnami's kubeseal offline: no kubeconfig, empty HOME.
func (f *fixture) runBitnami(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(f.bitnami, args...)
	cmd.Env = []string{"HOME=" + f.dir, "KUBECONFIG=" + filepath.Join(f.dir, "none"), "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bitnami kubeseal %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// runOurs runs our kubeseal in process with the same environment.
func (f *fixture) runOurs(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	t.Setenv("HOME", f.dir)
	t.Setenv("KUBECONFIG", filepath.Join(f.dir, "none"))
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), args, cli.Streams{In: bytes.NewReader(stdin), Out: &stdout, Err: &stderr}); code != 0 {
		t.Fatalf("our kubeseal %v: exit %d\n%s", args, code, stderr.String())
	}
	return stdout.Bytes()
}

// tool is "ours" or "bitnami".
type tool string

func (f *fixture) run(t *testing.T, who tool, stdin []byte, args ...string) []byte {
	if who == "ours" {
		return f.runOurs(t, stdin, args...)
	}
	return f.runBitnami(t, stdin, args...)
}

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  labels:
    app: db
  annotations:
    owner: payments
    SCOPE_ANNOTATION
type: kubernetes.io/basic-auth
stringData:
  password: "s3cr3t value with spaces\nand a newline"
data:
  binary: AAECA/7/
`

func secretFor(scopeAnnotation string) []byte {
	return []byte(strings.Replace(secretYAML, "SCOPE_ANNOTATION", scopeAnnotation, 1))
}

var scopes = []struct {
	name       string
	flag       string
	annotation string
}{
	{"strict", "strict", "note: strict"},
	{"namespace-wide", "namespace-wide", `sealedsecrets.bitnami.com/namespace-wide: "true"`},
	{"cluster-wide", "cluster-wide", `sealedsecrets.bitnami.com/cluster-wide: "true"`},
}

// TestSealAndUnsealAcrossTools seals with one tool and recovers with the
// other, for every scope given by flag or by annotation, in both formats.
// Both recoveries of the same SealedSecret must be byte-identical.
func TestSealAndUnsealAcrossTools(t *testing.T) {
	f := newFixture(t)
	for _, sc := range scopes {
		for _, by := range []string{"flag", "annotation"} {
			for _, sealer := range []tool{"ours", "bitnami"} {
				for _, format := range []string{"json", "yaml"} {
					t.Run(sc.name+"/"+by+"/sealed-by-"+string(sealer)+"/"+format, func(t *testing.T) {
						args := []string{"--cert", f.cert, "-o", format}
						in := secretFor("note: none")
						if by == "flag" {
							args = append(args, "--scope", sc.flag)
						} else {
							in = secretFor(sc.annotation)
						}
						sealed := f.run(t, sealer, in, args...)
						if sc.name != "strict" && !bytes.Contains(sealed, []byte("sealedsecrets.bitnami.com/"+sc.name)) {
							t.Fatalf("scope annotation missing:\n%s", sealed)
						}
						byBitnami := f.runBitnami(t, sealed, "--recovery-unseal", "--recovery-private-key", f.key, "-o", "yaml")
						byOurs := f.runOurs(t, sealed, "--recovery-unseal", "--recovery-private-key", f.key, "-o", "yaml")
						if !bytes.Equal(byBitnami, byOurs) {
							t.Fatalf("recoveries differ\nbitnami:\n%s\nours:\n%s", byBitnami, byOurs)
						}
						for _, want := range []string{"password: czNjcjN0IHZhbHVlIHdpdGggc3BhY2VzCmFuZCBhIG5ld2xpbmU=", "binary: AAECA/7/", "app: db", "owner: payments", "type: kubernetes.io/basic-auth"} {
							if !bytes.Contains(byOurs, []byte(want)) {
								t.Errorf("recovered Secret lacks %q:\n%s", want, byOurs)
							}
						}
					})
				}
			}
		}
	}
}

var (
	ciphertext    = regexp.MustCompile(`Ag[A-D][A-Za-z0-9+/]+=*`)
	keyIDLine     = regexp.MustCompile(`(?m)^\s*"?sealsync.dev/key-id"?: "?[0-9a-f]{64}"?,?\n`)
	emptyJSON     = regexp.MustCompile(`(?m)^\s*"annotations": \{\s*\},?\n`)
	danglingComma = regexp.MustCompile(`,(\n\s*\})`)
	emptyYAML     = regexp.MustCompile(`(?m)^  annotations:\n(  name:)`)
)

// withoutKeyID removes our key-ID annotation from a document, and the
// annotations map if it was its only entry, leaving valid JSON or YAML.
func withoutKeyID(doc []byte) []byte {
	doc = keyIDLine.ReplaceAll(doc, nil)
	doc = emptyJSON.ReplaceAll(doc, nil)
	doc = danglingComma.ReplaceAll(doc, []byte("$1"))
	return emptyYAML.ReplaceAll(doc, []byte("$1"))
}

// TestSameOutputAsBitnami compares the documents both tools write for the
// same input with the random ciphertexts masked: they must be identical but
// for our key-ID annotation.
func TestSameOutputAsBitnami(t *testing.T) {
	f := newFixture(t)
	for _, sc := range scopes {
		for _, format := range []string{"json", "yaml"} {
			t.Run(sc.name+"/"+format, func(t *testing.T) {
				args := []string{"--cert", f.cert, "-o", format, "--scope", sc.flag}
				in := secretFor("note: x")
				ours := f.runOurs(t, in, args...)
				theirs := f.runBitnami(t, in, args...)
				if !keyIDLine.Match(ours) {
					t.Fatalf("our output lacks the key-id annotation:\n%s", ours)
				}
				oursMasked := withoutKeyID(ciphertext.ReplaceAll(ours, []byte("CIPHERTEXT")))
				theirsMasked := ciphertext.ReplaceAll(theirs, []byte("CIPHERTEXT"))
				if !bytes.Equal(oursMasked, theirsMasked) {
					t.Fatalf("outputs differ\nours:\n%s\nbitnami:\n%s", oursMasked, theirsMasked)
				}
			})
		}
	}
}

// TestRawAcrossTools seals single values with --raw on each side, puts them
// into a SealedSecret and recovers it with the other side.
func TestRawAcrossTools(t *testing.T) {
	f := newFixture(t)
	value := []byte("raw-value-\x00-binary")
	write(t, filepath.Join(f.dir, "value"), value)
	for _, sc := range scopes {
		for _, sealer := range []tool{"ours", "bitnami"} {
			t.Run(sc.name+"/sealed-by-"+string(sealer), func(t *testing.T) {
				args := []string{"--cert", f.cert, "--raw", "--scope", sc.flag, "--from-file", filepath.Join(f.dir, "value")}
				if sc.name != "cluster-wide" {
					args = append(args, "-n", "prod")
				}
				if sc.name == "strict" {
					args = append(args, "--name", "db")
				}
				raw := f.run(t, sealer, nil, args...)
				if bytes.HasSuffix(raw, []byte("\n")) || !ciphertext.Match(raw) {
					t.Fatalf("raw output is not bare base64: %q", raw)
				}
				annotations := ""
				if sc.name != "strict" {
					annotations = "\n  annotations:\n    sealedsecrets.bitnami.com/" + sc.name + `: "true"`
				}
				ss := []byte("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: prod" + annotations +
					"\nspec:\n  encryptedData:\n    value: " + string(raw) + "\n")
				other := tool("bitnami")
				if sealer == "bitnami" {
					other = "ours"
				}
				out := f.run(t, other, ss, "--recovery-unseal", "--recovery-private-key", f.key, "-o", "json")
				secrets, err := manifest.DecodeSecrets(bytes.NewReader(out))
				if err != nil || len(secrets) != 1 {
					t.Fatalf("decode recovered: %v\n%s", err, out)
				}
				if got := secrets[0].Data["value"]; !bytes.Equal(got, value) {
					t.Fatalf("recovered %q", got)
				}
			})
		}
	}
}

// TestTemplatesAcrossTools: a SealedSecret whose template sets metadata,
// type, immutability and Go-template data renders identically in both
// tools, whoever sealed its values.
func TestTemplatesAcrossTools(t *testing.T) {
	f := newFixture(t)
	for _, sealer := range []tool{"ours", "bitnami"} {
		t.Run("sealed-by-"+string(sealer), func(t *testing.T) {
			user := f.run(t, sealer, []byte("app"), "--cert", f.cert, "--raw", "-n", "prod", "--name", "db")
			pass := f.run(t, sealer, []byte("p@ss"), "--cert", f.cert, "--raw", "-n", "prod", "--name", "db")
			ss := []byte(`apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: db
  namespace: prod
spec:
  encryptedData:
    user: ` + string(user) + `
    password: ` + string(pass) + `
  template:
    type: kubernetes.io/basic-auth
    immutable: true
    metadata:
      labels:
        app: db
      annotations:
        reloader/match: "true"
        sealedsecrets.bitnami.com/skip-set-owner-references: "true"
    data:
      dsn: "postgres://{{ .user }}:{{ .password | urlquery }}@db:5432/app"
      config.json: '{"user": {{ .user | quote }}, "len": {{ len .password }}}'
      upper: "{{ .user | upper }}"
`)
			byBitnami := f.runBitnami(t, ss, "--recovery-unseal", "--recovery-private-key", f.key, "-o", "yaml")
			byOurs := f.runOurs(t, ss, "--recovery-unseal", "--recovery-private-key", f.key, "-o", "yaml")
			if !bytes.Equal(byBitnami, byOurs) {
				t.Fatalf("renderings differ\nbitnami:\n%s\nours:\n%s", byBitnami, byOurs)
			}
			secrets, err := manifest.DecodeSecrets(bytes.NewReader(byOurs))
			if err != nil {
				t.Fatal(err)
			}
			s := secrets[0]
			want := map[string]string{
				"dsn":         "postgres://app:p%40ss@db:5432/app",
				"config.json": `{"user": "app", "len": 4}`,
				"upper":       "APP",
				"user":        "app",
				"password":    "p@ss",
			}
			for k, v := range want {
				if string(s.Data[k]) != v {
					t.Errorf("%s = %q, want %q", k, s.Data[k], v)
				}
			}
			if s.Type != "kubernetes.io/basic-auth" || s.Immutable == nil || !*s.Immutable || s.Labels["app"] != "db" || len(s.OwnerReferences) != 0 {
				t.Errorf("template metadata lost: %+v", s.ObjectMeta)
			}
		})
	}
}

// TestRawValueIsBitnamiWireFormat decodes a raw Bitnami value with our
// crypto package directly, independent of either CLI.
func TestRawValueIsBitnamiWireFormat(t *testing.T) {
	f := newFixture(t)
	raw := f.runBitnami(t, []byte("direct"), "--cert", f.cert, "--raw", "-n", "prod", "--name", "db")
	blob, err := base64.StdEncoding.DecodeString(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := os.ReadFile(f.key)
	priv, err := crypto.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := crypto.HybridDecrypt(priv, blob, crypto.Label(crypto.ScopeStrict, "prod", "db"))
	if err != nil || string(pt) != "direct" {
		t.Fatalf("HybridDecrypt = %q, %v", pt, err)
	}
}

// TestMergeIntoKeepsTheFileScope: our --merge-into seals with the scope of
// the file it merges into, a file Bitnami's kubeseal sealed, so Bitnami's
// own recovery opens every merged value; the input (the user's) names no
// scope. Bitnami's --merge-into seals such an input strict whatever the
// file's scope, so its result does not open: the difference
// docs/compatibility.md lists.
func TestMergeIntoKeepsTheFileScope(t *testing.T) {
	f := newFixture(t)
	more := []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: more\nstringData:\n  apikey: two\n")
	for _, sc := range scopes[1:] {
		t.Run(sc.name, func(t *testing.T) {
			file := filepath.Join(f.dir, sc.name+".yaml")
			write(t, file, f.runBitnami(t, secretFor("note: x"), "--cert", f.cert, "-o", "yaml", "--scope", sc.flag))
			f.runOurs(t, more, "--cert", f.cert, "--merge-into", file)
			merged, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out := f.runBitnami(t, merged, "--recovery-unseal", "--recovery-private-key", f.key, "-o", "yaml")
			if !bytes.Contains(out, []byte("apikey: dHdv")) || !bytes.Contains(out, []byte("binary: AAECA/7/")) {
				t.Fatalf("Bitnami's recovery of the merged file:\n%s", out)
			}

			write(t, file, f.runBitnami(t, secretFor("note: x"), "--cert", f.cert, "-o", "yaml", "--scope", sc.flag))
			cmd := exec.Command(f.bitnami, "--cert", f.cert, "--merge-into", file)
			cmd.Env = []string{"HOME=" + f.dir, "KUBECONFIG=" + filepath.Join(f.dir, "none"), "PATH=/usr/bin:/bin"}
			cmd.Stdin = bytes.NewReader(more)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("Bitnami's --merge-into: %v\n%s", err, b)
			}
			if merged, err = os.ReadFile(file); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			args := []string{"--recovery-unseal", "--recovery-private-key", f.key}
			if code := cli.Run(context.Background(), args, cli.Streams{In: bytes.NewReader(merged), Out: &stdout, Err: &stderr}); code == 0 {
				t.Error("Bitnami's --merge-into now seals with the file's scope: update docs/compatibility.md")
			} else if !strings.Contains(stderr.String(), `item "apikey"`) {
				t.Errorf("recovery of Bitnami's merge failed otherwise: %s", stderr.String())
			}
		})
	}
}
