package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/aws"
)

// loginMethod obtains a Vault token with one auth method. Credentials are
// read anew on every login, so a rotated Secret or an expired
// ServiceAccount token is picked up the next time the client logs in.
type loginMethod interface {
	// String names the method and its mount, never a credential.
	String() string
	// login reads the credentials and logs in through api, which carries
	// no token and is set to the auth namespace.
	login(ctx context.Context, api *vaultapi.Client, env loginEnv) (*vaultapi.SecretAuth, error)
}

// loginEnv is where login methods read credentials from: only what the
// core hands out, never the controller's own files or environment.
type loginEnv struct {
	kube  providers.Kube
	store providers.Store
	// aws builds AWS credentials for the AWS method.
	aws *aws.CredentialSource
	now func() time.Time
}

// writeLogin posts data to auth/<mount>/<path> and returns the token the
// answer carries.
func writeLogin(ctx context.Context, api *vaultapi.Client, path string, data map[string]any) (*vaultapi.SecretAuth, error) {
	s, err := api.Logical().WriteWithContext(ctx, path, data)
	if err != nil {
		return nil, describe(err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return nil, errors.New("vault answered the login without a token")
	}
	return s.Auth, nil
}

// secretString reads one key of a referenced Secret, trimmed of the
// surrounding whitespace a hand-made Secret often carries.
func secretString(ctx context.Context, kube providers.Kube, field string, ref esmeta.SecretKeySelector) (string, error) {
	b, err := kube.SecretKey(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: key %q of Secret %q is empty", field, ref.Key, ref.Name)
	}
	return s, nil
}

// appRoleLogin is the AppRole method.
type appRoleLogin struct {
	mount     string
	roleID    string
	roleRef   *esmeta.SecretKeySelector
	secretRef esmeta.SecretKeySelector
}

func (m *appRoleLogin) String() string { return "approle at auth/" + m.mount }

func (m *appRoleLogin) login(ctx context.Context, api *vaultapi.Client, env loginEnv) (*vaultapi.SecretAuth, error) {
	roleID := m.roleID
	if m.roleRef != nil {
		var err error
		if roleID, err = secretString(ctx, env.kube, "auth.appRole.roleRef", *m.roleRef); err != nil {
			return nil, err
		}
	}
	secretID, err := secretString(ctx, env.kube, "auth.appRole.secretRef", m.secretRef)
	if err != nil {
		return nil, err
	}
	return writeLogin(ctx, api, "auth/"+m.mount+"/login", map[string]any{"role_id": roleID, "secret_id": secretID})
}

// kubernetesLogin is the Kubernetes method: Vault checks a ServiceAccount
// token with the TokenReview API of the cluster it is configured for.
type kubernetesLogin struct {
	mount          string
	role           string
	serviceAccount *esmeta.ServiceAccountSelector
	secretRef      *esmeta.SecretKeySelector
	// audiences of a requested token, never empty: serviceAccountRef's, or
	// "vault". A Vault role that names an audience must name one of these.
	audiences []string
}

func (m *kubernetesLogin) String() string { return "kubernetes at auth/" + m.mount }

func (m *kubernetesLogin) login(ctx context.Context, api *vaultapi.Client, env loginEnv) (*vaultapi.SecretAuth, error) {
	var jwt string
	switch {
	case m.serviceAccount != nil:
		t, err := env.kube.ServiceAccountToken(ctx, *m.serviceAccount, m.audiences, providers.MinTokenExpiration)
		if err != nil {
			return nil, fmt.Errorf("auth.kubernetes.serviceAccountRef: token for %q: %w", m.serviceAccount.Name, err)
		}
		jwt = t
	case m.secretRef != nil:
		t, err := secretString(ctx, env.kube, "auth.kubernetes.secretRef", *m.secretRef)
		if err != nil {
			return nil, err
		}
		jwt = t
	default:
		// ESO reads the controller's mounted token here, for any store.
		// Only the core may lend that identity, and it refuses before
		// anything is sent (see providers.Kube.ControllerToken).
		t, err := env.kube.ControllerToken(ctx, m.audiences)
		if err != nil {
			return nil, fmt.Errorf("auth.kubernetes names neither serviceAccountRef nor secretRef: %w", err)
		}
		jwt = t
	}
	return writeLogin(ctx, api, "auth/"+m.mount+"/login", map[string]any{"role": m.role, "jwt": jwt})
}

// jwtLogin is the JWT/OIDC method with a JWT from a Secret or a
// ServiceAccount token.
type jwtLogin struct {
	mount          string
	role           string
	secretRef      *esmeta.SecretKeySelector
	serviceAccount *esmeta.ServiceAccountSelector
	audiences      []string
	expiration     int64 // seconds
}

func (m *jwtLogin) String() string { return "jwt at auth/" + m.mount }

func (m *jwtLogin) login(ctx context.Context, api *vaultapi.Client, env loginEnv) (*vaultapi.SecretAuth, error) {
	var jwt string
	if m.secretRef != nil {
		t, err := secretString(ctx, env.kube, "auth.jwt.secretRef", *m.secretRef)
		if err != nil {
			return nil, err
		}
		jwt = t
	} else {
		t, err := env.kube.ServiceAccountToken(ctx, *m.serviceAccount, m.audiences, m.expiration)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.kubernetesServiceAccountToken: token for %q: %w", m.serviceAccount.Name, err)
		}
		jwt = t
	}
	data := map[string]any{"jwt": jwt}
	if m.role != "" {
		// Without a role Vault uses the mount's default_role.
		data["role"] = m.role
	}
	return writeLogin(ctx, api, "auth/"+m.mount+"/login", data)
}

// passwordLogin is the userpass or LDAP method: a username and a password
// from a Secret.
type passwordLogin struct {
	method    string // "userpass" or "ldap", for messages
	mount     string
	username  string
	secretRef esmeta.SecretKeySelector
}

func (m *passwordLogin) String() string { return m.method + " at auth/" + m.mount }

func (m *passwordLogin) login(ctx context.Context, api *vaultapi.Client, env loginEnv) (*vaultapi.SecretAuth, error) {
	// Unlike other keys, a password keeps its whitespace.
	b, err := env.kube.SecretKey(ctx, m.secretRef)
	if err != nil {
		return nil, fmt.Errorf("%s password: %w", m.method, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s password: key %q of Secret %q is empty", m.method, m.secretRef.Key, m.secretRef.Name)
	}
	return writeLogin(ctx, api, "auth/"+m.mount+"/login/"+m.username, map[string]any{"password": string(b)})
}

// certLogin is the TLS certificate method. The certificate is set on the
// client's transport when it is built (see newAPIClient): here the login
// only names the role.
type certLogin struct {
	mount string
	role  string
	pair  keyPairRef
}

func (m *certLogin) String() string { return "cert at auth/" + m.mount }

func (m *certLogin) login(ctx context.Context, api *vaultapi.Client, _ loginEnv) (*vaultapi.SecretAuth, error) {
	var data map[string]any
	if m.role != "" {
		data = map[string]any{"name": m.role}
	}
	return writeLogin(ctx, api, "auth/"+m.mount+"/login", data)
}
