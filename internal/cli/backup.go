package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keyfile"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/keybackup"
)

type keysBackupOptions struct {
	recipientFlags
	output    string
	fromFiles []string
}

func newKeysBackupCommand(o *options) *cobra.Command {
	bo := &keysBackupOptions{}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write the controller's sealing keys to an encrypted backup",
		Long: `Read the sealing key Secrets (label ` + keysecret.Label + `) in
--controller-namespace and write them, with a manifest of their key IDs, as
one age-encrypted bundle. Only the recipients can open it: age public keys
(age1…, from age-keygen), SSH public keys (ssh-ed25519, ssh-rsa) or a
passphrase, which age allows only as the sole recipient. The bundle is
ASCII-armored ciphertext, safe to commit to Git; the file is written with
mode 0600, in full or not at all. Nothing is ever written in plaintext.

Reading the keys needs get and list rights on Secrets in the controller's
namespace. Keep the identities that open the bundle offline.

With --from-file the keys come from files instead of the cluster: PEM private
keys (PKCS#1 or PKCS#8, with or without the certificate beside them) or a
Bitnami backup made with
  kubectl get secret -n kube-system -l ` + keysecret.Label + ` -o yaml
A key without a certificate gets a new self-signed one, so that it restores
as a normal key Secret. That certificate is dated ` + importedNotBefore.Format("2006-01-02") + `, so the key
never outranks a dated one as the sealing key, and is valid for 250 years.

See 'kubeseal keys restore' to bring the keys back.`,
		Example: `  # Back up to an offline age key (age-keygen -o offline.key; age-keygen -y offline.key)
  kubeseal keys backup -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p -o keys.age

  # To several people: every line of the file is a recipient
  kubeseal keys backup -R ops-team.pub -o keys.age

  # To a passphrase (asked on the terminal, or from $` + passphraseEnv + `)
  kubeseal keys backup --passphrase -o keys.age

  # Convert a Bitnami backup into an encrypted bundle, offline
  kubeseal keys backup --from-file bitnami-keys.yaml -r age1ql3z7… -o keys.age && shred -u bitnami-keys.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.backupKeys(cmd.Context(), bo)
		},
	}
	f := cmd.Flags()
	bo.recipientFlags.bind(f)
	f.StringVarP(&bo.output, "output", "o", "-", "Write the bundle to this file (mode 0600, replaced atomically); - is stdout")
	f.StringArrayVar(&bo.fromFiles, "from-file", nil, "Back up the keys in this file instead of the cluster's: PEM keys or key Secrets (YAML/JSON, v1 List). Repeatable")
	for _, name := range []string{"recipients-file", "passphrase-file", "from-file", "output"} {
		_ = cmd.MarkFlagFilename(name)
	}
	return cmd
}

func (o *options) backupKeys(ctx context.Context, bo *keysBackupOptions) error {
	// Recipients first: a mistake there should cost no cluster round trip.
	recipients, err := bo.parse()
	if err != nil {
		return err
	}
	var secrets []corev1.Secret
	source := "namespace " + o.controllerNs
	if len(bo.fromFiles) > 0 {
		source = "files"
		for _, path := range bo.fromFiles {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			ss, err := plainBackupSecrets(path, b, o.streams.Err)
			if err != nil {
				return err
			}
			secrets = append(secrets, ss...)
		}
	} else {
		client, err := o.secretsClient()
		if err != nil {
			return err
		}
		if secrets, err = o.listKeySecrets(ctx, client); err != nil {
			return err
		}
		if len(secrets) == 0 {
			return fmt.Errorf("no sealing key Secrets (label %s) in namespace %q: use --controller-namespace to point at the controller's namespace", keysecret.Label, o.controllerNs)
		}
	}
	bundle, err := keybackup.FromSecrets(secrets)
	if err != nil {
		return err
	}
	if err := writeBundle(bo.output, o.streams.Out, bundle, recipients); err != nil {
		return err
	}
	where := bo.output
	if where == "-" {
		where = "stdout"
	}
	fmt.Fprintf(o.streams.Err, "Backed up %d keys from %s to %s, for %d recipients:\n", len(bundle.Manifest().Keys), source, where, len(recipients))
	return writeManifest(o.streams.Err, bundle.Manifest())
}

// writeBundle seals bundle to path, or to stdout for "-". A file is
// created with mode 0600 beside its final name and renamed over it only
// once complete.
func writeBundle(path string, stdout io.Writer, bundle *keybackup.Bundle, recipients []age.Recipient) error {
	if path == "-" {
		return keybackup.Seal(stdout, bundle, recipients...)
	}
	f, err := createPrivateAtomic(path)
	if err != nil {
		return err
	}
	if err := keybackup.Seal(f, bundle, recipients...); err != nil {
		f.abort()
		return err
	}
	return f.commit()
}

// writeManifest lists a bundle's keys, one per line.
func writeManifest(w io.Writer, m keybackup.Manifest) error {
	for _, k := range m.Keys {
		name := k.Secret
		if name == "" {
			name = "(no Secret)"
		}
		if _, err := fmt.Fprintf(w, "  %s  %-11s  %s  %s\n", k.ID, k.Status, k.NotBefore.Format(time.RFC3339), name); err != nil {
			return err
		}
	}
	return nil
}

// secretsClient returns a client of Secrets in the controller's namespace.
func (o *options) secretsClient() (corev1client.SecretInterface, error) {
	conf, err := o.clientConfig().ClientConfig()
	if err != nil {
		return nil, err
	}
	// client-go's default of 5 requests per second would make restoring
	// two years of keys take seconds of sleep; these are kubectl's limits.
	if conf.QPS == 0 {
		conf.QPS, conf.Burst = 50, 300
	}
	core, err := corev1client.NewForConfig(conf)
	if err != nil {
		return nil, err
	}
	return core.Secrets(o.controllerNs), nil
}

// listKeySecrets reads every key Secret in the controller's namespace: the
// labelled ones and Bitnami's legacy unlabelled one. A label value that is
// neither active nor compromised marks no key for either controller: such
// a Secret is skipped with a warning.
func (o *options) listKeySecrets(ctx context.Context, client corev1client.SecretInterface) ([]corev1.Secret, error) {
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: keysecret.Label})
	if err != nil {
		return nil, fmt.Errorf("cannot list the key Secrets in namespace %q: %w", o.controllerNs, err)
	}
	var secrets []corev1.Secret
	for _, s := range list.Items {
		if _, err := crypto.ParseStatus(s.Labels[keysecret.Label]); err != nil {
			fmt.Fprintf(o.streams.Err, "warning: skipping Secret %s/%s: label %s=%q is neither active nor compromised\n", s.Namespace, s.Name, keysecret.Label, s.Labels[keysecret.Label])
			continue
		}
		secrets = append(secrets, s)
	}
	legacy, err := client.Get(ctx, keysecret.LegacyName, metav1.GetOptions{})
	switch {
	case err == nil:
		if _, labelled := legacy.Labels[keysecret.Label]; !labelled {
			secrets = append(secrets, *legacy)
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("cannot read Secret %s/%s: %w", o.controllerNs, keysecret.LegacyName, err)
	}
	return secrets, nil
}

// importedNotBefore dates the certificate made for a key backed up
// without one: older than any real key, so that the key never becomes the
// sealing key ahead of one with a real date, and the controller's renewal
// soon makes a fresh sealing key if it is the only one.
var importedNotBefore = time.Unix(0, 0).UTC()

// importedValidity is how long that certificate is valid: long enough to
// never expire in use, within what a time.Duration holds.
const importedValidity = 250 * 365 * 24 * time.Hour

// plainBackupSecrets reads an unencrypted backup file named path (see
// keyfile.ParseSecrets) as key Secrets ready for a bundle, giving a key
// without a certificate a self-signed one and saying so on errOut.
func plainBackupSecrets(path string, b []byte, errOut io.Writer) ([]corev1.Secret, error) {
	secrets, err := keyfile.ParseSecrets(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]corev1.Secret, 0, len(secrets))
	for _, s := range secrets {
		if _, ok := s.Data[corev1.TLSCertKey]; !ok {
			priv, err := crypto.ParsePrivateKeyPEM(s.Data[corev1.TLSPrivateKeyKey])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			cert, err := crypto.NewCertificate(rand.Reader, priv, importedNotBefore, importedValidity, "")
			if err != nil {
				return nil, err
			}
			s.Data[corev1.TLSCertKey] = crypto.EncodeCertificatePEM(cert)
			fmt.Fprintf(errOut, "note: %s: key %s has no certificate: made a self-signed one dated %s so that it restores as a normal key Secret\n",
				path, crypto.KeyIDOf(&priv.PublicKey).Short(), importedNotBefore.Format("2006-01-02"))
		}
		out = append(out, *s)
	}
	return out, nil
}
