#!/usr/bin/env bash
# End-to-end tests: example specs built by Docker's real BuildKit through the frontend image,
# and the images run and inspected. Needs the test bed (`scripts/bed up`).
# Runs every suite in tests/e2e/ (or those named as arguments) and prints `N passed, N failed`.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/e2e/lib.sh"

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  for file in "$ROOT"/tests/e2e/*.sh; do
    [ "$(basename "$file")" = lib.sh ] || suites+=("$(basename "$file" .sh)")
  done
fi
for suite in "${suites[@]}"; do
  echo "== e2e suite: $suite"
  # shellcheck disable=SC1090
  source "$ROOT/tests/e2e/$suite.sh"
done

echo
if [ "$failed" -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
