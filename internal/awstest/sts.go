package awstest

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// maxSessionTags is how many session tags one AssumeRole may pass.
	maxSessionTags = 50
	// chainedSessionLimit bounds sessions of a role assumed by a role
	// session (role chaining).
	chainedSessionLimit = time.Hour
)

var stsActions = map[string]func(*Server, *call) (any, *apiError){
	"GetCallerIdentity":         (*Server).getCallerIdentity,
	"AssumeRole":                (*Server).assumeRole,
	"AssumeRoleWithWebIdentity": (*Server).assumeRoleWithWebIdentity,
}

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	tagKeyPattern      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	tagValuePattern    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)
)

func errSTSValidation(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "ValidationError", format, args...)
}

func errSTSDenied(caller, action, resource string) *apiError {
	return newError(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s", caller, action, resource)
}

type stsMetadata struct {
	RequestID string `xml:"RequestId"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type stsAssumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

func (s *Server) getCallerIdentity(c *call) (any, *apiError) {
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	return struct {
		XMLName  xml.Name    `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
		Result   result      `xml:"GetCallerIdentityResult"`
		Metadata stsMetadata `xml:"ResponseMetadata"`
	}{Result: result{Arn: c.caller.arn, UserID: c.caller.userID, Account: s.account}, Metadata: stsMetadata{c.reqID}}, nil
}

// sessionRequest is what AssumeRole and AssumeRoleWithWebIdentity share.
type sessionRequest struct {
	roleARN, sessionName string
	duration             time.Duration
	tags                 map[string]string
	transitive           []string
}

func parseSessionRequest(form url.Values) (sessionRequest, *apiError) {
	r := sessionRequest{roleARN: form.Get("RoleArn"), sessionName: form.Get("RoleSessionName"), duration: time.Hour}
	if l := len(r.roleARN); l < 20 || l > 2048 {
		return r, errSTSValidation("1 validation error detected: Value at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048")
	}
	if !sessionNamePattern.MatchString(r.sessionName) {
		return r, errSTSValidation(`1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]* and have length between 2 and 64`)
	}
	if d := form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 43200 {
			return r, errSTSValidation("1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
		}
		r.duration = time.Duration(n) * time.Second
	}
	tags, aerr := parseTagMembers(form)
	if aerr != nil {
		return r, aerr
	}
	r.tags = tags
	for i := 1; ; i++ {
		k := form.Get(fmt.Sprintf("TransitiveTagKeys.member.%d", i))
		if k == "" {
			break
		}
		if i > maxSessionTags {
			return r, errSTSValidation("1 validation error detected: Value at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to 50")
		}
		r.transitive = append(r.transitive, k)
	}
	return r, nil
}

// parseTagMembers reads Tags.member.N.Key and .Value, N from 1 without
// gaps, as the query protocol serializes a list.
func parseTagMembers(form url.Values) (map[string]string, *apiError) {
	tags := map[string]string{}
	seen := map[string]bool{}
	for i := 1; ; i++ {
		prefix := fmt.Sprintf("Tags.member.%d.", i)
		k, hasKey := form[prefix+"Key"]
		v := form.Get(prefix + "Value")
		if !hasKey {
			break
		}
		if i > maxSessionTags {
			return nil, errSTSValidation("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
		}
		key := k[0]
		if !tagKeyPattern.MatchString(key) || !tagValuePattern.MatchString(v) {
			return nil, errSTSValidation("1 validation error detected: Value at 'tags.%d' failed to satisfy constraint: a tag key is 1 to 128 and a value 0 to 256 letters, digits, spaces or _.:/=+-@", i)
		}
		// Tag keys are case-insensitive in STS.
		if lk := strings.ToLower(key); seen[lk] {
			return nil, newError(http.StatusBadRequest, "InvalidParameterValue", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		} else {
			seen[lk] = true
		}
		tags[key] = v
	}
	return tags, nil
}

// newSession issues credentials for a session of r and records it. Called
// with s.mu held.
func (s *Server) newSession(action, caller string, r *role, req sessionRequest, externalID string, inherited map[string]string, inheritedTransitive []string) (stsCredentials, stsAssumedRoleUser) {
	now := s.now()
	creds := Credentials{
		AccessKeyID:     newID("ASIA"),
		SecretAccessKey: newSecret(40),
		SessionToken:    "IQoJb3JpZ2luX2Vj" + newSecret(200),
		Expires:         now.Add(req.duration).Truncate(time.Second),
	}
	tags := maps.Clone(inherited)
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, req.tags)
	transitive := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(inheritedTransitive), req.transitive...))))
	arn := fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", s.account, r.Name, req.sessionName)
	p := &principal{arn: arn, userID: r.id + ":" + req.sessionName, policy: r.Policy, role: r, tags: tags, transitive: transitive}
	s.keys[creds.AccessKeyID] = &accessKey{Credentials: creds, principal: p}
	s.sessions = append(s.sessions, Session{
		Action: action, Caller: caller, RoleARN: r.arn, ARN: arn, ExternalID: externalID,
		Tags: maps.Clone(tags), TransitiveTagKeys: slices.Clone(transitive), Credentials: creds,
	})
	return stsCredentials{
			AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
			SessionToken: creds.SessionToken, Expiration: creds.Expires.UTC().Format(time.RFC3339),
		}, stsAssumedRoleUser{
			AssumedRoleID: p.userID, Arn: arn,
		}
}

