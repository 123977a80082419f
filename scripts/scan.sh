#!/usr/bin/env bash
# `make scan`: checkov's static security checks on what AWS would deploy: template.yaml after the
# SAM transform (scripts/sam_transform.py, as `make validate` runs it), so that the checks see the
# real Lambda functions, roles and permissions SAM writes rather than its shorthand, and resolved
# for three choices of parameters (`sam_transform.py --resolve`): checkov cannot see through Fn::If,
# and would otherwise pass a role with a conditional statement, or a parameter's key, unchecked.
#
#   defaults   what `sam deploy` gives without options: AuthMode iam, no key, no destination
#   options    every optional part on: AuthMode jwt (a public URL), CORS, KmsKeyArn, an S3
#              on-failure destination encrypted with its own key, retries limited, alarms to SNS
#   managed    events-api on Lambda Managed Instances (ApiComputeMode managed-instances), jwt, CORS
#
# Every finding must be fixed or skipped with its reason next to the resource, in the template:
#
#   Metadata:
#     checkov:
#       skip:
#         - id: CKV_AWS_116
#           comment: why this check does not apply here
#
# (SAM copies a function's Metadata onto the function it writes, and sam_transform.py onto its
# Function URL; a `# checkov:skip=` comment would not survive the transform.) A skip without a
# reason fails the scan, as does any failed check.
#
#   scripts/scan.sh [TEMPLATE]     scan one template (default template.yaml)
#   scripts/scan.sh --self-test    also prove that broken copies of template.yaml are refused
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-eu-west-1}" AWS_REGION="${AWS_REGION:-eu-west-1}"
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY

scripts/setup.sh aws scan
work="$(mktemp -d)"
on_exit rm -rf "$work"

declare -A variants=(
  [defaults]=""
  [options]="AuthMode=jwt CorsAllowedOrigins=https://app.example.com
    KmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000
    OnFailureS3BucketArn=arn:aws:s3:::failed-batches MaximumRetryAttempts=5
    OnFailureS3KmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111
    AlarmTopicArn=arn:aws:sns:eu-west-1:123456789012:alarms"
  [managed]="ApiComputeMode=managed-instances AuthMode=jwt CorsAllowedOrigins=https://app.example.com"
)

