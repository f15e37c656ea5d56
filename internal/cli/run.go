package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/sealsync/sealsync/internal/manifest"
)

// run does what Bitnami's kubeseal does with the same flags, in the same
// order of precedence.
func (o *options) run(ctx context.Context, cmd *cobra.Command) (err error) {
	if len(o.fromFile) != 0 && !o.raw {
		return errors.New("--from-file requires --raw")
	}
	in := o.streams.In
	if o.inputFileName != "" {
		f, err := os.Open(o.inputFileName)
		if err != nil {
			return fmt.Errorf("could not read file specified with --secret-file: %w", err)
		}
		defer f.Close()
		in = f
	} else if !o.raw && !o.fetchCert && isTerminal(in) {
		fmt.Fprintln(o.streams.Err, "(tty detected: expecting json/yaml k8s resource in stdin)")
	}

	// --re-encrypt rewrites its only input file in place (Bitnami #405).
	if o.reEncrypt && o.outputFileName == "" && o.inputFileName != "" {
		o.outputFileName = o.inputFileName
	}
	format, err := manifest.ParseFormat(o.outputFormat)
	if err != nil {
		return err
	}
	var out io.Writer = o.streams.Out
	if o.outputFileName != "" {
		if ext := filepath.Ext(o.outputFileName); ext == ".yaml" || ext == ".yml" {
			format = manifest.YAML
		}
		// Written to a temporary file and renamed over the target only if
		// everything succeeded: a failed run never leaves half a file.
		// Unsealed Secrets are plaintext: only their owner may read them.
		create := createAtomic
		if o.recoveryUnseal {
			create = createPrivateAtomic
		}
		af, cerr := create(o.outputFileName)
		if cerr != nil {
			return cerr
		}
		// err is the named result: the file is kept only if run succeeds.
		defer func() {
			if err == nil {
				err = af.commit()
			} else {
				af.abort()
			}
		}()
		out = af
	}

	if o.recoveryUnseal {
		return o.recover(in, out, format)
	}
	if len(o.privKeys) != 0 && isTerminal(o.streams.Err) {
		fmt.Fprintln(o.streams.Err, "warning: ignoring --recovery-private-key because unseal command not chosen with --recovery-unseal")
	}
	if o.validate {
		return o.validateOnline(ctx, in)
	}
	if o.reEncrypt {
		return o.reEncryptOnline(ctx, in, out, format)
	}

	certPEM, err := o.openCert(ctx)
	if err != nil {
		return err
	}
	if o.fetchCert {
		_, err := out.Write(certPEM)
		return err
	}
	sealer, err := newSealer(certPEM)
	if err != nil {
		return err
	}
	scope, scopeSet := o.scope.Scope, cmd.Flags().Changed("scope")
	switch {
	case o.mergeInto != "":
		if !cmd.Flags().Changed("format") {
			format = ""
		}
		return o.sealMergingInto(in, sealer, scope, scopeSet, format)
	case o.raw:
		return o.sealRaw(out, sealer, scope)
	}
	return o.seal(in, out, format, sealer, sealSettings{scope: scope, scopeSet: scopeSet})
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// readFromFile reads the one --from-file of --raw, in kubectl's [key=]path
// syntax; the key is ignored because a raw value has none. It is capped as
// stdin is: the path may be /dev/stdin or a device that never ends.
func readFromFile(spec string) ([]byte, error) {
	_, path := parseFromFile(spec)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := manifest.ReadInput(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// parseFromFile splits kubectl's --from-file syntax "[key=]path".
func parseFromFile(s string) (key, path string) {
	if k, p, ok := bytes.Cut([]byte(s), []byte("=")); ok {
		return string(k), string(p)
	}
	return "", s
}
