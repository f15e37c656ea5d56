package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/providers"
)

// checkLikeGetSecret requires that every result of a batch is what
// GetSecret answers for its ref, value or error class.
func checkLikeGetSecret(t *testing.T, c providers.Client, refs []esv1.ExternalSecretDataRemoteRef, results []providers.Result) {
	t.Helper()
	if len(results) != len(refs) {
		t.Fatalf("%d results for %d refs", len(results), len(refs))
	}
	for i, ref := range refs {
		want, werr := c.GetSecret(context.Background(), ref)
		got := results[i]
		switch {
		case werr == nil && (got.Err != nil || string(got.Value) != string(want)):
			t.Errorf("ref %d %+v: batch %q, %v; GetSecret %q", i, ref, got.Value, got.Err, want)
		case werr != nil && got.Err == nil:
			t.Errorf("ref %d %+v: batch %q; GetSecret failed: %v", i, ref, got.Value, werr)
		case werr != nil && errors.Is(werr, providers.ErrSecretNotFound) != errors.Is(got.Err, providers.ErrSecretNotFound):
			t.Errorf("ref %d %+v: batch error %v; GetSecret error %v", i, ref, got.Err, werr)
		}
	}
}

// TestSecretsManagerGetSecrets reads the refs of many ExternalSecrets
// (tenant input) in batches, every error mapped back to its ref.
func TestSecretsManagerGetSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 45 {
		e.secret(t, fmt.Sprintf("s/%02d", i), fmt.Sprintf(`{"n":%d}`, i))
	}
	if _, err := e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: awssdk.String("s/00"), SecretString: awssdk.String(`{"n":"new"}`)}); err != nil {
		t.Fatal(err)
	}
	e.secret(t, "gone", "g")
	if _, err := e.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: awssdk.String("gone")}); err != nil {
		t.Fatal(err)
	}
	e.secret(t, "private/x", "p")
	e.secret(t, "plain", "text", "team", "a")
	policy := awstest.Policy{
		{Actions: []string{"secretsmanager:BatchGetSecretValue"}, Resources: []string{"*"}},
		{Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, Resources: []string{"arn:aws:secretsmanager:*:*:secret:s/*", "arn:aws:secretsmanager:*:*:secret:gone-*", "arn:aws:secretsmanager:*:*:secret:nope", "arn:aws:secretsmanager:*:*:secret:plain-*"}},
	}
	var refs []esv1.ExternalSecretDataRemoteRef
	for i := range 45 {
		// Two refs per secret, as ExternalSecrets reading two keys.
		refs = append(refs, ref(fmt.Sprintf("s/%02d", i)), esv1.ExternalSecretDataRemoteRef{Key: fmt.Sprintf("s/%02d", i), Property: "n"})
	}
	refs = append(refs,
		ref("nope"), ref("gone"), ref("private/x"), ref("plain"),
		esv1.ExternalSecretDataRemoteRef{Key: "plain", Property: "x"},
		esv1.ExternalSecretDataRemoteRef{Key: "s/00", Version: "AWSPREVIOUS", Property: "n"},
		esv1.ExternalSecretDataRemoteRef{Key: "s/00", Version: "AWSCURRENT"},
		esv1.ExternalSecretDataRemoteRef{Key: "plain", MetadataPolicy: esv1.ExternalSecretMetadataPolicyFetch, Property: "team"},
	)

	t.Run("batched", func(t *testing.T) {
		kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, policy)
		c := e.client(t, kube, spec)
		e.srv.ResetCalls()
		results := c.(providers.BatchGetter).GetSecrets(ctx, refs)
		// 49 distinct current secrets: 3 calls; AWSPREVIOUS and the tags
		// one by one.
		if b, g, d := e.srv.Count(awstest.SecretsManager, "BatchGetSecretValue"), e.srv.Count(awstest.SecretsManager, "GetSecretValue"), e.srv.Count(awstest.SecretsManager, "DescribeSecret"); b != 3 || g != 1 || d != 1 {
			t.Fatalf("BatchGetSecretValue %d, GetSecretValue %d, DescribeSecret %d; want 3, 1, 1", b, g, d)
		}
		if r := results[90+2]; r.Err == nil || !strings.Contains(r.Err.Error(), "AccessDeniedException") {
			t.Errorf("private/x: %v, want AccessDeniedException", r.Err)
		}
		if r := results[1]; string(r.Value) != "new" {
			t.Errorf("s/00 property n = %q", r.Value)
		}
		checkLikeGetSecret(t, c, refs, results)
	})
	t.Run("without the batch permission, one by one", func(t *testing.T) {
		kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, policy[1:])
		c := e.client(t, kube, spec)
		e.srv.ResetCalls()
		results := c.(providers.BatchGetter).GetSecrets(ctx, refs)
		checkLikeGetSecret(t, c, refs, results)
		// One refused batch, then never again for this client.
		c.(providers.BatchGetter).GetSecrets(ctx, refs[:40])
		if b := e.srv.Count(awstest.SecretsManager, "BatchGetSecretValue"); b != 1 {
			t.Fatalf("%d BatchGetSecretValue calls, want the one refused", b)
		}
	})
}

