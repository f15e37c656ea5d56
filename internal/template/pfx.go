package template

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"
)

// pkcs12key, pkcs12cert and their Pass forms read PKCS#12 archives from
// provider data, which a tenant can write, with go-pkcs12's DecodeChain.
// That runs each key derivation of the archive as many times as the
// archive says, with no cap: a crafted archive would hold the controller
// for minutes. meterPFX reads the archive first, as far as DecodeChain
// will, and charges the render's budget for every key derivation,
// decryption, bag and private key DecodeChain will get to, before it
// runs; archives over MaxPKCS12Iterations or MaxPKCS12Bags are refused.
//
// The archive is read with encoding/asn1 into the shapes go-pkcs12
// v0.7.4 decodes into, so that each count read here is the count it
// reads; what it would refuse before deriving a key may be refused here
// too. Bags inside an encrypted SafeContents (EncryptedData) cannot be
// seen without decrypting it, and a shrouded key bag in there would have
// an iteration count of its own, so meterPFX decrypts those itself, with
// every password DecodeChain may use, after charging for it; one that
// opens with none is refused, as DecodeChain would fail on it too.
//
// What is counted is an upper bound of what DecodeChain does:
//   - the MAC's derivation, twice for the empty password (DecodeChain
//     tries an empty byte string when its BMPString does not verify);
//   - each EncryptedData's derivation and decryption, once for
//     DecodeChain and once per password meterPFX tries: for the empty
//     password under PKCS#12 PBE, two (under PBES2 both are "");
//   - each shrouded key bag's derivation and decryption, although
//     DecodeChain stops at the second key bag, and the parse of every
//     key bag's key;
//   - every bag in every SafeContents, each a certificate to parse.

// PKCS#12 limits, per archive.
const (
	// MaxPKCS12Iterations is how many key derivation rounds reading one
	// archive may take. A round is one hash (the PKCS#12 derivation of
	// RFC 7292 appendix B.2, for PBE and the classic MAC) or one HMAC
	// (PBKDF2, for PBES2 and PBMAC1) of SHA-1 or SHA-256, and counts
	// twice for SHA-512. Each output block of a derivation runs its
	// iteration count again: a 24-byte 3DES key from 20-byte SHA-1
	// blocks takes two blocks, its IV one more.
	//
	// Archives from OpenSSL 3, Windows and go-pkcs12 (2000 or 2048
	// iterations each for the MAC, the certificates and the key) take
	// about 8,000 rounds here, Java 16+ keystores (10,000 each) about
	// 40,000, and the largest real defaults known, Java 8u301 and
	// 11.0.12 keystores (a SHA-1 MAC of 100,000 iterations, RC2
	// certificates and 3DES keys of 50,000), about 450,000, or 650,000
	// with an empty password. A million rounds leave room above those
	// and take about a quarter of the render budget (a quarter of a
	// second); `openssl pkcs12 -export -iter 1000000`, four million, is
	// refused.
	MaxPKCS12Iterations = 1_000_000
	// MaxPKCS12Bags is how many bags one archive may hold, in all its
	// SafeContents: a key and its chain take a handful, a keystore of
	// every root of a browser's trust store about 150.
	MaxPKCS12Bags = 256
)

// Costs, in steps, measured on the loaded two-core machine (see
// MaxSteps: a step is about a microsecond).
const (
	// pkcs12RoundsPerStep: a SHA-1 or SHA-256 round takes 140 to 220 ns
	// (hash or HMAC), a SHA-512 one 400 to 500 ns (and counts as two).
	pkcs12RoundsPerStep = 4
	// decryptBytesPerStep: 3DES-CBC decrypts about 34 MB/s, RC2 and AES
	// faster.
	decryptBytesPerStep = 16
	// pkcs12BagWeight is a bag: a certificate takes about 10 µs to
	// parse, and pkcs12cert parses each twice and encodes it.
	pkcs12BagWeight = 32
)

// Object identifiers of RFC 7292, 8018 and 9579, as go-pkcs12 names them.
var (
	oidPKCS7Data          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidPKCS7EncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}

	oidPBEWithSHAAnd3KeyTripleDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHAAnd128BitRC2CBC     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidPBEWithSHAAnd40BitRC2CBC      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
	oidPBES2                         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2                        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1                        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidHMACWithSHA1                  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA256                = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA512                = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC                     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC                     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC                     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidSHA1                          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256                        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA512                        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// The ASN.1 shapes go-pkcs12 v0.7.4 decodes an archive into, field for