# scan TEMPLATE VARIANT...: checkov on TEMPLATE resolved for each VARIANT; prints the counts and
# every skip with its reason, and fails on a failed check, a skip without a reason or a file
# checkov could not read.
scan() {
  local template="$1" name dir status reports=()
  shift
  for name in "$@"; do
    dir="$work/$(basename "$template" .yaml)-$name"
    mkdir -p "$dir"
    # shellcheck disable=SC2086 # one NAME=VALUE per word
    "$TOOLS_DIR/venv/aws-sam-cli/bin/python" scripts/sam_transform.py "$template" \
      "$dir/template.json" --resolve ${variants[$name]}
    # --skip-download: nothing is fetched from Prisma Cloud (guidelines, severities); the checks
    # are the ones this checkov version carries.
    status=0
    checkov --file "$dir/template.json" --framework cloudformation --skip-download \
      --output json >"$dir/report.json" 2>"$dir/checkov.log" || status=$?
    if [[ ! -s "$dir/report.json" ]]; then
      cat "$dir/checkov.log" >&2
      log "checkov wrote no report for $template ($name, exit $status)"
      return 1
    fi
    reports+=("$name=$dir/report.json=$dir/template.json")
  done
  "$TOOLS_DIR/venv/checkov/bin/python" - "$template" "${reports[@]}" <<'PY'
import json
import sys

# CKV_AWS_111 (writes without a resource constraint) is skipped on the execution roles for the
# network-interface writes Lambda makes with them, which AWS says to allow on every resource. A
# skip covers a whole role, so this holds it to its reason: on "*", a role may allow those,
# Describe actions and X-Ray's writes, and nothing else.
ON_EVERY_RESOURCE = {
    "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",
}


def wide_writes(resolved):
    """(role, action) for each Allow on every resource beyond what the skip's reason covers."""
    out = []
    for role, res in resolved.get("Resources", {}).items():
        if res.get("Type") != "AWS::IAM::Role":
            continue
        for policy in res.get("Properties", {}).get("Policies", []):
            for st in policy.get("PolicyDocument", {}).get("Statement", []):
                resources = st.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                if st.get("Effect") != "Allow" or "*" not in resources:
                    continue
                actions = st.get("Action", [])
                for action in actions if isinstance(actions, list) else [actions]:
                    if action not in ON_EVERY_RESOURCE and ":Describe" not in action:
                        out.append((role, action))
    return out


template, bad = sys.argv[1], False
for arg in sys.argv[2:]:
    name, path, resolved = arg.split("=", 2)
    report = json.load(open(path))
    results = report.get("results", {}) if isinstance(report, dict) else {}
    summary = report.get("summary", {}) if isinstance(report, dict) else {}
    failed = results.get("failed_checks", [])
    skipped = results.get("skipped_checks", [])
    unexplained = [
        s for s in skipped
        if (s.get("check_result", {}).get("suppress_comment") or "").strip()
        in ("", "No comment provided")
    ]
    print(f"scan: checkov {summary.get('checkov_version', '?')} on {template} "
          f"(SAM-transformed, {name}): {summary.get('passed', 0)} passed, {len(failed)} failed, "
          f"{len(skipped)} skipped")
    for s in skipped:
        reason = " ".join(s["check_result"].get("suppress_comment", "").split())
        print(f"  skipped {s['check_id']} on {s['resource']}: {reason}")
    for f in failed:
        print(f"  FAILED {f['check_id']} on {f['resource']}: {f['check_name']}", file=sys.stderr)
    for s in unexplained:
        print(f"  skip without a reason: {s['check_id']} on {s['resource']}", file=sys.stderr)
    if summary.get("parsing_errors"):
        print(f"  {summary['parsing_errors']} parsing errors", file=sys.stderr)
    wide = wide_writes(json.load(open(resolved)))
    for role, action in wide:
        print(f"  FAILED {role} allows {action} on every resource, which no skip's reason covers",
              file=sys.stderr)
    bad = bad or bool(failed or unexplained or summary.get("parsing_errors") or wide)
sys.exit(1 if bad else 0)
PY
}

if [[ "${1:-}" != "--self-test" ]]; then
  scan "${1:-template.yaml}" defaults options managed
  exit
fi

scan template.yaml defaults options managed
# broken NAME VARIANT 'PATTERN=>REPLACEMENT': a copy of template.yaml with one change, which the
# scan must refuse (the scan's own output goes to $work/NAME.log).
broken() {
  local name="$1" variant="$2" expr="$3" copy="$work/broken-$1.yaml"
  broken_template "$copy" "$expr"
  if scan "$copy" "$variant" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log" >&2
    log "the broken copy '$name' passed the scan"
    return 1
  fi
  echo "scan: broken copy '$name' refused: $(grep -m1 -E 'FAILED|without a reason' "$work/$name.log" | sed 's/^ *//')"
}
# A write on every resource in the API's role, beside the ones its CKV_AWS_111 skip is for.
broken wildcard-write defaults '^(                Action: \[xray:PutTraceSegments, xray:PutTelemetryRecords)\]=>\1, dynamodb:DeleteTable]'
# A skip whose reason was left out.
broken skip-without-reason defaults '^(          - id: CKV_AWS_116\n            comment: >-\n)(?:              .*\n)+?(          - id: CKV_AWS_173)=>          - id: CKV_AWS_116\n\2'
# A conditional statement with a wildcard write, seen only once conditions are resolved.
broken conditional-write options '^(                - Sid: StackKey\n                  Effect: Allow\n                  Action: \[kms:Decrypt, kms:GenerateDataKey\]\n                  Resource:) !Ref KmsKeyArn=>\1 "*"'
