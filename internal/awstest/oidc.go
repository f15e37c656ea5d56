package awstest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// STSAudience is the audience AWS expects of a web identity token by
// default, and the one IRSA's tokens carry.
const STSAudience = "sts.amazonaws.com"

// maxWebIdentityToken bounds the token AssumeRoleWithWebIdentity takes,
// in bytes, as STS does.
const maxWebIdentityToken = 20000

// OIDCProvider is an IAM OpenID Connect identity provider: whose tokens
// AssumeRoleWithWebIdentity accepts.
type OIDCProvider struct {
	// Issuer is the provider's issuer URL, the iss claim of its tokens.
	Issuer string
	// ClientIDs are the audiences the provider accepts; a token must carry
	// one. Empty means [STSAudience].
	ClientIDs []string
	// Keys are the public keys the provider signs tokens with: its JWKS,
	// such as a Kubernetes API server serves at /openid/v1/jwks.
	Keys jose.JSONWebKeySet
}

// AddOIDCProvider adds (or replaces) the provider for p.Issuer.
func (s *Server) AddOIDCProvider(p OIDCProvider) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(p.ClientIDs) == 0 {
		p.ClientIDs = []string{STSAudience}
	}
	s.oidc[p.Issuer] = &p
}

// Issuer is an OpenID Connect token issuer for tests: an RSA key and an
// issuer URL, standing in for a Kubernetes API server's ServiceAccount
// token issuer.
type Issuer struct {
	url string
	key *rsa.PrivateKey
	kid string
}

// NewIssuer returns an issuer with a fresh 2048-bit RSA key.
func NewIssuer(url string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("awstest: issuer key: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Issuer{url: url, key: key, kid: hex.EncodeToString(id[:])}, nil
}

// URL returns the issuer URL, the iss claim of its tokens.
func (i *Issuer) URL() string { return i.url }

// Provider returns the IAM identity provider that trusts the issuer, to
// pass to [Server.AddOIDCProvider].
func (i *Issuer) Provider() OIDCProvider {
	return OIDCProvider{
		Issuer: i.url,
		Keys: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
			Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: string(jose.RS256), Use: "sig",
		}}},
	}
}

// TokenClaims are the claims of a token an [Issuer] signs.
type TokenClaims struct {
	// Subject is the sub claim, "system:serviceaccount:NS:NAME" for a
	// Kubernetes ServiceAccount.
	Subject string
	// Audience is the aud claim.
	Audience []string
	// Expiry is the exp claim; zero means ten minutes from now.
	Expiry time.Time
	// IssuedAt is the iat and nbf claim; zero means now.
	IssuedAt time.Time
}

// Token signs a token with the claims.
func (i *Issuer) Token(c TokenClaims) (string, error) {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.Expiry.IsZero() {
		c.Expiry = c.IssuedAt.Add(10 * time.Minute)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: i.key, KeyID: i.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("awstest: signer: %w", err)
	}
	return jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:    i.url,
		Subject:   c.Subject,
		Audience:  jwt.Audience(c.Audience),
		Expiry:    jwt.NewNumericDate(c.Expiry),
		IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		NotBefore: jwt.NewNumericDate(c.IssuedAt),
	}).Serialize()
}

// tokenAlgorithms are the signature algorithms accepted in web identity
// tokens: what Kubernetes API servers sign with.
var tokenAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// verifyWebIdentity checks a web identity token as STS does: signed by a
// provider the account trusts, not expired, for an audience the provider
// accepts. Called with s.mu held.
func (s *Server) verifyWebIdentity(raw string) (*jwt.Claims, *apiError) {
	invalid := func(msg string) (*jwt.Claims, *apiError) {
		return nil, newError(http.StatusBadRequest, "InvalidIdentityToken", "%s", msg)
	}
	if len(raw) < 4 || len(raw) > maxWebIdentityToken {
		return invalid("The web identity token must be 4 to 20000 characters long")
	}
	tok, err := jwt.ParseSigned(raw, tokenAlgorithms)
	if err != nil {
		return invalid("The web identity token is not a signed JWT")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return invalid("The web identity token's claims cannot be read")
	}
	p, ok := s.oidc[unverified.Issuer]
	if !ok {
		return invalid(fmt.Sprintf("No OpenIDConnect provider found in your account for %s", unverified.Issuer))
	}
	var claims jwt.Claims
	if err := tok.Claims(p.Keys, &claims); err != nil {
		return invalid("The web identity token's signature does not match a key of its provider")
	}
	now := s.now()
	if claims.Expiry == nil || !now.Before(claims.Expiry.Time()) {
		exp := "never"
		if claims.Expiry != nil {
			exp = claims.Expiry.Time().UTC().Format(time.RFC3339)
		}
		return nil, newError(http.StatusBadRequest, "ExpiredTokenException",
			"Token expired: current date/time %s must be before the expiration date/time %s", now.UTC().Format(time.RFC3339), exp)
	}
	if claims.NotBefore != nil && now.Add(time.Minute).Before(claims.NotBefore.Time()) {
		return invalid("The web identity token is not valid yet")
	}
	if !slices.ContainsFunc(p.ClientIDs, claims.Audience.Contains) {
		return invalid("Incorrect token audience")
	}
	if claims.Subject == "" {
		return invalid("The web identity token has no subject")
	}
	return &claims, nil
}
