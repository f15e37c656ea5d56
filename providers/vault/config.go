package vault

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

const (
	// defaultAudience is the audience of a requested ServiceAccount token
	// when the store names none, for the Kubernetes and the JWT method
	// alike. ESO uses it for JWT but asks the API server's own audience
	// for Kubernetes; see the package doc.
	defaultAudience = "vault"
	// defaultKubernetesTokenKey is the key of a ServiceAccount token Secret.
	defaultKubernetesTokenKey = "token"
)

// config is a vault store spec, checked, with ESO's defaults applied. It
// holds references, never credentials: those are read at login.
type config struct {
	server string
	// mount is the store's path without surrounding slashes; empty when
	// the store sets none and keys name their mount.
	mount   string
	version esv1.VaultKVStoreVersion
	// namespace is the Vault Enterprise namespace secrets are read in.
	namespace string
	// authNamespace is the namespace to log in (and renew and revoke) in.
	authNamespace string

	caBundle   []byte
	caProvider *esv1.CAProvider
	// caNamespace is where caProvider's object lives; empty means the
	// store's namespace.
	caNamespace string
	clientCert  *keyPairRef

	readYourWrites      bool
	forwardInconsistent bool
	headers             map[string]string

	// maxRetries is the Vault client's retries after a failed attempt; nil
	// keeps the client's default.
	maxRetries *int
	retryWait  time.Duration

	// tokenRef is the Secret holding a token the client is given; nil
	// when it logs in (or, with no auth at all, sends no token).
	tokenRef *esmeta.SecretKeySelector
	// login obtains a token; nil with tokenRef or with no auth.
	login loginMethod
	// certLogin is the certificate of the cert method, presented in the
	// TLS handshake of every request.
	certLogin *keyPairRef
}

// keyPairRef locates a PEM certificate and its private key.
type keyPairRef struct {
	cert, key esmeta.SecretKeySelector
}

