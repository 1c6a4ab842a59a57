//! ListGroups and DescribeGroups: what this broker coordinates (clients ask every broker).

use kafka_protocol::ResponseError as K;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, GroupId, ListGroupsRequest, ListGroupsResponse,
};
use kafka_protocol::protocol::StrBytes;
use raftbus_protocol::acl::{Operation, ResourceKind};

use super::text;
use crate::kafka::{Kafka, Who};

/// The groups this broker coordinates (clients ask every broker).
pub(in crate::kafka) fn list(k: &Kafka, who: &Who, _r: ListGroupsRequest) -> ListGroupsResponse {
    let groups = k.groups.with(|t| {
        t.groups
            .iter()
            .filter(|(name, _)| {
                k.allowed(who, ResourceKind::Group, name, Operation::Describe)
                    .is_ok()
            })
            .map(|(name, g)| {
                ListedGroup::default()
                    .with_group_id(GroupId(text(name)))
                    .with_protocol_type(text(&g.protocol_type))
                    .with_group_state(text(g.phase.name()))
            })
            .collect()
    });
    ListGroupsResponse::default().with_groups(groups)
}

pub(in crate::kafka) fn describe(
    k: &Kafka,
    who: &Who,
    r: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = r
        .groups
        .into_iter()
        .map(|id| {
            let out = DescribedGroup::default().with_group_id(id.clone());
            if k.allowed(who, ResourceKind::Group, id.as_str(), Operation::Describe)
                .is_err()
            {
                return out.with_error_code(K::GroupAuthorizationFailed.code());
            }
            let g = k.groups.with(|t| t.groups.get(id.as_str()).cloned());
            let Some(g) = g else {
                return out.with_group_state(StrBytes::from_static_str("Dead"));
            };
            out.with_group_state(text(g.phase.name()))
                .with_protocol_type(text(&g.protocol_type))
                .with_protocol_data(text(g.protocol.as_deref().unwrap_or_default()))
                .with_members(
                    g.members
                        .iter()
                        .map(|(mid, m)| {
                            DescribedGroupMember::default()
                                .with_member_id(text(mid))
                                .with_client_id(text(&m.client_id))
                                .with_member_metadata(g.metadata(m))
                                .with_member_assignment(m.assignment.clone())
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
