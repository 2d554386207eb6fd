//go:build e2e

// Deploy benchmark: a warm `ferry deploy -P` (the version's image already
// on the hosts, ferry's proxy running) on 1 and on 3 test servers, beside
// the floor under any deploy measured directly on one server in the same
// run: `docker run` of the same new container until its first passing
// health check. Rounds interleave the three measurements so they share the
// machine's noise; every deploy switches to a version that is not running
// anywhere (three versions in rotation). Run it with bench/deploy.sh; it
// prints a markdown table and writes bench/out/deploy.md. DEPLOY_TOOL_BIN
// (and DEPLOY_TOOL_NAME) adds another deploy tool's binary side by side.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// deployRounds is the number of interleaved rounds (BENCH_DEPLOY_ROUNDS
// overrides it); the table gives medians, as the machine is shared.
func deployRounds() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_DEPLOY_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 7
}

func TestDeployBenchmark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "b1"}, {Name: "b2"}, {Name: "b3"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	b1 := env.Server("b1")

	dir := t.TempDir()
	files := map[string]string{
		"config/deploy.yml": `service: benchdeploy
image: benchdeploy
servers:
  web:
    - b1.test
    - b2.test
    - b3.test
ssh:
  user: root
builder:
  arch: amd64
deploy_timeout: 30
`,
		"Dockerfile": harness.AppDockerfile,
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	// run times one whole process of a deploy tool in the project, with
	// the run's HOME (its .ssh names the test servers).
	run := func(bin string, args ...string) time.Duration {
		t.Helper()
		res, err := harness.RunCommand(ctx, dir, []string{"HOME=" + env.HomeDir}, bin, args...)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("%s %s failed (exit %d):\n%s%s", filepath.Base(bin), strings.Join(args, " "), res.ExitCode, res.Stdout, res.Stderr)
		}
		return res.Elapsed
	}
	ferryBin, err := harness.FerryBin()
	if err != nil {
		t.Fatal(err)
	}
	ferry := func(args ...string) time.Duration { return run(ferryBin, args...) }
	// Another deploy tool that reads the same config (Kamal, or another
	// build of ferry), given by path, is timed side by side in the same
	// rounds with the same commands.
	other := os.Getenv("DEPLOY_TOOL_BIN")
	otherName := os.Getenv("DEPLOY_TOOL_NAME")
	if other != "" && otherName == "" {
		otherName = filepath.Base(other)
	}

	// Three versions, each deployed everywhere once, so every host keeps a
	// container of each and prune leaves their images alone: the rounds
	// below find every image already on the hosts.
	var versions []string
	for _, v := range []string{"v1", "v2", "v3"} {
		if err := harness.CommitAppVersion(ctx, dir, env.Images.AppBinary, v, false); err != nil {
			t.Fatal(err)
		}
		ferry("deploy")
		out, err := harness.RunCommand(ctx, dir, nil, "git", "rev-parse", "HEAD")
		if err != nil || out.ExitCode != 0 {
			t.Fatalf("git rev-parse: %v %s", err, out.Stderr)
		}
		versions = append(versions, strings.TrimSpace(out.Stdout))
	}

	// The floor: on b1, docker run of the new container (same image, the
	// kamal network, the port published on loopback) and curl /up every
	// 10 ms until it passes, timed inside the server so no docker exec or
	// SSH is counted.
	floorScript := `set -e
start=$(date +%s%N)
docker run --detach --name "$1" --network kamal --publish 127.0.0.1:18080:80 "$2" >/dev/null
i=0
until curl -fsS -o /dev/null http://127.0.0.1:18080/up 2>/dev/null; do
  i=$((i+1)); [ $i -lt 3000 ] || { echo "never healthy" >&2; exit 1; }
  sleep 0.01
done
end=$(date +%s%N)
docker rm -f "$1" >/dev/null
echo $(( (end-start)/1000 ))`

	var one, three, floor, floor3, otherOne, otherThree []time.Duration
	state := 2 // every host runs versions[state]
	for round := range deployRounds() {
		oneVer, threeVer := versions[(state+1)%3], versions[(state+2)%3]
		one = append(one, ferry("deploy", "-P", "--version", oneVer, "-h", "b1.test"))
		three = append(three, ferry("deploy", "-P", "--version", threeVer))
		state = (state + 2) % 3
		if other != "" {
			oneVer, threeVer := versions[(state+1)%3], versions[(state+2)%3]
			otherOne = append(otherOne, run(other, "deploy", "-P", "--version", oneVer, "-h", "b1.test"))
			otherThree = append(otherThree, run(other, "deploy", "-P", "--version", threeVer))
			state = (state + 2) % 3
		}
		floor = append(floor, runFloor(t, ctx, b1, floorScript, fmt.Sprintf("floor-%d", round), "benchdeploy:"+oneVer))
		// The same on the three servers at once (the slowest of them): what
		// this machine itself loses when three servers boot together.
		got := make([]time.Duration, len(env.Servers))
		var wg sync.WaitGroup
		for i, s := range env.Servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = runFloor(t, ctx, s, floorScript, fmt.Sprintf("floor3-%d", round), "benchdeploy:"+oneVer)
			}()
		}
		wg.Wait()
		floor3 = append(floor3, slices.Max(got))
		t.Logf("round %d: 1 server %s, 3 servers %s, floor %s, floor on 3 at once %s", round+1, one[round].Round(time.Millisecond),
			three[round].Round(time.Millisecond), floor[round].Round(time.Millisecond), floor3[round].Round(time.Millisecond))
	}
	for _, s := range env.Servers {
		st, body, err := s.Get(ctx, "http://"+s.Name+".test/version")
		if err != nil || st != 200 {
			t.Fatalf("%s after the benchmark: %d %q %v", s.Name, st, body, err)
		}
	}

	md := deployTable(one, three, floor, floor3)
	if other != "" {
		md += otherTable(otherName, one, three, otherOne, otherThree)
	}
	t.Log("\n" + md)
	if err := os.WriteFile(filepath.Join("out", "deploy.md"), []byte(md), 0o644); err != nil {
		t.Log(err)
	}
	o, th, fl := median(one), median(three), median(floor)
	ts := []target{
		{Area: "deploy", Measure: "warm `ferry deploy -P`, 1 server", Ferry: fmt.Sprintf("%.2f s", o.Seconds()),
			Baseline: fmt.Sprintf("floor (docker run until /up passes): %.2f s", fl.Seconds()),
			Ratio:    fmt.Sprintf("%.2fx", o.Seconds()/fl.Seconds()), Goal: "≤ 2x", Met: yesNo(o <= 2*fl)},
		{Area: "deploy", Measure: "warm `ferry deploy -P`, 3 servers vs 1", Ferry: fmt.Sprintf("%.2f s", th.Seconds()),
			Baseline: fmt.Sprintf("ferry on 1 server: %.2f s (the floor itself on 3 at once: %.2fx)", o.Seconds(), median(floor3).Seconds()/fl.Seconds()),
			Ratio:    fmt.Sprintf("%.2fx", th.Seconds()/o.Seconds()), Goal: "≤ 1.3x", Met: yesNo(float64(th) <= 1.3*float64(o))},
	}
	if err := writeTargets("deploy", ts); err != nil {
		t.Log(err)
	}
}

