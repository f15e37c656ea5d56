package devenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"

	"k8s.io/client-go/rest"
)

// maxJWKS bounds the API server's key set document.
const maxJWKS = 1 << 20 // bytes

// ServiceAccountIssuerPEM returns the public key the API server signs
// ServiceAccount tokens with (RSA, or P-256 as envtest makes it), as a
// PKIX PEM block, read from its OIDC discovery document. Vault's JWT auth
// method takes it as jwt_validation_pubkeys to check such tokens offline.
func (e *Env) ServiceAccountIssuerPEM(ctx context.Context) (string, error) {
	pub, err := issuerKey(ctx, e.Config)
	if err != nil {
		return "", fmt.Errorf("service account issuer key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

func issuerKey(ctx context.Context, cfg *rest.Config) (any, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(cfg.Host, "/")+"/openid/v1/jwks", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: %s", resp.Status)
	}
	var jwks struct {
		Keys []struct{ Kty, Crv, N, E, X, Y string }
	}
	if err := json.Unmarshal(body, &jwks); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(jwks.Keys) == 0 {
		return nil, fmt.Errorf("jwks: no keys")
	}
	k := jwks.Keys[0]
	num := func(s string) (*big.Int, error) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("jwks key: %w", err)
		}
		return new(big.Int).SetBytes(b), nil
	}
	switch {
	case k.Kty == "RSA":
		n, err := num(k.N)
		if err != nil {
			return nil, err
		}
		e, err := num(k.E)
		if err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case k.Kty == "EC" && k.Crv == "P-256":
		x, err := num(k.X)
		if err != nil {
			return nil, err
		}
		y, err := num(k.Y)
		if err != nil {
			return nil, err
		}
		// Uncompressed point: 0x04 || X || Y, each 32 bytes.
		point := append([]byte{4}, append(x.FillBytes(make([]byte, 32)), y.FillBytes(make([]byte, 32))...)...)
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	}
	return nil, fmt.Errorf("jwks key of type %s %s", k.Kty, k.Crv)
}
