package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

const (
	// batchParameters is how many parameters one GetParameters reads.
	batchParameters = 10
	// pathPage and describePage are the page sizes of
	// GetParametersByPath and DescribeParameters, their maxima.
	pathPage     = 10
	describePage = 50
)

// parameterStore reads AWS Systems Manager Parameter Store.
type parameterStore struct {
	client
	api *ssm.Client
}

var (
	_ providers.Client            = (*parameterStore)(nil)
	_ providers.Validator         = (*parameterStore)(nil)
	_ providers.Identifier        = (*parameterStore)(nil)
	_ providers.PropertyExtractor = (*parameterStore)(nil)
	_ providers.BatchGetter       = (*parameterStore)(nil)
)

// GetSecret returns the value of the parameter at ref.Key, decrypted, in
// the version ref.Version names (a version number or a label; the latest
// when empty). With metadataPolicy Fetch it returns the parameter's tags as
// a JSON object. A property is picked out of either with gjson.
func (c *parameterStore) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	whole, err := c.whole(ctx, ref)
	if err != nil || ref.Property == "" {
		return whole, err
	}
	return c.ExtractProperty(ref, whole)
}

// GetSecretMap splits the JSON object of the parameter at ref.Key (or of
// its property) into keys: dataFrom.extract.
func (c *parameterStore) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	whole, err := c.whole(ctx, ref)
	if err != nil {
		return nil, err
	}
	return c.ExtractMap(ref, whole)
}

// selector is how Parameter Store names a version: name:version or
// name:label.
func (c *parameterStore) selector(ref esv1.ExternalSecretDataRemoteRef) string {
	if ref.Version == "" {
		return c.key(ref)
	}
	return c.key(ref) + ":" + ref.Version
}

func (c *parameterStore) whole(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	name := c.key(ref)
	if ref.MetadataPolicy == esv1.ExternalSecretMetadataPolicyFetch {
		// Tags belong to the parameter, not a version: ESO sends the
		// version along, which AWS refuses.
		out, err := c.api.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{
			ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: &name,
		})
		if err != nil {
			if codeOf(err) == "InvalidResourceId" {
				return nil, providers.NotFound("%s", name)
			}
			return nil, describe("ListTagsForResource "+name, err)
		}
		tags := make(map[string]string, len(out.TagList))
		for _, t := range out.TagList {
			if t.Key != nil && t.Value != nil {
				tags[*t.Key] = *t.Value
			}
		}
		return json.Marshal(tags)
	}
	return c.get(ctx, c.selector(ref))
}

// get reads the parameter sel names (name or name:selector, the prefix
// included), decrypted.
func (c *parameterStore) get(ctx context.Context, sel string) ([]byte, error) {
	out, err := c.api.GetParameter(ctx, &ssm.GetParameterInput{Name: &sel, WithDecryption: ptr(true)})
	if err != nil {
		return nil, parameterError("GetParameter", sel, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return nil, fmt.Errorf("%s: the parameter has no value", sel)
	}
	return []byte(*out.Parameter.Value), nil
}

// parameterError maps ParameterNotFound and ParameterVersionNotFound (a
// version or label that is not there) to providers.ErrSecretNotFound.
func parameterError(op, sel string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ParameterNotFound", "ParameterVersionNotFound":
			return providers.NotFound("%s", sel)
		}
	}
	return describe(op+" "+sel, err)
}

// GetSecrets reads refs as GetSecret would, up to 10 parameters (in any
// version) in one GetParameters. Refs with metadataPolicy Fetch are read
// one by one. IAM authorizes GetParameters for every name it carries, and
// AWS refuses the whole call for one malformed name, so a call refused for
// either reason is read again one name at a time, to fail only that one:
// the names come from many ExternalSecrets.
func (c *parameterStore) GetSecrets(ctx context.Context, refs []esv1.ExternalSecretDataRemoteRef) []providers.Result {
	results := make([]providers.Result, len(refs))
	var sels []string
	seen := map[string]bool{}
	for i, ref := range refs {
		if ref.MetadataPolicy == esv1.ExternalSecretMetadataPolicyFetch {
			v, err := c.GetSecret(ctx, ref)
			results[i] = providers.Result{Value: v, Err: err}
			continue
		}
		if sel := c.selector(ref); !seen[sel] {
			seen[sel] = true
			sels = append(sels, sel)
		}
	}
	values := c.values(ctx, sels)
	for i, ref := range refs {
		if ref.MetadataPolicy == esv1.ExternalSecretMetadataPolicyFetch {
			continue
		}
		r := values[c.selector(ref)]
		if r.Err == nil && ref.Property != "" {
			r.Value, r.Err = c.ExtractProperty(ref, r.Value)
		}
		results[i] = r
	}
	return results
}

// BatchSize is how many parameters one GetParameters reads.
func (c *parameterStore) BatchSize() int { return batchParameters }

