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

// TestRefreshAndRestartFlags: the operator's flags of refresh on demand
// and restarts. Audiences default to sealsync's own and an empty value
// accepts the API server's; restarts are on unless turned off.
func TestRefreshAndRestartFlags(t *testing.T) {
	for _, tt := range []struct {
		name         string
		args         []string
		wantAud      []string
		wantRestarts bool
	}{
		{"operator leaves them", nil, []string{"sealsync"}, true},
		{"operator empties the audiences", []string{"--refresh-token-audiences="}, nil, true},
		{"operator lists two audiences", []string{"--refresh-token-audiences=a, b"}, []string{"a", "b"}, true},
		{"operator turns restarts off", []string{"--enable-restart-on-secret-change=false"}, []string{"sealsync"}, false},
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
			if !slices.Equal(o.ES.Refresh.Audiences, tt.wantAud) || o.ES.Refresh.MaxObjects != 100 || o.RestartOnSecretChange != tt.wantRestarts {
				t.Errorf("audiences %q, max objects %d, restarts %v; want %q, 100, %v",
					o.ES.Refresh.Audiences, o.ES.Refresh.MaxObjects, o.RestartOnSecretChange, tt.wantAud, tt.wantRestarts)
			}
		})
	}
}
