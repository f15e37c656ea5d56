package vault

import (
	"errors"
	"net"
	"net/url"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"multierror message", &vaultapi.ResponseError{StatusCode: 403, Errors: []string{"1 error occurred:\n\t* permission denied\n\n"}}, "vault answered 403: permission denied"},
		{"plain messages", &vaultapi.ResponseError{StatusCode: 400, Errors: []string{"invalid role ID", "x"}}, "vault answered 400: invalid role ID; x"},
		{"no message", &vaultapi.ResponseError{StatusCode: 503}, "vault answered 503"},
		{"refused", &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1/secret/data/a", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}},
			`vault unreachable: Get "http://127.0.0.1:1/v1/secret/data/a": dial: connection refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describe(tt.err)
			if got.Error() != tt.want {
				t.Errorf("describe = %q, want %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Error("describe lost the original error")
			}
		})
	}
	if !isForbidden(describe(&vaultapi.ResponseError{StatusCode: 403})) {
		t.Error("isForbidden of a described 403 = false")
	}
}
