package crypto_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sealsync/sealsync/crypto"
)

var update = flag.Bool("update", false, "regenerate testdata (keys are only created when missing)")

// testKeys names the committed test keys and their sizes in bits. bench-NN
// are the twelve keys of a year of 30-day renewals, bench-01 the oldest.
var testKeys = map[string]int{"a": 4096, "b": 4096, "c": 2048}

func init() {
	for i := 1; i <= 12; i++ {
		testKeys[fmt.Sprintf("bench-%02d", i)] = 4096
	}
}

// keyEpoch is the NotBefore of test key bench-01; bench-NN is NN-1 months
// later, and a, b, c come after all of them.
var keyEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func loadKey(tb testing.TB, name string) *crypto.Key {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name+".pem"))
	if err != nil {
		tb.Fatalf("read test key %s: %v (run go test ./crypto -run TestTestdata -update)", name, err)
	}
	priv, err := crypto.ParsePrivateKeyPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := crypto.NewKey(priv, certs[0], crypto.StatusActive, time.Time{})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// vector is one golden test vector: a blob, how to open it and what must
// come out.
type vector struct {
	name      string
	key       string // key expected to open it ("" = none)
	scope     crypto.Scope
	namespace string
	secret    string
	plaintext []byte
	expect    string // "success", "decryption error" or "malformed"
	blob      []byte
}

// parseVector reads the age-style vector format: "field: value" header lines,
// a blank line, then the blob in standard base64.
func parseVector(name string, b []byte) (vector, error) {
	v := vector{name: name}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		field, value, ok := strings.Cut(line, ": ")
		if !ok {
			return v, fmt.Errorf("%s: bad header line %q", name, line)
		}
		switch field {
		case "key":
			v.key = value
		case "scope":
			s, err := crypto.ParseScope(value)
			if err != nil {
				return v, err
			}
			v.scope = s
		case "namespace":
			v.namespace = value
		case "name":
			v.secret = value
		case "plaintext":
			p, err := hex.DecodeString(value)
			if err != nil {
				return v, fmt.Errorf("%s: plaintext: %w", name, err)
			}
			v.plaintext = p
		case "expect":
			v.expect = value
		case "comment":
		default:
			return v, fmt.Errorf("%s: unknown field %q", name, field)
		}
	}
	var body strings.Builder
	for sc.Scan() {
		body.WriteString(strings.TrimSpace(sc.Text()))
	}
	blob, err := base64.StdEncoding.DecodeString(body.String())
	if err != nil {
		return v, fmt.Errorf("%s: blob: %w", name, err)
	}
	v.blob = blob
	return v, sc.Err()
}

func (v vector) format(comment string) []byte {
	var b bytes.Buffer
	if comment != "" {
		fmt.Fprintf(&b, "comment: %s\n", comment)
	}
	fmt.Fprintf(&b, "key: %s\nscope: %s\nnamespace: %s\nname: %s\nplaintext: %s\nexpect: %s\n\n",
		v.key, v.scope, v.namespace, v.secret, hex.EncodeToString(v.plaintext), v.expect)
	enc := base64.StdEncoding.EncodeToString(v.blob)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n")
	return b.Bytes()
}

