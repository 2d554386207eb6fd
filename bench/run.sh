#!/usr/bin/env bash
# Runs ferry's benchmarks on this machine and writes bench/REPORT.md.
# Whole-process timings use hyperfine (Debian package); each figure is
# reported next to a baseline measured in the same run, since the machines
# are shared and noisy and only ratios carry over.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v hyperfine >/dev/null || { apt-get install -y hyperfine >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y hyperfine >/dev/null; }; }
command -v dotenvx >/dev/null || npm install -g @dotenvx/dotenvx >/dev/null
# Kamal itself cannot be installed here (no RubyGems), but Ruby can: loading
# the same config with Ruby's YAML and ERB is the floor under Kamal's start-up.
command -v ruby >/dev/null || apt-get install -y -qq ruby >/dev/null 2>&1 || true

CGO_ENABLED=0 go build -trimpath -o bin/ferry ./cmd/ferry
ferry="$root/bin/ferry"
out="$root/bench/out"
mkdir -p "$out"
# Each section leaves its targets in out/targets-*.tsv for the summary at
# the top of the report; stale ones from an earlier run must not show.
rm -f "$out"/targets-*.tsv

# The article's final layout, as a project would have it: a git repository.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r ../shared/scenarios/blog-staging "$work/blog-staging"
(cd "$work/blog-staging" && git init -q && git add -A && git -c user.name=bench -c user.email=bench@example.test commit -qm init)

# Baselines: the cheapest possible process start (`true`) and a git query
# (`git rev-parse HEAD`, which `ferry config` itself needs), so the figures
# show what ferry adds on top of work it cannot avoid.
cmds=(
  -n 'baseline: true' 'true'
  -n 'baseline: git rev-parse HEAD' 'git rev-parse HEAD'
  -n 'ferry version' "$ferry version"
  -n 'ferry config -d staging (blog-staging)' "$ferry config -d staging"
)
if command -v ruby >/dev/null; then
  # deploy.yml of blog-staging has ERB (File.read) but no Dotenv, which Ruby
  # lacks without gems; the destination file is what needs Dotenv.
  printf '%s\n' 'require "yaml"; require "erb"' 'YAML.unsafe_load(ERB.new(File.read("config/deploy.yml"), trim_mode: "-").result)' > "$work/load.rb"
  cmds+=(-n 'baseline: ruby loads deploy.yml with YAML+ERB (floor under Kamal)' "ruby $work/load.rb")
fi
(cd "$work/blog-staging" && hyperfine -N --warmup 5 --runs 50 --export-json "$out/startup.json" "${cmds[@]}" \
  >/dev/null 2>"$out/hyperfine.log")

python3 - "$out/startup.json" > bench/REPORT.md <<'PY'
import json, sys, platform, os, subprocess
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
def ms(name): return res[name]["median"] * 1000
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
print("# ferry benchmarks\n")
print(f"Machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}.  ")
print("Produced by `make bench` (bench/run.sh). Baselines are measured in the same run.\n")
print("## Start-up (whole processes, hyperfine, median of 50 runs)\n")
print("| What | Median | Baseline (same run) | Ratio | Target | Met |")
print("|---|---|---|---|---|---|")
base = ms("baseline: true")
git = ms("baseline: git rev-parse HEAD")
tsv = open(os.path.join(os.path.dirname(sys.argv[1]), "targets-startup.tsv"), "w")
for name, target in [("ferry version", 20.0), ("ferry config -d staging (blog-staging)", 20.0)]:
    m = ms(name)
    b, bn = (git, "git rev-parse HEAD") if "config" in name else (base, "true")
    print(f"| `{name}` | {m:.2f} ms | {bn}: {b:.2f} ms | {m/b:.1f}x | < {target:.0f} ms | {'yes' if m < target else 'NO'} |")
    tsv.write(f"start-up\t`{name}`\t{m:.2f} ms\t{bn}: {b:.2f} ms\t{m/b:.1f}x\t< {target:.0f} ms\t{'yes' if m < target else 'NO'}\n")
