package cli

import (
	"os"
	"time"

	"github.com/ferry-deploy/ferry/internal/deploy"
	"github.com/ferry-deploy/ferry/internal/liveview"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// flowOutput picks the output of deploy, redeploy, setup, rollback and app
// boot: --json events; the live view when stdout is a terminal (and not -q
// or -v, whose lines are the point); otherwise nil, the plain per-host
// lines. finish ends it (a no-op for plain lines) and must run before the
// error is printed, so the live lines are gone by then.
func flowOutput(g *Globals, cmd *cobra.Command, json bool) (out *deploy.Output, finish func(error)) {
	if json {
		return jsonOutput(g)
	}
	w, width, height, ok := terminal(g)
	if !ok || g.Quiet || g.Verbose {
		return nil, func(error) {}
	}
	view := liveview.New(w, liveview.Options{Title: cmd.CommandPath(), Width: width, Height: height})
	out = deploy.NewSinkOutput(view, false)
	// What other parts print on stdout (hooks, delivery, bootstrap,
	// accessories) goes above the live lines, as message events.
	stdout := g.Stdout
	g.Stdout = out.Writer()
	view.Start(250 * time.Millisecond)
	return out, func(err error) {
		g.Stdout = stdout
		out.Finish(err)
		view.Close()
	}
}

// terminal is stdout when it is a terminal that can move its cursor.
func terminal(g *Globals) (f *os.File, width, height int, ok bool) {
	f, isFile := g.Stdout.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return nil, 0, 0, false
	}
	if t := os.Getenv("TERM"); t == "dumb" {
		return nil, 0, 0, false
	}
	width, height, err := term.GetSize(int(f.Fd()))
	if err != nil {
		width, height = 0, 0
	}
	return f, width, height, true
}

// showTargets lays out the live view's lines, one per selected host and
// role, before anything starts.
func showTargets(out *deploy.Output, sel deploy.Selection) {
	v, ok := out.Sink().(*liveview.View)
	if !ok {
		return
	}
	var ts []liveview.Target
	for _, h := range sel.Hosts() {
		for _, r := range sel.RolesOn(h) {
			ts = append(ts, liveview.Target{Host: h, Role: r.Name})
		}
	}
	v.SetTargets(ts)
}
