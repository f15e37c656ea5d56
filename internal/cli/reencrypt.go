package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keyfile"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/reencrypt"
)

// onlineJobs is how many files reencrypt re-seals at once through the
// controller unless -j says otherwise: the controller's default burst on
// /v1/rotate. More requests only queue behind its rate limit, and a
// request refused too often exhausts client-go's retries.
const onlineJobs = 2

// progressInterval is how often reencrypt reports progress on a large
// tree.
var progressInterval = time.Second

type reencryptOptions struct {
	dryRun      bool
	privateKeys []string
	backups     []string
	identity    identityFlags
	jobs        int
	newest      string
}

const reencryptLong = `Re-seal every SealedSecret in the given files and folders with the newest
sealing key: after a key renewal, or to move everything off a key that must
be retired.

Folders are walked for *.yaml, *.yml and *.json files; hidden folders such as
.git are skipped and symbolic links inside them are not followed. Every
SealedSecret is found, in multi-document YAML and in v1 Lists too, and only
the values not yet sealed with the newest key are replaced. Comments, key
order, quoting, other documents and line endings stay byte for byte, so the
Git diff shows the new ciphertext and the sealsync.dev/key-id annotation and
nothing else; a second run changes nothing. Files that do not contain the
word SealedSecret are not parsed, so Helm templates are left alone.

By default the controller re-seals through the API server's service proxy
(POST /v1/rotate, as --re-encrypt does), so no private key leaves the
cluster. The controller rate-limits that endpoint per client (2 requests per
second unless it was started with another --rate-limit), which bounds how
fast a large tree goes. With --private-key the work is done offline with
backed-up keys: PEM private keys with their certificates, or key Secrets as
'kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml'
writes them; with --backup it is done offline with an age backup bundle made
by 'kubeseal keys backup', opened with --identity or a passphrase. The newest
active key seals; compromised keys only unseal. Offline, the newest must be
known: a key without its certificate carries no date, and keys whose
certificates carry the same date (such as two keys dated 1970-01-01 by an
earlier 'kubeseal keys backup' of bare PEM keys) are not ordered. Then
nothing is re-sealed, since re-sealing onto an older key would undo a
renewal: give the keys' certificates, or name the newest with --newest.

Each rewritten file is parsed back and checked before it atomically replaces
the original, keeping its mode. A file or SealedSecret that cannot be
re-sealed is reported with the reason and left as it is, the others are
still done, and the exit status is 1. Re-sealed objects are listed on
stdout; progress, failures and the summary go to stderr.`

const reencryptExamples = `  # Move every SealedSecret in the repository to the controller's newest key
  kubeseal reencrypt .

  # See first what would change, and from which key
  kubeseal reencrypt --dry-run clusters/prod

  # Offline, with backed-up keys: no cluster needed
  kubeseal reencrypt --private-key keys-backup.yaml --private-key old-key.pem clusters/ apps/db-sealed.json

  # Offline, with the age bundle of 'kubeseal keys backup'
  kubeseal reencrypt --backup keys.age --identity offline.key clusters/

  # A controller installed elsewhere, four files at a time
  kubeseal reencrypt --controller-namespace sealed-secrets --controller-name sealed-secrets -j 4 .`

