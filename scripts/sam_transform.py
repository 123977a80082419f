#!/usr/bin/env python3
"""Transforms a SAM template into the CloudFormation template AWS would deploy, offline.

cfn-lint checks SAM resources only superficially; on the transformed template it checks the real
resources (Lambda event source mappings, Function URLs, IAM policies). Managed policies that SAM
attaches by name are mapped to their well-known ARNs instead of being looked up in IAM.

With --resolve, the result is also resolved for one choice of parameters, as CloudFormation
would at deploy time: each condition evaluated (parameters at their defaults unless given as
NAME=VALUE), each Fn::If replaced by its branch, AWS::NoValue dropped, and resources whose
condition is false removed. Static scanners (checkov, `make scan`) cannot see through Fn::If: a
role with a conditional statement, or a key given by a parameter, is otherwise left unchecked.

usage: sam_transform.py TEMPLATE OUTPUT.json [--resolve [NAME=VALUE...]]
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


NO_VALUE = object()


def resolve(template, overrides):
    """The template with its conditions decided for these parameter values (see the docstring)."""
    params = {name: str(p.get("Default", "")) for name, p in (template.get("Parameters") or {}).items()}
    params.update(overrides)
    conditions = template.get("Conditions") or {}
    decided = {}

    def value(node):
        if isinstance(node, dict) and set(node) == {"Ref"}:
            name = node["Ref"]
            if name not in params:
                raise SystemExit(f"a condition refers to {name}, which is not a parameter")
            return params[name]
        if isinstance(node, dict) and set(node) == {"Fn::Join"}:
            sep, items = node["Fn::Join"]
            return sep.join(str(value(i)) for i in (value(items) if isinstance(items, dict) else items))
        return node

    def truth(node):
        if isinstance(node, dict) and len(node) == 1:
            (fn, args), = node.items()
            if fn == "Condition":
                return condition(args)
            if fn == "Fn::Equals":
                return str(value(args[0])) == str(value(args[1]))
            if fn == "Fn::Not":
                return not truth(args[0])
            if fn == "Fn::And":
                return all(truth(a) for a in args)
            if fn == "Fn::Or":
                return any(truth(a) for a in args)
        raise SystemExit(f"cannot evaluate the condition {node!r}")

    def condition(name):
        if name not in decided:
            decided[name] = truth(conditions[name])
        return decided[name]

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return walk(yes if condition(name) else no)
            if node == {"Ref": "AWS::NoValue"}:
                return NO_VALUE
            out = {}
            for key, item in node.items():
                item = walk(item)
                if item is not NO_VALUE:
                    out[key] = item
            return out
        if isinstance(node, list):
            return [i for i in (walk(i) for i in node) if i is not NO_VALUE]
        return node

    resources = {}
    for name, resource in (template.get("Resources") or {}).items():
        if "Condition" in resource and not condition(resource["Condition"]):
            continue
        resource = walk({k: v for k, v in resource.items() if k != "Condition"})
        resources[name] = resource
    out = {k: v for k, v in template.items() if k not in ("Resources", "Conditions", "Outputs")}
    out["Resources"] = resources
    # The values chosen become the defaults, which is what a scanner reads a Ref as.
    for name, value in overrides.items():
        out["Parameters"][name]["Default"] = value
    return out


def carry_checkov_skips(source, transformed):
    """A function's checkov skips (its Metadata) also cover the Function URL SAM writes for it,
    which has no place of its own in the template for them."""
    for name, resource in (source.get("Resources") or {}).items():
        skips = (resource.get("Metadata") or {}).get("checkov")
        url = transformed["Resources"].get(f"{name}Url")
        if skips and resource.get("Type") == "AWS::Serverless::Function" and url:
            url.setdefault("Metadata", {})["checkov"] = skips


def main():
    source, target = sys.argv[1], sys.argv[2]
    overrides = None
    if len(sys.argv) > 3:
        if sys.argv[3] != "--resolve":
            raise SystemExit(__doc__)
        overrides = dict(arg.split("=", 1) for arg in sys.argv[4:])
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # `sam package` replaces local code paths with S3 locations; do the same with placeholders.
    for name, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = f"s3://placeholder-artifacts/{name}.zip"
    transformed = transform(template, {}, ManagedPolicies())
    carry_checkov_skips(template, transformed)
    if overrides is not None:
        transformed = resolve(transformed, overrides)
    with open(target, "w", encoding="utf-8") as f:
        json.dump(transformed, f, indent=1)


if __name__ == "__main__":
    main()
