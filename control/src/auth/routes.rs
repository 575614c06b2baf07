//! The auth part of `/api/v1`: the session (read, sign in, sign out), first-run setup, users and
//! API tokens, each route described for the OpenAPI document.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::{Form, Json};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::password::{
    check_new_user, constant_time_eq, field_error, hash_password, is_token_shaped, loggable_name, random_token, verify_password, verify_unknown_user,
};
use super::store::{ApiToken, CreatedApiToken, SESSION_SECONDS, User, UserRemoval};
use super::{AuthStore, CSRF_COOKIE, CSRF_HEADER, Principal, RequireAdmin, RequireViewer, Role, SESSION_COOKIE, csrf_refused, internal_error};
use crate::api::{ApiError, ErrorBody};

/// The auth routes, without the `/api/v1` prefix (nest them under it).
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    AuthStore: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(get_session, sign_in, sign_out))
        .routes(routes!(setup))
        .routes(routes!(list_users, create_user))
        .routes(routes!(delete_user))
        .routes(routes!(set_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
}

/// Who is signed in, and the CSRF token to send with writes (or with sign-in).
#[derive(Serialize, ToSchema)]
struct SessionState {
    user: Option<Principal>,
    /// The session's CSRF token, or (not signed in) the pre-session token for sign-in and setup.
    csrf_token: String,
    /// True while no user exists: `POST /setup` creates the first admin.
    setup_required: bool,
}

/// A user name and password (setup, sign-in).
#[derive(Deserialize, ToSchema)]
struct Credentials {
    username: String,
    password: String,
}

/// Sign-in from a plain HTML form: the CSRF token travels as a field.
#[derive(Deserialize, ToSchema)]
struct CredentialsForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf_token: Option<String>,
}

/// The signed-in user and the CSRF token for `X-CSRF-Token` on writes.
#[derive(Serialize, ToSchema)]
struct SignedIn {
    user: Principal,
    csrf_token: String,
}

#[derive(Deserialize, ToSchema)]
struct NewUser {
    username: String,
    password: String,
    role: Role,
}

#[derive(Deserialize, ToSchema)]
struct NewPassword {
    password: String,
}

#[derive(Deserialize, ToSchema)]
struct NewApiToken {
    /// What the token is for, e.g. `city-platform`.
    name: String,
    role: Role,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))
}

fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok())
}

/// Sign-in and setup: the token sent must equal the `steward_csrf` cookie (double submit), or,
/// when the request already has a session (signing in again), that session's CSRF token.
fn check_sign_in_csrf(store: &AuthStore, jar: &CookieJar, sent: Option<&str>) -> Result<(), ApiError> {
    let sent = sent.ok_or_else(csrf_refused)?;
    let matches = |expected: &str| !expected.is_empty() && constant_time_eq(expected.as_bytes(), sent.as_bytes());
    if jar.get(CSRF_COOKIE).is_some_and(|cookie| matches(cookie.value())) {
        return Ok(());
    }
    let session = match jar.get(SESSION_COOKIE) {
        Some(cookie) => store.session(cookie.value()).map_err(internal_error)?,
        None => None,
    };
    if session.is_some_and(|session| matches(&session.csrf_token)) { Ok(()) } else { Err(csrf_refused()) }
}

fn session_cookie(store: &AuthStore, token: String) -> Cookie<'static> {
    let max_age = Duration::from_secs(SESSION_SECONDS.unsigned_abs()).try_into().expect("12 hours fit a cookie's Max-Age");
    Cookie::build((SESSION_COOKIE, token)).http_only(true).same_site(SameSite::Strict).path("/").max_age(max_age).secure(store.secure_cookies()).build()
}

fn pre_session_cookie(store: &AuthStore, token: String) -> Cookie<'static> {
    Cookie::build((CSRF_COOKIE, token)).http_only(true).same_site(SameSite::Strict).path("/").secure(store.secure_cookies()).build()
}

fn removed_session_cookie() -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE).path("/").build()
}

async fn hash_in_background(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|error| internal_error(error.into()))?.map_err(internal_error)
}

