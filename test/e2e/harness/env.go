package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Options says what a run starts.
type Options struct {
	Servers  []ServerSpec
	Pebble   bool // ACME server, alias pebble.test
	Registry bool // registry with basic auth, alias registry.test
	// Logf receives progress lines; nil logs to stderr.
	Logf func(format string, args ...any)
}

// ServerSpec describes one test server.
type ServerSpec struct {
	Name        string   // short name, e.g. "h1"; the alias NAME.test is always added
	Aliases     []string // more dotted names, e.g. "staging.super-duper.test"
	Postgres    bool     // load the postgres:17 stand-in into its engine
	Images      []string // other local images to load into its engine
	DockerGroup bool     // put deploy in the docker group (the article's fix)
}

// Env is one run: its network, servers, services and files. Close removes it.
type Env struct {
	ID      string
	Dir     string // keys, certificates, ssh config; removed on Close
	Network string
	Images  *Images
	Key     *SSHKey
	CA      *CA
	CAFile  string // the CA's PEM

	Servers  []*Server
	DNS      *Service
	Pebble   *Pebble
	Registry *Registry

	KnownHostsPath string
	SSHConfigPath  string
	// HomeDir holds .ssh/{config,known_hosts,id_ed25519}: run ferry with
	// HOME set to it and it finds the servers by their *.test names.
	HomeDir string

	logf       func(string, ...any)
	stopSignal func()
	closeOnce  sync.Once
}

// Start builds the images (cached), removes leftovers of dead runs, then
// starts the network, the DNS relay, the services and the servers. On error
// everything started so far is removed.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	logf := opts.Logf
	if logf == nil {
		logf = log.New(os.Stderr, "e2e: ", log.Ltime).Printf
	}
	if err := dockerAvailable(ctx); err != nil {
		return nil, err
	}
	if err := CleanLeftovers(ctx); err != nil {
		return nil, err
	}
	t0 := time.Now()
	images, err := BuildImages(ctx, logf)
	if err != nil {
		return nil, err
	}
	logf("images ready in %s", time.Since(t0).Round(100*time.Millisecond))

	e := &Env{ID: newRunID(), Images: images, logf: logf}
	e.Dir = runDir(e.ID)
	e.Network = "ferry-e2e-" + e.ID
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	// Interrupted runs (Ctrl-C, SIGTERM from a CI timeout) still clean up.
	e.stopSignal = e.closeOnSignal()

	if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	if e.Key, err = newSSHKey(filepath.Join(e.Dir, "id_ed25519")); err != nil {
		return nil, err
	}
	if e.CA, err = newCA(); err != nil {
		return nil, err
	}
	e.CAFile = filepath.Join(e.Dir, "ca.pem")
	if err := os.WriteFile(e.CAFile, e.CA.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}

	args := append([]string{"network", "create"}, runLabels(e.ID)...)
	if _, err := docker(ctx, append(args, e.Network)...); err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	if e.DNS, err = e.startDNSRelay(ctx, opts); err != nil {
		return nil, err
	}

	t1 := time.Now()
	if err := e.startAll(ctx, opts); err != nil {
		return nil, err
	}
	if err := e.writeSSHFiles(); err != nil {
		return nil, err
	}
	logf("run %s: %d servers and services up in %s", e.ID, len(e.Servers), time.Since(t1).Round(100*time.Millisecond))
	return e, nil
}

// startAll starts services and servers in parallel.
func (e *Env) startAll(ctx context.Context, opts Options) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	if opts.Pebble {
		run(func() (err error) { e.Pebble, err = e.startPebble(ctx); return err })
	}
	if opts.Registry {
		run(func() (err error) { e.Registry, err = e.startRegistry(ctx); return err })
	}
	e.Servers = make([]*Server, len(opts.Servers))
	for i, spec := range opts.Servers {
		run(func() (err error) { e.Servers[i], err = e.startServer(ctx, spec); return err })
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("start run %s: %w", e.ID, errs[0])
	}
	return nil
}

// Server returns the server named name, or nil.
func (e *Env) Server(name string) *Server {
	for _, s := range e.Servers {
		if s != nil && s.Name == name {
			return s
		}
	}
	return nil
}

// Close removes everything the run created. Safe to call more than once.
func (e *Env) Close() error {
	var err error
	e.closeOnce.Do(func() {
		if e.stopSignal != nil {
			e.stopSignal()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err = removeRun(ctx, e.ID)
	})
	return err
}

func (e *Env) closeOnSignal() func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			e.logf("run %s: %s, removing everything", e.ID, sig)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = removeRun(ctx, e.ID)
			cancel()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// newRunID is short (it is part of container names) and unique enough for
// the few runs one machine has at once.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return time.Now().Format("0102150405") + hex.EncodeToString(b)[:4]
}
