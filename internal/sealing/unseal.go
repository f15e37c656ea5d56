package sealing

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/template"
)

var (
	// ErrBothDataFields is returned for a SealedSecret that sets both the
	// deprecated spec.data and spec.encryptedData.
	ErrBothDataFields = errors.New("cannot use the field 'encryptedData' and the deprecated field 'data' at the same time")
	// ErrV1DataRefused is returned for a SealedSecret using the deprecated
	// spec.data when [Options.AcceptV1Data] is off.
	ErrV1DataRefused = errors.New("using deprecated 'data' field, use 'encryptedData' or flip the feature flag")
)

// Unsealed is the result of opening a SealedSecret's values.
type Unsealed struct {
	// Items maps each encryptedData key to its plaintext.
	Items map[string][]byte
	// Keys are the distinct keys that opened the items, in order of first
	// use. Usually one.
	Keys []crypto.KeyID
}

// hintOf returns the key-ID hint of ss, or the zero ID when it has none or
// an unparsable one: the hint only orders attempts, so a bad one costs
// time, never correctness.
func hintOf(ss *ssv1alpha1.SealedSecret) crypto.KeyID {
	id, err := crypto.ParseKeyID(ss.Annotations[ssv1alpha1.KeyIDAnnotation])
	if err != nil {
		return crypto.KeyID{}
	}
	return id
}

// UnsealItems opens every encryptedData value of ss with ring, binding each
// to ss's top-level scope, name and namespace. No template is executed, so
// this is safe on untrusted input (the /v1/verify and /v1/rotate paths).
// The key that opens one item is tried first for the next.
//
// Errors name the failing items and are otherwise those of package crypto:
// vague, and free of secret bytes.
func UnsealItems(ring *crypto.Keyring, ss *ssv1alpha1.SealedSecret) (*Unsealed, error) {
	label := Label(ss)
	hint := hintOf(ss)
	u := &Unsealed{Items: make(map[string][]byte, len(ss.Spec.EncryptedData))}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(ss.Spec.EncryptedData)) {
		blob, err := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("item %q: not valid base64", k))
			continue
		}
		pt, key, err := ring.Decrypt(blob, label, hint)
		if err != nil {
			errs = append(errs, fmt.Errorf("item %q: %w", k, err))
			continue
		}
		u.Items[k] = pt
		hint = key.ID
		if !slices.Contains(u.Keys, key.ID) {
			u.Keys = append(u.Keys, key.ID)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return u, nil
}

// Options control [Unseal].
type Options struct {
	// AcceptV1Data accepts the deprecated whole-Secret spec.data field, as
	// Bitnami's controller does by default (--accept-deprecated-v1-data).
	AcceptV1Data bool
	// Engine renders spec.template.data; nil means [template.Default].
	Engine *template.Engine
}

// Unseal opens ss with ring and returns the Secret it describes: the
// template's metadata, type and immutability, the opened values, then each
// spec.template.data entry rendered over them, with the name and namespace
// forced to ss's and an owner reference to ss unless the template carries
// [ssv1alpha1.SkipSetOwnerReferencesAnnotation].
//
// A template sees every opened value as a string under its key and, for
// keys that are not sealed, the plain template.data source (Bitnami
// v0.37+); sealed values win on a clash.
func Unseal(ring *crypto.Keyring, ss *ssv1alpha1.SealedSecret, opts Options) (*corev1.Secret, *Unsealed, error) {
	var (
		secret *corev1.Secret
		u      *Unsealed
		err    error
	)
	switch {
	case len(ss.Spec.Data) > 0 && len(ss.Spec.EncryptedData) > 0:
		return nil, nil, ErrBothDataFields
	case len(ss.Spec.Data) > 0:
		if !opts.AcceptV1Data {
			return nil, nil, ErrV1DataRefused
		}
		secret, u, err = unsealV1(ring, ss)
	default:
		secret, u, err = unsealV2(ring, ss, opts)
	}
	if err != nil {
		return nil, nil, err
	}
	secret.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	secret.Name = ss.Name
	secret.Namespace = ss.Namespace
	if ss.Spec.Template.Annotations[ssv1alpha1.SkipSetOwnerReferencesAnnotation] != "true" {
		secret.OwnerReferences = []metav1.OwnerReference{OwnerReference(ss)}
	}
	return secret, u, nil
}