// field and tag for tag: encoding/asn1 reads the same values from the
// same bytes into them.
type (
	pfxPDU struct {
		Version  int
		AuthSafe pfxContentInfo
		MacData  pfxMacData `asn1:"optional"`
	}
	pfxContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
	}
	pfxMacData struct {
		Mac        pfxDigestInfo
		MacSalt    []byte
		Iterations int `asn1:"optional,default:1"`
	}
	pfxDigestInfo struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	pfxEncryptedData struct {
		Version              int
		EncryptedContentInfo pfxEncryptedContentInfo
	}
	pfxEncryptedContentInfo struct {
		ContentType                asn1.ObjectIdentifier
		ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
		EncryptedContent           []byte `asn1:"tag:0,optional"`
	}
	pfxSafeBag struct {
		ID         asn1.ObjectIdentifier
		Value      asn1.RawValue  `asn1:"tag:0,explicit"`
		Attributes []pfxAttribute `asn1:"set,optional"`
	}
	pfxAttribute struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue `asn1:"set"`
	}
	// pfxEncryptedKey is PKCS#8's EncryptedPrivateKeyInfo, the value of
	// a shrouded key bag.
	pfxEncryptedKey struct {
		AlgorithmIdentifier pkix.AlgorithmIdentifier
		EncryptedData       []byte
	}
	pfxPBEParams struct {
		Salt       []byte
		Iterations int
	}
	pfxPBES2Params struct {
		Kdf              pkix.AlgorithmIdentifier
		EncryptionScheme pkix.AlgorithmIdentifier
	}
	pfxPBKDF2Params struct {
		Salt       asn1.RawValue
		Iterations int
		KeyLength  int                      `asn1:"optional"`
		Prf        pkix.AlgorithmIdentifier `asn1:"optional"`
	}
	pfxPBMAC1Params struct {
		Kdf    pkix.AlgorithmIdentifier
		MacAlg pkix.AlgorithmIdentifier
	}
)

// errPFXDecrypt is deliberately vague, as decryption errors are.
var errPFXDecrypt = errors.New("pkcs12: cannot decrypt: wrong password or corrupt archive")

// Errors about the archive's structure name the part, never its bytes.
func errPFXMalformed(part string) error { return fmt.Errorf("pkcs12: malformed %s", part) }

func errPFXUnsupported(what string) error { return fmt.Errorf("pkcs12: unsupported %s", what) }

// pfxMeter charges a render's budget for reading one archive.
type pfxMeter struct {
	b      *Budget
	rounds int64 // key derivation rounds charged
	bags   int64
}

// meterPFX reads archive as DecodeChain will with password, charges b
// for what DecodeChain will do, and fails if it is over a limit or if
// DecodeChain would fail before deriving a key it has not counted. See
// the top of this file.
func meterPFX(b *Budget, archive []byte, password string) error {
	return (&pfxMeter{b: b}).read(archive, password)
}

