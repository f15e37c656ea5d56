package awstest_test

// These tests drive the server with aws-sdk-go-v2's own clients: what a
// client sends is the input under test, the server's identities and data
// are the test's setup. cli_test.go drives it with Debian's awscli.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/sealsync/sealsync/internal/awstest"
)

// start returns a listening server and the configuration of a client
// signing as an administrator.
func start(t *testing.T, opts awstest.Options) (*awstest.Server, aws.Config) {
	t.Helper()
	s := awstest.New(opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clientConfig(s, s.AddUser(awstest.User{Name: "admin", Policy: awstest.AllowAll}))
}

// clientConfig is a client of s signing with c, without retries, so that
// every call is one request.
func clientConfig(s *awstest.Server, c awstest.Credentials) aws.Config {
	return aws.Config{
		Region:       s.Region(),
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// code returns the AWS error code of err, "" for none.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}

// must returns v, failing the test given to it when err is set:
// must(client.Call(ctx, in))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestSecretVersionStages(t *testing.T) {
	_, cfg := start(t, awstest.Options{})
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(cfg)
	v1 := must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("one")}))(t).VersionId
	v2 := must(sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String("two")}))(t).VersionId
	v3 := must(sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("app/db"), SecretBinary: []byte{0, 1, 2, 0xff}, VersionStages: []string{awstest.StagePending, "canary"},
	}))(t).VersionId

	get := func(in secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
		in.SecretId = aws.String("app/db")
		return sm.GetSecretValue(ctx, &in)
	}
	for _, tc := range []struct {
		name string
		in   secretsmanager.GetSecretValueInput
		want string
		id   *string
	}{
		{"default is AWSCURRENT", secretsmanager.GetSecretValueInput{}, "two", v2},
		{"AWSPREVIOUS", secretsmanager.GetSecretValueInput{VersionStage: aws.String(awstest.StagePrevious)}, "one", v1},
		{"AWSPENDING binary", secretsmanager.GetSecretValueInput{VersionStage: aws.String(awstest.StagePending)}, "\x00\x01\x02\xff", v3},
		{"custom stage", secretsmanager.GetSecretValueInput{VersionStage: aws.String("canary")}, "\x00\x01\x02\xff", v3},
		{"version id", secretsmanager.GetSecretValueInput{VersionId: v1}, "one", v1},
		{"version id and its stage", secretsmanager.GetSecretValueInput{VersionId: v2, VersionStage: aws.String(awstest.StageCurrent)}, "two", v2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := must(get(tc.in))(t)
			got := string(out.SecretBinary)
			if out.SecretString != nil {
				got = *out.SecretString
			}
			if got != tc.want || *out.VersionId != *tc.id {
				t.Fatalf("got %q version %s, want %q version %s", got, *out.VersionId, tc.want, *tc.id)
			}
		})
	}
	for _, tc := range []struct {
		name string
		in   secretsmanager.GetSecretValueInput
	}{
		{"unknown stage", secretsmanager.GetSecretValueInput{VersionStage: aws.String("nope")}},
		{"unknown version id", secretsmanager.GetSecretValueInput{VersionId: aws.String("00000000-0000-0000-0000-000000000000")}},
		{"version id without that stage", secretsmanager.GetSecretValueInput{VersionId: v1, VersionStage: aws.String(awstest.StageCurrent)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := get(tc.in); code(err) != "ResourceNotFoundException" {
				t.Fatalf("got %v, want ResourceNotFoundException", err)
			}
		})
	}

	// Promoting the pending version: AWSCURRENT moves, the old current
	// becomes AWSPREVIOUS and the old previous loses it.
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("app/db"), VersionStage: aws.String(awstest.StageCurrent), MoveToVersionId: v3,
	}); code(err) != "InvalidParameterException" {
		t.Fatalf("moving AWSCURRENT without RemoveFromVersionId: %v, want InvalidParameterException", err)
	}
	must(sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("app/db"), VersionStage: aws.String(awstest.StageCurrent), MoveToVersionId: v3, RemoveFromVersionId: v2,
	}))(t)
	d := must(sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/db")}))(t)
	want := map[string][]string{*v2: {awstest.StagePrevious}, *v3: {awstest.StagePending, "canary", awstest.StageCurrent}}
	for id, stages := range d.VersionIdsToStages {
		slices.Sort(stages)
		w := slices.Sorted(slices.Values(want[id]))
		if !slices.Equal(stages, w) {
			t.Errorf("version %s has stages %v, want %v", id, stages, w)
		}
	}
	if len(d.VersionIdsToStages) != 2 {
		t.Errorf("stages %v: version 1 should have none left", d.VersionIdsToStages)
	}

	// A ClientRequestToken is a version ID: replaying it is idempotent,
	// reusing it for another value is refused.
	tok := "11111111-2222-3333-4444-555555555555"
	for i, value := range []string{"three", "three"} {
		out := must(sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String(value), ClientRequestToken: aws.String(tok)}))(t)
		if *out.VersionId != tok {
			t.Fatalf("put %d: version %s, want %s", i, *out.VersionId, tok)
		}
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String("four"), ClientRequestToken: aws.String(tok)}); code(err) != "ResourceExistsException" {
		t.Fatalf("reused token: %v, want ResourceExistsException", err)
	}
}

