//! `GET /openapi.json`: the OpenAPI 3 document of the broker's client API, generated from the
//! handlers' `#[utoipa::path]` annotations and the protocol types (open without a token).

use raftbus_protocol::api::Acks;
use raftbus_protocol::openapi::Conventions;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

/// Path of a partition route: `/v1/partitions/{topic}/{partition}/...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct PartitionPath {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: u32,
}

/// Path of a consumer group's offset: `/v1/partitions/{topic}/{partition}/offsets/{group}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct OffsetPath {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: u32,
    /// Consumer group name.
    pub group: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Raftbus broker client API",
        description = "Produce and fetch records, consumer-group offsets, replica status. \
                       Every error is a JSON `ErrorBody` with a stable `code`."
    ),
    paths(
        super::admin::health,
        super::metrics::render,
        super::admin::list,
        super::admin::leadership,
        super::admin::status,
        super::produce::produce,
        super::fetch::fetch,
        super::offsets::commit,
        super::offsets::read,
    ),
    // Referenced only from a query parameter, which utoipa does not collect by itself.
    components(schemas(Acks)),
    modifiers(&Conventions)
)]
struct BrokerApi;

/// The document (served by `raftbus_protocol::openapi::route`).
pub(super) fn document() -> utoipa::openapi::OpenApi {
    BrokerApi::openapi()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_client_route_is_documented() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/health",
            "/openapi.json",
            raftbus_protocol::routes::PARTITION_RECORDS,
            raftbus_protocol::routes::PARTITION_OFFSETS,
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        let produce = &paths[raftbus_protocol::routes::PARTITION_RECORDS]["post"];
        let body = &produce["requestBody"]["content"];
        let binary = &body["application/octet-stream"]["schema"]["$ref"];
        assert_eq!(binary, "#/components/schemas/Binary");
        assert_eq!(doc["components"]["schemas"]["Binary"]["format"], "binary");
        assert!(produce["responses"]["4XX"].is_object());
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        // Record headers in JSON bodies are described, not a dangling reference.
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["JsonHeader"]["properties"]["value"].is_object());
        for record in ["JsonRecord", "FetchedRecord"] {
            let headers = &schemas[record]["properties"]["headers"];
            assert_eq!(headers["type"], "array", "{record}: {headers}");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
