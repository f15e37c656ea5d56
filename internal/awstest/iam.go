package awstest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Statement is one statement of an IAM-like identity policy.
type Statement struct {
	// Deny makes the statement refuse what it matches; a matching deny
	// wins over every allow.
	Deny bool
	// Actions are "service:Action" names with * and ? wildcards, matched
	// without regard to case as IAM does: "secretsmanager:GetSecretValue",
	// "ssm:Get*", "*".
	Actions []string
	// Resources are ARNs with * and ? wildcards: "*", or
	// "arn:aws:secretsmanager:us-east-1:123456789012:secret:team-a/*".
	Resources []string
	// PrincipalTags, when set, limit the statement to callers whose
	// session carries every one of these tags with this value, as an
	// aws:PrincipalTag condition does (attribute-based access control
	// with session tags).
	PrincipalTags map[string]string
}

// Policy is what a user or a role may do: every action that a statement
// allows and none denies. An empty policy allows nothing.
type Policy []Statement

// AllowAll allows every action on every resource.
var AllowAll = Policy{{Actions: []string{"*"}, Resources: []string{"*"}}}

// Allow returns a policy of one statement allowing actions on resources.
func Allow(actions []string, resources ...string) Policy {
	return Policy{{Actions: actions, Resources: resources}}
}

// Credentials are an access key, with the session token and expiry of
// temporary credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is empty for a user's long-term key.
	SessionToken string
	// Expires is zero for a long-term key.
	Expires time.Time
}

// User is an IAM user.
type User struct {
	// Name is the user's name: arn:aws:iam::ACCOUNT:user/NAME.
	Name string
	// Policy is what the user may do.
	Policy Policy
}

// Role is an IAM role: a policy, and a trust policy saying who may assume
// it and how.
type Role struct {
	// Name is the role's name: arn:aws:iam::ACCOUNT:role/NAME.
	Name string
	// Policy is what sessions of the role may do.
	Policy Policy
	// TrustedPrincipals are the ARN patterns (* and ? wildcards) of the
	// callers that may sts:AssumeRole it: users, or roles, whose pattern
	// then matches every session of the role ("arn:aws:iam::…:role/base").
	TrustedPrincipals []string
	// ExternalID, when set, must be presented by every AssumeRole (an
	// sts:ExternalId condition).
	ExternalID string
	// AllowTagSession allows session tags (sts:TagSession); without it an
	// AssumeRole passing tags is denied, as AWS denies it.
	AllowTagSession bool
	// WebIdentity are the identity providers whose tokens may be exchanged
	// for sessions of the role with AssumeRoleWithWebIdentity.
	WebIdentity []WebIdentityTrust
	// MaxSessionDuration bounds DurationSeconds; zero means one hour, as
	// in IAM.
	MaxSessionDuration time.Duration
}

// WebIdentityTrust lets tokens of one OpenID Connect provider assume a
// role: a trust policy statement with Federated: <provider> and its aud and
// sub conditions.
type WebIdentityTrust struct {
	// Issuer is the issuer URL of a provider added with
	// [Server.AddOIDCProvider].
	Issuer string
	// Audience must be among the token's audiences; empty means
	// "sts.amazonaws.com", the audience IRSA tokens carry.
	Audience string
	// Subject is a pattern (* and ? wildcards) the token's subject must
	// match, "system:serviceaccount:NAMESPACE:NAME" for a Kubernetes
	// ServiceAccount; empty matches any.
	Subject string
}

// Session is a record of one set of temporary credentials STS issued.
type Session struct {
	// Action is AssumeRole or AssumeRoleWithWebIdentity.
	Action string
	// Caller is the ARN of who assumed the role: a user, an earlier
	// session (role chaining), or the token's subject for web identity.
	Caller string
	// RoleARN is the role assumed; ARN is the session's own.
	RoleARN, ARN string
	// ExternalID is the external ID presented.
	ExternalID string
	// Tags are the session's tags, inherited transitive ones included;
	// TransitiveTagKeys are the keys that pass on to roles it assumes.
	Tags              map[string]string
	TransitiveTagKeys []string
	// Credentials are what the session signs with.
	Credentials Credentials
}

type user struct {
	User
	arn, id string
}

type role struct {
	Role
	arn, id string
}

// principal is who signed a request: a user, or a session of a role.
type principal struct {
	arn    string
	userID string
	policy Policy
	// role is set for sessions.
	role       *role
	tags       map[string]string
	transitive []string
}

