package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

const (
	// batchSecrets is how many secrets one BatchGetSecretValue reads.
	batchSecrets = 20
	// listPage is the page size of ListSecrets, its maximum.
	listPage = 100
	// maxFindSecrets bounds how many secrets one find may select, so that
	// a find over a huge account fails clearly instead of reading for
	// minutes.
	maxFindSecrets = 10000
	// stageCurrent is the version a read without version gets.
	stageCurrent = "AWSCURRENT"
	// versionIDPrefix marks a remoteRef.version that is a version ID
	// rather than a staging label, as ESO writes it.
	versionIDPrefix = "uuid/"
)

// filterValuePattern is what a ListSecrets or BatchGetSecretValue filter
// value may hold. A leading ! would negate it, so none is sent here.
var filterValuePattern = regexp.MustCompile(`^[a-zA-Z0-9 :_@/+=.\-]{1,512}$`)

// secretsManager reads AWS Secrets Manager.
type secretsManager struct {
	client
	api *secretsmanager.Client
	// batchDenied is set once BatchGetSecretValue was refused: the store's
	// policy grants secretsmanager:GetSecretValue but not the batch call,
	// so batches are read one secret at a time from then on.
	batchDenied atomic.Bool
}

var (
	_ providers.Client            = (*secretsManager)(nil)
	_ providers.Validator         = (*secretsManager)(nil)
	_ providers.Identifier        = (*secretsManager)(nil)
	_ providers.PropertyExtractor = (*secretsManager)(nil)
	_ providers.BatchGetter       = (*secretsManager)(nil)
)

// GetSecret returns the value of the secret at ref.Key (string or binary)
// in the version ref.Version names: "uuid/<version ID>", or a staging
// label (AWSCURRENT when empty, AWSPREVIOUS, AWSPENDING, custom). With
// metadataPolicy Fetch it returns the secret's tags as a JSON object. A
// property is picked out of either with gjson.
func (c *secretsManager) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	whole, err := c.whole(ctx, ref)
	if err != nil || ref.Property == "" {
		return whole, err
	}
	return c.ExtractProperty(ref, whole)
}

// GetSecretMap splits the JSON object of the secret at ref.Key (or of its
// property) into keys: dataFrom.extract.
func (c *secretsManager) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	whole, err := c.whole(ctx, ref)
	if err != nil {
		return nil, err
	}
	return c.ExtractMap(ref, whole)
}

// whole reads what GetSecret answers for ref without its property.
func (c *secretsManager) whole(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	id := c.key(ref)
	if ref.MetadataPolicy == esv1.ExternalSecretMetadataPolicyFetch {
		out, err := c.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &id})
		if err != nil {
			return nil, readError("DescribeSecret", id, err)
		}
		tags := make(map[string]string, len(out.Tags))
		for _, t := range out.Tags {
			if t.Key != nil && t.Value != nil {
				tags[*t.Key] = *t.Value
			}
		}
		return json.Marshal(tags)
	}
	return c.value(ctx, id, ref.Version)
}

// value reads the secret id (the remote name, prefix included) in version:
// "uuid/<version ID>", a staging label, or "" for AWSCURRENT.
func (c *secretsManager) value(ctx context.Context, id, version string) ([]byte, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: &id}
	if v, ok := strings.CutPrefix(version, versionIDPrefix); ok {
		in.VersionId = &v
	} else if version != "" {
		in.VersionStage = &version
	}
	out, err := c.api.GetSecretValue(ctx, in)
	if err != nil {
		return nil, readError("GetSecretValue", id, err)
	}
	return secretValue(id, out.SecretString, out.SecretBinary)
}

func secretValue(id string, str *string, bin []byte) ([]byte, error) {
	switch {
	case str != nil:
		return []byte(*str), nil
	case bin != nil:
		return bin, nil
	}
	return nil, fmt.Errorf("%s: the secret has neither a string nor a binary value", id)
}

// readError maps the answers that mean "not there" to
// providers.ErrSecretNotFound: no such secret or version, or a secret
// scheduled for deletion.
func readError(op, id string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); {
		case code == "ResourceNotFoundException":
			return providers.NotFound("%s: %s", id, ae.ErrorMessage())
		case isDeleted(code, ae.ErrorMessage()):
			return providers.NotFound("%s: scheduled for deletion", id)
		}
	}
	return describe(op+" "+id, err)
}

