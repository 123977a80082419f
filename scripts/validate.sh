#!/usr/bin/env bash
# `make validate`: checks template.yaml offline, as AWS would see it.
#
#   1. `sam validate` (SAM's own checks, with fake credentials and a region: nothing is called),
#   2. the SAM transform to plain CloudFormation, then cfn-lint on the result,
#   3. tools/deploy-check: the transformed template resolved for each parameter combination and
#      checked against the code and AWS's rules (make test runs it with the other tests).
#
#   scripts/validate.sh [TEMPLATE]     validate one template (default template.yaml)
#   scripts/validate.sh --self-test    also prove that broken copies are rejected
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-eu-west-1}" AWS_REGION="${AWS_REGION:-eu-west-1}"
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY
export SAM_CLI_TELEMETRY=0
out="$here/.run/validate"
mkdir -p "$out"

scripts/setup.sh aws
# samtranslator comes with aws-sam-cli, in its virtual environment.
sam_python="$TOOLS_DIR/venv/aws-sam-cli/bin/python"

validate() {
  local template="$1" name
  name="$(basename "$template" .yaml)"
  sam validate --template-file "$template" --region "$AWS_DEFAULT_REGION" >"$out/$name.sam.log" 2>&1 \
    || { cat "$out/$name.sam.log" >&2; return 1; }
  "$sam_python" scripts/sam_transform.py "$template" "$out/$name.json" 2>"$out/$name.transform.log" \
    || { cat "$out/$name.transform.log" >&2; return 1; }
  cfn-lint --format parseable "$out/$name.json" >&2 || return 1
}

if [[ "${1:-}" != "--self-test" ]]; then
  validate "${1:-template.yaml}"
  echo "validate: ${1:-template.yaml} is valid (sam validate, cfn-lint on the transformed template)"
  # What AWS would deploy, per parameter combination, held to the code (tools/deploy-check).
  cargo test --locked --quiet -p deploy-check -- --include-ignored
  exit 0
fi

validate template.yaml
echo "validate: template.yaml is valid"
broken() {
  local name="$1" expr="$2" copy="$out/broken-$1.yaml"
  broken_template "$copy" "$expr"
  if validate "$copy" 2>"$out/broken-$name.log"; then
    log "the broken copy '$name' was accepted"
    return 1
  fi
  echo "validate: broken copy '$name' rejected: $(grep -m1 -E 'E[0-9]{4}|Error|error' "$out/broken-$name.log" | cut -c1-160)"
}
broken bad-runtime '^    Runtime: provided.al2023$=>    Runtime: provided.al2099'
broken batch-size '^      BatchSize: !Ref BatchSize$=>      BatchSize: 100000'
broken dangling-ref '^      EventSourceArn: !Ref MskClusterArn$=>      EventSourceArn: !Ref MskClusterArnTypo'
