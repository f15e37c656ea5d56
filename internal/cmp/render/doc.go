// Package render turns an Argo CD application's source into Kubernetes
// objects, as the sealsync config-management plugin's generate command
// needs them: a folder of plain YAML and JSON manifests, a Kustomize
// directory (through kustomize's own library, in memory) or a Helm chart
// (through the Helm SDK), with every SOPS-encrypted file it reads
// decrypted in memory by an injected [Decrypter].
//
// # Trust
//
// The source is untrusted: an application's author controls it. A render
// reads nothing outside the source (absolute paths, paths climbing out
// and symbolic links leading out are refused), uses no network (a
// kustomization's remote bases and URLs are refused before kustomize sees
// them), runs no program (no exec or KRM function plugins, no helm
// binary, no Helm downloads) and writes no file. Everything it may spend
// is bounded by [Limits], which the operator sets: files and bytes read,
// output size, wall time, and a step budget for Helm's templates (see
// helmguard.go for what it covers and what it cannot).
//
// What a source can reach is chosen elsewhere: the Decrypter holds only
// the keys of the application's Argo CD project. A chart or kustomization
// may put a value it decrypted anywhere in its output; that is its
// author's right over their own project's secrets, and the plugin's
// output policy (sealing every Secret, refusing decrypted values in
// other objects) is the next step's job.
//
// # Errors
//
// Errors name the file and the reason, wrap one of the package's Err
// values where a caller may branch, and are cut to a few KiB. kustomize
// and Helm quote parts of their input in some errors; when such a message
// would quote a decrypted value, it is replaced by [ErrWithheld].
package render
