package keybackup_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/keybackup"
)

func Example() {
	// The key Secrets, as listed from the controller's namespace.
	key, _ := os.ReadFile("testdata/keys/a.pem")
	secrets := []corev1.Secret{{
		ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-keya", Labels: map[string]string{
			"sealedsecrets.bitnami.com/sealed-secrets-key": "active",
		}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.key": key, "tls.crt": key},
	}}
	bundle, err := keybackup.FromSecrets(secrets)
	if err != nil {
		panic(err)
	}

	// Seal to the offline key's public half, as `age-keygen -y` prints it.
	pub, _ := os.ReadFile("testdata/identities/age.pub")
	recipients, err := keybackup.ParseRecipients(bytes.NewReader(pub))
	if err != nil {
		panic(err)
	}
	var sealed bytes.Buffer
	if err := keybackup.Seal(&sealed, bundle, recipients...); err != nil {
		panic(err)
	}
	fmt.Println(strings.SplitN(sealed.String(), "\n", 2)[0])

	// Later, on another cluster: open with the identity file.
	f, _ := os.Open("testdata/identities/age.key")
	defer f.Close()
	identities, err := keybackup.ParseIdentities(f, nil)
	if err != nil {
		panic(err)
	}
	restored, err := keybackup.Open(&sealed, identities...)
	if err != nil {
		panic(err)
	}
	for _, s := range restored.Secrets("kube-system") {
		fmt.Println(s.Namespace, s.Name, s.Labels["sealedsecrets.bitnami.com/sealed-secrets-key"])
	}
	for _, k := range restored.Manifest().Keys {
		fmt.Println(k.ID.Short(), k.Status, k.NotBefore.Format("2006-01-02"))
	}
	// Output:
	// -----BEGIN AGE ENCRYPTED FILE-----
	// kube-system sealed-secrets-keya active
	// f3a53d440b16 active 2027-01-01
}
