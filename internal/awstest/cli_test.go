package awstest_test

// TestAWSCLI proves the server's fidelity with a client nobody here wrote:
// Debian's awscli, the AWS CLI v2 on botocore, installed by hack/tools.sh.
// It seeds and reads the server with the CLI and checks that
// aws-sdk-go-v2 sees the same, and the other way round. The CLI runs with
// an environment of its own: no config or credentials files, no instance
// metadata, no retries, no network but the server. Debian's awscli 2.9
// predates BatchGetSecretValue; sdk_test.go covers it with the SDK.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// awsCLI runs Debian's aws against a server.
type awsCLI struct {
	t        *testing.T
	bin, url string
	env      []string
}

func newAWSCLI(t *testing.T, s *awstest.Server, c awstest.Credentials) *awsCLI {
	bin := testkit.Tool(t, "awscli", "aws")
	home := t.TempDir()
	empty := filepath.Join(home, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + home, "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
		"AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
		"AWS_DEFAULT_REGION=" + s.Region(), "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_RETRY_MODE=standard", "AWS_MAX_ATTEMPTS=1",
	}
	if c.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+c.SessionToken)
	}
	return &awsCLI{t: t, bin: bin, url: s.URL(), env: env}
}

// run returns what the CLI printed, and its error with stderr.
func (c *awsCLI) run(args ...string) ([]byte, error) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append([]string{"--endpoint-url", c.url, "--output", "json"}, args...)...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.New(strings.TrimSpace(stderr.String()) + " (" + err.Error() + ")")
	}
	return stdout.Bytes(), nil
}

// json runs the CLI and decodes its JSON output into v (nil: no output
// expected).
func (c *awsCLI) json(v any, args ...string) {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(out, v); err != nil {
		c.t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), out, err)
	}
}

// fails runs the CLI and requires it to fail naming code.
func (c *awsCLI) fails(code string, args ...string) {
	c.t.Helper()
	_, err := c.run(args...)
	if err == nil || !strings.Contains(err.Error(), "("+code+")") {
		c.t.Fatalf("aws %s: %v, want an error %s", strings.Join(args, " "), err, code)
	}
}

