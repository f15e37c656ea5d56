package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keysecret"
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
// keyring: backup bundles, recognised by their age header and opened with
// --recovery-identity or a passphrase, and the PEM and Secret forms.
func (o *options) loadRecoveryKeys() (*crypto.Keyring, error) {
	if len(o.privKeys) == 0 {
		return nil, errors.New("--recovery-unseal requires at least one --recovery-private-key")
	}
	var keys []*crypto.Key
	for _, p := range o.privKeys {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if keybackup.IsAgeFile(b) {
			bundle, err := openBundle(b, p, &o.recovery, "recovery-identity")
			if err != nil {
				return nil, err
			}
			keys = append(keys, bundle.Keys()...)
			continue
		}
		ks, err := keysecret.ParseKeyFile(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		keys = append(keys, ks...)
	}
	return crypto.NewKeyring(keys...), nil
}
