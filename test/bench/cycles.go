package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// What the ExternalSecret subcommands (eso, aws) share: their flags, the
// windows of one refresh interval they count a provider's requests in,
// timing a new ExternalSecret to Ready, and printing the report.

// cycleFlags are the flags every ExternalSecret subcommand takes.
type cycleFlags struct {
	cycles int
	out    string
	keep   bool
	// extra are controller flags added to the defaults.
	extra    []string
	rawExtra string
}

// bind defines the flags on fs; counted names what is counted per cycle.
func (o *cycleFlags) bind(fs *flag.FlagSet, counted string) {
	fs.IntVar(&o.cycles, "cycles", 2, "count "+counted+" over `N` refresh intervals (1 min each) after the initial sync")
	fs.StringVar(&o.out, "o", "", "also write the report (markdown) to `FILE`")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folder (controller log, kubeconfig) even on success")
	fs.StringVar(&o.rawExtra, "controller-flags", "", "extra controller `FLAGS` (space-separated), e.g. --kubeclient-qps=-1, to see what a change would gain")
}

// parse parses args with fs, on which bind defined the flags.
func (o *cycleFlags) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.extra = strings.Fields(o.rawExtra)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.cycles < 1 {
		return fmt.Errorf("-cycles must be at least 1")
	}
	return nil
}

// firstWindow waits for the first refresh slot after synced, the moment
// half of the count ExternalSecrets refreshed (a slot, not the few that a
// controller may sync twice at the end of the initial sync), and returns
// when the first counting window begins: half an interval later, so that
// each window of one interval holds one slot and its edges fall between
// slots.
func firstWindow(ctx context.Context, l *refreshLog, synced time.Time, count int, interval time.Duration) (time.Time, error) {
	progress("waiting for the first refresh slot")
	slot, err := l.nthAfter(ctx, synced, count/2, 2*interval)
	if err != nil {
		return time.Time{}, err
	}
	from := slot.Add(interval / 2)
	progress("refresh slot at %s; counting from %s", slot.Format("15:04:05.0"), from.Format("15:04:05"))
	return from, nil
}

// timeToReady creates es and returns how long it took to be Ready, as w
// saw it.
func timeToReady(ctx context.Context, k *cluster, w *objectWatch, es *esv1.ExternalSecret) (time.Duration, error) {
	start := time.Now()
	if err := k.client.Create(ctx, es); err != nil {
		return 0, fmt.Errorf("create external secret %s/%s: %w", es.Namespace, es.Name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	readyAt, err := w.waitFor(wctx, es.Namespace+"/"+es.Name)
	if err != nil {
		return 0, fmt.Errorf("external secret %s/%s not Ready: %w", es.Namespace, es.Name, err)
	}
	return readyAt.Sub(start), nil
}

// finish prints a report, also writes it to out if set, and fails with
// the goals it missed.
func finish(text, out string, missed []string) error {
	fmt.Print(text)
	if out != "" {
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			return err
		}
	}
	if len(missed) > 0 {
		return fmt.Errorf("goals missed: %s", strings.Join(missed, "; "))
	}
	return nil
}
