//! What the broker's and the manager's OpenAPI documents share (feature `openapi`): the
//! binary body schema, the error responses every operation may answer, bearer-token security,
//! the `GET /openapi.json` route itself. Each server derives its own document from its
//! handlers, applies [`Conventions`] and serves it with [`route`].

use utoipa::openapi::HttpMethod;
use utoipa::openapi::path::{Operation, OperationBuilder, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Schema};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::ErrorBody;

/// Name of the bearer-token security scheme in the documents.
pub const BEARER: &str = "bearer";

/// Raw bytes (`type: string, format: binary`): a `protocol::batch` produce body or binary
/// fetch frames.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}

/// Where the document is served.
pub const PATH: &str = "/openapi.json";

/// Adds what every operation shares: `GET /openapi.json` itself (open), the `ErrorBody`
/// answer of 4xx and 5xx statuses (unless an operation documents its own), and bearer-token
/// security for the whole document (routes open without a token say `security(())` on their
/// path).
pub struct Conventions;

fn error_response(what: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    ResponseBuilder::new()
        .description(format!(
            "{what}: a JSON error with a stable `code` and a `message` naming the problem"
        ))
        .content("application/json", content)
        .build()
        .into()
}

fn add_errors(op: &mut Operation) {
    for (status, what) in [("4XX", "Client error"), ("5XX", "Server error")] {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(what));
    }
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let own = OperationBuilder::new()
            .summary(Some("This OpenAPI document"))
            .security(SecurityRequirement::default())
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The document")
                    .content("application/json", ContentBuilder::new().build()),
            )
            .build();
        doc.paths
            .paths
            .insert(PATH.to_string(), PathItem::new(HttpMethod::Get, own));
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            ops.into_iter().flatten().for_each(add_errors);
        }
        let components = doc.components.get_or_insert_with(Default::default);
        let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
        ErrorBody::schemas(&mut schemas);
        components.schemas.extend(schemas);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
}

/// The `GET /openapi.json` route serving `doc`, serialized once.
#[cfg(feature = "actix")]
pub fn route(doc: OpenApi) -> actix_web::Route {
    let json = bytes::Bytes::from(doc.to_json().expect("an OpenAPI document serializes"));
    actix_web::web::get().to(move || {
        let json = json.clone();
        async move {
            actix_web::HttpResponse::Ok()
                .content_type("application/json")
                .body(json)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_a_binary_string() {
        let json = serde_json::to_value(Binary::schema()).unwrap();
        assert_eq!(json["type"], "string");
        assert_eq!(json["format"], "binary");
    }
}
