package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/providers"
)

// TestSecretsManagerGetSecret reads with every form of remoteRef (tenant
// input) secrets whose contents are the tenant's too.
func TestSecretsManagerGetSecret(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v1 := e.secret(t, "app/db", `{"user":"admin","pass":"p1","tls.crt":"CERT","nested":{"port":5432},"hosts":["a","b"]}`, "team", "a", "env", "prod")
	out, err := e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: awssdk.String("app/db"), SecretString: awssdk.String(`{"user":"admin","pass":"p2"}`)})
	if err != nil {
		t.Fatal(err)
	}
	v2 := *out.VersionId
	if _, err := e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: awssdk.String("app/db"), SecretString: awssdk.String("next"), VersionStages: []string{"AWSPENDING", "canary"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("app/bin"), SecretBinary: []byte{0, 0xff, '{'}}); err != nil {
		t.Fatal(err)
	}
	e.secret(t, "plain", "just text")
	e.secret(t, "untagged", "{}")
	e.secret(t, "gone", "x")
	if _, err := e.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: awssdk.String("gone")}); err != nil {
		t.Fatal(err)
	}
	e.secret(t, "team-b/db", "b")
	e.secret(t, "prefixed/app/db", "under a prefix")
	kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, awstest.Allow([]string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
		"arn:aws:secretsmanager:*:*:secret:app/*", "arn:aws:secretsmanager:*:*:secret:plain-*", "arn:aws:secretsmanager:*:*:secret:untagged-*",
		"arn:aws:secretsmanager:*:*:secret:gone-*", "arn:aws:secretsmanager:*:*:secret:nope*", "arn:aws:secretsmanager:*:*:secret:prefixed/*"))
	c := e.client(t, kube, spec)
	prefixed := *spec
	prefixed.Prefix = "prefixed/"
	pc := e.client(t, kube, &prefixed)

	fetch := esv1.ExternalSecretMetadataPolicyFetch
	for _, tc := range []struct {
		name     string
		client   providers.Client
		ref      esv1.ExternalSecretDataRemoteRef
		want     string
		notFound bool
		err      string
	}{
		{name: "current", ref: ref("app/db"), want: `{"user":"admin","pass":"p2"}`},
		{name: "AWSCURRENT", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "AWSCURRENT"}, want: `{"user":"admin","pass":"p2"}`},
		{name: "AWSPREVIOUS property", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "AWSPREVIOUS", Property: "pass"}, want: "p1"},
		{name: "custom stage", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "canary"}, want: "next"},
		{name: "version id as ESO writes it", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "uuid/" + v1, Property: "user"}, want: "admin"},
		{name: "version id of the current", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "uuid/" + v2, Property: "pass"}, want: "p2"},
		{name: "gjson path", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "AWSPREVIOUS", Property: "nested.port"}, want: "5432"},
		{name: "gjson array", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "AWSPREVIOUS", Property: "hosts.1"}, want: "b"},
		{name: "key with a dot, literally", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "AWSPREVIOUS", Property: "tls.crt"}, want: "CERT"},
		{name: "object property as JSON", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "AWSPREVIOUS", Property: "nested"}, want: `{"port":5432}`},
		{name: "binary", ref: ref("app/bin"), want: "\x00\xff{"},
		{name: "plain text", ref: ref("plain"), want: "just text"},
		{name: "tags", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", MetadataPolicy: fetch}, want: `{"env":"prod","team":"a"}`},
		{name: "one tag", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", MetadataPolicy: fetch, Property: "team"}, want: "a"},
		{name: "no tags", ref: esv1.ExternalSecretDataRemoteRef{Key: "untagged", MetadataPolicy: fetch}, want: `{}`},
		{name: "prefix", client: pc, ref: ref("app/db"), want: "under a prefix"},
		{name: "missing", ref: ref("nope"), notFound: true},
		{name: "missing stage", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "AWSNOPE"}, notFound: true},
		{name: "missing version id", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Version: "uuid/00000000-0000-0000-0000-000000000000"}, notFound: true},
		{name: "scheduled for deletion", ref: ref("gone"), notFound: true},
		{name: "missing property", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "nope"}, notFound: true},
		{name: "missing tag", ref: esv1.ExternalSecretDataRemoteRef{Key: "app/db", MetadataPolicy: fetch, Property: "owner"}, notFound: true},
		{name: "missing secret's tags", ref: esv1.ExternalSecretDataRemoteRef{Key: "nope", MetadataPolicy: fetch}, notFound: true},
		{name: "property of a non-JSON value", ref: esv1.ExternalSecretDataRemoteRef{Key: "plain", Property: "x"}, err: "not JSON"},
		{name: "another team's secret", ref: ref("team-b/db"), err: "AccessDeniedException: User: arn:aws:iam::123456789012:user/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := c
			if tc.client != nil {
				cl = tc.client
			}
			got, err := cl.GetSecret(ctx, tc.ref)
			switch {
			case tc.notFound:
				if !errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("got %q, %v; want not found", got, err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.err)
				}
				if strings.Contains(err.Error(), "RequestID") {
					t.Fatalf("error %q carries a request ID: status would change on every refresh", err)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
			}
			if tc.ref.Property == "" {
				return
			}
			// PropertyExtractor: the whole read, then the property, answers
			// the same.
			whole := tc.ref
			whole.Property = ""
			w, werr := cl.GetSecret(ctx, whole)
			if werr != nil {
				return
			}
			got2, err2 := cl.(providers.PropertyExtractor).ExtractProperty(tc.ref, w)
			if string(got2) != string(got) || (err2 == nil) != (err == nil) {
				t.Fatalf("ExtractProperty answered %q, %v; GetSecret %q, %v", got2, err2, got, err)
			}
		})
	}
}

