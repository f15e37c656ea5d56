package keybackup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// secretLine is what a careless user pastes where a public key belongs.
const secretLine = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"

func TestParseRecipients(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := "# backup keys\n\n" + string(readTestdata(t, "identities", "age.pub")) +
		"  " + string(readTestdata(t, "identities", "id_ed25519.pub")) +
		strings.TrimSpace(string(readTestdata(t, "identities", "id_rsa.pub"))) + "\r\n# end\n"
	recs, err := ParseRecipients(strings.NewReader(good))
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d recipients, %v", len(recs), err)
	}
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"empty", "# nothing\n\n", "no recipients found"},
		{"an identity", "# oops\n" + secretLine + "\n", "line 2: this is an age identity (a private key), not a recipient"},
		{"unknown", "hunter2\n", "line 1: unknown recipient type"},
		{"plugin", "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t\n", "age plugin recipients are not supported"},
		{"bad X25519", "age1xxxxxxxx\n", "line 1: malformed recipient"},
		{"ssh-dss", "ssh-dss AAAAB3NzaC1kc3MAAACBAP\n", "line 1: SSH recipient"},
		{"ssh-rsa below 2048 bits", authorizedKey(t, &rsa1024.PublicKey) + "\n", "line 1: SSH recipient"},
		{"too long a line", strings.Repeat("a", maxLineLength+10) + "\n", "longer than 8192 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecipients(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "QQQQ") || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

func TestParseIdentities(t *testing.T) {
	for _, name := range []string{"age.key", "id_ed25519", "id_rsa"} {
		if ids := identities(t, name); len(ids) != 1 {
			t.Errorf("%s: %d identities", name, len(ids))
		}
	}
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"empty", "# created: now\n", "no identities found"},
		{"a recipient", string(readTestdata(t, "identities", "age.pub")), "line 2: this is a recipient (a public key), not an identity"},
		{"unknown", "# key\nhunter2\n", "line 2: unknown identity type"},
		{"bad X25519", "AGE-SECRET-KEY-1QQQQ\n", "line 1: "},
		{"plugin", "AGE-PLUGIN-YUBIKEY-1QQQQ\n", "age plugin identities are not supported"},
		{"encrypted age identity file", string(readTestdata(t, "golden", "passphrase.age")), "passphrase-encrypted age identity files are not supported"},
		{"garbage PEM", "-----BEGIN OPENSSH PRIVATE KEY-----\nQQQQ\n-----END OPENSSH PRIVATE KEY-----\n", "SSH identity: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIdentities(strings.NewReader(tc.in), nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "QQQQ") || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

// TestPassphraseProtectedSSHKey: the passphrase is asked for only when a
// bundle has a stanza for that key.
func TestPassphraseProtectedSSHKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("ssh pass"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := pem.EncodeToMemory(block)
	if _, err := ParseIdentities(bytes.NewReader(keyFile), nil); err == nil || !strings.Contains(err.Error(), "protected by a passphrase") {
		t.Fatalf("no passphrase callback: %v", err)
	}
	asked := 0
	ids, err := ParseIdentities(bytes.NewReader(keyFile), func() ([]byte, error) { asked++; return []byte("ssh pass"), nil })
	if err != nil {
		t.Fatal(err)
	}
	b := goldenBundle(t)
	if _, err := Open(bytes.NewReader(sealBundle(t, b, false, newX25519(t).Recipient())), ids...); err == nil || asked != 0 {
		t.Fatalf("another bundle: err %v, asked %d times", err, asked)
	}
	if _, err := Open(bytes.NewReader(sealBundle(t, b, false, parseRecipient(t, authorizedKey(t, pub)))), ids...); err != nil || asked != 1 {
		t.Fatalf("its bundle: err %v, asked %d times", err, asked)
	}
}
