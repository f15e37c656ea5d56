package esdata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/template"
	"github.com/sealsync/sealsync/providers"
)

// Fetcher reads from the store an ExternalSecret, or one of its data or
// dataFrom entries through sourceRef.storeRef, refers to. The controller
// implements it with its client cache and read deduplication; BuildDesired
// makes every provider call through it.
type Fetcher interface {
	// Client returns the client of the store ref names; nil names the
	// ExternalSecret's own spec.secretStoreRef.
	Client(ctx context.Context, ref *esv1.SecretStoreRef) (providers.Client, error)
}

// TemplateSources reads the ConfigMaps and Secrets of templateFrom. The
// implementation reads only the ExternalSecret's own namespace: names are
// all a template source can give.
type TemplateSources interface {
	// ConfigMap returns the data of the named ConfigMap.
	ConfigMap(ctx context.Context, name string) (map[string]string, error)
	// Secret returns the data of the named Secret.
	Secret(ctx context.Context, name string) (map[string][]byte, error)
}

// DesiredOutcome is what the controller should do with the Secret.
type DesiredOutcome int

const (
	// DesiredApply: write the Secret DesiredData describes.
	DesiredApply DesiredOutcome = iota
	// DesiredDelete: the provider holds no data for the ExternalSecret and
	// its deletionPolicy is Delete, so the Secret goes (ESO deletes it only
	// under creationPolicy Owner; that check is the controller's).
	DesiredDelete
	// DesiredRetain: the provider holds no data and the deletionPolicy is
	// Retain (or unset), so the Secret stays as it is and the
	// ExternalSecret is reported synced.
	DesiredRetain
)

// String names the outcome for logs and tests.
func (o DesiredOutcome) String() string {
	return [...]string{"Apply", "Delete", "Retain"}[o]
}

// DesiredData is the Secret an ExternalSecret wants, as ESO would write
// it, before ownership, the managed label and the data hash are added.
type DesiredData struct {
	// Outcome says whether to write, delete or keep the Secret. Only for
	// DesiredApply are the other fields but Missing set.
	Outcome DesiredOutcome
	// Data is the Secret's data.
	Data map[string][]byte
	// Type is the Secret's type from template.type; empty means keep the
	// existing type (Opaque for a new Secret).
	Type corev1.SecretType
	// Labels and Annotations are the Secret's, from the template's
	// metadata and templateFrom, or copied from the ExternalSecret when it
	// has no template, as ESO does.
	Labels, Annotations map[string]string
	// Finalizers are added to the Secret (template.metadata.finalizers).
	Finalizers []string
	// Immutable is target.immutable.
	Immutable bool
	// Missing lists the entries whose remote secret is gone and that were
	// skipped under deletionPolicy Delete or Merge. The controller records
	// a MissingProviderSecret event for each.
	Missing []MissingRef
}

// MissingRef is a data or dataFrom entry whose remote secret is gone.
type MissingRef struct {
	// Field is the entry: "data[1]" or "dataFrom[0]".
	Field string `json:"field"`
	// Key is the remote key the entry reads, when it names one.
	Key string `json:"key,omitempty"`
}