// GetSecrets reads refs as GetSecret would, the current versions of up to
// 20 secrets in one BatchGetSecretValue. Refs with metadataPolicy Fetch or
// another version are read one by one. A secret the store may not batch
// read (no secretsmanager:BatchGetSecretValue) is read with
// GetSecretValue.
func (c *secretsManager) GetSecrets(ctx context.Context, refs []esv1.ExternalSecretDataRemoteRef) []providers.Result {
	results := make([]providers.Result, len(refs))
	var ids []string
	seen := map[string]bool{}
	for i, ref := range refs {
		if !batchable(ref) {
			v, err := c.GetSecret(ctx, ref)
			results[i] = providers.Result{Value: v, Err: err}
			continue
		}
		if id := c.key(ref); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	current := c.current(ctx, ids)
	for i, ref := range refs {
		if !batchable(ref) {
			continue
		}
		r := current[c.key(ref)]
		if r.Err == nil && ref.Property != "" {
			r.Value, r.Err = c.ExtractProperty(ref, r.Value)
		}
		results[i] = r
	}
	return results
}

// batchable reports whether a ref reads the current value, which
// BatchGetSecretValue answers.
func batchable(ref esv1.ExternalSecretDataRemoteRef) bool {
	return ref.MetadataPolicy != esv1.ExternalSecretMetadataPolicyFetch && (ref.Version == "" || ref.Version == stageCurrent)
}

// BatchSize is how many secrets one BatchGetSecretValue reads.
func (c *secretsManager) BatchSize() int { return batchSecrets }

// maxSecretID is the longest secret ID (name or ARN) AWS takes.
const maxSecretID = 2048

// current reads the current value of every secret of ids (remote names,
// prefix included), 20 a call. The ids come from many ExternalSecrets, and
// AWS refuses a whole call for one ID of the wrong length: such an ID is
// failed here and never sent, so that it fails no one else's read.
func (c *secretsManager) current(ctx context.Context, ids []string) map[string]providers.Result {
	out := make(map[string]providers.Result, len(ids))
	valid := ids[:0:0]
	for _, id := range ids {
		if id == "" || len(id) > maxSecretID {
			out[id] = providers.Result{Err: fmt.Errorf("secret ID of %d bytes: AWS takes 1 to %d", len(id), maxSecretID)}
			continue
		}
		valid = append(valid, id)
	}
	for start := 0; start < len(valid); start += batchSecrets {
		chunk := valid[start:min(start+batchSecrets, len(valid))]
		if !c.batchDenied.Load() {
			err := c.batch(ctx, chunk, out)
			if err == nil {
				continue
			}
			if codeOf(err) != "AccessDeniedException" {
				for _, id := range chunk {
					out[id] = providers.Result{Err: describe("BatchGetSecretValue", err)}
				}
				continue
			}
			c.batchDenied.Store(true)
		}
		for _, id := range chunk {
			v, err := c.value(ctx, id, "")
			out[id] = providers.Result{Value: v, Err: err}
		}
	}
	return out
}

// batch reads ids (at most 20) with one BatchGetSecretValue, retried in
// rounds with backoff while it fails for a transient reason, and stores a
// result for each id in out. The error is the call's, when it failed.
func (c *secretsManager) batch(ctx context.Context, ids []string, out map[string]providers.Result) error {
	var res *secretsmanager.BatchGetSecretValueOutput
	err := c.rounds(ctx, func() error {
		var err error
		res, err = c.api.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids})
		return err
	})
	if err != nil {
		return err
	}
	// Values come back by name and ARN; refs may name either, or a
	// partial ARN (without the random suffix).
	byName := map[string]smtypes.SecretValueEntry{}
	for _, v := range res.SecretValues {
		for _, name := range []*string{v.Name, v.ARN} {
			if name != nil {
				byName[*name] = v
			}
		}
		if v.ARN != nil && len(*v.ARN) > 7 {
			byName[(*v.ARN)[:len(*v.ARN)-7]] = v
		}
	}
	failed := map[string]smtypes.APIErrorType{}
	for _, e := range res.Errors {
		if e.SecretId != nil {
			failed[*e.SecretId] = e
		}
	}
	for _, id := range ids {
		if v, ok := byName[id]; ok {
			val, err := secretValue(id, v.SecretString, v.SecretBinary)
			out[id] = providers.Result{Value: val, Err: err}
			continue
		}
		if e, ok := failed[id]; ok {
			out[id] = providers.Result{Err: readError("GetSecretValue", id, &smithy.GenericAPIError{
				Code: deref(e.ErrorCode), Message: deref(e.Message),
			})}
			continue
		}
		out[id] = providers.Result{Err: fmt.Errorf("BatchGetSecretValue %s: AWS answered neither a value nor an error", id)}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// GetAllSecrets returns the current values of the secrets find selects,
// keyed by name (dataFrom.find). It needs find.name.regexp or find.tags,
// as in ESO. ListSecrets narrows the candidates on AWS's side (the name
// filter for find.path, tag-key and tag-value filters for the tags), the
// exact match is made here, and the matches are read 20 at a time. A name
// regexp matches anywhere in the name, find.path is a prefix.
func (c *secretsManager) GetAllSecrets(ctx context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error) {
	m, err := providers.NewMatcher(find)
	if err != nil {
		return nil, err
	}
	if !m.HasName() && !m.HasTags() {
		return nil, errors.New("find needs name.regexp or tags")
	}
	names, err := c.list(ctx, find, m)
	if err != nil {
		return nil, err
	}
	values := c.current(ctx, names)
	out := make(map[string][]byte, len(names))
	for _, name := range names {
		r := values[name]
		switch {
		case errors.Is(r.Err, providers.ErrSecretNotFound):
			// Deleted since it was listed.
		case r.Err != nil:
			// ESO leaves out a secret it cannot read; failing keeps a
			// permission change from silently removing keys.
			return nil, r.Err
		default:
			out[name] = r.Value
		}
	}
	return out, nil
}

// list returns the names of the secrets find selects.
func (c *secretsManager) list(ctx context.Context, find esv1.ExternalSecretFind, m *providers.Matcher) ([]string, error) {
	var filters []smtypes.Filter
	if find.Path != nil && filterValuePattern.MatchString(*find.Path) {
		filters = append(filters, smtypes.Filter{Key: smtypes.FilterNameStringTypeName, Values: []string{*find.Path}})
	}
	for k, v := range find.Tags {
		// AWS matches a tag key and a tag value separately, by prefix:
		// the exact pair is checked below.
		if filterValuePattern.MatchString(k) {
			filters = append(filters, smtypes.Filter{Key: smtypes.FilterNameStringTypeTagKey, Values: []string{k}})
		}
		if filterValuePattern.MatchString(v) {
			filters = append(filters, smtypes.Filter{Key: smtypes.FilterNameStringTypeTagValue, Values: []string{v}})
		}
	}
	if len(filters) > 10 {
		filters = filters[:10] // AWS's limit; the rest is matched here
	}
	var names []string
	pages := secretsmanager.NewListSecretsPaginator(c.api, &secretsmanager.ListSecretsInput{Filters: filters, MaxResults: ptr(int32(listPage))})
	for pages.HasMorePages() {
		var page *secretsmanager.ListSecretsOutput
		err := c.rounds(ctx, func() error {
			var err error
			page, err = pages.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, describe("ListSecrets", err)
		}
		for _, s := range page.SecretList {
			if s.Name == nil {
				continue
			}
			tags := make(map[string]string, len(s.Tags))
			for _, t := range s.Tags {
				if t.Key != nil && t.Value != nil {
					tags[*t.Key] = *t.Value
				}
			}
			if !m.Match(*s.Name, tags) {
				continue
			}
			if len(names) == maxFindSecrets {
				return nil, fmt.Errorf("find matches more than %d secrets: narrow it", maxFindSecrets)
			}
			names = append(names, *s.Name)
		}
	}
	return names, nil
}

func ptr[T any](v T) *T { return &v }
