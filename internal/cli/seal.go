package cli

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/sealing"
)

// now is the clock that decides whether a certificate has expired.
var now = time.Now

func newSealer(certPEM []byte) (*sealing.Sealer, error) {
	_, pub, err := crypto.ParseSealingCertificate(certPEM, now())
	if err != nil {
		return nil, err
	}
	return sealing.NewSealer(rand.Reader, pub), nil
}

// sealSettings are the per-run choices that shape each sealed Secret.
type sealSettings struct {
	scope    crypto.Scope
	scopeSet bool
	// name and namespace override the input's (--merge-into).
	name, namespace string
	// into names the file whose scope the values take (--merge-into): an
	// input whose annotations declare another scope is refused.
	into string
}

// seal reads Secrets from in and writes one SealedSecret each to out.
func (o *options) seal(in io.Reader, out io.Writer, format manifest.Format, sealer *sealing.Sealer, s sealSettings) error {
	sealed, err := o.sealAll(in, sealer, s)
	if err != nil {
		return err
	}
	for _, ss := range sealed {
		if err := manifest.Encode(out, format, ss); err != nil {
			return err
		}
	}
	return nil
}

func (o *options) sealAll(in io.Reader, sealer *sealing.Sealer, s sealSettings) ([]*ssv1alpha1.SealedSecret, error) {
	secrets, err := manifest.DecodeSecrets(in)
	if err != nil {
		return nil, err
	}
	if len(secrets) == 0 {
		return nil, errors.New("no secrets found. Ensure the input is valid and UTF-8 encoded")
	}
	var out []*ssv1alpha1.SealedSecret
	for _, secret := range secrets {
		if len(secret.Data) == 0 && len(secret.StringData) == 0 && !o.allowEmptyData {
			return nil, errors.New("secret.data is empty in input Secret, assuming this is an error and aborting. To work with empty data, --allow-empty-data can be used")
		}
		if s.into != "" && declaresScope(secret) && sealing.ScopeOf(secret) != s.scope {
			return nil, fmt.Errorf("%w: input Secret %q is annotated %s but %s is sealed %s; remove the annotation",
				errMergeScope, secret.Name, sealing.ScopeOf(secret), s.into, s.scope)
		}
		if o.secretName != "" {
			secret.Name = o.secretName
		}
		if s.name != "" {
			secret.Name = s.name
		}
		if secret.Name == "" {
			return nil, errors.New("missing metadata.name in input Secret")
		}
		if s.namespace != "" {
			secret.Namespace = s.namespace
		}
		if s.scopeSet {
			secret.Annotations = sealing.SetScope(secret.Annotations, s.scope)
		}
		if sealing.ScopeOf(secret) != crypto.ScopeClusterWide {
			ns, explicit, _ := o.clientConfig().Namespace()
			if explicit && secret.Namespace != "" && secret.Namespace != ns {
				return nil, fmt.Errorf("namespace mismatch: input secret is in namespace %q but %q was specified", secret.Namespace, ns)
			}
			if secret.Namespace == "" {
				secret.Namespace = ns
			}
		}
		ss, err := sealer.SealSecret(secret)
		if err != nil {
			return nil, err
		}
		out = append(out, ss)
	}
	return out, nil
}

// sealRaw seals one value from --from-file or stdin and prints it as bare
// base64 without a newline.
func (o *options) sealRaw(out io.Writer, sealer *sealing.Sealer, scope crypto.Scope) error {
	var ns string
	if scope != crypto.ScopeClusterWide {
		var err error
		ns, _, err = o.clientConfig().Namespace()
		if err != nil {
			return err
		}
		if ns == "" {
			return fmt.Errorf("must provide the --namespace flag with --raw and --scope %s", scope)
		}
		if o.secretName == "" && scope == crypto.ScopeStrict {
			return fmt.Errorf("must provide the --name flag with --raw and --scope %s", scope)
		}
	}
	var (
		data []byte
		err  error
	)
	switch len(o.fromFile) {
	case 0:
		if isTerminal(o.streams.In) {
			fmt.Fprintln(o.streams.Err, "(tty detected: expecting a secret to encrypt in stdin)")
		}
		data, err = manifest.ReadInput(o.streams.In)
	case 1:
		data, err = readFromFile(o.fromFile[0])
	default:
		return errors.New("must provide only one --from-file when encrypting a single item with --raw")
	}
	if err != nil {
		return err
	}
	v, err := sealer.SealValue(scope, ns, o.secretName, data)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, v)
	return err
}

// errMergeScope starts the error of a --merge-into whose input asks for
// another scope than the file's.
var errMergeScope = errors.New("--merge-into keeps the scope of the file")

// declaresScope reports whether secret's annotations name a scope at all,
// "true" or not: an input that says nothing takes the file's scope.
func declaresScope(secret *corev1.Secret) bool {
	_, cw := secret.Annotations[ssv1alpha1.ClusterWideAnnotation]
	_, nw := secret.Annotations[ssv1alpha1.NamespaceWideAnnotation]
	return cw || nw
}

// sealMergingInto seals the input under the name, namespace and scope of
// the SealedSecret in file and merges the sealed values and template
// entries into it, rewriting the file atomically. format "" keeps the
// file's own format.
//
// The scope is the file's, as its top-level metadata declares it: that is
// what the controller binds every value to when unsealing. A value sealed
// for another scope would either never unseal there or, sealed wider than
// the file, be a value anyone could copy into a SealedSecret of their
// own. An explicit --scope or an input annotation that asks for another
// scope is refused, with the file left as it was.
func (o *options) sealMergingInto(in io.Reader, sealer *sealing.Sealer, scope crypto.Scope, scopeSet bool, format manifest.Format) error {
	b, err := os.ReadFile(o.mergeInto)
	if err != nil {
		return err
	}
	origs, err := manifest.DecodeSealedSecrets(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", o.mergeInto, err)
	}
	if len(origs) != 1 {
		return fmt.Errorf("%s: want exactly one SealedSecret, found %d", o.mergeInto, len(origs))
	}
	orig := origs[0]
	fileScope := sealing.ScopeOf(orig)
	if scopeSet && scope != fileScope {
		return fmt.Errorf("%w: %s is sealed %s but --scope is %s; drop --scope", errMergeScope, o.mergeInto, fileScope, scope)
	}
	updates, err := o.sealAll(in, sealer, sealSettings{
		scope: fileScope, scopeSet: true, name: orig.Name, namespace: orig.Namespace, into: o.mergeInto,
	})
	if err != nil {
		return err
	}
	for _, u := range updates {
		if orig.Spec.EncryptedData == nil {
			orig.Spec.EncryptedData = map[string]string{}
		}
		maps.Copy(orig.Spec.EncryptedData, u.Spec.EncryptedData)
		orig.Spec.Template.Annotations = manifest.MergeStrings(orig.Spec.Template.Annotations, u.Spec.Template.Annotations)
		orig.Spec.Template.Labels = manifest.MergeStrings(orig.Spec.Template.Labels, u.Spec.Template.Labels)
		orig.Spec.Template.Data = manifest.MergeStrings(orig.Spec.Template.Data, u.Spec.Template.Data)
		orig.Annotations = manifest.MergeStrings(orig.Annotations, map[string]string{ssv1alpha1.KeyIDAnnotation: sealer.KeyID().String()})
	}
	if format == "" {
		format = manifest.YAML
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
			format = manifest.JSON
		}
	}
	af, err := createAtomic(o.mergeInto)
	if err != nil {
		return err
	}
	if err := manifest.Encode(af, format, orig); err != nil {
		af.abort()
		return err
	}
	return af.commit()
}
