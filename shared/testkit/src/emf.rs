//! What the CloudWatch Embedded Metric Format specification requires of a document, checked
//! independently of the code that writes them:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use serde_json::{Map, Value};

/// CloudWatch's units.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Whether `line` is a log line meant as an EMF document (a JSON object with `_aws`).
pub fn is_document(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|v| v.get("_aws").is_some())
}

/// Checks one log line against the specification; returns the document when it conforms, else
/// the first rule it breaks.
pub fn check(line: &str) -> Result<Map<String, Value>, String> {
    // The whole log event is the JSON object, with nothing before or after it.
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not one JSON value: {e}"))?;
    let Value::Object(root) = root else {
        return Err("the root is not an object".into());
    };
    if line.len() > 1024 * 1024 {
        return Err("larger than a log event may be (1 MB)".into());
    }
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws metadata object")?;
    let timestamp = aws.get("Timestamp").ok_or("_aws.Timestamp is missing")?;
    if !timestamp.is_u64() {
        return Err(format!(
            "_aws.Timestamp must be whole milliseconds since the epoch, got {timestamp}"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics must be an array")?;
    for (i, directive) in directives.iter().enumerate() {
        let at = |what: &str| format!("CloudWatchMetrics[{i}]: {what}");
        let directive = directive.as_object().ok_or_else(|| at("not an object"))?;
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or_else(|| at("Namespace must be a string"))?;
        if namespace.trim().is_empty() || namespace.len() > 1024 {
            return Err(at(
                "Namespace must have 1 to 1024 characters, not only spaces",
            ));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or_else(|| at("Dimensions must be an array"))?;
        for set in sets {
            let keys = set
                .as_array()
                .ok_or_else(|| at("a dimension set must be an array"))?;
            if keys.len() > 30 {
                return Err(at("a dimension set has more than 30 dimensions"));
            }
            for key in keys {
                let key = key
                    .as_str()
                    .ok_or_else(|| at("a dimension name must be a string"))?;
                if key.is_empty() || key.len() > 255 {
                    return Err(at("a dimension name must have 1 to 255 characters"));
                }
                match root.get(key) {
                    Some(Value::String(v)) if !v.is_empty() && v.len() <= 1024 => {}
                    _ => {
                        return Err(at(&format!(
                            "dimension {key:?} has no member with a string of 1 to 1024 characters"
                        )))
                    }
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| at("Metrics must be an array"))?;
        if metrics.len() > 100 {
            return Err(at("more than 100 metrics"));
        }
        for metric in metrics {
            let metric = metric
                .as_object()
                .ok_or_else(|| at("a metric definition must be an object"))?;
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .ok_or_else(|| at("a metric needs a Name"))?;
            if name.is_empty() || name.len() > 1024 {
                return Err(at("a metric name must have 1 to 1024 characters"));
            }
            if let Some(unit) = metric.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(at(&format!("{name}: {unit} is not a CloudWatch unit")));
                }
            }
            if let Some(r) = metric.get("StorageResolution") {
                if r != 1 && r != 60 {
                    return Err(at(&format!("{name}: StorageResolution must be 1 or 60")));
                }
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if !values.is_empty()
                        && values.len() <= 100
                        && values.iter().all(Value::is_number) => {}
                _ => {
                    return Err(at(&format!(
                        "metric {name:?} has no member with a number or up to 100 numbers"
                    )))
                }
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(edit: impl FnOnce(&mut Value)) -> String {
        let mut v = json!({
            "_aws": {"Timestamp": 1, "CloudWatchMetrics": [
                {"Namespace": "N", "Dimensions": [["Service"]], "Metrics": [{"Name": "A", "Unit": "Count"}]}
            ]},
            "Service": "s",
            "A": 1
        });
        edit(&mut v);
        v.to_string()
    }

    #[test]
    fn a_conforming_document_passes_and_each_broken_rule_is_caught() {
        assert!(check(&doc(|_| {})).is_ok());
        let broken: [fn(&mut Value); 7] = [
            |v| v["_aws"]["Timestamp"] = json!("now"),
            |v| v["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!(" "),
            |v| v["Service"] = json!(3),
            |v| v["A"] = json!("1"),
            |v| v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Things"),
            |v| v["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["Missing"]]),
            |v| v["A"] = json!(vec![1; 101]),
        ];
        for (i, edit) in broken.into_iter().enumerate() {
            assert!(check(&doc(edit)).is_err(), "case {i}");
        }
        assert!(check("{} trailing").is_err());
    }
}
