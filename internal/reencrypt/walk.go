package reencrypt

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// target is one file to re-seal.
type target struct {
	// path is the file as reported: under the path it was found from.
	path string
	// real is the file with symbolic links resolved, which is read and
	// replaced so that a link given by name stays a link.
	real string
	// err is why the file, or the folder it should be in, cannot be read.
	err error
}

// walk lists the files to re-seal under paths, in order: a path that is a
// file is taken whatever its name; a folder is walked for *.yaml, *.yml
// and *.json files, skipping hidden folders (.git among them) other than
// the one given. Symbolic links inside a walked folder are not followed:
// what they point to inside the tree is found where it lives, and what
// lies outside is not this tree's to change. A file reached twice is
// listed once.
func walk(paths []string) ([]target, error) {
	var (
		files []target
		seen  = map[string]bool{}
	)
	add := func(t target) {
		key := t.real
		if abs, err := filepath.Abs(key); err == nil {
			key = abs
		}
		if t.err == nil && seen[key] {
			return
		}
		seen[key] = true
		files = append(files, t)
	}
	for _, p := range paths {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(real)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			add(target{path: p, real: real})
			continue
		}
		err = filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
			rel, _ := filepath.Rel(real, path)
			shown := filepath.Join(p, rel)
			if err != nil {
				add(target{path: shown, real: path, err: err})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			switch {
			case d.IsDir():
				if path != real && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
			case d.Type().IsRegular() && manifestName(d.Name()):
				add(target{path: shown, real: path})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// manifestName reports whether name is a YAML or JSON file's.
func manifestName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