// read is meterPFX.
func (m *pfxMeter) read(archive []byte, password string) error {
	passwords, err := pfxPasswords(password)
	if err != nil {
		return err
	}
	var pfx pfxPDU
	if err := unmarshalDER(archive, &pfx); err != nil {
		return errPFXMalformed("PFX")
	}
	if pfx.Version != 3 {
		return errPFXUnsupported("PFX version")
	}
	if !pfx.AuthSafe.ContentType.Equal(oidPKCS7Data) {
		return errPFXUnsupported("AuthenticatedSafe content type")
	}
	var authSafe asn1.RawValue
	if err := unmarshalDER(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return errPFXMalformed("AuthenticatedSafe")
	}
	if len(pfx.MacData.Mac.Algorithm.Algorithm) != 0 {
		rounds, err := macRounds(&pfx.MacData)
		if err != nil {
			return err
		}
		if err := m.derive(rounds * int64(len(passwords))); err != nil {
			return err
		}
	}
	// DecodeChain takes one or two SafeContents; counting them first
	// keeps a long list from being parsed.
	if n, err := sequenceLen(authSafe.Bytes, 2); err != nil || n < 1 || n > 2 {
		return errPFXMalformed("AuthenticatedSafe: want one or two SafeContents")
	}
	var safes []pfxContentInfo
	if err := unmarshalDER(authSafe.Bytes, &safes); err != nil {
		return errPFXMalformed("AuthenticatedSafe")
	}
	var sealed []pfxEncryptedContentInfo
	for _, ci := range safes {
		switch {
		case ci.ContentType.Equal(oidPKCS7Data):
			var data []byte
			if err := unmarshalDER(ci.Content.Bytes, &data); err != nil {
				return errPFXMalformed("SafeContents")
			}
			if err := m.safeContents(data); err != nil {
				return err
			}
		case ci.ContentType.Equal(oidPKCS7EncryptedData):
			var ed pfxEncryptedData
			if err := unmarshalDER(ci.Content.Bytes, &ed); err != nil {
				return errPFXMalformed("EncryptedData")
			}
			if ed.Version != 0 {
				return errPFXUnsupported("EncryptedData version")
			}
			sealed = append(sealed, ed.EncryptedContentInfo)
		default:
			return errPFXUnsupported("SafeContents content type")
		}
	}
	for _, eci := range sealed {
		if err := m.sealedContents(eci, passwords); err != nil {
			return err
		}
	}
	return nil
}

// sealedContents charges decrypting an encrypted SafeContents, decrypts
// it with each password DecodeChain may use and charges what is inside
// each that opens.
func (m *pfxMeter) sealedContents(eci pfxEncryptedContentInfo, passwords [][]byte) error {
	c, err := parseCipher(eci.ContentEncryptionAlgorithm)
	if err != nil {
		return err
	}
	if c.utf8 {
		passwords = passwords[:1] // both forms of the empty password are ""
	}
	runs := int64(1 + len(passwords)) // DecodeChain's and this function's
	if err := m.derive(c.rounds * runs); err != nil {
		return err
	}
	if err := m.decrypt(int64(len(eci.EncryptedContent)) * runs); err != nil {
		return err
	}
	opened := false
	for _, pw := range passwords {
		data, err := c.decrypt(eci.EncryptedContent, pw)
		if err != nil {
			continue
		}
		switch err := m.safeContents(data); {
		case err == nil:
			opened = true
		case errors.Is(err, ErrBudgetExceeded):
			return err
		}
		// Other errors: not what this password opens, or nothing
		// DecodeChain could read with it either.
	}
	if !opened {
		return errPFXDecrypt
	}
	return nil
}

// safeContents charges the bags of a SafeContents: each one, the key
// derivation and decryption of shrouded key bags, the parse of keys.
func (m *pfxMeter) safeContents(der []byte) error {
	n, err := sequenceLen(der, MaxPKCS12Bags)
	if err != nil {
		return errPFXMalformed("SafeContents")
	}
	if err := m.addBags(n); err != nil {
		return err
	}
	var bags []pfxSafeBag
	if err := unmarshalDER(der, &bags); err != nil {
		return errPFXMalformed("SafeContents")
	}
	for _, bag := range bags {
		switch {
		case bag.ID.Equal(oidKeyBag):
			if err := m.key(len(bag.Value.Bytes)); err != nil {
				return err
			}
		case bag.ID.Equal(oidShroudedKeyBag):
			var key pfxEncryptedKey
			if err := unmarshalDER(bag.Value.Bytes, &key); err != nil {
				return errPFXMalformed("shrouded key bag")
			}
			c, err := parseCipher(key.AlgorithmIdentifier)
			if err != nil {
				return err
			}
			if err := m.derive(c.rounds); err != nil {
				return err
			}
			if err := m.decrypt(int64(len(key.EncryptedData))); err != nil {
				return err
			}
			if err := m.key(len(key.EncryptedData)); err != nil {
				return err
			}
		}
	}
	return nil
}

// derive charges n rounds of key derivation.
func (m *pfxMeter) derive(n int64) error {
	if n > MaxPKCS12Iterations-m.rounds {
		return ErrTooManyPKCS12Iterations
	}
	m.rounds += n
	return m.b.step((n + pkcs12RoundsPerStep - 1) / pkcs12RoundsPerStep)
}

