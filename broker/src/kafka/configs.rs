//! DescribeConfigs: a topic's effective settings as Kafka names them (retention from the
//! managers, the batch size limit of this broker); brokers describe the few that apply.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::errors::code;
use super::{Kafka, Who};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// `config_source` of a topic's own setting and of a default.
const TOPIC_CONFIG: i8 = 1;
const DEFAULT_CONFIG: i8 = 5;

pub(super) async fn describe(
    k: &Kafka,
    who: &Who,
    r: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let mut results = Vec::with_capacity(r.resources.len());
    for res in r.resources {
        let out = DescribeConfigsResult::default()
            .with_resource_type(res.resource_type)
            .with_resource_name(res.resource_name.clone());
        let entries: Result<Vec<(&'static str, String, i8)>, i16> = match res.resource_type {
            TOPIC => match k
                .managers
                .topic(who.token(), res.resource_name.as_str(), false)
                .await
            {
                Ok(t) => Ok(vec![
                    ("retention.ms", t.retention_ms.to_string(), TOPIC_CONFIG),
                    (
                        "retention.bytes",
                        t.retention_bytes.to_string(),
                        TOPIC_CONFIG,
                    ),
                    ("cleanup.policy", "delete".into(), DEFAULT_CONFIG),
                    (
                        "max.message.bytes",
                        k.api.settings.limits.max_batch_bytes.to_string(),
                        DEFAULT_CONFIG,
                    ),
                ]),
                Err(e) => Err(code(&e)),
            },
            BROKER => Ok(vec![(
                "message.max.bytes",
                k.api.settings.limits.max_batch_bytes.to_string(),
                DEFAULT_CONFIG,
            )]),
            _ => Err(ResponseError::InvalidRequest.code()),
        };
        let wanted = |name: &str| {
            res.configuration_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
        };
        results.push(match entries {
            Ok(list) => out.with_configs(
                list.into_iter()
                    .filter(|(n, _, _)| wanted(n))
                    .map(|(name, value, source)| {
                        DescribeConfigsResourceResult::default()
                            .with_name(StrBytes::from_static_str(name))
                            .with_value(Some(StrBytes::from_string(value)))
                            .with_read_only(source == DEFAULT_CONFIG)
                            .with_config_source(source)
                    })
                    .collect(),
            ),
            Err(c) => out.with_error_code(c),
        });
    }
    DescribeConfigsResponse::default().with_results(results)
}