type accessKey struct {
	Credentials
	principal *principal
}

// IDs are upper-case letters and digits after a type prefix, like AWS's.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	out := []byte(prefix)
	for _, c := range b {
		out = append(out, idAlphabet[int(c)%len(idAlphabet)])
	}
	return string(out)
}

func newSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)[:n]
}

// AddUser creates a user and returns a new access key of it. A user of
// the same name is replaced, its keys kept.
func (s *Server) AddUser(u User) Credentials {
	c := Credentials{AccessKeyID: newID("AKIA"), SecretAccessKey: newSecret(40)}
	if err := s.AddAccessKey(u, c); err != nil {
		panic(err) // a fresh random key cannot collide
	}
	return c
}

// AddAccessKey creates (or replaces) the user and gives it the access key
// c, for tests that need known credentials. c.SessionToken must be empty:
// temporary credentials come from STS.
func (s *Server) AddAccessKey(u User, c Credentials) error {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken != "" {
		return fmt.Errorf("awstest: a user's access key needs an ID and a secret and no session token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[c.AccessKeyID]; ok && k.principal.role != nil {
		return fmt.Errorf("awstest: access key %s belongs to a session", c.AccessKeyID)
	}
	uu, ok := s.users[u.Name]
	if !ok {
		uu = &user{arn: s.UserARN(u.Name), id: newID("AIDA")}
		s.users[u.Name] = uu
	}
	uu.User = u
	p := &principal{arn: uu.arn, userID: uu.id, policy: slices.Clone(u.Policy)}
	// Every key of the user sees the new policy.
	for _, k := range s.keys {
		if k.principal.arn == uu.arn {
			k.principal = p
		}
	}
	s.keys[c.AccessKeyID] = &accessKey{Credentials: c, principal: p}
	return nil
}

// DeleteAccessKey removes an access key; requests signed with it are then
// refused as signed with an unknown key.
func (s *Server) DeleteAccessKey(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, id)
}

// UserARN returns the ARN of the user called name.
func (s *Server) UserARN(name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:user/%s", s.account, name)
}

// AddRole creates (or replaces) a role and returns its ARN.
func (s *Server) AddRole(r Role) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := s.RoleARN(r.Name)
	rr, ok := s.roles[arn]
	if !ok {
		rr = &role{arn: arn, id: newID("AROA")}
		s.roles[arn] = rr
	}
	r.Policy = slices.Clone(r.Policy)
	rr.Role = r
	return arn
}

// RoleARN returns the ARN of the role called name.
func (s *Server) RoleARN(name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", s.account, name)
}

// Sessions returns every session STS issued, oldest first.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, len(s.sessions))
	for i, x := range s.sessions {
		x.Tags = maps.Clone(x.Tags)
		x.TransitiveTagKeys = slices.Clone(x.TransitiveTagKeys)
		out[i] = x
	}
	return out
}

// ExpireSessions makes every session STS issued so far expired, as if
// their time had passed: requests signed with them are refused with
// ExpiredToken until the client gets new credentials.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for _, k := range s.keys {
		if k.SessionToken != "" {
			k.Expires = past
		}
	}
}

// allowed reports whether p may perform action on resource: some statement
// allows it and none denies it.
func (p *principal) allowed(action, resource string) bool {
	ok := false
	for _, st := range p.policy {
		if !st.appliesTo(p.tags) || !matchAny(st.Actions, action, true) || !matchAny(st.Resources, resource, false) {
			continue
		}
		if st.Deny {
			return false
		}
		ok = true
	}
	return ok
}

func (st Statement) appliesTo(tags map[string]string) bool {
	for k, v := range st.PrincipalTags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// authorize returns AccessDeniedException unless the caller may perform
// action on resource.
func (c *call) authorize(action, resource string) *apiError {
	if c.caller != nil && c.caller.allowed(action, resource) {
		return nil
	}
	caller := ""
	if c.caller != nil {
		caller = c.caller.arn
	}
	return errAccessDenied(caller, action, resource)
}

func matchAny(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if glob(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if glob(p, s) {
			return true
		}
	}
	return false
}

// glob matches s against a pattern where * is any run of bytes and ? one
// byte, as IAM's ARN and action patterns are matched. It runs in
// O(len(p)*len(s)) at worst: a pattern is configuration, but the names it
// is matched against come from requests.
func glob(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