func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no test vectors found in testdata/vectors")
	}
	sort.Strings(paths)
	var vs []vector
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		v, err := parseVector(strings.TrimSuffix(filepath.Base(p), ".txt"), b)
		if err != nil {
			tb.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

// TestTestdata regenerates keys and vectors with -update. The vectors that
// came from Bitnami's kubeseal (bitnami-*.txt) are never regenerated.
func TestTestdata(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join("testdata", "keys"), 0o755))
	must(os.MkdirAll(filepath.Join("testdata", "vectors"), 0o755))
	for name, bits := range testKeys {
		p := filepath.Join("testdata", "keys", name+".pem")
		if _, err := os.Stat(p); err == nil {
			continue
		}
		priv, err := crypto.GenerateKey(rand.Reader, bits)
		must(err)
		notBefore := keyEpoch.AddDate(0, 13, 0)
		var n int
		if _, err := fmt.Sscanf(name, "bench-%d", &n); err == nil {
			notBefore = keyEpoch.AddDate(0, n-1, 0)
		}
		cert, err := crypto.NewCertificate(rand.Reader, priv, notBefore, 100*365*24*time.Hour, "sealsync-test-"+name)
		must(err)
		if name == "b" {
			// b is stored as PKCS#8 to cover that form.
			der, err := x509MarshalPKCS8(priv)
			must(err)
			must(os.WriteFile(p, append(der, crypto.EncodeCertificatePEM(cert)...), 0o600))
			continue
		}
		must(os.WriteFile(p, append(crypto.EncodePrivateKeyPEM(priv), crypto.EncodeCertificatePEM(cert)...), 0o600))
	}
	type gen struct {
		file, comment, key string
		scope              crypto.Scope
		ns, name           string
		plaintext          []byte
		mutate             func(v *vector)
	}
	seal := func(g gen) vector {
		k := loadKey(t, g.key)
		blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, g.plaintext, crypto.Label(g.scope, g.ns, g.name))
		must(err)
		v := vector{key: g.key, scope: g.scope, namespace: g.ns, secret: g.name, plaintext: g.plaintext, expect: "success", blob: blob}
		if g.mutate != nil {
			g.mutate(&v)
		}
		return v
	}
	gens := []gen{
		{file: "strict", comment: "strict scope binds namespace and name", key: "a", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("s3cr3t-password")},
		{file: "namespace-wide", key: "a", scope: crypto.ScopeNamespaceWide, ns: "team-a", name: "any", plaintext: []byte("ns wide value")},
		{file: "cluster-wide", key: "a", scope: crypto.ScopeClusterWide, plaintext: []byte("cluster wide value")},
		{file: "empty-plaintext", key: "b", scope: crypto.ScopeStrict, ns: "default", name: "empty", plaintext: []byte{}},
		{file: "binary-plaintext", comment: "every byte value", key: "b", scope: crypto.ScopeStrict, ns: "default", name: "bin", plaintext: allBytes()},
		{file: "rsa2048", key: "c", scope: crypto.ScopeStrict, ns: "default", name: "small", plaintext: []byte("sealed with a 2048-bit key")},
		{file: "wrong-namespace", comment: "sealed for default/db-creds, opened as prod/db-creds", key: "a", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("x"),
			mutate: func(v *vector) { v.namespace = "prod"; v.expect = "decryption error"; v.key = ""; v.plaintext = nil }},
		{file: "wrong-name", comment: "sealed for default/db-creds, opened as default/other", key: "a", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("x"),
			mutate: func(v *vector) { v.secret = "other"; v.expect = "decryption error"; v.key = ""; v.plaintext = nil }},
		{file: "scope-upgrade", comment: "strict value presented as cluster-wide", key: "a", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("x"),
			mutate: func(v *vector) {
				v.scope = crypto.ScopeClusterWide
				v.namespace = ""
				v.secret = ""
				v.expect = "decryption error"
				v.key = ""
				v.plaintext = nil
			}},
		{file: "tampered-gcm", comment: "last byte of the GCM tag flipped", key: "a", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("x"),
			mutate: func(v *vector) {
				v.blob[len(v.blob)-1] ^= 1
				v.expect = "decryption error"
				v.key = ""
				v.plaintext = nil
			}},
		{file: "tampered-rsa", comment: "a byte of the wrapped session key flipped", key: "a", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("x"),
			mutate: func(v *vector) { v.blob[100] ^= 0x80; v.expect = "decryption error"; v.key = ""; v.plaintext = nil }},
		{file: "truncated", comment: "cut inside the wrapped session key", key: "a", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("x"),
			mutate: func(v *vector) { v.blob = v.blob[:300]; v.expect = "malformed"; v.key = ""; v.plaintext = nil }},
		{file: "unknown-key", comment: "sealed with a key the keyring does not hold", key: "bench-12", scope: crypto.ScopeStrict, ns: "default", name: "db-creds", plaintext: []byte("x"),
			mutate: func(v *vector) { v.expect = "decryption error"; v.key = ""; v.plaintext = nil }},
	}
	for _, g := range gens {
		v := seal(g)
		must(os.WriteFile(filepath.Join("testdata", "vectors", g.file+".txt"), v.format(g.comment), 0o644))
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
