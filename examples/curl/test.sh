#!/usr/bin/env bash
# Runs every curl example of examples/curl/README.md against a live signup-api
# and checks the status (and text) each one's "# expect:" line promises.
#
#   API_URL=http://localhost:8080 TEST_MAIL_DIR=var/mail examples/curl/test.sh [README]
#
# Conventions (also described at the end of the README):
#   - an example is a ```sh fenced block with one curl command and a line
#     "# expect: <status> [text]"; text, when given, must occur literally in the
#     response (headers and body);
#   - every ```sh block that mentions curl must have an "# expect:" line;
#   - placeholders: http://localhost:8080 -> $API_URL; budi@lintasarta.co.id ->
#     a fresh address for this run; someone-else@lintasarta.co.id -> another
#     fresh address (never signed up); $TOKEN -> the token of the link in the
#     verification email sent to the first one (read from TEST_MAIL_DIR,
#     waiting up to MAIL_TIMEOUT seconds, default 30); $RESET_TOKEN -> the
#     same from its "Reset your password" email; $SESSION -> the
#     session_token of the latest answer that had one (a POST /signin 200).
# Environment: API_URL and TEST_MAIL_DIR (required); TEST_OUTPUT_DIR (optional)
# gets each response as curl-examples/NN.txt.
# Exits non-zero if any example failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
README=${1:-$HERE/README.md}
: "${API_URL:?set API_URL to the base URL of a running signup-api, e.g. http://localhost:8080}"
: "${TEST_MAIL_DIR:?set TEST_MAIL_DIR to the directory the mail catcher saves *.eml in}"
MAIL_TIMEOUT=${MAIL_TIMEOUT:-30}
README_BASE_URL=http://localhost:8080
README_EMAIL=budi@lintasarta.co.id
README_OTHER_EMAIL=someone-else@lintasarta.co.id

BASE_URL=${API_URL%/}
# The URL is pasted into commands, so it must not need quoting.
url_re='^https?://[][A-Za-z0-9.:@%_~-]+(/[A-Za-z0-9._~%/-]*)?$'
if ! [[ $BASE_URL =~ $url_re ]]; then
  echo "curl-examples: API_URL must be a plain http(s) URL without quotes, spaces or query, got '$API_URL'" >&2
  exit 2
fi
command -v curl >/dev/null || {
  echo "curl-examples: curl is not installed" >&2
  exit 2
}
[ -r "$README" ] || {
  echo "curl-examples: cannot read $README" >&2
  exit 2
}

FRESH_EMAIL="curl-$(date +%s)-$$@lintasarta.co.id"
OTHER_EMAIL="curl-$(date +%s)-$$-unknown@lintasarta.co.id"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT_DIR=
if [ -n "${TEST_OUTPUT_DIR:-}" ]; then
  OUT_DIR=$TEST_OUTPUT_DIR/curl-examples
  rm -rf "$OUT_DIR"
  mkdir -p "$OUT_DIR"
fi

# --- reading the README -----------------------------------------------------------------

# Each example becomes three parallel entries: the README line it starts on, the
# command, and the expectation ("<status>" or "<status> <text>").
ex_lines=()
ex_commands=()
ex_expects=()
parse_errors=0

