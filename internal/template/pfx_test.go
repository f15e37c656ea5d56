package template

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Every archive here stands for provider data: whoever can write the
// Vault path an ExternalSecret reads (a tenant) chooses each of its
// bytes, and the password too when the template takes it from the data.

// pfxCase is an archive and what meterPFX should count in it.
type pfxCase struct {
	name     string
	archive  []byte
	password string
	rounds   int64 // key derivation rounds
	bags     int64
}

// realArchives are archives as OpenSSL 3 (testdata/pkcs12, made by
// generate.sh) and go-pkcs12's encoders write them, each a leaf key with
// a chain of three certificates, with the rounds meterPFX counts: the
// MAC (twice for the empty password), the encrypted certificates (once
// for DecodeChain and once per password meterPFX decrypts with) and
// the shrouded key.
func realArchives(t testing.TB) (cases []pfxCase, key any, chain []*x509.Certificate) {
	t.Helper()
	dir := filepath.Join("testdata", "pkcs12")
	for _, c := range []pfxCase{
		{name: "openssl-default", password: "s3cret", rounds: 2048 + 2*2048 + 2048},
		{name: "openssl-empty-password", rounds: 2*2048 + 2*2048 + 2048},
		{name: "openssl-legacy", password: "s3cret", rounds: 2048 + 2*2*2048 + 3*2048},
		{name: "openssl-legacy-empty-password", rounds: 2*2048 + 3*2*2048 + 3*2048},
		{name: "openssl-3des", password: "s3cret", rounds: 2048 + 2*3*2048 + 3*2048},
		{name: "openssl-rc2-128", password: "s3cret", rounds: 2048 + 2*2*2048 + 3*2048},
		{name: "openssl-aes128-sha512mac", password: "s3cret", rounds: 2*2048 + 2*2048 + 2048},
		{name: "openssl-unencrypted", rounds: 0},
		{name: "openssl-iter100000", password: "s3cret", rounds: 100_000 + 2*100_000 + 100_000},
	} {
		c.archive = readFile(t, filepath.Join(dir, c.name+".p12"))
		c.bags = 4
		cases = append(cases, c)
	}
	block, _ := pem.Decode(readFile(t, filepath.Join(dir, "leaf.key")))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	chain, err = parseCerts(readFile(t, filepath.Join(dir, "chain.pem")))
	if err != nil || len(chain) != 3 {
		t.Fatalf("chain.pem: %d certificates, %v", len(chain), err)
	}
	return cases, key, chain
}