// trusts reports whether the role's trust policy admits caller (an ARN)
// for sts:AssumeRole; a role pattern admits the role's sessions.
func (r *role) trusts(caller *principal) bool {
	if matchAny(r.TrustedPrincipals, caller.arn, false) {
		return true
	}
	return caller.role != nil && matchAny(r.TrustedPrincipals, caller.role.arn, false)
}

func (r *role) maxDuration() time.Duration {
	if r.MaxSessionDuration > 0 {
		return r.MaxSessionDuration
	}
	return time.Hour
}

func (s *Server) assumeRole(c *call) (any, *apiError) {
	req, aerr := parseSessionRequest(c.form)
	if aerr != nil {
		return nil, aerr
	}
	externalID := c.form.Get("ExternalId")
	if externalID != "" && (len(externalID) < 2 || len(externalID) > 1224 || !externalIDPattern.MatchString(externalID)) {
		return nil, errSTSValidation(`1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@:/-]* and have length between 2 and 1224`)
	}
	denied := errSTSDenied(c.caller.arn, "sts:AssumeRole", req.roleARN)
	r, ok := s.roles[req.roleARN]
	if !ok || !r.trusts(c.caller) {
		// A missing role is refused like a forbidden one: AWS does not
		// tell callers which roles exist.
		return nil, denied
	}
	if r.ExternalID != "" && externalID != r.ExternalID {
		return nil, denied
	}
	if (len(req.tags) > 0 || len(req.transitive) > 0) && !r.AllowTagSession {
		return nil, errSTSDenied(c.caller.arn, "sts:TagSession", req.roleARN)
	}
	for _, k := range req.transitive {
		if _, ok := req.tags[k]; !ok {
			return nil, newError(http.StatusBadRequest, "InvalidParameterValue", "The transitive tag key %s is not a key of the session tags", k)
		}
	}
	chained := c.caller.role != nil
	var inherited map[string]string
	var inheritedTransitive []string
	if chained {
		if req.duration > chainedSessionLimit {
			return nil, errSTSValidation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
		}
		inherited = map[string]string{}
		for _, k := range c.caller.transitive {
			inherited[k] = c.caller.tags[k]
			for nk := range req.tags {
				if strings.EqualFold(nk, k) {
					return nil, newError(http.StatusBadRequest, "InvalidParameterValue", "The session tag %s is transitive from an earlier session and cannot be set again", k)
				}
			}
		}
		inheritedTransitive = c.caller.transitive
	} else if req.duration > r.maxDuration() {
		return nil, errSTSValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	creds, user := s.newSession("AssumeRole", c.caller.arn, r, req, externalID, inherited, inheritedTransitive)
	type result struct {
		Credentials     stsCredentials     `xml:"Credentials"`
		AssumedRoleUser stsAssumedRoleUser `xml:"AssumedRoleUser"`
	}
	return struct {
		XMLName  xml.Name    `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
		Result   result      `xml:"AssumeRoleResult"`
		Metadata stsMetadata `xml:"ResponseMetadata"`
	}{Result: result{Credentials: creds, AssumedRoleUser: user}, Metadata: stsMetadata{c.reqID}}, nil
}

func (s *Server) assumeRoleWithWebIdentity(c *call) (any, *apiError) {
	req, aerr := parseSessionRequest(c.form)
	if aerr != nil {
		return nil, aerr
	}
	if len(req.tags) > 0 || len(req.transitive) > 0 {
		// Tags of web identity sessions come from the token's claims.
		return nil, errSTSValidation("AssumeRoleWithWebIdentity takes no Tags")
	}
	claims, aerr := s.verifyWebIdentity(c.form.Get("WebIdentityToken"))
	if aerr != nil {
		return nil, aerr
	}
	denied := newError(http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	r, ok := s.roles[req.roleARN]
	if !ok || !slices.ContainsFunc(r.WebIdentity, func(t WebIdentityTrust) bool {
		aud := t.Audience
		if aud == "" {
			aud = STSAudience
		}
		return t.Issuer == claims.Issuer && claims.Audience.Contains(aud) && (t.Subject == "" || glob(t.Subject, claims.Subject))
	}) {
		return nil, denied
	}
	if req.duration > r.maxDuration() {
		return nil, errSTSValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	creds, user := s.newSession("AssumeRoleWithWebIdentity", claims.Subject, r, req, "", nil, nil)
	type result struct {
		Credentials                 stsCredentials     `xml:"Credentials"`
		SubjectFromWebIdentityToken string             `xml:"SubjectFromWebIdentityToken"`
		AssumedRoleUser             stsAssumedRoleUser `xml:"AssumedRoleUser"`
		Provider                    string             `xml:"Provider"`
		Audience                    string             `xml:"Audience"`
	}
	return struct {
		XMLName  xml.Name    `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
		Result   result      `xml:"AssumeRoleWithWebIdentityResult"`
		Metadata stsMetadata `xml:"ResponseMetadata"`
	}{Result: result{
		Credentials: creds, SubjectFromWebIdentityToken: claims.Subject, AssumedRoleUser: user,
		Provider: claims.Issuer, Audience: strings.Join(claims.Audience, ","),
	}, Metadata: stsMetadata{c.reqID}}, nil
}
