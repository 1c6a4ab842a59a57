//! What each client route of the managers needs (`raftbus_security::token::Policy`).

use actix_web::http::Method;
use raftbus_protocol::acl::{Operation, ResourceKind};
use raftbus_protocol::query::MetadataParams;
use raftbus_security::token::Need;

/// The managers' route table. Creating a topic through metadata (`auto_create=true`) needs
/// produce on it, as producing to it would; joining a group needs only a principal (its
/// commits are checked on the brokers, per group).
pub fn policy(method: &Method, path: &[&str], query: &str) -> Need {
    use Operation::*;
    use ResourceKind::*;
    let on = |kind, name: &str, op| Need::Allowed(kind, name.to_string(), op);
    let cluster = |op| Need::Allowed(Cluster, String::new(), op);
    let get = method == Method::GET;
    match path {
        [] | ["health"] | ["openapi.json"] => Need::Open,
        ["metrics"] | ["v1", "managers"] | ["v1", "brokers"] | ["v1", "groups"] => {
            cluster(Describe)
        }
        ["v1", "topics"] if get => cluster(Describe),
        ["v1", "topics"] => cluster(Alter),
        ["v1", "topics", name] if get => on(Topic, name, Describe),
        ["v1", "topics", name] if method == Method::DELETE => on(Topic, name, Delete),
        ["v1", "topics", name] => on(Topic, name, Alter),
        ["v1", "topics", name, "partitions"] => on(Topic, name, Describe),
        ["v1", "topics", _, "partitions", _, "reassign"] | ["v1", "rebalance"] => cluster(Admin),
        ["v1", "topics", name, "records"] => on(Topic, name, Produce),
        ["v1", "topics", name, "partitions", _, "records"] => on(Topic, name, Consume),
        ["v1", "metadata", name] if auto_create(query) => on(Topic, name, Produce),
        ["v1", "metadata", name] => on(Topic, name, Describe),
        ["v1", "groups", name] => on(Group, name, Describe),
        ["v1", "consumers", group, _] => on(Group, group, Consume),
        ["v1", "users", ..] | ["v1", "acls", ..] => cluster(Admin),
        _ => Need::Authenticated,
    }
}

/// Whether a metadata query asks to create the topic, parsed as the handler parses it (so an
/// encoded `auto_create=%74rue` cannot pass as a plain read).
fn auto_create(query: &str) -> bool {
    actix_web::web::Query::<MetadataParams>::from_query(query).is_ok_and(|q| q.auto_create)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_needs_produce_exactly_when_the_handler_would_create() {
        let need = |q| policy(&Method::GET, &["v1", "metadata", "t"], q);
        let produce = Need::Allowed(ResourceKind::Topic, "t".into(), Operation::Produce);
        let describe = Need::Allowed(ResourceKind::Topic, "t".into(), Operation::Describe);
        for q in [
            "auto_create=true",
            "x=1&auto_create=true",
            "auto_create=%74rue",
        ] {
            assert_eq!(need(q), produce, "{q}");
        }
        for q in ["", "auto_create=false", "auto_create=1"] {
            assert_eq!(need(q), describe, "{q}");
        }
    }
}
