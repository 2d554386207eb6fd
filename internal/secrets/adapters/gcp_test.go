package adapters

import "testing"

func TestGcpAccountDouble(t *testing.T) {
	b := newBench(t)
	b.install("gcloud")
	b.setState("gcloud-in", true)
	got, err := b.fetch("gcp", Request{Names: []string{"db"}, Account: "me@example.com|sa1@p.iam.gserviceaccount.com,sa2@p.iam.gserviceaccount.com"})
	wantSecrets(t, got, err, "default/db=pw")
	if !b.called("gcloud [secrets] [versions] [access] [latest] [--secret=db] [--account=me@example.com] [--impersonate-service-account=sa1@p.iam.gserviceaccount.com,sa2@p.iam.gserviceaccount.com] [--format=json]") {
		t.Errorf("calls %q", b.calls())
	}
	got, err = b.fetch("gcp", Request{Names: []string{"proj/db/7"}, Account: "default"})
	wantSecrets(t, got, err, "proj/db=pw")
	if !b.called("gcloud [secrets] [versions] [access] [7] [--secret=db] [--project=proj] [--format=json]") {
		t.Errorf("calls %q", b.calls())
	}
	_, err = b.fetch("gcp", Request{Names: []string{"a/b/c/d"}, Account: "default"})
	wantErr(t, err, []string{"expected [project/]name[/version]"})
}
