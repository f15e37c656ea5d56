package awstest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"//", "/"},
		{"///a//b/", "/a/b/"},
		{"/a/./b/../c", "/a/c"},
		{"/..", "/"},
		{"/a/b/..", "/a"},
		{"a", "/a"},
	} {
		if got := normalizePath(tc.in); got != tc.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzNormalizePath checks the canonical path of any received path (the
// client's, untrusted): rooted, no empty or dot segments, stable.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"", "/", "//", "/a/../b/./c//", "..//.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := normalizePath(p)
		if !strings.HasPrefix(n, "/") || strings.Contains(n, "//") {
			t.Fatalf("normalizePath(%q) = %q", p, n)
		}
		for seg := range strings.SplitSeq(strings.Trim(n, "/"), "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("normalizePath(%q) = %q keeps a dot segment", p, n)
			}
		}
		if again := normalizePath(n); again != n {
			t.Fatalf("normalizePath not stable: %q → %q → %q", p, n, again)
		}
	})
}

// TestSignedPathNormalized: a request signed for "/" and received at "//"
// (how Vault's AWS method forwards a client's GetCallerIdentity to its
// sts_endpoint) is accepted, as STS accepts it; a request signed for one
// path and received at another still is not.
func TestSignedPathNormalized(t *testing.T) {
	for _, tc := range []struct {
		name, sent string
		want       int
	}{
		{"signed for / sent to //", "//", http.StatusOK},
		{"signed for / sent to /other", "/other", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fuzzServer(t)
			r := signedRequest(t, s, STS, []byte("Action=GetCallerIdentity&Version=2011-06-15"),
				http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}})
			r.URL.Path = tc.sent
			r.RequestURI = tc.sent
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("answered %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}