// goArchives are realArchives' chain and key as go-pkcs12's encoders
// write them.
func goArchives(t testing.TB, key any, chain []*x509.Certificate) []pfxCase {
	t.Helper()
	var cases []pfxCase
	for _, c := range []struct {
		name     string
		enc      *gopkcs12.Encoder
		password string
		rounds   int64
	}{
		{"go-pkcs12 Modern2023", gopkcs12.Modern2023, "s3cret", 2048 + 2*2048 + 2048},
		{"go-pkcs12 Modern2023 empty password", gopkcs12.Modern2023, "", 2*2048 + 2*2048 + 2048},
		{"go-pkcs12 Modern2026 (PBMAC1)", gopkcs12.Modern2026, "s3cret", 2048 + 2*2048 + 2048},
		// LegacyDES and LegacyRC2 run their MAC key derivation once.
		{"go-pkcs12 LegacyDES", gopkcs12.LegacyDES, "s3cret", 1 + 2*3*2048 + 3*2048},
		{"go-pkcs12 LegacyRC2", gopkcs12.LegacyRC2, "s3cret", 1 + 2*2*2048 + 3*2048},
		{"go-pkcs12 LegacyRC2 empty password", gopkcs12.LegacyRC2, "", 2 + 3*2*2048 + 3*2048},
		{"go-pkcs12 Passwordless", gopkcs12.Passwordless, "", 0},
		// Java 8u301 writes RC2 and 3DES at 50,000 iterations and its
		// MAC at 100,000; go-pkcs12 sets one count for all.
		{"go-pkcs12 LegacyRC2 at 50000 iterations", gopkcs12.LegacyRC2.WithIterations(50_000), "s3cret", 50_000 + 2*2*50_000 + 3*50_000},
	} {
		archive, err := c.enc.Encode(key, chain[0], chain[1:], c.password)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cases = append(cases, pfxCase{name: c.name, archive: archive, password: c.password, rounds: c.rounds, bags: 4})
	}
	return cases
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// renderPKCS12 runs fn (pkcs12key or pkcs12cert, or their Pass form
// when password is set) over archive through the ESO engine.
func renderPKCS12(b *Budget, fn string, archive []byte, password string) (string, error) {
	data := map[string]string{"p12": string(archive), "pass": password}
	text := `{{ .p12 | ` + fn + ` }}`
	if password != "" {
		text = `{{ .p12 | ` + fn + `Pass .pass }}`
	}
	out, err := ESO().Execute(b, "k", text, data)
	return string(out), err
}

// TestPKCS12RealArchivesDecode: archives as OpenSSL and go-pkcs12 write
// them (provider data) are metered as counted and decode as they did
// before the meter: pkcs12key and pkcs12cert through the engine return
// what the functions alone return, and the archive's key and chain.
func TestPKCS12RealArchivesDecode(t *testing.T) {
	cases, key, chain := realArchives(t)
	cases = append(cases, goArchives(t, key, chain)...)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	wantKey := string(pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der}))
	wantChain := encodeCerts(chain)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			m := &pfxMeter{b: NewBudget()}
			if err := m.read(tt.archive, tt.password); err != nil {
				t.Fatalf("meter: %v", err)
			}
			if m.rounds != tt.rounds || m.bags != tt.bags {
				t.Errorf("meter counted %d rounds and %d bags, want %d and %d", m.rounds, m.bags, tt.rounds, tt.bags)
			}
			for _, fn := range []struct {
				name  string
				plain func(pass, input string) (string, error)
				want  string
			}{{"pkcs12key", pkcs12keyPass, wantKey}, {"pkcs12cert", pkcs12certPass, wantChain}} {
				before, err := fn.plain(tt.password, string(tt.archive))
				if err != nil {
					t.Fatalf("%s without the meter: %v", fn.name, err)
				}
				b := NewBudget()
				got, err := renderPKCS12(b, fn.name, tt.archive, tt.password)
				if err != nil {
					t.Fatalf("%s: %v", fn.name, err)
				}
				if got != before || got != fn.want {
					t.Errorf("%s = %q\nwithout the meter %q\nwant %q", fn.name, got, before, fn.want)
				}
				if b.Steps() < m.b.Steps() {
					t.Errorf("%s took %d steps, fewer than the meter's %d", fn.name, b.Steps(), m.b.Steps())
				}
			}
		})
	}
}

// Crafted archives are built by hand: an encoder would run the
// derivations they ask for.

func mustDER(t testing.TB, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rawDER is v as an asn1.RawValue, for parameters and explicit values.
func rawDER(t testing.TB, v any) asn1.RawValue { return asn1.RawValue{FullBytes: mustDER(t, v)} }

// explicit0 wraps der in an [0] EXPLICIT tag, as go-pkcs12 writes it.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

var (
	testSalt = []byte("SECRETSALT-12345")
	testIV   = make([]byte, aes.BlockSize)
)

// algPBES2 is PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC, as OpenSSL 3
// writes it.
func algPBES2(t testing.TB, iterations int) pkix.AlgorithmIdentifier {
	kdf := pfxPBKDF2Params{
		Salt: rawDER(t, testSalt), Iterations: iterations,
		Prf: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
	}
	params := pfxPBES2Params{
		Kdf:              pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: rawDER(t, kdf)},
		EncryptionScheme: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: rawDER(t, testIV)},
	}
	return pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: rawDER(t, params)}
}

// algPBE is a PKCS#12 PBE scheme (oid) with SHA-1.
func algPBE(t testing.TB, oid asn1.ObjectIdentifier, iterations int) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: rawDER(t, pfxPBEParams{Salt: testSalt, Iterations: iterations})}
}

// shroudedBag is a shrouded key bag encrypted with alg; its ciphertext
// is junk, as DecodeChain derives the key before it looks at it.
func shroudedBag(t testing.TB, alg pkix.AlgorithmIdentifier) pfxSafeBag {
	key := pfxEncryptedKey{AlgorithmIdentifier: alg, EncryptedData: make([]byte, 48)}
	return pfxSafeBag{ID: oidShroudedKeyBag, Value: explicit0(mustDER(t, key))}
}

