package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

// minKeyIDPrefix is the fewest hex digits of a key ID that `keys
// compromise` takes: fewer would match by accident too easily.
const minKeyIDPrefix = 6

var hexDigits = regexp.MustCompile(`^[0-9a-f]+$`)

func newKeysCompromiseCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "compromise KEY-ID",
		Short: "Mark a sealing key compromised: it unseals but never seals again",
		Long: `Relabel the key Secret of KEY-ID in --controller-namespace
` + keysecret.Label + `=compromised. KEY-ID is the full ID or a prefix of at
least ` + fmt.Sprint(minKeyIDPrefix) + ` hex digits that matches one key (kubeseal keys list shows them).

The controller stops sealing with the key at once and, if it was the only
active key, generates a new one. It still unseals what the key sealed, so
nothing breaks; re-seal those values with the newest key and then change the
secrets themselves, since whoever had the key can read every copy ever
committed. Backups keep the label, so a restored key stays compromised.

This needs list and patch rights on Secrets in the controller's namespace.`,
		Example: `  kubeseal keys list
  kubeseal keys compromise 3f2a9c81d0b7`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.compromiseKey(cmd.Context(), args[0])
		},
	}
}

func (o *options) compromiseKey(ctx context.Context, arg string) error {
	prefix := strings.ToLower(strings.TrimSpace(arg))
	if len(prefix) < minKeyIDPrefix || len(prefix) > len(crypto.KeyID{})*2 || !hexDigits.MatchString(prefix) {
		return fmt.Errorf("%q is not a key ID: want %d to 64 hex digits (kubeseal keys list shows the IDs)", arg, minKeyIDPrefix)
	}
	client, err := o.secretsClient()
	if err != nil {
		return err
	}
	secrets, err := o.listKeySecrets(ctx, client)
	if err != nil {
		return err
	}
	byID := map[crypto.KeyID][]*corev1.Secret{}
	for i := range secrets {
		s := &secrets[i]
		id, err := keysecret.IDOf(s)
		if err != nil {
			fmt.Fprintf(o.streams.Err, "warning: skipping Secret %s/%s: %v\n", s.Namespace, s.Name, err)
			continue
		}
		if strings.HasPrefix(id.String(), prefix) {
			byID[id] = append(byID[id], s)
		}
	}
	var id crypto.KeyID
	switch len(byID) {
	case 0:
		return fmt.Errorf("no key Secret in namespace %q has a key ID starting %s (kubeseal keys list shows the IDs)", o.controllerNs, prefix)
	case 1:
		for k := range byID {
			id = k
		}
	default:
		var ids []string
		for k := range byID {
			ids = append(ids, k.Short())
		}
		return fmt.Errorf("key ID prefix %s is ambiguous: it starts %s; give more digits", prefix, strings.Join(ids, ", "))
	}

	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"labels": map[string]string{keysecret.Label: crypto.StatusCompromised.String()}},
	})
	if err != nil {
		return err
	}
	out := o.streams.Out
	for _, s := range byID[id] {
		if s.Labels[keysecret.Label] == crypto.StatusCompromised.String() {
			fmt.Fprintf(out, "Key %s is already compromised (Secret %s/%s).\n", id, s.Namespace, s.Name)
			continue
		}
		// Only the label changes: the merge patch leaves the rest alone.
		if _, err := client.Patch(ctx, s.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("cannot relabel key Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		fmt.Fprintf(out, "Marked key %s compromised (Secret %s/%s).\n", id, s.Namespace, s.Name)
	}
	fmt.Fprintf(out, `The controller no longer seals with it; it still unseals what it sealed, so nothing
breaks. If it was the only active key, the controller generates a new one.
Next:
  1. Re-seal everything sealed with it using the newest key:
       kubeseal reencrypt DIR...
  2. Change the secret values themselves: whoever has the key can read every
     sealed copy in your Git history.
  3. Take a fresh backup, unless the controller's automatic backup is on:
       kubeseal keys backup -r RECIPIENT -o keys.age
`)
	return nil
}
