# The bad-input table (tests/bad, see its README) through the frontend on the real daemon:
# each spec's build fails, its output holds the case's expected lines, and no image is left
# under the tag. llb-gen/tests/bad.rs runs the same table through `llb-gen check`.

BAD_TABLE=$ROOT/tests/bad
BAD_SPECS=$WORK/bad-specs
BAD_CONTEXT=$WORK/bad-context
mkdir -p "$BAD_SPECS" "$BAD_CONTEXT"
cp "$BAD_TABLE"/*.yaml "$BAD_SPECS/"
bash "$BAD_TABLE/generate.sh" "$BAD_SPECS"
# The syntax line names the frontend under test (the huge spec too: sed streams it).
sed -i "1s|^# syntax=.*|# syntax=$FRONTEND|" "$BAD_SPECS"/*.yaml

bad_cases=0
for expected_file in "$BAD_TABLE"/*.expected; do
  name=$(basename "$expected_file" .expected)
  bad_cases=$((bad_cases + 1))
  args=()
  [ -f "$BAD_TABLE/$name.args" ] && mapfile -t args <"$BAD_TABLE/$name.args"
  tag=flotilla-e2e/bad-$name:$RUN_ID
  log=$WORK/bad-$name.log
  if "$DOCKER" build --progress=plain -f "$BAD_SPECS/$name.yaml" "${args[@]}" -t "$tag" \
    "$BAD_CONTEXT" >"$log" 2>&1; then
    fail "bad spec $name: the build was accepted"
    "$DOCKER" image rm "$tag" >/dev/null 2>&1
    continue
  fi
  missing=
  while IFS= read -r line; do
    grep -qF -- "$line" "$log" || missing=$line
  done <"$expected_file"
  if [ -n "$missing" ]; then
    fail "bad spec $name: expected message not found" "$missing"; tail -n 3 "$log" | sed 's/^/     | /'
  elif "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
    fail "bad spec $name: an image was exported"
  elif grep -qi 'panicked' "$log"; then
    fail "bad spec $name: the frontend panicked"
  else
    pass "bad spec $name"
  fi
done
if [ "$bad_cases" -ge 30 ]; then
  pass "bad-input table: $bad_cases cases"
else
  fail "bad-input table: only $bad_cases cases"
fi