// TestParameterStoreGetSecrets reads parameters in any version, 10 a call;
// a name the store may not read fails alone.
func TestParameterStoreGetSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 23 {
		e.param(t, fmt.Sprintf("/p/%02d", i), fmt.Sprintf(`{"n":%d}`, i), "team", "a")
	}
	e.param(t, "/p/00", `{"n":"two"}`)
	if _, err := e.ssm.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: awssdk.String("/p/00"), ParameterVersion: awssdk.Int64(1), Labels: []string{"old"}}); err != nil {
		t.Fatal(err)
	}
	e.param(t, "/private/x", "p", "team", "b")
	var refs []esv1.ExternalSecretDataRemoteRef
	for i := range 23 {
		refs = append(refs, esv1.ExternalSecretDataRemoteRef{Key: fmt.Sprintf("/p/%02d", i), Property: "n"})
	}
	refs = append(refs,
		esv1.ExternalSecretDataRemoteRef{Key: "/p/00", Version: "1"},
		esv1.ExternalSecretDataRemoteRef{Key: "/p/00", Version: "old", Property: "n"},
		esv1.ExternalSecretDataRemoteRef{Key: "/p/00", Version: "9"},
		ref("/p/nope"),
		esv1.ExternalSecretDataRemoteRef{Key: "/p/01", MetadataPolicy: esv1.ExternalSecretMetadataPolicyFetch},
	)
	kube, spec := e.keys(t, esv1.AWSServiceParameterStore, awstest.Allow([]string{"ssm:GetParameter*", "ssm:ListTagsForResource"}, "arn:aws:ssm:*:*:parameter/p/*"))
	c := e.client(t, kube, spec)
	e.srv.ResetCalls()
	results := c.(providers.BatchGetter).GetSecrets(ctx, refs)
	if n := e.srv.Count(awstest.SSM, "GetParameters"); n != 3 {
		t.Fatalf("%d GetParameters calls for 27 names, want 3", n)
	}
	checkLikeGetSecret(t, c, refs, results)

	t.Run("a denied name fails alone", func(t *testing.T) {
		mixed := []esv1.ExternalSecretDataRemoteRef{ref("/p/01"), ref("/private/x"), ref("/p/02")}
		results := c.(providers.BatchGetter).GetSecrets(ctx, mixed)
		if results[0].Err != nil || results[2].Err != nil || results[1].Err == nil || !strings.Contains(results[1].Err.Error(), "AccessDeniedException") {
			t.Fatalf("results %+v", results)
		}
	})
}