fn invalid_user(problems: Vec<crate::api::FieldError>) -> Result<(), ApiError> {
    if problems.is_empty() { Ok(()) } else { Err(ApiError::invalid("some fields are not acceptable", problems)) }
}

/// Starts a session for `user` (ending the one the request came with, if any).
fn start_session(store: &AuthStore, jar: CookieJar, user: Principal) -> Result<(CookieJar, SignedIn), ApiError> {
    if let Some(old) = jar.get(SESSION_COOKIE) {
        store.end_session(old.value()).map_err(internal_error)?;
    }
    let session = store.start_session(&user.name).map_err(internal_error)?;
    Ok((jar.add(session_cookie(store, session.token)), SignedIn { user, csrf_token: session.csrf_token }))
}

fn setup_done() -> ApiError {
    ApiError::conflict("setup is done: a user exists already")
}

#[utoipa::path(get, path = "/session", tag = "auth",
    description = "Who is signed in. Without a valid session this sets the pre-session cookie `steward_csrf` and returns its value as `csrf_token`, to send back in `X-CSRF-Token` with sign-in or setup.",
    responses((status = 200, description = "the session, or `user: null`", body = SessionState)))]
async fn get_session(State(store): State<AuthStore>, jar: CookieJar) -> Result<(CookieJar, Json<SessionState>), ApiError> {
    let setup_required = !store.has_users().map_err(internal_error)?;
    let session = match jar.get(SESSION_COOKIE) {
        Some(cookie) => store.session(cookie.value()).map_err(internal_error)?,
        None => None,
    };
    if let Some(session) = session {
        return Ok((jar, Json(SessionState { user: Some(session.principal), csrf_token: session.csrf_token, setup_required })));
    }
    let jar = if jar.get(SESSION_COOKIE).is_some() { jar.remove(removed_session_cookie()) } else { jar };
    let csrf_token = jar.get(CSRF_COOKIE).map(|cookie| cookie.value().to_owned()).filter(|value| is_token_shaped(value)).unwrap_or_else(random_token);
    let jar = jar.add(pre_session_cookie(&store, csrf_token.clone()));
    Ok((jar, Json(SessionState { user: None, csrf_token, setup_required })))
}

#[utoipa::path(post, path = "/setup", tag = "auth",
    description = "First run only: creates the first admin and signs it in. Needs `X-CSRF-Token` equal to the `steward_csrf` cookie (the `csrf_token` of `GET /session`).",
    request_body = Credentials,
    responses(
        (status = 201, description = "admin created and signed in; sets the `steward_session` cookie", body = SignedIn),
        (status = 403, description = "missing or wrong pre-session CSRF token", body = ErrorBody),
        (status = 409, description = "a user exists already", body = ErrorBody),
        (status = 422, description = "user name or password not acceptable", body = ErrorBody)))]
async fn setup(
    State(store): State<AuthStore>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<(StatusCode, CookieJar, Json<SignedIn>), ApiError> {
    check_sign_in_csrf(&store, &jar, csrf_header(&headers))?;
    if store.has_users().map_err(internal_error)? {
        return Err(setup_done());
    }
    let Credentials { username, password } = json_body(body)?;
    invalid_user(check_new_user(Some(&username), Some(&password)))?;
    let hash = hash_in_background(password).await?;
    if !store.create_first_admin(&username, &hash).map_err(internal_error)? {
        return Err(setup_done());
    }
    tracing::info!(user = %username, "first admin created");
    let (jar, signed_in) = start_session(&store, jar, Principal { name: username, role: Role::Admin })?;
    Ok((StatusCode::CREATED, jar, Json(signed_in)))
}

#[utoipa::path(post, path = "/session", tag = "auth",
    description = "Signs in. JSON needs `X-CSRF-Token` equal to the `csrf_token` of `GET /session` (the `steward_csrf` cookie, or the current session's token); a form sends it as the field `csrf_token`. After 5 failures for a user name or from an address, each attempt waits 2 s, 4 s, 8 s … (at most 5 min) after the last failure.",
    request_body(content((Credentials = "application/json"), (CredentialsForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "signed in; sets the `steward_session` cookie", body = SignedIn),
        (status = 401, description = "wrong user name or password", body = ErrorBody),
        (status = 403, description = "missing or wrong pre-session CSRF token", body = ErrorBody),
        (status = 422, description = "missing fields", body = ErrorBody),
        (status = 429, description = "too many failures: wait `Retry-After` seconds", body = ErrorBody)))]
