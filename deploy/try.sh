#!/usr/bin/env bash
# Runs docs/deploy.md's recipe on this machine, in a scratch folder, and checks it:
# the key and settings from an env file (as systemd's EnvironmentFile), `virag index` then `virag serve`
# on 127.0.0.1:PORT, nginx with deploy/nginx.conf in front on PROXY_PORT, the health check, the key
# refused and accepted, an answer streamed through the proxy, the unit checked by systemd-analyze, and a
# SIGTERM mid-answer that lets it finish. Needs nginx (apt-get install nginx-light) and curl.
#   deploy/try.sh [PORT] [PROXY_PORT]        (VENV=.venv by default)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8000}
PROXY_PORT=${2:-8080}
VENV=${VENV:-.venv}
WORK=$(mktemp -d /tmp/virag-deploy.XXXXXX)
KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
pass() { printf '  ok  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; exit 1; }
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
    [ -f "$WORK/nginx/nginx.pid" ] && nginx -p "$WORK/nginx" -c "$WORK/nginx/main.conf" -s stop 2>/dev/null || true
}
trap cleanup EXIT

echo "== the env file (docs/deploy.md, step 2), in $WORK"
mkdir -p "$WORK/docs" "$WORK/home"
cp seeds/*.txt "$WORK/docs/"
printf 'VIRAG_API_KEY=%s\nVIRAG_HOME=%s\n' "$KEY" "${VIRAG_HOME:-$HOME/.cache/virag}" > "$WORK/env"
chmod 600 "$WORK/env"
set -a; . "$WORK/env"; set +a

echo "== index, then serve (step 1, and the unit's ExecStart)"
"$VENV/bin/virag" index "$WORK/docs" --index "$WORK/index" -q
"$VENV/bin/virag" serve --corpus "$WORK/docs" --index "$WORK/index" --host 127.0.0.1 --port "$PORT" \
    2> "$WORK/serve.log" &
SERVER=$!
for _ in $(seq 240); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/serve.log"; fail "virag serve exited"; }
    sleep 0.5
done

echo "== nginx in front (step 4)"
mkdir -p "$WORK/nginx/logs"
sed -e "s/127.0.0.1:8000/127.0.0.1:$PORT/" -e "s/listen 80;/listen $PROXY_PORT;/" deploy/nginx.conf \
    > "$WORK/nginx/virag.conf"
cat > "$WORK/nginx/main.conf" <<EOF
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events {}
http {
    access_log $WORK/nginx/logs/access.log;
    client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
    include $WORK/nginx/virag.conf;
}
EOF
nginx -t -p "$WORK/nginx" -c "$WORK/nginx/main.conf" 2>&1 | tail -1
nginx -p "$WORK/nginx" -c "$WORK/nginx/main.conf"
URL="http://127.0.0.1:$PROXY_PORT"
sleep 0.5

echo "== checks through the proxy (step 5)"
health=$(curl -sf "$URL/healthz") && pass "/healthz without the key: $health" || fail "/healthz"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/models")
[ "$code" = 401 ] && pass "/v1/models without the key: 401" || fail "/v1/models without the key: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/")
[ "$code" = 401 ] || [ "$code" = 404 ] && pass "/ (no chat with serve) without the key: $code" || fail "/: $code"
MODEL=$(curl -sf "$URL/v1/models" -H "Authorization: Bearer $KEY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
pass "/v1/models with the key: $MODEL"
ask() {
    curl -sN "$URL/v1/chat/completions" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d "{\"model\": \"$MODEL\", \"stream\": $1, \"messages\": [{\"role\": \"user\", \"content\": \"Cụm thi đua số 2 gồm những tỉnh nào?\"}]}"
}
ask false | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  ok  answer:", r["choices"][0]["message"]["content"][:90], "| usage", r["usage"])'
chunks=$(ask true | grep -c '^data: ')
[ "$chunks" -gt 3 ] && pass "streamed through nginx: $chunks events" || fail "streaming: $chunks events"

echo "== the systemd unit (step 3)"
if command -v systemd-analyze >/dev/null; then
    sed -e "s|/opt/virag/.venv/bin/virag|$(realpath "$VENV")/bin/virag|" -e "s|^User=.*|User=root|" \
        -e "s|^Group=.*|Group=root|" deploy/virag.service > "$WORK/virag.service"
    if systemd-analyze verify "$WORK/virag.service" 2> "$WORK/verify.log"; then pass "systemd-analyze verify"
    else grep -v "^$" "$WORK/verify.log" | sed 's/^/      /'; fail "systemd-analyze verify"; fi
fi

echo "== SIGTERM mid-answer (step 5: graceful shutdown)"
ask true > "$WORK/last.txt" &
ASKER=$!
sleep 0.05
kill -TERM "$SERVER"
wait "$ASKER" || true
grep -q '^data: \[DONE\]' "$WORK/last.txt" && pass "the answer in flight finished" || fail "answer cut off"
status=0; wait "$SERVER" || status=$?
SERVER=""
[ "$status" = 0 ] && pass "virag serve exited 0" || fail "exit status $status"
"$VENV/bin/python" -c "from rag.index.folder import index_lock; import sys
with index_lock(sys.argv[1]): pass" "$WORK/index" && pass "the index is not locked"
echo "All checks passed ($WORK)."