parse_readme() {
  local line lineno=0 in_sh=0 in_other=0 start=0 command expect has_curl
  while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    if ((in_sh)); then
      if [[ $line =~ ^\`\`\`[[:space:]]*$ ]]; then
        in_sh=0
        if [ -n "$expect" ]; then
          if [ -z "$command" ]; then
            echo "curl-examples: $README:$start: '# expect:' without a command" >&2
            parse_errors=$((parse_errors + 1))
          else
            ex_lines+=("$start")
            ex_commands+=("$command")
            ex_expects+=("$expect")
          fi
        elif ((has_curl)); then
          echo "curl-examples: $README:$start: a sh block with curl but no '# expect: <status>' line" >&2
          parse_errors=$((parse_errors + 1))
        fi
      elif [[ $line =~ ^#\ expect:\ *([0-9]{3})(\ +(.*))?$ ]]; then
        if [ -n "$expect" ]; then
          echo "curl-examples: $README:$lineno: a second '# expect:' in one block (one example per block)" >&2
          parse_errors=$((parse_errors + 1))
        fi
        expect=${BASH_REMATCH[1]}
        [ -z "${BASH_REMATCH[3]}" ] || expect+=" ${BASH_REMATCH[3]}"
      elif [[ $line =~ ^#\ *expect ]]; then
        echo "curl-examples: $README:$lineno: malformed expectation (want '# expect: <status> [text]'): $line" >&2
        parse_errors=$((parse_errors + 1))
      else
        [[ $line != *curl* ]] || has_curl=1
        if [ -n "$expect" ] && [ -n "$line" ]; then
          echo "curl-examples: $README:$lineno: '# expect:' must be the block's last line" >&2
          parse_errors=$((parse_errors + 1))
        fi
        if [ -n "$line" ]; then
          command+=${command:+$'\n'}$line
        fi
      fi
    elif ((in_other)); then
      [[ ! $line =~ ^\`\`\` ]] || in_other=0
    elif [[ $line =~ ^\`\`\`sh[[:space:]]*$ ]]; then
      in_sh=1 start=$lineno command='' expect='' has_curl=0
    elif [[ $line =~ ^\`\`\` ]]; then
      in_other=1
    fi
  done <"$README"
  if ((in_sh || in_other)); then
    echo "curl-examples: $README: unterminated code block" >&2
    parse_errors=$((parse_errors + 1))
  fi
}

# --- the verification and reset tokens ---------------------------------------------------

TOKEN=
RESET_TOKEN=
VERIFY_SUBJECT='Verify your email address'
RESET_SUBJECT='Reset your password'

# Prints the token of the link in the text part of the newest email to $1
# with Subject $2 in TEST_MAIL_DIR; fails when there is none (yet).
token_from_mail() {
  /usr/bin/env python3 - "$TEST_MAIL_DIR" "$1" "$2" <<'PY'
import email, email.policy, glob, os, re, sys, urllib.parse

directory, address, subject = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
for path in sorted(glob.glob(os.path.join(directory, "*.eml")), reverse=True):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    if address not in (v.strip().lower() for v in msg.get_all("X-Envelope-To", [])):
        continue
    if msg.get("Subject", "") != subject:
        continue
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        continue
    for line in part.get_content().splitlines():  # quoted-printable decoded
        line = line.strip()
        if re.fullmatch(r"https?://\S+", line) and "token=" in line:
            token = urllib.parse.parse_qs(urllib.parse.urlsplit(line).query).get("token", [""])[0]
            if token:
                print(token)
                sys.exit(0)
sys.exit(1)
PY
}

# Sets the variable named $1 to the token of the newest email with Subject $2.
wait_for_token() {
  local deadline=$((SECONDS + MAIL_TIMEOUT)) found
  until found=$(token_from_mail "$FRESH_EMAIL" "$2"); do
    if ((SECONDS >= deadline)); then
      echo "curl-examples: no \"$2\" email to $FRESH_EMAIL in $TEST_MAIL_DIR within ${MAIL_TIMEOUT}s" \
        "(the example that sends it must come before the first example using \$$1)" >&2
      return 1
    fi
    sleep 0.2
  done
  printf -v "$1" '%s' "$found"
}

# --- the session token ------------------------------------------------------------------

SESSION=

# Keeps the session_token of response $1, if it has one (a sign-in's 200).
remember_session() {
  local found
  found=$(grep -oE '"session_token":"[A-Za-z0-9_-]+"' "$1" | head -n 1) || return 0
  found=${found#'"session_token":"'}
  SESSION=${found%'"'}
}

# --- running the examples ---------------------------------------------------------------

# Runs example $1: prints the HTTP status to stdout, the response to file $2.
run_example() {
  local command=${ex_commands[$1]} response=$2
  command=${command//"$README_BASE_URL"/$BASE_URL}
  command=${command//"$README_EMAIL"/$FRESH_EMAIL}
  command=${command//"$README_OTHER_EMAIL"/$OTHER_EMAIL}
  # A function named curl takes precedence over the binary inside the snippet.
  # shellcheck disable=SC2016 # expanded by the inner shell
  RESPONSE_FILE=$response TOKEN=$TOKEN RESET_TOKEN=$RESET_TOKEN SESSION=$SESSION bash -o pipefail -c '
    curl() { command curl --silent --show-error --max-time 30 --output "$RESPONSE_FILE" --write-out "%{http_code}" "$@"; }
    '"$command"
}

parse_readme
if ((parse_errors > 0)); then
  echo "curl-examples: $parse_errors problem(s) in $README" >&2
  exit 1
fi
if [ ${#ex_commands[@]} -eq 0 ]; then
  echo "curl-examples: no examples found in $README" >&2
  exit 1
fi

echo "curl-examples: ${#ex_commands[@]} examples from $README against $BASE_URL (fresh address $FRESH_EMAIL)"
passed=0
failed=()
for i in "${!ex_commands[@]}"; do
  n=$(printf '%02d' $((i + 1)))
  where="${README##*/}:${ex_lines[$i]}"
  expect=${ex_expects[$i]}
  want_status=${expect%% *}
  want_text=
  [[ $expect != *" "* ]] || want_text=${expect#* }
  response=$WORK/$n.txt
  : >"$response"

  if [[ ${ex_commands[$i]} == *\$TOKEN* ]] && [ -z "$TOKEN" ] && ! wait_for_token TOKEN "$VERIFY_SUBJECT"; then
    failed+=("$where")
    echo "not ok $n $where: no token for: ${ex_commands[$i]}"
    continue
  fi

  if [[ ${ex_commands[$i]} == *\$RESET_TOKEN* ]] && [ -z "$RESET_TOKEN" ] && ! wait_for_token RESET_TOKEN "$RESET_SUBJECT"; then
    failed+=("$where")
    echo "not ok $n $where: no token for: ${ex_commands[$i]}"
    continue
  fi

  if [[ ${ex_commands[$i]} == *SESSION* ]] && [ -z "$SESSION" ]; then
    failed+=("$where")
    echo "not ok $n $where: no session token yet (a sign-in example answering 200 must come first): ${ex_commands[$i]}"
    continue
  fi

  got_status=$(run_example "$i" "$response" 2>"$WORK/$n.err") || true
  remember_session "$response"
  problem=
  if ! [[ $got_status =~ ^[0-9]{3}$ ]] || [ "$got_status" = 000 ]; then
    problem="no HTTP answer ($(tr '\n' ' ' <"$WORK/$n.err"))"
  elif [ "$got_status" != "$want_status" ]; then
    problem="status $got_status, expected $want_status"
  elif [ -n "$want_text" ] && ! grep -qF -- "$want_text" "$response"; then
    problem="the response does not contain '$want_text'"
  fi
  [ -z "$OUT_DIR" ] || cp "$response" "$OUT_DIR/$n.txt"

  if [ -z "$problem" ]; then
    passed=$((passed + 1))
    echo "ok $n $where $got_status ${want_text:+($want_text)}"
  else
    failed+=("$where")
    echo "not ok $n $where: $problem"
    echo "  command: ${ex_commands[$i]}"
    echo "  response:"
    sed -e 's/^/    /' -e 's/\r$//' "$response" | head -n 30
    echo
  fi
done

echo "curl-examples: $passed/${#ex_commands[@]} passed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "curl-examples: FAILED: ${failed[*]}" >&2
  exit 1
fi
