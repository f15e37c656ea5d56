package template

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
)

const (
	pemTypeCertificate = "CERTIFICATE"
	pemTypePrivateKey  = "PRIVATE KEY"
	pemTypePublicKey   = "PUBLIC KEY"
)

// filterPEM returns the PEM blocks of input whose type is pemType (case
// insensitive), re-encoded, in order. Text before the first block is
// skipped; input with no block at all but some text is an error.
func filterPEM(pemType, input string) (string, error) {
	if i := strings.Index(input, "-----BEGIN"); i > 0 {
		input = input[i:]
	}
	rest := []byte(input)
	var out []byte
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if strings.EqualFold(block.Type, pemType) {
			out = append(out, pem.EncodeToMemory(block)...)
		}
	}
	if len(out) == 0 && len(rest) != 0 {
		return "", errors.New("filterPEM: input holds no PEM block")
	}
	return string(out), nil
}

// filterCertChain orders the certificates of input from leaf to root and
// returns the "leaf", the "intermediate" ones or the "root" as PEM; ""
// when the chain has no such certificate.
func filterCertChain(certType, input string) (string, error) {
	chain, err := orderChain([]byte(input))
	if err != nil {
		return "", err
	}
	switch certType {
	case "leaf":
		if c := chain[0]; c.AuthorityKeyId != nil && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			return encodeCerts(chain[:1]), nil
		}
	case "intermediate":
		var mid []*x509.Certificate
		for _, c := range chain[1:] {
			if isRoot(c) {
				break
			}
			mid = append(mid, c)
		}
		return encodeCerts(mid), nil
	case "root":
		if c := chain[len(chain)-1]; isRoot(c) {
			return encodeCerts(chain[len(chain)-1:]), nil
		}
	}
	return "", nil
}

func isRoot(c *x509.Certificate) bool {
	return c.AuthorityKeyId == nil || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

// orderChain parses the certificates of a PEM bundle and orders them from
// the leaf (signs nothing else in the bundle) up to the root, linking each
// certificate to the one whose subject key ID is its authority key ID.
func orderChain(data []byte) ([]*x509.Certificate, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, errors.New("certificate chain: a block is not a certificate")
	}
	if len(certs) == 0 {
		return nil, errors.New("certificate chain: no certificate found")
	}
	parent := make([]int, len(certs))
	isParent := make([]bool, len(certs))
	for i := range certs {
		parent[i] = -1
		for j := range certs {
			if i != j && bytes.Equal(certs[i].AuthorityKeyId, certs[j].SubjectKeyId) {
				parent[i] = j
				isParent[j] = true
				break
			}
		}
	}
	leaf := -1
	for i := range certs {
		if !isParent[i] {
			if leaf >= 0 {
				return nil, errors.New("certificate chain: found multiple leaf or disjunct certificates")
			}
			leaf = i
		}
	}
	if leaf < 0 {
		return nil, errors.New("certificate chain: no leaf certificate found")
	}
	var chain []*x509.Certificate
	for i := leaf; i >= 0; i = parent[i] {
		if len(chain) == len(certs) {
			return nil, errors.New("certificate chain: cycle")
		}
		chain = append(chain, certs[i])
	}
	return chain, nil
}

func encodeCerts(certs []*x509.Certificate) string {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: c.Raw})...)
	}
	return string(b)
}

// parsePrivateKey reads a DER private key in PKCS#1, PKCS#8 or SEC 1 form.
func parsePrivateKey(der []byte) (any, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unable to parse private key type")
}

// certSANs returns the Subject Alternative Names of the first
// certificate of input, ESO's function: DNS names, IP addresses, email
// addresses and URIs, in that order. Text before the block is skipped.
func certSANs(input string) ([]string, error) {
	if i := strings.Index(input, "-----BEGIN"); i > 0 {
		input = input[i:]
	}
	block, _, err := decodePEM(input, "certSANs: input")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errors.New("certSANs: the PEM block is not a certificate")
	}
	sans := make([]string, 0, len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses)+len(cert.URIs))
	sans = append(sans, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	return sans, nil
}

// decodePEM returns the first PEM block of s, or an error naming what was
// expected.
func decodePEM(s, what string) (*pem.Block, []byte, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, nil, errors.New(what + " is not PEM")
	}
	return block, rest, nil
}