// otherTable sets another deploy tool's times beside ferry's, same rounds.
func otherTable(name string, ones, threes, otherOnes, otherThrees []time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| Warm deploy, same rounds, median of %d | ferry | %s | %s / ferry |\n|---|---|---|---|\n", len(ones), name, name)
	for _, r := range []struct {
		what        string
		ferry, them time.Duration
	}{{"1 server", median(ones), median(otherOnes)}, {"3 servers", median(threes), median(otherThrees)}} {
		fmt.Fprintf(&b, "| %s | %.2f s | %.2f s | %.2fx |\n", r.what, r.ferry.Seconds(), r.them.Seconds(), r.them.Seconds()/r.ferry.Seconds())
	}
	return b.String()
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func deployTable(ones, threes, floors, floors3 []time.Duration) string {
	one, three, floor, floor3 := median(ones), median(threes), median(floors), median(floors3)
	met := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "NO"
	}
	all := func(ds []time.Duration) string {
		var p []string
		for _, d := range ds {
			p = append(p, fmt.Sprintf("%.2f", d.Seconds()))
		}
		return strings.Join(p, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| Warm deploy (image on the hosts), median of %d | Time | Compared with | Ratio | Target | Met | Each round (s) |\n", len(ones))
	b.WriteString("|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| floor: `docker run` on one server until its first passing `/up` (timed in the server) | %.2f s | | | | | %s |\n", floor.Seconds(), all(floors))
	fmt.Fprintf(&b, "| `ferry deploy -P` on 1 server (whole process) | %.2f s | floor | %.2fx | ≤ 2x | %s | %s |\n", one.Seconds(), one.Seconds()/floor.Seconds(), met(one <= 2*floor), all(ones))
	fmt.Fprintf(&b, "| `ferry deploy -P` on 3 servers (whole process) | %.2f s | 1 server | %.2fx | ≤ 1.3x | %s | %s |\n", three.Seconds(), three.Seconds()/one.Seconds(), met(float64(three) <= 1.3*float64(one)), all(threes))
	fmt.Fprintf(&b, "| context: the floor on the 3 servers at once (slowest), i.e. this machine's own cost of booting three together | %.2f s | floor | %.2fx | | | %s |\n", floor3.Seconds(), floor3.Seconds()/floor.Seconds(), all(floors3))
	b.WriteString("\nThe test servers share this machine's cores, so three servers booting at once compete for CPU; the last row shows how much of the 3-server ratio that alone accounts for.\n")
	return b.String()
}

func runFloor(t *testing.T, ctx context.Context, s *harness.Server, script, name, ref string) time.Duration {
	out, err := s.Exec(ctx, "sh", "-c", script, "sh", name, ref)
	if err != nil {
		t.Errorf("floor on %s: %v\n%s", s.Name, err, out)
		return 0
	}
	us, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Errorf("floor on %s: %q", s.Name, out)
		return 0
	}
	return time.Duration(us) * time.Microsecond
}
