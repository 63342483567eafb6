#!/usr/bin/env bash
# Copy one mailbox from one Dovecot shard backend to another (DovecotImap kubernetes.shards; the
# procedure is docs/kubernetes.md "Moving a mailbox between shards"). Run it once before setting the
# mailbox's `shard` to <to> (`pulumi up`), and once after, for the mail that reached <from> meanwhile.
#
#   bash scripts/k8s-move-mailbox.sh <namespace> <prefix> <address> <from> <to>
#
# 1. On <from>: `doveadm backup` exports the mailbox to a Maildir under the mail volume (.move/),
#    a consistent copy with its UIDs, UIDVALIDITY, flags and folders.
# 2. The export is streamed to <to> (tar through kubectl exec; the backends never reach each other).
# 3. On <to>: `doveadm sync` merges the export into the mailbox there (two-way: nothing on <to> is
#    lost, so mail already delivered there after the switch stays).
# kubectl's own context and KUBECONFIG apply; KUBECTL names another binary.
set -euo pipefail
(($# == 5)) || { sed -n '5p' "$0" >&2; exit 2; }
ns=$1 prefix=$2 user=$3 from=$4 to=$5
kubectl=${KUBECTL:-kubectl}
root=/var/mail/vhosts/.move
dir=$(printf '%s' "$user" | tr -c 'a-zA-Z0-9@._-' '_')
on() { local pod="$prefix-dovecot-backend-$1"; shift; "$kubectl" --namespace "$ns" exec -i "$pod" -c dovecot-backend -- "$@"; }
prepare='mkdir -p "$1" && chown vmail:vmail "$1" && rm -rf "$1/$2"'
on "$from" sh -c "$prepare" sh "$root" "$dir"
on "$from" doveadm backup -u "$user" "maildir:$root/$dir"
on "$to" sh -c "$prepare" sh "$root" "$dir"
on "$from" tar -C "$root" -cf - "$dir" | on "$to" tar -C "$root" -xf -
on "$to" doveadm sync -u "$user" "maildir:$root/$dir"
on "$from" rm -rf "$root/$dir"
on "$to" rm -rf "$root/$dir"
echo "copied $user from shard $from to shard $to"