// TestThrottlingStormLosesNothing: 200 secrets read through two refs each,
// as 400 ExternalSecret keys, while AWS throttles (the operator's side).
// Every ref gets its value; none is dropped, none is mixed up.
func TestThrottlingStormLosesNothing(t *testing.T) {
	e := newEnv(t)
	for i := range 200 {
		e.secret(t, fmt.Sprintf("storm/%03d", i), fmt.Sprintf(`{"user":"u%d","pass":"p%d"}`, i, i))
	}
	var refs []esv1.ExternalSecretDataRemoteRef
	for i := range 200 {
		key := fmt.Sprintf("storm/%03d", i)
		refs = append(refs, esv1.ExternalSecretDataRemoteRef{Key: key, Property: "user"}, esv1.ExternalSecretDataRemoteRef{Key: key, Property: "pass"})
	}
	// check requires the values of the first len(asked) refs.
	check := func(t *testing.T, asked []esv1.ExternalSecretDataRemoteRef, results []providers.Result) {
		t.Helper()
		if len(results) != len(asked) {
			t.Fatalf("%d results for %d refs", len(results), len(asked))
		}
		for i, r := range results {
			want := fmt.Sprintf("u%d", i/2)
			if i%2 == 1 {
				want = fmt.Sprintf("p%d", i/2)
			}
			if r.Err != nil || string(r.Value) != want {
				t.Fatalf("ref %d: %q, %v; want %q", i, r.Value, r.Err, want)
			}
		}
	}
	kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, awstest.AllowAll)
	for _, tc := range []struct {
		name  string
		fault awstest.Fault
	}{
		{"every other call", awstest.Fault{Every: 2}},
		{"longer than the SDK's attempts: our rounds carry on", awstest.Fault{Limit: 3*defaultMaxAttempts + 1}},
		{"every call for a while, 5xx among them", awstest.Fault{Kind: awstest.Unavailable, Limit: 2*defaultMaxAttempts + 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t, kube, spec)
			f := tc.fault
			f.Service, f.Action = awstest.SecretsManager, "BatchGetSecretValue"
			defer e.srv.Inject(f)()
			e.srv.ResetCalls()
			check(t, refs, c.(providers.BatchGetter).GetSecrets(context.Background(), refs))
			if ok := e.srv.Calls()[awstest.Call{Service: awstest.SecretsManager, Action: "BatchGetSecretValue", Caller: e.srv.UserARN("user-" + t.Name()[:strings.Index(t.Name(), "/")])}]; ok != 10 {
				t.Fatalf("%d successful BatchGetSecretValue calls for 200 secrets, want 10", ok)
			}
		})
	}
	t.Run("a storm that outlasts every retry fails every ref, loudly", func(t *testing.T) {
		c := e.client(t, kube, spec)
		defer e.srv.Inject(awstest.Fault{Service: awstest.SecretsManager})()
		results := c.(providers.BatchGetter).GetSecrets(context.Background(), refs[:60])
		if len(results) != 60 {
			t.Fatalf("%d results", len(results))
		}
		for i, r := range results {
			if r.Err == nil || !strings.Contains(r.Err.Error(), "ThrottlingException") || errors.Is(r.Err, providers.ErrSecretNotFound) {
				t.Fatalf("ref %d: %q, %v; want a throttling error, not a value and not \"not found\"", i, r.Value, r.Err)
			}
		}
	})
	t.Run("connections refused until AWS is back", func(t *testing.T) {
		c := e.client(t, kube, spec).(*secretsManager)
		if err := e.srv.Down(); err != nil {
			t.Fatal(err)
		}
		// The outage ends while the batch waits for its next round.
		waited := false
		c.batchBackoff = func(int) time.Duration {
			waited = true
			if err := e.srv.Up(); err != nil {
				t.Error(err)
			}
			return time.Millisecond
		}
		check(t, refs, c.GetSecrets(context.Background(), refs))
		if !waited {
			t.Fatal("the outage was not noticed")
		}
	})
	t.Run("with the SDK's own backoff", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits the SDK's real backoff, about a second")
		}
		e.provider.retryBackoff = nil
		defer func() { e.provider.retryBackoff = fixedBackoff(time.Millisecond) }()
		c := e.client(t, kube, spec)
		defer e.srv.Inject(awstest.Fault{Service: awstest.SecretsManager, Action: "BatchGetSecretValue", Every: 2, Limit: 2})()
		check(t, refs[:80], c.(providers.BatchGetter).GetSecrets(context.Background(), refs[:80]))
	})
}

