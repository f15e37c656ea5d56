package reencrypt

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeResealer is a deterministic stand-in for a real resealer, so that
// golden files can be compared byte for byte. A value "sealed" with fake
// key K for namespace/name is base64("fake:K:namespace/name:plaintext");
// it opens only with a known key and for the same namespace and name, as
// a real value would.
type fakeResealer struct {
	known  []string
	target string
}

var _ Resealer = fakeResealer{}

// fakeKeyID is the key ID of fake key name.
func fakeKeyID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func fakeSeal(key, namespace, name, plaintext string) string {
	return base64.StdEncoding.EncodeToString([]byte("fake:" + key + ":" + namespace + "/" + name + ":" + plaintext))
}

func (f fakeResealer) Reseal(_ context.Context, ss *ssv1alpha1.SealedSecret) (*ssv1alpha1.SealedSecret, error) {
	out := ss.DeepCopy()
	for _, k := range slices.Sorted(maps.Keys(ss.Spec.EncryptedData)) {
		b, err := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData[k])
		if err != nil {
			return nil, fmt.Errorf("item %q: not valid base64", k)
		}
		parts := strings.SplitN(string(b), ":", 4)
		if len(parts) != 4 || parts[0] != "fake" || !slices.Contains(f.known, parts[1]) || parts[2] != ss.Namespace+"/"+ss.Name {
			return nil, fmt.Errorf("item %q: %w", k, crypto.ErrDecryption)
		}
		if parts[1] != f.target {
			out.Spec.EncryptedData[k] = fakeSeal(f.target, ss.Namespace, ss.Name, parts[3])
		}
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[ssv1alpha1.KeyIDAnnotation] = fakeKeyID(f.target)
	return out, nil
}

var oldToNew = fakeResealer{known: []string{"old", "new"}, target: "new"}

// copyTree copies the folder src to a new temporary folder.
func copyTree(tb testing.TB, src string) string {
	tb.Helper()
	dst := tb.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}

// report renders results as the golden report: one line per SealedSecret
// and per failed file, then the summary.
func report(results []*FileResult, sum Summary) string {
	var b strings.Builder
	short := func(id string) string {
		if len(id) > 12 {
			return id[:12]
		}
		if id == "" {
			return "none"
		}
		return id
	}
	for _, r := range results {
		path := filepath.ToSlash(r.Path)
		if r.Err != nil {
			fmt.Fprintf(&b, "%s: FAILED: %v\n", path, r.Err)
		}
		for _, o := range r.Objects {
			fmt.Fprintf(&b, "%s doc %d item %d %s/%s: ", path, o.Document, o.Item, o.Namespace, o.Name)
			switch {
			case o.Err != nil:
				fmt.Fprintf(&b, "FAILED: %v\n", o.Err)
			case o.Changed():
				fmt.Fprintf(&b, "%d of %d items %v, key %s -> %s\n", len(o.Resealed), o.Items, o.Resealed, short(o.FromKey), short(o.ToKey))
			default:
				fmt.Fprintf(&b, "unchanged\n")
			}
		}
	}
	fmt.Fprintln(&b, sum)
	return b.String()
}