func certBag(t testing.TB, der []byte) pfxSafeBag {
	type bag struct {
		ID   asn1.ObjectIdentifier
		Data []byte `asn1:"tag:0,explicit"`
	}
	x509Type := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	return pfxSafeBag{ID: oidCertBag, Value: explicit0(mustDER(t, bag{x509Type, der}))}
}

func certBags(t testing.TB, n int) []pfxSafeBag {
	bags := make([]pfxSafeBag, n)
	for i := range bags {
		bags[i] = certBag(t, []byte("not a certificate"))
	}
	return bags
}

// dataSafe is a SafeContents in the clear.
func dataSafe(t testing.TB, bags ...pfxSafeBag) pfxContentInfo {
	return pfxContentInfo{ContentType: oidPKCS7Data, Content: explicit0(mustDER(t, mustDER(t, bags)))}
}

// encryptedSafe is a SafeContents encrypted under password with PBES2 at
// one iteration: what DecodeChain, and meterPFX, decrypt to read it.
func encryptedSafe(t testing.TB, password string, bags ...pfxSafeBag) pfxContentInfo {
	return encryptedBytes(t, password, mustDER(t, bags))
}

// encryptedBytes is an EncryptedData of plain.
func encryptedBytes(t testing.TB, password string, plain []byte) pfxContentInfo {
	t.Helper()
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	key, err := pbkdf2.Key(sha256.New, password, testSalt, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ciphertext := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, testIV).CryptBlocks(ciphertext, plain)
	ed := pfxEncryptedData{EncryptedContentInfo: pfxEncryptedContentInfo{
		ContentType: oidPKCS7Data, ContentEncryptionAlgorithm: algPBES2(t, 1), EncryptedContent: ciphertext,
	}}
	return pfxContentInfo{ContentType: oidPKCS7EncryptedData, Content: explicit0(mustDER(t, ed))}
}

// buildPFX is a PFX of safes, with the MAC mac returns for the
// AuthenticatedSafe (none for a nil mac).
func buildPFX(t testing.TB, mac func(authSafe []byte) pfxMacData, safes ...pfxContentInfo) []byte {
	authSafe := mustDER(t, safes)
	pfx := pfxPDU{Version: 3, AuthSafe: pfxContentInfo{ContentType: oidPKCS7Data, Content: explicit0(mustDER(t, authSafe))}}
	if mac != nil {
		pfx.MacData = mac(authSafe)
	}
	return mustDER(t, pfx)
}

// classicMAC is a MAC of the PKCS#12 derivation with hash at iterations;
// its digest is junk, as DecodeChain derives the key first.
func classicMAC(hash asn1.ObjectIdentifier, iterations int) func([]byte) pfxMacData {
	return func([]byte) pfxMacData {
		return pfxMacData{
			Mac:     pfxDigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: hash, Parameters: asn1.NullRawValue}, Digest: make([]byte, 32)},
			MacSalt: testSalt, Iterations: iterations,
		}
	}
}

// pbmac1 is a PBMAC1 MAC (RFC 9579) with PBKDF2-HMAC-SHA-256 at
// iterations, valid under password when iterations is small enough to
// compute.
func pbmac1(t testing.TB, password string, iterations, keyLength int) func([]byte) pfxMacData {
	return func(authSafe []byte) pfxMacData {
		kdf := pfxPBKDF2Params{
			Salt: rawDER(t, testSalt), Iterations: iterations, KeyLength: keyLength,
			Prf: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
		}
		params := pfxPBMAC1Params{
			Kdf:    pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: rawDER(t, kdf)},
			MacAlg: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
		}
		digest := make([]byte, 32)
		if iterations <= 1000 && keyLength > 0 {
			key, err := pbkdf2.Key(sha256.New, password, testSalt, iterations, keyLength)
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(sha256.New, key)
			mac.Write(authSafe)
			digest = mac.Sum(nil)
		}
		return pfxMacData{
			Mac:     pfxDigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidPBMAC1, Parameters: rawDER(t, params)}, Digest: digest},
			MacSalt: testSalt, Iterations: 1,
		}
	}
}

