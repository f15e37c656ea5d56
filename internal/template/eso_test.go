package template

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// testPKI is a root, an intermediate and a leaf, each with an ECDSA key and
// subject/authority key IDs as real CAs set them.
type testPKI struct {
	root, mid, leaf          *x509.Certificate
	rootPEM, midPEM, leafPEM string
	leafKey                  *ecdsa.PrivateKey
	leafKeyPEM               string
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	mk := func(cn string, ski []byte, parent *x509.Certificate, parentKey crypto.Signer, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: isCA, BasicConstraintsValid: true, SubjectKeyId: ski,
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		}
		if cn == "leaf" {
			tmpl.DNSNames = []string{"app.example.com", "www.example.com"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
			tmpl.EmailAddresses = []string{"ops@example.com"}
			tmpl.URIs = []*url.URL{{Scheme: "spiffe", Host: "example.com", Path: "/app"}}
		}
		signer, p := crypto.Signer(k), tmpl
		if parent != nil {
			signer, p = parentKey, parent
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p, &k.PublicKey, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	root, rootKey := mk("root", []byte{1}, nil, nil, true)
	mid, midKey := mk("intermediate", []byte{2}, root, rootKey, true)
	leaf, leafKey := mk("leaf", []byte{3}, mid, midKey, false)
	der, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{root: root, mid: mid, leaf: leaf, leafKey: leafKey}
	p.rootPEM, p.midPEM, p.leafPEM = encodeCerts([]*x509.Certificate{root}), encodeCerts([]*x509.Certificate{mid}), encodeCerts([]*x509.Certificate{leaf})
	p.leafKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return p
}

func render(t *testing.T, text string, data map[string]string) (string, error) {
	t.Helper()
	out, err := ESO().Execute(nil, "test", text, data)
	return string(out), err
}

func mustRender(t *testing.T, text string, data map[string]string) string {
	t.Helper()
	out, err := render(t, text, data)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return out
}

func TestESOYAMLAndJSON(t *testing.T) {
	data := map[string]string{"config": "a: 1\nb:\n  c: two\n", "json": `{"user":"admin","n":[1,2]}`, "bad": "a: [1"}
	tests := []struct{ name, text, want string }{
		{"toYaml of fromYaml", `{{ .config | fromYaml | toYaml }}`, "a: 1\nb:\n  c: two"},
		{"fromYaml field", `{{ (.config | fromYaml).b.c }}`, "two"},
		{"fromYaml error under Error", `{{ if (.bad | fromYaml).Error }}broken{{ end }}`, "broken"},
		{"fromJson field", `{{ (.json | fromJson).user }}`, "admin"},
		{"toJson", `{{ .json | fromJson | toJson }}`, `{"n":[1,2],"user":"admin"}`},
		{"toYaml of a dict", `{{ dict "k" "v" | toYaml }}`, "k: v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.text, data); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestESOPEM(t *testing.T) {
	p := newTestPKI(t)
	bundle := "junk before\n" + p.leafPEM + p.leafKeyPEM + p.midPEM + p.rootPEM
	data := map[string]string{"bundle": bundle, "shuffled": p.rootPEM + p.leafPEM + p.midPEM, "junk": "no pem here"}
	tests := []struct{ name, text, want string }{
		{"filterPEM certificates", `{{ .bundle | filterPEM "CERTIFICATE" }}`, p.leafPEM + p.midPEM + p.rootPEM},
		{"filterPEM key, case-insensitive", `{{ .bundle | filterPEM "private key" }}`, p.leafKeyPEM},
		{"filterCertChain leaf", `{{ .shuffled | filterCertChain "leaf" }}`, p.leafPEM},
		{"filterCertChain intermediate", `{{ .shuffled | filterCertChain "intermediate" }}`, p.midPEM},
		{"filterCertChain root", `{{ .shuffled | filterCertChain "root" }}`, p.rootPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.text, data); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := render(t, `{{ .junk | filterPEM "CERTIFICATE" }}`, data); err == nil {
		t.Error("filterPEM accepted input with no PEM")
	}
}

// TestESODocsFunctions renders the templates of ESO's templating guide
// (docs/guides/templating.md, docs/snippets, ESO v2.9.0) that use the
// functions ESO's engine has beyond Sprig 3.3.0 or with another
// signature: htpasswd with a hash type, certSANs, hexdec. The templates
// are the tenant's, the data the provider's.
func TestESODocsFunctions(t *testing.T) {
	p := newTestPKI(t)
	// docs/snippets/template-v2-literal-example.yaml
	const htpasswdDoc = `{{- $creds := list }}
{{- range $user, $pw := . }}
  {{- $creds = append $creds (printf "%s" (htpasswd $user $pw "bcrypt")) }}
{{- end }}
auth: {{ $creds | join "\n" | quote }}`
	out := mustRender(t, htpasswdDoc, map[string]string{"user1": "password1", "user2": "password2"})
	auth, err := strconv.Unquote(strings.TrimPrefix(strings.TrimSpace(out), "auth: "))
	if err != nil {
		t.Fatalf("htpasswd example rendered %q: %v", out, err)
	}
	lines := strings.Split(auth, "\n")
	if len(lines) != 2 {
		t.Fatalf("htpasswd example rendered %d lines", len(lines))
	}
	for i, line := range lines {
		user, hash, _ := strings.Cut(line, ":")
		want := fmt.Sprintf("user%d", i+1)
		if user != want || bcrypt.CompareHashAndPassword([]byte(hash), []byte("password"+want[4:])) != nil {
			t.Errorf("line %d: %q is not a bcrypt line of %s", i, line, want)
		}
	}
	sum := sha1.Sum([]byte("password1"))
	sha := "user1:{SHA}" + base64.StdEncoding.EncodeToString(sum[:])

	// docs/snippets/certsans-template-v2-external-secret.yaml
	leaf := `{{ .certificate | filterPEM "CERTIFICATE" | filterCertChain "leaf" | certSANs`
	data := map[string]string{"certificate": p.rootPEM + p.leafPEM + p.midPEM, "pw": "password1", "hex": "68656c6c6f", "nothex": "zz"}
	tests := []struct{ name, text, want string }{
		{"htpasswd sha", `{{ htpasswd "user1" .pw "sha" }}`, sha},
		{"htpasswd bcrypt verifies", `{{ htpasswd "user1" .pw "bcrypt" | trimPrefix "user1:" | len }}`, "60"},
		{"htpasswd refuses a colon", `{{ htpasswd "a:b" .pw "sha" }}`, "invalid username: a:b"},
		{"certSANs sans", leaf + ` | join "," }}`, "app.example.com,www.example.com,10.0.0.1,ops@example.com,spiffe://example.com/app"},
		{"certSANs primary-domain", `{{ index (.certificate | filterPEM "CERTIFICATE" | filterCertChain "leaf" | certSANs) 0 }}`, "app.example.com"},
		{"certSANs sans-json", leaf + ` | toJson }}`, `["app.example.com","www.example.com","10.0.0.1","ops@example.com","spiffe://example.com/app"]`},
		{"hexdec", `{{ .hex | hexdec }}`, "hello"},
		{"hexdec of non-hex is ESO's error text", `{{ .nothex | hexdec }}`, "encoding/hex: invalid byte: U+007A 'z'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.text, data); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// ESO's htpasswd takes the hash type; SealedSecret templates keep
	// Sprig's, which does not.
	if _, err := render(t, `{{ htpasswd "user1" .pw }}`, data); err == nil || !strings.Contains(err.Error(), "wrong number of args") {
		t.Errorf("ESO htpasswd without a hash type: %v, want wrong number of args", err)
	}
	if out, err := Default().Execute(nil, "t", `{{ htpasswd "user1" .pw }}`, data); err != nil || !strings.HasPrefix(string(out), "user1:$2a$") {
		t.Errorf("Sprig htpasswd in SealedSecret templates: %q, %v", out, err)
	}
	if _, err := render(t, `{{ "junk" | certSANs }}`, data); err == nil {
		t.Error("certSANs accepted input with no PEM")
	}
}

func TestESOPKCS12(t *testing.T) {
	p := newTestPKI(t)
	data := map[string]string{"cert": p.leafPEM, "chain": p.leafPEM + p.midPEM + p.rootPEM, "key": p.leafKeyPEM}

	// Build archives with the template functions, then read them back with
	// the others: the round trip is what users do.
	pfx := mustRender(t, `{{ pemToPkcs12 .cert .key }}`, data)
	pfxPass := mustRender(t, `{{ pemToPkcs12Pass .cert .key "s3cret" }}`, data)
	full := mustRender(t, `{{ fullPemToPkcs12 .chain .key }}`, data)
	fullPass := mustRender(t, `{{ fullPemToPkcs12Pass .chain .key "s3cret" }}`, data)
	trust := mustRender(t, `{{ pemTruststoreToPKCS12 .chain }}`, data)
	trustPass := mustRender(t, `{{ pemTruststoreToPKCS12Pass .chain "s3cret" }}`, data)
	raw := func(b64 string) string {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	data["pfx"], data["pfxPass"], data["full"], data["fullPass"] = raw(pfx), raw(pfxPass), raw(full), raw(fullPass)

	if got := mustRender(t, `{{ .pfx | pkcs12key }}`, data); got != p.leafKeyPEM {
		t.Errorf("pkcs12key = %q", got)
	}
	if got := mustRender(t, `{{ .pfxPass | pkcs12keyPass "s3cret" }}`, data); got != p.leafKeyPEM {
		t.Errorf("pkcs12keyPass = %q", got)
	}
	if got := mustRender(t, `{{ .pfx | pkcs12cert }}`, data); got != p.leafPEM {
		t.Errorf("pkcs12cert = %q", got)
	}
	if got := mustRender(t, `{{ .full | pkcs12cert }}`, data); got != p.leafPEM+p.midPEM+p.rootPEM {
		t.Errorf("pkcs12cert of a chain = %q", got)
	}
	if got := mustRender(t, `{{ .fullPass | pkcs12certPass "s3cret" }}`, data); got != p.leafPEM+p.midPEM+p.rootPEM {
		t.Errorf("pkcs12certPass = %q", got)
	}
	if _, err := render(t, `{{ .pfxPass | pkcs12key }}`, data); err == nil {
		t.Error("wrong password accepted")
	}
	certs, err := gopkcs12.DecodeTrustStore([]byte(raw(trust)), "")
	if err != nil || len(certs) != 3 {
		t.Errorf("trust store: %d certs, %v", len(certs), err)
	}
	if certs, err := gopkcs12.DecodeTrustStore([]byte(raw(trustPass)), "s3cret"); err != nil || len(certs) != 3 {
		t.Errorf("trust store with password: %d certs, %v", len(certs), err)
	}
	for _, bad := range []string{`{{ pemToPkcs12 "not pem" .key }}`, `{{ pemToPkcs12 .cert "not pem" }}`, `{{ fullPemToPkcs12 "" "" }}`, `{{ "garbage" | pkcs12cert }}`} {
		if _, err := render(t, bad, data); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestESOJWK(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := json.Marshal(jose.JSONWebKey{Key: rk, KeyID: "k1", Algorithm: "RS256"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: &rk.PublicKey, KeyID: "k1", Algorithm: "RS256"})
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{"priv": string(priv), "pub": string(pub)}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	wantPub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	privDER, _ := x509.MarshalPKCS8PrivateKey(rk)
	wantPriv := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))

	if got := mustRender(t, `{{ .pub | jwkPublicKeyPem }}`, data); got != wantPub {
		t.Errorf("jwkPublicKeyPem = %q", got)
	}
	if got := mustRender(t, `{{ .priv | jwkPublicKeyPem }}`, data); got != wantPub {
		t.Errorf("jwkPublicKeyPem of a private key = %q", got)
	}
	if got := mustRender(t, `{{ .priv | jwkPrivateKeyPem }}`, data); got != wantPriv {
		t.Errorf("jwkPrivateKeyPem = %q", got)
	}
	if _, err := render(t, `{{ .pub | jwkPrivateKeyPem }}`, data); err == nil {
		t.Error("private PEM from a public key")
	}
}

func TestESORSADecrypt(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rk.PublicKey, []byte("plain"), nil)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rk)
	data := map[string]string{"ct": string(ct), "key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}
	if got := mustRender(t, `{{ rsaDecrypt "RSA-OAEP" "SHA256" .ct .key }}`, data); got != "plain" {
		t.Errorf("got %q", got)
	}
	if _, err := render(t, `{{ rsaDecrypt "RSA-OAEP" "SHA1" .ct .key }}`, data); err == nil {
		t.Error("wrong hash decrypted")
	}
	if got := mustRender(t, `{{ rsaDecrypt "None" "" "as is" "" }}`, data); got != "as is" {
		t.Errorf("None: %q", got)
	}
}

func TestESOMissingKeyIsAnError(t *testing.T) {
	_, err := render(t, `{{ .nope }}`, map[string]string{"user": "admin"})
	if err == nil || !strings.Contains(err.Error(), `map has no entry for key "nope"`) {
		t.Fatalf("err = %v", err)
	}
	if got, err := Default().Execute(nil, "x", `{{ .nope }}`, map[string]string{}); err != nil || string(got) != "<no value>" {
		t.Fatalf("Default engine changed: %q, %v", got, err)
	}
}

// TestESOHasNoLookups is the regression test for ESO's template advisories:
// no function may read another object (getSecretKey, CVE-2026-22822), the
// network or DNS (getHostByName, CVE-2026-34984), the controller's
// environment, or files. The function set is pinned: adding a function
// means reviewing it here.
func TestESOHasNoLookups(t *testing.T) {
	forbidden := []string{
		"getSecretKey", "getSecret", "getConfigMapKey", "getConfigMap", "lookup",
		"getHostByName", "env", "expandenv", "readFile", "include", "tpl",
		"httpGet", "http", "fetch", "request", "exec",
	}
	for _, name := range forbidden {
		if _, ok := ESO().funcs[name]; ok {
			t.Errorf("function %q is available", name)
		}
		_, err := ESO().Parse(nil, "t", "{{ "+name+" }}")
		if err == nil || !strings.Contains(err.Error(), "not defined") {
			t.Errorf("%s: parse error = %v", name, err)
		}
	}
	var added []string
	for name := range ESO().funcs {
		if _, ok := Funcs()[name]; !ok || ESO().plain[name] {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	want := slices.Sorted(maps.Keys(esoFuncs()))
	if !slices.Equal(added, want) {
		t.Errorf("ESO functions beyond or replacing Sprig's = %v, want %v", added, want)
	}
	if got := len(esoFuncs()); got != 22 {
		t.Errorf("ESO adds %d functions; review any new one for I/O, then update this count", got)
	}
}

// TestESOErrorsDoNotLeak runs templates that fail on a secret value and
// checks that the value appears in no error.
func TestESOErrorsDoNotLeak(t *testing.T) {
	const secret = "hunter2-very-secret"
	data := map[string]string{"password": secret, "pem": "-----BEGIN X-----\n" + secret + "\n-----END X-----\n"}
	for _, text := range []string{
		`{{ fail .password }}`,
		`{{ .password | mustFromJson }}`,
		`{{ .password | pkcs12key }}`,
		`{{ .password | pkcs12certPass .password }}`,
		`{{ pemToPkcs12 .password .password }}`,
		`{{ .pem | filterCertChain "leaf" }}`,
		`{{ .pem | certSANs }}`,
		`{{ .password | jwkPublicKeyPem }}`,
		`{{ .password | jwkPrivateKeyPem }}`,
		`{{ rsaDecrypt .password "SHA256" .password .password }}`,
		`{{ rsaDecrypt "RSA-OAEP" "SHA256" .password .pem }}`,
		`{{ range .password }}{{ end }}`,
		`{{ range $k, $v := .password }}{{ end }}`,
		`{{ .password | int | div 1 }}`,
		`{{ index .password 100 }}`,
		`{{ regexFind .password "x" | mustRegexMatch "(" }}`,
		`{{ ">: " }}{{ fail .password }}`,
		`{{ semver .password }}`,
		`{{ .password | toDate "2006" | date "x" }}{{ mustToDate "2006" .password }}`,
	} {
		_, err := render(t, text, data)
		if err == nil {
			t.Errorf("%s: no error", text)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error leaks the value: %v", text, err)
		}
	}
}