func TestAWSCLI(t *testing.T) {
	s, cfg := start(t, awstest.Options{})
	ctx := context.Background()
	cliCreds := awstest.Credentials{AccessKeyID: "AKIACLITEST000000001", SecretAccessKey: "cli+secret/0123456789abcdefghijklmnopqrs"}
	if err := s.AddAccessKey(awstest.User{Name: "cli", Policy: awstest.AllowAll}, cliCreds); err != nil {
		t.Fatal(err)
	}
	cli := newAWSCLI(t, s, cliCreds)
	sm := secretsmanager.NewFromConfig(cfg)
	p := ssm.NewFromConfig(cfg)

	t.Run("secrets manager", func(t *testing.T) {
		cli.t = t
		var created struct{ ARN, Name, VersionId string }
		cli.json(&created, "secretsmanager", "create-secret", "--name", "cli/db", "--secret-string", `{"user":"admin","pass":"p1"}`,
			"--tags", "Key=team,Value=a", "--description", "from the CLI")
		var put struct {
			VersionId     string
			VersionStages []string
		}
		cli.json(&put, "secretsmanager", "put-secret-value", "--secret-id", "cli/db", "--secret-string", `{"user":"admin","pass":"p2"}`)
		cli.json(nil, "secretsmanager", "tag-resource", "--secret-id", created.ARN, "--tags", "Key=env,Value=prod")

		// The SDK sees what the CLI wrote.
		cur := must(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("cli/db")}))(t)
		prev := must(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("cli/db"), VersionStage: aws.String(awstest.StagePrevious)}))(t)
		if *cur.SecretString != `{"user":"admin","pass":"p2"}` || *cur.VersionId != put.VersionId || *prev.VersionId != created.VersionId || *cur.ARN != created.ARN {
			t.Fatalf("SDK reads current %s %q, previous %s; CLI wrote %+v then %+v", *cur.VersionId, *cur.SecretString, *prev.VersionId, created, put)
		}
		d := must(sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("cli/db")}))(t)
		var tags []string
		for _, tg := range d.Tags {
			tags = append(tags, *tg.Key+"="+*tg.Value)
		}
		if !slices.Equal(tags, []string{"team=a", "env=prod"}) || *d.Description != "from the CLI" {
			t.Fatalf("SDK sees tags %v, description %q", tags, *d.Description)
		}

		// The CLI sees what it wrote as the SDK does, by stage and by ID.
		var got struct {
			SecretString, VersionId string
			VersionStages           []string
		}
		cli.json(&got, "secretsmanager", "get-secret-value", "--secret-id", "cli/db", "--version-stage", "AWSPREVIOUS")
		if got.SecretString != *prev.SecretString || got.VersionId != *prev.VersionId || !slices.Equal(got.VersionStages, prev.VersionStages) {
			t.Fatalf("CLI reads AWSPREVIOUS as %+v, SDK as %q %s", got, *prev.SecretString, *prev.VersionId)
		}
		cli.json(&got, "secretsmanager", "get-secret-value", "--secret-id", "cli/db", "--version-id", created.VersionId)
		if got.VersionId != created.VersionId {
			t.Fatalf("CLI reads version %s by ID %s", got.VersionId, created.VersionId)
		}

		// Binary: the CLI sends raw bytes from a file, both read them back.
		bin := []byte{0, 1, 2, 0xfe, 0xff, '\n'}
		file := filepath.Join(t.TempDir(), "bin")
		if err := os.WriteFile(file, bin, 0o600); err != nil {
			t.Fatal(err)
		}
		cli.json(nil, "secretsmanager", "create-secret", "--name", "cli/bin", "--secret-binary", "fileb://"+file)
		sdkBin := must(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("cli/bin")}))(t).SecretBinary
		var cliBin struct{ SecretBinary string }
		cli.json(&cliBin, "secretsmanager", "get-secret-value", "--secret-id", "cli/bin")
		if !bytes.Equal(sdkBin, bin) || cliBin.SecretBinary != base64.StdEncoding.EncodeToString(bin) {
			t.Fatalf("binary: SDK reads %x, CLI prints %q, wrote %x", sdkBin, cliBin.SecretBinary, bin)
		}

		// The CLI sees what the SDK wrote.
		must(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("sdk/api"), SecretString: aws.String("from the SDK"),
			Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("b")}}}))(t)
		cli.json(&got, "secretsmanager", "get-secret-value", "--secret-id", "sdk/api")
		if got.SecretString != "from the SDK" {
			t.Fatalf("CLI reads %q", got.SecretString)
		}

		// Both list the same.
		var listed struct{ SecretList []struct{ Name string } }
		cli.json(&listed, "secretsmanager", "list-secrets", "--filters", "Key=tag-key,Values=team", "Key=tag-value,Values=a")
		sdkList := must(sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{
			{Key: smtypes.FilterNameStringTypeTagKey, Values: []string{"team"}}, {Key: smtypes.FilterNameStringTypeTagValue, Values: []string{"a"}},
		}}))(t)
		if len(listed.SecretList) != 1 || len(sdkList.SecretList) != 1 || listed.SecretList[0].Name != *sdkList.SecretList[0].Name || listed.SecretList[0].Name != "cli/db" {
			t.Fatalf("CLI lists %+v, SDK %d", listed, len(sdkList.SecretList))
		}

		cli.fails("ResourceNotFoundException", "secretsmanager", "get-secret-value", "--secret-id", "cli/nope")
		cli.json(nil, "secretsmanager", "delete-secret", "--secret-id", "sdk/api", "--recovery-window-in-days", "7")
		cli.fails("InvalidRequestException", "secretsmanager", "get-secret-value", "--secret-id", "sdk/api")
		if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("sdk/api")}); code(err) != "InvalidRequestException" {
			t.Fatalf("SDK after the CLI deleted: %v", err)
		}
	})

	t.Run("parameter store", func(t *testing.T) {
		cli.t = t
		cli.json(nil, "ssm", "put-parameter", "--name", "/cli/db/pass", "--value", "p1", "--type", "SecureString", "--tags", "Key=team,Value=a")
		cli.json(nil, "ssm", "put-parameter", "--name", "/cli/db/pass", "--value", "p2", "--overwrite")
		cli.json(nil, "ssm", "put-parameter", "--name", "/cli/db/user", "--value", "admin", "--type", "String")
		var labelled struct {
			InvalidLabels    []string
			ParameterVersion int64
		}
		cli.json(&labelled, "ssm", "label-parameter-version", "--name", "/cli/db/pass", "--parameter-version", "1", "--labels", "stable")
		if labelled.ParameterVersion != 1 || len(labelled.InvalidLabels) != 0 {
			t.Fatalf("label: %+v", labelled)
		}
		sdk := must(p.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/cli/db/pass:stable"), WithDecryption: aws.Bool(true)}))(t).Parameter
		var got struct {
			Parameter struct {
				Name, Value, Selector, ARN string
				Version                    int64
			}
		}
		cli.json(&got, "ssm", "get-parameter", "--name", "/cli/db/pass:stable", "--with-decryption")
		if got.Parameter.Value != "p1" || *sdk.Value != "p1" || got.Parameter.Version != sdk.Version || got.Parameter.Selector != *sdk.Selector || got.Parameter.ARN != *sdk.ARN {
			t.Fatalf("CLI reads %+v, SDK %q version %d", got.Parameter, *sdk.Value, sdk.Version)
		}
		var byPath struct {
			Parameters []struct{ Name, Value string }
		}
		cli.json(&byPath, "ssm", "get-parameters-by-path", "--path", "/cli", "--recursive", "--with-decryption")
		sdkPath := must(p.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/cli"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true)}))(t)
		var cliNames, sdkNames []string
		for _, x := range byPath.Parameters {
			cliNames = append(cliNames, x.Name+"="+x.Value)
		}
		for _, x := range sdkPath.Parameters {
			sdkNames = append(sdkNames, *x.Name+"="+*x.Value)
		}
		if !slices.Equal(cliNames, sdkNames) || !slices.Equal(cliNames, []string{"/cli/db/pass=p2", "/cli/db/user=admin"}) {
			t.Fatalf("by path: CLI %v, SDK %v", cliNames, sdkNames)
		}
		cli.fails("ParameterNotFound", "ssm", "get-parameter", "--name", "/cli/nope")
		cli.fails("ParameterAlreadyExists", "ssm", "put-parameter", "--name", "/cli/db/user", "--value", "x", "--type", "String")
	})

	t.Run("sts", func(t *testing.T) {
		cli.t = t
		var who struct{ Arn, UserId, Account string }
		cli.json(&who, "sts", "get-caller-identity")
		if who.Arn != s.UserARN("cli") || who.Account != s.Account() {
			t.Fatalf("caller %+v", who)
		}
		role := s.AddRole(awstest.Role{Name: "cli-role", Policy: awstest.AllowAll, TrustedPrincipals: []string{s.UserARN("cli")}, ExternalID: "ext-7", AllowTagSession: true})
		var assumed struct {
			Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
			AssumedRoleUser struct{ Arn string }
		}
		cli.json(&assumed, "sts", "assume-role", "--role-arn", role, "--role-session-name", "from-cli", "--external-id", "ext-7",
			"--tags", "Key=team,Value=a", "--transitive-tag-keys", "team")
		cli.fails("AccessDenied", "sts", "assume-role", "--role-arn", role, "--role-session-name", "from-cli")
		sess := awstest.Credentials{AccessKeyID: assumed.Credentials.AccessKeyId, SecretAccessKey: assumed.Credentials.SecretAccessKey, SessionToken: assumed.Credentials.SessionToken}
		sessions := s.Sessions()
		if last := sessions[len(sessions)-1]; last.ExternalID != "ext-7" || last.Tags["team"] != "a" || last.ARN != assumed.AssumedRoleUser.Arn {
			t.Fatalf("session %+v", last)
		}
		// The session signs for the CLI and for the SDK alike.
		var sessWho struct{ Arn string }
		newAWSCLI(t, s, sess).json(&sessWho, "sts", "get-caller-identity")
		sdkWho := must(sts.NewFromConfig(clientConfig(s, sess)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))(t)
		if sessWho.Arn != assumed.AssumedRoleUser.Arn || *sdkWho.Arn != sessWho.Arn {
			t.Fatalf("session is %q to the CLI, %q to the SDK, want %q", sessWho.Arn, *sdkWho.Arn, assumed.AssumedRoleUser.Arn)
		}
	})

	t.Run("botocore's signature is checked, not trusted", func(t *testing.T) {
		bad := cliCreds
		bad.SecretAccessKey = "wrong" + bad.SecretAccessKey[5:]
		wrong := newAWSCLI(t, s, bad)
		wrong.fails("InvalidSignatureException", "secretsmanager", "get-secret-value", "--secret-id", "cli/db")
		wrong.fails("SignatureDoesNotMatch", "sts", "get-caller-identity")
		unknown := newAWSCLI(t, s, awstest.Credentials{AccessKeyID: "AKIAUNKNOWN000000001", SecretAccessKey: "x"})
		unknown.fails("UnrecognizedClientException", "ssm", "get-parameter", "--name", "/cli/db/user")
	})
}
