// Package cmp is the core of sealsync's Argo CD config-management plugin
// (kubeseal argocd generate): it renders an application's source (through
// package render, SOPS files decrypted with the keys of the application's
// Argo CD project), replaces argocd-vault-plugin placeholders with values
// from the project's secret store (package placeholder, through the
// providers interface) or from SOPS files of the source (a placeholder
// path naming one, as argocd-vault-plugin's sops backend reads them), and
// writes one YAML stream in which every Secret is a SealedSecret.
//
// # Trust
//
// Two parties configure a generation. The operator owns the sidecar: its
// flags and environment ([Config]), the folders of age keys and store
// configurations it mounts, the certificate and the convergence key. Argo
// CD sets the build environment from the Application (ARGOCD_APP_*,
// [Env]), which the AppProject bounds: the project and the destination
// namespace are facts an author cannot forge, as the ARGOCD_ENV_ prefix
// keeps author-set variables apart. Everything else is the application's
// author's: the repository (files, kustomizations, charts, values,
// placeholders) and the ARGOCD_ENV_* variables ([Env.Author]).
//
// So the project alone chooses the SOPS identities (AgeKeysDir/<project>)
// and the secret store with its credentials (StoresDir/<project>), or in
// reference mode the stores its paths map to (Config.Stores); no author
// input names a folder, a key, a store or a credential. An author chooses
// only what their own project's keys and store can open.
//
// # Output
//
// In [Sealed] mode, the default, every Secret of the render becomes a
// SealedSecret for its namespace (the destination namespace when it names
// none), sealed with the cluster's certificate; with a convergence key the
// sealing is convergent (sealing.NewConvergentSealer), so rendering an
// unchanged source again gives the same bytes and Argo CD shows no
// spurious difference. A placeholder outside a Secret would put a store's
// value into Argo CD in plain text, so it is refused unless the operator
// allows it (Config.AllowPlaceholdersOutsideSecrets). So would a value
// decrypted from a SOPS file: an object other than a Secret that holds
// one (a ConfigMap a team encrypted, a kustomize generator's ConfigMap,
// a chart's use of a SOPS values file) is refused unless the operator
// allows it (Config.AllowSOPSOutsideSecrets). Since kustomize and Helm
// reshape what they read, that rule looks for the decrypted values in
// the rendered objects, whole or base64-encoded; docs/compatibility.md
// says what it cannot see. [Plain] mode writes Secrets as they are, as
// argocd-vault-plugin does; the operator sets it, or allows authors to
// ask for it.
//
// # Reference mode
//
// With [Reference] placeholders (Config.PlaceholderMode, the operator's
// only), a Secret whose placeholders name the store is not resolved: it
// becomes the ExternalSecret that makes it (placeholder.ToExternalSecret),
// for the controller on the destination cluster to sync and refresh. The
// store and key of each path come from the operator's [StoreMap] for the
// project; a path it does not map is an error. Nothing is read and no
// store credentials are needed, unless the operator lets placeholders
// outside Secrets be resolved. Placeholders that name SOPS files of the
// source are resolved and sealed as in [Resolve] mode. docs/argocd.md
// compares the modes.
//
// # Errors
//
// A failed generation writes nothing to stdout. Its error names the file,
// object, field or placeholder and the reason, and never quotes a value
// decrypted or read: every message is checked against all of them
// (package redact) before it is returned.
package cmp
