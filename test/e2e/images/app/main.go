// Command app is the stand-in for the scenarios' Rails application. It keeps
// the contract in shared/scenarios/README.md: port 80, /up healthy only when
// the database answers (if one is configured), the Rails environment it saw,
// posts in PostgreSQL, uploads under /rails/public/uploads, static assets,
// and its version.
//
// One binary serves every variant; the image decides which: the version
// comes from APP_VERSION or /rails/VERSION, and /rails/BROKEN (or
// APP_BROKEN=1) makes /up fail forever.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const publicDir = "/rails/public"

func main() {
	// "app version" prints the version and exits: something for "docker
	// exec" (ferry app exec) to run in an image that has no shell.
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println(readVersion())
		return
	}
	addr := os.Getenv("APP_LISTEN")
	if addr == "" {
		addr = ":80"
	}
	a := &app{
		version: readVersion(),
		broken:  os.Getenv("APP_BROKEN") == "1" || fileExists("/rails/BROKEN"),
		db:      openDB(),
		public:  publicDir,
	}
	srv := &http.Server{Addr: addr, Handler: logRequests(a.routes()), ReadHeaderTimeout: 10 * time.Second}

	// Drain on SIGTERM, as Puma does, so a proxy's drain is what decides
	// whether requests are lost during a deploy.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	log.Printf("app %s listening on %s (broken=%t, database=%t)", a.version, addr, a.broken, a.db != nil)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
	log.Printf("app %s stopped", a.version)
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		log.Printf("%s %s %s %d %s", r.Host, r.Method, r.URL.Path, rec.status, time.Since(start).Round(time.Millisecond))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
