package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// awsSecretsManager reads AWS Secrets Manager with the AWS CLI. Names are
// secret names or ARNs; --account is an AWS CLI profile. A secret holding a
// JSON object gives one entry per key, NAME/KEY; other values are
// stringified, as in Kamal 2.12.
type awsSecretsManager struct{}

var awsTool = tool{
	prog:    "aws",
	product: "the AWS CLI",
	install: "install it with `apt-get install awscli` or `brew install awscli`, or see https://aws.amazon.com/cli/",
}

func (awsSecretsManager) Name() string          { return "aws_secrets_manager" }
func (awsSecretsManager) RequiresAccount() bool { return false }

// awsBatch is BatchGetSecretValue's limit on SecretIdList.
const awsBatch = 20

func (a awsSecretsManager) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	names := prefixed(req.Names, req.From)
	if len(names) == 0 {
		return nil, fmt.Errorf("fetch from AWS Secrets Manager: name the secrets to read")
	}
	aws, err := r.open(a.Name(), awsTool)
	if err != nil {
		return nil, err
	}
	out := NewSecrets()
	for start := 0; start < len(names); start += awsBatch {
		batch := names[start:min(start+awsBatch, len(names))]
		values, err := a.batch(ctx, aws, batch, req.Account)
		if err != nil {
			return nil, err
		}
		for _, v := range values {
			if err := addAWSSecret(out, v); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

type awsSecretValue struct {
	Name         string  `json:"Name"`
	SecretString *string `json:"SecretString"`
}

func (awsSecretsManager) batch(ctx context.Context, aws *cli, ids []string, profile string) ([]awsSecretValue, error) {
	// The ids go in --cli-input-json rather than as words after
	// --secret-id-list, so that no id can be read as an option.
	input, err := json.Marshal(map[string][]string{"SecretIdList": ids})
	if err != nil {
		return nil, fmt.Errorf("encode secret ids: %w", err)
	}
	args := []string{"secretsmanager", "batch-get-secret-value", "--cli-input-json", string(input), "--output", "json"}
	if profile != "" {
		args = append(args, "--profile="+profile)
	}
	data, err := aws.out(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s from AWS Secrets Manager: %w%s", strings.Join(ids, ", "), err, awsHint(err))
	}
	var resp struct {
		SecretValues []awsSecretValue `json:"SecretValues"`
		Errors       []struct {
			SecretID  string `json:"SecretId"`
			ErrorCode string `json:"ErrorCode"`
			Message   string `json:"Message"`
		} `json:"Errors"`
	}
	if err := decode(data, &resp, "aws secretsmanager batch-get-secret-value"); err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 {
		msgs := make([]string, len(resp.Errors))
		for i, e := range resp.Errors {
			msgs[i] = fmt.Sprintf("%s: %s (%s)", e.SecretID, e.Message, e.ErrorCode)
		}
		return nil, fmt.Errorf("read from AWS Secrets Manager: %s", strings.Join(msgs, "; "))
	}
	return resp.SecretValues, nil
}

// awsHint adds the usual fix for a CLI without credentials.
func awsHint(err error) string {
	var te *ToolError
	if errors.As(err, &te) && strings.Contains(te.Stderr, "credentials") {
		return "\n  fix: configure credentials with `aws configure` or `aws sso login`, and pass the profile as --account"
	}
	return ""
}

// addAWSSecret stores one secret: a JSON object flattened one level to
// NAME/KEY, any other JSON value stringified, and a string that is not
// JSON as it is.
func addAWSSecret(out *Secrets, v awsSecretValue) error {
	if v.SecretString == nil {
		return fmt.Errorf("read %s from AWS Secrets Manager: it holds binary data (SecretBinary), which secrets files cannot use", v.Name)
	}
	s := *v.SecretString
	var raw json.RawMessage
	if json.Unmarshal([]byte(s), &raw) != nil {
		out.Set(v.Name, s)
		return nil
	}
	if obj, err := ParseObject(s); err == nil {
		for _, k := range obj.keys {
			out.Set(v.Name+"/"+k, obj.values[k])
		}
		return nil
	}
	out.Set(v.Name, stringify(raw))
	return nil
}