async fn sign_in(State(store): State<AuthStore>, request: Request) -> Result<(CookieJar, Json<SignedIn>), ApiError> {
    let address: Option<IpAddr> = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip());
    let jar = CookieJar::from_headers(request.headers());
    let header_token = csrf_header(request.headers()).map(str::to_owned);
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let (Credentials { username, password }, sent_token) = if is_form {
        let Form(form) =
            Form::<CredentialsForm>::from_request(request, &()).await.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        (Credentials { username: form.username, password: form.password }, form.csrf_token.or(header_token))
    } else {
        (json_body(Json::<Credentials>::from_request(request, &()).await)?, header_token)
    };
    check_sign_in_csrf(&store, &jar, sent_token.as_deref())?;

    let shown = loggable_name(&username);
    let shown_address = address.map_or_else(|| "unknown".to_owned(), |address| address.to_string());
    let failures = match store.throttle().begin(&shown, address, Instant::now()) {
        Ok(failures) => failures,
        Err(retry_after_s) => {
            tracing::warn!(user = %shown, address = %shown_address, retry_after_s, "sign-in throttled");
            return Err(ApiError::too_many("too many failed sign-ins; try again later", retry_after_s));
        }
    };
    let account = store.credentials(&username).map_err(internal_error)?;
    let user = tokio::task::spawn_blocking(move || match account {
        Some((user, hash)) => verify_password(&password, &hash).then_some(user),
        None => {
            verify_unknown_user(&password);
            None
        }
    })
    .await
    .map_err(|error| internal_error(error.into()))?;
    let Some(user) = user else {
        tracing::warn!(user = %shown, address = %shown_address, failures, "sign-in failed");
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong user name or password"));
    };
    store.throttle().succeeded(&shown, address);
    tracing::info!(user = %user.name, address = %shown_address, "signed in");
    let (jar, signed_in) = start_session(&store, jar, user)?;
    Ok((jar, Json(signed_in)))
}

#[utoipa::path(delete, path = "/session", tag = "auth",
    description = "Signs out: ends the session and clears its cookie.",
    responses(
        (status = 204, description = "signed out"),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "missing or wrong CSRF token", body = ErrorBody)))]
async fn sign_out(_viewer: RequireViewer, State(store): State<AuthStore>, jar: CookieJar) -> Result<(StatusCode, CookieJar), ApiError> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        store.end_session(cookie.value()).map_err(internal_error)?;
    }
    Ok((StatusCode::NO_CONTENT, jar.remove(removed_session_cookie())))
}

#[utoipa::path(get, path = "/users", tag = "auth",
    responses(
        (status = 200, description = "every user, by name", body = Vec<User>),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "not an admin", body = ErrorBody)))]
async fn list_users(_admin: RequireAdmin, State(store): State<AuthStore>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(store.users().map_err(internal_error)?))
}

#[utoipa::path(post, path = "/users", tag = "auth",
    request_body = NewUser,
    responses(
        (status = 201, description = "user created", body = User),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "not an admin, or missing CSRF token", body = ErrorBody),
        (status = 409, description = "the user exists", body = ErrorBody),
        (status = 422, description = "user name or password not acceptable", body = ErrorBody)))]
