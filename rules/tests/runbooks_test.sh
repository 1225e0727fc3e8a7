#!/usr/bin/env bash
# Tests that alerts and runbooks match one to one: every alert in rules/foresight-alerts.rules.yml
# has a runbook_url ending in /<alertname>.md and rules/runbooks/<alertname>.md exists; every
# runbook has its alert. A runbook starts with its alert's name and severity, has the sections an
# on-call reader looks for, and every `--set NAME=` it suggests is a rules/generate parameter.
#
# Usage: rules/tests/runbooks_test.sh
# Prints one line per failed check and a summary; exits 1 if any check failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rules=$(dirname "$here")
alerts_file=$rules/foresight-alerts.rules.yml
runbooks=$rules/runbooks

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

checks=0
failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}

# One line per alert: name, severity, runbook_url (tab-separated; empty when missing, "x2" when
# repeated). The generated file puts each on its own line.
awk '
  function flush() {
    if (name != "") print name "\t" severity "\t" url
  }
  /^[[:space:]]*- alert:/ { flush(); name = $3; severity = ""; url = ""; next }
  /^[[:space:]]*- (record|name):/ { flush(); name = ""; next }
  name != "" && /^[[:space:]]*severity:/ { severity = $2 }
  name != "" && /^[[:space:]]*runbook_url:/ { url = (url == "" ? $2 : "x2") }
  END { flush() }
' "$alerts_file" >"$tmp/alerts"

checks=$((checks + 1))
if [[ ! -s $tmp/alerts ]]; then
  fail "no alert found in $alerts_file"
fi

"$rules/generate" --list | sed -n 's/^\([a-z_]*\) (default .*/\1/p' | sort >"$tmp/parameters"

while IFS=$'\t' read -r name severity url; do
  checks=$((checks + 1))
  runbook=$runbooks/$name.md
  if [[ -z $url ]]; then
    fail "$name: no runbook_url annotation"
  elif [[ $url == x2 ]]; then
    fail "$name: more than one runbook_url"
  elif [[ $url != */"$name.md" ]]; then
    fail "$name: runbook_url $url does not end in /$name.md"
  fi
  checks=$((checks + 1))
  if [[ ! -f $runbook ]]; then
    fail "$name: no runbook rules/runbooks/$name.md"
    continue
  fi

  checks=$((checks + 1))
  if [[ $(head -n 1 "$runbook") != "# $name" ]]; then
    fail "rules/runbooks/$name.md: the first line is not '# $name'"
  fi
  checks=$((checks + 1))
  if ! grep -q "^\*\*Severity\*\* $severity\." "$runbook"; then
    fail "rules/runbooks/$name.md: does not say '**Severity** $severity.' (the rule's severity)"
  fi
  for section in Meaning Impact Diagnosis Mitigation "Silence or tune"; do
    checks=$((checks + 1))
    grep -qx "## $section" "$runbook" || fail "rules/runbooks/$name.md: no '## $section' section"
  done
  while read -r parameter; do
    checks=$((checks + 1))
    grep -qx -- "$parameter" "$tmp/parameters" ||
      fail "rules/runbooks/$name.md: suggests --set $parameter=, which rules/generate --list does not list"
  done < <(grep -o -- '--set [a-z_]*=' "$runbook" | sed 's/^--set \(.*\)=$/\1/' | sort -u)
done <"$tmp/alerts"

# No runbook without an alert.
for runbook in "$runbooks"/*.md; do
  [[ -e $runbook ]] || continue
  name=$(basename "$runbook" .md)
  checks=$((checks + 1))
  cut -f1 "$tmp/alerts" | grep -qx -- "$name" ||
    fail "rules/runbooks/$name.md: no alert $name in rules/foresight-alerts.rules.yml"
done

echo "runbooks_test.sh: $(wc -l <"$tmp/alerts") alerts, $checks checks, $failed failed"
[[ $failed -eq 0 ]]
