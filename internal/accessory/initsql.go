package accessory

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// The official postgres and mysql/mariadb images run *.sql files in
// /docker-entrypoint-initdb.d with their SQL client, which expands no shell
// variables: "$POSTGRES_USER" reaches the server literally, the first start
// fails on it, and since the data directory exists by then, later starts
// skip the init files for good. The article's db/init.sql is that file.

const initDir = "/docker-entrypoint-initdb.d/"

// shellVar finds $NAME and ${NAME}; a dollar-quote tag ($body$) is SQL.
var shellVar = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?(\$?)`)

// InitSQLWarning explains, for a plain .sql init file with shell
// variables in it, why it cannot work and how to get what it meant; ""
// when the file is fine.
func InitSQLWarning(f LocalFile, clearEnv, secretEnv []string, image string) string {
	remote := path.Clean("/" + f.Mount.Remote)
	if f.Rendered || !strings.HasPrefix(remote, initDir) || !strings.HasSuffix(remote, ".sql") {
		return ""
	}
	var vars []string
	for _, m := range shellVar.FindAllStringSubmatch(string(f.Data), -1) {
		if m[2] == "$" || slices.Contains(vars, m[1]) {
			continue
		}
		vars = append(vars, m[1])
	}
	if len(vars) == 0 {
		return ""
	}
	shown := make([]string, len(vars))
	for i, v := range vars {
		shown[i] = "$" + v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (mounted as %s) uses %s, but the image runs .sql init files with its SQL client, which does not expand shell variables: the server receives %q literally, the first start fails on it, and the data directory is initialised by then, so later starts skip the init files for good.",
		f.Mount.Local, remote, strings.Join(shown, ", "), shown[0])
	if redundant := imageCreates(image, vars, append(clearEnv, secretEnv...)); redundant != "" {
		fmt.Fprintf(&b, "\n  %s", redundant)
	}
	fmt.Fprintf(&b, "\n  To put values in init SQL: rename it %s.erb, write <%%= ENV[%q] %%> where each value goes, and mount %s.erb:%s; ferry renders it with the accessory's env and secrets, as Kamal 2.10 does (the result is written 0600 unless you give a mode, so add mode: \"0644\" for an image whose init runs as a non-root user, as postgres's does).",
		f.Mount.Local, vars[0], f.Mount.Local, remote)
	fmt.Fprintf(&b, "\n  Or use a .sh init script instead: the image runs it with the container's environment, so \"$%s\" works there.", vars[0])
	fmt.Fprintf(&b, "\n  Init files only run on the first start with an empty data directory: after fixing, `ferry accessory remove NAME` (which deletes the data) and boot again, or apply the SQL by hand with `ferry accessory exec NAME --reuse ...`.")
	return b.String()
}

// imageCreates says when the variables are the ones the postgres or mysql
// image turns into a user and a database by itself from the accessory's
// env, which makes such a file unnecessary.
func imageCreates(image string, vars, env []string) string {
	repo := image
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		repo = repo[i+1:]
	}
	repo, _, _ = strings.Cut(repo, ":")
	repo, _, _ = strings.Cut(repo, "@")
	var known []string
	switch repo {
	case "postgres", "postgis":
		known = []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
	case "mysql", "mariadb":
		known = []string{"MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE", "MYSQL_ROOT_PASSWORD", "MARIADB_USER", "MARIADB_PASSWORD", "MARIADB_DATABASE", "MARIADB_ROOT_PASSWORD"}
	default:
		return ""
	}
	for _, v := range vars {
		if !slices.Contains(known, v) || !slices.Contains(env, v) {
			return ""
		}
	}
	return fmt.Sprintf("The %s image already creates the user and database named by %s from the accessory's env, with that password: this file adds nothing (run on its own it would fail, the role already exists); remove it from files:.", repo, strings.Join(vars, ", "))
}
