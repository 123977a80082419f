//! `template.yaml` as AWS would deploy it, for every combination of the parameters that change
//! its shape: the Function URL's auth type, and the on-failure destination.

use deploy_check::{deploy, transform, Stack};
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

const ARN: &str = "arn:aws:kafka:eu-west-1:123456789012:cluster/demo/0f3c1a2b-4d5e-1";

fn transformed() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        transform(&root, &root.join("template.yaml")).expect("the SAM transform runs")
    })
}

/// The stack deployed with the required parameters and `extra`, which may replace them.
fn stack(extra: &[(&str, &str)]) -> Stack {
    let mut params: Vec<(&str, &str)> = [
        ("MskClusterArn", ARN),
        ("SubnetIds", "subnet-1,subnet-2"),
        ("SecurityGroupIds", "sg-1"),
    ]
    .into_iter()
    .filter(|(name, _)| !extra.iter().any(|(given, _)| given == name))
    .collect();
    params.extend_from_slice(extra);
    deploy(transformed(), &params).unwrap_or_else(|e| panic!("{extra:?} does not deploy: {e:#?}"))
}

/// The parameters of each `AuthMode`, the name starting with the mode.
const AUTH_MODES: [(&str, &[(&str, &str)]); 3] = [
    ("iam", &[("AuthMode", "iam")]),
    (
        "jwt",
        &[
            ("AuthMode", "jwt"),
            (
                "JwtIssuer",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
            ),
            ("JwtAudience", "app-client-id"),
        ],
    ),
    (
        "none",
        &[("AuthMode", "none"), ("AllowAnonymousAccess", "true")],
    ),
];

fn combinations() -> Vec<(&'static str, Stack)> {
    let mut out = Vec::new();
    for (auth, auth_params) in AUTH_MODES {
        for (dest, extra) in [
            ("no destination", vec![]),
            (
                "kafka",
                vec![
                    ("OnFailureKafkaTopic", "failed-batches"),
                    ("MaximumRetryAttempts", "5"),
                ],
            ),
            (
                "s3",
                vec![
                    ("OnFailureS3BucketArn", "arn:aws:s3:::failed-batches"),
                    ("MaximumRecordAgeInSeconds", "3600"),
                ],
            ),
        ] {
            let mut params = auth_params.to_vec();
            params.push(("CorsAllowedOrigins", "https://app.example.com"));
            params.extend(extra);
            let name: &'static str = Box::leak(format!("{auth}, {dest}").into_boxed_str());
            out.push((name, stack(&params)));
        }
        let mut params = auth_params.to_vec();
        params.push(("CorsAllowedOrigins", "https://app.example.com"));
        params.push(("ApiComputeMode", "managed-instances"));
        let name: &'static str =
            Box::leak(format!("{auth}, managed instances, no destination").into_boxed_str());
        out.push((name, stack(&params)));
    }
    out
}

/// events-api's logical id: one resource per compute mode (`ApiComputeMode`).
fn api_function(stack: &Stack) -> &'static str {
    if stack.resources.contains_key(MANAGED_API) {
        MANAGED_API
    } else {
        "EventsApiFunction"
    }
}

/// events-api on Lambda Managed Instances.
const MANAGED_API: &str = "EventsApiManagedFunction";

