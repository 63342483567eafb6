# shellcheck shell=bash
# Source this file to use the project's Pulumi engine in the current shell:
#     source engine/env.sh
# It builds the engine the first time (see engine/README.md) and exports
# PATH, PULUMI_ROOT, PULUMI_HOME and PULUMI_SKIP_UPDATE_CHECK.
__mailserver_engine_exports="$(bash "$(dirname "${BASH_SOURCE[0]}")/build.sh")" &&
  eval "$__mailserver_engine_exports"
unset __mailserver_engine_exports
