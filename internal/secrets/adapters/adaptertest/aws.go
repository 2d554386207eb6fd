package adaptertest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// AWSSecretsManager is a local stand-in for AWS Secrets Manager that the
// real AWS CLI talks to (AWS_ENDPOINT_URL). It implements the one call the
// adapter makes, BatchGetSecretValue (JSON 1.1 protocol), answering from
// Secrets and reporting other ids as ResourceNotFoundException, and it
// records the access key id each request was signed with.
type AWSSecretsManager struct {
	Secrets map[string]string

	mu   sync.Mutex
	keys []string
}

// Keys returns the access key ids requests were signed with, in order.
func (s *AWSSecretsManager) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func (s *AWSSecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "secretsmanager.BatchGetSecretValue" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	auth := r.Header.Get("Authorization")
	_, cred, _ := strings.Cut(auth, "Credential=")
	key, _, _ := strings.Cut(cred, "/")
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	var req struct{ SecretIdList []string }
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"__type":"InvalidRequestException"}`, http.StatusBadRequest)
		return
	}
	type value struct {
		ARN, Name, SecretString, VersionId string
		CreatedDate                        float64
	}
	type failure struct{ SecretId, ErrorCode, Message string }
	resp := struct {
		SecretValues []value
		Errors       []failure
	}{SecretValues: []value{}, Errors: []failure{}}
	for _, id := range req.SecretIdList {
		v, ok := s.Secrets[id]
		if !ok {
			resp.Errors = append(resp.Errors, failure{id, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."})
			continue
		}
		resp.SecretValues = append(resp.SecretValues, value{"arn:aws:secretsmanager:us-east-1:1:secret:" + id, id, v, "v1", 1.7e9})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}