fn statements(stack: &Stack, role: &str) -> Vec<Value> {
    stack.props(role)["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn function_env(stack: &Stack, function: &str) -> Vec<(String, String)> {
    stack.props(function)["Environment"]["Variables"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn a_public_url_is_granted_both_actions_and_an_iam_url_neither() {
    for (name, s) in combinations() {
        let public: Vec<&Value> = s
            .of_type("AWS::Lambda::Permission")
            .map(|(_, r)| &r["Properties"])
            .filter(|p| {
                p["Principal"] == "*" && p["FunctionName"] == format!("ref:{}", api_function(&s))
            })
            .collect();
        let public_url = !name.starts_with("iam");
        if public_url {
            assert!(
                public
                    .iter()
                    .any(|p| p["Action"] == "lambda:InvokeFunctionUrl"
                        && p["FunctionUrlAuthType"] == "NONE"),
                "{name}: no lambda:InvokeFunctionUrl for everyone"
            );
            assert!(
                public.iter().any(|p| p["Action"] == "lambda:InvokeFunction"
                    && p["InvokedViaFunctionUrl"] == true),
                "{name}: no lambda:InvokeFunction via the URL for everyone"
            );
        } else {
            assert!(
                public.is_empty(),
                "{name}: an IAM URL is granted to everyone: {public:?}"
            );
        }
        let url = s
            .of_type("AWS::Lambda::Url")
            .next()
            .map(|(_, r)| &r["Properties"])
            .expect("a Function URL");
        let want = if public_url { "NONE" } else { "AWS_IAM" };
        assert_eq!(url["AuthType"], want, "{name}");
        let mode = name.split(',').next().unwrap_or_default();
        let env = function_env(&s, api_function(&s));
        assert!(
            env.contains(&("AUTH_MODE".to_owned(), mode.to_owned())),
            "{name}: {env:?}"
        );
    }
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn cors_is_answered_once_and_lets_signed_requests_through() {
    for (name, s) in combinations() {
        let url = s
            .of_type("AWS::Lambda::Url")
            .next()
            .map(|(_, r)| &r["Properties"])
            .expect("URL");
        assert!(
            url["Cors"]["AllowOrigins"].is_array(),
            "{name}: the Function URL answers CORS"
        );
        let env = function_env(&s, api_function(&s));
        assert!(
            !env.iter()
                .any(|(k, v)| k == "CORS_ALLOWED_ORIGINS" && !v.is_empty()),
            "{name}: the function would add a second Access-Control-Allow-Origin"
        );
        let headers: Vec<&str> = url["Cors"]["AllowHeaders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for h in events_api::CORS_ALLOW_HEADERS {
            assert!(headers.contains(&h), "{name}: preflight refuses {h}");
        }
        let exposed: Vec<&str> = url["Cors"]["ExposeHeaders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for h in events_api::CORS_EXPOSE_HEADERS {
            assert!(exposed.contains(&h), "{name}: scripts cannot read {h}");
        }
        let methods: Vec<&str> = url["Cors"]["AllowMethods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for route in events_api::Route::ALL {
            let m = route.method();
            assert!(
                methods.contains(&m.as_str()),
                "{name}: preflight refuses {m} {}",
                route.path()
            );
        }
        if name.starts_with("iam") {
            for h in ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"] {
                assert!(headers.contains(&h), "{name}: preflight refuses {h}");
            }
        }
    }
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn the_trigger_never_skips_unless_a_destination_keeps_the_records() {
    for (name, s) in combinations() {
        // Partial batch responses where AWS offers them (provisioned mode), and the processor
        // answers that way exactly then.
        let (_, mapping) = s
            .of_type("AWS::Lambda::EventSourceMapping")
            .next()
            .expect("an MSK trigger");
        let provisioned = !mapping["Properties"]["ProvisionedPollerConfig"].is_null();
        let reports = mapping["Properties"]["FunctionResponseTypes"]
            == serde_json::json!(["ReportBatchItemFailures"]);
        assert_eq!(reports, provisioned, "{name}");
        let env = function_env(&s, "EventsProcessorFunction");
        let told = env.contains(&("REPORT_BATCH_ITEM_FAILURES".to_owned(), "true".to_owned()));
        assert_eq!(
            told, reports,
            "{name}: the processor's answer and the mapping disagree"
        );
        let (_, esm) = s
            .of_type("AWS::Lambda::EventSourceMapping")
            .next()
            .expect("an MSK trigger");
        let p = &esm["Properties"];
        assert_eq!(
            p["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"],
            "user-activity-consumer-group"
        );
        let metrics: Vec<&str> = p["MetricsConfig"]["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert!(metrics.contains(&"KafkaMetrics"), "{name}: {metrics:?}");
        let destination = p["DestinationConfig"]["OnFailure"]["Destination"].as_str();
        let role = statements(&s, "EventsProcessorRole");
        match destination {
            None => {
                assert!(name.ends_with("no destination"), "{name}");
                assert!(
                    p.get("MaximumRetryAttempts").is_none_or(|v| v == "-1"),
                    "{name}: {p}"
                );
                assert!(
                    p.get("MaximumRecordAgeInSeconds").is_none_or(|v| v == "-1"),
                    "{name}: {p}"
                );
            }
            Some(d) if d.starts_with("kafka://") => {
                assert_eq!(d, "kafka://failed-batches");
                assert_eq!(p["MaximumRetryAttempts"], "5");
                assert!(
                    p["ProvisionedPollerConfig"].is_object(),
                    "{name}: error handling needs provisioned mode"
                );
                assert!(
                    role.iter()
                        .any(|st| actions(st).contains(&"kafka-cluster:WriteData".into())
                            && st["Resource"]
                                .as_str()
                                .is_some_and(|r| r.ends_with("/failed-batches"))),
                    "{name}: the role cannot write the destination"
                );
            }
            Some(d) => {
                assert_eq!(d, "arn:aws:s3:::failed-batches", "{name}");
                assert!(
                    role.iter()
                        .any(|st| actions(st).contains(&"s3:PutObject".into())),
                    "{name}"
                );
                assert!(
                    !d.contains("sqs") && !d.contains("sns"),
                    "{name}: offsets alone are not kept records"
                );
            }
        }
    }
    let other_group = stack(&[("ConsumerGroupId", "second-stack")]);
    let (_, esm) = other_group
        .of_type("AWS::Lambda::EventSourceMapping")
        .next()
        .expect("trigger");
    assert_eq!(
        esm["Properties"]["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"],
        "second-stack"
    );
    let role = statements(&other_group, "EventsProcessorRole");
    assert!(role.iter().any(|st| st["Resource"]
        .as_str()
        .is_some_and(|r| r.ends_with(":group/demo/0f3c1a2b-4d5e-1/second-stack"))));
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn roles_grant_what_the_functions_use_and_no_more() {
    let s = stack(&[]);
    let processor: Vec<String> = statements(&s, "EventsProcessorRole")
        .iter()
        .flat_map(actions)
        .collect();
    assert!(
        !processor.contains(&"kafka-cluster:WriteDataIdempotently".into()),
        "the dead-letter producer is not idempotent"
    );
    let api: Vec<String> = statements(&s, "EventsApiRole")
        .iter()
        .flat_map(actions)
        .collect();
    assert!(
        api.contains(&"kafka-cluster:WriteDataIdempotently".into()),
        "the event producer is idempotent"
    );
    // X-Ray traces the API; it does not trace functions behind a Kafka event source mapping
    // (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html), so the processor has
    // neither tracing nor its grants.
    assert!(api.contains(&"xray:PutTraceSegments".into()));
    assert!(
        !processor.iter().any(|a| a.starts_with("xray:")),
        "{processor:?}"
    );
    assert_eq!(
        s.props("EventsApiFunction")["TracingConfig"]["Mode"],
        "Active"
    );
    assert!(s.props("EventsProcessorFunction")["TracingConfig"].is_null());
    // A Kafka on-failure destination: Lambda writes to it with this role as a producer, which
    // describes the cluster; only then.
    let describes = |s: &Stack| {
        statements(s, "EventsProcessorRole").iter().any(|st| {
            actions(st).contains(&"kafka-cluster:DescribeCluster".to_owned())
                && st["Resource"] == ARN
        })
    };
    assert!(!describes(&s));
    assert!(describes(&stack(&[(
        "OnFailureKafkaTopic",
        "failed-batches"
    )])));
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn lambda_may_attach_the_functions_to_the_vpc_and_their_code_may_not() {
    const WRITES: [&str; 4] = [
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ];
    let s = stack(&[]);
    for role in ["EventsApiRole", "EventsProcessorRole"] {
        let all = statements(&s, role);
        // Lambda checks these on every resource when it creates the function
        // (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
        for action in WRITES.iter().chain(&["ec2:DescribeNetworkInterfaces"]) {
            assert!(
                all.iter().any(|st| st["Effect"] == "Allow"
                    && st["Resource"] == "*"
                    && actions(st).contains(&(*action).to_owned())),
                "{role} does not allow {action} on every resource"
            );
        }
        // The calls from the function's code carry lambda:SourceFunctionArn; Lambda's own do not
        // (https://docs.aws.amazon.com/lambda/latest/dg/permissions-source-function-arn.html).
        let deny = all
            .iter()
            .find(|st| st["Effect"] == "Deny")
            .unwrap_or_else(|| panic!("{role} denies its code nothing"));
        let mut denied = actions(deny);
        denied.sort();
        let mut writes = WRITES.map(str::to_owned).to_vec();
        writes.sort();
        assert_eq!(denied, writes, "{role}");
        assert_eq!(deny["Resource"], "*");
        assert_eq!(
            deny["Condition"]["ArnLike"]["lambda:SourceFunctionArn"],
            "arn:aws:lambda:eu-west-1:123456789012:function:*",
            "{role}"
        );
        // checkov's CKV_AWS_111 is skipped there, with that reason.
        let skips = transformed()["Resources"][role]["Metadata"]["checkov"]["skip"].to_string();
        assert!(
            skips.contains("CKV_AWS_111") && skips.contains("configuration-vpc"),
            "{role}: {skips}"
        );
    }
    // On managed instances the capacity provider puts the instances in the VPC and the API
    // function has no VpcConfig: its role allows no network-interface action at all.
    let managed = stack(&[("ApiComputeMode", "managed-instances")]);
    let allowed: Vec<String> = statements(&managed, "EventsApiRole")
        .iter()
        .filter(|st| st["Effect"] == "Allow")
        .flat_map(actions)
        .collect();
    assert!(
        !allowed.iter().any(|a| a.starts_with("ec2:")),
        "{allowed:?}"
    );
    assert!(managed.props("EventsApiManagedFunction")["VpcConfig"].is_null());
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn logs_are_kept_for_the_retention_and_the_alarms_watch_lag_errors_and_dead_letters() {
    let s = stack(&[("AlarmTopicArn", "arn:aws:sns:eu-west-1:123456789012:ops")]);
    for (function, group) in [
        ("EventsApiFunction", "EventsApiLogGroup"),
        ("EventsProcessorFunction", "EventsProcessorLogGroup"),
    ] {
        assert_eq!(
            s.props(function)["LoggingConfig"]["LogGroup"],
            format!("ref:{group}")
        );
        assert_eq!(s.props(group)["RetentionInDays"], "30");
    }
    let alarms: Vec<(String, &Value)> = s
        .of_type("AWS::CloudWatch::Alarm")
        .map(|(_, a)| {
            (
                a["Properties"]["MetricName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                &a["Properties"],
            )
        })
        .collect();
    for metric in [
        "OffsetLag",
        "Errors",
        "PollingErrorCount",
        events_processor::names::FAILED,
        events_processor::names::DEAD_LETTERED,
        events_processor::names::LAG_MAX,
        events_api::observe::names::UNAVAILABLE,
    ] {
        let alarm = alarms
            .iter()
            .find(|(m, _)| m == metric)
            .unwrap_or_else(|| panic!("no {metric} alarm"));
        assert_eq!(
            alarm.1["AlarmActions"][0],
            "arn:aws:sns:eu-west-1:123456789012:ops"
        );
    }
    // A mapping that cannot poll invokes nothing, so only its own metric tells: published per
    // mapping, under its UUID (the mapping's Ref).
    let (_, polling) = alarms
        .iter()
        .find(|(m, _)| m == "PollingErrorCount")
        .expect("a polling alarm");
    assert_eq!(polling["Namespace"], "AWS/Lambda");
    assert_eq!(
        polling["Dimensions"],
        serde_json::json!([{"Name": "EventSourceMappingUUID", "Value": "ref:EventsProcessorMskTrigger"}])
    );
    let metrics = s.props("EventsProcessorMskTrigger")["MetricsConfig"]["Metrics"].to_string();
    assert!(metrics.contains("ErrorCount"), "{metrics}");
}

/// docs/deploy.md's key policy for `KmsKeyArn` parses, and lets CloudWatch Logs use the key
/// for exactly the log groups the template names (`/STACK/…`).
#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn the_documented_key_policy_admits_the_stacks_log_groups() {
    let doc = include_str!("../../../docs/deploy.md");
    let block = doc
        .split_once("## The key policy for `KmsKeyArn`")
        .and_then(|(_, rest)| rest.split_once("```json\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(json, _)| json)
        .expect("docs/deploy.md has the key policy");
    let policy: Value = serde_json::from_str(block).expect("the key policy is JSON");
    let statements = policy["Statement"].as_array().expect("statements");
    let logs = statements
        .iter()
        .find(|st| st["Principal"]["Service"] == "logs.REGION.amazonaws.com")
        .expect("a statement for CloudWatch Logs");
    let pattern = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
        .as_str()
        .expect("the log group condition");
    let prefix = pattern
        .strip_suffix('*')
        .and_then(|p| p.strip_prefix("arn:aws:logs:REGION:ACCOUNT:log-group:"))
        .expect("a log-group ARN pattern")
        .replace("STACK", "stack");
    let s = stack(&[]);
    for group in ["EventsApiLogGroup", "EventsProcessorLogGroup"] {
        let name = s.props(group)["LogGroupName"].as_str().unwrap_or_default();
        assert!(
            name.starts_with(&prefix),
            "{group} {name:?} is not under {prefix:?}"
        );
    }
    let dynamodb = statements.iter().find(|st| {
        st["Condition"]["StringEquals"]["kms:ViaService"] == "dynamodb.REGION.amazonaws.com"
    });
    assert!(dynamodb.is_some(), "a statement for DynamoDB");
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn alarms_on_the_functions_metrics_name_what_the_code_writes() {
    let s = stack(&[]);
    let namespaces: Vec<String> = ["EventsApiFunction", "EventsProcessorFunction"]
        .iter()
        .map(|f| {
            function_env(&s, f)
                .into_iter()
                .find(|(k, _)| k == "METRICS_NAMESPACE")
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("{f} has no METRICS_NAMESPACE"))
        })
        .collect();
    assert_eq!(namespaces[0], namespaces[1], "one namespace for both");
    let mut checked = 0;
    for (name, alarm) in s.of_type("AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        let namespace = p["Namespace"].as_str().unwrap_or_default();
        if namespace.starts_with("AWS/") {
            continue;
        }
        assert_eq!(
            namespace, namespaces[0],
            "{name}: not the functions' namespace"
        );
        let service = p["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["Name"] == pipeline_runtime::metrics::SERVICE)
            .and_then(|d| d["Value"].as_str())
            .unwrap_or_else(|| panic!("{name}: no Service dimension"));
        let written: &[&str] = match service {
            events_api::SERVICE => &events_api::observe::names::ALL,
            events_processor::SERVICE => &events_processor::names::ALL,
            other => panic!("{name}: no program is called {other:?}"),
        };
        let metric = p["MetricName"].as_str().unwrap_or_default();
        assert!(
            written.contains(&metric),
            "{name}: {service} writes no metric {metric:?}"
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "the alarms on the functions' metrics were not found"
    );
}

/// Variables Lambda itself sets, and settings the template leaves at their defaults on purpose.
const NOT_FROM_THE_TEMPLATE: &[(&str, &str)] = &[
    ("AWS_REGION", "set by Lambda"),
    ("AWS_DEFAULT_REGION", "set by Lambda"),
    ("AWS_LAMBDA_RUNTIME_API", "set by Lambda"),
    (
        "AWS_LAMBDA_MAX_CONCURRENCY",
        "set by Lambda on managed instances, from PerExecutionEnvironmentMaxConcurrency",
    ),
    (
        "KAFKA_HEALTH_TIMEOUT_MS",
        "its default (2 s) is the most GET /health may take",
    ),
    (
        "CORS_ALLOWED_ORIGINS",
        "the Function URL answers CORS on AWS",
    ),
    ("PORT", "plain-server mode only"),
    (
        "ALLOW_ANONYMOUS_ACCESS",
        "the plain server's; on AWS the rule AnonymousAccessIsChosen decides",
    ),
    ("METRICS", "on unless turned off"),
    (
        "EVENT_TTL_DAYS",
        "the processor's setting; events-api reads no TTL",
    ),
];

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn each_function_gets_the_settings_its_code_reads_and_nothing_else() {
    use pipeline_runtime::env::Recording;
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("AWS_REGION", "eu-west-1"),
    ];
    for function in ["EventsApiFunction", "EventsProcessorFunction"] {
        // What the code reads in any mode (the JWT_* settings only in jwt mode).
        let mut asked_in_any = std::collections::BTreeSet::new();
        let mut set = Vec::new();
        for (mode, params) in AUTH_MODES {
            let s = stack(params);
            let env = function_env(&s, function);
            let mut source: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            source.extend(lambda);
            let recording = Recording::new(source.as_slice());
            let read = if function == "EventsApiFunction" {
                events_api::Config::from_parts(&recording, None).map(drop)
            } else {
                events_processor::Config::from_source(&recording).map(drop)
            };
            read.unwrap_or_else(|e| {
                panic!("{function} ({mode}) would not start with the template's settings: {e}")
            });
            let asked = recording.asked();
            for name in &asked {
                let reason = NOT_FROM_THE_TEMPLATE.iter().find(|(n, _)| n == name);
                assert!(
                    env.iter().any(|(k, _)| k == name) || reason.is_some(),
                    "{function} ({mode}) reads {name}, which the template does not set"
                );
            }
            asked_in_any.extend(asked);
            set = env;
        }
        for (name, value) in &set {
            assert!(
                asked_in_any.contains(name),
                "{function}: the template sets {name}={value}, which its code never reads"
            );
        }
    }
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn the_table_has_the_layout_the_store_uses() {
    let layout = event_store::DYNAMODB_LAYOUT;
    let with_ttl = stack(&[("EventTtlDays", "30")]);
    let table = with_ttl.props("EventsTable");
    let mut attributes: Vec<&str> = table["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["AttributeName"].as_str())
        .collect();
    attributes.sort_unstable();
    assert_eq!(attributes, layout.attributes());
    assert_eq!(table["KeySchema"][0]["AttributeName"], layout.key);
    assert_eq!(table["KeySchema"].as_array().map(Vec::len), Some(1));
    let mut indexes: Vec<(String, String, String, String)> = table["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            let projection = g["Projection"]["ProjectionType"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let key = |kind: &str| {
                g["KeySchema"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|k| k["KeyType"] == kind)
                    .and_then(|k| k["AttributeName"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                g["IndexName"].as_str().unwrap_or_default().to_owned(),
                key("HASH"),
                key("RANGE"),
                projection,
            )
        })
        .collect();
    indexes.sort();
    let mut expected: Vec<(String, String, String, String)> = layout
        .indexes
        .iter()
        .map(|(n, p, s, j)| {
            (
                (*n).to_owned(),
                (*p).to_owned(),
                (*s).to_owned(),
                (*j).to_owned(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(indexes, expected);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        layout.ttl_attribute
    );
    // On by default too: idempotency-key items expire whatever EventTtlDays says.
    assert_eq!(
        stack(&[]).props("EventsTable")["TimeToLiveSpecification"]["Enabled"],
        true
    );
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn an_open_url_without_sign_in_is_refused_unless_chosen_and_jwt_needs_its_issuer() {
    let base = [
        ("MskClusterArn", ARN),
        ("SubnetIds", "subnet-1,subnet-2"),
        ("SecurityGroupIds", "sg-1"),
    ];
    let refused = |extra: &[(&str, &str)], rule: &str| {
        let mut params = base.to_vec();
        params.extend_from_slice(extra);
        let errors = deploy(transformed(), &params).err().unwrap_or_default();
        assert!(
            errors.iter().any(|e| e.contains(rule)),
            "{extra:?} deployed, or failed otherwise: {errors:?}"
        );
    };
    refused(&[("AuthMode", "none")], "AnonymousAccessIsChosen");
    refused(
        &[("AuthMode", "none"), ("AllowAnonymousAccess", "false")],
        "AnonymousAccessIsChosen",
    );
    refused(&[("AuthMode", "jwt")], "JwtNeedsAnIssuer");
    refused(
        &[("AuthMode", "jwt"), ("JwtIssuer", "https://id.example")],
        "JwtNeedsAnIssuer",
    );
    // The default is IAM: nothing public.
    let s = stack(&[]);
    assert_eq!(
        s.of_type("AWS::Lambda::Url")
            .next()
            .map(|(_, u)| &u["Properties"]["AuthType"]),
        Some(&Value::from("AWS_IAM"))
    );
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn nothing_is_reserved_unless_asked_zero_is_refused_and_no_page_is_allowed_by_default() {
    // A new account's quota may not spare a reservation and the 100 unreserved executions AWS
    // requires (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html):
    // the defaults reserve nothing, so a first deploy goes through.
    let s = stack(&[]);
    let reserved = |s: &Stack, f: &str| s.props(f)["ReservedConcurrentExecutions"].clone();
    for f in ["EventsApiFunction", "EventsProcessorFunction"] {
        assert!(reserved(&s, f).is_null(), "{f} reserves by default");
    }
    let capped = stack(&[
        ("ApiReservedConcurrency", "100"),
        ("ProcessorReservedConcurrency", "10"),
    ]);
    assert_eq!(reserved(&capped, "EventsApiFunction"), "100");
    assert_eq!(reserved(&capped, "EventsProcessorFunction"), "10");
    // 0 throttles a function completely: refused before anything is created.
    for parameter in ["ApiReservedConcurrency", "ProcessorReservedConcurrency"] {
        let mut params = vec![
            ("MskClusterArn", ARN),
            ("SubnetIds", "subnet-1"),
            ("SecurityGroupIds", "sg-1"),
        ];
        params.push((parameter, "0"));
        let errors = deploy(transformed(), &params).err().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("ReservationsLetTheFunctionsRun") && e.contains(parameter)),
            "{parameter} 0: {errors:?}"
        );
    }
    // CORS: no origin unless one is given.
    let url = s
        .of_type("AWS::Lambda::Url")
        .next()
        .map(|(_, r)| r["Properties"].clone())
        .expect("URL");
    assert!(url["Cors"].is_null(), "default CORS: {}", url["Cors"]);
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn the_template_keeps_to_what_aws_accepts() {
    let s = stack(&[]);
    // Key items always expire, whatever EventTtlDays says.
    let table = s.props("EventsTable");
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        "expiresAt"
    );
    // AWS's own keys unless a customer managed one is given; then the table, both log groups
    // and both functions' environments use it, and both roles may.
    assert_eq!(table["SSESpecification"]["SSEEnabled"], false);
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd";
    let cmk = stack(&[("KmsKeyArn", key)]);
    assert_eq!(
        cmk.props("EventsTable")["SSESpecification"]["KMSMasterKeyId"],
        key
    );
    let key_grant = |s: &Stack, role: &str| {
        statements(s, role)
            .into_iter()
            .filter(|st| st["Resource"] == key)
            .flat_map(|st| actions(&st))
            .collect::<Vec<_>>()
    };
    for (function, group, role) in [
        ("EventsApiFunction", "EventsApiLogGroup", "EventsApiRole"),
        (
            "EventsProcessorFunction",
            "EventsProcessorLogGroup",
            "EventsProcessorRole",
        ),
    ] {
        assert_eq!(cmk.props(function)["KmsKeyArn"], key, "{function}");
        assert_eq!(cmk.props(group)["KmsKeyId"], key, "{group}");
        assert_eq!(
            key_grant(&cmk, role),
            ["kms:Decrypt", "kms:GenerateDataKey"]
        );
        assert!(s.props(function)["KmsKeyArn"].is_null(), "{function}");
        assert!(s.props(group)["KmsKeyId"].is_null(), "{group}");
        assert!(key_grant(&s, role).is_empty(), "{role}");
    }
    // A delete of the table is refused until protection is turned off.
    assert_eq!(table["DeletionProtectionEnabled"], true);
    // A key's ARN (a log group and a function take no alias), or nothing.
    let key_pattern = transformed()["Parameters"]["KmsKeyArn"]["AllowedPattern"]
        .as_str()
        .expect("a pattern");
    let key_pattern = regex_lite::Regex::new(key_pattern).expect("a regex");
    assert!(key_pattern.is_match("") && key_pattern.is_match(key));
    for refused in [
        "alias/events",
        "arn:aws:kms:eu-west-1:123456789012:alias/events",
        "1234abcd",
    ] {
        assert!(!key_pattern.is_match(refused), "{refused}");
    }
    // Bootstrap brokers given: the functions skip the lookup.
    let brokers = "b-1.demo.kafka.eu-west-1.amazonaws.com:9098";
    let given = stack(&[("KafkaBootstrapBrokers", brokers)]);
    for f in ["EventsApiFunction", "EventsProcessorFunction"] {
        assert!(function_env(&given, f).contains(&("KAFKA_BROKERS".to_owned(), brokers.to_owned())));
    }
    // Pollers as parameters in provisioned mode.
    let polled = stack(&[
        ("OnFailureKafkaTopic", "failed-batches"),
        ("MinimumPollers", "2"),
        ("MaximumPollers", "6"),
    ]);
    let (_, esm) = polled
        .of_type("AWS::Lambda::EventSourceMapping")
        .next()
        .expect("an MSK trigger");
    assert_eq!(
        esm["Properties"]["ProvisionedPollerConfig"],
        serde_json::json!({"MinimumPollers": "2", "MaximumPollers": "6"})
    );
    // The mapping's own logs, offered in provisioned mode only
    // (https://docs.aws.amazon.com/lambda/latest/dg/esm-logging.html).
    assert_eq!(
        esm["Properties"]["LoggingConfig"],
        serde_json::json!({"SystemLogLevel": "WARN"})
    );
    let (_, on_demand) = s
        .of_type("AWS::Lambda::EventSourceMapping")
        .next()
        .expect("an MSK trigger");
    assert!(on_demand["Properties"]["LoggingConfig"].is_null());
    let base = [
        ("MskClusterArn", ARN),
        ("SubnetIds", "subnet-1"),
        ("SecurityGroupIds", "sg-1"),
    ];
    // Changing these replaces the mapping, whose new copy cannot join the old one's group: each
    // says so where `sam deploy --guided` asks for it.
    for parameter in ["MskClusterArn", "KafkaTopic", "StartingPosition"] {
        let description = transformed()["Parameters"][parameter]["Description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.contains("replaces the event source mapping")
                && description.contains("ConsumerGroupId"),
            "{parameter}: {description:?}"
        );
    }
    // Function URLs are not offered everywhere: refused before anything is created.
    for (region, offered) in [
        ("eu-west-1", true),
        ("us-east-1", true),
        ("ap-south-2", false),
        ("il-central-1", false),
    ] {
        let mut params = base.to_vec();
        params.push(("AWS::Region", region));
        let errors = deploy(transformed(), &params).err().unwrap_or_default();
        assert_eq!(
            errors.iter().any(|e| e.contains("FunctionUrlsAreOffered")),
            !offered,
            "{region}: {errors:?}"
        );
    }
    // A cluster in another account and region: the topic and group ARNs are the cluster's.
    let elsewhere = "arn:aws:kafka:us-east-2:210987654321:cluster/shared/9a8b7c6d-1";
    let remote = stack(&[("MskClusterArn", elsewhere)]);
    let remote_arns: Vec<String> = statements(&remote, "EventsProcessorRole")
        .iter()
        .chain(statements(&remote, "EventsApiRole").iter())
        .filter_map(|st| st["Resource"].as_str().map(str::to_owned))
        .filter(|r| r.contains(":topic/") || r.contains(":group/"))
        .collect();
    assert!(remote_arns.len() >= 4, "{remote_arns:?}");
    for arn in &remote_arns {
        assert!(
            arn.starts_with("arn:aws:kafka:us-east-2:210987654321:"),
            "{arn}"
        );
    }
    // An SSE-KMS failure bucket: the processor may make data keys with its key, and only then.
    let key_arn = "arn:aws:kms:eu-west-1:123456789012:key/feed";
    let bucket = stack(&[
        ("OnFailureS3BucketArn", "arn:aws:s3:::failed-batches"),
        ("OnFailureS3KmsKeyArn", key_arn),
    ]);
    let grants: Vec<serde_json::Value> = statements(&bucket, "EventsProcessorRole")
        .into_iter()
        .filter(|st| actions(st).contains(&"kms:GenerateDataKey".to_owned()))
        .collect();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["Resource"], key_arn);
    assert!(!statements(&s, "EventsProcessorRole")
        .iter()
        .any(|st| actions(st).iter().any(|a| a.starts_with("kms:"))));
    // The on-failure topic is a topic of its own.
    for topic in ["user-activity-events", "user-activity-events.dlq"] {
        let mut params = base.to_vec();
        params.push(("OnFailureKafkaTopic", topic));
        let errors = deploy(transformed(), &params).err().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("FailureTopicIsNeitherSourceNorDeadLetters")),
            "{topic}: {errors:?}"
        );
    }
    // The record age AWS accepts: -1 or 60 to 604800.
    let pattern = transformed()["Parameters"]["MaximumRecordAgeInSeconds"]["AllowedPattern"]
        .as_str()
        .expect("a pattern")
        .to_owned();
    let pattern = regex_lite::Regex::new(&pattern).expect("a regex");
    let accepted = |v: i64| pattern.is_match(&v.to_string());
    assert!(accepted(-1) && accepted(60) && accepted(3600) && accepted(604_800));
    for refused in [0, 1, 59, 604_801, 1_000_000, -2] {
        assert!(!accepted(refused), "{refused}");
    }
    for v in 60..=604_800 {
        assert!(accepted(v), "{v}");
    }
}

/// docs/deploy.md's table of the parameters `sam deploy --guided` asks for names each parameter of
/// the template, and nothing else.
#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn the_deploy_doc_lists_every_parameter_and_no_other() {
    let doc = include_str!("../../../docs/deploy.md");
    let start = doc
        .find("`sam deploy --guided` asks for the parameters")
        .expect("docs/deploy.md has the table of parameters");
    let mut named = std::collections::BTreeSet::new();
    for row in doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let first = row.split('|').nth(1).unwrap_or_default();
        named.extend(first.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    let parameters: std::collections::BTreeSet<String> = transformed()["Parameters"]
        .as_object()
        .expect("parameters")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        named, parameters,
        "docs/deploy.md's parameters / template.yaml's"
    );
}

#[test]
#[ignore = "needs aws-sam-cli (make setup)"]
fn either_compute_mode_deploys_the_same_function_and_managed_instances_run_it_concurrently() {
    let default = stack(&[]);
    let managed = stack(&[
        ("ApiComputeMode", "managed-instances"),
        ("ApiMaxConcurrency", "32"),
    ]);
    for (s, present, absent) in [
        (&default, "EventsApiFunction", MANAGED_API),
        (&managed, MANAGED_API, "EventsApiFunction"),
    ] {
        assert!(s.resources.contains_key(present), "{present}");
        assert!(!s.resources.contains_key(absent), "{absent}");
        assert_eq!(s.of_type("AWS::Lambda::Url").count(), 1, "one Function URL");
        let (_, url) = s.of_type("AWS::Lambda::Url").next().expect("a URL");
        assert_eq!(
            url["Properties"]["TargetFunctionArn"],
            format!("ref:{present}")
        );
        assert_eq!(
            s.outputs["EventsApiUrl"],
            format!("att:{present}Url.FunctionUrl")
        );
        let (_, errors) = s
            .of_type("AWS::CloudWatch::Alarm")
            .find(|(name, _)| *name == "EventsApiErrorsAlarm")
            .expect("the API's errors alarm");
        assert_eq!(
            errors["Properties"]["Dimensions"][0]["Value"],
            format!("ref:{present}")
        );
    }
    assert_eq!(managed.of_type("AWS::Lambda::CapacityProvider").count(), 1);
    assert_eq!(default.of_type("AWS::Lambda::CapacityProvider").count(), 0);

    // The same function: every property but those of the compute model (and the code's
    // placeholder location, named after the resource) is the same.
    const OF_THE_MODEL: [&str; 5] = [
        "Code",
        "VpcConfig",
        "CapacityProviderConfig",
        "MemorySize",
        "ReservedConcurrentExecutions",
    ];
    let rest = |s: &Stack, f: &str| {
        let mut p = s.props(f).as_object().cloned().unwrap_or_default();
        p.retain(|k, _| !OF_THE_MODEL.contains(&k.as_str()));
        p
    };
    assert_eq!(
        rest(&default, "EventsApiFunction"),
        rest(&managed, MANAGED_API),
        "the two events-api resources drifted apart"
    );
    // The same build and the same checkov skips, but that the managed one is not in a VPC
    // itself (its capacity provider is).
    let meta = |f: &str| {
        let mut m = transformed()["Resources"][f]["Metadata"].clone();
        if let Some(skips) = m["checkov"]["skip"].as_array_mut() {
            skips.retain(|skip| skip["id"] != "CKV_AWS_117");
        }
        m
    };
    assert_eq!(meta("EventsApiFunction"), meta(MANAGED_API));

    // Default: attached to the VPC. Managed: on the capacity provider, which is in the VPC,
    // with Lambda's concurrency per environment and at least the 2 GB AWS requires.
    let api = default.props("EventsApiFunction");
    assert_eq!(
        api["VpcConfig"]["SubnetIds"],
        serde_json::json!(["subnet-1", "subnet-2"])
    );
    assert!(api["CapacityProviderConfig"].is_null());
    let api = managed.props(MANAGED_API);
    assert!(
        api["VpcConfig"].is_null(),
        "SAM and Lambda take no VpcConfig here"
    );
    let config = &api["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"];
    assert_eq!(
        config["CapacityProviderArn"],
        "att:EventsApiCapacityProvider.Arn"
    );
    assert_eq!(config["PerExecutionEnvironmentMaxConcurrency"], "32");
    assert_eq!(config["ExecutionEnvironmentMemoryGiBPerVCpu"], "2");
    assert_eq!(api["MemorySize"], "2048");
    let provider = managed.props("EventsApiCapacityProvider");
    assert_eq!(
        provider["VpcConfig"]["SubnetIds"],
        serde_json::json!(["subnet-1", "subnet-2"])
    );
    assert_eq!(
        provider["VpcConfig"]["SecurityGroupIds"],
        serde_json::json!(["sg-1"])
    );
    assert_eq!(
        provider["InstanceRequirements"]["Architectures"], api["Architectures"],
        "the instances run the function's architecture"
    );
    assert_eq!(
        provider["CapacityProviderScalingConfig"]["MaxVCpuCount"],
        "12"
    );
    let operator = provider["PermissionsConfig"]["CapacityProviderOperatorRoleArn"]
        .as_str()
        .and_then(|a| a.strip_prefix("att:"))
        .and_then(|a| a.strip_suffix(".Arn"))
        .expect("an operator role of the stack");
    assert_eq!(
        managed.props(operator)["ManagedPolicyArns"],
        serde_json::json!(["arn:aws:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"])
    );
    // The processor stays on the default model, in the VPC.
    let processor = managed.props("EventsProcessorFunction");
    assert!(processor["CapacityProviderConfig"].is_null());
    assert_eq!(
        processor["VpcConfig"]["SecurityGroupIds"],
        serde_json::json!(["sg-1"])
    );

    // A reservation would not hold on managed instances: refused, naming the cap that does.
    let errors = deploy(
        transformed(),
        &[
            ("MskClusterArn", ARN),
            ("SubnetIds", "subnet-1"),
            ("SecurityGroupIds", "sg-1"),
            ("ApiComputeMode", "managed-instances"),
            ("ApiReservedConcurrency", "100"),
        ],
    )
    .err()
    .unwrap_or_default();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("ManagedInstancesAreCappedByTheirCapacity")
                && e.contains("ApiMaxVCpuCount")),
        "{errors:?}"
    );
}