// costlyArchives are crafted to hold DecodeChain for minutes (a billion
// rounds is three minutes here) or to make it parse many bags.
func costlyArchives(t testing.TB) []struct {
	name     string
	archive  []byte
	password string
	want     error
} {
	const huge = 1 << 30
	cert := certBag(t, []byte("not a certificate"))
	return []struct {
		name     string
		archive  []byte
		password string
		want     error
	}{
		{"tenant archive: huge SHA-256 MAC iteration count", buildPFX(t, classicMAC(oidSHA256, huge), dataSafe(t, cert)), "hunter2", ErrTooManyPKCS12Iterations},
		{"tenant archive: huge SHA-1 MAC iteration count, empty password", buildPFX(t, classicMAC(oidSHA1, huge), dataSafe(t, cert)), "", ErrTooManyPKCS12Iterations},
		{"tenant archive: largest MAC iteration count", buildPFX(t, classicMAC(oidSHA1, math.MaxInt64), dataSafe(t, cert)), "hunter2", ErrTooManyPKCS12Iterations},
		{"tenant archive: huge PBMAC1 iteration count", buildPFX(t, pbmac1(t, "hunter2", huge, 32), dataSafe(t, cert)), "hunter2", ErrTooManyPKCS12Iterations},
		{"tenant archive: huge PBKDF2 iteration count in a shrouded key bag", buildPFX(t, pbmac1(t, "hunter2", 1, 32), dataSafe(t, shroudedBag(t, algPBES2(t, huge)), cert)), "hunter2", ErrTooManyPKCS12Iterations},
		{"tenant archive: huge PBE iteration count in a shrouded key bag", buildPFX(t, nil, dataSafe(t, shroudedBag(t, algPBE(t, oidPBEWithSHAAnd3KeyTripleDESCBC, huge)))), "", ErrTooManyPKCS12Iterations},
		{"tenant archive: huge iteration count in a shrouded key bag inside an encrypted SafeContents", buildPFX(t, nil, encryptedSafe(t, "", shroudedBag(t, algPBES2(t, huge)), cert)), "", ErrTooManyPKCS12Iterations},
		{"tenant archive: same, with a password and a valid MAC", buildPFX(t, pbmac1(t, "hunter2", 1, 32), encryptedSafe(t, "hunter2", shroudedBag(t, algPBES2(t, huge)), cert)), "hunter2", ErrTooManyPKCS12Iterations},
		{"tenant archive: huge iteration count of an encrypted SafeContents", buildPFX(t, nil, pfxContentInfo{ContentType: oidPKCS7EncryptedData, Content: explicit0(mustDER(t, pfxEncryptedData{EncryptedContentInfo: pfxEncryptedContentInfo{ContentType: oidPKCS7Data, ContentEncryptionAlgorithm: algPBE(t, oidPBEWithSHAAnd40BitRC2CBC, huge), EncryptedContent: make([]byte, 64)}}))}), "", ErrTooManyPKCS12Iterations},
		{"tenant archive: counts over the cap only together", buildPFX(t, classicMAC(oidSHA256, 600_000), dataSafe(t, shroudedBag(t, algPBES2(t, 600_000)))), "hunter2", ErrTooManyPKCS12Iterations},
		{"tenant archive: many bags", buildPFX(t, nil, dataSafe(t, certBags(t, 5000)...)), "", ErrTooManyPKCS12Bags},
		{"tenant archive: many bags over two SafeContents", buildPFX(t, nil, dataSafe(t, certBags(t, 200)...), dataSafe(t, certBags(t, 200)...)), "", ErrTooManyPKCS12Bags},
		{"tenant archive: many bags inside an encrypted SafeContents", buildPFX(t, nil, encryptedSafe(t, "", certBags(t, 1000)...)), "", ErrTooManyPKCS12Bags},
		{"tenant archive: openssl pkcs12 -export -iter 1000000", readFile(t, filepath.Join("testdata", "pkcs12", "openssl-iter1000000.p12")), "s3cret", ErrTooManyPKCS12Iterations},
	}
}

