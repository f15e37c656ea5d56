package controller

import (
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
