package image

import (
	"context"
	"iter"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"
)

// follow drains a push or pull stream, sending each layer's final status
// ("Pushed", "Pull complete", "Layer already exists") to debug, and returns
// the first error the daemon reported.
func follow(ctx context.Context, msgs iter.Seq2[jsonstream.Message, error], log Logger, host string) error {
	for m, err := range msgs {
		if err != nil {
			return err
		}
		if m.Error != nil {
			return daemonError(m.Error.Message)
		}
		if m.Progress != nil && m.Progress.Current > 0 {
			continue // per-chunk progress: too chatty for a log
		}
		if s := strings.TrimSpace(m.Status); s != "" {
			if m.ID != "" {
				s = m.ID + ": " + s
			}
			log.Debug(host, s)
		}
	}
	return ctx.Err()
}

type daemonError string

func (e daemonError) Error() string { return string(e) }