// decrypt charges decrypting n bytes.
func (m *pfxMeter) decrypt(n int64) error {
	return m.b.step(1 + n/decryptBytesPerStep)
}

// addBags charges n bags.
func (m *pfxMeter) addBags(n int) error {
	if int64(n) > MaxPKCS12Bags-m.bags {
		return ErrTooManyPKCS12Bags
	}
	m.bags += int64(n)
	return m.b.step(int64(n) * pkcs12BagWeight)
}

// key charges parsing a private key of about n bytes, which may be an
// RSA key of any size (rsaKeyWeight).
func (m *pfxMeter) key(n int) error {
	return m.b.step(rsaKeyWeight(int64(n)))
}

// macRounds returns the rounds of deriving the MAC key.
func macRounds(md *pfxMacData) (int64, error) {
	alg := md.Mac.Algorithm
	if alg.Algorithm.Equal(oidPBMAC1) {
		// RFC 9579: all parameters are PBMAC1's; MacSalt and Iterations
		// are not used.
		var p pfxPBMAC1Params
		if err := unmarshalDER(alg.Parameters.FullBytes, &p); err != nil {
			return 0, errPFXMalformed("PBMAC1 parameters")
		}
		if !p.Kdf.Algorithm.Equal(oidPBKDF2) {
			return 0, errPFXUnsupported("PBMAC1 key derivation")
		}
		var kp pfxPBKDF2Params
		if err := unmarshalDER(p.Kdf.Parameters.FullBytes, &kp); err != nil {
			return 0, errPFXMalformed("PBKDF2 parameters")
		}
		prf, err := pbkdf2PRF(kp.Prf.Algorithm)
		if err != nil {
			return 0, err
		}
		// go-pkcs12 refuses other key lengths before deriving.
		if kp.KeyLength < 20 || kp.KeyLength > 64 {
			return 0, errPFXUnsupported("PBMAC1 key length")
		}
		it, err := iterations(kp.Iterations)
		if err != nil {
			return 0, err
		}
		return it * prf.rounds(kp.KeyLength), nil
	}
	// The classic MAC key is one output block of the PKCS#12 derivation
	// with the MAC's own hash.
	var weight int64
	switch {
	case alg.Algorithm.Equal(oidSHA1), alg.Algorithm.Equal(oidSHA256):
		weight = 1
	case alg.Algorithm.Equal(oidSHA512):
		weight = 2
	default:
		return 0, errPFXUnsupported("MAC algorithm")
	}
	it, err := iterations(md.Iterations)
	if err != nil {
		return 0, err
	}
	return it * weight, nil
}

// iterations checks an iteration count (RFC 8018 and 7292 ask for 1 or
// more) and caps it just above MaxPKCS12Iterations, so that the counts
// multiplied by it cannot overflow and still refuse it.
func iterations(n int) (int64, error) {
	if n < 1 {
		return 0, errPFXMalformed("iteration count")
	}
	return int64(min(n, MaxPKCS12Iterations+1)), nil
}

// pfxHash is a hash a derivation runs.
type pfxHash struct {
	new    func() hash.Hash
	size   int   // bytes of output
	weight int64 // rounds one run counts as
}

// rounds returns the rounds per iteration of deriving n bytes: PBKDF2
// runs its iterations once per output block.
func (h pfxHash) rounds(n int) int64 {
	return int64((n+h.size-1)/h.size) * h.weight
}

// pbkdf2PRF returns the hash of a PBKDF2 PRF; HMAC-SHA-1 when absent.
func pbkdf2PRF(oid asn1.ObjectIdentifier) (pfxHash, error) {
	switch {
	case len(oid) == 0, oid.Equal(oidHMACWithSHA1):
		return pfxHash{sha1.New, sha1.Size, 1}, nil
	case oid.Equal(oidHMACWithSHA256):
		return pfxHash{sha256.New, sha256.Size, 1}, nil
	case oid.Equal(oidHMACWithSHA512):
		return pfxHash{sha512.New, sha512.Size, 2}, nil
	}
	return pfxHash{}, errPFXUnsupported("PBKDF2 PRF")
}

