package keybackup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"golang.org/x/crypto/ssh"
)

const (
	// maxKeyFileSize is the largest recipients or identities file in bytes
	// the parsers read, as the age CLI's.
	maxKeyFileSize = 16 << 20
	// maxLineLength is the longest line in bytes of a recipients file, as
	// the age CLI's (and sshd's).
	maxLineLength = 8 << 10
)

// ParseRecipient parses one recipient as `age -r` takes it: an X25519
// public key (age1…), a post-quantum hybrid one (age1pq1…), or an SSH
// public key in authorized_keys form (ssh-ed25519 …, ssh-rsa … of at
// least 2048 bits). age plugins and tagged recipients are not supported:
// a backup must open without extra programs.
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "age1tag"):
		return nil, errors.New("tagged age recipients are not supported")
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1") && strings.Count(s, "1") > 1:
		// Bech32 data has no "1", so a second one is in a plugin's name.
		return nil, errors.New("age plugin recipients are not supported")
	case strings.HasPrefix(s, "age1"):
		return age.ParseX25519Recipient(s)
	case strings.HasPrefix(s, "ssh-"):
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("SSH recipient: %w", err)
		}
		return r, nil
	case strings.HasPrefix(s, "AGE-"):
		// Not quoted: it is a private key.
		return nil, errors.New("this is an age identity (a private key), not a recipient: use the public key `age-keygen -y` prints")
	}
	// Not quoted either: it may be a private key of another kind.
	return nil, errors.New("unknown recipient type: want age1…, ssh-ed25519 … or ssh-rsa …")
}

// ParseRecipients reads a recipients file as `age -R` does: one recipient
// per line in any form [ParseRecipient] takes; empty lines and lines
// starting with "#" are ignored. Errors give the line number, never the
// line.
func ParseRecipients(r io.Reader) ([]age.Recipient, error) {
	lr := &io.LimitedReader{R: r, N: maxKeyFileSize + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(nil, maxLineLength+1)
	var recs []age.Recipient
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d: not valid UTF-8", n)
		}
		rec, err := ParseRecipient(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxLineLength)
		}
		return nil, err
	}
	if lr.N == 0 {
		return nil, fmt.Errorf("recipients file is larger than %d bytes", maxKeyFileSize)
	}
	if len(recs) == 0 {
		return nil, errors.New("no recipients found")
	}
	return recs, nil
}

// ParseIdentities reads an identity file as `age -i` does: either the
// identities age-keygen writes (AGE-SECRET-KEY-1…, AGE-SECRET-KEY-PQ-1…,
// one per line; empty lines and "#" comments are ignored), or one SSH
// private key (ed25519 or RSA, OpenSSH or PEM form).
//
// sshPassphrase decrypts a passphrase-protected SSH key; it is called at
// most once, and only if a bundle has a stanza for that key. With nil such
// a key is refused. age plugin identities and passphrase-encrypted age
// identity files are not supported. Errors never quote the file.
func ParseIdentities(r io.Reader, sshPassphrase func() ([]byte, error)) ([]age.Identity, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("identity file is larger than %d bytes", maxKeyFileSize)
	}
	trimmed := bytes.TrimSpace(b)
	switch {
	case bytes.HasPrefix(trimmed, []byte(armor.Header)) || bytes.HasPrefix(b, []byte(binaryIntro)):
		return nil, errors.New("passphrase-encrypted age identity files are not supported")
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		id, err := parseSSHIdentity(trimmed, sshPassphrase)
		if err != nil {
			return nil, err
		}
		return []age.Identity{id}, nil
	}
	var ids []age.Identity
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var id age.Identity
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err = age.ParseHybridIdentity(line)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err = age.ParseX25519Identity(line)
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			err = errors.New("age plugin identities are not supported")
		case strings.HasPrefix(line, "age1"), strings.HasPrefix(line, "ssh-"):
			err = errors.New("this is a recipient (a public key), not an identity")
		default:
			err = errors.New("unknown identity type: want AGE-SECRET-KEY-1… or an SSH private key")
		}
		if err != nil {
			// age's own parse errors do not quote the key either.
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("no identities found")
	}
	return ids, nil
}

func parseSSHIdentity(pemBytes []byte, passphrase func() ([]byte, error)) (age.Identity, error) {
	id, err := agessh.ParseIdentity(pemBytes)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == nil {
			return nil, errors.New("the SSH key is protected by a passphrase and no way to ask for it was given")
		}
		if missing.PublicKey == nil {
			return nil, errors.New("the SSH key is protected by a passphrase in the old PEM format, which does not hold the public key: convert it with ssh-keygen -p -m RFC4716")
		}
		enc, err := agessh.NewEncryptedSSHIdentity(missing.PublicKey, pemBytes, passphrase)
		if err != nil {
			return nil, fmt.Errorf("SSH identity: %w", err)
		}
		return enc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("SSH identity: %w", err)
	}
	return id, nil
}
