//! CloudFormation as AWS would evaluate it, for tests without an AWS account.
//!
//! [`transform`] runs the SAM transform (`scripts/sam_transform.py`, with aws-sam-cli's
//! samtranslator) on `template.yaml`; [`deploy`] then does what CloudFormation does with given
//! parameter values (and pseudo parameters, `AWS::Region` …, when given): defaults filled in, the
//! template's `Rules` asserted (a failed assertion
//! fails the deploy with its description, as CloudFormation refuses the stack), conditions
//! evaluated, resources whose condition is false dropped, and `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::If`
//! and `AWS::NoValue` resolved. A `Ref` or `Fn::GetAtt` to nothing is an error, as a deploy
//! would be. A resource's `Ref` becomes `ref:Name` and an attribute `att:Name.Attr`.
#![warn(missing_docs)]

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Runs the SAM transform on `template` and returns the CloudFormation JSON. Needs aws-sam-cli
/// in `$TOOLS_DIR/venv/aws-sam-cli` (`make setup`).
pub fn transform(root: &Path, template: &Path) -> Result<Value, String> {
    let tools = std::env::var_os("TOOLS_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/activity-pipeline"))
        })
        .ok_or("neither TOOLS_DIR nor HOME is set")?;
    let python = tools.join("venv/aws-sam-cli/bin/python");
    let out = tempfile_path()?;
    // Offline: a region for the ARNs SAM writes, and nothing that could reach AWS.
    let status = std::process::Command::new(&python)
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
        )
        .arg(root.join("scripts/sam_transform.py"))
        .arg(template)
        .arg(&out)
        .status()
        .map_err(|e| format!("{}: {e} (run make setup)", python.display()))?;
    if !status.success() {
        return Err(format!(
            "the SAM transform of {} failed",
            template.display()
        ));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&out);
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

fn tempfile_path() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir();
    let n = std::process::id();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(dir.join(format!("deploy-check-{n}-{t}.json")))
}

/// The resources a stack would hold, resolved.
#[derive(Debug)]
pub struct Stack {
    /// Logical id → the resource (`Type`, `Properties`, …) with every intrinsic resolved.
    pub resources: BTreeMap<String, Value>,
    /// The outputs, resolved.
    pub outputs: BTreeMap<String, Value>,
}

impl Stack {
    /// The resources of `kind` (`AWS::Lambda::Permission` …).
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r["Type"] == kind)
            .map(|(k, v)| (k.as_str(), v))
    }

    /// One resource's properties (`Null` when there is no such resource).
    pub fn props(&self, name: &str) -> &Value {
        self.resources
            .get(name)
            .map_or(&Value::Null, |r| &r["Properties"])
    }
}

struct Resolver<'a> {
    pseudo: BTreeMap<String, String>,
    params: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
    raw_conditions: &'a Map<String, Value>,
    resources: &'a Map<String, Value>,
    errors: Vec<String>,
}