// TestParameterStoreThrottling: GetParameters and GetParametersByPath keep
// going through throttling.
func TestParameterStoreThrottling(t *testing.T) {
	e := newEnv(t)
	for i := range 30 {
		e.param(t, fmt.Sprintf("/t/%02d", i), fmt.Sprint(i), "k", "v")
	}
	kube, spec := e.keys(t, esv1.AWSServiceParameterStore, awstest.AllowAll)
	c := e.client(t, kube, spec)
	defer e.srv.Inject(awstest.Fault{Service: awstest.SSM, Every: 2})()
	var refs []esv1.ExternalSecretDataRemoteRef
	for i := range 30 {
		refs = append(refs, ref(fmt.Sprintf("/t/%02d", i)))
	}
	for i, r := range c.(providers.BatchGetter).GetSecrets(context.Background(), refs) {
		if r.Err != nil || string(r.Value) != fmt.Sprint(i) {
			t.Fatalf("ref %d: %q, %v", i, r.Value, r.Err)
		}
	}
	got, err := c.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^/t/"}})
	if err != nil || len(got) != 30 {
		t.Fatalf("find: %d, %v", len(got), err)
	}
	got, err = c.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Tags: map[string]string{"k": "v"}})
	if err != nil || len(got) != 30 {
		t.Fatalf("find by tags: %d, %v", len(got), err)
	}
}

// TestBatchTenantKeyFailsAlone: refs of many ExternalSecrets share a batch,
// and a key one tenant got wrong (tenant input: missing, malformed, of a
// length AWS refuses for the whole call) fails that ref alone.
func TestBatchTenantKeyFailsAlone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.secret(t, "good/a", "a")
	e.secret(t, "good/b", "b")
	e.param(t, "/good/a", "a")
	e.param(t, "/good/b", "b")
	for _, tc := range []struct {
		name    string
		service esv1.AWSServiceType
		prefix  string
		bad     string
		// calls are the calls the server answers, by action.
		calls map[string]int
	}{
		{"secrets manager: no such secret", esv1.AWSServiceSecretsManager, "good/", "good/nope", map[string]int{"BatchGetSecretValue": 1}},
		{"secrets manager: an ID longer than AWS takes is not sent", esv1.AWSServiceSecretsManager, "good/", strings.Repeat("x", 2049), map[string]int{"BatchGetSecretValue": 1}},
		{"secrets manager: an empty ID is not sent", esv1.AWSServiceSecretsManager, "good/", "", map[string]int{"BatchGetSecretValue": 1}},
		{"parameter store: no such parameter", esv1.AWSServiceParameterStore, "/good/", "/good/nope", map[string]int{"GetParameters": 1}},
		// AWS refuses the whole GetParameters: it is read again name by name.
		{"parameter store: a malformed name", esv1.AWSServiceParameterStore, "/good/", "/good/not a name!", map[string]int{"GetParameters": 1, "GetParameter": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kube, spec := e.keys(t, tc.service, awstest.AllowAll)
			c := e.client(t, kube, spec).(providers.BatchGetter)
			e.srv.ResetCalls()
			results := c.GetSecrets(ctx, []esv1.ExternalSecretDataRemoteRef{ref(tc.prefix + "a"), ref(tc.bad), ref(tc.prefix + "b")})
			if string(results[0].Value) != "a" || results[0].Err != nil || string(results[2].Value) != "b" || results[2].Err != nil {
				t.Fatalf("the good refs: %q %v, %q %v", results[0].Value, results[0].Err, results[2].Value, results[2].Err)
			}
			if results[1].Err == nil {
				t.Fatal("the bad ref read")
			}
			service := awstest.SecretsManager
			if tc.service == esv1.AWSServiceParameterStore {
				service = awstest.SSM
			}
			for action, want := range tc.calls {
				if n := e.srv.Count(service, action); n != want {
					t.Errorf("%d %s calls, want %d", n, action, want)
				}
			}
			if n, want := e.srv.Count(service, ""), sumCalls(tc.calls); n != want {
				t.Errorf("%d calls in all, want %d", n, want)
			}
		})
	}
}

func sumCalls(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
