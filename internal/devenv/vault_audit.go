package devenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// maxAuditLine bounds one audit log line; a request with big HMACed data can
// run long, far below this.
const maxAuditLine = 4 << 20 // bytes

// AuditRequest is one request a Vault file audit device recorded.
type AuditRequest struct {
	// Operation is Vault's name for the request's verb: read, list,
	// delete, update (POST and PUT, logins among them) or create (a write
	// the backend found nothing at yet, such as a KV secret's first).
	Operation string
	// Path is the request path without /v1/, e.g. secret/data/app or
	// auth/approle/login.
	Path string
	// Time is when Vault received the request, to the nanosecond; zero
	// when the line has no time.
	Time time.Time
}

// AuditLog is the requests of a file audit log, oldest first.
type AuditLog []AuditRequest

// ReadAuditLog parses the JSON lines a file audit device (see
// [Vault.EnableFileAudit]) wrote to path and returns its requests. Response
// lines are skipped, so each request counts once whether or not it
// succeeded.
func ReadAuditLog(path string) (AuditLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var log AuditLog
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxAuditLine)
	for n := 1; sc.Scan(); n++ {
		var e struct {
			Time    time.Time `json:"time"`
			Type    string    `json:"type"`
			Request struct {
				Operation string `json:"operation"`
				Path      string `json:"path"`
			} `json:"request"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log %s line %d: %w", path, n, err)
		}
		if e.Type == "request" {
			log = append(log, AuditRequest{Operation: e.Request.Operation, Path: e.Request.Path, Time: e.Time})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	return log, nil
}

// Count returns how many requests had the given operation (any when empty)
// and a path matching pattern as [path.Match] reads it, so that
// "auth/*/login" matches the logins of every auth mount.
func (l AuditLog) Count(operation, pattern string) int {
	n := 0
	for _, r := range l {
		if operation != "" && r.Operation != operation {
			continue
		}
		if ok, _ := path.Match(pattern, r.Path); ok {
			n++
		}
	}
	return n
}

// Between returns the requests Vault received at or after from and
// before to.
func (l AuditLog) Between(from, to time.Time) AuditLog {
	var out AuditLog
	for _, r := range l {
		if !r.Time.Before(from) && r.Time.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

// Logins counts the login requests of every auth mount.
func (l AuditLog) Logins() int { return l.Count("update", "auth/*/login") }

// String lists the requests counted by operation and path, one per line,
// for failure messages.
func (l AuditLog) String() string {
	counts := map[string]int{}
	for _, r := range l {
		counts[r.Operation+" "+r.Path]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%4d %s\n", counts[k], k)
	}
	return b.String()
}
