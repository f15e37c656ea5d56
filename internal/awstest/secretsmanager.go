package awstest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Secrets Manager's staging labels.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

const (
	// DefaultKMSKey is the key Secrets Manager encrypts with when a secret
	// names none.
	DefaultKMSKey = "alias/aws/secretsmanager"

	maxSecretValue    = 65536
	maxSecretVersions = 100
	maxTags           = 50
	maxBatchIDs       = 20
	maxListResults    = 100
)

var (
	secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@!-]{1,512}$`)
	filterValue       = regexp.MustCompile(`^!?[a-zA-Z0-9 :_@/+=.\-!]{0,512}$`)
)

var secretsManagerActions = map[string]func(*Server, *call) (any, *apiError){
	"CreateSecret":             (*Server).createSecret,
	"PutSecretValue":           (*Server).putSecretValue,
	"UpdateSecret":             (*Server).updateSecret,
	"GetSecretValue":           (*Server).getSecretValue,
	"BatchGetSecretValue":      (*Server).batchGetSecretValue,
	"DescribeSecret":           (*Server).describeSecret,
	"ListSecrets":              (*Server).listSecrets,
	"UpdateSecretVersionStage": (*Server).updateSecretVersionStage,
	"TagResource":              (*Server).tagResource,
	"UntagResource":            (*Server).untagResource,
	"DeleteSecret":             (*Server).deleteSecret,
	"RestoreSecret":            (*Server).restoreSecret,
}

type secret struct {
	name, arn   string
	description string
	kmsKeyID    string
	tags        []Tag
	created     time.Time
	changed     time.Time
	accessed    time.Time
	// deleted is when a scheduled deletion takes effect; zero when the
	// secret is not scheduled for deletion.
	deleted  time.Time
	versions map[string]*secretVersion
	// order holds version IDs oldest first.
	order []string
}

type secretVersion struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

// Tag is a tag of a secret or a parameter.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Errors of Secrets Manager, with its wording.
func errSecretNotFound() *apiError {
	return newError(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func errSecretDeleted() *apiError {
	return newError(http.StatusBadRequest, "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}

func errInvalidParameter(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidParameterException", format, args...)
}

func errDecryption() *apiError {
	return newError(http.StatusBadRequest, "DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
}

func (s *Server) secretARN(name string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.region, s.account, name, b[:])
}

// lookupSecret finds a secret by name, ARN or partial ARN (the ARN without
// its random suffix). A secret whose deletion date has passed is purged
// here. Called with s.mu held.
func (s *Server) lookupSecret(id string) *secret {
	sec := s.secrets[id]
	if sec == nil && strings.HasPrefix(id, "arn:") {
		for _, x := range s.secrets {
			if x.arn == id || x.arn[:len(x.arn)-7] == id {
				sec = x
				break
			}
		}
	}
	if sec != nil && !sec.deleted.IsZero() && !s.now().Before(sec.deleted) {
		delete(s.secrets, sec.name)
		return nil
	}
	return sec
}

// secretFor finds the secret a request names and authorizes the action on
// it. A caller who may not act on a secret learns nothing of whether it
// exists: the check runs first, against the ARN the request names.
func (s *Server) secretFor(c *call, id, action string, allowDeleted bool) (*secret, *apiError) {
	if id == "" || len(id) > 2048 {
		return nil, errValidation("1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	sec := s.lookupSecret(id)
	resource := id
	if sec != nil {
		resource = sec.arn
	} else if !strings.HasPrefix(id, "arn:") {
		resource = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s", s.region, s.account, id)
	}
	if aerr := c.authorize("secretsmanager:"+action, resource); aerr != nil {
		return nil, aerr
	}
	if sec == nil {
		return nil, errSecretNotFound()
	}
	if !allowDeleted && !sec.deleted.IsZero() {
		return nil, errSecretDeleted()
	}
	return sec, nil
}

// holder returns the version carrying stage, or nil.
func (sec *secret) holder(stage string) *secretVersion {
	for _, id := range sec.order {
		if v := sec.versions[id]; slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

// moveStage attaches stage to v, taking it from whichever version had it.
// Moving AWSCURRENT labels the version that had it AWSPREVIOUS.
func (sec *secret) moveStage(stage string, v *secretVersion) {
	old := sec.holder(stage)
	if old == v {
		return
	}
	if old != nil {
		old.stages = slices.DeleteFunc(old.stages, func(x string) bool { return x == stage })
	}
	v.stages = append(v.stages, stage)
	if stage == StageCurrent && old != nil {
		sec.moveStage(StagePrevious, old)
	}
}

// addVersion stores a new version with stages (AWSCURRENT when none) and
// drops the oldest versions without a stage beyond the service's limit.
func (s *Server) addVersion(sec *secret, id string, str *string, bin []byte, stages []string) *secretVersion {
	now := s.now()
	v := &secretVersion{id: id, str: str, bin: slices.Clone(bin), created: now}
	sec.versions[id] = v
	sec.order = append(sec.order, id)
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	for _, st := range stages {
		sec.moveStage(st, v)
	}
	for len(sec.order) > maxSecretVersions {
		i := slices.IndexFunc(sec.order, func(id string) bool { return len(sec.versions[id].stages) == 0 })
		if i < 0 {
			break
		}
		delete(sec.versions, sec.order[i])
		sec.order = slices.Delete(sec.order, i, i+1)
	}
	sec.changed = now
	return v
}

// secretValue is a value in a request: string or binary, never both.
type secretValue struct {
	SecretString *string `json:"SecretString"`
	SecretBinary []byte  `json:"SecretBinary"`
}

func (v secretValue) check(required bool) *apiError {
	switch {
	case v.SecretString != nil && v.SecretBinary != nil:
		return errInvalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.")
	case v.SecretString == nil && v.SecretBinary == nil:
		if required {
			return errInvalidParameter("You must provide either SecretString or SecretBinary.")
		}
	case v.SecretString != nil && len(*v.SecretString) > maxSecretValue, len(v.SecretBinary) > maxSecretValue:
		return errValidation("1 validation error detected: the secret value failed to satisfy constraint: Member must have length less than or equal to 65536")
	}
	return nil
}

func (v secretValue) present() bool { return v.SecretString != nil || v.SecretBinary != nil }

// checkToken validates a ClientRequestToken, which becomes a version ID.
func checkToken(tok string) *apiError {
	if l := len(tok); l < 32 || l > 64 {
		return errValidation("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	return nil
}

func checkTags(tags []Tag) *apiError {
	if len(tags) > maxTags {
		return errValidation("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > 128 || len(t.Value) > 256 {
			return errValidation("1 validation error detected: a tag key must have 1 to 128 characters and a value at most 256")
		}
	}
	return nil
}

// mergeTags sets tags on existing, replacing values of keys already there.
func mergeTags(existing, tags []Tag) ([]Tag, *apiError) {
	out := slices.Clone(existing)
	for _, t := range tags {
		if i := slices.IndexFunc(out, func(x Tag) bool { return x.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
			continue
		}
		out = append(out, t)
	}
	if len(out) > maxTags {
		return nil, errValidation("a resource may have at most 50 tags")
	}
	return out, nil
}

// newVersionID returns a random version ID: a UUID, as the SDKs make
// ClientRequestTokens.
func newVersionID() string { return newRequestID() }

func (s *Server) createSecret(c *call) (any, *apiError) {
	var in struct {
		Name               string
		ClientRequestToken string
		Description        string
		KmsKeyId           string
		Tags               []Tag
		secretValue
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if !secretNamePattern.MatchString(in.Name) {
		return nil, errValidation("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if aerr := in.secretValue.check(false); aerr != nil {
		return nil, aerr
	}
	if aerr := checkTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	if in.ClientRequestToken == "" {
		in.ClientRequestToken = newVersionID()
	} else if aerr := checkToken(in.ClientRequestToken); aerr != nil {
		return nil, aerr
	}
	arn := s.secretARN(in.Name)
	if aerr := c.authorize("secretsmanager:CreateSecret", arn); aerr != nil {
		return nil, aerr
	}
	if old := s.lookupSecret(in.Name); old != nil {
		if !old.deleted.IsZero() {
			return nil, newError(http.StatusBadRequest, "InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return nil, newError(http.StatusBadRequest, "ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	tags, _ := mergeTags(nil, in.Tags)
	now := s.now()
	sec := &secret{
		name: in.Name, arn: arn, description: in.Description, kmsKeyID: in.KmsKeyId, tags: tags,
		created: now, changed: now, versions: map[string]*secretVersion{},
	}
	s.secrets[in.Name] = sec
	out := struct {
		ARN, Name string
		VersionId string `json:",omitempty"`
	}{ARN: arn, Name: in.Name}
	if in.present() {
		out.VersionId = s.addVersion(sec, in.ClientRequestToken, in.SecretString, in.SecretBinary, nil).id
	}
	return out, nil
}

// putVersion stores a value as a new version, or answers for the version
// the token already made, as the service's idempotency asks.
func (s *Server) putVersion(sec *secret, token string, v secretValue, stages []string) (*secretVersion, *apiError) {
	if old, ok := sec.versions[token]; ok {
		same := (v.SecretString != nil && old.str != nil && *v.SecretString == *old.str) ||
			(v.SecretBinary != nil && old.bin != nil && string(v.SecretBinary) == string(old.bin))
		if !same {
			return nil, newError(http.StatusBadRequest, "ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		return old, nil
	}
	return s.addVersion(sec, token, v.SecretString, v.SecretBinary, stages), nil
}

func (s *Server) putSecretValue(c *call) (any, *apiError) {
	var in struct {
		SecretId           string
		ClientRequestToken string
		VersionStages      []string
		secretValue
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "PutSecretValue", false)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := in.secretValue.check(true); aerr != nil {
		return nil, aerr
	}
	if len(in.VersionStages) > 20 || slices.ContainsFunc(in.VersionStages, func(st string) bool { return st == "" || len(st) > 256 }) {
		return nil, errValidation("1 validation error detected: Value at 'versionStages' failed to satisfy constraint: 1 to 20 labels of 1 to 256 characters")
	}
	if in.ClientRequestToken == "" {
		in.ClientRequestToken = newVersionID()
	} else if aerr := checkToken(in.ClientRequestToken); aerr != nil {
		return nil, aerr
	}
	v, aerr := s.putVersion(sec, in.ClientRequestToken, in.secretValue, in.VersionStages)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		ARN, Name, VersionId string
		VersionStages        []string
	}{sec.arn, sec.name, v.id, slices.Clone(v.stages)}, nil
}

func (s *Server) updateSecret(c *call) (any, *apiError) {
	var in struct {
		SecretId           string
		ClientRequestToken string
		Description        *string
		KmsKeyId           *string
		secretValue
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "UpdateSecret", false)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := in.secretValue.check(false); aerr != nil {
		return nil, aerr
	}
	if in.Description != nil {
		sec.description = *in.Description
	}
	if in.KmsKeyId != nil {
		sec.kmsKeyID = *in.KmsKeyId
	}
	sec.changed = s.now()
	out := struct {
		ARN, Name string
		VersionId string `json:",omitempty"`
	}{ARN: sec.arn, Name: sec.name}
	if in.present() {
		if in.ClientRequestToken == "" {
			in.ClientRequestToken = newVersionID()
		} else if aerr := checkToken(in.ClientRequestToken); aerr != nil {
			return nil, aerr
		}
		v, aerr := s.putVersion(sec, in.ClientRequestToken, in.secretValue, nil)
		if aerr != nil {
			return nil, aerr
		}
		out.VersionId = v.id
	}
	return out, nil
}

// secretValueEntry is a value as GetSecretValue and BatchGetSecretValue
// answer it.
type secretValueEntry struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  *string `json:",omitempty"`
	SecretBinary  []byte  `json:",omitempty"`
	VersionStages []string
	CreatedDate   *epoch `json:",omitempty"`
}

// readValue picks the version a read asks for: by ID, by stage, or
// AWSCURRENT.
func (s *Server) readValue(sec *secret, versionID, stage string) (*secretValueEntry, *apiError) {
	if s.badKeys[sec.kmsKey()] {
		return nil, errDecryption()
	}
	var v *secretVersion
	switch {
	case versionID != "":
		v = sec.versions[versionID]
		if v == nil || (stage != "" && !slices.Contains(v.stages, stage)) {
			return nil, newError(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
		}
	default:
		if stage == "" {
			stage = StageCurrent
		}
		if v = sec.holder(stage); v == nil {
			return nil, newError(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	sec.accessed = s.now().Truncate(24 * time.Hour)
	return &secretValueEntry{
		ARN: sec.arn, Name: sec.name, VersionId: v.id, SecretString: v.str, SecretBinary: v.bin,
		VersionStages: slices.Clone(v.stages), CreatedDate: epochPtr(v.created),
	}, nil
}

func (sec *secret) kmsKey() string {
	if sec.kmsKeyID == "" {
		return DefaultKMSKey
	}
	return sec.kmsKeyID
}

func (s *Server) getSecretValue(c *call) (any, *apiError) {
	var in struct{ SecretId, VersionId, VersionStage string }
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "GetSecretValue", false)
	if aerr != nil {
		return nil, aerr
	}
	return s.readValue(sec, in.VersionId, in.VersionStage)
}

// filter is a ListSecrets or BatchGetSecretValue filter.
type filter struct {
	Key    string
	Values []string
}

var filterKeys = []string{"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}

func checkFilters(fs []filter) *apiError {
	if len(fs) > 10 {
		return errValidation("1 validation error detected: Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for _, f := range fs {
		if !slices.Contains(filterKeys, f.Key) {
			return errValidation("1 validation error detected: Value '%s' at 'filters.key' failed to satisfy constraint: Member must satisfy enum value set: [%s]", f.Key, strings.Join(filterKeys, ", "))
		}
		if len(f.Values) < 1 || len(f.Values) > 10 {
			return errValidation("1 validation error detected: Value at 'filters.values' failed to satisfy constraint: Member must have length between 1 and 10")
		}
		for _, v := range f.Values {
			if !filterValue.MatchString(v) {
				return errValidation(`1 validation error detected: Value at 'filters.values' failed to satisfy constraint: Member must satisfy regular expression pattern: ^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`)
			}
		}
	}
	return nil
}

// matches applies one filter as the service documents it: prefix matches,
// case-sensitive except description and all; the values of a filter are
// alternatives, a value starting with ! excludes what it matches.
func (f filter) matches(s *Server, sec *secret) bool {
	match := func(v string) bool {
		switch f.Key {
		case "name":
			return strings.HasPrefix(sec.name, v)
		case "description":
			return strings.HasPrefix(strings.ToLower(sec.description), strings.ToLower(v))
		case "tag-key":
			return slices.ContainsFunc(sec.tags, func(t Tag) bool { return strings.HasPrefix(t.Key, v) })
		case "tag-value":
			return slices.ContainsFunc(sec.tags, func(t Tag) bool { return strings.HasPrefix(t.Value, v) })
		case "primary-region":
			return strings.HasPrefix(s.region, v)
		case "all":
			hay := strings.ToLower(sec.name + " " + sec.description)
			for _, t := range sec.tags {
				hay += " " + strings.ToLower(t.Key+" "+t.Value)
			}
			for w := range strings.FieldsSeq(strings.ToLower(v)) {
				if strings.Contains(hay, w) {
					return true
				}
			}
		}
		return false // owning-service: no secret here is managed by a service
	}
	anyPositive, matched := false, false
	for _, v := range f.Values {
		if neg, ok := strings.CutPrefix(v, "!"); ok {
			if match(neg) {
				return false
			}
			continue
		}
		anyPositive = true
		matched = matched || match(v)
	}
	return matched || !anyPositive
}

// filtered returns the secrets every filter matches, not scheduled for
// deletion unless withDeleted.
func (s *Server) filtered(fs []filter, withDeleted bool) []*secret {
	var out []*secret
	for name := range s.secrets {
		sec := s.lookupSecret(name)
		if sec == nil || (!withDeleted && !sec.deleted.IsZero()) {
			continue
		}
		if !slices.ContainsFunc(fs, func(f filter) bool { return !f.matches(s, sec) }) {
			out = append(out, sec)
		}
	}
	return out
}

// apiErrorEntry is one failed entry of BatchGetSecretValue.
type apiErrorEntry struct {
	SecretId  string
	ErrorCode string
	Message   string
}

func (s *Server) batchGetSecretValue(c *call) (any, *apiError) {
	var in struct {
		SecretIdList []string
		Filters      []filter
		MaxResults   *int
		NextToken    *string
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if (len(in.SecretIdList) > 0) == (len(in.Filters) > 0) {
		return nil, errInvalidParameter("You must provide either SecretIdList or Filters, but not both.")
	}
	if aerr := c.authorize("secretsmanager:BatchGetSecretValue", "*"); aerr != nil {
		return nil, aerr
	}
	var out struct {
		SecretValues []*secretValueEntry
		Errors       []apiErrorEntry
		NextToken    *string `json:",omitempty"`
	}
	out.SecretValues, out.Errors = []*secretValueEntry{}, []apiErrorEntry{}
	read := func(id string, sec *secret, aerr *apiError) {
		if aerr == nil {
			var v *secretValueEntry
			if v, aerr = s.readValue(sec, "", ""); aerr == nil {
				out.SecretValues = append(out.SecretValues, v)
				return
			}
		}
		out.Errors = append(out.Errors, apiErrorEntry{SecretId: id, ErrorCode: aerr.code, Message: aerr.msg})
	}
	if len(in.SecretIdList) > 0 {
		if len(in.SecretIdList) > maxBatchIDs {
			return nil, errValidation("1 validation error detected: Value at 'secretIdList' failed to satisfy constraint: Member must have length less than or equal to 20")
		}
		if in.MaxResults != nil || in.NextToken != nil {
			return nil, errInvalidParameter("MaxResults and NextToken can be used only with Filters.")
		}
		// A member's length is checked before anything is read, for the
		// whole call, as every member constraint of the service is.
		for _, id := range in.SecretIdList {
			if id == "" || len(id) > 2048 {
				return nil, errValidation("1 validation error detected: Value at 'secretIdList' failed to satisfy constraint: Member must satisfy constraint: [Member must have length between 1 and 2048]")
			}
		}
		for _, id := range in.SecretIdList {
			sec, aerr := s.secretFor(c, id, "GetSecretValue", false)
			read(id, sec, aerr)
		}
		return out, nil
	}
	if aerr := checkFilters(in.Filters); aerr != nil {
		return nil, aerr
	}
	max := maxBatchIDs
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxBatchIDs {
			return nil, errValidation("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 20")
		}
		max = *in.MaxResults
	}
	query := queryDigest(in.Filters)
	after := ""
	if in.NextToken != nil {
		var ok bool
		if after, ok = parseToken(*in.NextToken, query); !ok {
			return nil, newError(http.StatusBadRequest, "InvalidNextTokenException", "The NextToken value isn't valid.")
		}
	}
	secs, next := page(s.filtered(in.Filters, false), func(x *secret) string { return x.name }, after, max, false, query)
	for _, sec := range secs {
		var aerr *apiError
		if !c.caller.allowed("secretsmanager:GetSecretValue", sec.arn) {
			aerr = errAccessDenied(c.caller.arn, "secretsmanager:GetSecretValue", sec.arn)
		}
		read(sec.name, sec, aerr)
	}
	out.NextToken = next
	return out, nil
}

// secretMetadata is a secret as DescribeSecret and ListSecrets answer it.
type secretMetadata struct {
	ARN                    string
	Name                   string
	Description            string `json:",omitempty"`
	KmsKeyId               string `json:",omitempty"`
	Tags                   []Tag
	CreatedDate            *epoch              `json:",omitempty"`
	LastChangedDate        *epoch              `json:",omitempty"`
	LastAccessedDate       *epoch              `json:",omitempty"`
	DeletedDate            *epoch              `json:",omitempty"`
	VersionIdsToStages     map[string][]string `json:",omitempty"`
	SecretVersionsToStages map[string][]string `json:",omitempty"`
}

func (sec *secret) metadata(list bool) secretMetadata {
	stages := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[id] = slices.Clone(v.stages)
		}
	}
	m := secretMetadata{
		ARN: sec.arn, Name: sec.name, Description: sec.description, KmsKeyId: sec.kmsKeyID,
		Tags: slices.Clone(sec.tags), CreatedDate: epochPtr(sec.created), LastChangedDate: epochPtr(sec.changed),
		LastAccessedDate: epochPtr(sec.accessed), DeletedDate: epochPtr(sec.deleted),
	}
	if m.Tags == nil {
		m.Tags = []Tag{}
	}
	// The two operations name the same map differently.
	if list {
		m.SecretVersionsToStages = stages
	} else {
		m.VersionIdsToStages = stages
	}
	return m
}

func (s *Server) describeSecret(c *call) (any, *apiError) {
	var in struct{ SecretId string }
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "DescribeSecret", true)
	if aerr != nil {
		return nil, aerr
	}
	return sec.metadata(false), nil
}

func (s *Server) listSecrets(c *call) (any, *apiError) {
	var in struct {
		Filters                []filter
		MaxResults             *int
		NextToken              *string
		IncludePlannedDeletion bool
		SortOrder              string
		SortBy                 string
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := c.authorize("secretsmanager:ListSecrets", "*"); aerr != nil {
		return nil, aerr
	}
	if aerr := checkFilters(in.Filters); aerr != nil {
		return nil, aerr
	}
	max := maxListResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxListResults {
			return nil, errValidation("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100")
		}
		max = *in.MaxResults
	}
	if in.SortOrder != "" && in.SortOrder != "asc" && in.SortOrder != "desc" {
		return nil, errValidation("1 validation error detected: Value at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]")
	}
	key := func(x *secret) string { return fmt.Sprintf("%020d\x00%s", x.created.UnixNano(), x.name) }
	switch in.SortBy {
	case "", "created-date":
	case "name":
		key = func(x *secret) string { return x.name }
	default:
		return nil, errValidation("1 validation error detected: Value at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [created-date, name]")
	}
	query := queryDigest([]any{in.Filters, in.IncludePlannedDeletion, in.SortOrder, in.SortBy})
	after := ""
	if in.NextToken != nil {
		var ok bool
		if after, ok = parseToken(*in.NextToken, query); !ok {
			return nil, newError(http.StatusBadRequest, "InvalidNextTokenException", "The NextToken value isn't valid.")
		}
	}
	secs, next := page(s.filtered(in.Filters, in.IncludePlannedDeletion), key, after, max, in.SortOrder == "desc", query)
	out := struct {
		SecretList []secretMetadata
		NextToken  *string `json:",omitempty"`
	}{SecretList: []secretMetadata{}, NextToken: next}
	for _, sec := range secs {
		out.SecretList = append(out.SecretList, sec.metadata(true))
	}
	return out, nil
}

func (s *Server) updateSecretVersionStage(c *call) (any, *apiError) {
	var in struct{ SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId string }
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "UpdateSecretVersionStage", false)
	if aerr != nil {
		return nil, aerr
	}
	if in.VersionStage == "" || len(in.VersionStage) > 256 {
		return nil, errValidation("1 validation error detected: Value at 'versionStage' failed to satisfy constraint: Member must have length between 1 and 256")
	}
	holder := sec.holder(in.VersionStage)
	if in.RemoveFromVersionId != "" && (holder == nil || holder.id != in.RemoveFromVersionId) {
		return nil, errInvalidParameter("The staging label %s is not attached to version %s.", in.VersionStage, in.RemoveFromVersionId)
	}
	if in.MoveToVersionId == "" {
		if in.RemoveFromVersionId == "" {
			return nil, errInvalidParameter("You must specify MoveToVersionId, RemoveFromVersionId or both.")
		}
		if in.VersionStage == StageCurrent {
			return nil, errInvalidParameter("You can't remove the staging label AWSCURRENT without moving it to another version.")
		}
		holder.stages = slices.DeleteFunc(holder.stages, func(x string) bool { return x == in.VersionStage })
		sec.changed = s.now()
		return struct{ ARN, Name string }{sec.arn, sec.name}, nil
	}
	to := sec.versions[in.MoveToVersionId]
	if to == nil {
		return nil, errInvalidParameter("The version %s doesn't exist.", in.MoveToVersionId)
	}
	if holder != nil && holder != to && in.RemoveFromVersionId == "" {
		return nil, errInvalidParameter("The staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", in.VersionStage, holder.id)
	}
	sec.moveStage(in.VersionStage, to)
	sec.changed = s.now()
	return struct{ ARN, Name string }{sec.arn, sec.name}, nil
}

func (s *Server) tagResource(c *call) (any, *apiError) {
	var in struct {
		SecretId string
		Tags     []Tag
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "TagResource", false)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	tags, aerr := mergeTags(sec.tags, in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	sec.tags, sec.changed = tags, s.now()
	return nil, nil
}

func (s *Server) untagResource(c *call) (any, *apiError) {
	var in struct {
		SecretId string
		TagKeys  []string
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "UntagResource", false)
	if aerr != nil {
		return nil, aerr
	}
	sec.tags = slices.DeleteFunc(sec.tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	sec.changed = s.now()
	return nil, nil
}

func (s *Server) deleteSecret(c *call) (any, *apiError) {
	var in struct {
		SecretId                   string
		RecoveryWindowInDays       *int64
		ForceDeleteWithoutRecovery bool
	}
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "DeleteSecret", true)
	if aerr != nil {
		return nil, aerr
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != nil {
		return nil, errInvalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		if days = *in.RecoveryWindowInDays; days < 7 || days > 30 {
			return nil, errInvalidParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	now := s.now()
	if in.ForceDeleteWithoutRecovery {
		delete(s.secrets, sec.name)
		return struct {
			ARN, Name    string
			DeletionDate *epoch
		}{sec.arn, sec.name, epochPtr(now)}, nil
	}
	if !sec.deleted.IsZero() {
		return nil, newError(http.StatusBadRequest, "InvalidRequestException", "You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	sec.deleted = now.Add(time.Duration(days) * 24 * time.Hour)
	return struct {
		ARN, Name    string
		DeletionDate *epoch
	}{sec.arn, sec.name, epochPtr(sec.deleted)}, nil
}

func (s *Server) restoreSecret(c *call) (any, *apiError) {
	var in struct{ SecretId string }
	if aerr := decodeJSON(c, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.secretFor(c, in.SecretId, "RestoreSecret", true)
	if aerr != nil {
		return nil, aerr
	}
	sec.deleted = time.Time{}
	return struct{ ARN, Name string }{sec.arn, sec.name}, nil
}

// DisableKMSKey makes every read of a secret encrypted with keyID fail with
// DecryptionFailure, as a disabled or inaccessible KMS key does. The empty
// ID stands for [DefaultKMSKey].
func (s *Server) DisableKMSKey(keyID string) {
	if keyID == "" {
		keyID = DefaultKMSKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.badKeys[keyID] = true
}