func newReencryptCommand(o *options) *cobra.Command {
	ro := &reencryptOptions{}
	cmd := &cobra.Command{
		Use:     "reencrypt PATH...",
		Short:   "Re-seal every SealedSecret in files and folders with the newest key",
		Long:    reencryptLong,
		Example: reencryptExamples,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("jobs") && ro.offlineKeys() == nil {
				ro.jobs = onlineJobs
			}
			// Ctrl-C stops handing out files; those in flight finish, so
			// no temporary file is left in the tree.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return o.reencrypt(ctx, ro, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&ro.dryRun, "dry-run", false, "List what would be re-sealed, and from which key to which, without writing anything")
	f.StringArrayVar(&ro.privateKeys, "private-key", nil, "Re-seal offline with the keys in this file instead of through the controller; repeatable. PEM private keys (with their certificates) or key Secret backups (json/yaml, v1.List too), as --recovery-private-key takes")
	f.IntVarP(&ro.jobs, "jobs", "j", 0, "Files to re-seal at once (default GOMAXPROCS offline, 2 through the controller)")
	f.StringArrayVar(&ro.backups, "backup", nil, "Re-seal offline with the keys of this age backup bundle (kubeseal keys backup); repeatable")
	f.StringVar(&ro.newest, "newest", "", newestFlagUsage+" (with --private-key or --backup)")
	f.StringArrayVar(&ro.identity.files, "identity", nil, "Identity file that opens a --backup bundle: age-keygen's output or an SSH private key. Repeatable")
	ro.identity.passphrase.bind(f, "", "Open a --backup bundle")
	for _, name := range []string{"private-key", "backup", "identity", "passphrase-file"} {
		_ = cmd.MarkFlagFilename(name)
	}
	return cmd
}

// keySource supplies the keys of an offline re-encryption.
type keySource interface {
	Keyring(ctx context.Context) (*crypto.Keyring, error)
}

// keyFiles are PEM private keys, key Secret backups and backup bundles,
// read as --recovery-private-key reads them.
type keyFiles struct {
	paths   []string
	ids     *identityFlags
	idFlag  string
	onlyAge bool
}

var _ keySource = (*keyFiles)(nil)

func (f *keyFiles) Keyring(context.Context) (*crypto.Keyring, error) {
	keys, err := loadKeyFiles(f.paths, f.ids, f.idFlag, f.onlyAge)
	if err != nil {
		return nil, err
	}
	return crypto.NewKeyring(keys...), nil
}

// offlineKeys returns the key source the flags choose, or nil to re-seal
// through the controller.
func (ro *reencryptOptions) offlineKeys() keySource {
	if len(ro.privateKeys)+len(ro.backups) == 0 {
		return nil
	}
	return keySources{
		&keyFiles{paths: ro.privateKeys, ids: &ro.identity, idFlag: "identity"},
		&keyFiles{paths: ro.backups, ids: &ro.identity, idFlag: "identity", onlyAge: true},
	}
}

// keySources joins the keys of several sources into one keyring.
type keySources []keySource

func (s keySources) Keyring(ctx context.Context) (*crypto.Keyring, error) {
	var keys []*crypto.Key
	for _, src := range s {
		ring, err := src.Keyring(ctx)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ring.Keys()...)
	}
	return crypto.NewKeyring(keys...), nil
}

// resealer returns the offline resealer for the chosen keys, or one that
// asks the controller, checking first that its Service exists.
func (o *options) resealer(ctx context.Context, ro *reencryptOptions) (reencrypt.Resealer, error) {
	if src := ro.offlineKeys(); src != nil {
		ring, err := src.Keyring(ctx)
		if err != nil {
			return nil, err
		}
		newest, err := keyfile.Newest(ring.Keys(), ro.newest)
		var oe *keyfile.OrderError
		switch {
		case errors.As(err, &oe):
			return nil, orderError(oe, func(*crypto.Key) string { return "" })
		case errors.Is(err, crypto.ErrNoActiveKey):
			return nil, errors.New("no key to seal with: every key given is compromised")
		case err != nil:
			return nil, fmt.Errorf("--newest: %w", err)
		}
		return reencrypt.NewOffline(ring, newest, rand.Reader)
	}
	if ro.newest != "" {
		return nil, errors.New("--newest orders the keys of --private-key and --backup; through the controller, the controller's newest key seals")
	}
	c, err := o.controller()
	if err != nil {
		return nil, err
	}
	port, err := c.portName(ctx)
	if err != nil {
		return nil, err
	}
	return &controllerResealer{c: c, port: port}, nil
}

