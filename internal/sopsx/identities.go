package sopsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sealsync/sealsync/keybackup"
)

const (
	// identityFileExt names the files of a project's folder that hold age
	// identities; other files (a README, Kubernetes' ..data links) are
	// left alone.
	identityFileExt = ".txt"
	// maxIdentityFiles is how many identity files one project's folder
	// may hold.
	maxIdentityFiles = 64
	// maxIdentityFileSize is the largest identity file read, in bytes:
	// an age identity line is 74 bytes, a post-quantum one under 3 KiB.
	maxIdentityFileSize = 256 << 10
)

// ErrInvalidProject is returned for a project name that is not an Argo CD
// AppProject name (a DNS-1123 subdomain), such as "", "..", "a/b".
var ErrInvalidProject = errors.New("invalid project name")

// LoadIdentities returns the age identities of one Argo CD project: those
// in the *.txt files of dir/project, each an identity file as age-keygen
// writes it (or an unencrypted SSH private key, as age and sops accept).
// dir is the operator's keys folder; project must come from a source the
// repository's author cannot set (Argo CD's ARGOCD_APP_PROJECT_NAME).
//
// A project without a folder has no identities: the result is empty and
// the error nil, so its SOPS files fail to decrypt as any file for a key
// it lacks does. The name is checked before it touches the file system:
// it must be a Kubernetes object name, so it is one path segment and never
// "." or "..". Links inside the operator's folder are followed, as
// Kubernetes mounts Secret keys as links.
func LoadIdentities(dir, project string) ([]age.Identity, error) {
	if err := ValidateProject(project); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("sopsx: no keys folder given")
	}
	pdir := filepath.Join(dir, project)
	entries, err := os.ReadDir(pdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sopsx: keys of project %s: %w", project, err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, identityFileExt) && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	if len(names) > maxIdentityFiles {
		return nil, fmt.Errorf("sopsx: keys of project %s: more than %d identity files", project, maxIdentityFiles)
	}
	slices.Sort(names)
	var ids []age.Identity
	for _, n := range names {
		is, err := readIdentityFile(filepath.Join(pdir, n))
		if err != nil {
			// keybackup's errors name a line, never quote it.
			return nil, fmt.Errorf("sopsx: keys of project %s: %s: %w", project, n, err)
		}
		ids = append(ids, is...)
	}
	return ids, nil
}

// ValidateProject returns an error wrapping [ErrInvalidProject] unless
// project is an Argo CD AppProject name: a DNS-1123 subdomain, which is a
// single path segment that is neither "." nor "..".
func ValidateProject(project string) error {
	if errs := validation.IsDNS1123Subdomain(project); len(errs) > 0 {
		return fmt.Errorf("sopsx: %w %q: %s", ErrInvalidProject, project, strings.Join(errs, "; "))
	}
	return nil
}

func readIdentityFile(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > maxIdentityFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxIdentityFileSize)
	}
	// No passphrase callback: the plugin runs unattended, so a
	// passphrase-protected SSH key is refused.
	return keybackup.ParseIdentities(f, nil)
}
