package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
	newest    string
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
as a normal key Secret, valid for 250 years. Its date must put the keys in
their order, since the newest active key is the one that seals once they are
restored; a key alone in its PEM file carries no date. When the files do
not tell which key is the newest (a key without its certificate beside
another active key, or two certificates of the same date), nothing is
guessed: put each key's certificate beside it, or name the newest with
--newest KEYID, as the error lists them. The newest is then dated a second
after every dated key, and the other keys without certificates
` + keyfile.UndatedNotBefore.Format("2006-01-02") + `, older than any dated key.

See 'kubeseal keys restore' to bring the keys back.`,
		Example: `  # Back up to an offline age key (age-keygen -o offline.key; age-keygen -y offline.key)
  kubeseal keys backup -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p -o keys.age

  # To several people: every line of the file is a recipient
  kubeseal keys backup -R ops-team.pub -o keys.age

  # To a passphrase (asked on the terminal, or from $` + passphraseEnv + `)
  kubeseal keys backup --passphrase -o keys.age

  # Convert a Bitnami backup into an encrypted bundle, offline
  kubeseal keys backup --from-file bitnami-keys.yaml -r age1ql3z7… -o keys.age && shred -u bitnami-keys.yaml

  # Keys kept as bare PEM files: say which one is the newest
  kubeseal keys backup --from-file old.pem --from-file new.pem --newest 3f9a1c0e22b7 -r age1ql3z7… -o keys.age`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.backupKeys(cmd.Context(), bo)
		},
	}
	f := cmd.Flags()
	bo.recipientFlags.bind(f)
	f.StringVarP(&bo.output, "output", "o", "-", "Write the bundle to this file (mode 0600, replaced atomically); - is stdout")
	f.StringArrayVar(&bo.fromFiles, "from-file", nil, "Back up the keys in this file instead of the cluster's: PEM keys or key Secrets (YAML/JSON, v1 List). Repeatable")
	f.StringVar(&bo.newest, "newest", "", newestFlagUsage+" (with --from-file)")
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
	if bo.newest != "" && len(bo.fromFiles) == 0 {
		return errors.New("--newest orders the keys of --from-file files; a cluster's key Secrets carry their certificates")
	}
	if len(bo.fromFiles) > 0 {
		source = "files"
		var files []plainFile
		for _, path := range bo.fromFiles {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f, err := readPlainFile(path, b)
			if err != nil {
				return err
			}
			files = append(files, f)
		}
		if secrets, err = plainBackupSecrets(files, bo.newest, o.streams.Err); err != nil {
			return err
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

// importedValidity is how long a certificate made for a key backed up
// without one is valid: long enough to never expire in use, within what
// a time.Duration holds.
const importedValidity = 250 * 365 * 24 * time.Hour

// newestFlagUsage describes --newest, for every command that reads key
// files whose order may not be known.
const newestFlagUsage = "The key ID (or its first 8+ hex digits) of the newest key among the files, the one that seals, when the files do not tell: a key without its certificate carries no date"

// orderHelp says how the operator tells kubeseal which key is newest.
const orderHelp = "put each key's certificate beside it (in its PEM file, or as the tls.crt of its Secret), or name the newest with --newest KEYID"

// plainFile is one unencrypted key file and the key Secrets it holds.
type plainFile struct {
	path    string
	secrets []*corev1.Secret
}

// readPlainFile reads an unencrypted backup file named path (see
// keyfile.ParseSecrets).
func readPlainFile(path string, b []byte) (plainFile, error) {
	secrets, err := keyfile.ParseSecrets(b)
	if err != nil {
		return plainFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return plainFile{path: path, secrets: secrets}, nil
}

// plainBackupSecrets makes the key Secrets of unencrypted backup files
// ready for a bundle. The newest active key must be known, since it is
// the one that seals once the keys are restored (keyfile.Newest, with the
// operator's --newest choice): if it cannot be, nothing is guessed.
// Every key without a certificate gets a self-signed one, said so on
// errOut: the newest is dated a second after every dated key, the others
// keyfile.UndatedNotBefore. A newest key dated UndatedNotBefore (by an
// earlier kubeseal) gets a new certificate too, so that the bundle orders
// it.
func plainBackupSecrets(files []plainFile, newest string, errOut io.Writer) ([]corev1.Secret, error) {
	var keys []*crypto.Key
	origin := map[crypto.KeyID]string{}
	certs := map[crypto.KeyID][]byte{}
	keyOf := make(map[*corev1.Secret]*crypto.Key)
	var latest time.Time
	for _, f := range files {
		for _, s := range f.secrets {
			k, err := keyfile.KeyOf(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", describeSecret(f.path, s), err)
			}
			keyOf[s] = k
			keys = append(keys, k)
			if _, ok := origin[k.ID]; !ok {
				origin[k.ID] = describeSecret(f.path, s)
			}
			if keyfile.Dated(k) {
				certs[k.ID] = s.Data[corev1.TLSCertKey]
				latest = maxTime(latest, k.Created)
			}
		}
	}
	chosen, err := keyfile.Newest(keys, newest)
	var oe *keyfile.OrderError
	switch {
	case errors.As(err, &oe):
		return nil, orderError(oe, func(k *crypto.Key) string { return origin[k.ID] })
	case errors.Is(err, crypto.ErrNoActiveKey):
		chosen = nil // only compromised keys: none seals, no order is needed
	case err != nil:
		return nil, fmt.Errorf("--newest: %w", err)
	}
	newestAt := maxTime(latest, keyfile.UndatedNotBefore).Add(time.Second)
	var out []corev1.Secret
	for _, f := range files {
		for _, s := range f.secrets {
			k := keyOf[s]
			at, why := keyfile.UndatedNotBefore, "has no certificate"
			switch isNewest := chosen != nil && k.ID == chosen.ID; {
			case isNewest && (!keyfile.Dated(chosen) || chosen.Created.Equal(keyfile.UndatedNotBefore)):
				at = newestAt
				if keyfile.Dated(k) {
					why = "is the newest but its certificate is dated " + keyfile.UndatedNotBefore.Format(time.DateOnly)
				}
				why += ", and is the newest"
			case keyfile.Dated(k):
				out = append(out, *s)
				continue
			case certs[k.ID] != nil:
				// The same key with its certificate in another file.
				s.Data[corev1.TLSCertKey] = certs[k.ID]
				out = append(out, *s)
				continue
			}
			cert, err := crypto.NewCertificate(rand.Reader, k.PrivateKey, at, importedValidity, "")
			if err != nil {
				return nil, err
			}
			s.Data[corev1.TLSCertKey] = crypto.EncodeCertificatePEM(cert)
			fmt.Fprintf(errOut, "note: %s: key %s %s: made a self-signed certificate dated %s so that it restores as a normal key Secret\n",
				describeSecret(f.path, s), k.ID.Short(), why, at.Format(time.RFC3339))
			out = append(out, *s)
		}
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// describeSecret names a key Secret of file path: the file, and the
// Secret's name when it has one.
func describeSecret(path string, s *corev1.Secret) string {
	if s.Name == "" {
		return path
	}
	return fmt.Sprintf("%s (Secret %s/%s)", path, s.Namespace, s.Name)
}

// orderError explains an unknown order: each key that may be the newest,
// where it comes from and what date it carries, and how to say which.
func orderError(oe *keyfile.OrderError, where func(*crypto.Key) string) error {
	var b strings.Builder
	b.WriteString("cannot tell which key is the newest, the one that seals, so none is chosen:\n")
	for _, k := range oe.Keys {
		date := "no certificate, so no date"
		if keyfile.Dated(k) {
			date = "certificate dated " + k.Created.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "  key %s  %s", k.ID.Short(), date)
		if w := where(k); w != "" {
			fmt.Fprintf(&b, "  from %s", w)
		}
		b.WriteString("\n")
	}
	b.WriteString(orderHelp)
	return errors.New(b.String())
}