func (o *options) reencrypt(ctx context.Context, ro *reencryptOptions, paths []string) error {
	r, err := o.resealer(ctx, ro)
	if err != nil {
		return err
	}
	out, errw := o.streams.Out, o.streams.Err
	verb := "re-sealed"
	if ro.dryRun {
		verb = "would re-seal"
	}
	p := &progress{w: errw, every: progressInterval, last: time.Now()}
	sum, err := reencrypt.Run(ctx, r, paths, reencrypt.Options{
		Jobs:     ro.jobs,
		DryRun:   ro.dryRun,
		Report:   func(fr *reencrypt.FileResult) { printResult(out, errw, verb, fr) },
		Progress: p.update,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	prefix := ""
	if ro.dryRun {
		prefix = "dry run, nothing written: "
	}
	fmt.Fprintf(errw, "%s%s\n", prefix, sum)
	if err != nil {
		return errors.New("interrupted before every file was done")
	}
	if sum.FilesFailed > 0 {
		return fmt.Errorf("%d of %d files could not be fully re-sealed", sum.FilesFailed, sum.Files)
	}
	return nil
}

// printResult lists the re-sealed objects of one file on out and its
// failures on errw. Neither ever holds a value.
func printResult(out, errw io.Writer, verb string, r *reencrypt.FileResult) {
	if r.Err != nil {
		fmt.Fprintf(errw, "error: %s: %v\n", r.Path, r.Err)
	}
	for _, ob := range r.Objects {
		where := r.Path + ": document " + fmt.Sprint(ob.Document)
		if ob.Item > 0 {
			where += fmt.Sprintf(" item %d", ob.Item)
		}
		switch {
		case ob.Namespace != "":
			where += " " + ob.Namespace + "/" + ob.Name
		case ob.Name != "":
			where += " " + ob.Name
		}
		switch {
		case ob.Err != nil:
			fmt.Fprintf(errw, "error: %s: %v\n", where, ob.Err)
		case r.Err == nil && ob.Changed():
			what := "key-id annotation only"
			if len(ob.Resealed) > 0 {
				what = fmt.Sprintf("%d of %d items (%s)", len(ob.Resealed), ob.Items, strings.Join(ob.Resealed, ", "))
			}
			fmt.Fprintf(out, "%s %s: %s, key %s -> %s\n", verb, where, what, shortKeyID(ob.FromKey), shortKeyID(ob.ToKey))
		}
	}
}

// shortKeyID abbreviates a key-id annotation as keys list does.
func shortKeyID(s string) string {
	if s == "" {
		return "none"
	}
	id, err := crypto.ParseKeyID(s)
	if err != nil {
		return "unknown"
	}
	return id.Short()
}

// progress prints how far a run is, at most once per interval and never
// for a run shorter than that.
type progress struct {
	w     io.Writer
	every time.Duration
	last  time.Time
}

func (p *progress) update(done, total int) {
	if done == total || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "%d/%d files done\n", done, total)
}

// controllerResealer re-seals through the controller's /v1/rotate, as
// --re-encrypt does, so the private keys never leave the cluster.
type controllerResealer struct {
	c    *controllerClient
	port string
}

var _ reencrypt.Resealer = (*controllerResealer)(nil)

func (r *controllerResealer) Reseal(ctx context.Context, ss *ssv1alpha1.SealedSecret) (*ssv1alpha1.SealedSecret, error) {
	body, err := json.Marshal(ss)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.postToPort(ctx, r.port, "/v1/rotate", body)
	if err != nil {
		if isConflict(err) {
			return nil, errors.New("the controller cannot unseal it with any of its keys")
		}
		return nil, fmt.Errorf("cannot re-encrypt through the controller: %w", err)
	}
	out := &ssv1alpha1.SealedSecret{}
	if err := json.Unmarshal(resp, out); err != nil {
		return nil, fmt.Errorf("the controller answered with an invalid SealedSecret: %w", manifest.Scrub(err))
	}
	return out, nil
}
