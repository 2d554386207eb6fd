package adapters

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/secrets/adapters/adaptertest"
)

// These tests run the vendors' real command-line tools (installed by
// scripts/install-test-deps.sh) against local stand-ins for their
// services, so that the arguments, the output format and the error
// handling are the tools' own. They are skipped where a tool is missing.

// realTool finds an installed tool, or skips the test.
func realTool(t *testing.T, prog string) string {
	t.Helper()
	return adaptertest.RealTool(t, prog)
}

// realEnv is the process environment (the tools may be shims that need
// it) with the tool's directory first on PATH and its own configuration
// pointed into a temporary directory.
func realEnv(t *testing.T, tool string, set map[string]string, unsetPrefixes ...string) *environ.Env {
	env := environ.FromOS()
	for _, kv := range env.List() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range unsetPrefixes {
			if strings.HasPrefix(k, p) {
				env.Unset(k)
			}
		}
	}
	env.Set("PATH", filepath.Dir(tool)+string(os.PathListSeparator)+env.Get("PATH"))
	for k, v := range set {
		env.Set(k, v)
	}
	return env
}

func TestAWSRealCLI(t *testing.T) {
	aws := realTool(t, "aws")
	stand := &adaptertest.AWSSecretsManager{Secrets: map[string]string{
		"app/db":     `{"password":"p\"w","port":5432,"opts":{"ssl":true}}`,
		"app/plain":  "not-json $x",
		"app/number": "42",
		evil:         "evil-value",
	}}
	srv := httptest.NewServer(stand)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile deploy]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"AWS_ENDPOINT_URL":            srv.URL,
		"AWS_CONFIG_FILE":             cfg,
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_DEFAULT_REGION":          "us-east-1",
	}
	withKeys := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s"}
	for k, v := range base {
		withKeys[k] = v
	}
	run := func(set map[string]string, req Request) (*Secrets, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a, _ := Lookup("aws_secrets_manager")
		return Fetch(ctx, a, &Runner{Env: realEnv(t, aws, set, "AWS_"), Dir: dir}, req)
	}

	t.Run("flattens JSON and stringifies", func(t *testing.T) {
		got, err := run(withKeys, Request{Names: []string{"db", "plain", "number"}, From: "app"})
		wantSecrets(t, got, err, `app/db/password=p"w`, "app/db/port=5432", `app/db/opts={"ssl":true}`, "app/plain=not-json $x", "app/number=42")
	})
	t.Run("--account is the profile", func(t *testing.T) {
		got, err := run(base, Request{Names: []string{"app/plain"}, Account: "deploy"})
		wantSecrets(t, got, err, "app/plain=not-json $x")
		keys := stand.Keys()
		last := keys[len(keys)-1]
		if last != "AKIDPROFILE" {
			t.Errorf("signed with %q, want the deploy profile's key", last)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		_, err := run(base, Request{Names: []string{"app/plain"}})
		wantErr(t, err, []string{"read app/plain from AWS Secrets Manager", "Unable to locate credentials", "aws configure"})
	})
	t.Run("unknown secret", func(t *testing.T) {
		_, err := run(withKeys, Request{Names: []string{"app/plain", "app/nope"}})
		wantErr(t, err, []string{"app/nope: Secrets Manager can't find the specified secret. (ResourceNotFoundException)"}, "not-json")
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		got, err := run(withKeys, Request{Names: []string{evil}})
		wantSecrets(t, got, err, evil+"=evil-value")
		if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
			t.Fatal("a shell ran part of the name")
		}
	})
}

func TestSopsRealCLI(t *testing.T) {
	sopsBin := realTool(t, "sops")
	dir := t.TempDir()
	keyFile, recipient := adaptertest.AgeKey(t, realTool(t, "age-keygen"), dir)
	files := map[string]string{
		"secrets.yaml": "database:\n  password: \"p'w\\\"$x\"\n  port: 5432\napi_key: xyz\n",
		"secrets.env":  "DB_PASSWORD=env-pw\nAPI_KEY=env-key\n",
		"secrets.json": `{"token":"t","nested":{"a":{"b":"deep"}}}`,
	}
	env := realEnv(t, sopsBin, map[string]string{"SOPS_AGE_KEY_FILE": keyFile}, "SOPS_")
	for name, text := range files {
		adaptertest.SopsEncrypt(t, sopsBin, env.List(), recipient, filepath.Join(dir, name), text)
	}
	run := func(env *environ.Env, req Request) (*Secrets, error) {
		a, _ := Lookup("sops")
		return Fetch(context.Background(), a, &Runner{Env: env, Dir: dir}, req)
	}
	t.Run("yaml, all and selected", func(t *testing.T) {
		got, err := run(env, Request{From: "secrets.yaml"})
		wantSecrets(t, got, err, `database/password=p'w"$x`, "database/port=5432", "api_key=xyz")
		got, err = run(env, Request{Names: []string{"database"}, From: "secrets.yaml"})
		wantSecrets(t, got, err, `database/password=p'w"$x`, "database/port=5432")
	})
	t.Run("dotenv and json", func(t *testing.T) {
		got, err := run(env, Request{Names: []string{"DB_PASSWORD"}, From: "secrets.env"})
		wantSecrets(t, got, err, "DB_PASSWORD=env-pw")
		got, err = run(env, Request{Names: []string{"nested/a"}, From: "secrets.json"})
		wantSecrets(t, got, err, "nested/a/b=deep")
	})
	t.Run("no key", func(t *testing.T) {
		noKey := realEnv(t, sopsBin, map[string]string{"SOPS_AGE_KEY_FILE": filepath.Join(dir, "absent"), "XDG_CONFIG_HOME": dir, "HOME": dir}, "SOPS_")
		_, err := run(noKey, Request{From: "secrets.yaml"})
		wantErr(t, err, []string{"decrypt secrets.yaml with sops", "SOPS_AGE_KEY_FILE"}, "xyz")
	})
	t.Run("unknown key or file", func(t *testing.T) {
		_, err := run(env, Request{Names: []string{"nope"}, From: "secrets.yaml"})
		wantErr(t, err, []string{"find nope in secrets.yaml", "api_key, database/password"}, "xyz", "p'w")
		_, err = run(env, Request{From: "absent.yaml"})
		wantErr(t, err, []string{"decrypt absent.yaml with sops"})
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		_, err := run(env, Request{Names: []string{evil}, From: "secrets.yaml"})
		wantErr(t, err, []string{"find " + evil})
		_, err = run(env, Request{From: evil})
		wantErr(t, err, []string{"decrypt " + evil})
		if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
			t.Fatal("a shell ran part of a name")
		}
	})
}

