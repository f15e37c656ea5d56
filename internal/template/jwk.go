package template

import (
	"crypto/x509"
	"encoding/pem"
	"errors"

	jose "github.com/go-jose/go-jose/v4"
)

// jwkPublicKeyPem returns the public key of a JSON Web Key (RSA, EC or
// OKP) as a PKIX PEM block. A private JWK gives its public half.
func jwkPublicKeyPem(jwk string) (string, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(jwk)); err != nil {
		return "", errors.New("jwkPublicKeyPem: not a valid JSON Web Key")
	}
	pub := k.Public()
	if pub.Key == nil {
		return "", errors.New("jwkPublicKeyPem: key has no public part")
	}
	der, err := x509.MarshalPKIXPublicKey(pub.Key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: pemTypePublicKey, Bytes: der})), nil
}

// jwkPrivateKeyPem returns the private key of a JSON Web Key as a PKCS#8
// PEM block.
func jwkPrivateKeyPem(jwk string) (string, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(jwk)); err != nil {
		return "", errors.New("jwkPrivateKeyPem: not a valid JSON Web Key")
	}
	if k.IsPublic() {
		return "", errors.New("jwkPrivateKeyPem: key is public")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der})), nil
}
