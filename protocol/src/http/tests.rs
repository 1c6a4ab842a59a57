use actix_web::{App, test};

use super::*;

async fn echo(Body(body): Body) -> HttpResponse {
    HttpResponse::Ok().body(body)
}

async fn json(body: web::Json<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(body.into_inner())
}

fn app() -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .configure(json_errors)
        .route("/small", web::post().to(echo))
        .route("/json", web::post().to(json))
        .service(
            web::resource("/big")
                .app_data(BodyLimit(SMALL_BODY_LIMIT * 4))
                .route(web::post().to(echo)),
        )
}

async fn too_large(resp: actix_web::dev::ServiceResponse, limit: usize) {
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: ErrorBody = test::read_body_json(resp).await;
    assert_eq!(body.code, ErrorCode::TooLarge);
    assert_eq!(body.limit_bytes, u32::try_from(limit).ok());
    assert!(body.message.contains(&human(limit)), "{}", body.message);
}

#[actix_web::test]
async fn every_body_route_has_a_limit_answered_as_json() {
    let app = test::init_service(app()).await;
    let over = vec![b'x'; SMALL_BODY_LIMIT + 1];
    let at = vec![b'x'; SMALL_BODY_LIMIT];

    let req = test::TestRequest::post()
        .uri("/small")
        .set_payload(at.clone());
    assert!(
        test::call_service(&app, req.to_request())
            .await
            .status()
            .is_success()
    );
    let req = test::TestRequest::post()
        .uri("/small")
        .set_payload(over.clone());
    too_large(
        test::call_service(&app, req.to_request()).await,
        SMALL_BODY_LIMIT,
    )
    .await;

    // A route with its own limit takes more, and refuses beyond it.
    let req = test::TestRequest::post()
        .uri("/big")
        .set_payload(over.clone());
    assert!(
        test::call_service(&app, req.to_request())
            .await
            .status()
            .is_success()
    );
    let req = test::TestRequest::post()
        .uri("/big")
        .set_payload(vec![b'x'; SMALL_BODY_LIMIT * 4 + 1]);
    too_large(
        test::call_service(&app, req.to_request()).await,
        SMALL_BODY_LIMIT * 4,
    )
    .await;

    // JSON bodies: over the limit is 413, malformed is still 400.
    let mut big = String::from("\"");
    big.push_str(&"y".repeat(SMALL_BODY_LIMIT));
    big.push('"');
    let req = test::TestRequest::post()
        .uri("/json")
        .insert_header(("content-type", "application/json"))
        .set_payload(big);
    too_large(
        test::call_service(&app, req.to_request()).await,
        SMALL_BODY_LIMIT,
    )
    .await;
    let req = test::TestRequest::post()
        .uri("/json")
        .insert_header(("content-type", "application/json"))
        .set_payload("{nope");
    let resp = test::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
