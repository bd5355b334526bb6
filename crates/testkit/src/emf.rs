//! Reads log lines as CloudWatch Logs reads Embedded Metric Format (the specification,
//! "Embedded metric format document structure"): a JSON object with `_aws.Timestamp` (a
//! number, milliseconds) and `_aws.CloudWatchMetrics` directives, each naming a namespace,
//! dimension sets whose every member is a string at the top level, and metrics whose values
//! are numbers at the top level. A line that breaks a rule is an error, so a test fails where
//! CloudWatch would drop the metric silently.

use serde_json::Value;

/// One metric value CloudWatch would record from a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub namespace: String,
    pub name: String,
    /// Dimension names and values, in the set's order.
    pub dimensions: Vec<(String, String)>,
    pub value: f64,
}

/// The data a log line yields: empty for a line that is not EMF (no `_aws` member), an error
/// naming the broken rule for a line that claims EMF and would be rejected.
pub fn extract(line: &str) -> Result<Vec<Datum>, String> {
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(line) else {
        return Ok(Vec::new());
    };
    let Some(aws) = root.get("_aws") else {
        return Ok(Vec::new());
    };
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err(format!(
            "_aws.Timestamp is not a number of milliseconds: {line}"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("_aws.CloudWatchMetrics is not an array: {line}"))?;
    let mut data = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"]
            .as_str()
            .filter(|ns| !ns.is_empty())
            .ok_or_else(|| format!("a directive has no Namespace: {line}"))?;
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or_else(|| format!("Dimensions is not an array: {line}"))?;
        let metrics = directive["Metrics"]
            .as_array()
            .ok_or_else(|| format!("Metrics is not an array: {line}"))?;
        for set in sets {
            let names = set
                .as_array()
                .filter(|names| names.len() <= 30)
                .ok_or_else(|| format!("a dimension set is not an array of at most 30: {line}"))?;
            let mut dimensions = Vec::new();
            for name in names {
                let name = name
                    .as_str()
                    .ok_or_else(|| format!("a dimension name is not a string: {line}"))?;
                let value = root
                    .get(name)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty() && v.chars().count() <= 1024)
                    .ok_or_else(|| format!("dimension {name} is not a top-level string of 1 to 1024 characters: {line}"))?;
                dimensions.push((name.to_string(), value.to_string()));
            }
            for metric in metrics {
                let name = metric["Name"]
                    .as_str()
                    .ok_or_else(|| format!("a metric has no Name: {line}"))?;
                let value = root.get(name).and_then(Value::as_f64).ok_or_else(|| {
                    format!("metric {name} has no numeric top-level value: {line}")
                })?;
                data.push(Datum {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    dimensions: dimensions.clone(),
                    value,
                });
            }
        }
    }
    Ok(data)
}

/// Every datum in `logs`, one line at a time; panics naming the first line CloudWatch would
/// reject.
pub fn data(logs: &str) -> Vec<Datum> {
    logs.lines()
        .flat_map(|line| extract(line).unwrap_or_else(|err| panic!("{err}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_cloudwatch_rejects() {
        let good = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["A"],["A","B"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"A":"a","B":"b","M":1}"#;
        let data = extract(good).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(
            data[1].dimensions,
            [("A".into(), "a".into()), ("B".into(), "b".into())]
        );
        assert!(extract(&good.replace(r#","B":"b""#, "")).is_err());
        assert!(extract(&good.replace(r#""M":1"#, r#""M":"1""#)).is_err());
        assert!(extract(&good.replace(r#""Timestamp":1"#, r#""Timestamp":"1""#)).is_err());
        assert!(extract(r#"{"level":"INFO"}"#).unwrap().is_empty());
    }
}
