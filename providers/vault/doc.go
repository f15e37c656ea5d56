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
// A property is picked out of the whole secret locally: the client is a
// providers.PropertyExtractor, so the core reads a path once for all the
// properties ExternalSecrets ask of it.
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
// # ServiceAccount tokens
//
// The kubernetes method (serviceAccountRef) and the jwt method
// (kubernetesServiceAccountToken) send Vault a token the core requests
// through the TokenRequest API, for the store's audiences or "vault", never
// for the API server's own: the token goes to the server the store names,
// and one for the API server's audience would work against the Kubernetes
// API there. A store that lists an audience the API server accepts is
// refused by the core (providers.ErrAPIServerAudience) before anything is
// sent. A kubernetes-method role in Vault that names an audience must
// name that one. Tokens live 600 seconds, the shortest the API grants, unless
// kubernetesServiceAccountToken.expirationSeconds asks for longer.
//
// With neither serviceAccountRef nor secretRef, the kubernetes method asks
// the core for the controller's own identity and never reads the
// controller's token file: the core refuses every SecretStore, and every
// ClusterSecretStore unless the operator allowed it, before anything is
// sent (see providers.Kube.ControllerToken).
//
// # AWS IAM
//
// The aws method with the iam type (auth.iam) logs in as Vault's own client
// and ESO do: an sts:GetCallerIdentity request, signed with SigV4 by
// aws-sdk-go-v2's signer for the operator's STS endpoint (AWS_STS_ENDPOINT
// in the controller, as in ESO) or else the one the SDK resolves for the
// region, with the
// X-Vault-AWS-IAM-Server-ID header signed in when vaultAwsIamServerID is set,
// is posted to auth/<path or "aws">/login as iam_http_request_method,
// iam_request_url, iam_request_body and iam_request_headers (base64), with
// role = vaultRole. Vault sends it on to STS (its sts_endpoint) and logs in
// the principal STS names. The request is never sent to AWS from here.
//
// The AWS credentials are the AWS provider's (providers/aws), with its
// rules: secretRef's keys, or jwt.serviceAccountRef's IRSA role (the
// ServiceAccount's eks.amazonaws.com/role-arn, a TokenRequest token for
// sts.amazonaws.com exchanged through AssumeRoleWithWebIdentity), then role
// assumed with externalID. With neither secretRef nor jwt the controller's
// own AWS identity is used, which the core lends only to ClusterSecretStores
// the operator allowed; a SecretStore is refused before anything is sent.
// The credentials are built and, for roles, assumed once per login, and logins
// are as rare as for every other method (see Tokens).
//
// Tested against Vault 1.14's aws method configured with sts_endpoint set to
// sealsync's in-memory STS (internal/awstest), which checks the signature.
//
// # Find
//
// dataFrom.find lists recursively under find.path (the mount's root when
// unset) and returns each match under the key remoteRef.key would use:
// relative to the store's path, find.path included, slashes kept. That is
// what ESO's provider returns; ESO's docs show "config" for find.path
// "dev", but its code returns "dev/config", and the core's conversion
// strategy turns slashes into underscores after any rewrite.
//
// # Differences from ESO
//
// Where ESO's behaviour is a bug rather than a contract this package
// differs, and says so at the line concerned:
//   - a missing property is "not found" (ESO: a plain error);
//   - find applies name and tags together (ESO ignores tags when a name
//     is given), and tags match custom_metadata only;
//   - metadataPolicy Fetch returns custom_metadata only (newer ESO also
//     mixes in created_time, current_version and delete_version_after);
//   - forwardInconsistent works without readYourWrites;
//   - the caProvider of a SecretStore may not name another namespace;
//   - appRole with both roleId and roleRef is refused (ESO prefers
//     roleId);
//   - in dataFrom.extract, numbers keep the digits Vault returned (ESO re-formats floats); a single property is formatted as ESO formats it;
//   - no VAULT_* variable of the controller's environment affects a store;
//   - kubernetes auth without serviceAccountRef or secretRef is refused
//     unless the core lends the controller's identity (ESO sends the
//     controller's mounted token to any store's server);
//   - requested ServiceAccount tokens default to audience "vault" for the
//     kubernetes method too, and an explicitly empty audiences list of
//     kubernetesServiceAccountToken still means "vault" (ESO: the API
//     server's audience in both cases);
//   - a store listing an audience the API server accepts is refused (ESO
//     requests the token).
package vault
