package harness

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Service is a helper container on the run's network.
type Service struct {
	Name      string
	Container string
	IP        string      // on the run's network
	Aliases   []string    // dotted names other containers use
	Ports     map[int]int // container port -> published port on 127.0.0.1
}

// runContainer starts a detached container of the run on its network with
// the given aliases, publishing ports on 127.0.0.1, and returns it once it
// has an address.
func (e *Env) runContainer(ctx context.Context, name string, aliases []string, ports []int, extra []string, image string, cmd ...string) (*Service, error) {
	container := "ferry-e2e-" + e.ID + "-" + name
	args := []string{"run", "-d", "--name", container, "--hostname", name, "--network", e.Network}
	args = append(args, runLabels(e.ID)...)
	for _, a := range aliases {
		args = append(args, "--network-alias", a)
	}
	for _, p := range ports {
		args = append(args, "-p", "127.0.0.1::"+strconv.Itoa(p))
	}
	args = append(args, extra...)
	args = append(args, image)
	args = append(args, cmd...)
	if _, err := docker(ctx, args...); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Service{Name: name, Container: container, Aliases: aliases, Ports: map[int]int{}}
	ip, err := docker(ctx, "inspect", "--format", `{{(index .NetworkSettings.Networks "`+e.Network+`").IPAddress}}`, container)
	if err != nil || ip == "" {
		return nil, fmt.Errorf("find address of %s: %v", name, err)
	}
	s.IP = ip
	for _, p := range ports {
		hp, err := publishedPort(ctx, container, p)
		if err != nil {
			return nil, err
		}
		s.Ports[p] = hp
	}
	return s, nil
}

func publishedPort(ctx context.Context, container string, port int) (int, error) {
	out, err := docker(ctx, "port", container, strconv.Itoa(port)+"/tcp")
	if err != nil {
		return 0, fmt.Errorf("find published port %d of %s: %w", port, container, err)
	}
	// "127.0.0.1:32768" (one line per address family; we only publish v4)
	line := strings.Split(out, "\n")[0]
	i := strings.LastIndex(line, ":")
	n, err := strconv.Atoi(line[i+1:])
	if err != nil {
		return 0, fmt.Errorf("parse published port %q of %s: %w", out, container, err)
	}
	return n, nil
}

// Logs returns the last 200 lines the container wrote, stdout and stderr
// together, for failure messages.
func (s *Service) Logs(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "docker", "logs", "--tail", "200", s.Container).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(docker logs %s: %v)\n%s", s.Container, err, out)
	}
	return string(out)
}
