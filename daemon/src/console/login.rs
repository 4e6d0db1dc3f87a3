//! `GET /login`, `POST /login` and `POST /logout`.
//!
//! The login form's CSRF token is bound to a random cookie of its own (`licd_console_login`),
//! since there is no session yet. A login attempt is counted against the address before the
//! password is checked ([`LoginThrottle`]); the check costs one argon2 run whether or not
//! the user exists (`PasswordChecker`, as for vendors), so neither the answer nor its time
//! tells a guesser which names exist.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::login_throttle::LoginThrottle;
use super::session::{self, Found};
use super::{Visit, pages};
use crate::auth::password::{ExpectedCredential, StoredPassword};
use crate::auth::throttle::Bucket;
use crate::config::Config;
use crate::http::client_addr::ClientAddr;
use crate::state::AppState;
use crate::web::cookie::{self, CookieOptions};
use crate::web::form::Form;
use crate::web::page::{csrf_field, notice};
use crate::web::{csrf, random, reply};

/// The cookie the login form's CSRF token is bound to.
const LOGIN_COOKIE: &str = "licd_console_login";
/// How long the login form may stay open (the token's own limit is longer).
const LOGIN_COOKIE_SECS: i64 = 3600;
/// The name console users are checked under in the password checker's memory, apart from
/// every vendor (vendor names are configured, and none can hold brackets and a space).
const CHECKER_REALM: &str = "[console] user";

/// `GET /login`: the form (or home, when logged in already).
pub async fn form(
    state: &Arc<AppState>,
    config: &Config,
    headers: &HeaderMap,
    query: &str,
    now: i64,
) -> Response<Full<Bytes>> {
    if let Ok(Found::Staff(_)) =
        session::current(state, config, headers, ClientAddr::Unknown, now).await
    {
        return reply::redirect("/");
    }
    let query = Form::parse(query.as_bytes()).unwrap_or_default();
    let said = if query.get("ended").is_some() {
        notice(
            "warn",
            "Your session has ended",
            html! {
                p { "You were away too long, or logged in too long ago. Log in again." }
            },
        )
    } else if query.get("out").is_some() {
        notice("ok", "Logged out", html! { p { "You are logged out." } })
    } else {
        html! {}
    };
    login_page(state, config, headers, StatusCode::OK, said, "", now)
}

/// The login page with a fresh form token (and the cookie it is bound to, when missing).
fn login_page(
    state: &Arc<AppState>,
    config: &Config,
    headers: &HeaderMap,
    status: StatusCode,
    said: Markup,
    user: &str,
    now: i64,
) -> Response<Full<Bytes>> {
    let (nonce, fresh) = match cookie::get(headers, LOGIN_COOKIE).filter(|v| v.len() >= 32) {
        Some(n) => (n, false),
        None => match random::token() {
            Ok(n) => (n, true),
            Err(e) => {
                tracing::error!(error = %e, "console: no random login token could be made");
                return pages::public_refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Login unavailable",
                    "The server could not make a random token; try again.",
                );
            }
        },
    };
    let token = csrf::issue(state.store.secret(), "login", nonce.as_bytes(), now);
    let page = pages::public_page(
        status,
        "Log in",
        html! {
            h1 { "Log in to the licd console" }
            (said)
            form class="stack" method="post" action="/login" {
                (csrf_field(&token))
                div {
                    label for="user" { "Name" }
                    input type="text" id="user" name="user" value=(user) autocomplete="username" required autofocus;
                }
                div {
                    label for="password" { "Password" }
                    input type="password" id="password" name="password" autocomplete="current-password" required;
                }
                div { button type="submit" { "Log in" } }
            }
        },
    );
    if fresh {
        let c = cookie::set(
            LOGIN_COOKIE,
            &nonce,
            CookieOptions {
                path: "/login",
                max_age_secs: Some(LOGIN_COOKIE_SECS),
                secure: config.console.tls.is_some(),
            },
        );
        reply::with_cookie(page, &c)
    } else {
        page
    }
}

/// `POST /login`.
pub async fn submit(
    throttle: &LoginThrottle,
    state: &Arc<AppState>,
    config: &Config,
    headers: &HeaderMap,
    form: &Form,
    client: ClientAddr,
    now: i64,
) -> Response<Full<Bytes>> {
    let nonce = cookie::get(headers, LOGIN_COOKIE).unwrap_or_default();
    if let Err(e) = csrf::verify(
        state.store.secret(),
        "login",
        nonce.as_bytes(),
        form.get(csrf::FIELD),
        now,
    ) {
        tracing::warn!(%client, "console: a login form without a valid CSRF token was refused");
        return pages::public_refusal(StatusCode::FORBIDDEN, "Form refused", &e.to_string());
    }
    let name = form.value("user");
    let attempt = match throttle.begin(Bucket::from(client), Instant::now()) {
        Ok(a) => a,
        Err(left) => {
            tracing::warn!(%client, "console: login refused, the address is locked out");
            let minutes = left.as_secs().div_ceil(60).max(1);
            return pages::public_refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed logins",
                &format!(
                    "Five logins from your address failed within 15 minutes, so logins from it \
                     are refused for 15 minutes. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            );
        }
    };
    let user = config.console.user(name);
    let expected = user.and_then(|u| {
        Some(ExpectedCredential {
            vendor: CHECKER_REALM,
            user: &u.name,
            password: StoredPassword::Hash(u.password_hash.as_deref()?),
        })
    });
    let accepted = state
        .passwords
        .verify(expected, name, form.value("password"))
        .await;
    let Some(user) = user.filter(|_| accepted) else {
        tracing::warn!(%client, user = %crate::logging::untrusted(name), "console: login failed");
        let said = notice(
            "error",
            "Login failed",
            html! { p { "The name or the password is wrong." } },
        );
        return login_page(
            state,
            config,
            headers,
            StatusCode::UNAUTHORIZED,
            said,
            name,
            now,
        );
    };
    throttle.succeeded(attempt);
    match session::start(state, config, &user.name, client, now).await {
        Ok(cookie) => {
            tracing::info!(console_user = %user.name, role = user.role.name(), %client, "console: logged in");
            let r = reply::with_cookie(reply::redirect("/"), &cookie);
            reply::with_cookie(
                r,
                &cookie::clear(LOGIN_COOKIE, "/login", config.console.tls.is_some()),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "console: no session could be started");
            pages::public_refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "Login unavailable",
                "The licence database did not take the session; try again in a moment.",
            )
        }
    }
}

/// `POST /logout`: the session ends in the store at once (on every node).
pub async fn logout(visit: &Visit) -> Response<Full<Bytes>> {
    if let Err(e) = session::logout(&visit.state, &visit.staff.session_id).await {
        return visit.store_failed(&e);
    }
    tracing::info!(console_user = %visit.staff.name, client = %visit.staff.client, "console: logged out");
    reply::with_cookie(
        reply::redirect("/login?out=1"),
        &session::clear_cookie(&visit.config),
    )
}
