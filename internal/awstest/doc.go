// Package awstest is an in-memory AWS for tests and benchmarks: Secrets
// Manager, Systems Manager Parameter Store and STS behind one HTTP
// endpoint, speaking the wire protocols the AWS SDKs and the AWS CLI speak.
// No AWS emulator is reachable where sealsync is built and tested, so
// sealsync's AWS provider is tested against this one.
//
// The name follows net/http/httptest: a stand-in for AWS, not a test. It
// does not import testing, so test/bench and demos can run it too.
//
// # Wire protocols
//
// Secrets Manager and Parameter Store speak AWS JSON 1.1: a POST whose
// X-Amz-Target header names the operation ("secretsmanager.GetSecretValue",
// "AmazonSSM.GetParameter"), answered with JSON, errors carrying their code
// in __type and X-Amzn-ErrorType. STS speaks the query protocol: a form
// POST with Action and Version, answered with XML, errors in an
// ErrorResponse document. Timestamps, blobs, pagination tokens, version
// IDs and ARNs have the services' shapes.
//
// # Signatures
//
// Every request but AssumeRoleWithWebIdentity (which AWS takes unsigned) is
// checked as AWS checks it: an AWS Signature Version 4 Authorization
// header, recomputed with the AWS SDK for Go's own signer from the request
// as received and the secret of the access key it names. A bad signature,
// an unknown access key, a session token that is missing, wrong or
// expired, a scope naming another service or region, and a signing time
// more than 15 minutes from the server's clock are refused with the
// service's error code. Presigned URLs are not supported. The path is
// signed normalized, dot segments removed and repeated slashes collapsed,
// as AWS's services other than S3 sign it: Vault's AWS auth method
// forwards a request signed for "/" to its sts_endpoint at "//".
//
// # Identities and permissions
//
// Users ([Server.AddUser]) sign with long-term keys; roles
// ([Server.AddRole]) are assumed through STS (AssumeRole, with external
// IDs, session tags, transitive tags and role chaining, or
// AssumeRoleWithWebIdentity with a token of an [OIDCProvider]). Every
// operation is authorized against the caller's IAM-like [Policy] for the
// action and the resource's ARN, before the resource is looked up, so a
// caller without the right learns nothing of what exists. BatchGetSecretValue
// reports a secret the caller may not read as an entry of Errors, as the
// service does; GetParameters fails as a whole.
//
// # Faults and counts
//
// [Server.Inject] fails requests with throttling, 5xx answers or dropped
// connections (every Nth, within a window, up to a limit);
// [Server.Down] and [Server.Up] refuse connections for an outage. Every
// answered request is counted by service, action, caller and outcome
// ([Server.Calls], [Server.Count]).
//
// # Fidelity
//
// The services' documented behaviour is modelled for the operations
// sealsync and its tests use: version stages (AWSCURRENT, AWSPREVIOUS,
// AWSPENDING, custom) and their moves, deletion windows and restore,
// filters and pagination of ListSecrets and BatchGetSecretValue, Parameter
// Store versions, labels, hierarchies, tags, SecureString decryption,
// DescribeParameters filters. The tests of this package drive it with
// Debian's awscli (botocore, a client nobody here wrote) and with
// aws-sdk-go-v2, and compare what both see.
//
// Not modelled: KMS (a key ID is a label; [Server.DisableKMSKey] makes reads
// fail with DecryptionFailure), resource policies, permission boundaries,
// service control policies and IAM conditions other than external IDs,
// web identity audience and subject and aws:PrincipalTag, replication,
// rotation, and Parameter Store policies and parameter history.
package awstest
