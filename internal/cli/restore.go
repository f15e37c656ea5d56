package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/keybackup"
)

type keysRestoreOptions struct {
	identityFlags
	input  string
	dryRun bool
	newest string
}

func newKeysRestoreCommand(o *options) *cobra.Command {
	ro := &keysRestoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore sealing keys from a backup into the cluster",
		Long: `Create the key Secrets of a backup in --controller-namespace. A running
controller loads them at once, without a restart, and unseals whatever they
sealed.

The backup is a bundle from 'kubeseal keys backup' or the controller's
automatic backup, opened with --identity (an age identity file as age-keygen
writes it, or an SSH private key) or a passphrase; or, to migrate from
Bitnami, an unencrypted backup made with
  kubectl get secret -n kube-system -l ` + keysecret.Label + ` -o yaml
or a PEM private key.

Restoring is safe to repeat. A key that is already in the namespace, under
any name, is skipped. A key whose Secret name is taken by another Secret is
created under a new name (generateName ` + keysecret.DefaultPrefix + `): nothing
is ever overwritten. Labels are kept, so a compromised key stays
compromised and never seals again. --dry-run asks the API server to check
every create without making it.

age bundles are not signed: anyone who knows your public key can make one.
Restore only bundles you made and stored, and check the key IDs printed
against the ones you expect (kubeseal keys list on the old cluster, or the
backup ConfigMap's annotation).

Restoring needs create and list rights on Secrets in the controller's
namespace.`,
		Example: `  # Restore into a fresh cluster before installing the controller
  kubeseal keys restore -i keys.age --identity offline.key

  # Check first, then restore
  kubeseal keys restore -i keys.age --identity ~/.ssh/id_ed25519 --dry-run

  # A passphrase bundle, non-interactively
  ` + passphraseEnv + `=… kubeseal keys restore -i keys.age

  # Migrate the keys of a Bitnami controller
  kubectl get secret -n kube-system -l ` + keysecret.Label + ` -o yaml > old.yaml
  kubeseal keys restore -i old.yaml --controller-namespace sealed-secrets && shred -u old.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.restoreKeys(cmd.Context(), ro)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&ro.input, "input", "i", "", "The backup: an age bundle (armored or binary), a Bitnami key backup or a PEM key; - is stdin")
	f.StringArrayVar(&ro.identityFlags.files, "identity", nil, "An identity file that opens the bundle: age-keygen's output or an SSH private key. Repeatable")
	ro.identityFlags.passphrase.bind(f, "", "Open the bundle")
	f.BoolVar(&ro.dryRun, "dry-run", false, "Have the API server check every create without making it (server-side dry run)")
	f.StringVar(&ro.newest, "newest", "", newestFlagUsage+" (an unencrypted backup)")
	_ = cmd.MarkFlagRequired("input")
	for _, name := range []string{"input", "identity", "passphrase-file"} {
		_ = cmd.MarkFlagFilename(name)
	}
	return cmd
}

func (o *options) restoreKeys(ctx context.Context, ro *keysRestoreOptions) error {
	bundle, err := o.readBackup(ro)
	if err != nil {
		return err
	}
	client, err := o.secretsClient()
	if err != nil {
		return err
	}
	existing, err := o.listKeySecrets(ctx, client)
	if err != nil {
		return err
	}
	present := map[crypto.KeyID]*corev1.Secret{}
	taken := map[string]bool{}
	for i := range existing {
		s := &existing[i]
		taken[s.Name] = true
		if id, err := keysecret.IDOf(s); err == nil {
			present[id] = s
		}
	}

	var opts metav1.CreateOptions
	verb := "restored"
	if ro.dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
		verb = "would restore"
	}
	out := o.streams.Out
	keys := bundle.Manifest().Keys
	secrets := bundle.Secrets(o.controllerNs)
	var restored, skipped, compromised int
	// Oldest first, so that creation times keep the keys' order for a
	// controller that ranks them by --key-order-priority=SecretCreationTimestamp.
	for i := len(secrets) - 1; i >= 0; i-- {
		k, s := keys[i], secrets[i]
		if have, ok := present[k.ID]; ok {
			skipped++
			fmt.Fprintf(out, "skipped        %s  %-11s  already in Secret %s/%s\n", k.ID, k.Status, have.Namespace, have.Name)
			if k.Status == crypto.StatusCompromised && have.Labels[keysecret.Label] != k.Status.String() {
				fmt.Fprintf(o.streams.Err, "warning: key %s is compromised in the backup but not in Secret %s/%s: run kubeseal keys compromise %s if it still is\n",
					k.ID.Short(), have.Namespace, have.Name, k.ID.Short())
			}
			continue
		}
		created, err := createKeySecret(ctx, client, s, taken[s.Name], opts)
		if err != nil {
			return fmt.Errorf("cannot create the key Secret of key %s in namespace %q (%d keys restored before it): %w", k.ID.Short(), o.controllerNs, restored, err)
		}
		restored++
		if k.Status == crypto.StatusCompromised {
			compromised++
		}
		note := ""
		if s.Name != "" && created.Name != s.Name {
			note = fmt.Sprintf(" (the name %s is taken by another Secret)", s.Name)
		}
		fmt.Fprintf(out, "%-14s %s  %-11s  as Secret %s/%s%s\n", verb, k.ID, k.Status, created.Namespace, created.Name, note)
	}
	summarizeRestore(out, o.controllerNs, restored, skipped, compromised, ro.dryRun)
	return nil
}

// readBackup reads --input: an age bundle, opened with the identities, or
// an unencrypted backup.
func (o *options) readBackup(ro *keysRestoreOptions) (*keybackup.Bundle, error) {
	var b []byte
	var err error
	if ro.input == "-" {
		b, err = io.ReadAll(io.LimitReader(o.streams.In, keybackup.MaxSize+1))
	} else {
		b, err = os.ReadFile(ro.input)
	}
	if err != nil {
		return nil, err
	}
	if keybackup.IsAgeFile(b) {
		return openBundle(b, ro.input, &ro.identityFlags, "identity")
	}
	f, err := readPlainFile(ro.input, b)
	if err != nil {
		return nil, fmt.Errorf("%w\n(the input is neither an age-encrypted bundle nor an unencrypted key backup)", err)
	}
	secrets, err := plainBackupSecrets([]plainFile{f}, ro.newest, o.streams.Err)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.streams.Err, "note: %s is not encrypted: once restored, delete it or turn it into a bundle with kubeseal keys backup --from-file\n", ro.input)
	return keybackup.FromSecrets(secrets)
}

// createKeySecret creates s, under a fresh generated name when its own is
// taken, so that no existing Secret is ever replaced.
func createKeySecret(ctx context.Context, client corev1client.SecretInterface, s *corev1.Secret, nameTaken bool, opts metav1.CreateOptions) (*corev1.Secret, error) {
	if nameTaken {
		s = renamed(s)
	}
	created, err := client.Create(ctx, s, opts)
	if apierrors.IsAlreadyExists(err) && s.Name != "" {
		// A Secret that is no key (or one made since the list) has the
		// name.
		created, err = client.Create(ctx, renamed(s), opts)
	}
	return created, err
}

func renamed(s *corev1.Secret) *corev1.Secret {
	s = s.DeepCopy()
	s.Name, s.GenerateName = "", keysecret.DefaultPrefix
	return s
}

func summarizeRestore(w io.Writer, ns string, restored, skipped, compromised int, dryRun bool) {
	if dryRun {
		fmt.Fprintf(w, "Dry run: %d keys would be restored into namespace %s, %d are already there. Nothing was changed.\n", restored, ns, skipped)
		return
	}
	fmt.Fprintf(w, "Restored %d keys into namespace %s; %d were already there.", restored, ns, skipped)
	if restored > 0 {
		fmt.Fprint(w, " A running controller loads them without a restart.")
	}
	fmt.Fprintln(w)
	if compromised > 0 {
		fmt.Fprintf(w, "%d of them are compromised: they unseal what they sealed but never seal again.\n", compromised)
	}
}
