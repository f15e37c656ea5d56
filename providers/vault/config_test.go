package vault

import (
	"strings"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

func ptr[T any](v T) *T { return &v }

func sel(name, key string) esmeta.SecretKeySelector {
	return esmeta.SecretKeySelector{Name: name, Key: key}
}

// vaultStore is a SecretStore in namespace "apps" with a valid token
// store, changed by edit.
func vaultStore(edit func(v *esv1.VaultProvider)) providers.Store {
	v := &esv1.VaultProvider{
		Server: "https://vault.example.com:8200",
		Path:   ptr("secret"),
		Auth:   &esv1.VaultAuth{TokenSecretRef: ptr(sel("vault-token", "token"))},
	}
	if edit != nil {
		edit(v)
	}
	return providers.Store{
		Kind: esv1.SecretStoreKind, Name: "vault", Namespace: "apps",
		Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Vault: v}},
	}
}

func TestParseConfigErrors(t *testing.T) {
	cluster := func(s providers.Store) providers.Store { s.Kind = esv1.ClusterSecretStoreKind; return s }
	tests := []struct {
		name  string
		store providers.Store
		want  string // a substring of the error
	}{
		{"no provider", providers.Store{Spec: &esv1.SecretStoreSpec{}}, "no vault provider"},
		{"empty server", vaultStore(func(v *esv1.VaultProvider) { v.Server = "" }), "server is empty"},
		{"server without scheme", vaultStore(func(v *esv1.VaultProvider) { v.Server = "vault.example.com:8200" }), "scheme"},
		{"server with bad scheme", vaultStore(func(v *esv1.VaultProvider) { v.Server = "ftp://vault" }), "scheme must be http or https"},
		{"server unparsable", vaultStore(func(v *esv1.VaultProvider) { v.Server = "http://[::1" }), "not a URL"},
		{"server without host", vaultStore(func(v *esv1.VaultProvider) { v.Server = "https:///v1" }), "no host"},
		{"server with credentials", vaultStore(func(v *esv1.VaultProvider) { v.Server = "https://u:p@vault" }), "must not hold credentials"},
		{"unknown version", vaultStore(func(v *esv1.VaultProvider) { v.Version = "v3" }), `unknown KV version "v3"`},
		{"auth without method", vaultStore(func(v *esv1.VaultProvider) { v.Auth = &esv1.VaultAuth{} }), "no method"},
		{"two auth methods", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth.UserPass = &esv1.VaultUserPassAuth{Username: "u", SecretRef: ptr(sel("pw", "password"))}
		}), "exactly one"},
		{"gcp unsupported", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{GCP: &esv1.VaultGCPAuth{Role: "r"}}
		}), "auth.gcp is not supported"},
		{"token ref without key", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{TokenSecretRef: ptr(sel("vault-token", ""))}
		}), "auth.tokenSecretRef.key is empty"},
		{"approle without role id", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{SecretRef: sel("ar", "secret-id")}}
		}), "roleId or roleRef is required"},
		{"approle with roleId and roleRef", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{RoleID: "r", RoleRef: ptr(sel("ar", "role-id")), SecretRef: sel("ar", "secret-id")}}
		}), "not both"},
		{"approle without secret", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{RoleID: "r"}}
		}), "auth.appRole.secretRef.name is empty"},
		{"kubernetes without role", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "sa"}}}
		}), "auth.kubernetes.role is required"},
		{"kubernetes service account without name", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Role: "r", ServiceAccountRef: &esmeta.ServiceAccountSelector{}}}
		}), "serviceAccountRef.name is empty"},
		{"jwt without source", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{Role: "r"}}
		}), "secretRef or kubernetesServiceAccountToken is required"},
		{"jwt token too short", vaultStore(func(v *esv1.VaultProvider) {
			sat := &esv1.VaultKubernetesServiceAccountTokenAuth{ServiceAccountRef: esmeta.ServiceAccountSelector{Name: "sa"}}
			//lint:ignore SA1019 the deprecated field is still honoured, so it is still checked.
			sat.ExpirationSeconds = ptr(int64(60))
			v.Auth = &esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{KubernetesServiceAccountToken: sat}}
		}), "below 600"},
		{"userpass without username", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{UserPass: &esv1.VaultUserPassAuth{SecretRef: ptr(sel("pw", "password"))}}
		}), "auth.userPass.username is required"},
		{"ldap without password", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{LDAP: &esv1.VaultLdapAuth{Username: "u"}}
		}), "auth.ldap.secretRef (the password) is required"},
		{"cert without key", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{Cert: &esv1.VaultCertAuth{ClientCert: ptr(sel("c", "tls.crt"))}}
		}), "clientCert and secretRef"},
		{"tls cert without key", vaultStore(func(v *esv1.VaultProvider) {
			v.ClientTLS = &esv1.VaultClientTLS{CertSecretRef: ptr(sel("c", ""))}
		}), "go together"},
		{"caProvider bad type", vaultStore(func(v *esv1.VaultProvider) {
			v.CAProvider = &esv1.CAProvider{Type: "File", Name: "ca", Key: "ca.crt"}
		}), "want Secret or ConfigMap"},
		{"caProvider without key", vaultStore(func(v *esv1.VaultProvider) {
			v.CAProvider = &esv1.CAProvider{Type: esv1.CAProviderTypeConfigMap, Name: "ca"}
		}), "caProvider.key is empty"},
		{"caProvider of SecretStore in another namespace", vaultStore(func(v *esv1.VaultProvider) {
			v.CAProvider = &esv1.CAProvider{Type: esv1.CAProviderTypeConfigMap, Name: "ca", Key: "ca.crt", Namespace: ptr("other")}
		}), "reads only its own namespace"},
		{"caProvider of ClusterSecretStore without namespace", cluster(vaultStore(func(v *esv1.VaultProvider) {
			v.CAProvider = &esv1.CAProvider{Type: esv1.CAProviderTypeSecret, Name: "ca", Key: "ca.crt"}
		})), "caProvider.namespace is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.store)
			if err == nil {
				t.Fatalf("parseConfig succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	tests := []struct {
		name  string
		store providers.Store
		check func(t *testing.T, c *config)
	}{
		{"version defaults to v2, mount trimmed", vaultStore(func(v *esv1.VaultProvider) { v.Path = ptr("/team/kv/") }), func(t *testing.T, c *config) {
			if c.version != esv1.VaultKVStoreV2 || c.mount != "team/kv" {
				t.Errorf("version %q mount %q, want v2 team/kv", c.version, c.mount)
			}
		}},
		{"no path", vaultStore(func(v *esv1.VaultProvider) { v.Path = nil; v.Version = esv1.VaultKVStoreV1 }), func(t *testing.T, c *config) {
			if c.version != esv1.VaultKVStoreV1 || c.mount != "" {
				t.Errorf("version %q mount %q, want v1 and none", c.version, c.mount)
			}
		}},
		{"auth namespace falls back to namespace", vaultStore(func(v *esv1.VaultProvider) { v.Namespace = ptr("ns1") }), func(t *testing.T, c *config) {
			if c.namespace != "ns1" || c.authNamespace != "ns1" {
				t.Errorf("namespace %q auth namespace %q", c.namespace, c.authNamespace)
			}
		}},
		{"auth namespace of its own", vaultStore(func(v *esv1.VaultProvider) { v.Namespace = ptr("ns1/app"); v.Auth.Namespace = ptr("ns1") }), func(t *testing.T, c *config) {
			if c.namespace != "ns1/app" || c.authNamespace != "ns1" {
				t.Errorf("namespace %q auth namespace %q", c.namespace, c.authNamespace)
			}
		}},
		{"approle default path", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{RoleRef: ptr(sel("ar", "role-id")), SecretRef: sel("ar", "secret-id")}}
		}), func(t *testing.T, c *config) {
			if m, ok := c.login.(*appRoleLogin); !ok || m.mount != "approle" {
				t.Errorf("login %v, want approle at auth/approle", c.login)
			}
		}},
		{"kubernetes default mount and token key", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Role: "r", SecretRef: ptr(sel("sa-token", ""))}}
		}), func(t *testing.T, c *config) {
			m, ok := c.login.(*kubernetesLogin)
			if !ok || m.mount != "kubernetes" || m.secretRef == nil || m.secretRef.Key != "token" {
				t.Errorf("login %+v, want kubernetes at auth/kubernetes reading key token", c.login)
			}
		}},
		{"jwt audiences and expiration", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{Path: "k8s-jwt", KubernetesServiceAccountToken: &esv1.VaultKubernetesServiceAccountTokenAuth{
				ServiceAccountRef: esmeta.ServiceAccountSelector{Name: "sa", Audiences: []string{"a"}},
			}}}
		}), func(t *testing.T, c *config) {
			m, ok := c.login.(*jwtLogin)
			if !ok || m.mount != "k8s-jwt" || strings.Join(m.audiences, ",") != "a,vault" || m.expiration != 600 {
				t.Errorf("login %+v, want k8s-jwt with audiences a,vault for 600s", c.login)
			}
		}},
		{"userpass and ldap default paths", vaultStore(func(v *esv1.VaultProvider) {
			v.Auth = &esv1.VaultAuth{LDAP: &esv1.VaultLdapAuth{Username: "u", SecretRef: ptr(sel("pw", "password"))}}
		}), func(t *testing.T, c *config) {
			if m, ok := c.login.(*passwordLogin); !ok || m.mount != "ldap" {
				t.Errorf("login %v, want ldap at auth/ldap", c.login)
			}
		}},
		{"tls default keys", vaultStore(func(v *esv1.VaultProvider) {
			v.ClientTLS = &esv1.VaultClientTLS{CertSecretRef: ptr(sel("client", "")), KeySecretRef: ptr(sel("client", ""))}
		}), func(t *testing.T, c *config) {
			if c.clientCert == nil || c.clientCert.cert.Key != "tls.crt" || c.clientCert.key.Key != "tls.key" {
				t.Errorf("client cert %+v, want keys tls.crt and tls.key", c.clientCert)
			}
		}},
		{"no auth sends no token", vaultStore(func(v *esv1.VaultProvider) { v.Auth = nil }), func(t *testing.T, c *config) {
			if c.login != nil || c.tokenRef != nil {
				t.Errorf("login %v token %v, want neither", c.login, c.tokenRef)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.store)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
