// Package aws reads secrets from AWS Secrets Manager and Systems Manager
// Parameter Store for ExternalSecrets, accepting ESO's aws provider spec
// (service SecretsManager or ParameterStore), with aws-sdk-go-v2.
//
// # What it was tested against
//
// Not against AWS. No AWS emulator is reachable where sealsync is built
// (none is served by the Go module proxy, Debian has none, PyPI and Docker
// are out of reach), so this package is tested against sealsync's own
// in-memory Secrets Manager, Parameter Store and STS, internal/awstest.
// That server speaks the real wire protocols and checks signatures with the
// SDK's own signer, and its fidelity is checked with Debian's awscli
// (botocore, AWS CLI 2.9) and with aws-sdk-go-v2 seeing the same data. Its
// model of AWS (errors, version stages, filters, pagination, IAM and STS
// rules) is written from AWS's documentation: where AWS behaves otherwise,
// this package may too. Report it.
//
// # Credentials
//
// One of, as in ESO:
//   - auth.secretRef: an access key ID, a secret access key and, for
//     temporary keys, a session token, read from Secrets;
//   - auth.jwt.serviceAccountRef: IRSA without the pod identity webhook. The
//     role is the ServiceAccount's eks.amazonaws.com/role-arn annotation;
//     the core requests a token of that ServiceAccount for
//     sts.amazonaws.com (or its eks.amazonaws.com/audience annotation) plus
//     the ref's audiences, never for the API server's own, and STS's
//     AssumeRoleWithWebIdentity exchanges it;
//   - neither: the SDK's default chain, which is the controller pod's own
//     identity. Only a ClusterSecretStore may use it, and only when the
//     operator allowed it (--allow-cluster-store-controller-identity, see
//     providers.ControllerIdentityChecker); the chain is not even loaded
//     otherwise. ESO lets any store use it.
//
// Then additionalRoles are assumed in order, each with the credentials of
// the one before, and then role, with externalID, sessionTags,
// transitiveTagKeys and the session tags of sessionTagsPolicy (which apply
// to role only and are ignored without it, as in ESO). Every stage is
// cached until two minutes before it expires (sessions last an hour), so a
// store's client calls STS once an hour per role, not per refresh: the
// core keeps the client, and the client keeps its credentials.
//
// Nothing is sent to AWS when the client is built; Validate gets the
// credentials (assuming the roles), as ESO's does. Static keys are not
// checked against AWS there.
//
// Endpoints come from the operator: AWS_SECRETSMANAGER_ENDPOINT,
// AWS_SSM_ENDPOINT and AWS_STS_ENDPOINT in the controller's environment (as
// ESO reads them), set as the SDK's BaseEndpoint. No other part of the
// controller's environment or AWS config files affects a store that names
// its own credentials.
//
// # Secrets Manager
//
// remoteRef.key is the secret's name or ARN, after the store's prefix.
// remoteRef.version is a version ID written "uuid/<ID>" or a staging
// label (AWSCURRENT when empty, AWSPREVIOUS, AWSPENDING or a custom one).
// A string secret is read as its string, a binary one as its bytes;
// property picks a gjson path out of either, a key holding dots first
// literally. metadataPolicy Fetch reads the secret's tags, as a JSON
// object, instead of its value. dataFrom.extract splits the JSON object
// into keys. A secret that does not exist, has no such version, or is
// scheduled for deletion is "not found" (deletionPolicy applies).
//
// dataFrom.find needs name.regexp or tags. ListSecrets narrows the
// candidates on AWS's side (a name filter for find.path, tag-key and
// tag-value filters), the exact match (the regexp anywhere in the name,
// find.path as a prefix, every tag with its value) is made here, and the
// matches are read with BatchGetSecretValue, 20 a call. Result keys are the
// secrets' names.
//
// # Parameter Store
//
// remoteRef.key is the parameter's name after the store's prefix;
// remoteRef.version is a version number or a label (name:version). Values
// are decrypted. metadataPolicy Fetch reads the parameter's tags.
// dataFrom.find searches find.path ("/" when unset) recursively: by name
// with GetParametersByPath (falling back to DescribeParameters and
// GetParameters when that is denied, as ESO does), by tags with
// DescribeParameters filters, both when both are given.
//
// # Batches and throttling
//
// Clients implement providers.BatchGetter: the current values of up to 20
// secrets per BatchGetSecretValue, up to 10 parameters (any version) per
// GetParameters, each error mapped back to its ref. The controller's read
// layer (internal/esdata) gathers the reads of the ExternalSecrets of one
// identity into these calls and reads each refresh slot ahead, so that a
// slot of 200 secrets costs 10 calls and no GetSecretValue. A secret ID
// of a length AWS refuses for a whole call is failed before sending, and a
// GetParameters refused for one malformed name is read name by name: one
// tenant's bad key fails no one else's read. A store whose policy
// does not grant secretsmanager:BatchGetSecretValue reads one secret at a
// time; a GetParameters refused for one name is read again name by name,
// so the others still succeed.
//
// The SDK retries throttling, 5xx answers and connection errors up to 8
// attempts with its jittered exponential backoff, without its client-side
// retry quota: one client serves every ExternalSecret of a store, and a
// drained quota would fail all of them at once without an attempt. A batch
// call still failing for such a reason is tried up to 3 more rounds, a
// second, two, four apart. retrySettings.maxRetries and retryInterval
// replace the attempts (maxRetries+1) and the backoff (fixed).
//
// # Differences from ESO
//
// Where ESO's behaviour is a bug rather than a contract this package
// differs:
//   - the SDK's default chain is the controller's identity and follows the
//     core's rule (above);
//   - a store with both secretRef and jwt is refused (ESO prefers jwt);
//   - a missing property is "not found" (ESO: a plain error);
//   - find by tags matches each tag's key and value together (AWS's filters
//     match keys and values separately), applies name and tags together,
//     and reads the matches in batches (ESO: one GetSecretValue each, or a
//     BatchGetSecretValue filtered by tag keys and values apart);
//   - a secret find selects but cannot read fails the find (ESO leaves it
//     out, so a permission change would silently remove keys);
//   - a missing Parameter Store version or label is "not found" (ESO: a
//     plain error), and metadataPolicy Fetch reads a parameter's tags
//     whatever the version;
//   - Secrets Manager's InvalidRequestException for a deleted secret is
//     "not found" (ESO checks InvalidParameterException only);
//   - sessionTagsPolicy Simple and Custom add their tags to sessionTags
//     (ESO replaces them); a tag key set twice is refused;
//   - retrySettings.maxRetries counts retries (ESO: attempts);
//   - AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL and the other variables and
//     files of the SDK's configuration are read only for the default chain.
package aws
