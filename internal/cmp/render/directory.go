package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sealsync/sealsync/internal/sopsx"
)

// skipNonManifest says which files and folders of a directory source are
// not read: folders whose name starts with "." (.git, .github), and files
// other than *.yaml, *.yml and *.json, as Argo CD's directory
// applications choose them.
func skipNonManifest(name string, d fs.DirEntry) bool {
	if d.IsDir() {
		return strings.HasPrefix(d.Name(), ".")
	}
	switch path.Ext(name) {
	case ".yaml", ".yml", ".json":
		return false
	}
	return true
}

// errSOPSWithoutDecrypter is wrapped when a source holds a SOPS file and
// the render was given no Decrypter: passing ciphertext on as a manifest
// would apply an unusable object (the silent failure KSOPS users know).
var errSOPSWithoutDecrypter = errors.New("a SOPS-encrypted file, and no keys to decrypt it")

// renderDirectory reads every manifest file under dir, recursively, in
// lexical order (folders starting with "." skipped), decrypting SOPS
// files, and decodes their documents.
func renderDirectory(ctx context.Context, s *source, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	var size int64
	err := s.walkFiles(dir, skipNonManifest, func(name string, data []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := decryptFile(ctx, opts.Decrypter, name, data)
		if err != nil {
			return err
		}
		if size += int64(len(data)); size > opts.Limits.MaxOutputSize {
			return fmt.Errorf("%w: output larger than %d bytes", ErrLimit, opts.Limits.MaxOutputSize)
		}
		o, err := decodeObjects(data, name)
		if err != nil {
			return err
		}
		objs = append(objs, o...)
		return nil
	})
	return objs, err
}

// decryptFile decrypts data, the file name, if it is SOPS-encrypted. With
// no Decrypter, an encrypted file is refused.
func decryptFile(ctx context.Context, d Decrypter, name string, data []byte) ([]byte, error) {
	if d == nil {
		d = refuseSOPS{}
	}
	out, _, err := d.DecryptFile(ctx, name, data)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// refuseSOPS is the Decrypter of a render given none.
type refuseSOPS struct{}

func (refuseSOPS) DecryptFile(_ context.Context, name string, data []byte) ([]byte, bool, error) {
	if sopsx.IsEncrypted(name, data) {
		return nil, false, fmt.Errorf("%s: %w", name, errSOPSWithoutDecrypter)
	}
	return data, false, nil
}
