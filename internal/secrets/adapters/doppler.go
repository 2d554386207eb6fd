package adapters

import (
	"context"
	"fmt"
	"strings"
)

// doppler reads Doppler with its CLI. --from is PROJECT/CONFIG, unless
// DOPPLER_TOKEN holds a service token (dp.st...), which is already bound
// to one config. Results are keyed by the bare secret name.
type doppler struct{}

var dopplerTool = tool{
	prog:    "doppler",
	product: "the Doppler CLI",
	install: "install it with `brew install dopplerhq/cli/doppler`, from Doppler's apt repository, or see https://docs.doppler.com/docs/install-cli",
}

func (doppler) Name() string          { return "doppler" }
func (doppler) RequiresAccount() bool { return false }

func (a doppler) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	names := prefixed(req.Names, req.From)
	if len(names) == 0 {
		return nil, fmt.Errorf("fetch from Doppler: name the secrets to read")
	}
	dp, err := r.open(a.Name(), dopplerTool)
	if err != nil {
		return nil, err
	}
	if !dp.ok(ctx, "me", "--json") {
		if _, err := dp.out(ctx, "login", "-y"); err != nil {
			return nil, fmt.Errorf("log in to Doppler (run `doppler login` to see why, or set DOPPLER_TOKEN): %w", err)
		}
	}
	args := []string{"secrets", "get", "--json"}
	if !strings.HasPrefix(r.env().Get("DOPPLER_TOKEN"), "dp.st") {
		project, config, ok := dopplerScope(names[0])
		if !ok {
			return nil, fmt.Errorf("fetch from Doppler: give --from PROJECT/CONFIG (or set DOPPLER_TOKEN to a service token)")
		}
		args = append(args, "--project="+project, "--config="+config)
	}
	bare := make([]string, len(names))
	for i, n := range names {
		bare[i] = n[strings.LastIndexByte(n, '/')+1:]
	}
	data, err := dp.out(ctx, append(append(args, "--"), bare...)...)
	if err != nil {
		return nil, fmt.Errorf("read %s from Doppler: %w", strings.Join(names, ", "), err)
	}
	all, err := ParseObject(string(data))
	if err != nil {
		return nil, fmt.Errorf("read doppler secrets get: the output is not the JSON expected")
	}
	out := NewSecrets()
	for _, k := range all.keys {
		var v struct {
			Computed *string `json:"computed"`
		}
		if err := decode([]byte(all.values[k]), &v, "doppler secrets get"); err != nil {
			return nil, err
		}
		value := ""
		if v.Computed != nil {
			value = *v.Computed
		}
		out.Set(k, value)
	}
	return out, nil
}

// dopplerScope reads project and config from the first prefixed name, as
// Kamal does.
func dopplerScope(name string) (string, string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}
