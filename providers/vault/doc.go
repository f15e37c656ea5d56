// Package vault reads secrets from the KV engine of HashiCorp Vault (or
// OpenBao) for ExternalSecrets, accepting every field of ESO's vault
// provider.
//
// # Paths
//
// A remote key is read the way ESO reads it. With the store's path set,
// key "foo" of a KV v2 store reads <path>/data/foo, and a key that already
// starts with <path>/ (or <path>/data/) is not prefixed twice. Without a
// store path the key's first segment is the mount: "secret/foo" reads
// secret/data/foo. KV v1 has no data/ segment.
//
// # Tokens
//
// ESO logs in on every reconcile and revokes the token afterwards, which
// floods Vault with logins and leases at scale. A client here logs in once,
// in NewClient, and keeps its token for as long as the core keeps the
// client: before a request it renews the token (auth/token/renew-self)
// once less than a third of its lease is left, and logs in again only when
// the token cannot be renewed, has expired, or Vault refuses it. Callers
// that need a new token at the same time share one login. Close revokes a
// token the client logged in for; a token it was given (tokenSecretRef) is
// never renewed or revoked.
//
// A 403 from Vault means either a dead token or a policy that denies the
// path. The client tells them apart with a lookup-self before logging in
// again, so a denied path costs no login.
//
// # Differences from ESO
//
// Where ESO's behaviour is a bug rather than a contract this package
// differs, and says so at the line concerned: a missing property is "not
// found" (ESO: a plain error), find applies name and tags together (ESO
// ignores tags when a name is given), forwardInconsistent works without
// readYourWrites, and the store's caProvider of a SecretStore may not name
// another namespace.
package vault
