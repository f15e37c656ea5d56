package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"filippo.io/age"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/sealsync/sealsync/keybackup"
)

// passphraseEnv gives scripts a passphrase without a terminal or a file.
const passphraseEnv = "SEALSYNC_PASSPHRASE"

// minPassphraseLength is the shortest passphrase a new backup accepts, in
// characters: a bundle may sit in a Git repository for years, open to
// offline guessing slowed only by scrypt.
const minPassphraseLength = 12

// passphraseFlags say where a passphrase comes from.
type passphraseFlags struct {
	// use is --passphrase: use a passphrase, from the file, the
	// environment or the terminal.
	use bool
	// file is --passphrase-file; it implies use.
	file string
	// prefix starts the flags' names.
	prefix string
}

func (p *passphraseFlags) bind(fs *pflag.FlagSet, prefix, what string) {
	p.prefix = prefix
	fs.BoolVar(&p.use, prefix+"passphrase", false, what+" with a passphrase: read from --"+prefix+"passphrase-file, else $"+passphraseEnv+", else asked on the terminal")
	fs.StringVar(&p.file, prefix+"passphrase-file", "", "File whose first line is the passphrase (implies --"+prefix+"passphrase)")
}

func (p *passphraseFlags) given() bool { return p.use || p.file != "" }

// read returns the passphrase from the file, else the environment, else
// the terminal (asked twice when confirm is set, for a new backup).
func (p *passphraseFlags) read(confirm bool) (string, error) {
	var pass string
	switch {
	case p.file != "":
		b, err := os.ReadFile(p.file)
		if err != nil {
			return "", fmt.Errorf("passphrase file: %w", err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		pass = string(bytes.TrimSuffix(line, []byte("\r")))
	case os.Getenv(passphraseEnv) != "":
		pass = os.Getenv(passphraseEnv)
	default:
		var err error
		if pass, err = askPassphrase(confirm); errors.Is(err, errNoTerminal) {
			return "", fmt.Errorf("%w to ask for the passphrase: set %s or use --%spassphrase-file", err, passphraseEnv, p.prefix)
		} else if err != nil {
			return "", err
		}
	}
	if pass == "" {
		return "", errors.New("the passphrase is empty")
	}
	if confirm && len([]rune(pass)) < minPassphraseLength {
		return "", fmt.Errorf("the passphrase is shorter than %d characters: a backup may be guessed at offline for years", minPassphraseLength)
	}
	return pass, nil
}

// askPassphrase asks for a passphrase on the terminal, twice when
// confirm is set.
func askPassphrase(confirm bool) (string, error) {
	pass, err := readFromTerminal("Passphrase: ")
	if err != nil || !confirm {
		return pass, err
	}
	again, err := readFromTerminal("Passphrase again: ")
	if err != nil {
		return "", err
	}
	if again != pass {
		return "", errors.New("the passphrases differ")
	}
	return pass, nil
}

var errNoTerminal = errors.New("no terminal")

// readFromTerminal reads a line without echo from the controlling
// terminal, not from stdin, which may carry other input.
func readFromTerminal(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errNoTerminal
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("read from the terminal: %w", err)
	}
	return string(b), nil
}

// recipientFlags are the flags of `keys backup` that say who can open it.
type recipientFlags struct {
	recipients []string // -r
	files      []string // -R
	passphrase passphraseFlags
}

func (f *recipientFlags) bind(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&f.recipients, "recipient", "r", nil, "Encrypt to this public key: age1… (age-keygen), ssh-ed25519 … or ssh-rsa …. Repeatable")
	fs.StringArrayVarP(&f.files, "recipients-file", "R", nil, "Encrypt to every public key in this file, one per line, # for comments (as age -R). Repeatable")
	f.passphrase.bind(fs, "", "Encrypt")
}

// parse returns the recipients, refusing none and a passphrase among
// others before anything is read from the cluster.
func (f *recipientFlags) parse() ([]age.Recipient, error) {
	var recs []age.Recipient
	for _, s := range f.recipients {
		r, err := keybackup.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("--recipient: %w", err)
		}
		recs = append(recs, r)
	}
	for _, path := range f.files {
		rs, err := readRecipientsFile(path)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rs...)
	}
	if f.passphrase.given() {
		if len(recs) > 0 {
			return nil, keybackup.ErrPassphraseNotAlone
		}
		pass, err := f.passphrase.read(true)
		if err != nil {
			return nil, err
		}
		r, err := age.NewScryptRecipient(pass)
		if err != nil {
			return nil, err
		}
		return []age.Recipient{r}, nil
	}
	if len(recs) == 0 {
		return nil, errors.New("say who can open the backup: --recipient, --recipients-file or --passphrase")
	}
	return recs, nil
}

// readRecipientsFile parses a recipients file.
func readRecipientsFile(path string) ([]age.Recipient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recipients file: %w", err)
	}
	defer f.Close()
	recs, err := keybackup.ParseRecipients(f)
	if err != nil {
		return nil, fmt.Errorf("recipients file %s: %w", path, err)
	}
	return recs, nil
}

// identityFlags are the flags that open a bundle.
type identityFlags struct {
	files      []string
	passphrase passphraseFlags
}

// identities returns an identity for each key in the identity files, and
// a passphrase identity when a passphrase flag is given or $SEALSYNC_PASSPHRASE
// is set.
func (f *identityFlags) identities(flagName string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, path := range f.files {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
		is, err := keybackup.ParseIdentities(bytes.NewReader(b), func() ([]byte, error) {
			pass, err := readFromTerminal("Passphrase for SSH key " + path + ": ")
			return []byte(pass), err
		})
		if err != nil {
			return nil, fmt.Errorf("--%s %s: %w", flagName, path, err)
		}
		ids = append(ids, is...)
	}
	if f.passphrase.given() || os.Getenv(passphraseEnv) != "" {
		pass, err := f.passphrase.read(false)
		if err != nil {
			return nil, err
		}
		id, err := age.NewScryptIdentity(pass)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// openBundle opens an age-encrypted bundle with the identities the flags
// give.
func openBundle(b []byte, name string, f *identityFlags, flagName string) (*keybackup.Bundle, error) {
	ids, err := f.identities(flagName)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s is an encrypted key backup: open it with --%s FILE or a passphrase (--%spassphrase, or $%s)",
			name, flagName, f.passphrase.prefix, passphraseEnv)
	}
	bundle, err := keybackup.Open(bytes.NewReader(b), ids...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return bundle, nil
}
