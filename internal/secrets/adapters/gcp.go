package adapters

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
)

// gcp reads Google Secret Manager with `gcloud`. Names are
// [project/]name[/version] (project "default" is gcloud's configured one,
// version defaults to "latest"); results are keyed project/name. --account
// is USER or USER|SA[,SA...] to impersonate service accounts, where USER
// "default" means gcloud's active account.
type gcp struct{}

var gcloudTool = tool{
	prog:    "gcloud",
	product: "the Google Cloud CLI",
	install: "install it from https://cloud.google.com/sdk/docs/install (Google's apt repository has google-cloud-cli; `brew install --cask google-cloud-sdk`)",
}

func (gcp) Name() string          { return "gcp" }
func (gcp) RequiresAccount() bool { return true }

func (a gcp) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	gcloud, err := r.open(a.Name(), gcloudTool)
	if err != nil {
		return nil, err
	}
	if err := a.login(ctx, gcloud); err != nil {
		return nil, err
	}
	user, impersonate, _ := strings.Cut(req.Account, "|")
	out := NewSecrets()
	for _, name := range prefixed(req.Names, req.From) {
		project, secret, version, err := gcpName(name)
		if err != nil {
			return nil, err
		}
		args := []string{"secrets", "versions", "access", version, "--secret=" + secret}
		if project != "default" {
			args = append(args, "--project="+project)
		}
		if user != "default" && user != "" {
			args = append(args, "--account="+user)
		}
		if impersonate != "" {
			args = append(args, "--impersonate-service-account="+impersonate)
		}
		args = append(args, "--format=json")
		data, err := gcloud.out(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s from Google Secret Manager: %w", project, secret, err)
		}
		var v struct {
			Payload struct {
				Data string `json:"data"`
			} `json:"payload"`
		}
		if err := decode(data, &v, "gcloud secrets versions access"); err != nil {
			return nil, err
		}
		value, err := base64.StdEncoding.DecodeString(v.Payload.Data)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s from Google Secret Manager: the payload is not base64", project, secret)
		}
		out.Set(project+"/"+secret, string(value))
	}
	return out, nil
}

// gcpName splits [project/]name[/version].
func gcpName(name string) (project, secret, version string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) == 1 {
		parts = append([]string{"default"}, parts...)
	}
	if len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("fetch %s from Google Secret Manager: expected [project/]name[/version]", name)
	}
	version = "latest"
	if len(parts) == 3 {
		version = parts[2]
	}
	// The version is a positional argument: only accept what gcloud
	// would, so that it cannot be taken for an option.
	if version != "latest" && strings.Trim(version, "0123456789") != "" {
		return "", "", "", fmt.Errorf("fetch %s from Google Secret Manager: version %q is neither latest nor a number", name, version)
	}
	return parts[0], parts[1], version, nil
}

// login runs `gcloud auth login` (a browser flow) when gcloud knows no
// account at all; impersonation and --account pick among known ones.
func (gcp) login(ctx context.Context, gcloud *cli) error {
	known := func() bool {
		out, err := gcloud.do(ctx, call{args: []string{"auth", "list", "--format=json"}, quiet: true})
		if err != nil {
			return false
		}
		var accounts []map[string]any
		return decode(out, &accounts, "gcloud auth list") == nil && len(accounts) > 0
	}
	if known() {
		return nil
	}
	if _, err := gcloud.out(ctx, "auth", "login"); err != nil {
		return fmt.Errorf("log in to Google Cloud (run `gcloud auth login` to see why): %w", err)
	}
	if !known() {
		return fmt.Errorf("log in to Google Cloud: gcloud still lists no account; run `gcloud auth login`")
	}
	return nil
}
