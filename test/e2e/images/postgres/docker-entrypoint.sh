#!/usr/bin/env bash
# Entrypoint of the e2e stand-in for the official postgres image. It follows
# that image's documented behaviour, because Kamal configs (and the scenarios)
# rely on it:
#   - POSTGRES_PASSWORD is required on first start; POSTGRES_USER defaults to
#     postgres, POSTGRES_DB to POSTGRES_USER;
#   - on first start (empty PGDATA): initdb, create POSTGRES_DB, then run
#     /docker-entrypoint-initdb.d/* in name order: *.sh (sourced, or run when
#     executable) and *.sql (psql -v ON_ERROR_STOP=1, no shell expansion, so
#     "$POSTGRES_USER" inside a .sql file reaches PostgreSQL literally);
#   - a failing init script stops the container; PGDATA is already initialised
#     then, so the next start skips initialisation, as the real image does;
#   - any command other than postgres runs as given (e.g. psql as a client).
set -Eeo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
	exec "$@"
fi

# As root: own the data directory, then start again as postgres.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec gosu postgres "$BASH_SOURCE" "$@"
fi

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export POSTGRES_USER POSTGRES_DB

psql_as_owner() {
	PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}" \
		psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

if [ -s "$PGDATA/PG_VERSION" ]; then
	echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
else
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
		cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
MSG
		exit 1
	fi

	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
		--encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-}
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	printf 'host all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"

	# A private server (no TCP) for the init steps.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start

	if [ "$POSTGRES_DB" != postgres ]; then
		psql_as_owner --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi

	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
		*.sh)
			if [ -x "$f" ]; then
				echo "$0: running $f"
				"$f"
			else
				echo "$0: sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			echo "$0: running $f"
			psql_as_owner --dbname "$POSTGRES_DB" -f "$f"
			;;
		*) echo "$0: ignoring $f" ;;
		esac
	done

	pg_ctl -D "$PGDATA" -m fast -w stop
	echo
	echo 'PostgreSQL init process complete; ready for start up.'
	echo
fi

exec "$@"
