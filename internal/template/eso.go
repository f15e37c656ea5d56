package template

import (
	"sync"
	gotemplate "text/template"
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
	}
}
