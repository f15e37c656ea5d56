package sopsx

import (
	"fmt"
	"slices"
	"testing"
)

// TestPlaintexts: the string values of a tenant's SOPS files, with their
// file and key, in every format; not numbers, booleans or comments, and
// not the apiVersion, kind and metadata of a Kubernetes object even where
// sops encrypted them (multi.sops.yaml is encrypted whole).
func TestPlaintexts(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"secret.sops.yaml", []string{"stringData.password=s3cr3t-Passw0rd-Q7xB2m", "data.token=dG9rZW4tdmFsdWU="}},
		{"multi.sops.yaml", []string{"data.a=1", "stringData.b=second-document-value"}},
		{"config.sops.json", []string{"user=admin", "password=json-pass-R4nd0m"}},
		{"app.sops.env", []string{"DB_USER=admin", "DB_PASSWORD=dotenv-pass-K9zQ"}},
		{"app.sops.ini", []string{"database.user=admin", "database.password=ini-pass-W3xY"}},
		{"blob.sops.bin", []string{"=" + string(readTestdata(t, "plain/blob.bin"))}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d := projectDecryptor(t, "project-a")
			if len(d.Plaintexts()) != 0 {
				t.Fatal("Plaintexts before anything was decrypted")
			}
			if _, err := d.Decrypt(tc.file, readTestdata(t, "encrypted/"+tc.file)); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range d.Plaintexts() {
				if p.File != tc.file {
					t.Errorf("file %q, want %q", p.File, tc.file)
				}
				got = append(got, fmt.Sprintf("%s=%s", p.Key, p.Value))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Plaintexts = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("a file that fails its MAC adds nothing", func(t *testing.T) {
		d := projectDecryptor(t, "project-a")
		tampered := replaceOnce(t, string(readTestdata(t, "encrypted/app.sops.env")), `sops_mac=ENC\[AES256_GCM,data:[A-Za-z0-9+/]{4}`, "sops_mac=ENC[AES256_GCM,data:AAAA")
		if _, err := d.Decrypt("app.sops.env", []byte(tampered)); err == nil {
			t.Fatal("a tampered MAC decrypted")
		}
		if n := len(d.Plaintexts()); n != 0 {
			t.Errorf("%d plaintexts of a file that failed", n)
		}
	})
}