// TestPKCS12CostlyArchivesAreRefused: archives that would hold DecodeChain
// for minutes, or make it parse many bags, fail with the budget error
// before it runs: quickly (asserted at 5 s of CPU, which a busy machine
// does not stretch; it is milliseconds), within the budget, naming the
// limit and nothing of the archive or password.
func TestPKCS12CostlyArchivesAreRefused(t *testing.T) {
	for _, tt := range costlyArchives(t) {
		t.Run(tt.name, func(t *testing.T) {
			for _, fn := range []string{"pkcs12key", "pkcs12cert"} {
				b := NewBudget()
				var err error
				cpu, ok := threadCPU(func() { _, err = renderPKCS12(b, fn, tt.archive, tt.password) })
				if ok && cpu > 5*time.Second {
					t.Errorf("%s took %v of CPU", fn, cpu)
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s: err = %v, want %v", fn, err, tt.want)
				}
				if b.Steps() > MaxSteps {
					t.Errorf("%s: budget overdrawn: %d steps", fn, b.Steps())
				}
				if msg := err.Error(); strings.Contains(msg, "SECRETSALT") || strings.Contains(msg, "hunter2") {
					t.Errorf("%s: error quotes the archive or password: %s", fn, msg)
				}
			}
		})
	}
}

// TestPKCS12MalformedArchives: broken archives and archives DecodeChain
// would refuse (tenant provider data) get a clear error that is not the
// budget's, never a panic, and never quote the archive.
func TestPKCS12MalformedArchives(t *testing.T) {
	cert := certBag(t, []byte("not a certificate"))
	good := buildPFX(t, nil, dataSafe(t, cert))
	withVersion := func(v int) []byte {
		var pfx pfxPDU
		if err := unmarshalDER(good, &pfx); err != nil {
			t.Fatal(err)
		}
		pfx.Version = v
		return mustDER(t, pfx)
	}
	tests := []struct {
		name     string
		archive  []byte
		password string
		want     string
	}{
		{"empty", nil, "", "malformed PFX"},
		{"not DER", []byte("SECRETSALT, not an archive"), "", "malformed PFX"},
		{"truncated", good[:len(good)/2], "", "malformed PFX"},
		{"trailing data", append(bytes.Clone(good), "SECRETSALT"...), "", "malformed PFX"},
		{"version 2", withVersion(2), "", "unsupported PFX version"},
		{"no SafeContents", buildPFX(t, nil), "", "want one or two SafeContents"},
		{"three SafeContents", buildPFX(t, nil, dataSafe(t, cert), dataSafe(t, cert), dataSafe(t, cert)), "", "want one or two SafeContents"},
		{"SafeContents not a sequence", buildPFX(t, nil, pfxContentInfo{ContentType: oidPKCS7Data, Content: explicit0(mustDER(t, []byte("SECRETSALT")))}), "", "malformed SafeContents"},
		{"unknown SafeContents type", buildPFX(t, nil, pfxContentInfo{ContentType: oidSHA1, Content: explicit0(mustDER(t, []byte{}))}), "", "unsupported SafeContents content type"},
		{"MAC iteration count 0", buildPFX(t, classicMAC(oidSHA1, 0), dataSafe(t, cert)), "x", "malformed iteration count"},
		{"negative iteration count in a shrouded key bag", buildPFX(t, nil, dataSafe(t, shroudedBag(t, algPBES2(t, -5)))), "", "malformed iteration count"},
		{"unknown MAC hash", buildPFX(t, classicMAC(oidAES128CBC, 1), dataSafe(t, cert)), "x", "unsupported MAC algorithm"},
		{"PBMAC1 key too short", buildPFX(t, pbmac1(t, "x", 1, 8), dataSafe(t, cert)), "x", "unsupported PBMAC1 key length"},
		{"unknown cipher in a shrouded key bag", buildPFX(t, nil, dataSafe(t, shroudedBag(t, pkix.AlgorithmIdentifier{Algorithm: oidSHA256}))), "", "unsupported encryption algorithm"},
		{"PBE parameters missing", buildPFX(t, nil, dataSafe(t, shroudedBag(t, pkix.AlgorithmIdentifier{Algorithm: oidPBEWithSHAAnd3KeyTripleDESCBC}))), "", "malformed PBE parameters"},
		{"shrouded key bag not a key", buildPFX(t, nil, dataSafe(t, pfxSafeBag{ID: oidShroudedKeyBag, Value: explicit0(mustDER(t, testSalt))})), "", "malformed shrouded key bag"},
		{"wrong password", buildPFX(t, nil, encryptedSafe(t, "hunter2", cert)), "", "cannot decrypt"},
		{"encrypted junk", buildPFX(t, nil, encryptedBytes(t, "", []byte("SECRETSALT, no SafeContents"))), "", "cannot decrypt"},
		{"password outside the BMP", good, "hunter2 \U0001F511", "outside the Basic Multilingual Plane"},
	}
	for _, tt := range tests {
		t.Run("tenant archive: "+tt.name, func(t *testing.T) {
			err := meterPFX(NewBudget(), tt.archive, tt.password)
			if err == nil || !strings.HasPrefix(err.Error(), "pkcs12: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one about %q", err, tt.want)
			}
			if errors.Is(err, ErrBudgetExceeded) {
				t.Errorf("a budget error: %v", err)
			}
			if msg := err.Error(); strings.Contains(msg, "SECRETSALT") || strings.Contains(msg, "hunter2") {
				t.Errorf("error quotes the archive or password: %s", msg)
			}
			_, err = renderPKCS12(NewBudget(), "pkcs12key", tt.archive, tt.password)
			if err == nil || strings.Contains(err.Error(), "panicked") || strings.Contains(err.Error(), "SECRETSALT") {
				t.Errorf("through the engine: %v", err)
			}
		})
	}
}

