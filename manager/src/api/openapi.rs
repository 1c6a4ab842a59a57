//! `GET /openapi.json`: the OpenAPI 3 document of the managers' client API, generated from the
//! handlers' `#[utoipa::path]` annotations and the protocol types (open without a token).

use raftbus_protocol::openapi::Conventions;
use utoipa::OpenApi;

use super::{cluster, groups, heartbeat, moves, page, proxy, retention, topics, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Raftbus manager client API",
        description = "Cluster metadata, topics, consumer groups, replica moves, users and ACLs, \
                       and produce/consume proxied to partition leaders. Every error is a JSON \
                       `ErrorBody` with a stable `code`."
    ),
    paths(
        page::index,
        cluster::health,
        cluster::metrics,
        cluster::managers,
        cluster::brokers,
        topics::list,
        topics::create,
        topics::describe,
        topics::delete,
        retention::alter,
        topics::partitions,
        topics::metadata,
        moves::reassign,
        moves::rebalance,
        proxy::produce,
        proxy::consume,
        heartbeat::producer,
        heartbeat::consumer,
        heartbeat::leave,
        users::list,
        users::add,
        users::remove,
        users::acls,
        users::change_acl,
        groups::list,
        groups::describe,
    ),
    modifiers(&Conventions)
)]
struct ManagerApi;

/// The heartbeat routes of clients: aliases of the register/join routes (same handler).
const ALIASES: [(&str, &str); 2] = [
    (
        raftbus_protocol::routes::PRODUCER_HEARTBEAT,
        raftbus_protocol::routes::PRODUCERS,
    ),
    (
        raftbus_protocol::routes::CONSUMER_HEARTBEAT,
        raftbus_protocol::routes::CONSUMERS,
    ),
];

/// The document (served by `raftbus_protocol::openapi::route`).
pub(super) fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ManagerApi::openapi();
    for (alias, of) in ALIASES {
        let Some(mut item) = doc.paths.paths.get(of).cloned() else {
            continue;
        };
        // Operation ids are unique within a document.
        if let Some(op) = item.post.as_mut() {
            op.operation_id = op.operation_id.take().map(|id| format!("{id}_heartbeat"));
        }
        doc.paths.paths.insert(alias.to_string(), item);
    }
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_client_route_is_documented() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 20, "{}", paths.len());
        let topic = &paths[raftbus_protocol::routes::TOPIC];
        for method in ["get", "patch", "delete"] {
            assert!(topic[method]["responses"]["4XX"].is_object(), "{method}");
        }
        assert!(paths[raftbus_protocol::routes::ACLS]["delete"].is_object());
        let alias = &paths[raftbus_protocol::routes::CONSUMER_HEARTBEAT]["post"];
        assert_eq!(alias["operationId"], "consumer_heartbeat");
        assert!(paths["/openapi.json"]["get"]["security"].is_array());
        let retention = &doc["components"]["schemas"]["RetentionSpec"];
        assert!(
            retention["properties"]["retention_ms"].is_object(),
            "{retention}"
        );
    }
}
