#!/usr/bin/env bash
# Proxy benchmark (issue 5), on loopback only: wrk against a small Go backend
# directly and through ferry's proxy with request and response buffering on
# (Kamal's default), in the same run, at 1 and 50 connections; then the
# proxy's memory (RSS) idle and with 1,000 idle keep-alive connections open
# through it. Writes bench/out/proxy.md (and the raw wrk output beside it).
#
# Another proxy can run side by side:
#   PROXY_BIN=/path/to/kamal-proxy bash bench/proxy.sh
# By default it is started and driven like kamal-proxy (`run --http-port`,
# `deploy SERVICE --target ... --buffer-requests --buffer-responses`, socket
# and state under XDG_RUNTIME_DIR/XDG_CONFIG_HOME, pointed at a temp dir).
# PROXY_RUN and PROXY_DEPLOY override the two commands; in them {bin},
# {port}, {https_port}, {dir} and {target} are replaced. PROXY_NAME names it.
#
# DURATION (default 10s) is the length of each wrk run; WARMUP (2s) runs
# before each and is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/bench/out"
mkdir -p "$out"
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
IDLE_CONNS=${IDLE_CONNS:-1000}

log() { printf '== %s\n' "$*" >&2; }

command -v wrk >/dev/null || {
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
}
command -v wrk >/dev/null || { echo "wrk is not installed and apt-get could not install it" >&2; exit 1; }

