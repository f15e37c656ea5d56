package keyfile_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keyfile"
)

// testKey is test key name as the operator's files hand it over: with its
// certificate ("dated", its own NotBefore), without ("undated"), or with
// a certificate kubeseal made for it dated keyfile.UndatedNotBefore
// ("1970"), by an earlier version's backup.
func testKey(t *testing.T, name, form string, status crypto.Status) *crypto.Key {
	t.Helper()
	keyOnly, certOnly := splitPEM(t, keyPEM(t, name))
	priv, err := crypto.ParsePrivateKeyPEM(keyOnly)
	if err != nil {
		t.Fatal(err)
	}
	var k *crypto.Key
	switch form {
	case "dated":
		certs, err := crypto.ParseCertificatesPEM(certOnly)
		if err != nil {
			t.Fatal(err)
		}
		k, err = crypto.NewKey(priv, certs[0], status, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
	case "undated":
		k, err = crypto.NewKey(priv, nil, status, time.Time{})
	case "1970":
		cert, cerr := crypto.NewCertificate(rand.Reader, priv, keyfile.UndatedNotBefore, time.Hour, "")
		if cerr != nil {
			t.Fatal(cerr)
		}
		k, err = crypto.NewKey(priv, cert, status, time.Time{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestNewest: which key seals among the keys of the operator's files,
// and when kubeseal must refuse to guess. bench-01 is dated January 2026,
// bench-02 February 2026.
func TestNewest(t *testing.T) {
	active, compromised := crypto.StatusActive, crypto.StatusCompromised
	old := func(form string) *crypto.Key { return testKey(t, "bench-01", form, active) }
	new := func(form string) *crypto.Key { return testKey(t, "bench-02", form, active) }
	id := func(k *crypto.Key) string { return k.ID.String() }
	oldID, newID := id(old("undated")), id(new("undated"))

	tests := []struct {
		name    string
		keys    []*crypto.Key
		choice  string
		want    string // key ID
		unknown []string
		wantErr string
	}{
		{name: "one undated key", keys: []*crypto.Key{old("undated")}, want: oldID},
		{name: "dated keys", keys: []*crypto.Key{old("dated"), new("dated")}, want: newID},
		{name: "two undated keys", keys: []*crypto.Key{old("undated"), new("undated")}, unknown: []string{oldID, newID}},
		{name: "an undated key beside a dated one", keys: []*crypto.Key{new("dated"), old("undated")}, unknown: []string{newID, oldID}},
		{name: "two keys dated 1970 by an earlier backup", keys: []*crypto.Key{old("1970"), new("1970")}, unknown: []string{oldID, newID}},
		{name: "1970 is older than a real date", keys: []*crypto.Key{new("1970"), old("dated")}, want: oldID},
		{name: "compromised keys never seal", keys: []*crypto.Key{testKey(t, "bench-02", "undated", compromised), old("dated")}, want: oldID},
		{name: "a key given twice is dated if one copy is", keys: []*crypto.Key{new("undated"), new("dated"), old("dated")}, want: newID},
		{name: "no active key", keys: []*crypto.Key{testKey(t, "bench-02", "dated", compromised)}, wantErr: "no active sealing key"},

		{name: "choice among undated keys", keys: []*crypto.Key{old("undated"), new("undated")}, choice: newID[:12], want: newID},
		{name: "choice of an undated key over a dated one", keys: []*crypto.Key{new("dated"), old("undated")}, choice: oldID, want: oldID},
		{name: "choice among 1970 keys", keys: []*crypto.Key{old("1970"), new("1970")}, choice: oldID[:8], want: oldID},
		{name: "choice against the certificates", keys: []*crypto.Key{old("dated"), new("dated")}, choice: oldID[:12], wantErr: "is not the newest: key " + newID[:12] + "'s certificate is dated 2026-02-01T00:00:00Z"},
		{name: "choice of a compromised key", keys: []*crypto.Key{testKey(t, "bench-02", "undated", compromised), old("dated")}, choice: newID, wantErr: "is compromised"},
		{name: "choice too short", keys: []*crypto.Key{old("undated")}, choice: oldID[:7], wantErr: "give at least 8 of its hex digits"},
		{name: "choice not hexadecimal", keys: []*crypto.Key{old("undated")}, choice: "zzzzzzzzzzzz", wantErr: "not hexadecimal"},
		{name: "choice of no key given", keys: []*crypto.Key{old("undated")}, choice: newID[:12], wantErr: "no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keyfile.Newest(tt.keys, tt.choice)
			var oe *keyfile.OrderError
			switch {
			case tt.unknown != nil:
				if !errors.As(err, &oe) {
					t.Fatalf("err = %v, want an OrderError", err)
				}
				var ids []string
				for _, k := range oe.Keys {
					ids = append(ids, id(k))
				}
				if strings.Join(ids, ",") != strings.Join(tt.unknown, ",") {
					t.Errorf("unordered keys %q, want %q", ids, tt.unknown)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if id(got) != tt.want {
					t.Errorf("newest %s, want %s", got.ID.Short(), tt.want[:12])
				}
			}
		})
	}
}
