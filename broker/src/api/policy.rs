//! What each client route of the broker needs (`raftbus_security::token::Policy`).

use actix_web::http::Method;
use raftbus_protocol::acl::{Operation, ResourceKind};
use raftbus_security::token::Need;

/// The broker's route table: records need produce or consume on the topic, offsets consume on
/// the group, status reads describe.
pub fn policy(method: &Method, path: &[&str], _query: &str) -> Need {
    use Operation::*;
    use ResourceKind::*;
    let on = |kind, name: &str, op| Need::Allowed(kind, name.to_string(), op);
    match path {
        ["health"] | ["openapi.json"] => Need::Open,
        ["metrics"] | ["v1", "partitions"] | ["v1", "node", "leadership"] => {
            on(Cluster, "", Describe)
        }
        ["v1", "partitions", topic, _] => on(Topic, topic, Describe),
        ["v1", "partitions", topic, _, "records"] if method == Method::POST => {
            on(Topic, topic, Produce)
        }
        ["v1", "partitions", topic, _, "records"] => on(Topic, topic, Consume),
        ["v1", "partitions", _, _, "offsets", group] => on(Group, group, Consume),
        _ => Need::Authenticated,
    }
}
