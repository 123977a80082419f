//! Who is calling: every route that reads or writes events takes an [`Authenticated`] caller,
//! found by `App::auth` (see `event_auth`) from the request's `Authorization` header (`jwt`) or
//! the signer the Function URL's `AWS_IAM` auth put in the request context (`iam`). A request
//! that cannot say who it is never reaches the handler.

use crate::{ApiError, ApiStore, App};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Extensions};
use event_auth::Caller;
use event_kafka::EventPublisher;
use lambda_http::request::RequestContext;
use std::sync::Arc;

/// The caller of a request that proved who it is.
pub(crate) struct Authenticated(pub Caller);

impl<S: ApiStore, P: EventPublisher> FromRequestParts<Arc<App<S, P>>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<S, P>>,
    ) -> Result<Self, Self::Rejection> {
        let principal = iam_principal(&parts.extensions);
        let authorization = parts
            .headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(|v| v.as_bytes());
        let now = chrono::Utc::now().timestamp();
        let caller = app
            .auth
            .caller(authorization, principal.as_deref(), now)
            .await?;
        if let (Caller::Service { principal }, Some(audit)) =
            (&caller, parts.extensions.get::<crate::observe::Principal>())
        {
            audit.set(principal);
        }
        app.auth.admits(&caller)?;
        // A token whose user id could never be an event's userId (too long, invisible
        // characters) can neither write nor list anything of its own.
        if let Caller::User { user_id, .. } = &caller {
            if event_schema::check_user_id(user_id).is_err() {
                return Err(ApiError::Forbidden(event_auth::Denied(
                    "the token's user id is not a valid userId",
                )));
            }
        }
        Ok(Self(caller))
    }
}

/// The principal that signed the request, when a Function URL with `AWS_IAM` auth checked its
/// signature (`requestContext.authorizer.iam`): its ARN, else its caller id.
fn iam_principal(extensions: &Extensions) -> Option<String> {
    match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => {
            let iam = context.authorizer.as_ref()?.iam.as_ref()?;
            iam.user_arn.clone().or_else(|| iam.caller_id.clone())
        }
        _ => None,
    }
}