func unsealV2(ring *crypto.Keyring, ss *ssv1alpha1.SealedSecret, opts Options) (*corev1.Secret, *Unsealed, error) {
	u, err := UnsealItems(ring, ss)
	if err != nil {
		return nil, nil, err
	}
	secret := &corev1.Secret{Type: ss.Spec.Template.Type, Immutable: ss.Spec.Template.Immutable}
	ss.Spec.Template.ObjectMeta.DeepCopyInto(&secret.ObjectMeta)
	secret.Data = make(map[string][]byte, len(u.Items)+len(ss.Spec.Template.Data))
	maps.Copy(secret.Data, u.Items)
	if len(ss.Spec.Template.Data) == 0 {
		return secret, u, nil
	}
	engine := opts.Engine
	if engine == nil {
		engine = template.Default()
	}
	ctx := make(map[string]string, len(u.Items)+len(ss.Spec.Template.Data))
	maps.Copy(ctx, ss.Spec.Template.Data)
	for k, v := range u.Items {
		ctx[k] = string(v)
	}
	// All of the object's templates draw from one budget: splitting work
	// over many keys gains nothing.
	budget := template.NewBudget()
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(ss.Spec.Template.Data)) {
		out, err := engine.Execute(budget, k, ss.Spec.Template.Data[k], ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		secret.Data[k] = out
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return secret, u, nil
}

// unsealV1 opens the deprecated format: the whole Secret as JSON in one blob.
func unsealV1(ring *crypto.Keyring, ss *ssv1alpha1.SealedSecret) (*corev1.Secret, *Unsealed, error) {
	pt, key, err := ring.Decrypt(ss.Spec.Data, Label(ss), hintOf(ss))
	if err != nil {
		return nil, nil, fmt.Errorf("spec.data: %w", err)
	}
	secret := &corev1.Secret{}
	if err := json.Unmarshal(pt, secret); err != nil {
		// The plaintext is secret: say only that it is not a Secret.
		return nil, nil, errors.New("spec.data: decrypted value is not a JSON Secret")
	}
	return secret, &Unsealed{Items: secret.Data, Keys: []crypto.KeyID{key.ID}}, nil
}

// OwnerReference returns the controller owner reference a Secret unsealed
// from ss carries.
func OwnerReference(ss *ssv1alpha1.SealedSecret) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{
		APIVersion: ssv1alpha1.SchemeGroupVersion.String(),
		Kind:       "SealedSecret",
		Name:       ss.Name,
		UID:        ss.UID,
		Controller: &t,
	}
}

// Reseal returns a copy of ss whose values are sealed for sealer, keeping
// everything else, as /v1/rotate and kubeseal reencrypt do. Values already
// sealed with sealer's key keep their ciphertext, so re-sealing twice
// changes nothing in Git. No template is executed, and the scope comes
// from ss's top-level metadata only.
func Reseal(ring *crypto.Keyring, sealer *Sealer, ss *ssv1alpha1.SealedSecret) (*ssv1alpha1.SealedSecret, error) {
	if len(ss.Spec.Data) > 0 {
		return nil, errors.New("cannot re-seal the deprecated 'data' field: unseal and seal the Secret again")
	}
	scope := ScopeOf(ss)
	label := Label(ss)
	out := ss.DeepCopy()
	// Sorted so that a failure names the same item every time, and a
	// report of what failed does not change from run to run.
	for _, k := range slices.Sorted(maps.Keys(ss.Spec.EncryptedData)) {
		v := ss.Spec.EncryptedData[k]
		blob, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("item %q: not valid base64", k)
		}
		pt, key, err := ring.Decrypt(blob, label, hintOf(ss))
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", k, err)
		}
		if key.ID == sealer.KeyID() {
			continue
		}
		sealed, err := sealer.SealValue(scope, ss.Namespace, ss.Name, pt)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", k, err)
		}
		out.Spec.EncryptedData[k] = sealed
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[ssv1alpha1.KeyIDAnnotation] = sealer.KeyID().String()
	return out, nil
}
