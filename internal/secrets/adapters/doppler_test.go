package adapters

import "testing"

func TestDopplerDouble(t *testing.T) {
	newDoppler := func(t *testing.T, state ...string) *bench {
		b := newBench(t)
		b.install("doppler")
		for _, s := range state {
			b.setState(s, true)
		}
		return b
	}
	t.Run("project/config from --from", func(t *testing.T) {
		b := newDoppler(t, "doppler-in")
		got, err := b.fetch("doppler", Request{Names: []string{"DB", "KEY"}, From: "app/prd"})
		wantSecrets(t, got, err, "DB=d$b", "KEY=k")
		if !b.called("doppler [secrets] [get] [--json] [--project=app] [--config=prd] [--] [DB] [KEY]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("service token needs no --from", func(t *testing.T) {
		b := newDoppler(t)
		b.r.Env.Set("DOPPLER_TOKEN", "dp.st.prd.xyz")
		got, err := b.fetch("doppler", Request{Names: []string{"DB"}})
		wantSecrets(t, got, err, "DB=d$b")
	})
	t.Run("missing --from", func(t *testing.T) {
		b := newDoppler(t, "doppler-in")
		_, err := b.fetch("doppler", Request{Names: []string{"DB"}})
		wantErr(t, err, []string{"give --from PROJECT/CONFIG"})
	})
	t.Run("logs in", func(t *testing.T) {
		b := newDoppler(t, "doppler-can-login")
		got, err := b.fetch("doppler", Request{Names: []string{"DB"}, From: "app/prd"})
		wantSecrets(t, got, err, "DB=d$b")
	})
	t.Run("not signed in", func(t *testing.T) {
		b := newDoppler(t)
		_, err := b.fetch("doppler", Request{Names: []string{"DB"}, From: "app/prd"})
		wantErr(t, err, []string{"log in to Doppler", "login cancelled", "DOPPLER_TOKEN"})
	})
	t.Run("unknown secret", func(t *testing.T) {
		b := newDoppler(t, "doppler-in")
		_, err := b.fetch("doppler", Request{Names: []string{"DB", "NOPE"}, From: "app/prd"})
		wantErr(t, err, []string{"read app/prd/DB, app/prd/NOPE from Doppler", "Could not find requested secret: NOPE"})
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		b := newDoppler(t, "doppler-in")
		_, err := b.fetch("doppler", Request{Names: []string{evil}, From: "app/prd"})
		wantErr(t, err, []string{"Could not find requested secret: " + evil})
		b.noPwned()
	})
}