// TestGolden re-seals testdata/tree with the fake resealer and compares
// every file with testdata/golden, byte for byte: the files that must
// change with their golden copy, every other file with its input. The
// report of what happened is golden too.
func TestGolden(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("dry-run=%v", dryRun), func(t *testing.T) {
			dir := copyTree(t, filepath.Join("testdata", "tree"))
			var results []*FileResult
			sum, err := Run(context.Background(), oldToNew, []string{dir}, Options{Jobs: 3, DryRun: dryRun, Report: func(r *FileResult) {
				rel, _ := filepath.Rel(dir, r.Path)
				r.Path = rel
				results = append(results, r)
			}})
			if err != nil {
				t.Fatal(err)
			}
			got := report(results, sum)
			compareGolden(t, filepath.Join("testdata", "golden", "report.txt"), []byte(got), dryRun)

			err = filepath.WalkDir(filepath.Join("testdata", "tree"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(filepath.Join("testdata", "tree"), p)
				out, err := os.ReadFile(filepath.Join(dir, rel))
				if err != nil {
					return err
				}
				in, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				golden := filepath.Join("testdata", "golden", rel)
				if dryRun {
					if string(out) != string(in) {
						t.Errorf("%s: a dry run changed the file", rel)
					}
					return nil
				}
				if string(out) == string(in) {
					if _, err := os.Stat(golden); err == nil {
						t.Errorf("%s: unchanged, but %s expects a change", rel, golden)
					}
					return nil
				}
				compareGolden(t, golden, out, false)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// compareGolden compares got with the golden file, or writes it with
// -update (unless readOnly).
func compareGolden(t *testing.T, golden string, got []byte, readOnly bool) {
	t.Helper()
	if *update && !readOnly {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// TestRerunChangesNothing re-seals the golden outputs again: everything is
// on the newest key now, so not a byte may change.
func TestRerunChangesNothing(t *testing.T) {
	dir := copyTree(t, filepath.Join("testdata", "golden"))
	sum, err := Run(context.Background(), oldToNew, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.FilesChanged != 0 || sum.Resealed != 0 {
		t.Errorf("a second run changed files: %v", sum)
	}
}

func TestWalk(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("kind: SealedSecret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"a.yaml", "b.YML", "c.json", "d.txt", "sub/e.yaml", ".git/f.yaml", "sub/.hidden/g.yaml", ".top.yaml"} {
		write(filepath.Join(root, p))
	}
	write(filepath.Join(outside, "out.yaml"))
	for link, to := range map[string]string{
		"link-in.yaml":  filepath.Join(root, "a.yaml"),
		"link-out.yaml": filepath.Join(outside, "out.yaml"),
		"link-dir":      outside,
	} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := walk([]string{root, filepath.Join(root, "a.yaml"), filepath.Join(root, "d.txt")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		rel, _ := filepath.Rel(root, f.path)
		got = append(got, filepath.ToSlash(rel))
	}
	want := []string{".top.yaml", "a.yaml", "b.YML", "c.json", "sub/e.yaml", "d.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("walked %q, want %q", got, want)
	}
	if _, err := walk([]string{filepath.Join(root, "missing")}); err == nil {
		t.Error("a missing path was accepted")
	}
	// A link given by name is followed, and written through.
	files, err = walk([]string{filepath.Join(root, "link-out.yaml")})
	if err != nil || len(files) != 1 || files[0].real != filepath.Join(outside, "out.yaml") {
		t.Errorf("explicit link: %+v, %v", files, err)
	}
}

// TestWriteKeepsModeAndLinks checks that a rewritten file keeps its mode
// and that a link named on the command line stays a link.
func TestWriteKeepsModeAndLinks(t *testing.T) {
	dir := t.TempDir()
	in, err := os.ReadFile(filepath.Join("testdata", "tree", "list.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(real, in, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), oldToNew, []string{link}, Options{})
	if err != nil || sum.FilesChanged != 1 {
		t.Fatalf("%v, %v", sum, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v", err)
	}
	if fi, err := os.Stat(real); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 (%v)", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestRunErrors covers what fails the whole run rather than one file.
func TestRunErrors(t *testing.T) {
	if _, err := Run(context.Background(), oldToNew, []string{t.TempDir()}, Options{}); !errors.Is(err, ErrNoFiles) {
		t.Errorf("empty folder: %v, want ErrNoFiles", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := copyTree(t, filepath.Join("testdata", "tree"))
	if _, err := Run(ctx, oldToNew, []string{dir}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestBlockScalars checks how block scalars take a value of another
// length: a wrapped literal is wrapped again at its first line's width,
// with the same indentation and line endings; a folded one stays on one
// line, since folding would join wrapped lines with spaces.
func TestBlockScalars(t *testing.T) {
	long := fakeSeal("new", "prod", "db", strings.Repeat("x", 40))
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			"literal wrapped",
			"k: |\n  AAAA\n  BBBB\n  CC\nnext: 1\n",
			"k: |\n  " + strings.Join(chunks(long, 4), "\n  ") + "\nnext: 1\n",
		},
		{
			"literal wrapped, CRLF, keep",
			"k: |+\r\n    AAAAAAAA\r\n    BB\r\n\r\nnext: 1\r\n",
			"k: |+\r\n    " + strings.Join(chunks(long, 8), "\r\n    ") + "\r\n\r\nnext: 1\r\n",
		},
		{"literal one line", "k: |-\n  AAAA\nnext: 1\n", "k: |-\n  " + long + "\nnext: 1\n"},
		{"folded", "k: >\n  AAAA\n\n  BBBB\n", "k: >\n  " + long + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseYAML([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			_, n, _ := lookup(f.docs[0].Content[0], "k")
			e, err := f.replace(n, long, true)
			if err != nil {
				t.Fatal(err)
			}
			out, err := apply(f.data, []edit{e})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", out, tc.want)
			}
			var v struct{ K string }
			if err := yaml.Unmarshal(out, &v); err != nil || strings.NewReplacer("\n", "", " ", "").Replace(v.K) != long {
				t.Errorf("reads back as %q (%v)", v.K, err)
			}
		})
	}
	f, err := parseYAML([]byte("k: |2\n   AAAA\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := lookup(f.docs[0].Content[0], "k")
	if _, err := f.replace(n, long, true); err == nil {
		t.Error("an indentation indicator was accepted")
	}
}

func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}
