// Package keys is the controller's key lifecycle: it loads the sealing
// keys from their Secrets, makes new ones when due, and backs them up.
// [Setup] adds it to a controller-runtime manager; controller.New calls it
// and adds the [Backup] when --backup-recipients is set.
//
// # Parts, and where they run
//
// Every replica serves the keys, so every replica loads them; writing is
// the leader's alone.
//
//   - [Manager] (every replica) holds the keyring the HTTP API and the
//     SealedSecret reconciler use. It loads it from the key Secrets in the
//     controller's namespace, through a cache of its own scoped to that
//     namespace and the key label, plus Bitnami's legacy unlabelled key
//     Secret read directly, and rebuilds it whenever one is added,
//     relabelled or deleted (the controller named "keys"). A broken key
//     Secret is logged and skipped. [Manager.OnChange] tells others when
//     the keys or their status changed: the SealedSecret reconciler
//     retries what failed to unseal, the backup writes a new bundle.
//   - [Renewer] (leader only) makes a key when there is none, when the
//     newest is older than the renewal period (--key-renew-period) or the
//     cutoff (--key-cutoff-time), and when a key Secret carries a renewal
//     request newer than the newest key. Old keys stay, so everything
//     sealed before still unseals.
//   - [Backup] (leader only, with --backup-recipients) keeps an
//     age-encrypted bundle (package keybackup) of every key Secret in the
//     ConfigMap --backup-configmap, written again within seconds of any
//     change to the keys, so a backup never lags a renewal. It writes
//     ciphertext only, never replaces a backup with an empty one, and
//     never overwrites a ConfigMap it did not make. [ParseBackupRecipients]
//     reads the recipients: a file, one per line as age -R reads it (read
//     again for every backup, so edits apply at the next change), or a
//     comma-separated list of age1… and ssh-… recipients.
//
// The key Secret format, with the renewal request annotations, is package
// keysecret, the one codec of key Secrets, which kubeseal and keybackup
// use too; unencrypted key files (PEM, YAML, JSON) are package keyfile.
//
// # Renewal requests
//
// `kubeseal keys rotate` asks for a key by setting
// [keysecret.RenewRequestAnnotation] to the current time on a key Secret:
// patching a key Secret needs rights the API server checks. The renewer
// answers a request at most once: the key it makes carries
// [keysecret.RenewAnsweredAnnotation] with the request's time, so a
// request from a clock ahead of the controller's cannot make keys in a
// loop.
//
// # Three things called "rotate"
//
// Bitnami's names use "rotate" for three different things; sealsync's Go
// names say which is meant:
//
//   - Key renewal, this package: a new sealing key, made by the [Renewer]
//     on its period (Bitnami's --key-renew-period, or its deprecated alias
//     --rotate-period) or when `kubeseal keys rotate` asks. The annotation
//     values (sealsync.dev/rotate-requested-at) keep the command's word.
//   - Bitnami's POST /v1/rotate (package server, called by kubeseal
//     --re-encrypt): re-encrypts one SealedSecret with the newest key. It
//     makes no key.
//   - `kubeseal reencrypt` (packages cli and reencrypt): re-seals every
//     SealedSecret in files and folders with the newest key, through
//     /v1/rotate or offline with private keys. It makes no key either.
package keys
