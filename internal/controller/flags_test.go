package controller

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

// TestAllowControllerIdentityFlag: the operator's flag is off unless given.
func TestAllowControllerIdentityFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--allow-cluster-store-controller-identity"}, true},
	} {
		fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
		f := BindFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		o, err := f.Options("sealsync")
		if err != nil {
			t.Fatal(err)
		}
		if o.ES.AllowControllerIdentity != tt.want {
			t.Errorf("args %q: AllowControllerIdentity %v, want %v", tt.args, o.ES.AllowControllerIdentity, tt.want)
		}
	}
}

// TestRefreshTokenAudiencesFlag: the operator's audiences for POST
// /v1/refresh default to sealsync's own; an empty value accepts the API
// server's.
func TestRefreshTokenAudiencesFlag(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"operator leaves it", nil, []string{"sealsync"}},
		{"operator empties it", []string{"--refresh-token-audiences="}, nil},
		{"operator lists two", []string{"--refresh-token-audiences=a, b"}, []string{"a", "b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
			f := BindFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			o, err := f.Options("sealsync")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.ES.Refresh.Audiences, tt.want) || o.ES.Refresh.MaxObjects != 100 {
				t.Errorf("audiences %q, max objects %d; want %q, 100", o.ES.Refresh.Audiences, o.ES.Refresh.MaxObjects, tt.want)
			}
		})
	}
}

// TestRestartOnSecretChangeFlag: restarts are on unless the operator turns
// them off.
func TestRestartOnSecretChangeFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--enable-restart-on-secret-change=false"}, false},
	} {
		fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
		f := BindFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		o, err := f.Options("sealsync")
		if err != nil {
			t.Fatal(err)
		}
		if o.RestartOnSecretChange != tt.want {
			t.Errorf("args %q: RestartOnSecretChange %v, want %v", tt.args, o.RestartOnSecretChange, tt.want)
		}
	}
}