func TestSecretErrors(t *testing.T) {
	s, cfg := start(t, awstest.Options{})
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(cfg)
	must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("team-a/db"), SecretString: aws.String("a")}))(t)
	must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("team-b/db"), SecretString: aws.String("b")}))(t)
	must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("g")}))(t)
	must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")}))(t)
	must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("locked"), SecretString: aws.String("l"), KmsKeyId: aws.String("alias/broken")}))(t)
	must(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone")}))(t)
	s.DisableKMSKey("alias/broken")
	teamA := secretsmanager.NewFromConfig(clientConfig(s, s.AddUser(awstest.User{Name: "team-a", Policy: awstest.Allow(
		[]string{"secretsmanager:GetSecretValue"}, fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:team-a/*", s.Region(), s.Account()),
	)})))

	for _, tc := range []struct {
		name   string
		client *secretsmanager.Client
		id     string
		want   string
	}{
		{"missing", sm, "nope", "ResourceNotFoundException"},
		{"marked for deletion", sm, "gone", "InvalidRequestException"},
		{"no value yet", sm, "empty", "ResourceNotFoundException"},
		{"KMS key disabled", sm, "locked", "DecryptionFailure"},
		{"allowed", teamA, "team-a/db", ""},
		{"other team's secret", teamA, "team-b/db", "AccessDeniedException"},
		{"missing and not allowed: no hint that it does not exist", teamA, "team-b/nope", "AccessDeniedException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tc.id)})
			if code(err) != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}

	t.Run("restore", func(t *testing.T) {
		must(sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("gone")}))(t)
		out := must(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("gone")}))(t)
		if *out.SecretString != "g" {
			t.Fatalf("restored secret reads %q", *out.SecretString)
		}
	})
	t.Run("by ARN and partial ARN", func(t *testing.T) {
		d := must(sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("team-a/db")}))(t)
		for _, id := range []string{*d.ARN, (*d.ARN)[:len(*d.ARN)-7]} {
			if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
	})
	for _, tc := range []struct {
		name string
		in   secretsmanager.CreateSecretInput
		want string
	}{
		{"exists", secretsmanager.CreateSecretInput{Name: aws.String("team-a/db"), SecretString: aws.String("x")}, "ResourceExistsException"},
		{"string and binary", secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("x"), SecretBinary: []byte("y")}, "InvalidParameterException"},
		{"bad name", secretsmanager.CreateSecretInput{Name: aws.String("a b")}, "ValidationException"},
		{"value too large", secretsmanager.CreateSecretInput{Name: aws.String("big"), SecretString: aws.String(strings.Repeat("x", 65537))}, "ValidationException"},
	} {
		t.Run("create/"+tc.name, func(t *testing.T) {
			if _, err := sm.CreateSecret(ctx, &tc.in); code(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	t.Run("force delete", func(t *testing.T) {
		must(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("team-b/db"), ForceDeleteWithoutRecovery: aws.Bool(true)}))(t)
		if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("team-b/db")}); code(err) != "ResourceNotFoundException" {
			t.Fatalf("got %v after a forced delete", err)
		}
	})
}

// TestDeletionWindowPasses moves the server's clock past a deletion
// window. The client's clock is then a week behind: its first request is
// refused as signed too long ago, and the SDK's clock-skew correction,
// reading the server's Date header as it reads AWS's, signs the retry in
// the server's time.
func TestDeletionWindowPasses(t *testing.T) {
	now := time.Now()
	s, cfg := start(t, awstest.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(cfg)
	must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("x"), SecretString: aws.String("v")}))(t)
	must(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("x"), RecoveryWindowInDays: aws.Int64(7)}))(t)
	d := must(sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("x")}))(t)
	if d.DeletedDate == nil || d.DeletedDate.Sub(now) < 7*24*time.Hour-time.Second {
		t.Fatalf("deleted date %v", d.DeletedDate)
	}
	now = now.Add(7*24*time.Hour + time.Second)
	s.ResetCalls()
	retrying := cfg
	retrying.Retryer = func() aws.Retryer { return retry.NewStandard() }
	_, err := secretsmanager.NewFromConfig(retrying).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("x")})
	if code(err) != "ResourceNotFoundException" {
		t.Fatalf("after the window: %v, want ResourceNotFoundException", err)
	}
	admin := s.UserARN("admin")
	want := map[awstest.Call]int{
		{Service: awstest.SecretsManager, Action: "DescribeSecret", Code: "InvalidSignatureException"}:                1,
		{Service: awstest.SecretsManager, Action: "DescribeSecret", Caller: admin, Code: "ResourceNotFoundException"}: 1,
	}
	if got := s.Calls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
}

func TestBatchGetSecretValue(t *testing.T) {
	s, cfg := start(t, awstest.Options{})
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(cfg)
	for i := range 25 {
		must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(fmt.Sprintf("batch/s%02d", i)), SecretString: aws.String(fmt.Sprint(i)),
			Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String([]string{"a", "b"}[i%2])}},
		}))(t)
	}
	must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("private/x"), SecretString: aws.String("p")}))(t)
	must(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("batch/s24")}))(t)
	reader := secretsmanager.NewFromConfig(clientConfig(s, s.AddUser(awstest.User{Name: "reader", Policy: awstest.Policy{
		{Actions: []string{"secretsmanager:BatchGetSecretValue"}, Resources: []string{"*"}},
		{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{"arn:aws:secretsmanager:*:*:secret:batch/*"}},
	}})))

	t.Run("by ids with per-entry errors", func(t *testing.T) {
		out := must(reader.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
			SecretIdList: []string{"batch/s00", "batch/s01", "nope", "private/x", "batch/s24"},
		}))(t)
		var got []string
		for _, v := range out.SecretValues {
			got = append(got, *v.Name+"="+*v.SecretString)
		}
		if want := []string{"batch/s00=0", "batch/s01=1"}; !slices.Equal(got, want) {
			t.Errorf("values %v, want %v", got, want)
		}
		errs := map[string]string{}
		for _, e := range out.Errors {
			errs[*e.SecretId] = *e.ErrorCode
		}
		want := map[string]string{"nope": "AccessDeniedException", "private/x": "AccessDeniedException", "batch/s24": "InvalidRequestException"}
		if fmt.Sprint(errs) != fmt.Sprint(want) {
			t.Errorf("errors %v, want %v", errs, want)
		}
	})
	t.Run("missing secret an admin may read", func(t *testing.T) {
		out := must(sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"nope"}}))(t)
		if len(out.Errors) != 1 || *out.Errors[0].ErrorCode != "ResourceNotFoundException" {
			t.Fatalf("errors %+v", out.Errors)
		}
	})
	t.Run("more than 20 ids", func(t *testing.T) {
		ids := make([]string, 21)
		for i := range ids {
			ids[i] = fmt.Sprintf("batch/s%02d", i)
		}
		if _, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids}); code(err) != "ValidationException" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an id of the wrong length fails the whole call", func(t *testing.T) {
		for _, bad := range []string{"", strings.Repeat("x", 2049)} {
			_, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"batch/s00", bad}})
			if code(err) != "ValidationException" {
				t.Fatalf("id of %d bytes: got %v", len(bad), err)
			}
		}
	})
	t.Run("ids and filters", func(t *testing.T) {
		_, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
			SecretIdList: []string{"batch/s00"}, Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"batch/"}}},
		})
		if code(err) != "InvalidParameterException" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("filters paginate", func(t *testing.T) {
		p := secretsmanager.NewBatchGetSecretValuePaginator(sm, &secretsmanager.BatchGetSecretValueInput{
			Filters:    []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"batch/"}}, {Key: smtypes.FilterNameStringTypeTagValue, Values: []string{"a"}}},
			MaxResults: aws.Int32(5),
		})
		var names []string
		pages := 0
		for p.HasMorePages() {
			out := must(p.NextPage(ctx))(t)
			pages++
			for _, v := range out.SecretValues {
				names = append(names, *v.Name)
			}
		}
		// s00..s22 even: 12 secrets (s24 is deleted), in pages of 5.
		if len(names) != 12 || pages != 3 || !slices.IsSorted(names) {
			t.Fatalf("%d pages: %v", pages, names)
		}
	})
}

func TestListSecrets(t *testing.T) {
	_, cfg := start(t, awstest.Options{})
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(cfg)
	for _, n := range []string{"prod/db", "prod/api", "dev/db", "Prod/odd"} {
		env, _, _ := strings.Cut(n, "/")
		must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(n), SecretString: aws.String("v"), Description: aws.String("The " + n + " secret"),
			Tags: []smtypes.Tag{{Key: aws.String("env"), Value: aws.String(strings.ToLower(env))}, {Key: aws.String("owner-" + env), Value: aws.String("x")}},
		}))(t)
	}
	must(sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("dev/db")}))(t)
	list := func(in secretsmanager.ListSecretsInput) []string {
		t.Helper()
		var names []string
		p := secretsmanager.NewListSecretsPaginator(sm, &in)
		for p.HasMorePages() {
			for _, e := range must(p.NextPage(ctx))(t).SecretList {
				names = append(names, *e.Name)
			}
		}
		slices.Sort(names)
		return names
	}
	f := func(key smtypes.FilterNameStringType, values ...string) smtypes.Filter {
		return smtypes.Filter{Key: key, Values: values}
	}
	for _, tc := range []struct {
		name string
		in   secretsmanager.ListSecretsInput
		want []string
	}{
		{"all but deleted", secretsmanager.ListSecretsInput{}, []string{"Prod/odd", "prod/api", "prod/db"}},
		{"with deleted", secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)}, []string{"Prod/odd", "dev/db", "prod/api", "prod/db"}},
		{"name prefix is case-sensitive", secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{f("name", "prod/")}}, []string{"prod/api", "prod/db"}},
		{"negated name", secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{f("name", "!prod/")}}, []string{"Prod/odd"}},
		{"tag value", secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{f("tag-value", "prod")}}, []string{"Prod/odd", "prod/api", "prod/db"}},
		{"tag key prefix", secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{f("tag-key", "owner-P")}}, []string{"Prod/odd"}},
		{"description is not case-sensitive", secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{f("description", "the PROD")}}, []string{"Prod/odd", "prod/api", "prod/db"}},
		{"filters are ANDed, values ORed", secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{f("name", "prod/a", "prod/d"), f("tag-key", "env")}}, []string{"prod/api", "prod/db"}},
		{"pages of one", secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)}, []string{"Prod/odd", "prod/api", "prod/db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("bad token", func(t *testing.T) {
		first := must(sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)}))(t)
		_, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: first.NextToken, Filters: []smtypes.Filter{f("name", "prod")}})
		if code(err) != "InvalidNextTokenException" {
			t.Fatalf("a token with other filters: %v", err)
		}
		if _, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: aws.String("garbage")}); code(err) != "InvalidNextTokenException" {
			t.Fatalf("garbage token: %v", err)
		}
	})
	t.Run("bad filter", func(t *testing.T) {
		_, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{f("name", "a*b")}})
		if code(err) != "ValidationException" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestParameterStore(t *testing.T) {
	s, cfg := start(t, awstest.Options{})
	ctx := context.Background()
	p := ssm.NewFromConfig(cfg)
	put := func(name, value string, typ ssmtypes.ParameterType, overwrite bool, tags ...ssmtypes.Tag) int64 {
		t.Helper()
		return must(p.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(overwrite), Tags: tags}))(t).Version
	}
	team := func(v string) ssmtypes.Tag { return ssmtypes.Tag{Key: aws.String("team"), Value: aws.String(v)} }
	put("/app/db/pass", "v1", ssmtypes.ParameterTypeSecureString, false, team("a"))
	put("/app/db/pass", "v2", "", true)
	put("/app/db/pass", "v3", "", true)
	put("/app/db/user", "admin", ssmtypes.ParameterTypeString, false, team("a"))
	put("/app/api/key", "k", ssmtypes.ParameterTypeString, false, team("b"))
	put("/other/x", "x", ssmtypes.ParameterTypeStringList, false)
	put("top", "t", ssmtypes.ParameterTypeString, false)
	must(p.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/app/db/pass"), ParameterVersion: aws.Int64(1), Labels: []string{"stable", "old"}}))(t)
	lab := must(p.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/app/db/pass"), ParameterVersion: aws.Int64(2), Labels: []string{"stable", "aws-no", "1bad"}}))(t)
	if !slices.Equal(lab.InvalidLabels, []string{"aws-no", "1bad"}) {
		t.Errorf("invalid labels %v", lab.InvalidLabels)
	}

	for _, tc := range []struct {
		name    string
		ref     string
		decrypt bool
		want    string
		version int64
		err     string
	}{
		{"latest", "/app/db/pass", true, "v3", 3, ""},
		{"version", "/app/db/pass:1", true, "v1", 1, ""},
		{"label moved to version 2", "/app/db/pass:stable", true, "v2", 2, ""},
		{"label left on version 1", "/app/db/pass:old", true, "v1", 1, ""},
		{"missing version", "/app/db/pass:9", true, "", 0, "ParameterVersionNotFound"},
		{"missing label", "/app/db/pass:nope", true, "", 0, "ParameterNotFound"},
		{"missing", "/app/nope", true, "", 0, "ParameterNotFound"},
		{"empty selector", "/app/db/pass:", true, "", 0, "ValidationException"},
		{"plain name", "top", false, "t", 1, ""},
	} {
		t.Run("get/"+tc.name, func(t *testing.T) {
			out, err := p.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(tc.ref), WithDecryption: aws.Bool(tc.decrypt)})
			if code(err) != tc.err {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
			if err == nil && (*out.Parameter.Value != tc.want || out.Parameter.Version != tc.version) {
				t.Fatalf("got %q version %d, want %q version %d", *out.Parameter.Value, out.Parameter.Version, tc.want, tc.version)
			}
		})
	}
	t.Run("SecureString without decryption hides the value", func(t *testing.T) {
		out := must(p.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/db/pass")}))(t)
		if *out.Parameter.Value == "v3" {
			t.Fatal("plaintext without WithDecryption")
		}
	})
	t.Run("GetParameters", func(t *testing.T) {
		out := must(p.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/db/user", "/app/db/pass:1", "/app/nope", "/app/db/pass:9"}, WithDecryption: aws.Bool(true)}))(t)
		var got []string
		for _, x := range out.Parameters {
			got = append(got, *x.Name+aws.ToString(x.Selector)+"="+*x.Value)
		}
		if !slices.Equal(got, []string{"/app/db/user=admin", "/app/db/pass:1=v1"}) || !slices.Equal(out.InvalidParameters, []string{"/app/nope", "/app/db/pass:9"}) {
			t.Fatalf("got %v, invalid %v", got, out.InvalidParameters)
		}
		if _, err := p.GetParameters(ctx, &ssm.GetParametersInput{Names: strings.Fields("a b c d e f g h i j k")}); code(err) != "ValidationException" {
			t.Fatalf("11 names: %v", err)
		}
	})
	byPath := func(path string, recursive bool, filters ...ssmtypes.ParameterStringFilter) []string {
		t.Helper()
		var names []string
		pg := ssm.NewGetParametersByPathPaginator(p, &ssm.GetParametersByPathInput{Path: aws.String(path), Recursive: aws.Bool(recursive), MaxResults: aws.Int32(1), ParameterFilters: filters})
		for pg.HasMorePages() {
			for _, x := range must(pg.NextPage(ctx))(t).Parameters {
				names = append(names, *x.Name)
			}
		}
		return names
	}
	for _, tc := range []struct {
		name      string
		path      string
		recursive bool
		want      []string
	}{
		{"one level", "/app", false, nil},
		{"recursive", "/app", true, []string{"/app/api/key", "/app/db/pass", "/app/db/user"}},
		{"trailing slash", "/app/db/", false, []string{"/app/db/pass", "/app/db/user"}},
		{"root one level holds names without a slash", "/", false, []string{"top"}},
		{"root recursive", "/", true, []string{"/app/api/key", "/app/db/pass", "/app/db/user", "/other/x", "top"}},
	} {
		t.Run("by path/"+tc.name, func(t *testing.T) {
			if got := byPath(tc.path, tc.recursive); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("by path with label filter", func(t *testing.T) {
		got := byPath("/app", true, ssmtypes.ParameterStringFilter{Key: aws.String("Label"), Values: []string{"stable"}})
		if !slices.Equal(got, []string{"/app/db/pass"}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("describe by tag and path", func(t *testing.T) {
		var names []string
		pg := ssm.NewDescribeParametersPaginator(p, &ssm.DescribeParametersInput{MaxResults: aws.Int32(1), ParameterFilters: []ssmtypes.ParameterStringFilter{
			{Key: aws.String("tag:team"), Option: aws.String("Equals"), Values: []string{"a"}},
			{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{"/app"}},
		}})
		for pg.HasMorePages() {
			for _, x := range must(pg.NextPage(ctx))(t).Parameters {
				names = append(names, *x.Name)
			}
		}
		if !slices.Equal(names, []string{"/app/db/pass", "/app/db/user"}) {
			t.Fatalf("got %v", names)
		}
		_, err := p.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Path"), Option: aws.String("Deep"), Values: []string{"/"}}}})
		if code(err) != "InvalidFilterOption" {
			t.Fatalf("bad option: %v", err)
		}
	})
	t.Run("tags", func(t *testing.T) {
		must(p.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/app/db/user"), Tags: []ssmtypes.Tag{team("c"), {Key: aws.String("env"), Value: aws.String("prod")}}}))(t)
		tags := must(p.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/app/db/user")}))(t).TagList
		var got []string
		for _, x := range tags {
			got = append(got, *x.Key+"="+*x.Value)
		}
		if !slices.Equal(got, []string{"team=c", "env=prod"}) {
			t.Fatalf("tags %v", got)
		}
		_, err := p.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/nope")})
		if code(err) != "InvalidResourceId" {
			t.Fatalf("missing resource: %v", err)
		}
	})
	for _, tc := range []struct {
		name string
		in   ssm.PutParameterInput
		want string
	}{
		{"exists without overwrite", ssm.PutParameterInput{Name: aws.String("top"), Value: aws.String("x")}, "ParameterAlreadyExists"},
		{"tags with overwrite", ssm.PutParameterInput{Name: aws.String("top"), Value: aws.String("x"), Overwrite: aws.Bool(true), Tags: []ssmtypes.Tag{team("a")}}, "ValidationException"},
		{"no type", ssm.PutParameterInput{Name: aws.String("/new"), Value: aws.String("x")}, "ValidationException"},
		{"reserved prefix", ssm.PutParameterInput{Name: aws.String("/aws/x"), Value: aws.String("x"), Type: ssmtypes.ParameterTypeString}, "ValidationException"},
		{"hierarchy without leading slash", ssm.PutParameterInput{Name: aws.String("a/b"), Value: aws.String("x"), Type: ssmtypes.ParameterTypeString}, "ValidationException"},
		{"standard tier too large", ssm.PutParameterInput{Name: aws.String("/big"), Value: aws.String(strings.Repeat("x", 4097)), Type: ssmtypes.ParameterTypeString, Tier: ssmtypes.ParameterTierStandard}, "ValidationException"},
	} {
		t.Run("put/"+tc.name, func(t *testing.T) {
			if _, err := p.PutParameter(ctx, &tc.in); code(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	t.Run("GetParameters fails whole when one name is denied", func(t *testing.T) {
		reader := ssm.NewFromConfig(clientConfig(s, s.AddUser(awstest.User{Name: "app-reader", Policy: awstest.Allow(
			[]string{"ssm:GetParameter*"}, "arn:aws:ssm:*:*:parameter/app/*")})))
		if _, err := reader.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/db/user", "/other/x"}}); code(err) != "AccessDeniedException" {
			t.Fatalf("got %v", err)
		}
		if _, err := reader.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/db/user", "/app/nope"}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSignatures(t *testing.T) {
	now := time.Now()
	skew := time.Duration(0)
	s, _ := start(t, awstest.Options{Now: func() time.Time { return now.Add(skew) }})
	user := s.AddUser(awstest.User{Name: "u", Policy: awstest.AllowAll})
	role := s.AddRole(awstest.Role{Name: "r", Policy: awstest.AllowAll, TrustedPrincipals: []string{s.UserARN("u")}})
	ctx := context.Background()
	session := must(sts.NewFromConfig(clientConfig(s, user)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("sess")}))(t).Credentials
	sess := awstest.Credentials{AccessKeyID: *session.AccessKeyId, SecretAccessKey: *session.SecretAccessKey, SessionToken: *session.SessionToken}
	wrongSecret := user
	// One character changed, whatever the random key starts with.
	first := "x"
	if user.SecretAccessKey[0] == 'x' {
		first = "y"
	}
	wrongSecret.SecretAccessKey = first + user.SecretAccessKey[1:]
	noToken := sess
	noToken.SessionToken = ""
	otherToken := sess
	otherToken.SessionToken = "IQoJforged"
	longTermWithToken := user
	longTermWithToken.SessionToken = sess.SessionToken

	for _, tc := range []struct {
		name              string
		creds             awstest.Credentials
		region            string
		skew              time.Duration
		expire            bool
		wantJSON, wantSTS string
	}{
		{name: "user key", creds: user},
		{name: "session", creds: sess},
		{name: "wrong secret", creds: wrongSecret, wantJSON: "InvalidSignatureException", wantSTS: "SignatureDoesNotMatch"},
		{name: "unknown key", creds: awstest.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"}, wantJSON: "UnrecognizedClientException", wantSTS: "InvalidClientTokenId"},
		{name: "session without its token", creds: noToken, wantJSON: "UnrecognizedClientException", wantSTS: "InvalidClientTokenId"},
		{name: "session with another token", creds: otherToken, wantJSON: "UnrecognizedClientException", wantSTS: "InvalidClientTokenId"},
		{name: "long-term key with a token", creds: longTermWithToken, wantJSON: "UnrecognizedClientException", wantSTS: "InvalidClientTokenId"},
		{name: "other region", creds: user, region: "eu-west-1", wantJSON: "InvalidSignatureException", wantSTS: "SignatureDoesNotMatch"},
		{name: "clock 14 minutes ahead", creds: user, skew: 14 * time.Minute},
		{name: "clock 16 minutes ahead", creds: user, skew: 16 * time.Minute, wantJSON: "InvalidSignatureException", wantSTS: "SignatureDoesNotMatch"},
		{name: "clock 16 minutes behind", creds: user, skew: -16 * time.Minute, wantJSON: "InvalidSignatureException", wantSTS: "SignatureDoesNotMatch"},
		{name: "expired session", creds: sess, expire: true, wantJSON: "ExpiredTokenException", wantSTS: "ExpiredToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skew = tc.skew
			defer func() { skew = 0 }()
			if tc.expire {
				s.ExpireSessions()
			}
			cfg := clientConfig(s, tc.creds)
			if tc.region != "" {
				cfg.Region = tc.region
			}
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
			want := tc.wantJSON
			if want == "" {
				want = "ParameterNotFound"
			}
			if code(err) != want {
				t.Errorf("ssm: got %v, want %s", err, want)
			}
			_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if code(err) != tc.wantSTS {
				t.Errorf("sts: got %v, want %q", err, tc.wantSTS)
			}
		})
	}
}

func TestAssumeRole(t *testing.T) {
	s, _ := start(t, awstest.Options{})
	ctx := context.Background()
	dev := s.AddUser(awstest.User{Name: "dev"})
	other := s.AddUser(awstest.User{Name: "other"})
	base := s.AddRole(awstest.Role{Name: "base", TrustedPrincipals: []string{s.UserARN("dev")}, AllowTagSession: true, MaxSessionDuration: 2 * time.Hour})
	ext := s.AddRole(awstest.Role{Name: "ext", TrustedPrincipals: []string{s.UserARN("*")}, ExternalID: "ext-123"})
	chained := s.AddRole(awstest.Role{Name: "chained", TrustedPrincipals: []string{base}, AllowTagSession: true})
	notags := s.AddRole(awstest.Role{Name: "notags", TrustedPrincipals: []string{s.UserARN("dev")}})
	assume := func(c awstest.Credentials, in sts.AssumeRoleInput) (awstest.Credentials, error) {
		if in.RoleSessionName == nil {
			in.RoleSessionName = aws.String("sess")
		}
		out, err := sts.NewFromConfig(clientConfig(s, c)).AssumeRole(ctx, &in)
		if err != nil {
			return awstest.Credentials{}, err
		}
		return awstest.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}, nil
	}
	tag := func(k, v string) ststypes.Tag { return ststypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	baseSession, err := assume(dev, sts.AssumeRoleInput{RoleArn: aws.String(base), Tags: []ststypes.Tag{tag("team", "a"), tag("env", "dev")}, TransitiveTagKeys: []string{"team"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		creds awstest.Credentials
		in    sts.AssumeRoleInput
		want  string
	}{
		{"untrusted user", other, sts.AssumeRoleInput{RoleArn: aws.String(base)}, "AccessDenied"},
		{"missing role", dev, sts.AssumeRoleInput{RoleArn: aws.String(s.RoleARN("missing"))}, "AccessDenied"},
		{"external ID", other, sts.AssumeRoleInput{RoleArn: aws.String(ext), ExternalId: aws.String("ext-123")}, ""},
		{"wrong external ID", other, sts.AssumeRoleInput{RoleArn: aws.String(ext), ExternalId: aws.String("ext-999")}, "AccessDenied"},
		{"missing external ID", other, sts.AssumeRoleInput{RoleArn: aws.String(ext)}, "AccessDenied"},
		{"tags without sts:TagSession", dev, sts.AssumeRoleInput{RoleArn: aws.String(notags), Tags: []ststypes.Tag{tag("a", "b")}}, "AccessDenied"},
		{"duplicate tag keys", dev, sts.AssumeRoleInput{RoleArn: aws.String(base), Tags: []ststypes.Tag{tag("a", "b"), tag("A", "c")}}, "InvalidParameterValue"},
		{"transitive key not a tag", dev, sts.AssumeRoleInput{RoleArn: aws.String(base), Tags: []ststypes.Tag{tag("a", "b")}, TransitiveTagKeys: []string{"c"}}, "InvalidParameterValue"},
		{"duration within the role's maximum", dev, sts.AssumeRoleInput{RoleArn: aws.String(base), DurationSeconds: aws.Int32(7200)}, ""},
		{"duration over the role's maximum", dev, sts.AssumeRoleInput{RoleArn: aws.String(base), DurationSeconds: aws.Int32(7201)}, "ValidationError"},
		{"bad session name", dev, sts.AssumeRoleInput{RoleArn: aws.String(base), RoleSessionName: aws.String("a b")}, "ValidationError"},
		{"chained", baseSession, sts.AssumeRoleInput{RoleArn: aws.String(chained), Tags: []ststypes.Tag{tag("step", "2")}}, ""},
		{"chained over one hour", baseSession, sts.AssumeRoleInput{RoleArn: aws.String(chained), DurationSeconds: aws.Int32(3601)}, "ValidationError"},
		{"chained overriding a transitive tag", baseSession, sts.AssumeRoleInput{RoleArn: aws.String(chained), Tags: []ststypes.Tag{tag("Team", "b")}}, "InvalidParameterValue"},
		{"a role not trusting the caller's role", baseSession, sts.AssumeRoleInput{RoleArn: aws.String(notags)}, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := assume(tc.creds, tc.in); code(err) != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	sessions := s.Sessions()
	last := sessions[len(sessions)-1]
	for _, x := range sessions {
		if x.RoleARN == chained {
			last = x
		}
	}
	if fmt.Sprint(last.Tags) != "map[step:2 team:a]" || !slices.Equal(last.TransitiveTagKeys, []string{"team"}) || last.Caller != "arn:aws:sts::123456789012:assumed-role/base/sess" {
		t.Errorf("chained session %+v: want the transitive tag team=a inherited, env dropped", last)
	}
}

func TestWebIdentity(t *testing.T) {
	now := time.Now()
	s, _ := start(t, awstest.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	iss := must(awstest.NewIssuer("https://oidc.example/cluster"))(t)
	stranger := must(awstest.NewIssuer("https://oidc.example/other"))(t)
	s.AddOIDCProvider(iss.Provider())
	role := s.AddRole(awstest.Role{Name: "irsa", Policy: awstest.AllowAll, WebIdentity: []awstest.WebIdentityTrust{{
		Issuer: iss.URL(), Subject: "system:serviceaccount:team-a:*",
	}}})
	anon := sts.NewFromConfig(aws.Config{Region: s.Region(), BaseEndpoint: aws.String(s.URL()), Retryer: func() aws.Retryer { return aws.NopRetryer{} }})
	for _, tc := range []struct {
		name   string
		issuer *awstest.Issuer
		claims awstest.TokenClaims
		role   string
		want   string
	}{
		{"ServiceAccount of the trusted namespace", iss, awstest.TokenClaims{Subject: "system:serviceaccount:team-a:app", Audience: []string{awstest.STSAudience}}, role, ""},
		{"another namespace", iss, awstest.TokenClaims{Subject: "system:serviceaccount:team-b:app", Audience: []string{awstest.STSAudience}}, role, "AccessDenied"},
		{"audience of the API server", iss, awstest.TokenClaims{Subject: "system:serviceaccount:team-a:app", Audience: []string{"https://kubernetes.default.svc"}}, role, "InvalidIdentityToken"},
		{"expired", iss, awstest.TokenClaims{Subject: "system:serviceaccount:team-a:app", Audience: []string{awstest.STSAudience}, IssuedAt: now.Add(-time.Hour), Expiry: now.Add(-time.Minute)}, role, "ExpiredTokenException"},
		{"unknown issuer", stranger, awstest.TokenClaims{Subject: "system:serviceaccount:team-a:app", Audience: []string{awstest.STSAudience}}, role, "InvalidIdentityToken"},
		{"role without web identity trust", iss, awstest.TokenClaims{Subject: "system:serviceaccount:team-a:app", Audience: []string{awstest.STSAudience}}, s.AddRole(awstest.Role{Name: "plain"}), "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := must(tc.issuer.Token(tc.claims))(t)
			out, err := anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String(tc.role), RoleSessionName: aws.String("web"), WebIdentityToken: aws.String(tok),
			})
			if code(err) != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if err == nil && *out.SubjectFromWebIdentityToken != tc.claims.Subject {
				t.Fatalf("subject %q", *out.SubjectFromWebIdentityToken)
			}
		})
	}
	t.Run("forged signature", func(t *testing.T) {
		tok := must(stranger.Token(awstest.TokenClaims{Subject: "system:serviceaccount:team-a:app", Audience: []string{awstest.STSAudience}}))(t)
		// A token of the stranger's key claiming the trusted issuer.
		head, rest, _ := strings.Cut(tok, ".")
		_, sig, _ := strings.Cut(rest, ".")
		good := must(iss.Token(awstest.TokenClaims{Subject: "system:serviceaccount:team-a:app", Audience: []string{awstest.STSAudience}}))(t)
		_, goodRest, _ := strings.Cut(good, ".")
		payload, _, _ := strings.Cut(goodRest, ".")
		_, err := anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(role), RoleSessionName: aws.String("web"), WebIdentityToken: aws.String(head + "." + payload + "." + sig),
		})
		if code(err) != "InvalidIdentityToken" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestFaults(t *testing.T) {
	s, cfg := start(t, awstest.Options{})
	ctx := context.Background()
	p := ssm.NewFromConfig(cfg)
	must(p.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/x"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString}))(t)
	get := func() error {
		_, err := p.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
		return err
	}
	t.Run("every third call, twice", func(t *testing.T) {
		remove := s.Inject(awstest.Fault{Service: awstest.SSM, Action: "GetParameter", Kind: awstest.Throttle, Every: 3, Limit: 2})
		defer remove()
		var got []string
		for range 10 {
			got = append(got, code(get()))
		}
		want := []string{"", "", "ThrottlingException", "", "", "ThrottlingException", "", "", "", ""}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("window", func(t *testing.T) {
		now := time.Now()
		defer s.Inject(awstest.Fault{Kind: awstest.Throttle, From: now.Add(-time.Hour), Until: now.Add(-time.Minute)})()
		if err := get(); err != nil {
			t.Fatalf("a window that ended: %v", err)
		}
		defer s.Inject(awstest.Fault{Kind: awstest.Throttle, From: now.Add(-time.Minute), Until: now.Add(time.Hour)})()
		if err := get(); code(err) != "ThrottlingException" {
			t.Fatalf("inside the window: %v", err)
		}
	})
	t.Run("other actions pass", func(t *testing.T) {
		defer s.Inject(awstest.Fault{Service: awstest.SSM, Action: "GetParameters", Kind: awstest.Unavailable})()
		if err := get(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("STS throttling", func(t *testing.T) {
		defer s.Inject(awstest.Fault{Service: awstest.STS, Kind: awstest.Throttle})()
		_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if code(err) != "Throttling" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		defer s.Inject(awstest.Fault{Kind: awstest.InternalError, Limit: 1})()
		if err := get(); code(err) != "InternalServerError" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		defer s.Inject(awstest.Fault{Kind: awstest.Reset, Limit: 1})()
		if err := get(); err == nil || code(err) == "" {
			t.Fatalf("got %v, want a transport error", err)
		}
	})
	t.Run("connection refused until up", func(t *testing.T) {
		if err := s.Down(); err != nil {
			t.Fatal(err)
		}
		err := get()
		var op *net.OpError
		if !errors.As(err, &op) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("got %v, want connection refused", err)
		}
		if err := s.Up(); err != nil {
			t.Fatal(err)
		}
		if err := get(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("counts", func(t *testing.T) {
		s.ResetCalls()
		_ = get()
		_ = get()
		calls := s.Calls()
		k := awstest.Call{Service: awstest.SSM, Action: "GetParameter", Caller: s.UserARN("admin")}
		if calls[k] != 2 || s.Count(awstest.SSM, "GetParameter") != 2 || s.Count(awstest.SSM, "") != 2 || len(calls) != 1 {
			t.Fatalf("calls %v", calls)
		}
	})
}