// parseConfig checks the vault provider of store and applies ESO's
// defaults. It reads nothing: errors here are configuration errors that
// retrying cannot fix.
func parseConfig(store providers.Store) (*config, error) {
	if store.Spec == nil || store.Spec.Provider == nil || store.Spec.Provider.Vault == nil {
		return nil, errors.New("store has no vault provider")
	}
	v := store.Spec.Provider.Vault
	c := &config{
		readYourWrites: v.ReadYourWrites,
		// ESO sends X-Vault-Inconsistent only when readYourWrites is set
		// too; the field's documented meaning does not depend on it.
		forwardInconsistent: v.ForwardInconsistent,
		headers:             v.Headers,
		caBundle:            v.CABundle,
		caProvider:          v.CAProvider,
	}
	var err error
	if c.server, err = parseServer(v.Server); err != nil {
		return nil, err
	}
	if v.Path != nil {
		c.mount = strings.Trim(*v.Path, "/")
	}
	switch v.Version {
	case "":
		c.version = esv1.DefaultVaultKVVersion
	case esv1.VaultKVStoreV1, esv1.VaultKVStoreV2:
		c.version = v.Version
	default:
		return nil, fmt.Errorf("unknown KV version %q: want v1 or v2", v.Version)
	}
	if v.Namespace != nil {
		c.namespace = *v.Namespace
	}
	c.authNamespace = c.namespace
	if v.Auth != nil && v.Auth.Namespace != nil {
		c.authNamespace = *v.Auth.Namespace
	}
	if v.CAProvider != nil {
		if c.caNamespace, err = parseCAProvider(store, v.CAProvider); err != nil {
			return nil, err
		}
	}
	if v.ClientTLS != nil && (v.ClientTLS.CertSecretRef != nil || v.ClientTLS.KeySecretRef != nil) {
		if v.ClientTLS.CertSecretRef == nil || v.ClientTLS.KeySecretRef == nil {
			return nil, errors.New("tls: certSecretRef and keySecretRef go together")
		}
		c.clientCert = &keyPairRef{
			cert: withDefaultKey(*v.ClientTLS.CertSecretRef, "tls.crt"),
			key:  withDefaultKey(*v.ClientTLS.KeySecretRef, "tls.key"),
		}
		if err := checkRef("tls.certSecretRef", c.clientCert.cert); err != nil {
			return nil, err
		}
		if err := checkRef("tls.keySecretRef", c.clientCert.key); err != nil {
			return nil, err
		}
	}
	if rs := store.Spec.RetrySettings; rs != nil {
		if rs.MaxRetries != nil {
			if *rs.MaxRetries < 0 {
				return nil, fmt.Errorf("retrySettings.maxRetries %d is negative", *rs.MaxRetries)
			}
			n := int(*rs.MaxRetries)
			c.maxRetries = &n
		}
		if rs.RetryInterval != nil {
			if c.retryWait, err = time.ParseDuration(*rs.RetryInterval); err != nil || c.retryWait < 0 {
				return nil, fmt.Errorf("retrySettings.retryInterval %q is not a duration", *rs.RetryInterval)
			}
		}
	}
	if v.Auth != nil {
		if err := c.parseAuth(v.Auth); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseServer accepts an absolute http or https URL.
func parseServer(s string) (string, error) {
	if s == "" {
		return "", errors.New("server is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("server %q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("server %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("server %q has no host", s)
	}
	if u.User != nil {
		// Credentials in the URL would end up in every error message.
		return "", errors.New("server URL must not hold credentials")
	}
	return strings.TrimRight(s, "/"), nil
}

// parseCAProvider returns the namespace of the CA object, "" for the
// store's own. As ESO requires, a ClusterSecretStore names the namespace;
// unlike older ESO (CVE-2026-42875) a SecretStore may not name another.
func parseCAProvider(store providers.Store, p *esv1.CAProvider) (string, error) {
	if p.Type != esv1.CAProviderTypeSecret && p.Type != esv1.CAProviderTypeConfigMap {
		return "", fmt.Errorf("caProvider.type %q: want Secret or ConfigMap", p.Type)
	}
	if p.Name == "" {
		return "", errors.New("caProvider.name is empty")
	}
	if p.Key == "" {
		return "", errors.New("caProvider.key is empty")
	}
	if store.Kind == esv1.ClusterSecretStoreKind {
		if p.Namespace == nil || *p.Namespace == "" {
			return "", errors.New("caProvider.namespace is required in a ClusterSecretStore")
		}
		return *p.Namespace, nil
	}
	if p.Namespace != nil && *p.Namespace != store.Namespace {
		return "", fmt.Errorf("caProvider.namespace %q: a SecretStore reads only its own namespace", *p.Namespace)
	}
	return "", nil
}

// parseAuth picks the one auth method set.
func (c *config) parseAuth(a *esv1.VaultAuth) error {
	var set []string
	add := func(isSet bool, name string) {
		if isSet {
			set = append(set, name)
		}
	}
	add(a.TokenSecretRef != nil, "tokenSecretRef")
	add(a.AppRole != nil, "appRole")
	add(a.Kubernetes != nil, "kubernetes")
	add(a.LDAP != nil, "ldap")
	add(a.JWT != nil, "jwt")
	add(a.Cert != nil, "cert")
	add(a.IAM != nil, "iam")
	add(a.UserPass != nil, "userPass")
	add(a.GCP != nil, "gcp")
	switch len(set) {
	case 0:
		return errors.New("auth sets no method")
	case 1:
	default:
		return fmt.Errorf("auth sets %d methods (%s); exactly one is allowed", len(set), strings.Join(set, ", "))
	}
	switch {
	case a.TokenSecretRef != nil:
		if err := checkRef("auth.tokenSecretRef", *a.TokenSecretRef); err != nil {
			return err
		}
		c.tokenRef = a.TokenSecretRef
	case a.AppRole != nil:
		m, err := parseAppRole(a.AppRole)
		if err != nil {
			return err
		}
		c.login = m
	case a.Kubernetes != nil:
		m, err := parseKubernetes(a.Kubernetes)
		if err != nil {
			return err
		}
		c.login = m
	case a.JWT != nil:
		m, err := parseJWT(a.JWT)
		if err != nil {
			return err
		}
		c.login = m
	case a.UserPass != nil:
		m, err := parsePassword("userPass", "userpass", a.UserPass.Path, esv1.DefaultVaultUserPassPath, a.UserPass.Username, a.UserPass.SecretRef)
		if err != nil {
			return err
		}
		c.login = m
	case a.LDAP != nil:
		m, err := parsePassword("ldap", "ldap", a.LDAP.Path, esv1.DefaultVaultLDAPPath, a.LDAP.Username, a.LDAP.SecretRef)
		if err != nil {
			return err
		}
		c.login = m
	case a.Cert != nil:
		m, err := parseCert(a.Cert)
		if err != nil {
			return err
		}
		c.login = m
		c.certLogin = &m.pair
	case a.IAM != nil:
		m, err := parseIAM(a.IAM)
		if err != nil {
			return err
		}
		c.login = m
	default:
		return fmt.Errorf("auth.%s is not supported by this build; use tokenSecretRef, appRole, kubernetes, jwt, userPass, ldap, cert or iam", set[0])
	}
	return nil
}

func parseAppRole(a *esv1.VaultAppRole) (*appRoleLogin, error) {
	m := &appRoleLogin{mount: mountOr(a.Path, esv1.DefaultVaultAppRolePath), roleID: a.RoleID, roleRef: a.RoleRef, secretRef: a.SecretRef}
	switch {
	case a.RoleID != "" && a.RoleRef != nil:
		// ESO silently prefers roleId; two sources for one value is a
		// mistake worth reporting.
		return nil, errors.New("auth.appRole: set roleId or roleRef, not both")
	case a.RoleID == "" && a.RoleRef == nil:
		return nil, errors.New("auth.appRole: roleId or roleRef is required")
	case a.RoleRef != nil:
		if err := checkRef("auth.appRole.roleRef", *a.RoleRef); err != nil {
			return nil, err
		}
	}
	if err := checkRef("auth.appRole.secretRef", a.SecretRef); err != nil {
		return nil, err
	}
	return m, nil
}

func parseKubernetes(k *esv1.VaultKubernetesAuth) (*kubernetesLogin, error) {
	if strings.TrimSpace(k.Role) == "" {
		return nil, errors.New("auth.kubernetes.role is required")
	}
	m := &kubernetesLogin{mount: mountOr(k.Path, esv1.DefaultVaultKubernetesMountPath), role: k.Role, audiences: []string{defaultAudience}}
	// As in ESO, serviceAccountRef wins over secretRef. With neither, the
	// controller's own identity is asked of the core, which lends it only
	// to ClusterSecretStores the operator allowed.
	switch {
	case k.ServiceAccountRef != nil:
		if k.ServiceAccountRef.Name == "" {
			return nil, errors.New("auth.kubernetes.serviceAccountRef.name is empty")
		}
		m.serviceAccount = k.ServiceAccountRef
		if len(k.ServiceAccountRef.Audiences) > 0 {
			m.audiences = k.ServiceAccountRef.Audiences
		}
	case k.SecretRef != nil:
		ref := withDefaultKey(*k.SecretRef, defaultKubernetesTokenKey)
		if err := checkRef("auth.kubernetes.secretRef", ref); err != nil {
			return nil, err
		}
		m.secretRef = &ref
	}
	return m, nil
}

func parseJWT(j *esv1.VaultJwtAuth) (*jwtLogin, error) {
	m := &jwtLogin{mount: mountOr(j.Path, esv1.DefaultVaultJWTPath), role: strings.TrimSpace(j.Role)}
	switch {
	case j.SecretRef != nil:
		if err := checkRef("auth.jwt.secretRef", *j.SecretRef); err != nil {
			return nil, err
		}
		m.secretRef = j.SecretRef
	case j.KubernetesServiceAccountToken != nil:
		t := j.KubernetesServiceAccountToken
		if t.ServiceAccountRef.Name == "" {
			return nil, errors.New("auth.jwt.kubernetesServiceAccountToken.serviceAccountRef.name is empty")
		}
		m.serviceAccount = &t.ServiceAccountRef
		//lint:ignore SA1019 ESO still honours both deprecated fields, so a drop-in must too.
		audiences, expiration := t.Audiences, t.ExpirationSeconds
		// ESO requests the ServiceAccount's audiences plus these (default
		// "vault"). Unlike ESO, an explicitly empty list still means
		// "vault": a TokenRequest without audiences gets the API server's.
		m.audiences = append(append([]string(nil), t.ServiceAccountRef.Audiences...), audiences...)
		if audiences == nil || len(m.audiences) == 0 {
			m.audiences = append(m.audiences, defaultAudience)
		}
		m.expiration = providers.MinTokenExpiration
		if expiration != nil {
			if *expiration < providers.MinTokenExpiration {
				// The TokenRequest API refuses shorter tokens.
				return nil, fmt.Errorf("auth.jwt.kubernetesServiceAccountToken.expirationSeconds %d is below %d", *expiration, providers.MinTokenExpiration)
			}
			m.expiration = *expiration
		}
	default:
		return nil, errors.New("auth.jwt: secretRef or kubernetesServiceAccountToken is required")
	}
	return m, nil
}

func parsePassword(field, method, path, defaultPath, username string, secretRef *esmeta.SecretKeySelector) (*passwordLogin, error) {
	if username == "" {
		return nil, fmt.Errorf("auth.%s.username is required", field)
	}
	if secretRef == nil {
		return nil, fmt.Errorf("auth.%s.secretRef (the password) is required", field)
	}
	if err := checkRef("auth."+field+".secretRef", *secretRef); err != nil {
		return nil, err
	}
	return &passwordLogin{method: method, mount: mountOr(path, defaultPath), username: username, secretRef: *secretRef}, nil
}

func parseCert(a *esv1.VaultCertAuth) (*certLogin, error) {
	if a.ClientCert == nil || a.SecretRef == nil {
		return nil, errors.New("auth.cert: clientCert and secretRef (the key) are required")
	}
	if err := checkRef("auth.cert.clientCert", *a.ClientCert); err != nil {
		return nil, err
	}
	if err := checkRef("auth.cert.secretRef", *a.SecretRef); err != nil {
		return nil, err
	}
	return &certLogin{
		mount: mountOr(a.Path, esv1.DefaultVaultCertPath),
		role:  a.VaultRole,
		pair:  keyPairRef{cert: *a.ClientCert, key: *a.SecretRef},
	}, nil
}

// checkRef requires the Secret's name and key; the namespace rules are
// the Kube implementation's.
func checkRef(field string, ref esmeta.SecretKeySelector) error {
	if ref.Name == "" {
		return fmt.Errorf("%s.name is empty", field)
	}
	if ref.Key == "" {
		return fmt.Errorf("%s.key is empty", field)
	}
	return nil
}

func withDefaultKey(ref esmeta.SecretKeySelector, key string) esmeta.SecretKeySelector {
	if ref.Key == "" {
		ref.Key = key
	}
	return ref
}

// mountOr returns an auth mount path without surrounding slashes, or def.
func mountOr(path, def string) string {
	if p := strings.Trim(path, "/"); p != "" {
		return p
	}
	return def
}

// parseVersion checks a remoteRef.version: KV v2 versions are positive
// integers.
func parseVersion(v string) (string, error) {
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil || n == 0 {
		return "", fmt.Errorf("version %q is not a positive integer", v)
	}
	return strconv.FormatUint(n, 10), nil
}