/// Deploys `template` (transformed JSON) in the mind, with `overrides` for its parameters.
pub fn deploy(template: &Value, overrides: &[(&str, &str)]) -> Result<Stack, Vec<String>> {
    let empty = Map::new();
    let resources = template["Resources"].as_object().unwrap_or(&empty);
    let mut r = Resolver {
        pseudo: PSEUDO
            .iter()
            .map(|(k, v)| {
                let given = overrides.iter().find(|(name, _)| name == k);
                ((*k).to_owned(), given.map_or(*v, |(_, v)| *v).to_owned())
            })
            .collect(),
        params: BTreeMap::new(),
        conditions: BTreeMap::new(),
        raw_conditions: template["Conditions"].as_object().unwrap_or(&empty),
        resources,
        errors: Vec::new(),
    };
    for (name, p) in template["Parameters"].as_object().unwrap_or(&empty) {
        let given = overrides
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| (*v).to_owned());
        let raw = given.or_else(|| p.get("Default").map(scalar));
        let Some(raw) = raw else {
            r.errors.push(format!("parameter {name} has no value"));
            continue;
        };
        let kind = p["Type"].as_str().unwrap_or("String");
        let value = if kind.starts_with("List<") || kind == "CommaDelimitedList" {
            Value::Array(raw.split(',').map(|s| Value::from(s.trim())).collect())
        } else {
            Value::from(raw)
        };
        r.params.insert(name.clone(), value);
    }
    for name in overrides.iter().map(|(k, _)| *k) {
        if !r.params.contains_key(name) && !r.pseudo.contains_key(name) {
            r.errors.push(format!("no parameter {name}"));
        }
    }
    for (name, rule) in template["Rules"].as_object().unwrap_or(&empty) {
        let applies = rule.get("RuleCondition").is_none_or(|c| r.truth(c));
        if !applies {
            continue;
        }
        for assertion in rule["Assertions"].as_array().into_iter().flatten() {
            if !r.truth(&assertion["Assert"]) {
                let why = assertion["AssertDescription"].as_str().unwrap_or_default();
                r.errors.push(format!("rule {name}: {why}"));
            }
        }
    }
    let names: Vec<String> = r.raw_conditions.keys().cloned().collect();
    for name in names {
        let _ = r.condition(&name);
    }
    let mut out = BTreeMap::new();
    for (name, resource) in resources {
        if let Some(c) = resource.get("Condition").and_then(Value::as_str) {
            if !r.condition(c) {
                continue;
            }
        }
        if let Some(v) = r.value(resource) {
            out.insert(name.clone(), v);
        }
    }
    let mut outputs = BTreeMap::new();
    for (name, o) in template["Outputs"].as_object().unwrap_or(&empty) {
        if let Some(v) = r.value(&o["Value"]) {
            outputs.insert(name.clone(), v);
        }
    }
    if r.errors.is_empty() {
        Ok(Stack {
            resources: out,
            outputs,
        })
    } else {
        Err(r.errors)
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const PSEUDO: &[(&str, &str)] = &[
    ("AWS::Region", "eu-west-1"),
    ("AWS::AccountId", "123456789012"),
    ("AWS::Partition", "aws"),
    ("AWS::StackName", "stack"),
    ("AWS::URLSuffix", "amazonaws.com"),
    (
        "AWS::StackId",
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/stack/id",
    ),
];

impl Resolver<'_> {
    fn condition(&mut self, name: &str) -> bool {
        if let Some(v) = self.conditions.get(name) {
            return *v;
        }
        let Some(raw) = self.raw_conditions.get(name).cloned() else {
            self.errors.push(format!("no condition {name}"));
            return false;
        };
        let v = self.truth(&raw);
        self.conditions.insert(name.to_owned(), v);
        v
    }

    fn truth(&mut self, v: &Value) -> bool {
        let Some((f, arg)) = single(v) else {
            self.errors.push(format!("not a condition: {v}"));
            return false;
        };
        let args = arg.as_array().cloned().unwrap_or_default();
        match f {
            "Fn::Equals" => {
                let a = args.first().and_then(|a| self.value(a)).map(|a| scalar(&a));
                let b = args.get(1).and_then(|b| self.value(b)).map(|b| scalar(&b));
                a == b
            }
            "Fn::Not" => !args.first().is_some_and(|a| self.truth(a)),
            // Rules only: whether the string is one of the list's.
            "Fn::Contains" => {
                let list = args.first().and_then(|l| self.value(l));
                let item = args.get(1).and_then(|i| self.value(i)).map(|i| scalar(&i));
                let list: Vec<String> = list
                    .as_ref()
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(scalar)
                    .collect();
                item.is_some_and(|i| list.contains(&i))
            }
            "Fn::And" => args.iter().all(|a| self.truth(a)),
            "Fn::Or" => args.iter().any(|a| self.truth(a)),
            "Condition" => {
                let name = arg.as_str().unwrap_or_default().to_owned();
                self.condition(&name)
            }
            other => {
                self.errors
                    .push(format!("unknown condition function {other}"));
                false
            }
        }
    }

    /// The resolved value, or `None` for `AWS::NoValue`.
    fn value(&mut self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.value(i)).collect(),
            )),
            Value::Object(map) => {
                if let Some((f, arg)) = single(v) {
                    if f == "Ref" || f.starts_with("Fn::") {
                        return self.function(f, arg);
                    }
                }
                let mut out = Map::new();
                for (k, item) in map {
                    if let Some(resolved) = self.value(item) {
                        out.insert(k.clone(), resolved);
                    }
                }
                Some(Value::Object(out))
            }
            other => Some(other.clone()),
        }
    }

    fn reference(&mut self, name: &str) -> Option<Value> {
        if name == "AWS::NoValue" {
            return None;
        }
        if let Some(p) = self.params.get(name) {
            return Some(p.clone());
        }
        if let Some(v) = self.pseudo.get(name) {
            return Some(Value::from(v.as_str()));
        }
        if self.resources.contains_key(name) {
            return Some(Value::from(format!("ref:{name}")));
        }
        self.errors.push(format!("Ref to nothing: {name}"));
        Some(Value::Null)
    }

    fn attribute(&mut self, resource: &str, attr: &str) -> Value {
        if !self.resources.contains_key(resource) {
            self.errors
                .push(format!("Fn::GetAtt of nothing: {resource}.{attr}"));
        }
        Value::from(format!("att:{resource}.{attr}"))
    }

    fn function(&mut self, f: &str, arg: &Value) -> Option<Value> {
        let args = arg.as_array().cloned().unwrap_or_default();
        let text = |r: &mut Self, v: &Value| r.value(v).map(|v| scalar(&v)).unwrap_or_default();
        Some(match f {
            "Ref" => return self.reference(arg.as_str().unwrap_or_default()),
            "Fn::GetAtt" => {
                let (res, attr) = match arg {
                    Value::String(s) => {
                        s.split_once('.').map(|(a, b)| (a.to_owned(), b.to_owned()))
                    }
                    _ => Some((
                        text(self, &args[0]),
                        text(self, args.get(1).unwrap_or(&Value::Null)),
                    )),
                }
                .unwrap_or_default();
                self.attribute(&res, &attr)
            }
            "Fn::If" => {
                let name = args
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let branch = if self.condition(&name) {
                    args.get(1)
                } else {
                    args.get(2)
                };
                return branch.and_then(|b| self.value(b));
            }
            "Fn::Join" => {
                let sep = text(self, &args[0]);
                let items = args
                    .get(1)
                    .and_then(|l| self.value(l))
                    .unwrap_or(Value::Null);
                let parts: Vec<String> =
                    items.as_array().into_iter().flatten().map(scalar).collect();
                Value::from(parts.join(&sep))
            }
            "Fn::Split" => {
                let sep = text(self, &args[0]);
                let s = text(self, args.get(1).unwrap_or(&Value::Null));
                Value::Array(s.split(sep.as_str()).map(Value::from).collect())
            }
            "Fn::Select" => {
                let i: usize = text(self, &args[0]).parse().unwrap_or(usize::MAX);
                let list = args
                    .get(1)
                    .and_then(|l| self.value(l))
                    .unwrap_or(Value::Null);
                match list.get(i) {
                    Some(v) => v.clone(),
                    None => {
                        self.errors.push(format!("Fn::Select {i} out of {list}"));
                        Value::Null
                    }
                }
            }
            "Fn::Sub" => {
                let (template, vars) = match arg {
                    Value::String(s) => (s.clone(), Map::new()),
                    _ => (
                        args.first()
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        args.get(1)
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default(),
                    ),
                };
                Value::from(self.sub(&template, &vars))
            }
            other => {
                self.errors.push(format!("unsupported function {other}"));
                Value::Null
            }
        })
    }

    fn sub(&mut self, template: &str, vars: &Map<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}').map(|e| e + start) else {
                break;
            };
            let name = &rest[start + 2..end];
            let value = if let Some(literal) = name.strip_prefix('!') {
                Value::from(format!("${{{literal}}}"))
            } else if let Some(v) = vars.get(name) {
                self.value(v).unwrap_or(Value::Null)
            } else if let Some((res, attr)) = name.split_once('.') {
                self.attribute(res, attr)
            } else {
                self.reference(name).unwrap_or(Value::Null)
            };
            if value.is_array() {
                self.errors.push(format!("Fn::Sub of a list: {name}"));
            }
            out.push_str(&scalar(&value));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// `{"Name": arg}` → `("Name", arg)`.
