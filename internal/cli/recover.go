package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keyfile"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/keybackup"
)

// recover unseals every SealedSecret in in offline with the keys of
// --recovery-private-key and writes the Secrets to out.
func (o *options) recover(in io.Reader, out io.Writer, format manifest.Format) error {
	ring, err := o.loadRecoveryKeys()
	if err != nil {
		return err
	}
	sealed, err := manifest.DecodeSealedSecrets(in)
	if err != nil {
		return err
	}
	if len(sealed) == 0 {
		return errors.New("no sealed secrets found in the input")
	}
	for _, ss := range sealed {
		secret, _, err := sealing.Unseal(ring, ss, sealing.Options{AcceptV1Data: true})
		if err != nil {
			return fmt.Errorf("unseal %s/%s: %w", ss.Namespace, ss.Name, err)
		}
		if err := manifest.Encode(out, format, secret); err != nil {
			return err
		}
	}
	return nil
}

// loadRecoveryKeys reads every --recovery-private-key file into one
// keyring.
func (o *options) loadRecoveryKeys() (*crypto.Keyring, error) {
	if len(o.privKeys) == 0 {
		return nil, errors.New("--recovery-unseal requires at least one --recovery-private-key")
	}
	keys, err := loadKeyFiles(o.privKeys, &o.recovery, "recovery-identity", false)
	if err != nil {
		return nil, err
	}
	return crypto.NewKeyring(keys...), nil
}

// loadKeyFiles reads the keys of every file: backup bundles, recognised by
// their age header and opened with the identities of ids (named by the
// flag idFlag), and unless onlyAge is set, the PEM and Secret forms.
func loadKeyFiles(paths []string, ids *identityFlags, idFlag string, onlyAge bool) ([]*crypto.Key, error) {
	var keys []*crypto.Key
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if keybackup.IsAgeFile(b) {
			bundle, err := openBundle(b, p, ids, idFlag)
			if err != nil {
				return nil, err
			}
			keys = append(keys, bundle.Keys()...)
			continue
		}
		if onlyAge {
			return nil, fmt.Errorf("%s is not an age backup bundle (kubeseal keys backup writes one)", p)
		}
		ks, err := keyfile.ParseKeys(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}
