package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// clientCertPEM makes a self-signed client certificate and its key.
func clientCertPEM(tb testing.TB) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eso"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		tb.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), cert
}

// fakeVault is an HTTPS server answering the few Vault calls a cert login
// and a KV v2 read make, and recording what it was sent.
type fakeVault struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func newFakeVault(tb testing.TB, clientCA *x509.Certificate) *fakeVault {
	tb.Helper()
	f := &fakeVault{}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, r)
		f.bodies = append(f.bodies, string(body))
		f.mu.Unlock()
		var answer any
		switch r.URL.Path {
		case "/v1/auth/cert/login":
			if len(r.TLS.PeerCertificates) == 0 {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			answer = map[string]any{"auth": map[string]any{"client_token": "t-cert", "lease_duration": 3600, "renewable": true}}
		case "/v1/secret/data/app":
			answer = map[string]any{"data": map[string]any{"data": map[string]any{"k": "v"}}}
		case "/v1/auth/token/revoke-self":
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(clientCA)
	f.Server.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	f.Server.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	f.StartTLS()
	tb.Cleanup(f.Close)
	return f
}

func (f *fakeVault) request(path string) (*http.Request, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.requests {
		if r.URL.Path == path {
			return r, f.bodies[i]
		}
	}
	return nil, ""
}

func TestTLSHeadersAndNamespaces(t *testing.T) {
	// None of the controller's VAULT_* environment may leak into a store.
	t.Setenv("VAULT_TOKEN", "env-token")
	t.Setenv("VAULT_NAMESPACE", "env-ns")
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_MAX_RETRIES", "9")

	certPEM, keyPEM, cert := clientCertPEM(t)
	f := newFakeVault(t, cert)
	serverCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})
	kube := newMapKube()
	kube.setSecret("client", "tls.crt", string(certPEM))
	kube.setSecret("client", "tls.key", string(keyPEM))
	kube.configMaps["apps/vault-ca"] = map[string]string{"ca.crt": string(serverCA)}

	store := func(edit func(p *esv1.VaultProvider)) *esv1.SecretStoreSpec {
		p := &esv1.VaultProvider{
			Server: f.URL, Path: ptr("secret"), Namespace: ptr("ns1"),
			CAProvider: &esv1.CAProvider{Type: esv1.CAProviderTypeConfigMap, Name: "vault-ca", Key: "ca.crt"},
			Headers:    map[string]string{"X-Custom": "yes"}, ReadYourWrites: true, ForwardInconsistent: true,
			Auth: &esv1.VaultAuth{Namespace: ptr("admin"), Cert: &esv1.VaultCertAuth{
				VaultRole: "web", ClientCert: ptr(sel("client", "tls.crt")), SecretRef: ptr(sel("client", "tls.key")),
			}},
		}
		if edit != nil {
			edit(p)
		}
		return &esv1.SecretStoreSpec{
			Provider:      &esv1.SecretStoreProvider{Vault: p},
			RetrySettings: &esv1.SecretStoreRetrySettings{MaxRetries: ptr(int32(0))},
		}
	}
	var seen *vaultapi.Config
	p := New().(*provider)
	p.newAPIClient = func(c *vaultapi.Config) (*vaultapi.Client, error) {
		seen = c
		return vaultapi.NewClient(c)
	}
	s := vaultStore(nil)
	s.Spec = store(nil)
	pc, err := p.NewClient(t.Context(), s, kube)
	if err != nil {
		t.Fatal(err)
	}
	if seen.MaxRetries != 0 || !seen.ReadYourWrites || seen.Address != f.URL {
		t.Errorf("vault config: retries %d, read-your-writes %v, address %s", seen.MaxRetries, seen.ReadYourWrites, seen.Address)
	}
	b, err := pc.GetSecret(t.Context(), esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "k"})
	if err != nil || string(b) != "v" {
		t.Fatalf("GetSecret = %q, %v", b, err)
	}
	if err := pc.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	login, body := f.request("/v1/auth/cert/login")
	if login == nil || login.Header.Get("X-Vault-Namespace") != "admin" || login.Header.Get("X-Vault-Token") != "" || !strings.Contains(body, `"name":"web"`) {
		t.Errorf("login: %v, body %s", login, body)
	}
	read, _ := f.request("/v1/secret/data/app")
	if read == nil {
		t.Fatal("no read")
	}
	for h, want := range map[string]string{
		"X-Vault-Namespace": "ns1", "X-Vault-Token": "t-cert", "X-Custom": "yes",
		"X-Vault-Inconsistent": "forward-active-node", "X-Vault-Request": "true",
	} {
		if got := read.Header.Get(h); got != want {
			t.Errorf("read header %s = %q, want %q", h, got, want)
		}
	}
	if revoke, _ := f.request("/v1/auth/token/revoke-self"); revoke == nil || revoke.Header.Get("X-Vault-Namespace") != "admin" || revoke.Header.Get("X-Vault-Token") != "t-cert" {
		t.Errorf("Close did not revoke the token in the auth namespace: %v", revoke)
	}

	t.Run("without the CA the server is not trusted", func(t *testing.T) {
		s := vaultStore(nil)
		s.Spec = store(func(p *esv1.VaultProvider) { p.CAProvider = nil })
		_, err := New().NewClient(t.Context(), s, kube)
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error %v, want a certificate error despite VAULT_SKIP_VERIFY", err)
		}
	})
	t.Run("tls client certificate with token auth", func(t *testing.T) {
		kube.setSecret("vault-token", "token", "t-given")
		s := vaultStore(nil)
		s.Spec = store(func(p *esv1.VaultProvider) {
			p.Auth = &esv1.VaultAuth{TokenSecretRef: ptr(sel("vault-token", "token"))}
			p.ClientTLS = &esv1.VaultClientTLS{CertSecretRef: ptr(sel("client", "")), KeySecretRef: ptr(sel("client", ""))}
		})
		pc, err := New().NewClient(t.Context(), s, kube)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "app"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bad key pair", func(t *testing.T) {
		kube.setSecret("broken", "tls.crt", string(certPEM))
		kube.setSecret("broken", "tls.key", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
		s := vaultStore(nil)
		s.Spec = store(func(p *esv1.VaultProvider) {
			p.Auth.Cert.ClientCert, p.Auth.Cert.SecretRef = ptr(sel("broken", "tls.crt")), ptr(sel("broken", "tls.key"))
		})
		_, err := New().NewClient(t.Context(), s, kube)
		if err == nil || strings.Contains(err.Error(), "not a key") {
			t.Errorf("error %v, want one without the key", err)
		}
	})
}
