# Sourced (not run) by scripts/deploy-e2e and scripts/bench-deploy: install Garage with cargo
# from crates.io (cached), and run a 3-node cluster on loopback.
#
# The caller defines `say`, `fail`, `tmp` (a temp folder) and a `pids` array, and kills every
# pid in it on exit (each process started here is appended).
#
#   garage_install               build Garage once into $KEPU_TOOLS (default ~/.cache/kepu-tools)
#   garage_cluster BUCKET...     3 nodes, layout applied, a key `kepu-deploy` with read/write
#                                on each bucket, website hosting (index.html, 404.html) on;
#                                sets S3[i], WEB[i], NODE_PID[i], key_id, key_secret
#   garage_node_start I          start node I (again)
#   g ARGS                       the garage CLI, talking to node 1
#
# replication_factor = 3 on 3 nodes in 3 zones: every object is on every node, and reads and
# writes need 2 of the 3, so the cluster keeps serving with one node down. (With 2 copies on 3
# nodes, a write needs both nodes that hold a partition; a node down blocks a third of them.)

tools="${KEPU_TOOLS:-$HOME/.cache/kepu-tools}"
garage="$tools/garage/bin/garage"
GARAGE_VERSION=2.5.0

garage_install() {
  if "$garage" --version 2>/dev/null | grep -q "cargo:$GARAGE_VERSION"; then
    return
  fi
  say "installing garage $GARAGE_VERSION with cargo into $tools (the first time takes 20-30 minutes on 2 cores)"
  local started
  started=$(date +%s)
  CARGO_TARGET_DIR="$tools/garage-build" nice -n 19 cargo install garage --version "$GARAGE_VERSION" --locked \
    --no-default-features --features bundled-libs,sqlite,lmdb --root "$tools/garage"
  say "garage built in $(($(date +%s) - started)) s"
}

# A free loopback port, chosen by the kernel.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

declare -a S3 WEB RPC NODE_PID NODE_ID

g() { "$garage" -c "$tmp/node1/garage.toml" "$@"; }

garage_node_start() {
  "$garage" -c "$tmp/node$1/garage.toml" server >>"$tmp/node$1/log" 2>&1 &
  NODE_PID[$1]=$!
  pids+=("$!")
}

garage_cluster() {
  local rpc_secret i _ ok info
  rpc_secret="$(hex 32)"
  for i in 1 2 3; do
    S3[$i]=$(free_port)
    WEB[$i]=$(free_port)
    RPC[$i]=$(free_port)
    mkdir -p "$tmp/node$i"
    cat >"$tmp/node$i/garage.toml" <<EOF
metadata_dir = "$tmp/node$i/meta"
data_dir = "$tmp/node$i/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:${RPC[$i]}"
rpc_public_addr = "127.0.0.1:${RPC[$i]}"
rpc_secret = "$rpc_secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:${S3[$i]}"
root_domain = ".s3.garage.localhost"

[s3_web]
bind_addr = "127.0.0.1:${WEB[$i]}"
root_domain = ".web.garage.localhost"
index = "index.html"

[admin]
api_bind_addr = "127.0.0.1:$(free_port)"
admin_token = "$(hex 16)"
EOF
    chmod 600 "$tmp/node$i/garage.toml"
  done
  for i in 1 2 3; do garage_node_start "$i"; done
  for i in 1 2 3; do
    NODE_ID[$i]=""
    for _ in $(seq 120); do
      NODE_ID[$i]=$("$garage" -c "$tmp/node$i/garage.toml" node id -q 2>/dev/null) && break
      sleep 0.5
    done
    [ -n "${NODE_ID[$i]}" ] || fail "garage node $i did not start"
  done
  g node connect "${NODE_ID[2]}" >/dev/null
  g node connect "${NODE_ID[3]}" >/dev/null
  for i in 1 2 3; do g layout assign -z "dc$i" -c 1G "${NODE_ID[$i]%@*}" >/dev/null; done
  g layout apply --version 1 >/dev/null
  info=""
  for _ in $(seq 120); do
    info="$(g key create kepu-deploy 2>/dev/null)" && break
    sleep 0.5
  done
  key_id="$(awk '/^Key ID:/ {print $3}' <<<"$info")"
  key_secret="$(awk '/^Secret key:/ {print $3}' <<<"$info")"
  [ -n "$key_id" ] && [ -n "$key_secret" ] || fail "could not read the new Garage key from: $(sed 's/^Secret key:.*/Secret key: (hidden)/' <<<"$info")"
  for bucket in "$@"; do
    ok=""
    for _ in $(seq 120); do
      if g bucket create "$bucket" >/dev/null 2>&1; then ok=1; break; fi
      sleep 0.5
    done
    [ -n "$ok" ] || fail "the cluster did not accept bucket $bucket"
    g bucket allow --read --write --owner "$bucket" --key kepu-deploy >/dev/null
    g bucket website --allow "$bucket" --index-document index.html --error-document 404.html >/dev/null
  done
}
