// Package sopsx decrypts SOPS files in memory with age identities given
// explicitly, never with the keys the process environment would lend
// sops (SOPS_AGE_KEY*, ~/.config/sops, cloud credentials).
//
// # Keys
//
// The identities come from [LoadIdentities]: the age identity files
// (`*.txt`, as age-keygen writes them) in one folder per Argo CD project,
// chosen by the project's name, which the caller takes from a trusted
// source (Argo CD's ARGOCD_APP_PROJECT_NAME, never an author-set
// variable). A project without a folder gets no keys and decrypts
// nothing. A [Decryptor] serves sops a key service of its own that
// unwraps age data keys with exactly those identities and refuses every
// other kind of master key (KMS, Vault transit, PGP...): those would reach
// services with the process's own credentials, at addresses the file
// names.
//
// # What is checked
//
// Files are decrypted as committed, so the MAC must match: a changed,
// added, removed or reordered value, or a changed MAC, fails. The format
// comes from the file name as sops chooses it when encrypting (.yaml and
// .yml, .json, .env, .ini; anything else is binary, stored as JSON), and
// [IsEncrypted] says cheaply whether a file is SOPS-encrypted without ever
// failing on a plain one.
//
// # Limits
//
// A file larger than [Limits.MaxFileSize], more than [Limits.MaxFiles]
// files per Decryptor, more than maxMasterKeys master keys in one file or
// a wrapped data key larger than maxWrappedKeySize are refused before any
// work. A Decryptor unwraps each wrapped data key once: the same blob in
// many files (copies of one file, a file read twice by a render) costs one
// age decryption.
//
// # What never leaks
//
// No plaintext is written to disk. Errors name the file and what failed,
// never a decrypted byte: sops's own messages are dropped wherever they
// could quote a value, and [Decryptor.Quotes] lets a caller whose later
// steps (kustomize, Helm) may quote their input check an error message
// against every value this Decryptor decrypted. [Decryptor.Plaintexts]
// lists the string values with their file and key, for a caller that must
// keep them out of its output.
package sopsx
