package reencrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/google/renameio/v2"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/manifest"
)

// Resealer re-seals one SealedSecret with the newest key.
type Resealer interface {
	// Reseal returns a copy of ss whose encryptedData values are sealed
	// with the newest key, with values already sealed with it unchanged,
	// and the sealsync.dev/key-id annotation naming that key. Only those
	// two parts of the answer are used. ss is the caller's to keep; Reseal
	// may be called from several goroutines at once.
	Reseal(ctx context.Context, ss *ssv1alpha1.SealedSecret) (*ssv1alpha1.SealedSecret, error)
}

// Options control [Run].
type Options struct {
	// Jobs is how many files are re-sealed at once; 0 means GOMAXPROCS.
	Jobs int
	// DryRun re-seals and checks everything but writes nothing.
	DryRun bool
	// Report, when set, receives each file's result in the order of the
	// file list, whatever order they finish in.
	Report func(*FileResult)
	// Progress, when set, is called each time a file is done with the
	// number done so far and the number of files found.
	Progress func(done, total int)
}

// FileResult is what happened to one file.
type FileResult struct {
	// Path is the file as found under the paths given to [Run].
	Path string
	// Objects are the SealedSecrets found in it, in order.
	Objects []ObjectResult
	// Changed is true when the file was rewritten, or would have been in a
	// dry run.
	Changed bool
	// Err says why the whole file was left untouched: it could not be
	// read, parsed, checked or written.
	Err error
}

// Failed reports whether the file or any of its SealedSecrets failed.
func (r *FileResult) Failed() bool {
	if r.Err != nil {
		return true
	}
	for _, o := range r.Objects {
		if o.Err != nil {
			return true
		}
	}
	return false
}

// ObjectResult is what happened to one SealedSecret.
type ObjectResult struct {
	// Document is the 1-based position of its YAML document or JSON value
	// in the file; Item its 1-based position in a List, 0 outside one.
	Document, Item int
	// Namespace and Name are its metadata's, when they could be read.
	Namespace, Name string
	// Items is the number of encryptedData entries.
	Items int
	// Resealed are the entries whose ciphertext changed, sorted.
	Resealed []string
	// FromKey and ToKey are the key-id annotation before and after, ""
	// when absent.
	FromKey, ToKey string
	// Err says why this SealedSecret was left as it was.
	Err error
}

// Changed reports whether any value or the key-id annotation changed.
func (o *ObjectResult) Changed() bool { return len(o.Resealed) > 0 || o.FromKey != o.ToKey }

// Summary counts the outcome of a [Run].
type Summary struct {
	// Files were read; FilesChanged rewritten (or, in a dry run, would
	// have been); FilesFailed had a failure of their own or in one of
	// their SealedSecrets.
	Files, FilesChanged, FilesFailed int
	// Found SealedSecrets were either re-sealed, unchanged (already
	// sealed with the newest key) or failed.
	Found, Resealed, Unchanged, Failed int
}

func (s *Summary) add(r *FileResult) {
	s.Files++
	if r.Changed && r.Err == nil {
		s.FilesChanged++
	}
	if r.Failed() {
		s.FilesFailed++
	}
	for _, o := range r.Objects {
		s.Found++
		switch {
		case o.Err != nil || r.Err != nil && o.Changed():
			s.Failed++
		case o.Changed():
			s.Resealed++
		default:
			s.Unchanged++
		}
	}
}

// String is the one-line summary kubeseal reencrypt prints.
func (s Summary) String() string {
	return fmt.Sprintf("%d files scanned, %d SealedSecrets found: %d re-sealed, %d unchanged, %d failed (%d files rewritten, %d failed)",
		s.Files, s.Found, s.Resealed, s.Unchanged, s.Failed, s.FilesChanged, s.FilesFailed)
}

// ErrNoFiles is returned by [Run] when the paths hold no file to read.
var ErrNoFiles = errors.New("no YAML or JSON files found")

// Run re-seals with r every SealedSecret in the YAML and JSON files under
// paths, several files at a time, and rewrites the files that change. A
// failure is reported in its file's result and the other files are still
// done; the error is for paths that do not exist, or a cancelled ctx.
func Run(ctx context.Context, r Resealer, paths []string, opts Options) (Summary, error) {
	files, err := walk(paths)
	if err != nil {
		return Summary{}, err
	}
	if len(files) == 0 {
		return Summary{}, ErrNoFiles
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	type done struct {
		i   int
		res *FileResult
	}
	todo, results := make(chan int), make(chan done)
	var wg sync.WaitGroup
	for range min(jobs, len(files)) {
		wg.Go(func() {
			for i := range todo {
				results <- done{i, process(ctx, r, files[i], opts.DryRun)}
			}
		})
	}
	go func() {
		defer close(results)
		defer wg.Wait()
		defer close(todo)
		for i := range files {
			select {
			case todo <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	var (
		sum     Summary
		ordered = make([]*FileResult, len(files))
		next, n int
	)
	for d := range results {
		ordered[d.i] = d.res
		n++
		if opts.Progress != nil {
			opts.Progress(n, len(files))
		}
		for ; next < len(files) && ordered[next] != nil; next++ {
			sum.add(ordered[next])
			if opts.Report != nil {
				opts.Report(ordered[next])
			}
			ordered[next] = nil
		}
	}
	return sum, ctx.Err()
}

// process re-seals one file and, unless dryRun, rewrites it.
func process(ctx context.Context, r Resealer, f target, dryRun bool) *FileResult {
	res := &FileResult{Path: f.path}
	if f.err != nil {
		res.Err = f.err
		return res
	}
	data, err := readFile(f.real)
	if err != nil {
		res.Err = err
		return res
	}
	// Anything else is not a manifest this tool rewrites: Helm templates
	// and other files with a .yaml name that do not parse are left alone.
	if !bytes.Contains(data, []byte("SealedSecret")) {
		return res
	}
	out, objs, err := rewrite(ctx, r, data)
	res.Objects = objs
	if err != nil {
		res.Err = err
		return res
	}
	if bytes.Equal(out, data) {
		return res
	}
	res.Changed = true
	if dryRun {
		return res
	}
	res.Err = replaceFile(f.real, data, out)
	return res
}

// readFile reads a file up to manifest.MaxInputSize bytes.
func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, manifest.MaxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > manifest.MaxInputSize {
		return nil, fmt.Errorf("larger than %d MiB", manifest.MaxInputSize>>20)
	}
	return data, nil
}

// replaceFile atomically replaces path, which held old when it was read,
// with data, keeping its mode. A file changed meanwhile, by an editor or a
// git checkout, is left alone rather than overwritten with stale content.
func replaceFile(path string, old, data []byte) error {
	pf, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o644), renameio.WithExistingPermissions())
	if err != nil {
		return err
	}
	defer func() { _ = pf.Cleanup() }()
	if _, err := pf.Write(data); err != nil {
		return err
	}
	now, err := readFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(now, old) {
		return errors.New("the file changed while it was being re-sealed; left as it is")
	}
	return pf.CloseAtomicallyReplace()
}
