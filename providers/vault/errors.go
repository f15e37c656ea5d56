package vault

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// ErrUnreachable is wrapped by errors of requests that never got an answer
// from Vault: refused or reset connections, DNS and TLS failures,
// timeouts.
var ErrUnreachable = errors.New("vault unreachable")

// responseError is an error answer from Vault, shortened to its status and
// messages: the API client's own message spans lines and repeats the URL.
// Vault's messages name paths and reasons, never the values sent.
type responseError struct {
	err *vaultapi.ResponseError
}

func (e *responseError) Error() string {
	var msgs []string
	for _, m := range e.err.Errors {
		msgs = append(msgs, flatten(m)...)
	}
	if len(msgs) == 0 && e.err.RawError {
		msgs = []string{"(unparsed answer)"}
	}
	if len(msgs) == 0 {
		return fmt.Sprintf("vault answered %d", e.err.StatusCode)
	}
	return fmt.Sprintf("vault answered %d: %s", e.err.StatusCode, strings.Join(msgs, "; "))
}

func (e *responseError) Unwrap() error { return e.err }

// flatten splits one of Vault's messages into its lines, dropping the
// "1 error occurred:" header and bullets that Vault's multierror puts
// around a single reason.
func flatten(msg string) []string {
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || (strings.HasSuffix(line, "occurred:") && strings.Contains(line, " error")) {
			continue
		}
		out = append(out, strings.TrimPrefix(line, "* "))
	}
	return out
}

// describe rewrites an error of the Vault API client for people: answers
// become [responseError], transport failures wrap [ErrUnreachable].
func describe(err error) error {
	if err == nil {
		return nil
	}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return &responseError{err: re}
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		// The URL names the server and the path, which is what the reader
		// needs; query strings hold nothing secret here (a version).
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// statusOf returns the HTTP status of a Vault answer error, 0 for others.
func statusOf(err error) int {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// isForbidden reports a 403, Vault's answer both to a dead token and to a
// policy that denies the path.
func isForbidden(err error) bool { return statusOf(err) == http.StatusForbidden }