make -s build
ferry="$root/bin/ferry"

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CGO_ENABLED=0 go build -trimpath -o "$tmp/proxybench" ./bench/proxybench

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "timed out after ${secs}s waiting for $what" >&2; return 1; fi
    sleep 0.1
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A process and all its descendants (ferry's proxy is a supervisor that runs
# the serving process as its child).
tree() {
  local p=$1 c
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}

# rss_kib PID FIELD: sum of FIELD (VmRSS or VmHWM) over the process tree.
rss_kib() {
  local sum=0 p v
  for p in $(tree "$1"); do
    v=$(awk -v f="$2:" '$1 == f { print $2 }' /proc/"$p"/status 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# max_rss_kib PID: VmRSS of the largest process of the tree (the one that
# serves; ferry's supervisor only holds the sockets).
max_rss_kib() {
  local max=0 p v
  for p in $(tree "$1"); do
    v=$(awk '$1 == "VmRSS:" { print $2 }' /proc/"$p"/status 2>/dev/null || true)
    ((${v:-0} > max)) && max=$v
  done
  echo "$max"
}

# pss_kib PID: proportional set size over the tree: pages the processes
# share (ferry's supervisor and its child map the same binary) count once.
pss_kib() {
  local sum=0 p v
  for p in $(tree "$1"); do
    v=$(awk '$1 == "Pss:" { print $2 }' /proc/"$p"/smaps_rollup 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# The backend.
"$tmp/proxybench" backend -addr-file "$tmp/backend.addr" &
backend_pid=$!
pids+=($!)
wait_for "the backend" 10 test -s "$tmp/backend.addr"
backend=$(cat "$tmp/backend.addr")
log "backend on $backend"

# proxies: name -> port and process id.
declare -A pport ppid
names=()

# start_ferry NAME [ENV...]: ferry's proxy (supervisor + serving child, own
# socket and state) registered under NAME, with the backend deployed behind
# it, buffering on.
start_ferry() {
  local name=$1 port
  shift
  port=$(free_port)
  mkdir -p "$tmp/$name"
  env "$@" "$ferry" proxy-server --socket "$tmp/$name/proxy.sock" run --bind 127.0.0.1 --http-port "$port" --https-port -1 \
    --state-dir "$tmp/$name/state" >"$tmp/$name/out.log" 2>&1 &
  ppid[$name]=$!
  pids+=($!)
  pport[$name]=$port
  names+=("$name")
  wait_for "$name's proxy to listen on $port" 20 port_open "$port"
  timeout 60 "$ferry" proxy-server --socket "$tmp/$name/proxy.sock" deploy bench --target "$backend" \
    --buffer-requests --buffer-responses --health-check-interval 1s >&2
  log "$name on 127.0.0.1:$port (pid ${ppid[$name]})"
}
start_ferry ferry
# The same with plain HTTP on net/http's server instead of ferry's h1
# front end: what the front end gains, in the same run.
start_ferry ferry-nethttp FERRY_PROXY_FRONT=net/http
# And on its own front end with every request through the handler (no
# raw path): what the raw path gains.
start_ferry ferry-h1 FERRY_PROXY_FRONT=h1

# start_floor MODE DESCRIPTION: one of proxybench's Go floors, registered
# under MODE's name.
start_floor() {
  "$tmp/proxybench" "$1" -target "$backend" -addr-file "$tmp/$1.addr" &
  ppid[$1]=$!
  pids+=($!)
  wait_for "$2" 10 test -s "$tmp/$1.addr"
  local addr
  addr=$(cat "$tmp/$1.addr")
  pport[$1]=${addr##*:}
  names+=("$1")
}
# The floor under any Go reverse proxy (kamal-proxy and ferry's are both
# built on net/http's httputil.ReverseProxy): that and nothing else.
start_floor floor "the floor proxy"
# The same floor with a synchronous upstream client in place of
# net/http.Transport (no per-request goroutine handoffs): what a Go proxy
# keeping net/http's server on the front can reach.
start_floor syncfloor "the synchronous floor proxy"
# And without net/http's server either (its own request loop): what a Go
# proxy with its own HTTP/1.1 front end could reach.
start_floor rawfloor "the raw floor proxy"
# And the bottom: bytes passed through with only the framing read, no
# parsing, no allocation per request.
start_floor bytefloor "the byte floor proxy"

# Reference proxies written in C (Debian's nginx and HAProxy), configured
# like ferry's: one upstream with keep-alive, request and response bodies
# buffered, an access log to a file. They show what this machine allows any
# proxy, beside what Go's net/http allows (the floor above).
# REFERENCE_PROXIES=0 leaves them out.
install_quietly() { # Debian packages, without starting their services
  local made=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made=1
  fi
  apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; } || true
  [[ -z $made ]] || rm -f /usr/sbin/policy-rc.d
}
if [[ ${REFERENCE_PROXIES:-1} != 0 ]]; then
  command -v nginx >/dev/null || install_quietly nginx-light
  command -v haproxy >/dev/null || install_quietly haproxy
fi
if [[ ${REFERENCE_PROXIES:-1} != 0 ]] && command -v nginx >/dev/null; then
  nport=$(free_port)
  nd="$tmp/nginx"
  mkdir -p "$nd"
  cat >"$nd/nginx.conf" <<NGINX
user root;
worker_processes auto;
daemon off;
pid $nd/nginx.pid;
error_log $nd/error.log;
events { worker_connections 4096; }
http {
  access_log $nd/access.log;
  client_body_temp_path $nd/body;
  proxy_temp_path $nd/proxy;
  fastcgi_temp_path $nd/fastcgi;
  uwsgi_temp_path $nd/uwsgi;
  scgi_temp_path $nd/scgi;
  upstream backend { server $backend; keepalive 64; }
  server {
    listen 127.0.0.1:$nport;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_request_buffering on;
      proxy_buffering on;
    }
  }
}
NGINX
  nginx -c "$nd/nginx.conf" -p "$nd" >"$nd/out.log" 2>&1 &
  ppid[nginx]=$!
  pids+=($!)
  pport[nginx]=$nport
  names+=(nginx)
  wait_for "nginx to listen on $nport" 20 port_open "$nport"
  log "nginx on 127.0.0.1:$nport (pid ${ppid[nginx]})"
fi
if [[ ${REFERENCE_PROXIES:-1} != 0 ]] && command -v haproxy >/dev/null; then
  hport=$(free_port)
  hd="$tmp/haproxy"
  mkdir -p "$hd"
  cat >"$hd/haproxy.cfg" <<HAPROXY
global
  nbthread 2
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-buffer-request
  option forwardfor
frontend bench
  bind 127.0.0.1:$hport
  default_backend backend
backend backend
  http-reuse always
  server b1 $backend
HAPROXY
  haproxy -db -f "$hd/haproxy.cfg" >"$hd/out.log" 2>&1 &
  ppid[haproxy]=$!
  pids+=($!)
  pport[haproxy]=$hport
  names+=(haproxy)
  wait_for "haproxy to listen on $hport" 20 port_open "$hport"
  log "haproxy on 127.0.0.1:$hport (pid ${ppid[haproxy]})"
fi

if [[ -n "${PROXY_BIN:-}" ]]; then
  oname=${PROXY_NAME:-$(basename "$PROXY_BIN")}
  oname=${oname//[^A-Za-z0-9_.-]/_}
  odir="$tmp/other"
  mkdir -p "$odir/run" "$odir/config"
  oport=$(free_port)
  ohttps=$(free_port)
  subst() {
    local s=$1
    s=${s//\{bin\}/$PROXY_BIN}
    s=${s//\{port\}/$oport}
    s=${s//\{https_port\}/$ohttps}
    s=${s//\{dir\}/$odir}
    s=${s//\{target\}/$backend}
    printf '%s' "$s"
  }
  def_run='{bin} run --http-port {port} --https-port {https_port}'
  def_deploy='{bin} deploy bench --target {target} --buffer-requests --buffer-responses'
  orun=$(subst "${PROXY_RUN:-$def_run}")
  odeploy=$(subst "${PROXY_DEPLOY:-$def_deploy}")
  oenv=(env XDG_RUNTIME_DIR="$odir/run" XDG_CONFIG_HOME="$odir/config" HOME="$odir")
  "${oenv[@]}" bash -c "exec $orun" >"$odir/out.log" 2>&1 &
  ppid[$oname]=$!
  pids+=($!)
  pport[$oname]=$oport
  names+=("$oname")
  wait_for "$oname to listen on $oport" 20 port_open "$oport"
  deadline=$((SECONDS + 60))
  until "${oenv[@]}" timeout 60 bash -c "$odeploy" >&2; do
    if ((SECONDS >= deadline)); then echo "could not deploy the backend behind $oname" >&2; tail -20 "$odir/out.log" >&2; exit 1; fi
    sleep 1
  done
  log "$oname on 127.0.0.1:$oport (pid ${ppid[$oname]})"
fi

for n in "${names[@]}"; do
  code=$(timeout 10 python3 - "${pport[$n]}" <<'PY'
import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=5).status)
PY
  )
  [[ $code == 200 ]] || { echo "$n does not answer 200 through to the backend (got $code)" >&2; exit 1; }
done

# Memory before any load.
for n in "${names[@]}"; do
  echo "$n rss_start $(rss_kib "${ppid[$n]}" VmRSS)" >>"$tmp/mem.txt"
done

# wrk runs, interleaved (direct, then each proxy, per connection count) so
# that the machine's drift touches them alike.
# CPU time (user + system, clock ticks) of a process tree: per request it
# tells a proxy's cost apart from the machine's load, which moves
# requests/s from run to run while the CPU a request takes stays put.
cpu_ticks() {
  local sum=0 p v
  for p in $(tree "$1"); do
    v=$(awk '{ print $14 + $15 }' /proc/"$p"/stat 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
run_wrk() { # NAME CONNS URL
  local threads=$(($2 < 2 ? $2 : 2)) t0 t1
  timeout 60 wrk -t"$threads" -c"$2" -d"$WARMUP" --timeout 5s "$3" >/dev/null
  t0=$(cpu_ticks "${ppid[$1]}")
  timeout 120 wrk -t"$threads" -c"$2" -d"$DURATION" --timeout 5s --latency "$3" >"$out/proxy-wrk-$1-c$2.txt"
  t1=$(cpu_ticks "${ppid[$1]}")
  echo "$1 $2 $((t1 - t0)) $(getconf CLK_TCK)" >>"$tmp/cpu.txt"
  log "wrk $1 c=$2: $(grep Requests/sec "$out/proxy-wrk-$1-c$2.txt")"
}
ppid[direct]=$backend_pid
for c in 1 50; do
  run_wrk direct "$c" "http://$backend/"
  for n in "${names[@]}"; do
    run_wrk "$n" "$c" "http://127.0.0.1:${pport[$n]}/"
  done
done

# Memory with IDLE_CONNS idle keep-alive connections: each client sent one
# request and keeps its connection open.
for n in "${names[@]}"; do
  echo "$n rss_after_load $(rss_kib "${ppid[$n]}" VmRSS)" >>"$tmp/mem.txt"
  rm -f "$tmp/idle.ready"
  timeout 150 "$tmp/proxybench" idle -addr "127.0.0.1:${pport[$n]}" -n "$IDLE_CONNS" -ready "$tmp/idle.ready" -max-life 2m &
  ipid=$!
  pids+=($ipid)
  wait_for "$IDLE_CONNS idle connections through $n" 60 test -s "$tmp/idle.ready"
  sleep 2
  echo "$n rss_idle_conns $(rss_kib "${ppid[$n]}" VmRSS)" >>"$tmp/mem.txt"
  echo "$n main_idle_conns $(max_rss_kib "${ppid[$n]}")" >>"$tmp/mem.txt"
  echo "$n pss_idle_conns $(pss_kib "${ppid[$n]}")" >>"$tmp/mem.txt"
  kill -TERM "$ipid" 2>/dev/null || true
  wait "$ipid" 2>/dev/null || true
  echo "$n rss_peak $(rss_kib "${ppid[$n]}" VmHWM)" >>"$tmp/mem.txt"
  echo "$n processes $(tree "${ppid[$n]}" | wc -l)" >>"$tmp/mem.txt"
done

python3 - "$out" "$tmp/mem.txt" "$IDLE_CONNS" "$DURATION" "$tmp/cpu.txt" "${names[@]}" >"$out/proxy.md" <<'PY'
import re, sys, os
out, memfile, idle_conns, duration, cpufile, names = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6:]
cpu = {}
for line in open(cpufile):
    n, c, ticks, hz = line.split()
    cpu[(n, int(c))] = int(ticks) / int(hz)

def ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    n, u = float(m.group(1)), m.group(2)
    return n * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[u]

def wrk(name, c):
    text = open(os.path.join(out, f"proxy-wrk-{name}-c{c}.txt")).read()
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for p in ("50", "99"):
        r["p" + p] = ms(re.search(rf"^\s+{p}(?:\.000)?%\s+(\S+)", text, re.M).group(1))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["errors"] = (sum(map(int, errs.groups())) if errs else 0) + (int(bad.group(1)) if bad else 0)
    reqs = int(re.search(r"(\d+) requests in", text).group(1))
    r["cpu_us"] = cpu[(name, c)] / reqs * 1e6 if reqs else 0
    return r

mem = {}
for line in open(memfile):
    n, k, v = line.split()
    mem.setdefault(n, {})[k] = int(v)

res = {(n, c): wrk(n, c) for c in (1, 50) for n in ["direct"] + names}
def label(n):
    if n == "ferry":
        return "ferry proxy (buffering on)"
    if n == "ferry-nethttp":
        return "ferry proxy on net/http's server instead of its h1 front end (FERRY_PROXY_FRONT=net/http)"
    if n == "ferry-h1":
        return "ferry proxy on its h1 front end, every request through the handler, no raw path (FERRY_PROXY_FRONT=h1)"
    if n == "floor":
        return "floor: bare Go httputil.ReverseProxy (no buffering, logs or routing)"
    if n == "syncfloor":
        return "floor with a synchronous upstream client instead of net/http.Transport"
    if n == "rawfloor":
        return "floor with the synchronous client and no net/http server (own request loop)"
    if n == "bytefloor":
        return "floor: request and answer bytes passed through, only their framing read (Go runtime and TCP alone)"
    if n == "nginx":
        return "reference: nginx (C, 2 workers, request and response buffering on)"
    if n == "haproxy":
        return "reference: HAProxy (C, 2 threads, request buffering on)"
    return f"{n} (buffering on)"
print(f"Loopback, wrk {duration} per run (after a warm-up), 1 thread at 1 connection and 2 at 50;"
      " backend: a Go net/http server answering a 62-byte JSON body. Direct and proxied runs interleave in one run.\n")
print("CPU per request is the user and system time the proxy's processes (for direct: the backend's) spent during the run,"
      " divided by the requests served: unlike requests/s it hardly moves with the machine's load.\n")
print("| Connections | Path | Requests/s | vs direct | p50 | p99 | Added p50 | CPU per request | Errors |")
print("|---|---|---|---|---|---|---|---|---|")
for c in (1, 50):
    d = res[("direct", c)]
    print(f"| {c} | direct to backend | {d['rps']:,.0f} | 1.00x | {d['p50']:.3f} ms | {d['p99']:.3f} ms | | {d['cpu_us']:.1f} µs (backend) | {d['errors']} |")
    for n in names:
        r = res[(n, c)]
        print(f"| {c} | {label(n)} | {r['rps']:,.0f} | {r['rps']/d['rps']:.2f}x | {r['p50']:.3f} ms | {r['p99']:.3f} ms"
              f" | {r['p50']-d['p50']:+.3f} ms | {r['cpu_us']:.1f} µs | {r['errors']} |")

mib = lambda kib: kib / 1024
print(f"\nMemory. ferry runs two processes, a supervisor that holds the sockets and the process that serves;"
      " RSS columns add up both (their shared binary pages count twice), PSS counts shared pages once."
      f" The idle connections are opened after the load runs, each sends one request and stays open.\n")
print(f"| Proxy | Processes | RSS idle, before load | RSS after load | {idle_conns:,} idle keep-alive conns: serving process RSS"
      " | all processes RSS | all processes PSS | Peak RSS (VmHWM) |")
print("|---|---|---|---|---|---|---|---|")
for n in names:
    m = mem[n]
    print(f"| {label(n)} | {m['processes']} | {mib(m['rss_start']):.1f} MiB | {mib(m['rss_after_load']):.1f} MiB"
          f" | {mib(m['main_idle_conns']):.1f} MiB | {mib(m['rss_idle_conns']):.1f} MiB | {mib(m['pss_idle_conns']):.1f} MiB"
          f" | {mib(m['rss_peak']):.1f} MiB |")

f50 = res[("ferry", 50)]["rps"] / res[("direct", 50)]["rps"]
added = res[("ferry", 1)]["p50"] - res[("direct", 1)]["p50"]
fl50 = res[("floor", 50)]["rps"] / res[("direct", 50)]["rps"]
fladded = res[("floor", 1)]["p50"] - res[("direct", 1)]["p50"]
m = mem["ferry"]
main, pss = mib(m["main_idle_conns"]), mib(m["pss_idle_conns"])
yes = lambda ok: "yes" if ok else "NO"
others = [n for n in names if n != "ferry"]
short = {"floor": "Bare Go ReverseProxy", "syncfloor": "Go, synchronous upstream", "rawfloor": "Go, no net/http server", "nginx": "nginx", "haproxy": "HAProxy"}
def cols(fn):
    return "".join(f" {fn(n)} |" for n in others)
def thr(n): return f"{res[(n, 50)]['rps'] / res[('direct', 50)]['rps']:.2f}x"
def add(n): return f"{res[(n, 1)]['p50'] - res[('direct', 1)]['p50']:+.3f} ms"
def rss(n): return f"{mib(mem[n]['rss_idle_conns']):.1f} MiB"
print("\n| Target (issue 5) | ferry | Met |" + "".join(f" {short.get(n, n)}, same run |" for n in others))
print("|---|---|---|" + "---|" * len(others))
print(f"| Throughput at 50 connections at least 0.5x direct | {f50:.2f}x | {yes(f50 >= 0.5)} |" + cols(thr))
print(f"| Added p50 latency at 1 connection at most 0.15 ms | {added:+.3f} ms | {yes(added <= 0.15)} |" + cols(add))
print(f"| Memory with {idle_conns:,} idle keep-alive connections under 50 MiB (serving process RSS; all processes PSS; others: all processes RSS)"
      f" | {main:.1f} MiB; {pss:.1f} MiB | {yes(main < 50 and pss < 50)} |" + cols(rss))
best = max(others, key=lambda n: res[(n, 50)]["rps"])
with open(os.path.join(out, "targets-proxy.tsv"), "w") as f:
    base50 = res[("direct", 50)]["rps"]
    f.write(f"proxy\tthroughput at 50 connections, vs direct\t{res[('ferry', 50)]['rps']:,.0f} req/s\t"
            f"direct {base50:,.0f} req/s; best other proxy here ({short.get(best, best)}): {thr(best)}\t{f50:.2f}x\t≥ 0.5x\t{yes(f50 >= 0.5)}\n")
    f.write(f"proxy\tadded p50 at 1 connection\t{res[('ferry', 1)]['p50']:.3f} ms\t"
            f"direct {res[('direct', 1)]['p50']:.3f} ms; bare Go ReverseProxy {add('floor')}\t{added:+.3f} ms\t≤ +0.15 ms\t{yes(added <= 0.15)}\n")
    f.write(f"proxy\tmemory, {idle_conns:,} idle keep-alive connections\t{main:.1f} MiB (PSS {pss:.1f} MiB)\t"
            f"bare Go ReverseProxy {mib(mem['floor']['main_idle_conns']):.1f} MiB\t\t< 50 MiB\t{yes(main < 50 and pss < 50)}\n")
with open("/proc/loadavg") as f:
    load = f.read().split()[0]
print(f"\nMachine: {os.cpu_count()} CPUs, load average {load} at the end of the run; wrk, the backend and the proxy"
      " share these CPUs with each other and with whatever else runs, so the proxied runs pay for three processes where the direct ones pay for two.")
errors = sum(r["errors"] for r in res.values())
if errors:
    print(f"\n**{errors} failed or non-2xx requests** in the wrk runs (see bench/out/proxy-wrk-*.txt).")
PY
cat "$out/proxy.md"