fn single(v: &Value) -> Option<(&str, &Value)> {
    let map = v.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intrinsics_resolve_as_cloudformation_would() {
        let t = json!({
            "Parameters": {
                "Auth": {"Type": "String", "Default": "AWS_IAM"},
                "Arn": {"Type": "String", "Default": "arn:aws:kafka:eu-west-1:1:cluster/demo/abc"},
                "Origins": {"Type": "CommaDelimitedList", "Default": "a,b"},
            },
            "Conditions": {"Public": {"Fn::Equals": [{"Ref": "Auth"}, "NONE"]}},
            "Resources": {
                "Fn": {"Type": "X", "Properties": {
                    "Name": {"Fn::Sub": ["${Name}-${AWS::Region}-${Other.Arn}", {"Name": {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "Arn"}]}]}}]},
                    "Joined": {"Fn::Join": [",", {"Ref": "Origins"}]},
                    "Maybe": {"Fn::If": ["Public", "yes", {"Ref": "AWS::NoValue"}]},
                }},
                "Other": {"Type": "Y", "Condition": "Public"},
            },
        });
        let stack = deploy(&t, &[]).expect("deploys");
        let p = stack.props("Fn");
        assert_eq!(p["Name"], "demo-eu-west-1-att:Other.Arn");
        assert_eq!(p["Joined"], "a,b");
        assert!(p.get("Maybe").is_none());
        assert!(!stack.resources.contains_key("Other"));
        let public = deploy(&t, &[("Auth", "NONE")]).expect("deploys");
        assert_eq!(public.props("Fn")["Maybe"], "yes");
        assert!(public.resources.contains_key("Other"));
    }

    #[test]
    fn a_rule_may_ask_which_region_the_stack_goes_to() {
        let t = json!({
            "Rules": {"Offered": {"Assertions": [{
                "Assert": {"Fn::Not": [{"Fn::Contains": [["ap-south-2", "il-central-1"], {"Ref": "AWS::Region"}]}]},
                "AssertDescription": "not here"
            }]}},
            "Resources": {"A": {"Type": "X", "Properties": {"R": {"Ref": "AWS::Region"}}}},
        });
        assert_eq!(
            deploy(&t, &[]).expect("deploys").props("A")["R"],
            "eu-west-1"
        );
        let refused = deploy(&t, &[("AWS::Region", "il-central-1")]).expect_err("refused");
        assert_eq!(refused, ["rule Offered: not here"]);
    }

    #[test]
    fn a_reference_to_nothing_fails_the_deploy() {
        let t = json!({"Resources": {"A": {"Type": "X", "Properties": {"B": {"Ref": "Nope"}, "C": {"Fn::GetAtt": ["Gone", "Arn"]}}}}});
        let errors = deploy(&t, &[]).expect_err("fails");
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
