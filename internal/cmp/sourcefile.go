package cmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/sopsx"
	"github.com/sealsync/sealsync/providers"
)

// placeholderReader reads the secrets placeholders name: a path that is a
// SOPS-encrypted file of the source, relative to the application's folder
// (argocd-vault-plugin's sops backend: <path:secrets.sops.yaml#key>), is
// read from that file with the project's keys; any other path from the
// project's store, opened on the first such read. Both belong to the
// project: a file decrypts only with its keys, the store answers only
// with its credentials.
type placeholderReader struct {
	src     fs.FS
	dir     string
	dec     *sopsx.Decryptor
	maxSize int64

	openStore func(context.Context) (providers.Client, error)
	once      sync.Once
	client    providers.Client
	storeErr  error
}

var _ placeholder.Reader = (*placeholderReader)(nil)

func (r *placeholderReader) Read(ctx context.Context, ref placeholder.Ref) (map[string]any, error) {
	if name, data, ok := r.sopsFile(ref.Path); ok {
		if ref.Version != "" {
			return nil, fmt.Errorf("%s is a SOPS file of the source: it has no versions", ref.Path)
		}
		return r.readSOPS(name, data)
	}
	r.once.Do(func() { r.client, r.storeErr = r.openStore(ctx) })
	if r.storeErr != nil {
		return nil, r.storeErr
	}
	return storeReader{client: r.client}.Read(ctx, ref)
}

// close closes the store's client, if one was opened: it revokes a token
// the client logged in for. A failure does not change the output.
func (r *placeholderReader) close(ctx context.Context) {
	if r.client != nil {
		_ = r.client.Close(context.WithoutCancel(ctx))
	}
}

// sopsFile returns the file of the source p names, relative to the
// application's folder, if it is a SOPS-encrypted file within the size
// limit.
func (r *placeholderReader) sopsFile(p string) (string, []byte, bool) {
	name := path.Join(r.dir, p)
	if !fs.ValidPath(name) || path.IsAbs(p) {
		return "", nil, false
	}
	f, err := r.src.Open(name)
	if err != nil {
		return "", nil, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > r.maxSize {
		return "", nil, false
	}
	data, err := io.ReadAll(io.LimitReader(f, r.maxSize+1))
	if err != nil || int64(len(data)) > r.maxSize || !sopsx.IsEncrypted(name, data) {
		return "", nil, false
	}
	return name, data, true
}

// readSOPS decrypts a SOPS file and returns its top-level keys: a YAML or
// JSON mapping, or a dotenv file's variables.
func (r *placeholderReader) readSOPS(name string, data []byte) (map[string]any, error) {
	plain, err := r.dec.Decrypt(name, data)
	if err != nil {
		return nil, err
	}
	switch sopsx.FormatForPath(name) {
	case sopsx.YAML, sopsx.JSON:
		var m map[string]any
		if err := yaml.Unmarshal(plain, &m); err != nil {
			// The parser's message may quote the plaintext.
			return nil, fmt.Errorf("%s: not a mapping of keys", name)
		}
		return m, nil
	case sopsx.Dotenv:
		return dotenv(plain), nil
	}
	return nil, errors.New(name + ": only YAML, JSON and dotenv SOPS files hold keys for placeholders")
}

// dotenv reads KEY=value lines as sops writes them: comments and blank
// lines skipped, "\n" in a value a newline.
func dotenv(b []byte) map[string]any {
	m := map[string]any{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = strings.ReplaceAll(v, `\n`, "\n")
		}
	}
	return m
}