// BuildDesired computes the Secret es wants, with ESO's semantics:
//
//  1. dataFrom entries in order (extract: GetSecretMap; find:
//     GetAllSecrets), each through its rewrite chain, or, without one, its
//     conversionStrategy; then key validation, decodingStrategy and
//     nullBytePolicy. Later keys overwrite earlier ones.
//  2. data entries in order (GetSecret, decodingStrategy, nullBytePolicy),
//     overwriting dataFrom's keys.
//  3. A remote secret that is gone ([providers.ErrSecretNotFound]) fails
//     the sync under deletionPolicy Retain and is skipped, and listed in
//     Missing, under Delete and Merge. When no data is left at all,
//     Delete and Retain end here with their outcome; Merge goes on with
//     empty data.
//  4. The template (engine v2, [template.ESO]): templateFrom in order,
//     then template.data, then the metadata labels and annotations, each a
//     template over the fetched data as strings. mergePolicy Replace makes
//     the rendered keys the whole data (unless the template renders no
//     data at all); Merge lays them over the fetched data.
//
// Every template of es (rewrite transforms, templateFrom, template data
// and metadata) draws from one [template.Budget]: a render over it fails
// with an error wrapping [template.ErrBudgetExceeded], which fails the
// same way until es or its data changes.
//
// Errors name the failing entry or key ("data[2] (secretKey "password"):
// ..."), never a value. Neither bad regexps nor bad templates panic.
func BuildDesired(ctx context.Context, es *esv1.ExternalSecret, f Fetcher, ts TemplateSources) (*DesiredData, error) {
	policy := cmp.Or(es.Spec.Target.DeletionPolicy, esv1.DefaultDeletionPolicy)
	skipMissing := policy != esv1.DeletionPolicyRetain
	d := &DesiredData{}
	budget := template.NewBudget()

	data := map[string][]byte{}
	for i, df := range es.Spec.DataFrom {
		m, field, key, err := fetchDataFrom(ctx, f, budget, i, df)
		if errors.Is(err, providers.ErrSecretNotFound) && skipMissing {
			d.Missing = append(d.Missing, MissingRef{Field: field, Key: key})
			continue
		}
		if err != nil {
			return nil, err
		}
		maps.Copy(data, m)
	}
	pre := prefetchData(ctx, f, es.Spec.Data)
	for i, sd := range es.Spec.Data {
		v, err := fetchData(ctx, f, sd, pre, i)
		if errors.Is(err, providers.ErrSecretNotFound) && skipMissing {
			d.Missing = append(d.Missing, MissingRef{Field: fmt.Sprintf("data[%d]", i), Key: sd.RemoteRef.Key})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("data[%d] (secretKey %q): %w", i, sd.SecretKey, err)
		}
		data[sd.SecretKey] = v
	}

	if len(data) == 0 {
		switch policy {
		case esv1.DeletionPolicyDelete:
			d.Outcome = DesiredDelete
			return d, nil
		case esv1.DeletionPolicyRetain:
			d.Outcome = DesiredRetain
			return d, nil
		}
	}

	d.Immutable = es.Spec.Target.Immutable
	if err := applyTemplate(ctx, es, data, ts, budget, d); err != nil {
		return nil, err
	}
	return d, nil
}

// fetchDataFrom reads one dataFrom entry. It returns the entry's field
// name and remote key for MissingRef.
func fetchDataFrom(ctx context.Context, f Fetcher, budget *template.Budget, i int, df esv1.ExternalSecretDataFromRemoteRef) (map[string][]byte, string, string, error) {
	var store *esv1.SecretStoreRef
	if df.SourceRef != nil {
		store = df.SourceRef.SecretStoreRef
	}
	var (
		m        map[string][]byte
		conv     esv1.ExternalSecretConversionStrategy
		decoding esv1.ExternalSecretDecodingStrategy
		nul      esv1.ExternalSecretNullBytePolicy
		key      string
		what     string
	)
	field := fmt.Sprintf("dataFrom[%d]", i)
	switch {
	case df.Find != nil:
		what = field + ".find"
		c, err := f.Client(ctx, store)
		if err != nil {
			return nil, field, "", fmt.Errorf("%s: %w", what, err)
		}
		m, err = c.GetAllSecrets(ctx, *df.Find)
		if err != nil {
			return nil, field, "", fmt.Errorf("%s: %w", what, err)
		}
		conv, decoding, nul = df.Find.ConversionStrategy, df.Find.DecodingStrategy, df.Find.NullBytePolicy
	case df.Extract != nil:
		key = df.Extract.Key
		what = fmt.Sprintf("%s.extract (key %q)", field, key)
		c, err := f.Client(ctx, store)
		if err != nil {
			return nil, field, key, fmt.Errorf("%s: %w", what, err)
		}
		m, err = c.GetSecretMap(ctx, *df.Extract)
		if err != nil {
			return nil, field, key, fmt.Errorf("%s: %w", what, err)
		}
		conv, decoding, nul = df.Extract.ConversionStrategy, df.Extract.DecodingStrategy, df.Extract.NullBytePolicy
	default:
		// A sourceRef alone: ESO's generatorRef form, which sealsync does
		// not have. ESO reads nothing for it either.
		return nil, field, "", nil
	}

	var err error
	if len(df.Rewrite) > 0 {
		m, err = rewriteMap(budget, df.Rewrite, m)
		if err != nil {
			return nil, field, key, fmt.Errorf("%s %w", what, err)
		}
	} else {
		m, err = providers.ConvertKeys(conv, m)
		if err != nil {
			return nil, field, key, fmt.Errorf("%s: conversionStrategy: %w", what, err)
		}
	}
	if err := providers.ValidateKeys(m); err != nil {
		return nil, field, key, fmt.Errorf("%s: %w", what, err)
	}
	if m, err = providers.DecodeMap(decoding, m); err != nil {
		return nil, field, key, fmt.Errorf("%s: decodingStrategy %s: %w", what, decoding, err)
	}
	if err := providers.CheckNullBytesMap(nul, m); err != nil {
		return nil, field, key, fmt.Errorf("%s: %w", what, err)
	}
	return m, field, key, nil
}

