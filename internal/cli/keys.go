package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/server"
)

// keysPollInterval is how often `keys rotate --wait` asks the controller
// for its keys: under its default rate limit of 2 requests per second.
var keysPollInterval = 2 * time.Second

func newKeysCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, rotate, back up, restore and retire the controller's sealing keys",
		Long: `Manage the sealing keys of the controller found with --controller-name and
--controller-namespace. Listing goes through the API server's service proxy,
like --fetch-cert. The other commands work on the key Secrets themselves, so
they need RBAC rights on Secrets in the controller's namespace: rotate and
compromise change labels and annotations, backup reads the private keys,
restore creates key Secrets.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKeysListCommand(o), newKeysRotateCommand(o), newKeysBackupCommand(o),
		newKeysRestoreCommand(o), newKeysCompromiseCommand(o))
	return cmd
}

type keysListOptions struct {
	output string
	long   bool
}

func newKeysListCommand(o *options) *cobra.Command {
	lo := &keysListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the controller's sealing keys, newest first",
		Long: `List the controller's sealing keys, newest first: key ID, status (active keys
seal and unseal, compromised keys only unseal), when the key was created,
when its certificate expires, and which key new values are sealed with.
Only public facts are fetched, from the controller's /v1/keys endpoint
through the API server's service proxy (services/proxy permission).

Sealed objects name the key that sealed them in their sealsync.dev/key-id
annotation; compare it with the full IDs of --long or -o json.`,
		Example: `  # Table with short key IDs
  kubeseal keys list

  # Full key IDs, or machine-readable output
  kubeseal keys list --long
  kubeseal keys list -o json

  # A controller installed elsewhere
  kubeseal keys list --controller-namespace sealed-secrets --controller-name sealed-secrets`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.listKeys(cmd.Context(), lo)
		},
	}
	cmd.Flags().StringVarP(&lo.output, "output", "o", "", "Output format: json or yaml. Default is a table")
	cmd.Flags().BoolVar(&lo.long, "long", false, "Show full key IDs in the table")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("json", "yaml"))
	return cmd
}

// keys fetches the controller's key list.
func (c *controllerClient) keys(ctx context.Context) (*server.KeyList, error) {
	b, err := c.get(ctx, "/v1/keys", "list keys")
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("the controller %s/%s does not serve /v1/keys: Bitnami's sealed-secrets controller cannot list its keys", c.namespace, c.name)
		}
		return nil, err
	}
	list := &server.KeyList{}
	if err := json.Unmarshal(b, list); err != nil {
		return nil, fmt.Errorf("the controller answered /v1/keys with an invalid key list: %w", err)
	}
	return list, nil
}

func (o *options) listKeys(ctx context.Context, lo *keysListOptions) error {
	switch lo.output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("unsupported output format: %s (want json or yaml)", lo.output)
	}
	c, err := o.controller()
	if err != nil {
		return err
	}
	list, err := c.keys(ctx)
	if err != nil {
		return err
	}
	out := o.streams.Out
	switch lo.output {
	case "json":
		b, err := json.MarshalIndent(list, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(list)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	if len(list.Keys) == 0 {
		fmt.Fprintf(o.streams.Err, "No keys: the controller %s/%s has not loaded or generated a key yet.\n", c.namespace, c.name)
		return nil
	}
	return writeKeyTable(out, list, lo.long)
}

func writeKeyTable(w io.Writer, list *server.KeyList, long bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tSTATUS\tCREATED\tEXPIRES\tLATEST")
	for _, k := range list.Keys {
		id := k.ID
		if !long {
			if parsed, err := crypto.ParseKeyID(k.ID); err == nil {
				id = parsed.Short()
			}
		}
		expires := k.NotAfter
		if expires == "" {
			expires = "-"
		}
		latest := "no"
		if k.Latest {
			latest = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, k.Status, k.Created, expires, latest)
	}
	return tw.Flush()
}

type keysRotateOptions struct {
	wait    bool
	timeout time.Duration
}

func newKeysRotateCommand(o *options) *cobra.Command {
	ro := &keysRotateOptions{}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Ask the controller to generate a new sealing key now",
		Long: `Ask the controller to generate a new sealing key now, instead of waiting for
