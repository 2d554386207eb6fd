package adapters

import "testing"

// dopplerDouble is a test double for the Doppler CLI: `doppler me` works
// when logged in or with DOPPLER_TOKEN, and `doppler secrets get --json`
// prints {NAME: {"computed": ...}}, failing on an unknown name.
const dopplerDouble = `
authed() { [ -e "$DOUBLE_STATE/doppler-in" ] || [ -n "$DOPPLER_TOKEN" ]; }
case "$1" in
me) authed || { echo "Doppler Error: you must provide a token" >&2; exit 1; }; echo '{"name":"me"}' ;;
login) [ -e "$DOUBLE_STATE/doppler-can-login" ] || { echo "Doppler Error: login cancelled" >&2; exit 1; }; touch "$DOUBLE_STATE/doppler-in" ;;
secrets)
	authed || { echo "Doppler Error: you must provide a token" >&2; exit 1; }
	shift 3
	case "$DOPPLER_TOKEN" in
	dp.st.*) ;;
	*) [ "$1 $2" = "--project=app --config=prd" ] || { echo "Doppler Error: Could not find requested project" >&2; exit 1; }; shift 2 ;;
	esac
	[ "$1" = "--" ] || exit 2; shift
	sep=""; printf '{'
	for n in "$@"; do
		case "$n" in
		DB) printf '%s"DB":{"computed":"d$b","computedVisibility":"masked","note":""}' "$sep" ;;
		KEY) printf '%s"KEY":{"computed":"k","note":""}' "$sep" ;;
		*) echo "Doppler Error: Could not find requested secret: $n" >&2; exit 1 ;;
		esac; sep=","
	done; printf '}\n' ;;
*) exit 2 ;;
esac
`

func TestDopplerDouble(t *testing.T) {
	newDoppler := func(t *testing.T, state ...string) *bench {
		b := newBench(t)
		b.double("doppler", dopplerDouble)
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
