package cli

import (
	"github.com/google/renameio/v2"
)

// atomicFile is an output file written in full or not at all.
type atomicFile struct {
	*renameio.PendingFile
}

// createAtomic opens a temporary file beside path. Sealed output is meant
// for Git, so a new file is world-readable like any other source file; an
// existing file keeps its mode.
func createAtomic(path string) (*atomicFile, error) {
	f, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o644), renameio.WithExistingPermissions())
	if err != nil {
		return nil, err
	}
	return &atomicFile{f}, nil
}

// createPrivateAtomic is createAtomic for files only their owner may read,
// whatever the umask and whatever the mode of the file they replace:
// plaintext Secrets (--recovery-unseal) and key backups, which are
// ciphertext but name who can open them and how many keys exist.
//
// The temporary file is created with mode 0600 (or less, by the umask) and
// set to exactly 0600 before a byte is written, so no content is ever
// readable by others, not even between the write and the rename.
func createPrivateAtomic(path string) (*atomicFile, error) {
	f, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o600), renameio.IgnoreUmask())
	if err != nil {
		return nil, err
	}
	return &atomicFile{f}, nil
}

func (f *atomicFile) commit() error { return f.CloseAtomicallyReplace() }

func (f *atomicFile) abort() { _ = f.Cleanup() }