// TestPKCS12KDF: known answers of the RFC 7292 derivation, from
// go-pkcs12's own tests (a 24-byte key takes two blocks, and the second
// of these has a block of I with a leading zero byte).
func TestPKCS12KDF(t *testing.T) {
	pw, err := pfxPasswords("sesame")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		salt, password []byte
		want           string
	}{
		{unhex(t, "ffffffffffffffff"), pw[0], "7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1"},
		{unhex(t, "f37e05b518324b4b"), []byte{0, 0}, "00f759ff47d14dd03665d5943cb3c4a39a2555c02aed66e1"},
	} {
		if got := hex.EncodeToString(pkcs12KDF(tt.salt, tt.password, 2048, 1, 24)); got != tt.want {
			t.Errorf("salt %x: key %s, want %s", tt.salt, got, tt.want)
		}
	}
}

// FuzzMeterPFX runs meterPFX over arbitrary archives and passwords
// (tenant provider data): it must not panic, must stay within its limits
// and the budget, must name no byte of the archive in an error, and what
// it accepts, DecodeChain must decode within what was charged: its CPU
// time at most ten times the steps' microseconds, plus 100 ms for the
// machine (which catches a count off by far more than ten, not less).
// Seeded with the real archives of the tests (it fails without them) and
// the smaller crafted costly ones.
func FuzzMeterPFX(f *testing.F) {
	cases, key, chain := realArchives(f)
	cases = append(cases, goArchives(f, key, chain)...)
	if len(cases) == 0 {
		f.Fatal("no seed archives")
	}
	for _, c := range cases {
		f.Add(c.archive, c.password)
	}
	for _, c := range costlyArchives(f) {
		// The fuzzer minimizes what it finds, slowly for large inputs.
		if len(c.archive) <= 16<<10 {
			f.Add(c.archive, c.password)
		}
	}
	f.Fuzz(func(t *testing.T, archive []byte, password string) {
		m := &pfxMeter{b: NewBudget()}
		err := m.read(archive, password)
		if m.rounds > MaxPKCS12Iterations || m.bags > MaxPKCS12Bags || m.b.Steps() > MaxSteps {
			t.Fatalf("over a limit: %d rounds, %d bags, %d steps", m.rounds, m.bags, m.b.Steps())
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "pkcs12: ") && !errors.Is(err, ErrBudgetExceeded) {
				t.Fatalf("an error of unknown form: %s", msg)
			}
			return
		}
		cpu, ok := threadCPU(func() {
			defer func() { _ = recover() }() // go-pkcs12's to fix, and the engine recovers
			_, _, _, _ = gopkcs12.DecodeChain(archive, password)
		})
		if limit := 10*time.Duration(m.b.Steps())*time.Microsecond + 100*time.Millisecond; ok && cpu > limit {
			t.Fatalf("DecodeChain took %v of CPU, charged %d steps (%d rounds, %d bags)", cpu, m.b.Steps(), m.rounds, m.bags)
		}
	})
}
