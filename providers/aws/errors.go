package aws

import (
	"errors"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// ErrUnreachable is wrapped by errors of requests that never got an answer
// from AWS: refused or reset connections, DNS and TLS failures, timeouts.
var ErrUnreachable = errors.New("aws unreachable")

// apiError is an error answer of AWS, shortened to its code and message.
// The SDK's own message repeats the operation and carries the request ID,
// which differs on every attempt: a status condition holding it would
// change on every failed refresh. AWS's messages name resources and
// principals, never values.
type apiError struct {
	err smithy.APIError
}

func (e *apiError) Error() string {
	if msg := e.err.ErrorMessage(); msg != "" {
		return e.err.ErrorCode() + ": " + msg
	}
	return e.err.ErrorCode()
}

func (e *apiError) Unwrap() error { return e.err }

// describe rewrites an SDK error for people: answers become [apiError],
// transport failures wrap [ErrUnreachable]; op names what was attempted
// ("GetSecretValue app/db").
func describe(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", op, &apiError{err: ae})
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		// The operation error's text repeats the service and operation;
		// what it wraps says what failed.
		err = oe.Err
	}
	if errors.As(err, new(*retry.MaxAttemptsError)) || isTransport(err) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isTransport reports errors of the connection rather than of an answer.
func isTransport(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return false
	}
	return retry.RetryableConnectionError{}.IsErrorRetryable(err) == awssdk.TrueTernary
}

// codeOf returns the AWS error code of err, "" for none.
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isDeleted reports the answer Secrets Manager gives for a secret
// scheduled for deletion: InvalidRequestException (ESO checks for
// InvalidParameterException; both are taken here) saying it "was marked
// for deletion".
func isDeleted(code, message string) bool {
	return (code == "InvalidRequestException" || code == "InvalidParameterException") && strings.Contains(message, "marked for deletion")
}

// transient reports errors worth trying again later: throttling, 5xx
// answers, connection failures, and the SDK giving up on those.
func transient(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == awssdk.TrueTernary
}