// values reads the parameters sels name (name or name:selector), 10 a
// call, decrypted.
func (c *parameterStore) values(ctx context.Context, sels []string) map[string]providers.Result {
	out := make(map[string]providers.Result, len(sels))
	for start := 0; start < len(sels); start += batchParameters {
		chunk := sels[start:min(start+batchParameters, len(sels))]
		var res *ssm.GetParametersOutput
		err := c.rounds(ctx, func() error {
			var err error
			res, err = c.api.GetParameters(ctx, &ssm.GetParametersInput{Names: chunk, WithDecryption: ptr(true)})
			return err
		})
		if code := codeOf(err); (code == "AccessDeniedException" || code == "ValidationException") && len(chunk) > 1 {
			for _, sel := range chunk {
				v, err := c.get(ctx, sel)
				out[sel] = providers.Result{Value: v, Err: err}
			}
			continue
		}
		if err != nil {
			for _, sel := range chunk {
				out[sel] = providers.Result{Err: describe("GetParameters", err)}
			}
			continue
		}
		got := map[string][]byte{}
		for _, p := range res.Parameters {
			if p.Name != nil && p.Value != nil {
				got[*p.Name+deref(p.Selector)] = []byte(*p.Value)
			}
		}
		for _, sel := range chunk {
			if v, ok := got[sel]; ok {
				out[sel] = providers.Result{Value: v}
				continue
			}
			// Named in InvalidParameters: no such parameter, version or
			// label.
			out[sel] = providers.Result{Err: providers.NotFound("%s", sel)}
		}
	}
	return out
}

// GetAllSecrets returns the decrypted values of the parameters find
// selects, keyed by name (dataFrom.find). It needs find.name.regexp or
// find.tags, as in ESO. find.path is a path of the hierarchy ("/" when
// unset), searched recursively.
//
// By name, it reads the path with GetParametersByPath and matches names
// here; when that is denied, it lists names with DescribeParameters and
// reads the matches with GetParameters, as ESO falls back. By tags,
// DescribeParameters filters on AWS's side and the matches are read 10 at
// a time. With both, both apply (ESO ignores the tags when a name is
// given).
func (c *parameterStore) GetAllSecrets(ctx context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error) {
	m, err := providers.NewMatcher(find)
	if err != nil {
		return nil, err
	}
	if !m.HasName() && !m.HasTags() {
		return nil, errors.New("find needs name.regexp or tags")
	}
	path := "/"
	if find.Path != nil && *find.Path != "" {
		path = *find.Path
	}
	var tagged map[string]bool
	if m.HasTags() {
		names, err := c.describe(ctx, path, find.Tags)
		if err != nil {
			return nil, err
		}
		tagged = map[string]bool{}
		for _, n := range names {
			tagged[n] = true
		}
		if !m.HasName() {
			return c.read(ctx, names)
		}
	}
	out, err := c.byPath(ctx, path, func(name string) bool {
		return m.MatchName(name) && (tagged == nil || tagged[name])
	})
	if codeOf(err) != "AccessDeniedException" {
		return out, err
	}
	names, err := c.describe(ctx, path, find.Tags)
	if err != nil {
		return nil, err
	}
	return c.read(ctx, slices.DeleteFunc(names, func(n string) bool { return !m.MatchName(n) }))
}

// byPath reads every parameter under path, recursively, and keeps those
// match accepts.
func (c *parameterStore) byPath(ctx context.Context, path string, match func(string) bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	pages := ssm.NewGetParametersByPathPaginator(c.api, &ssm.GetParametersByPathInput{
		Path: &path, Recursive: ptr(true), WithDecryption: ptr(true), MaxResults: ptr(int32(pathPage)),
	})
	seen := 0
	for pages.HasMorePages() {
		var page *ssm.GetParametersByPathOutput
		err := c.rounds(ctx, func() error {
			var err error
			page, err = pages.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, describe("GetParametersByPath "+path, err)
		}
		for _, p := range page.Parameters {
			if seen++; seen > maxFindSecrets {
				return nil, fmt.Errorf("find under %s reads more than %d parameters: narrow find.path", path, maxFindSecrets)
			}
			if p.Name != nil && p.Value != nil && match(*p.Name) {
				out[*p.Name] = []byte(*p.Value)
			}
		}
	}
	return out, nil
}

// describe lists the names of the parameters under path (recursively)
// carrying every one of tags, with DescribeParameters.
func (c *parameterStore) describe(ctx context.Context, path string, tags map[string]string) ([]string, error) {
	filters := []ssmtypes.ParameterStringFilter{{Key: ptr("Path"), Option: ptr("Recursive"), Values: []string{path}}}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		filters = append(filters, ssmtypes.ParameterStringFilter{Key: ptr("tag:" + k), Option: ptr("Equals"), Values: []string{tags[k]}})
	}
	var names []string
	pages := ssm.NewDescribeParametersPaginator(c.api, &ssm.DescribeParametersInput{ParameterFilters: filters, MaxResults: ptr(int32(describePage))})
	for pages.HasMorePages() {
		var page *ssm.DescribeParametersOutput
		err := c.rounds(ctx, func() error {
			var err error
			page, err = pages.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, describe("DescribeParameters", err)
		}
		for _, p := range page.Parameters {
			if p.Name == nil {
				continue
			}
			if len(names) == maxFindSecrets {
				return nil, fmt.Errorf("find under %s matches more than %d parameters: narrow it", path, maxFindSecrets)
			}
			names = append(names, *p.Name)
		}
	}
	return names, nil
}

// read returns the values of names, skipping those deleted since they were
// listed.
func (c *parameterStore) read(ctx context.Context, names []string) (map[string][]byte, error) {
	values := c.values(ctx, names)
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		switch r := values[n]; {
		case errors.Is(r.Err, providers.ErrSecretNotFound):
		case r.Err != nil:
			return nil, r.Err
		default:
			out[n] = r.Value
		}
	}
	return out, nil
}