// dataStore is the store a data entry reads: nil for the
// ExternalSecret's own.
func dataStore(sd esv1.ExternalSecretData) *esv1.SecretStoreRef {
	if sd.SourceRef != nil {
		return &sd.SourceRef.SecretStoreRef
	}
	return nil
}

// dataReads are what BuildDesired has for its data entries before
// reading them one by one: each entry's client, nil where it could not be
// had (fetchData asks again and reports why), and, for clients that read
// in batches, each entry's result.
type dataReads struct {
	clients []providers.Client
	results []*providers.Result
}

// prefetchData gets the client of each store the data entries read, once
// per store, and reads the entries of each store whose client reads in
// batches ([providers.BatchGetter]) with one GetSecrets, so that an
// ExternalSecret's reads share as few backend calls as they can.
func prefetchData(ctx context.Context, f Fetcher, data []esv1.ExternalSecretData) dataReads {
	r := dataReads{clients: make([]providers.Client, len(data)), results: make([]*providers.Result, len(data))}
	// The entries of each store, in order of first use.
	var stores [][]int
	byStore := map[string]int{}
	for i, sd := range data {
		key := ""
		if s := dataStore(sd); s != nil {
			key = s.Kind + "/" + s.Name
		}
		n, ok := byStore[key]
		if !ok {
			n = len(stores)
			byStore[key] = n
			stores = append(stores, nil)
		}
		stores[n] = append(stores[n], i)
	}
	for _, idx := range stores {
		c, err := f.Client(ctx, dataStore(data[idx[0]]))
		if err != nil {
			continue
		}
		for _, i := range idx {
			r.clients[i] = c
		}
		bg, ok := c.(providers.BatchGetter)
		if !ok {
			continue
		}
		refs := make([]esv1.ExternalSecretDataRemoteRef, len(idx))
		for k, i := range idx {
			refs[k] = data[i].RemoteRef
		}
		results := bg.GetSecrets(ctx, refs)
		if len(results) != len(refs) {
			continue
		}
		for k, i := range idx {
			r.results[i] = &results[k]
		}
	}
	return r
}

// fetchData reads data entry i, or takes what prefetchData got for it.
func fetchData(ctx context.Context, f Fetcher, sd esv1.ExternalSecretData, pre dataReads, i int) ([]byte, error) {
	var v []byte
	var err error
	if r := pre.results[i]; r != nil {
		v, err = r.Value, r.Err
	} else {
		c := pre.clients[i]
		if c == nil {
			if c, err = f.Client(ctx, dataStore(sd)); err != nil {
				return nil, err
			}
		}
		v, err = c.GetSecret(ctx, sd.RemoteRef)
	}
	if err != nil {
		return nil, err
	}
	if v, err = providers.Decode(sd.RemoteRef.DecodingStrategy, v); err != nil {
		return nil, fmt.Errorf("decodingStrategy %s: %w", sd.RemoteRef.DecodingStrategy, err)
	}
	if err := providers.CheckNullBytes(sd.RemoteRef.NullBytePolicy, sd.SecretKey, v); err != nil {
		return nil, err
	}
	return v, nil
}
