package awstest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	maxParamVersions     = 100
	maxParamLevels       = 15
	maxGetParameters     = 10
	maxByPathResults     = 10
	maxDescribeResults   = 50
	maxLabelsPerVersion  = 10
	maxStandardValueSize = 4096
	maxAdvancedValueSize = 8192
)

var (
	paramNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)
	labelPattern     = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,100}$`)
)

var ssmActions = map[string]func(*Server, *call) (any, *apiError){
	"PutParameter":           (*Server).putParameter,
	"GetParameter":           (*Server).getParameter,
	"GetParameters":          (*Server).getParameters,
	"GetParametersByPath":    (*Server).getParametersByPath,
	"DescribeParameters":     (*Server).describeParameters,
	"LabelParameterVersion":  (*Server).labelParameterVersion,
	"AddTagsToResource":      (*Server).addTagsToResource,
	"RemoveTagsFromResource": (*Server).removeTagsFromResource,
	"ListTagsForResource":    (*Server).listTagsForResource,
	"DeleteParameter":        (*Server).deleteParameter,
}

type parameter struct {
	name, arn      string
	tier, dataType string
	allowedPattern string
	tags           []Tag
	// history holds every version, history[i] being version i+1; a
	// dropped version is nil.
	history []*paramVersion
}

type paramVersion struct {
	version     int64
	value       string
	typ, keyID  string
	description string
	labels      []string
	modified    time.Time
}

func (p *parameter) latest() *paramVersion { return p.history[len(p.history)-1] }

func errParamNotFound() *apiError {
	return newError(http.StatusBadRequest, "ParameterNotFound", "")
}

// checkParamName applies Parameter Store's naming rules; a name with a
// hierarchy starts with /.
func checkParamName(name string) *apiError {
	if !validParamName(name) {
		return errValidation("Parameter name: can't be empty, and may hold only a-zA-Z0-9_.-/ (at most 2048 characters).")
	}
	if strings.Contains(name, "/") && !strings.HasPrefix(name, "/") {
		return errValidation("Parameter name must be a fully qualified name.")
	}
	if strings.Count(name, "/") > maxParamLevels {
		return newError(http.StatusBadRequest, "HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 levels.")
	}
	lower := strings.ToLower(strings.TrimPrefix(name, "/"))
	if strings.HasPrefix(lower, "aws") || strings.HasPrefix(lower, "ssm") {
		return errValidation(`Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive).`)
	}
	return nil
}

// validParamName reports whether name holds only the characters and
// length a parameter name may.
func validParamName(name string) bool {
	return len(name) <= 2048 && paramNamePattern.MatchString(name)
}

func (s *Server) paramARN(name string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", s.region, s.account, strings.TrimPrefix(name, "/"))
}

// splitSelector splits "name:selector" into the name and the version
// number or label it selects.
func splitSelector(ref string) (name, selector string, aerr *apiError) {
	name, selector, has := strings.Cut(ref, ":")
	if has && selector == "" {
		return "", "", errValidation("Parameter selector must not be empty.")
	}
	return name, selector, nil
}

// resolve finds the version a selector names: a version number, a label,
// or the latest.
func (p *parameter) resolve(selector string) (*paramVersion, *apiError) {
	if selector == "" {
		return p.latest(), nil
	}
	if n, err := strconv.ParseInt(selector, 10, 64); err == nil {
		if n < 1 || n > int64(len(p.history)) || p.history[n-1] == nil {
			return nil, newError(http.StatusBadRequest, "ParameterVersionNotFound",
				"Systems Manager could not find version %d of %s. Verify the version and try again.", n, p.name)
		}
		return p.history[n-1], nil
	}
	for _, v := range p.history {
		if v != nil && slices.Contains(v.labels, selector) {
			return v, nil
		}
	}
	return nil, errParamNotFound()
}

// apiParameter is a parameter value as the Get operations answer it.
type apiParameter struct {
	Name             string
	Type             string
	Value            string
	Version          int64
	Selector         string `json:",omitempty"`
	LastModifiedDate *epoch `json:",omitempty"`
	ARN              string
	DataType         string
}

func (s *Server) paramValue(p *parameter, v *paramVersion, selector string, decrypt bool) apiParameter {
	value := v.value
	if v.typ == "SecureString" && !decrypt {
		// The service returns the KMS ciphertext; what matters is that it is
		// not the plaintext.
		sum := sha256.Sum256([]byte(v.keyID + "\x00" + v.value))
		value = "AQICAH" + base64.StdEncoding.EncodeToString(sum[:])
	}
	if selector != "" {
		selector = ":" + selector
	}
	return apiParameter{
		Name: p.name, Type: v.typ, Value: value, Version: v.version, Selector: selector,
		LastModifiedDate: epochPtr(v.modified), ARN: p.arn, DataType: p.dataType,
	}
}

// paramFor finds the parameter a request names and authorizes the action
// on it; the check runs first, so a caller without the right learns
// nothing of whether it exists.
func (s *Server) paramFor(c *call, ref, action string) (*parameter, string, *apiError) {
	name, selector, aerr := splitSelector(ref)
	if aerr != nil {
		return nil, "", aerr
	}
	if !validParamName(name) {
		return nil, "", errValidation("Parameter name: can't be empty, and may hold only a-zA-Z0-9_.-/ (at most 2048 characters).")
	}
	if aerr := c.authorize("ssm:"+action, s.paramARN(name)); aerr != nil {
		return nil, "", aerr
	}
	p := s.params[name]
	if p == nil {
		return nil, "", errParamNotFound()
	}
	return p, selector, nil
}

func (s *Server) putParameter(c *call) (any, *apiError) {
	var in struct {
		Name, Value, Type string
		Overwrite         bool
		Tags              []Tag
		KeyId             string
		Description       string
		Tier              string
		AllowedPattern    string
		DataType          string
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := checkParamName(in.Name); aerr != nil {
		return nil, aerr
	}
	if aerr := c.authorize("ssm:PutParameter", s.paramARN(in.Name)); aerr != nil {
		return nil, aerr
	}
	switch in.Tier {
	case "", "Standard", "Advanced", "Intelligent-Tiering":
	default:
		return nil, errValidation("1 validation error detected: Value '%s' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]", in.Tier)
	}
	switch in.Type {
	case "", "String", "StringList", "SecureString":
	default:
		return nil, errValidation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	if in.Value == "" {
		return nil, errValidation("1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if in.KeyId != "" && in.Type != "SecureString" {
		return nil, errValidation("KeyId is required for SecureString type parameter only.")
	}
	if aerr := checkTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	p := s.params[in.Name]
	if p != nil && !in.Overwrite {
		return nil, newError(http.StatusBadRequest, "ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	if p != nil && len(in.Tags) > 0 {
		return nil, errValidation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	}
	if p == nil && in.Type == "" {
		return nil, errValidation("A parameter type is required when you create a parameter.")
	}
	tier := in.Tier
	if tier == "" || tier == "Intelligent-Tiering" {
		tier = "Standard"
		if len(in.Value) > maxStandardValueSize {
			tier = "Advanced"
		}
	}
	if p != nil && in.Tier == "" {
		tier = p.tier
	}
	if limit := map[string]int{"Standard": maxStandardValueSize, "Advanced": maxAdvancedValueSize}[tier]; len(in.Value) > limit {
		return nil, errValidation("%s tier parameters support a maximum parameter value of %d characters.", tier, limit)
	}
	pattern := in.AllowedPattern
	if p != nil && pattern == "" {
		pattern = p.allowedPattern
	}
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, errValidation("AllowedPattern is not a valid regular expression.")
		}
		if !re.MatchString(in.Value) {
			return nil, newError(http.StatusBadRequest, "ParameterPatternMismatchException", "Parameter value, cannot be validated against allowedPattern: %s", pattern)
		}
	}
	now := s.now()
	if p == nil {
		dataType := in.DataType
		if dataType == "" {
			dataType = "text"
		}
		tags, _ := mergeTags(nil, in.Tags)
		p = &parameter{name: in.Name, arn: s.paramARN(in.Name), dataType: dataType, tags: tags}
		s.params[in.Name] = p
	}
	typ, keyID, desc := in.Type, in.KeyId, in.Description
	if len(p.history) > 0 {
		last := p.latest()
		if typ == "" {
			typ = last.typ
		}
		if keyID == "" && typ == last.typ {
			keyID = last.keyID
		}
		if desc == "" {
			desc = last.description
		}
	}
	if typ == "SecureString" && keyID == "" {
		keyID = "alias/aws/ssm"
	}
	if n := liveVersions(p); n >= maxParamVersions {
		// The oldest version makes room unless a label holds it.
		i := slices.IndexFunc(p.history, func(v *paramVersion) bool { return v != nil })
		if len(p.history[i].labels) > 0 {
			return nil, newError(http.StatusBadRequest, "ParameterMaxVersionLimitExceeded",
				"You attempted to create a new version of %s by calling the PutParameter API with the overwrite flag. Version %d, the oldest version, can't be deleted because it has a label associated with it.", p.name, p.history[i].version)
		}
		p.history[i] = nil
	}
	v := &paramVersion{version: int64(len(p.history) + 1), value: in.Value, typ: typ, keyID: keyID, description: desc, modified: now}
	p.history = append(p.history, v)
	p.tier, p.allowedPattern = tier, pattern
	return struct {
		Version int64
		Tier    string
	}{v.version, tier}, nil
}

func liveVersions(p *parameter) int {
	n := 0
	for _, v := range p.history {
		if v != nil {
			n++
		}
	}
	return n
}

func (s *Server) getParameter(c *call) (any, *apiError) {
	var in struct {
		Name           string
		WithDecryption bool
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	p, selector, aerr := s.paramFor(c, in.Name, "GetParameter")
	if aerr != nil {
		return nil, aerr
	}
	v, aerr := p.resolve(selector)
	if aerr != nil {
		return nil, aerr
	}
	return struct{ Parameter apiParameter }{s.paramValue(p, v, selector, in.WithDecryption)}, nil
}

func (s *Server) getParameters(c *call) (any, *apiError) {
	var in struct {
		Names          []string
		WithDecryption bool
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if len(in.Names) < 1 || len(in.Names) > maxGetParameters {
		return nil, errValidation("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	out := struct {
		Parameters        []apiParameter
		InvalidParameters []string
	}{Parameters: []apiParameter{}, InvalidParameters: []string{}}
	// IAM authorizes the call for every parameter it names: one it may not
	// read fails the whole call, not just its entry.
	for _, ref := range in.Names {
		name, _, aerr := splitSelector(ref)
		if aerr != nil {
			return nil, aerr
		}
		if !validParamName(name) {
			return nil, errValidation("Parameter name: can't be empty, and may hold only a-zA-Z0-9_.-/ (at most 2048 characters).")
		}
		if aerr := c.authorize("ssm:GetParameters", s.paramARN(name)); aerr != nil {
			return nil, aerr
		}
	}
	seen := map[string]bool{}
	for _, ref := range in.Names {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		name, selector, _ := splitSelector(ref)
		p := s.params[name]
		if p == nil {
			out.InvalidParameters = append(out.InvalidParameters, ref)
			continue
		}
		v, aerr := p.resolve(selector)
		if aerr != nil {
			out.InvalidParameters = append(out.InvalidParameters, ref)
			continue
		}
		out.Parameters = append(out.Parameters, s.paramValue(p, v, selector, in.WithDecryption))
	}
	return out, nil
}

// paramFilter is a ParameterStringFilter.
type paramFilter struct {
	Key    string
	Option string
	Values []string
}

// pathLevel reports whether name lies under path: one level below it, or
// at any depth when recursive. Names without a leading slash lie one level
// below "/".
func pathLevel(name, path string, recursive bool) bool {
	if !strings.HasPrefix(name, "/") {
		return path == "/"
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return false
	}
	return recursive || !strings.Contains(rest, "/")
}

// matchFilter applies one ParameterStringFilter.
func (f paramFilter) match(p *parameter) bool {
	v := p.latest()
	anyValue := func(get string) bool {
		for _, want := range f.Values {
			switch f.Option {
			case "BeginsWith":
				if strings.HasPrefix(get, want) {
					return true
				}
			case "Contains":
				if strings.Contains(get, want) {
					return true
				}
			default:
				if get == want {
					return true
				}
			}
		}
		return false
	}
	switch {
	case f.Key == "Name":
		return anyValue(p.name)
	case f.Key == "Type":
		return anyValue(v.typ)
	case f.Key == "KeyId":
		return anyValue(v.keyID)
	case f.Key == "Tier":
		return anyValue(p.tier)
	case f.Key == "DataType":
		return anyValue(p.dataType)
	case f.Key == "Label":
		return slices.ContainsFunc(p.history, func(pv *paramVersion) bool {
			return pv != nil && slices.ContainsFunc(pv.labels, func(l string) bool { return anyValue(l) })
		})
	case f.Key == "Path":
		return slices.ContainsFunc(f.Values, func(path string) bool { return pathLevel(p.name, path, f.Option == "Recursive") })
	case strings.HasPrefix(f.Key, "tag:"):
		key := strings.TrimPrefix(f.Key, "tag:")
		i := slices.IndexFunc(p.tags, func(t Tag) bool { return t.Key == key })
		return i >= 0 && (len(f.Values) == 0 || anyValue(p.tags[i].Value))
	}
	return false
}

// checkParamFilters validates filters against the keys and options an
// operation accepts.
func checkParamFilters(fs []paramFilter, keys map[string][]string) *apiError {
	if len(fs) > 50 {
		return errValidation("1 validation error detected: Value at 'parameterFilters' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	for _, f := range fs {
		opts, ok := keys[f.Key]
		if !ok && strings.HasPrefix(f.Key, "tag:") && len(f.Key) > 4 {
			opts, ok = keys["tag:"]
		}
		if !ok {
			return newError(http.StatusBadRequest, "InvalidFilterKey", "The following filter key is not valid: %s.", f.Key)
		}
		if f.Option != "" && !slices.Contains(opts, f.Option) {
			return newError(http.StatusBadRequest, "InvalidFilterOption", "The following filter option is not valid: %s. Valid options include: [%s].", f.Option, strings.Join(opts, ", "))
		}
		if len(f.Values) > 50 || (len(f.Values) == 0 && !strings.HasPrefix(f.Key, "tag:")) {
			return newError(http.StatusBadRequest, "InvalidFilterValue", "The filter %s needs 1 to 50 values.", f.Key)
		}
	}
	return nil
}

func nextTokenError() *apiError {
	return newError(http.StatusBadRequest, "InvalidNextToken", "The specified token isn't valid.")
}

func (s *Server) getParametersByPath(c *call) (any, *apiError) {
	var in struct {
		Path             string
		Recursive        bool
		WithDecryption   bool
		MaxResults       *int
		NextToken        *string
		ParameterFilters []paramFilter
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if !strings.HasPrefix(in.Path, "/") || !validParamName(in.Path) {
		return nil, errValidation("The parameter path must begin with a forward slash (/).")
	}
	if strings.Count(strings.TrimSuffix(in.Path, "/"), "/") > maxParamLevels {
		return nil, newError(http.StatusBadRequest, "HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 levels.")
	}
	if aerr := checkParamFilters(in.ParameterFilters, map[string][]string{
		"Type": {"Equals"}, "KeyId": {"Equals"}, "Label": {"Equals"},
	}); aerr != nil {
		return nil, aerr
	}
	if aerr := c.authorize("ssm:GetParametersByPath", s.paramARN(strings.TrimSuffix(in.Path, "/"))); aerr != nil {
		return nil, aerr
	}
	max := maxByPathResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxByPathResults {
			return nil, errValidation("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10")
		}
		max = *in.MaxResults
	}
	query := queryDigest([]any{in.Path, in.Recursive, in.ParameterFilters})
	after := ""
	if in.NextToken != nil {
		var ok bool
		if after, ok = parseToken(*in.NextToken, query); !ok {
			return nil, nextTokenError()
		}
	}
	var match []*parameter
	for _, p := range s.params {
		if pathLevel(p.name, in.Path, in.Recursive) && !slices.ContainsFunc(in.ParameterFilters, func(f paramFilter) bool { return !f.match(p) }) {
			match = append(match, p)
		}
	}
	ps, next := page(match, func(p *parameter) string { return p.name }, after, max, false, query)
	out := struct {
		Parameters []apiParameter
		NextToken  *string `json:",omitempty"`
	}{Parameters: []apiParameter{}, NextToken: next}
	for _, p := range ps {
		out.Parameters = append(out.Parameters, s.paramValue(p, p.latest(), "", in.WithDecryption))
	}
	return out, nil
}

func (s *Server) describeParameters(c *call) (any, *apiError) {
	var in struct {
		ParameterFilters []paramFilter
		MaxResults       *int
		NextToken        *string
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := c.authorize("ssm:DescribeParameters", "*"); aerr != nil {
		return nil, aerr
	}
	equality := []string{"Equals"}
	if aerr := checkParamFilters(in.ParameterFilters, map[string][]string{
		"Name": {"Equals", "BeginsWith", "Contains"}, "Type": equality, "KeyId": equality, "Tier": equality,
		"DataType": equality, "Label": equality, "Path": {"Recursive", "OneLevel"}, "tag:": equality,
	}); aerr != nil {
		return nil, aerr
	}
	max := maxDescribeResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxDescribeResults {
			return nil, errValidation("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50")
		}
		max = *in.MaxResults
	}
	query := queryDigest(in.ParameterFilters)
	after := ""
	if in.NextToken != nil {
		var ok bool
		if after, ok = parseToken(*in.NextToken, query); !ok {
			return nil, nextTokenError()
		}
	}
	var match []*parameter
	for _, p := range s.params {
		if !slices.ContainsFunc(in.ParameterFilters, func(f paramFilter) bool { return !f.match(p) }) {
			match = append(match, p)
		}
	}
	type metadata struct {
		Name             string
		ARN              string
		Type             string
		KeyId            string `json:",omitempty"`
		LastModifiedDate *epoch `json:",omitempty"`
		Description      string `json:",omitempty"`
		Version          int64
		Tier             string
		DataType         string
		AllowedPattern   string `json:",omitempty"`
	}
	ps, next := page(match, func(p *parameter) string { return p.name }, after, max, false, query)
	out := struct {
		Parameters []metadata
		NextToken  *string `json:",omitempty"`
	}{Parameters: []metadata{}, NextToken: next}
	for _, p := range ps {
		v := p.latest()
		out.Parameters = append(out.Parameters, metadata{
			Name: p.name, ARN: p.arn, Type: v.typ, KeyId: v.keyID, LastModifiedDate: epochPtr(v.modified),
			Description: v.description, Version: v.version, Tier: p.tier, DataType: p.dataType, AllowedPattern: p.allowedPattern,
		})
	}
	return out, nil
}

// validLabel applies Parameter Store's label rules.
func validLabel(l string) bool {
	lower := strings.ToLower(l)
	return labelPattern.MatchString(l) && !strings.HasPrefix(lower, "aws") && !strings.HasPrefix(lower, "ssm") &&
		(l[0] < '0' || l[0] > '9')
}

func (s *Server) labelParameterVersion(c *call) (any, *apiError) {
	var in struct {
		Name             string
		ParameterVersion *int64
		Labels           []string
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if len(in.Labels) < 1 || len(in.Labels) > maxLabelsPerVersion {
		return nil, errValidation("1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	p, _, aerr := s.paramFor(c, in.Name, "LabelParameterVersion")
	if aerr != nil {
		return nil, aerr
	}
	v := p.latest()
	if in.ParameterVersion != nil {
		if v, aerr = p.resolve(strconv.FormatInt(*in.ParameterVersion, 10)); aerr != nil {
			return nil, aerr
		}
	}
	invalid := []string{}
	var valid []string
	for _, l := range in.Labels {
		if validLabel(l) {
			valid = append(valid, l)
		} else {
			invalid = append(invalid, l)
		}
	}
	added := 0
	for _, l := range valid {
		if !slices.Contains(v.labels, l) {
			added++
		}
	}
	if len(v.labels)+added > maxLabelsPerVersion {
		return nil, newError(http.StatusBadRequest, "ParameterVersionLabelLimitExceeded", "A parameter version can have maximum 10 labels.")
	}
	for _, l := range valid {
		// A label names one version: it moves here from any other.
		for _, o := range p.history {
			if o != nil && o != v {
				o.labels = slices.DeleteFunc(o.labels, func(x string) bool { return x == l })
			}
		}
		if !slices.Contains(v.labels, l) {
			v.labels = append(v.labels, l)
		}
	}
	return struct {
		InvalidLabels    []string
		ParameterVersion int64
	}{invalid, v.version}, nil
}

// taggedParam finds the parameter of a tagging request.
func (s *Server) taggedParam(c *call, resourceType, id, action string) (*parameter, *apiError) {
	if resourceType != "Parameter" {
		return nil, newError(http.StatusBadRequest, "InvalidResourceType", "The resource type is not valid: only Parameter is supported here.")
	}
	if aerr := c.authorize("ssm:"+action, s.paramARN(id)); aerr != nil {
		return nil, aerr
	}
	p := s.params[id]
	if p == nil {
		return nil, newError(http.StatusBadRequest, "InvalidResourceId", "The resource ID is not valid. Verify that you entered the correct ID and try again.")
	}
	return p, nil
}

func (s *Server) addTagsToResource(c *call) (any, *apiError) {
	var in struct {
		ResourceType, ResourceId string
		Tags                     []Tag
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	p, aerr := s.taggedParam(c, in.ResourceType, in.ResourceId, "AddTagsToResource")
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	tags, aerr := mergeTags(p.tags, in.Tags)
	if aerr != nil {
		return nil, newError(http.StatusBadRequest, "TooManyTagsError", "The Targets parameter includes too many tags.")
	}
	p.tags = tags
	return nil, nil
}

func (s *Server) removeTagsFromResource(c *call) (any, *apiError) {
	var in struct {
		ResourceType, ResourceId string
		TagKeys                  []string
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	p, aerr := s.taggedParam(c, in.ResourceType, in.ResourceId, "RemoveTagsFromResource")
	if aerr != nil {
		return nil, aerr
	}
	p.tags = slices.DeleteFunc(p.tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	return nil, nil
}

func (s *Server) listTagsForResource(c *call) (any, *apiError) {
	var in struct{ ResourceType, ResourceId string }
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	p, aerr := s.taggedParam(c, in.ResourceType, in.ResourceId, "ListTagsForResource")
	if aerr != nil {
		return nil, aerr
	}
	tags := slices.Clone(p.tags)
	if tags == nil {
		tags = []Tag{}
	}
	return struct{ TagList []Tag }{tags}, nil
}

func (s *Server) deleteParameter(c *call) (any, *apiError) {
	var in struct{ Name string }
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	p, selector, aerr := s.paramFor(c, in.Name, "DeleteParameter")
	if aerr != nil {
		return nil, aerr
	}
	if selector != "" {
		return nil, errValidation("Parameter name must not have a selector.")
	}
	delete(s.params, p.name)
	return nil, nil
}