its renewal period. kubeseal annotates the newest key Secret in
--controller-namespace with ` + keysecret.RenewRequestAnnotation + `=<now>;
the controller generates a key if its newest one is older than that time.
Old keys are kept, so everything sealed before still unseals.

Only the Secrets' metadata is read, never a private key. You need list and
patch rights on Secrets in the controller's namespace: the API server checks
them, which is why this is not a call to the controller.

With --wait, kubeseal then polls the controller's key list through the
service proxy until a new key is the latest, and prints its ID. Re-encrypt
existing SealedSecrets with --re-encrypt afterwards if you wish.`,
		Example: `  # Ask for a new key and wait until the controller seals with it
  kubeseal keys rotate --wait

  # Ask and return at once
  kubeseal keys rotate --controller-namespace sealed-secrets

  # Then re-encrypt a SealedSecret in place with the new key
  kubeseal --re-encrypt -f db-sealed.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.rotateKeys(cmd.Context(), ro)
		},
	}
	cmd.Flags().BoolVar(&ro.wait, "wait", false, "Wait until the controller seals with a new key")
	cmd.Flags().DurationVar(&ro.timeout, "timeout", 5*time.Minute, "How long --wait waits")
	return cmd
}

var secretsResource = corev1.SchemeGroupVersion.WithResource("secrets")

func (o *options) rotateKeys(ctx context.Context, ro *keysRotateOptions) error {
	conf, err := o.clientConfig().ClientConfig()
	if err != nil {
		return err
	}
	// With --wait, the keys before the request tell the new one apart, and
	// fetching them first fails early when the controller cannot be
	// reached, before anything is changed.
	var (
		c      *controllerClient
		before *server.KeyList
	)
	if ro.wait {
		if c, err = o.controller(); err != nil {
			return err
		}
		if before, err = c.keys(ctx); err != nil {
			return err
		}
	}

	meta, err := metadata.NewForConfig(conf)
	if err != nil {
		return err
	}
	secrets := meta.Resource(secretsResource).Namespace(o.controllerNs)
	// Metadata only: the key Secrets hold private keys, which this command
	// never needs and so never downloads.
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: keysecret.Label})
	if err != nil {
		return fmt.Errorf("cannot list the key Secrets in namespace %q: %w", o.controllerNs, err)
	}
	if len(list.Items) == 0 {
		return fmt.Errorf("no sealing key Secrets (label %s) in namespace %q: use --controller-namespace to point at the controller's namespace", keysecret.Label, o.controllerNs)
	}
	newest := slices.MaxFunc(list.Items, func(a, b metav1.PartialObjectMetadata) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})

	requested := time.Now().UTC().Format(time.RFC3339)
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{keysecret.RenewRequestAnnotation: requested}},
	})
	if err != nil {
		return err
	}
	if _, err := secrets.Patch(ctx, newest.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cannot annotate key Secret %s/%s: %w", o.controllerNs, newest.Name, err)
	}
	fmt.Fprintf(o.streams.Out, "Requested a new sealing key at %s (annotated Secret %s/%s).\n", requested, o.controllerNs, newest.Name)
	if !ro.wait {
		return nil
	}
	id, err := waitForNewKey(ctx, c, before, ro.timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "The controller now seals with key %s.\n", id)
	return nil
}

// waitForNewKey polls the controller's keys until the latest is not one of
// before, and returns its ID. Errors on the way (a restarting controller,
// a 429) are retried and the last one is reported at the timeout.
func waitForNewKey(ctx context.Context, c *controllerClient, before *server.KeyList, timeout time.Duration) (string, error) {
	known := map[string]bool{}
	for _, k := range before.Keys {
		known[k.ID] = true
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(keysPollInterval)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("no new key after %v: is the controller running, and does it handle %s", timeout, keysecret.RenewRequestAnnotation)
			if last != nil {
				return "", fmt.Errorf("%s? last error: %w", msg, last)
			}
			return "", errors.New(msg + "?")
		case <-tick.C:
		}
		list, err := c.keys(ctx)
		if err != nil {
			last = err
			continue
		}
		for _, k := range list.Keys {
			if k.Latest && !known[k.ID] {
				return k.ID, nil
			}
		}
	}
}