// gcpStandIn serves the OAuth token endpoint a service account key names
// and Secret Manager's versions.access, recording the paths asked for.
type gcpStandIn struct {
	mu    sync.Mutex
	paths []string
}

func (s *gcpStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/token" {
		_, _ = io.WriteString(w, `{"access_token":"tok","expires_in":3600,"token_type":"Bearer"}`)
		return
	}
	s.mu.Lock()
	s.paths = append(s.paths, r.URL.Path)
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	values := map[string]string{
		"/v1/projects/proj/secrets/db/versions/latest:access":   "db-pw",
		"/v1/projects/proj/secrets/db/versions/3:access":        "db-pw-v3",
		"/v1/projects/other/secrets/key/versions/latest:access": "k\n$x",
	}
	v, ok := values[r.URL.Path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":404,"message":"Secret [projects/1/secrets/x] not found or has no versions.","status":"NOT_FOUND"}}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"name":    strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/"), ":access"),
		"payload": map[string]string{"data": base64.StdEncoding.EncodeToString([]byte(v))},
	})
}

func TestGcloudRealCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("gcloud starts slowly")
	}
	gcloud := realTool(t, "gcloud")
	stand := &gcpStandIn{}
	srv := httptest.NewServer(stand)
	defer srv.Close()
	dir := t.TempDir()
	env := realEnv(t, gcloud, map[string]string{
		"CLOUDSDK_CONFIG":                               filepath.Join(dir, "gcloud"),
		"CLOUDSDK_CORE_DISABLE_PROMPTS":                 "1",
		"CLOUDSDK_CORE_PROJECT":                         "proj",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER": srv.URL + "/",
	}, "CLOUDSDK_", "GOOGLE_")
	run := func(req Request) (*Secrets, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		a, _ := Lookup("gcp")
		return Fetch(ctx, a, &Runner{Env: env, Dir: dir}, req)
	}

	// Before any account is known, the adapter runs `gcloud auth login`,
	// which cannot finish without a person (no input here).
	t.Run("not signed in", func(t *testing.T) {
		_, err := run(Request{Names: []string{"db"}, Account: "default"})
		wantErr(t, err, []string{"log in to Google Cloud", "gcloud auth login"})
	})

	// A service account whose key points its token endpoint at the
	// stand-in, activated with the real gcloud.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyJSON, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "proj", "private_key_id": "1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "deployer@proj.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": srv.URL + "/token",
	})
	keyFile := filepath.Join(dir, "key.json")
	if err := os.WriteFile(keyFile, keyJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	act := exec.Command(gcloud, "auth", "activate-service-account", "--key-file="+keyFile)
	act.Env = env.List()
	if out, err := act.CombinedOutput(); err != nil {
		t.Fatalf("activate service account: %v: %s", err, out)
	}

	t.Run("names, projects and versions", func(t *testing.T) {
		got, err := run(Request{Names: []string{"proj/db", "other/key"}, Account: "deployer@proj.iam.gserviceaccount.com"})
		wantSecrets(t, got, err, "proj/db=db-pw", "other/key=k\n$x")
		got, err = run(Request{Names: []string{"db/3"}, Account: "default", From: "proj"})
		wantSecrets(t, got, err, "proj/db=db-pw-v3")
	})
	t.Run("unknown secret", func(t *testing.T) {
		_, err := run(Request{Names: []string{"proj/nope"}, Account: "default"})
		wantErr(t, err, []string{"read proj/nope from Google Secret Manager", "NOT_FOUND"})
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		_, err := run(Request{Names: []string{"proj/" + evil}, Account: "default"})
		if err == nil {
			t.Fatal("no error")
		}
		if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
			t.Fatal("a shell ran part of the name")
		}
		_, err = run(Request{Names: []string{"proj/db/--project=x"}, Account: "default"})
		wantErr(t, err, []string{"neither latest nor a number"})
	})
}
