package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// maxCertSize is the largest certificate file, or response from the
// controller, in bytes.
const maxCertSize = 1 << 20

// openCert returns the PEM certificate to seal with: from --cert (or
// SEALED_SECRETS_CERT) when given, else from the controller through the API
// server's service proxy.
func (o *options) openCert(ctx context.Context) ([]byte, error) {
	if o.certURL != "" {
		return openCertLocal(ctx, o.certURL)
	}
	c, err := o.controller()
	if err != nil {
		return nil, err
	}
	return c.fetchCert(ctx)
}

// openCertLocal reads a certificate from a file name or an http(s):// or
// file:// URL.
func openCertLocal(ctx context.Context, nameOrURL string) ([]byte, error) {
	isFile, err := isFilename(nameOrURL)
	if err != nil {
		return nil, err
	}
	if isFile {
		f, err := os.Open(nameOrURL)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readLimited(f, "certificate "+nameOrURL)
	}
	t := &http.Transport{Proxy: http.ProxyFromEnvironment}
	t.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
	client := &http.Client{Transport: t, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, nameOrURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot fetch %q: %s", nameOrURL, resp.Status)
	}
	return readLimited(resp.Body, "certificate "+nameOrURL)
}

func readLimited(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxCertSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCertSize {
		return nil, fmt.Errorf("%s exceeds %d bytes", what, maxCertSize)
	}
	return b, nil
}

// isFilename reports whether s names a local file rather than a URL; a
// one-letter scheme is a Windows drive letter.
func isFilename(s string) (bool, error) {
	u, err := url.Parse(s)
	if err != nil {
		return false, err
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "" || (len(scheme) == 1 && scheme[0] >= 'a' && scheme[0] <= 'z'), nil
}
