package render

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
)

// maxLinkHops is how many symbolic links one path may go through, as
// Linux's own limit (ELOOP).
const maxLinkHops = 40

// source reads a repository's files within the render's limits. Every
// file a render reads comes through it: paths are checked to stay inside
// the source (symbolic links included), and files and bytes are counted
// against Limits. It is safe for concurrent use.
type source struct {
	fsys   fs.FS
	limits Limits

	mu    sync.Mutex
	files int
	bytes int64
	// err is the first limit the source hit. kustomize flattens the
	// errors of the files it reads into strings; this keeps what the
	// caller may branch on.
	err error
}

// failure returns the first limit the source hit, or nil.
func (s *source) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail records err, if it is the first, and returns it. The caller holds
// s.mu.
func (s *source) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return err
}

func newSource(fsys fs.FS, limits Limits) *source {
	return &source{fsys: fsys, limits: limits}
}

// charge counts one file of n bytes read.
func (s *source) charge(name string, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files++
	s.bytes += n
	if s.files > s.limits.MaxFiles {
		return s.fail(fmt.Errorf("%w: more than %d files read", ErrLimit, s.limits.MaxFiles))
	}
	if s.bytes > s.limits.MaxTotalSize {
		return s.fail(fmt.Errorf("%w: more than %d bytes read in all (at %s)", ErrLimit, s.limits.MaxTotalSize, name))
	}
	return nil
}

// chargeRead counts n more bytes read again (a file kustomize reads twice
// costs twice, so that a diamond of bases cannot multiply the work).
func (s *source) chargeRead(name string, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += n
	if s.bytes > s.limits.MaxTotalSize {
		return s.fail(fmt.Errorf("%w: more than %d bytes read in all (at %s)", ErrLimit, s.limits.MaxTotalSize, name))
	}
	return nil
}

// cleanPath turns ref, a path relative to dir as a repository writes it
// ("../base", "values/prod.yaml"), into a path of the source, refusing
// absolute paths and paths that climb out of the source.
func cleanPath(dir, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%w: empty path", ErrUnsafePath)
	}
	if path.IsAbs(ref) || strings.HasPrefix(ref, `\`) || (len(ref) > 1 && ref[1] == ':') {
		return "", fmt.Errorf("%w: %q is absolute", ErrUnsafePath, ref)
	}
	p := path.Join(dir, ref)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%w: %q leaves the source", ErrUnsafePath, ref)
	}
	return p, nil
}

// failLocked is fail for callers not holding s.mu.
func (s *source) failLocked(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail(err)
}

// resolve returns the path name leads to once every symbolic link on the
// way is followed, refusing links that point outside the source (absolute
// targets included) and chains longer than maxLinkHops. A file system
// without ReadLinkFS has no links to follow.
func (s *source) resolve(name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, name)
	}
	rl, ok := s.fsys.(fs.ReadLinkFS)
	if !ok || name == "." {
		return name, nil
	}
	hops := 0
	done := "."
	rest := strings.Split(name, "/")
	for len(rest) > 0 {
		next := path.Join(done, rest[0])
		rest = rest[1:]
		fi, err := rl.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", fmt.Errorf("%w: %s: too many symbolic links", ErrUnsafePath, name)
		}
		target, err := rl.ReadLink(next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			return "", fmt.Errorf("%w: %s is a symbolic link to an absolute path", ErrUnsafePath, next)
		}
		t := path.Join(done, target)
		if t == ".." || strings.HasPrefix(t, "../") {
			return "", fmt.Errorf("%w: %s is a symbolic link out of the source", ErrUnsafePath, next)
		}
		// Resolve the target's own components again, then the rest.
		done = "."
		rest = append(strings.Split(t, "/"), rest...)
		if t == "." {
			rest = rest[1:]
		}
	}
	return done, nil
}

// readFile reads the file name of the source, after resolving its links,
// within the limits.
func (s *source) readFile(name string) ([]byte, error) {
	real, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	f, err := s.fsys.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Size() > s.limits.MaxFileSize {
		return nil, s.failLocked(fmt.Errorf("%w: %s is larger than %d bytes", ErrLimit, name, s.limits.MaxFileSize))
	}
	// The size a file system reports is not trusted: read one byte more
	// than allowed to see whether it lied.
	b, err := io.ReadAll(io.LimitReader(f, s.limits.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > s.limits.MaxFileSize {
		return nil, s.failLocked(fmt.Errorf("%w: %s is larger than %d bytes", ErrLimit, name, s.limits.MaxFileSize))
	}
	if err := s.charge(name, int64(len(b))); err != nil {
		return nil, err
	}
	return b, nil
}

// isDir reports whether name, links resolved, is a directory of the
// source. Paths that do not resolve safely are not directories.
func (s *source) isDir(name string) bool {
	real, err := s.resolve(name)
	if err != nil {
		return false
	}
	fi, err := fs.Stat(s.fsys, real)
	return err == nil && fi.IsDir()
}

// exists reports whether name resolves safely to anything.
func (s *source) exists(name string) bool {
	real, err := s.resolve(name)
	if err != nil {
		return false
	}
	_, err = fs.Stat(s.fsys, real)
	return err == nil
}

// walkFiles calls fn, in lexical order, on every regular file under dir
// with its content, except those skip says to skip; a folder skip says to
// skip is not entered. A symbolic link is read as the file it leads to;
// every link met must stay inside the source, read or not (as Argo CD's
// own out-of-bounds check demands), and a link to a folder is refused,
// since following it could loop.
func (s *source) walkFiles(dir string, skip func(name string, d fs.DirEntry) bool, fn func(name string, data []byte) error) error {
	root, err := s.resolve(dir)
	if err != nil {
		return err
	}
	return fs.WalkDir(s.fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Name files as the caller named dir, not as its links led.
		name := path.Join(dir, strings.TrimPrefix(strings.TrimPrefix(p, root), "/"))
		if d.IsDir() {
			if p != root && skip(name, d) {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if _, err := s.resolve(name); err != nil {
				return err
			}
			if skip(name, d) {
				return nil
			}
			if s.isDir(name) {
				return fmt.Errorf("%w: %s is a symbolic link to a folder", ErrUnsafePath, name)
			}
		} else if !d.Type().IsRegular() || skip(name, d) {
			return nil
		}
		data, err := s.readFile(name)
		if err != nil {
			return err
		}
		return fn(name, data)
	})
}
