package proxyhost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// Details writes, for each proxy host, the container's state and image and
// the services the proxy routes (ferry's proxy only), host by host.
func (m *Manager) Details(ctx context.Context, w io.Writer) error {
	hosts := m.ProxyHosts()
	out := make(map[string]*bytes.Buffer, len(hosts))
	for _, h := range hosts {
		out[h] = &bytes.Buffer{}
	}
	err := m.each("show the proxy", hosts, func(c remote.Conn) error {
		return details(ctx, c, out[c.Host()])
	})
	for _, h := range hosts {
		_, _ = w.Write(out[h].Bytes())
	}
	return err
}

func details(ctx context.Context, c remote.Conn, w io.Writer) error {
	host := c.Host()
	ct, err := inspectProxy(ctx, c)
	if err != nil {
		return err
	}
	if ct == nil {
		fmt.Fprintf(w, "%s: no %s container (`ferry proxy boot` creates it)\n", host, ContainerName)
		return nil
	}
	state, image := "unknown", ""
	if ct.State != nil {
		state = string(ct.State.Status)
		if ct.State.Running {
			state += " since " + ct.State.StartedAt
		} else if ct.State.Status == "exited" {
			state += " (status " + strconv.Itoa(ct.State.ExitCode) + ")"
		}
	}
	if ct.Config != nil {
		image = ct.Config.Image
	}
	id := ct.ID
	if len(id) > 12 {
		id = id[:12]
	}
	fmt.Fprintf(w, "%s: %s %s %s, image %s%s\n", host, ContainerName, id, state, image, ports(ct.HostConfig))
	if !running(ct) {
		return nil
	}
	list, err := NewDriver(c).List(ctx)
	if err != nil {
		fmt.Fprintf(w, "%s:   services not listed: %v\n", host, err)
		return nil
	}
	if len(list.Services) == 0 {
		fmt.Fprintf(w, "%s:   no services yet (a deploy adds them)\n", host)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s:\tSERVICE\tHOST\tPATH\tTARGET\tSTATE\tTLS\n", host)
	for _, s := range list.Services {
		hostsCol := strings.Join(s.Hosts, ",")
		if hostsCol == "" {
			hostsCol = "*"
		}
		var targets []string
		for _, t := range s.Targets {
			targets = append(targets, t.Address+" ("+t.Health+")")
		}
		tls := "no"
		if s.TLS {
			tls = "yes"
		}
		fmt.Fprintf(tw, "%s:\t%s\t%s\t%s\t%s\t%s\t%s\n", host, s.Name, hostsCol, strings.Join(s.PathPrefixes, ","), strings.Join(targets, ","), s.State, tls)
	}
	return tw.Flush()
}

// ports renders the published ports as docker ps does.
func ports(hc *container.HostConfig) string {
	if hc == nil || len(hc.PortBindings) == 0 {
		return ", no published ports"
	}
	var out []string
	for port, binds := range hc.PortBindings {
		for _, b := range binds {
			ip := "0.0.0.0"
			if b.HostIP.IsValid() {
				ip = b.HostIP.String()
			}
			out = append(out, ip+":"+b.HostPort+"->"+port.String())
		}
	}
	sort.Strings(out)
	return ", ports " + strings.Join(out, " ")
}

// LogOptions select proxy log lines, as docker logs does.
type LogOptions struct {
	Since      string // "10m", a timestamp
	Lines      int    // last N lines of each host; 0: all
	Grep       string // only lines matching (a regular expression, else literal)
	Follow     bool
	Timestamps bool
}

// Logs writes the proxy containers' logs. With several hosts each line
// starts with its host; with Follow it returns when ctx ends.
func (m *Manager) Logs(ctx context.Context, o LogOptions, w io.Writer) error {
	match, err := grepper(o.Grep)
	if err != nil {
		return err
	}
	hosts := m.ProxyHosts()
	var mu sync.Mutex
	return m.each("read the proxy logs", hosts, func(c remote.Conn) error {
		prefix := ""
		if len(hosts) > 1 {
			prefix = c.Host() + ": "
		}
		lw := &lineWriter{w: w, mu: &mu, prefix: prefix, match: match}
		defer lw.Flush()
		tail := "all"
		if o.Lines > 0 {
			tail = strconv.Itoa(o.Lines)
		}
		m.o.Log.Docker(c.Host(), "logs", ContainerName, "--tail", tail)
		rc, err := c.Docker().ContainerLogs(ctx, ContainerName, client.ContainerLogsOptions{
			ShowStdout: true, ShowStderr: true, Since: o.Since, Tail: tail,
			Follow: o.Follow, Timestamps: o.Timestamps,
		})
		if err != nil {
			return fmt.Errorf("read logs of %s: %w", ContainerName, err)
		}
		defer rc.Close()
		if _, err := stdcopy.StdCopy(lw, lw, rc); err != nil && ctx.Err() == nil {
			return fmt.Errorf("read logs of %s: %w", ContainerName, err)
		}
		return nil
	})
}

func grepper(pattern string) (func(string) bool, error) {
	if pattern == "" {
		return func(string) bool { return true }, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		// grep users write literal text more often than expressions.
		return func(s string) bool { return strings.Contains(s, pattern) }, nil
	}
	return re.MatchString, nil
}

// lineWriter passes whole lines that match, each with its prefix, so
// lines of different hosts never mix.
type lineWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	match  func(string) bool
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

// Flush writes a last line that had no newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineWriter) emit(line string) {
	if !l.match(line) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, l.prefix+line)
}