// TestSecretsManagerGetSecretMap is dataFrom.extract of tenant secrets.
func TestSecretsManagerGetSecretMap(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "app/db", `{"user":"admin","port":5432,"tls":{"crt":"C"},"null":null}`, "team", "a")
	e.secret(t, "plain", "text")
	kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, awstest.AllowAll)
	c := e.client(t, kube, spec)
	for _, tc := range []struct {
		name string
		ref  esv1.ExternalSecretDataRemoteRef
		want map[string]string
		err  error
	}{
		// null reads as "", as in ESO (json.Unmarshal of null into a string).
		{"object", ref("app/db"), map[string]string{"user": "admin", "port": "5432", "tls": `{"crt":"C"}`, "null": ""}, nil},
		{"property", esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "tls"}, map[string]string{"crt": "C"}, nil},
		{"tags", esv1.ExternalSecretDataRemoteRef{Key: "app/db", MetadataPolicy: esv1.ExternalSecretMetadataPolicyFetch}, map[string]string{"team": "a"}, nil},
		{"not an object", ref("plain"), nil, providers.ErrNotJSONObject},
		{"missing", ref("nope"), nil, providers.ErrSecretNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := c.GetSecretMap(context.Background(), tc.ref)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range m {
				got[k] = string(v)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSecretsManagerFind is dataFrom.find (tenant input) over more secrets
// than one page of ListSecrets and one BatchGetSecretValue hold.
func TestSecretsManagerFind(t *testing.T) {
	e := newEnv(t)
	for i := range 130 {
		team := []string{"a", "b"}[i%2]
		e.secret(t, fmt.Sprintf("svc/%03d", i), fmt.Sprint(i), "team", team, "env", "prod")
	}
	e.secret(t, "svc/odd-tags", "x", "team", "prod", "env", "a") // keys and values swapped
	e.secret(t, "other/db", "o", "team", "a")
	e.secret(t, "svc/deleted", "d", "team", "a")
	if _, err := e.sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: awssdk.String("svc/deleted")}); err != nil {
		t.Fatal(err)
	}
	kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, awstest.AllowAll)
	c := e.client(t, kube, spec)
	path := func(s string) *string { return &s }
	for _, tc := range []struct {
		name    string
		find    esv1.ExternalSecretFind
		count   int
		has     []string
		hasNot  []string
		wantErr string
	}{
		{name: "name regexp", find: esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: `^svc/0[0-4]\d$`}}, count: 50, has: []string{"svc/000", "svc/049"}},
		{name: "regexp matches anywhere", find: esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: `db`}}, count: 1, has: []string{"other/db"}},
		{name: "path and regexp", find: esv1.ExternalSecretFind{Path: path("svc/"), Name: &esv1.FindName{RegExp: `9$`}}, count: 13, hasNot: []string{"other/db"}},
		{name: "tags", find: esv1.ExternalSecretFind{Tags: map[string]string{"team": "a", "env": "prod"}}, count: 65, has: []string{"svc/000"}, hasNot: []string{"svc/001", "svc/odd-tags", "svc/deleted"}},
		{name: "tags and path", find: esv1.ExternalSecretFind{Path: path("other/"), Tags: map[string]string{"team": "a"}}, count: 1, has: []string{"other/db"}},
		{name: "tags and name", find: esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: `1\d\d$`}, Tags: map[string]string{"team": "b"}}, count: 15},
		{name: "tag value AWS cannot filter on", find: esv1.ExternalSecretFind{Tags: map[string]string{"team": "*"}}, count: 0},
		{name: "nothing matches", find: esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: `^none$`}}, count: 0},
		{name: "neither name nor tags", find: esv1.ExternalSecretFind{Path: path("svc/")}, wantErr: "find needs name.regexp or tags"},
		{name: "bad regexp", find: esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: `(`}}, wantErr: "find.name.regexp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.GetAllSecrets(context.Background(), tc.find)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.count {
				t.Errorf("got %d secrets, want %d: %v", len(got), tc.count, slices.Sorted(maps.Keys(got)))
			}
			for _, k := range tc.has {
				if _, ok := got[k]; !ok {
					t.Errorf("missing %s", k)
				}
			}
			for _, k := range tc.hasNot {
				if _, ok := got[k]; ok {
					t.Errorf("has %s", k)
				}
			}
			if v, ok := got["svc/000"]; ok && string(v) != "0" {
				t.Errorf("svc/000 = %q", v)
			}
		})
	}
	t.Run("reads in batches", func(t *testing.T) {
		e.srv.ResetCalls()
		got, err := c.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Path: path("svc/")})
		if err == nil || got != nil {
			t.Fatal("a find without name or tags read something")
		}
		if _, err := c.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Tags: map[string]string{"env": "prod"}}); err != nil {
			t.Fatal(err)
		}
		// 131 candidates: 2 pages of ListSecrets, 7 batches of 20, no
		// GetSecretValue. The server counts every request it answered, so
		// a call the SDK's retryer sent again on a loaded machine counts
		// twice: at most once more per call.
		if l, b, g := e.srv.Count(awstest.SecretsManager, "ListSecrets"), e.srv.Count(awstest.SecretsManager, "BatchGetSecretValue"), e.srv.Count(awstest.SecretsManager, "GetSecretValue"); l < 2 || l > 4 || b < 7 || b > 14 || g != 0 {
			t.Fatalf("ListSecrets %d, BatchGetSecretValue %d, GetSecretValue %d", l, b, g)
		}
	})
	t.Run("a secret it cannot read fails the find", func(t *testing.T) {
		kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, awstest.Policy{
			{Actions: []string{"secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"}, Resources: []string{"*"}},
			{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{"arn:aws:secretsmanager:*:*:secret:svc/*"}},
		})
		c := e.client(t, kube, spec)
		if _, err := c.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Tags: map[string]string{"env": "prod"}}); err != nil {
			t.Fatalf("readable: %v", err)
		}
		_, err := c.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Tags: map[string]string{"team": "a"}})
		if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") || !strings.Contains(err.Error(), "other/db") {
			t.Fatalf("got %v, want AccessDeniedException for other/db", err)
		}
	})
}
