package awstest

// The server parses bytes from whatever client talks to it: request
// bodies, form parameters, Authorization headers, pagination and web
// identity tokens. These fuzz targets feed it arbitrary ones, seeded from
// testdata, and require that it never panics, never answers 5xx for a
// client's mistake, and answers in its protocol.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// seeds returns the files of testdata/dir by name, failing when there are
// none: a fuzz target without seeds tests nothing useful in a normal run.
func seeds(f *testing.F, dir string) map[string][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	if len(paths) == 0 {
		f.Fatalf("no fuzz seeds found in testdata/%s", dir)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

var fuzzCreds = Credentials{AccessKeyID: "AKIAFUZZ000000000001", SecretAccessKey: "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"}

// fuzzServer is a server holding a little of everything, and an
// administrator's key.
func fuzzServer(t *testing.T) *Server {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	if err := s.AddAccessKey(User{Name: "admin", Policy: AllowAll}, fuzzCreds); err != nil {
		t.Fatal(err)
	}
	s.AddRole(Role{Name: "r", Policy: AllowAll, TrustedPrincipals: []string{"*"}, ExternalID: "ext-1", AllowTagSession: true})
	c := &call{service: SecretsManager, caller: s.keys[fuzzCreds.AccessKeyID].principal}
	for _, body := range []string{
		`{"Name":"app/db","SecretString":"{\"user\":\"u\"}","ClientRequestToken":"11111111-2222-3333-4444-555555555555","Tags":[{"Key":"team","Value":"a"}]}`,
		`{"Name":"app/bin","SecretBinary":"AAEC"}`,
	} {
		c.action, c.body = "CreateSecret", []byte(body)
		if _, aerr := s.dispatch(c); aerr != nil {
			t.Fatal(aerr)
		}
	}
	c.service = SSM
	for _, body := range []string{
		`{"Name":"/app/db/pass","Value":"v1","Type":"SecureString","Tags":[{"Key":"team","Value":"a"}]}`,
		`{"Name":"/app/db/pass","Value":"v2","Overwrite":true}`,
		`{"Name":"top","Value":"t","Type":"StringList"}`,
	} {
		c.action, c.body = "PutParameter", []byte(body)
		if _, aerr := s.dispatch(c); aerr != nil {
			t.Fatal(aerr)
		}
	}
	return s
}

// signedRequest builds a request signed with fuzzCreds at the server's
// time, as a client would send it.
func signedRequest(t *testing.T, s *Server, service string, body []byte, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://aws.test/", bytes.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	r.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: fuzzCreds.AccessKeyID, SecretAccessKey: fuzzCreds.SecretAccessKey},
		r, hex.EncodeToString(sum[:]), service, s.region, s.now())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzJSONRequest sends signed AWS JSON 1.1 requests with arbitrary bodies
// to every operation of Secrets Manager and Parameter Store.
func FuzzJSONRequest(f *testing.F) {
	for name, body := range seeds(f, "requests") {
		target, _, _ := strings.Cut(strings.TrimSuffix(name, ".json"), "-")
		f.Add(target, body)
	}
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		s := fuzzServer(t)
		service := SecretsManager
		if strings.HasPrefix(target, "AmazonSSM.") {
			service = SSM
		}
		r := signedRequest(t, s, service, body, http.Header{
			"X-Amz-Target": {target}, "Content-Type": {jsonContentType},
		})
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s answered %d: %s", target, w.Code, w.Body)
		}
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s answered %d with no JSON object: %q", target, w.Code, w.Body)
		}
		if w.Code != http.StatusOK && (doc["__type"] == nil || w.Header().Get("X-Amzn-ErrorType") == "") {
			t.Fatalf("%s error answer without a code: %s", target, w.Body)
		}
		if w.Code != http.StatusOK && w.Header().Get("X-Amzn-ErrorType") == "SerializationException" && len(body) >= 8 && strings.Contains(w.Body.String(), string(body)) {
			t.Fatalf("error quotes the body")
		}
	})
}

// FuzzQueryRequest sends signed STS query-protocol requests with
// arbitrary form bodies.
func FuzzQueryRequest(f *testing.F) {
	for _, body := range seeds(f, "forms") {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := fuzzServer(t)
		r := signedRequest(t, s, STS, body, http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}})
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("answered %d: %s", w.Code, w.Body)
		}
		var doc struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("answered %d with no XML document: %q", w.Code, w.Body)
		}
		if w.Code != http.StatusOK && doc.XMLName.Local != "ErrorResponse" {
			t.Fatalf("error answer %s is not an ErrorResponse", doc.XMLName.Local)
		}
	})
}

// FuzzAuthorization parses arbitrary Authorization headers, and checks
// what it accepts.
func FuzzAuthorization(f *testing.F) {
	for _, h := range seeds(f, "authorization") {
		f.Add(string(h))
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			return // its errors are constant strings: they cannot quote h
		}
		if a.accessKey == "" || a.region == "" || a.service == "" || len(a.signature) != 64 || len(a.signedHeaders) == 0 {
			t.Fatalf("accepted an incomplete header: %+v", a)
		}
		// Whatever parses is then checked against the SDK's signer, never
		// trusted: a request carrying it is refused.
		s := fuzzServer(t)
		r := httptest.NewRequest(http.MethodPost, "http://aws.test/", strings.NewReader("{}"))
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", s.now().UTC().Format(amzDateFormat))
		r.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
		r.Header.Set("Content-Type", jsonContentType)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			t.Fatalf("a forged signature was accepted: %q", h)
		}
	})
}

// FuzzPageToken parses arbitrary NextTokens: only tokens the server made
// for the same query are accepted.
func FuzzPageToken(f *testing.F) {
	f.Add(*encodeToken("app/db", "q1"), "q1")
	f.Add(*encodeToken("\x00\xff", ""), "")
	f.Add("eyJhIjoiIiwicSI6InExIn0", "q1")
	f.Add("garbage", "q")
	f.Fuzz(func(t *testing.T, tok, query string) {
		after, ok := parseToken(tok, query)
		if !ok {
			return
		}
		if after == "" {
			t.Fatal("accepted a token that starts nowhere")
		}
		if again, ok := parseToken(*encodeToken(after, query), query); !ok || again != after {
			t.Fatalf("token for %q does not round-trip", after)
		}
	})
}

// FuzzWebIdentityToken verifies arbitrary web identity tokens: it never
// panics, and what it accepts names a subject.
func FuzzWebIdentityToken(f *testing.F) {
	iss, err := NewIssuer("https://oidc.test")
	if err != nil {
		f.Fatal(err)
	}
	other, err := NewIssuer("https://oidc.test")
	if err != nil {
		f.Fatal(err)
	}
	for _, i := range []*Issuer{iss, other} {
		tok, err := i.Token(TokenClaims{Subject: "system:serviceaccount:a:b", Audience: []string{STSAudience}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		s := New(Options{})
		s.AddOIDCProvider(other.Provider())
		s.mu.Lock()
		claims, aerr := s.verifyWebIdentity(raw)
		s.mu.Unlock()
		if aerr == nil && claims.Subject == "" {
			t.Fatal("accepted a token without a subject")
		}
	})
}
