#!/usr/bin/env python3
"""Transforms a SAM template into the CloudFormation template AWS would deploy, offline.

cfn-lint checks SAM resources only superficially; on the transformed template it checks the real
resources (Lambda event source mappings, Function URLs, IAM policies). Managed policies that SAM
attaches by name are mapped to their well-known ARNs instead of being looked up in IAM.

usage: sam_transform.py TEMPLATE OUTPUT.json
"""
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class ManagedPolicies:
    """Answers every AWS-managed policy name with its ARN, as IAM would."""

    def load(self):
        return self

    def get(self, name, default=None):
        return f"arn:aws:iam::aws:policy/service-role/{name}"

    def __getitem__(self, name):
        return self.get(name)

    def __contains__(self, name):
        return True


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # `sam package` replaces local code paths with S3 locations; do the same with placeholders.
    for name, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = f"s3://placeholder-artifacts/{name}.zip"
    transformed = transform(template, {}, ManagedPolicies())
    with open(target, "w", encoding="utf-8") as f:
        json.dump(transformed, f, indent=1)


if __name__ == "__main__":
    main()
