package template

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	gotemplate "text/template"

	"golang.org/x/crypto/bcrypt"
)

// ESO is the engine of ExternalSecret templates (target.template and the
// rewrite transform): ESO's template engine v2, which is the safe Sprig
// functions plus ESO's own:
//
//   - toYaml, fromYaml: as ESO has them (fromYaml puts a parse error under
//     the key "Error" instead of failing). toJson, fromJson and the rest of
//     the JSON family are Sprig's, as in ESO.
//   - filterPEM, filterCertChain: pick PEM blocks by type, or the leaf,
//     intermediates or root of a certificate chain.
//   - pkcs12key, pkcs12keyPass, pkcs12cert, pkcs12certPass: read a PKCS#12
//     (PFX) archive given as raw bytes into PEM, within the limits of
//     [MaxPKCS12Iterations] and [MaxPKCS12Bags].
//   - pemToPkcs12, pemToPkcs12Pass, fullPemToPkcs12, fullPemToPkcs12Pass,
//     pemTruststoreToPKCS12, pemTruststoreToPKCS12Pass: build one, base64.
//   - jwkPublicKeyPem, jwkPrivateKeyPem: a JSON Web Key as PEM.
//   - rsaDecrypt: RSA-OAEP decryption with a PEM private key from the data.
//   - certSANs: the Subject Alternative Names of a PEM certificate.
//   - hexdec: hexadecimal to bytes; on bad input, the error's text as the
//     value, as ESO has it.
//   - htpasswd with ESO's signature (user, password, hash type): "sha"
//     gives {SHA} lines, anything else bcrypt. Sprig's takes no hash type,
//     and SealedSecret templates keep that one.
//
// And two of sealsync's own, which ESO does not have, for the Argo CD
// plugin's reference mode (an argocd-vault-plugin Secret turned into an
// ExternalSecret, issue #14):
//
//   - avp SECRET EXPR: SECRET is a secret read whole, a JSON object of
//     fields; EXPR is the text of a generic placeholder, a key and then
//     "| modifier" steps (base64encode, base64decode, jsonParse,
//     yamlParse, jsonPath, indent, sha256sum). The field's value through
//     the modifiers, written as argocd-vault-plugin writes it into a
//     Secret (package avp: byte for byte what the plugin's resolve mode
//     writes). A missing or null field is an error naming the key. EXPR
//     must be a quoted string in the template, as errors quote it.
//   - avpHas SECRET KEY: whether SECRET has a field KEY that is not null
//     (argocd-vault-plugin takes null for missing).
//
// ESO's getSecretKey is deliberately absent: it read Secrets of any
// namespace (CVE-2026-22822). So are env, expandenv and getHostByName
// (CVE-2026-34984, DNS exfiltration). Nothing here does I/O.
//
// Like ESO's, the engine fails on a reference to a key the data does not
// hold (missingkey=error) instead of rendering "<no value>".
var ESO = sync.OnceValue(func() *Engine {
	e, err := New(esoFuncs())
	if err != nil {
		panic(err)
	}
	return e.Option("missingkey=error")
})

func esoFuncs() gotemplate.FuncMap {
	return gotemplate.FuncMap{
		"toYaml":   toYAML,
		"fromYaml": fromYAML,

		"filterPEM":       filterPEM,
		"filterCertChain": filterCertChain,

		"pkcs12key":      pkcs12key,
		"pkcs12keyPass":  pkcs12keyPass,
		"pkcs12cert":     pkcs12cert,
		"pkcs12certPass": pkcs12certPass,

		"pemToPkcs12":               pemToPkcs12,
		"pemToPkcs12Pass":           pemToPkcs12Pass,
		"fullPemToPkcs12":           fullPemToPkcs12,
		"fullPemToPkcs12Pass":       fullPemToPkcs12Pass,
		"pemTruststoreToPKCS12":     pemTruststoreToPKCS12,
		"pemTruststoreToPKCS12Pass": pemTruststoreToPKCS12Pass,

		"jwkPublicKeyPem":  jwkPublicKeyPem,
		"jwkPrivateKeyPem": jwkPrivateKeyPem,

		"rsaDecrypt": rsaDecrypt,

		"certSANs": certSANs,
		"hexdec":   hexdec,
		"htpasswd": htpasswd,

		"avp":    avpFunc,
		"avpHas": avpHas,
	}
}

// hexdec decodes hexadecimal, as ESO's: the error's text stands for the
// value when s is not hexadecimal, so a template cannot tell.
func hexdec(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// htpasswd is ESO's: an htpasswd line for user and password, hashed with
// SHA-1 ({SHA}) when algorithm is "sha", else with bcrypt at its default
// cost. A user name holding ":" gives an error line instead, as in ESO.
func htpasswd(user, password, algorithm string) string {
	if strings.Contains(user, ":") {
		return fmt.Sprintf("invalid username: %s", user)
	}
	if algorithm == "sha" {
		sum := sha1.Sum([]byte(password))
		return fmt.Sprintf("%s:{SHA}%s", user, base64.StdEncoding.EncodeToString(sum[:]))
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		// Sprig's bcrypt hides the error the same way; it happens only for
		// passwords over 72 bytes.
		return fmt.Sprintf("failed to encrypt string with bcrypt: %s", err)
	}
	return fmt.Sprintf("%s:%s", user, h)
}
