// Package placeholder replaces argocd-vault-plugin's placeholders in
// rendered Kubernetes objects with values read from a secret store, as
// argocd-vault-plugin (AVP) v1.18 does, so that manifests written for AVP
// render unchanged.
//
// # Syntax
//
// An object with the annotation avp.kubernetes.io/path names one secret
// for all its generic placeholders: <key> is that secret's field key.
// Without the annotation only inline placeholders count, so that other
// text in angle brackets is left alone: <path:secret/data/x#key> reads
// field key of the secret at secret/data/x, and <path:secret/data/x#key#3>
// its version 3. A placeholder may be followed by modifiers, each after a
// "|": base64encode, base64decode, jsonPath {expr}, jsonParse, yamlParse,
// indent N and sha256sum, applied in order. In a Secret, a value whose
// base64 decoding holds a placeholder (a kustomize secretGenerator's
// output) is replaced decoded and encoded again.
//
// Annotations: avp.kubernetes.io/ignore "true" skips the object;
// avp.kubernetes.io/kv-version picks the key-value layout of the store
// ("1" or "2") for the object's reads; avp.kubernetes.io/secret-version
// pins the version of the annotated path; avp.kubernetes.io/remove-missing
// "true" (Secrets and ConfigMaps only) drops a field whose key the secret
// lacks instead of failing.
//
// A value that is not a string replaces the whole field when it is the
// result of a placeholder (replicas: <replicas>); in Secrets and
// ConfigMaps it is written as a string, and maps and lists as JSON.
//
// # Reads
//
// Where AVP reads the store once for every inline placeholder, one after
// the other, [Resolve] first collects every distinct secret (path,
// version, layout) the objects name, reads each exactly once, several at a
// time (at most [Limits.MaxParallel]), and then substitutes. The store is
// behind the [Reader] interface; this package names no provider.
//
// # Trust
//
// The objects are tenant input: their author chooses which paths to read,
// within what the store's own credentials allow (the caller picks the
// store from trusted configuration, never from the objects). The number
// of placeholders and of distinct secrets, the bytes substitution adds
// and the width of indent are bounded by [Limits]. Errors name the object,
// the field and the placeholder's path and key, never a value read; every
// value read is recorded in a [redact.Values] the caller checks its later
// errors against.
package placeholder