// pfxCipher is a password-based encryption scheme read from an
// AlgorithmIdentifier.
type pfxCipher struct {
	rounds  int64 // key derivation rounds of one decryption
	utf8    bool  // PBES2: the password is UTF-8, not a BMPString
	decrypt func(ciphertext, password []byte) ([]byte, error)
}

// parseCipher reads the schemes go-pkcs12 decrypts: PKCS#12 PBE with
// SHA-1 and 3DES or RC2, and PBES2 with PBKDF2 and AES-CBC.
func parseCipher(alg pkix.AlgorithmIdentifier) (pfxCipher, error) {
	var keyLen int
	var newBlock func(key []byte) (cipher.Block, error)
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		return parsePBES2(alg.Parameters.FullBytes)
	case alg.Algorithm.Equal(oidPBEWithSHAAnd3KeyTripleDESCBC):
		keyLen, newBlock = 24, des.NewTripleDESCipher
	case alg.Algorithm.Equal(oidPBEWithSHAAnd128BitRC2CBC):
		keyLen, newBlock = 16, newRC2Block
	case alg.Algorithm.Equal(oidPBEWithSHAAnd40BitRC2CBC):
		keyLen, newBlock = 5, newRC2Block
	default:
		return pfxCipher{}, errPFXUnsupported("encryption algorithm")
	}
	var p pfxPBEParams
	if err := unmarshalDER(alg.Parameters.FullBytes, &p); err != nil {
		return pfxCipher{}, errPFXMalformed("PBE parameters")
	}
	it, err := iterations(p.Iterations)
	if err != nil {
		return pfxCipher{}, err
	}
	// The key and the IV each take a derivation of whole SHA-1 blocks.
	sha := pfxHash{sha1.New, sha1.Size, 1}
	return pfxCipher{
		rounds: it * (sha.rounds(keyLen) + sha.rounds(rc2BlockSize)),
		decrypt: func(ciphertext, password []byte) ([]byte, error) {
			key := pkcs12KDF(p.Salt, password, p.Iterations, 1, keyLen)
			iv := pkcs12KDF(p.Salt, password, p.Iterations, 2, rc2BlockSize) // DES's block size too
			block, err := newBlock(key)
			if err != nil {
				return nil, errPFXDecrypt
			}
			return cbcDecrypt(block, iv, ciphertext)
		},
	}, nil
}

func newRC2Block(key []byte) (cipher.Block, error) { return newRC2(key, 8*len(key)), nil }

func parsePBES2(params []byte) (pfxCipher, error) {
	var p pfxPBES2Params
	if err := unmarshalDER(params, &p); err != nil {
		return pfxCipher{}, errPFXMalformed("PBES2 parameters")
	}
	if !p.Kdf.Algorithm.Equal(oidPBKDF2) {
		return pfxCipher{}, errPFXUnsupported("PBES2 key derivation")
	}
	var kp pfxPBKDF2Params
	if err := unmarshalDER(p.Kdf.Parameters.FullBytes, &kp); err != nil {
		return pfxCipher{}, errPFXMalformed("PBKDF2 parameters")
	}
	if kp.Salt.Tag != asn1.TagOctetString {
		return pfxCipher{}, errPFXUnsupported("PBKDF2 salt")
	}
	prf, err := pbkdf2PRF(kp.Prf.Algorithm)
	if err != nil {
		return pfxCipher{}, err
	}
	var keyLen int
	switch enc := p.EncryptionScheme.Algorithm; {
	case enc.Equal(oidAES128CBC):
		keyLen = 16
	case enc.Equal(oidAES192CBC):
		keyLen = 24
	case enc.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return pfxCipher{}, errPFXUnsupported("PBES2 encryption scheme")
	}
	it, err := iterations(kp.Iterations)
	if err != nil {
		return pfxCipher{}, err
	}
	return pfxCipher{
		rounds: it * prf.rounds(keyLen),
		utf8:   true,
		decrypt: func(ciphertext, password []byte) ([]byte, error) {
			key, err := pbkdf2.Key(prf.new, bmpToUTF8(password), kp.Salt.Bytes, kp.Iterations, keyLen)
			if err != nil {
				return nil, errPFXDecrypt
			}
			block, err := aes.NewCipher(key)
			if err != nil {
				return nil, errPFXDecrypt
			}
			return cbcDecrypt(block, p.EncryptionScheme.Parameters.Bytes, ciphertext)
		},
	}, nil
}

