package crypto_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
)

func x509MarshalPKCS8(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
