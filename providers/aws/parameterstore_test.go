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
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/providers"
)

// TestParameterStoreGetSecret reads with every form of remoteRef (tenant
// input) parameters whose values are the tenant's too.
func TestParameterStoreGetSecret(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.param(t, "/app/db", `{"user":"admin","pass":"p1"}`, "team", "a")
	e.param(t, "/app/db", `{"user":"admin","pass":"p2"}`)
	e.param(t, "/app/db", `{"user":"admin","pass":"p3"}`)
	if _, err := e.ssm.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: awssdk.String("/app/db"), ParameterVersion: awssdk.Int64(2), Labels: []string{"stable"}}); err != nil {
		t.Fatal(err)
	}
	e.param(t, "/other/x", "x", "team", "b")
	e.param(t, "/prefix/app/db", "prefixed", "k", "v")
	kube, spec := e.keys(t, esv1.AWSServiceParameterStore, awstest.Allow([]string{"ssm:GetParameter*", "ssm:ListTagsForResource"},
		"arn:aws:ssm:*:*:parameter/app/*", "arn:aws:ssm:*:*:parameter/prefix/*", "arn:aws:ssm:*:*:parameter/nope"))
	c := e.client(t, kube, spec)
	prefixed := *spec
	prefixed.Prefix = "/prefix"
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
		{name: "latest, decrypted", ref: ref("/app/db"), want: `{"user":"admin","pass":"p3"}`},
		{name: "version", ref: esv1.ExternalSecretDataRemoteRef{Key: "/app/db", Version: "1", Property: "pass"}, want: "p1"},
		{name: "label", ref: esv1.ExternalSecretDataRemoteRef{Key: "/app/db", Version: "stable", Property: "pass"}, want: "p2"},
		{name: "tags", ref: esv1.ExternalSecretDataRemoteRef{Key: "/app/db", MetadataPolicy: fetch}, want: `{"team":"a"}`},
		{name: "tags of a version are the parameter's", ref: esv1.ExternalSecretDataRemoteRef{Key: "/app/db", Version: "1", MetadataPolicy: fetch, Property: "team"}, want: "a"},
		{name: "prefix", client: pc, ref: ref("/app/db"), want: "prefixed"},
		{name: "missing", ref: ref("/app/nope"), notFound: true},
		{name: "missing version", ref: esv1.ExternalSecretDataRemoteRef{Key: "/app/db", Version: "9"}, notFound: true},
		{name: "missing label", ref: esv1.ExternalSecretDataRemoteRef{Key: "/app/db", Version: "nope"}, notFound: true},
		{name: "missing parameter's tags", ref: esv1.ExternalSecretDataRemoteRef{Key: "/nope", MetadataPolicy: fetch}, notFound: true},
		{name: "missing property", ref: esv1.ExternalSecretDataRemoteRef{Key: "/app/db", Property: "nope"}, notFound: true},
		{name: "not allowed", ref: ref("/other/x"), err: "AccessDeniedException"},
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
					t.Fatalf("got %q, %v; want %q", got, err, tc.err)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
	t.Run("extract", func(t *testing.T) {
		m, err := c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: "/app/db", Version: "stable"})
		if err != nil || string(m["pass"]) != "p2" || len(m) != 2 {
			t.Fatalf("got %v, %v", m, err)
		}
	})
}

// TestParameterStoreFind is dataFrom.find (tenant input) by path, name and
// tags, over more parameters than a page holds.
func TestParameterStoreFind(t *testing.T) {
	e := newEnv(t)
	for i := range 25 {
		e.param(t, fmt.Sprintf("/app/svc%02d/key", i), fmt.Sprint(i), "team", []string{"a", "b"}[i%2])
	}
	e.param(t, "/app/db/pass", "p", "team", "a")
	e.param(t, "/other/db/pass", "o", "team", "a")
	e.param(t, "top", "t", "team", "a")
	kube, spec := e.keys(t, esv1.AWSServiceParameterStore, awstest.AllowAll)
	c := e.client(t, kube, spec)
	path := func(s string) *string { return &s }
	for _, tc := range []struct {
		name    string
		find    esv1.ExternalSecretFind
		want    []string
		count   int
		wantErr string
	}{
		{name: "name under a path", find: esv1.ExternalSecretFind{Path: path("/app"), Name: &esv1.FindName{RegExp: `pass$`}}, want: []string{"/app/db/pass"}},
		{name: "name everywhere", find: esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: `pass$`}}, want: []string{"/app/db/pass", "/other/db/pass"}},
		{name: "name across pages", find: esv1.ExternalSecretFind{Path: path("/app"), Name: &esv1.FindName{RegExp: `svc`}}, count: 25},
		{name: "root holds names without a slash", find: esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: `^top$`}}, want: []string{"top"}},
		{name: "tags", find: esv1.ExternalSecretFind{Tags: map[string]string{"team": "a"}}, count: 16},
		{name: "tags under a path", find: esv1.ExternalSecretFind{Path: path("/other"), Tags: map[string]string{"team": "a"}}, want: []string{"/other/db/pass"}},
		{name: "tags and name", find: esv1.ExternalSecretFind{Path: path("/app"), Name: &esv1.FindName{RegExp: `svc0`}, Tags: map[string]string{"team": "b"}}, want: []string{"/app/svc01/key", "/app/svc03/key", "/app/svc05/key", "/app/svc07/key", "/app/svc09/key"}},
		{name: "neither", find: esv1.ExternalSecretFind{Path: path("/app")}, wantErr: "find needs name.regexp or tags"},
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
			names := slices.Sorted(maps.Keys(got))
			if tc.want != nil && !slices.Equal(names, tc.want) {
				t.Fatalf("got %v, want %v", names, tc.want)
			}
			if tc.want == nil && len(names) != tc.count {
				t.Fatalf("got %d: %v, want %d", len(names), names, tc.count)
			}
			if v, ok := got["/app/db/pass"]; ok && string(v) != "p" {
				t.Fatalf("/app/db/pass = %q: not decrypted?", v)
			}
		})
	}
	t.Run("GetParametersByPath denied: DescribeParameters and GetParameters", func(t *testing.T) {
		kube, spec := e.keys(t, esv1.AWSServiceParameterStore, awstest.Policy{
			{Actions: []string{"ssm:DescribeParameters", "ssm:GetParameters", "ssm:GetParameter"}, Resources: []string{"*"}},
		})
		c := e.client(t, kube, spec)
		e.srv.ResetCalls()
		got, err := c.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Path: path("/app"), Name: &esv1.FindName{RegExp: `svc1`}})
		if err != nil || len(got) != 10 || string(got["/app/svc12/key"]) != "12" {
			t.Fatalf("got %v, %v", slices.Sorted(maps.Keys(got)), err)
		}
		if n := e.srv.Count(awstest.SSM, "GetParameter"); n != 0 {
			t.Fatalf("%d GetParameter calls: matches should be read 10 at a time", n)
		}
	})
}
