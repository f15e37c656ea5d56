package template

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// pkcs12keyPass returns the private key of a PKCS#12 archive (raw bytes,
// not base64) as a PKCS#8 PEM block.
func pkcs12keyPass(pass, input string) (string, error) {
	key, _, _, err := gopkcs12.DecodeChain([]byte(input), pass)
	if err != nil {
		return "", fmt.Errorf("unable to decode pkcs12 with password: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der})), nil
}

func pkcs12key(input string) (string, error) { return pkcs12keyPass("", input) }

// pkcs12certPass returns the certificate and CA certificates of a PKCS#12
// archive as PEM, ordered leaf to root when they form one chain and in
// archive order otherwise.
func pkcs12certPass(pass, input string) (string, error) {
	_, cert, cas, err := gopkcs12.DecodeChain([]byte(input), pass)
	if err != nil {
		return "", fmt.Errorf("unable to decode pkcs12 certificate with password: %w", err)
	}
	all := encodeCerts(append([]*x509.Certificate{cert}, cas...))
	ordered, err := orderChain([]byte(all))
	if err != nil {
		return all, nil
	}
	return encodeCerts(ordered), nil
}

func pkcs12cert(input string) (string, error) { return pkcs12certPass("", input) }

// pemToPkcs12Pass builds a PKCS#12 archive from a PEM certificate (the
// first block of cert) and a PEM private key, base64-encoded.
func pemToPkcs12Pass(cert, key, pass string) (string, error) {
	block, _, err := decodePEM(cert, "certificate")
	if err != nil {
		return "", err
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	return certsKeyToPkcs12(c, key, nil, pass)
}

func pemToPkcs12(cert, key string) (string, error) { return pemToPkcs12Pass(cert, key, "") }

// fullPemToPkcs12Pass is pemToPkcs12Pass keeping the certificates after
// the first as the archive's CA certificates.
func fullPemToPkcs12Pass(cert, key, pass string) (string, error) {
	block, rest, err := decodePEM(cert, "certificate")
	if err != nil {
		return "", err
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	cas, err := parseCerts(rest)
	if err != nil {
		return "", err
	}
	return certsKeyToPkcs12(c, key, cas, pass)
}

func fullPemToPkcs12(cert, key string) (string, error) { return fullPemToPkcs12Pass(cert, key, "") }

// pemTruststoreToPKCS12Pass builds a PKCS#12 trust store from PEM
// certificates, base64-encoded.
func pemTruststoreToPKCS12Pass(cert, pass string) (string, error) {
	cas, err := parseCerts([]byte(cert))
	if err != nil {
		return "", err
	}
	pfx, err := gopkcs12.Modern.EncodeTrustStore(cas, pass)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

func pemTruststoreToPKCS12(cert string) (string, error) { return pemTruststoreToPKCS12Pass(cert, "") }

func certsKeyToPkcs12(cert *x509.Certificate, key string, cas []*x509.Certificate, pass string) (string, error) {
	block, _, err := decodePEM(key, "private key")
	if err != nil {
		return "", err
	}
	k, err := parsePrivateKey(block.Bytes)
	if err != nil {
		return "", err
	}
	pfx, err := gopkcs12.Modern.Encode(k, cert, cas, pass)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

// parseCerts parses every PEM block of data as a certificate; trailing
// text after the last block is ignored.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 && len(data) != 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}
