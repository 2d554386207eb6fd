package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

// SocketEnv overrides the default control socket path for every command.
const SocketEnv = "FERRY_PROXY_SOCKET"

// DefaultSocketPath is where a proxy listens unless told otherwise:
// $FERRY_PROXY_SOCKET, else a private directory under $XDG_RUNTIME_DIR, else
// a per-user directory in /tmp. The directory, not only the socket, is
// private so that no other user can race us to create or connect to it.
func DefaultSocketPath() string {
	if p := os.Getenv(SocketEnv); p != "" {
		return p
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "ferry-proxy", "proxy.sock")
	}
	return filepath.Join(os.TempDir(), "ferry-proxy-"+strconv.Itoa(os.Getuid()), "proxy.sock")
}

// Client drives a running proxy through its control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the proxy listening on socket ("" means
// DefaultSocketPath). Calls carry no timeout of their own: a deploy lasts as
// long as its health wait and drain, so callers bound it with their context.
func NewClient(socket string) *Client {
	if socket == "" {
		socket = DefaultSocketPath()
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// Socket is the path the client dials.
func (c *Client) Socket() string { return c.socket }

// Deploy creates or updates service and returns once the new targets serve
// and the old ones are drained.
func (c *Client) Deploy(ctx context.Context, service string, req DeployRequest) (DeployResponse, error) {
	var resp DeployResponse
	err := c.call(ctx, http.MethodPost, servicePath(service, "deploy"), req, &resp)
	return resp, err
}

// Remove deletes service at once (no drain).
func (c *Client) Remove(ctx context.Context, service string) error {
	return c.call(ctx, http.MethodDelete, servicePath(service, ""), nil, nil)
}

// Pause holds new requests for service and waits for in-flight ones.
func (c *Client) Pause(ctx context.Context, service string, req PauseRequest) error {
	return c.call(ctx, http.MethodPost, servicePath(service, "pause"), req, nil)
}

// Stop puts service in maintenance: requests get 503 with req.Message.
func (c *Client) Stop(ctx context.Context, service string, req PauseRequest) error {
	return c.call(ctx, http.MethodPost, servicePath(service, "stop"), req, nil)
}

// Resume returns a paused or stopped service to normal.
func (c *Client) Resume(ctx context.Context, service string) error {
	return c.call(ctx, http.MethodPost, servicePath(service, "resume"), nil, nil)
}

// List returns every service with its targets and state.
func (c *Client) List(ctx context.Context) (ListResponse, error) {
	var resp ListResponse
	err := c.call(ctx, http.MethodGet, "/"+Version+"/services", nil, &resp)
	return resp, err
}

// RolloutDeploy deploys the canary group of service.
func (c *Client) RolloutDeploy(ctx context.Context, service string, req RolloutDeployRequest) error {
	return c.call(ctx, http.MethodPost, servicePath(service, "rollout/deploy"), req, nil)
}

// RolloutSet changes the canary split of service.
func (c *Client) RolloutSet(ctx context.Context, service string, req RolloutSetRequest) error {
	return c.call(ctx, http.MethodPost, servicePath(service, "rollout/set"), req, nil)
}

// RolloutStop sends all traffic of service back to its active group.
func (c *Client) RolloutStop(ctx context.Context, service string) error {
	return c.call(ctx, http.MethodPost, servicePath(service, "rollout/stop"), nil, nil)
}

func servicePath(service, action string) string {
	p := "/" + Version + "/services/" + url.PathEscape(service)
	if action != "" {
		p += "/" + action
	}
	return p
}

// ErrNotRunning means nothing listens on the socket.
var ErrNotRunning = errors.New("proxy is not running")

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://ferry-proxy"+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("%w: cannot connect to %s (start it with `ferry proxy-server run`, or point --socket or $%s at the right socket): %v",
				ErrNotRunning, c.socket, SocketEnv, op.Err)
		}
		return fmt.Errorf("call proxy at %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read proxy answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return &RemoteError{Status: resp.StatusCode, Message: e.Error}
		}
		return &RemoteError{Status: resp.StatusCode, Message: fmt.Sprintf("proxy answered %s: %s", resp.Status, bytes.TrimSpace(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode proxy answer: %w", err)
		}
	}
	return nil
}

// RemoteError is a failure reported by the proxy; Message is meant for the
// user as is.
type RemoteError struct {
	Status  int
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Upgrade asks the supervisor to start a new proxy process (from
// req.Binary, or the same binary) on the same sockets and drain the old
// one. It returns once the old process has finished its requests.
func (c *Client) Upgrade(ctx context.Context, req UpgradeRequest) (UpgradeResponse, error) {
	var resp UpgradeResponse
	err := c.call(ctx, http.MethodPost, "/"+Version+"/supervisor/upgrade", req, &resp)
	return resp, err
}

// Status describes the supervisor and its proxy process.
func (c *Client) Status(ctx context.Context) (SupervisorStatus, error) {
	var resp SupervisorStatus
	err := c.call(ctx, http.MethodGet, "/"+Version+"/supervisor", nil, &resp)
	return resp, err
}