// cbcDecrypt decrypts CBC with PKCS#7 padding, checked as go-pkcs12
// checks it.
func cbcDecrypt(block cipher.Block, iv, ciphertext []byte) ([]byte, error) {
	size := block.BlockSize()
	if len(iv) != size || len(ciphertext) == 0 || len(ciphertext)%size != 0 {
		return nil, errPFXDecrypt
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ciphertext)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > size {
		return nil, errPFXDecrypt
	}
	for _, c := range out[len(out)-pad:] {
		if int(c) != pad {
			return nil, errPFXDecrypt
		}
	}
	return out[:len(out)-pad], nil
}

// pkcs12KDF derives size bytes with SHA-1 as RFC 7292 appendix B.2 says
// and go-pkcs12 does: id 1 for a key, 2 for an IV, 3 for a MAC key.
func pkcs12KDF(salt, password []byte, iterations int, id byte, size int) []byte {
	const u, v = sha1.Size, 64 // output and input block sizes
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fillBlocks(salt, v), fillBlocks(password, v)...)
	out := make([]byte, 0, size+u)
	for {
		a := sha1.Sum(append(d[:v:v], in...))
		for range iterations - 1 {
			a = sha1.Sum(a[:])
		}
		if out = append(out, a[:]...); len(out) >= size {
			return out[:size]
		}
		// Each v-byte block of in becomes (block + B + 1) mod 2^(8v),
		// where B is a repeated to v bytes.
		var b [v]byte
		for i := range b {
			b[i] = a[i%u]
		}
		for j := 0; j < len(in); j += v {
			carry := 1
			for i := v - 1; i >= 0; i-- {
				s := int(in[j+i]) + int(b[i]) + carry
				in[j+i], carry = byte(s), s>>8
			}
		}
	}
}

// fillBlocks repeats p to a whole number of v-byte blocks: none for an
// empty p.
func fillBlocks(p []byte, v int) []byte {
	if len(p) == 0 {
		return nil
	}
	out := make([]byte, (len(p)+v-1)/v*v)
	for i := 0; i < len(out); i += len(p) {
		copy(out[i:], p)
	}
	return out
}

// pfxPasswords returns the forms of password DecodeChain may decrypt
// with: its BMPString with a terminator, and for the empty password an
// empty byte string too. Like go-pkcs12, it refuses a password outside
// the Basic Multilingual Plane.
func pfxPasswords(password string) ([][]byte, error) {
	bmp := make([]byte, 0, 2*len(password)+2)
	for _, r := range password {
		if r >= 0x10000 && r <= 0x10ffff {
			return nil, errors.New("pkcs12: password has characters outside the Basic Multilingual Plane")
		}
		bmp = append(bmp, byte(r>>8), byte(r))
	}
	bmp = append(bmp, 0, 0)
	if password == "" {
		return [][]byte{bmp, nil}, nil
	}
	return [][]byte{bmp}, nil
}

// bmpToUTF8 returns a terminated BMPString as UTF-8, which PBES2 takes
// (RFC 8018 section 3), as go-pkcs12 converts it.
func bmpToUTF8(bmp []byte) string {
	if n := len(bmp); n >= 2 && bmp[n-1] == 0 && bmp[n-2] == 0 {
		bmp = bmp[:n-2]
	}
	s := make([]uint16, len(bmp)/2)
	for i := range s {
		s[i] = uint16(bmp[2*i])<<8 | uint16(bmp[2*i+1])
	}
	return string(utf16.Decode(s))
}

// unmarshalDER is asn1.Unmarshal refusing trailing data, as go-pkcs12's
// unmarshal.
func unmarshalDER(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("asn1: trailing data")
	}
	return nil
}

// sequenceLen counts the elements of the DER SEQUENCE der, reading at
// most limit+1 of them: a count above limit means "more than limit",
// however many follow.
func sequenceLen(der []byte, limit int) (int, error) {
	var seq asn1.RawValue
	if err := unmarshalDER(der, &seq); err != nil {
		return 0, err
	}
	rest := seq.Bytes
	n := 0
	for len(rest) > 0 && n <= limit {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
