#!/usr/bin/env bash
# Regenerates the PNGs in screenshots/ from the real program: kdeck --demo runs in a tmux
# terminal, keys are sent as a user would type them, and each screen is captured with its
# colours (tmux capture-pane -e) and rendered to PNG by screenshots/render.py.
#
# Usage: screenshots/make.sh            (builds target/debug/kdeck if needed)
# Needs: tmux, python3 with Pillow (installed with pip if missing), fonts-dejavu-core.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${KDECK_BIN:-target/debug/kdeck}
[ -x "$BIN" ] || cargo build
python3 -c 'import PIL' 2>/dev/null || pip install --quiet --user pillow

tmp=$(mktemp -d)
sock="$tmp/tmux.sock"
trap 'tmux -S "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"' EXIT
t() { tmux -S "$sock" "$@"; }

wait_for() {
  local text=$1 deadline=$((SECONDS + ${2:-60}))
  until t capture-pane -p -t k | grep -qF -- "$text"; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $text" >&2; t capture-pane -p -t k >&2; exit 1; }
    sleep 0.3
  done
}

shot() {
  local name=$1
  t capture-pane -p -e -t k > "$tmp/$name.ansi"
  python3 screenshots/render.py "$tmp/$name.ansi" "screenshots/$name.png"
  echo "screenshots/$name.png"
}

t -f /dev/null new-session -d -x 120 -y 36 -s k \
  "env KDECK_CONFIG=$tmp/cfg TERM=xterm-256color $BIN --demo --demo-speed 3"
wait_for "demo-eu-west"
# Let the canaries move and the charts fill.
sleep 25
shot clusters

t send-keys -t k 2
wait_for "need attention"
sleep 1
shot rollouts

t send-keys -t k :
t send-keys -t k -l "ctx demo-us-east"
t send-keys -t k Enter /
t send-keys -t k -l "checkout"
t send-keys -t k Enter Enter
wait_for "Rollout shop/checkout"
wait_for "success rate" 30
sleep 2
shot rollout-detail

t send-keys -t k p
wait_for "Confirm: promote"
sleep 1
shot confirm
t send-keys -t k n Escape
sleep 0.5
t send-keys -t k Escape  # clears the filter
t send-keys -t k :
t send-keys -t k -l "ctx all"
t send-keys -t k Enter
wait_for "clusters all"

# The other panes, each once its table is there.
for pane in "3 hpa HPA" "4 breakers Breakers" "5 drift Drift" "6 backups Backups"; do
  read -r key name title <<<"$pane"
  t send-keys -t k "$key"
  wait_for "┌ $title ("
  sleep 1
  shot "$name"
done

t resize-window -t k -x 80 -y 24
t send-keys -t k 2
sleep 1
shot rollouts-80x24
t send-keys -t k 1
sleep 1
shot clusters-80x24

t send-keys -t k q
