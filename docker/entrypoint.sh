#!/bin/sh
# chatrelay container entrypoint.
#   run (the default)        migrate the database, then exec `chatrelay run`: the bot replaces
#                            this shell, so it is the process `docker stop` sends SIGTERM to
#   chat | migrate | -...    `chatrelay ARGS` (chat, migrate, --version, --help)
#   anything else            executed as given (sh, python, alembic ...)
set -eu

# A stop requested while migrating: exit once the migration is done instead of starting the bot.
trap 'exit 143' TERM
trap 'exit 130' INT

if [ "$#" -eq 0 ]; then
    set -- run
fi
case "$1" in
    run)
        shift
        chatrelay migrate
        exec chatrelay run "$@"
        ;;
    chat | migrate | -*)
        exec chatrelay "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