async fn create_user(
    RequireAdmin(admin): RequireAdmin,
    State(store): State<AuthStore>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let NewUser { username, password, role } = json_body(body)?;
    invalid_user(check_new_user(Some(&username), Some(&password)))?;
    let hash = hash_in_background(password).await?;
    let user = store.create_user(&username, role, &hash).map_err(internal_error)?.ok_or_else(|| ApiError::conflict(format!("user {username} exists")))?;
    tracing::info!(user = %user.name, role = user.role.as_str(), by = %admin.name, "user created");
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(delete, path = "/users/{name}", tag = "auth",
    params(("name" = String, Path, description = "the user name")),
    responses(
        (status = 204, description = "user and their sessions deleted"),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "not an admin, or missing CSRF token", body = ErrorBody),
        (status = 404, description = "no such user", body = ErrorBody),
        (status = 409, description = "the last admin cannot be deleted", body = ErrorBody)))]
async fn delete_user(RequireAdmin(admin): RequireAdmin, State(store): State<AuthStore>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    match store.remove_user(&name).map_err(internal_error)? {
        UserRemoval::Removed => {
            tracing::info!(user = %name, by = %admin.name, "user deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        UserRemoval::NotFound => Err(ApiError::not_found(format!("no user {name}"))),
        UserRemoval::LastAdmin => Err(ApiError::conflict(format!("{name} is the last admin; make another admin first"))),
    }
}

#[utoipa::path(put, path = "/users/{name}/password", tag = "auth",
    description = "Sets a user's password (an admin, or the user themself) and ends that user's other sessions.",
    params(("name" = String, Path, description = "the user name")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "password changed"),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "neither an admin nor that user, or missing CSRF token", body = ErrorBody),
        (status = 404, description = "no such user", body = ErrorBody),
        (status = 422, description = "password not acceptable", body = ErrorBody)))]
async fn set_password(
    RequireViewer(principal): RequireViewer,
    State(store): State<AuthStore>,
    jar: CookieJar,
    Path(name): Path<String>,
    body: Result<Json<NewPassword>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let themself = principal.name == name;
    if !themself && principal.role != Role::Admin {
        return Err(ApiError::forbidden("only an admin may set another user's password"));
    }
    let NewPassword { password } = json_body(body)?;
    invalid_user(check_new_user(None, Some(&password)))?;
    let hash = hash_in_background(password).await?;
    let keep = if themself { jar.get(SESSION_COOKIE).map(|cookie| cookie.value()) } else { None };
    if !store.set_password(&name, &hash, keep).map_err(internal_error)? {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    tracing::info!(user = %name, by = %principal.name, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/tokens", tag = "auth",
    responses(
        (status = 200, description = "every API token (never the secret)", body = Vec<ApiToken>),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "not an admin", body = ErrorBody)))]
async fn list_tokens(_admin: RequireAdmin, State(store): State<AuthStore>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(store.tokens().map_err(internal_error)?))
}

#[utoipa::path(post, path = "/tokens", tag = "auth",
    description = "Creates an API token for `Authorization: Bearer`; the token is in this answer only.",
    request_body = NewApiToken,
    responses(
        (status = 201, description = "token created", body = CreatedApiToken),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "not an admin, or missing CSRF token", body = ErrorBody),
        (status = 422, description = "name not acceptable", body = ErrorBody)))]
async fn create_token(
    RequireAdmin(admin): RequireAdmin,
    State(store): State<AuthStore>,
    body: Result<Json<NewApiToken>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    let NewApiToken { name, role } = json_body(body)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("some fields are not acceptable", vec![field_error("name", "1 to 64 characters, no control characters")]));
    }
    let created = store.create_token(name, role).map_err(internal_error)?;
    tracing::info!(token = %created.name, id = %created.id, role = role.as_str(), by = %admin.name, "API token created");
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "auth",
    params(("id" = String, Path, description = "the token's id")),
    responses(
        (status = 204, description = "token deleted: it no longer works"),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "not an admin, or missing CSRF token", body = ErrorBody),
        (status = 404, description = "no such token", body = ErrorBody)))]
async fn delete_token(RequireAdmin(admin): RequireAdmin, State(store): State<AuthStore>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if !store.delete_token(&id).map_err(internal_error)? {
        return Err(ApiError::not_found(format!("no token {id}")));
    }
    tracing::info!(id = %id, by = %admin.name, "API token deleted");
    Ok(StatusCode::NO_CONTENT)
}
