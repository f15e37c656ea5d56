package syncer

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RedactWriteError returns err, the outcome of writing a Secret, with
// nothing the API server said about the Secret's content: the status's
// reason, code and, per cause, its field path and type, but never a
// message. Kubernetes' messages can quote what they refuse (a
// .dockerconfigjson that is not JSON is reported with the byte it
// stumbled on), and a template can shape a value so that the byte it
// quotes is the one its author wants to read. Field paths lose their
// subscripts (data[my-application-alice]) unless they are keys Kubernetes
// itself defines, since a key can be built from a value.
//
// The result is still an API status error with the same reason and code,
// so apierrors.IsInvalid, IsConflict and the like answer as for err.
// Errors that are not API statuses (a dropped connection) are returned as
// they are: they carry no response body.
func RedactWriteError(err error) error {
	var se apierrors.APIStatus
	if err == nil || !errors.As(err, &se) {
		return err
	}
	in := se.Status()
	out := metav1.Status{Status: in.Status, Code: in.Code, Reason: in.Reason}
	name := ""
	var causes []string
	if d := in.Details; d != nil {
		name = d.Name
		out.Details = &metav1.StatusDetails{Name: d.Name, Group: d.Group, Kind: d.Kind, UID: d.UID, RetryAfterSeconds: d.RetryAfterSeconds}
		for _, c := range d.Causes {
			c = metav1.StatusCause{Type: c.Type, Field: redactFieldPath(c.Field)}
			out.Details.Causes = append(out.Details.Causes, c)
			causes = append(causes, describeCause(c))
		}
	}
	reason := string(in.Reason)
	if reason == "" {
		reason = string(metav1.StatusReasonUnknown)
	}
	msg := fmt.Sprintf("the API server refused to write Secret %q: %s (HTTP %d)", name, reason, in.Code)
	if len(causes) > 0 {
		msg += ": " + strings.Join(causes, ", ")
	}
	out.Message = msg
	return &apierrors.StatusError{ErrStatus: out}
}

// describeCause is "field: type" in words ("data[username]: Required
// value"), as the API server writes it before its message.
func describeCause(c metav1.StatusCause) string {
	what := field.ErrorType(c.Type).String()
	if strings.HasPrefix(what, "<unknown error") {
		what = string(c.Type)
	}
	if c.Field == "" {
		return what
	}
	return c.Field + ": " + what
}

// wellKnownKeys are the data keys and annotations Kubernetes defines for
// its Secret types: the subscripts of field paths that name no value.
var wellKnownKeys = []string{
	corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey,
	corev1.DockerConfigKey, corev1.DockerConfigJsonKey,
	corev1.TLSCertKey, corev1.TLSPrivateKeyKey,
	corev1.SSHAuthPrivateKey,
	corev1.ServiceAccountTokenKey, corev1.ServiceAccountNameKey, corev1.ServiceAccountUIDKey,
}

// redactFieldPath keeps a field path's names and indexes and the
// subscripts of wellKnownKeys; any other subscript becomes [...] and ends
// the path, since where a key built from a value ends cannot be told.
// Anything but a path's own characters ends it too.
func redactFieldPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '[':
			sub, ok := knownSubscript(p[i+1:])
			if !ok {
				b.WriteString("[...]")
				return b.String()
			}
			b.WriteString("[" + sub + "]")
			i += len(sub) + 2
			if i < len(p) && p[i] != '.' && p[i] != '[' {
				// "data[username]x]": the key was longer than it looked.
				b.WriteString("...")
				return b.String()
			}
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_':
			b.WriteByte(c)
			i++
		default:
			b.WriteString("...")
			return b.String()
		}
	}
	return b.String()
}

// knownSubscript returns the subscript rest starts with, up to its "]",
// when it is an index or one of wellKnownKeys.
func knownSubscript(rest string) (string, bool) {
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return "", false
	}
	sub := rest[:end]
	if sub != "" && strings.Trim(sub, "0123456789") == "" {
		return sub, true
	}
	for _, k := range wellKnownKeys {
		if sub == k {
			return sub, true
		}
	}
	return "", false
}