ruby = "baseline: ruby loads deploy.yml with YAML+ERB (floor under Kamal)"
if ruby in res:
    r = ms(ruby)
    m = ms("ferry config -d staging (blog-staging)")
    print(f"\nKamal's CLI cannot be installed here (no RubyGems access). Its floor, Ruby loading the same"
          f" deploy.yml with YAML and ERB and nothing else, took {r:.2f} ms in this run:"
          f" `ferry config -d staging` did the whole job in {m/r:.3f}x that time ({r/m:.0f} times faster).")
else:
    print("\nKamal's CLI cannot be installed here (no RubyGems access), and Ruby was not available for its floor.")
PY


# Image delivery to three test servers (needs the e2e harness: Docker engine,
# server image). Targets from issue 4: first delivery <= 0.5x the baseline,
# one-layer redelivery <= 0.2x.
bash scripts/install-test-deps.sh >/dev/null
bash bench/delivery.sh >"$out/delivery.log" 2>&1 || { tail -30 "$out/delivery.log"; exit 1; }
{
  echo
  echo "## Image delivery (~50 MB image to 3 servers; same run)"
  echo
  cat "$out/delivery.md"
  echo
  echo "Targets: first delivery at most 0.5x the baseline's time; redelivery with one changed layer at most 0.2x."
} >> bench/REPORT.md

# ferry's proxy on loopback with wrk (issue 5): direct vs through the proxy
# with buffering on, 1 and 50 connections, and memory with 1,000 idle
# keep-alive connections. PROXY_BIN=/path/to/kamal-proxy adds it side by side.
bash bench/proxy.sh >"$out/proxy.log" 2>&1 || { tail -30 "$out/proxy.log"; exit 1; }
{
  echo
  echo "## Proxy (loopback, wrk; same run)"
  echo
  cat "$out/proxy.md"
  echo
  echo "Targets: at 50 connections at least 0.5x direct throughput; at 1 connection at most 0.15 ms added at p50; under 50 MiB with 1,000 idle keep-alive connections."
} >> bench/REPORT.md

# Warm deploys (issue 6): `ferry deploy -P` with the image already on the
# hosts, on 1 and on 3 test servers, beside the floor measured in the same
# run on one server: docker run until the first passing health check.
FERRY_BIN="$ferry" bash bench/deploy.sh >"$out/deploy.log" 2>&1 || { tail -30 "$out/deploy.log"; exit 1; }
{
  echo
  echo "## Deploy (warm, image on the hosts; same run)"
  echo
  cat "$out/deploy.md"
  echo
  echo "Targets: a warm 1-server deploy at most 2x the floor; 3 servers at most 1.3x the 1-server time."
} >> bench/REPORT.md

# The summary: every target of every section in one table, above the
# sections, from the targets-*.tsv files the sections wrote in this run.
python3 - "$out" bench/REPORT.md <<'PY'
import glob, os, sys
out, report = sys.argv[1], sys.argv[2]
rows = []
for name in ("startup", "delivery", "proxy", "deploy"):
    path = os.path.join(out, f"targets-{name}.tsv")
    if not os.path.exists(path):
        rows.append([name, "(this section did not report its targets)", "", "", "", "", "?"])
        continue
    rows += [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
met = sum(r[6] == "yes" for r in rows)
lines = ["## At a glance\n",
         f"{met} of {len(rows)} targets met in this run. Each figure sits beside its baseline from the same run;"
         " the sections below have the details.\n",
         "| Area | Measure | ferry | Baseline, same run | Ratio | Target | Met |",
         "|---|---|---|---|---|---|---|"]
lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
text = open(report).read()
i = text.index("\n## ")
open(report, "w").write(text[:i] + "\n" + "\n".join(lines) + "\n" + text[i:])
PY
cat bench/REPORT.md
