//! The staff console (docs/console.md): server-drawn pages for the vendor's staff on a
//! listener of their own (`[console] listen`), to search, view, create, change, release
//! and export licences without a shell on the server.
//!
//! Every action runs the same store commands and rules as the admin socket's `licd keys …`
//! (which run the HTTP methods' own code), on behalf of a configured vendor, and writes
//! history naming the staff user and their address. Roles are enforced here, on the
//! server, before anything is read from a form: a viewer's POST to an admin action is a 403
//! page and changes nothing. Every form carries a CSRF token bound to the session
//! (`web::csrf`); a POST without a valid one is refused the same way.
//!
//! This file is the router: which path needs which role, the session check, the form and
//! its token. Each page or action lives in a file of its own.

mod actions;
mod charts;
mod create;
mod csv;
mod dashboard;
mod delete;
mod home;
mod licence_page;
pub mod listener;
mod login;
pub mod login_throttle;
mod pages;
mod release;
mod renew;
mod revoke;
mod search;
pub mod session;
mod update;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use maud::Markup;

use crate::config::{Config, Role, TlsIdentity};
use crate::http::Site;
use crate::http::client_addr::{ClientAddr, client_address};
use crate::http::clock::RequestStart;
use crate::license::dates;
use crate::license::keys::ActivationKey;
use crate::state::AppState;
use crate::web::form::{Form, FormError};
use crate::web::{csrf, reply};
use login_throttle::LoginThrottle;
use session::{Found, Staff};

/// Connections the console serves at once (a handful of staff; the cap keeps a flood on
/// the console's port from taking file descriptors the methods need).
const MAX_CONNECTIONS: usize = 256;

/// The staff console as a [`Site`] of the HTTP server, with its login throttle.
#[derive(Debug, Default)]
pub struct Console {
    throttle: LoginThrottle,
}

impl Site for Console {
    fn tls(&self, config: &Config) -> Option<TlsIdentity> {
        config.console.tls.clone()
    }

    fn max_connections(&self, config: &Config) -> usize {
        MAX_CONNECTIONS
            .min(config.server.max_connections as usize)
            .max(1)
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        state: Arc<AppState>,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let path = req.uri().path().to_string();
        let r = route(self, req, peer, state).await;
        tracing::debug!(
            path = %crate::logging::untrusted(&path),
            status = r.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "console request"
        );
        r
    }
}

/// One request of a logged-in member of staff.
pub(crate) struct Visit {
    /// The server's state.
    pub state: Arc<AppState>,
    /// The configuration in force for this request.
    pub config: Arc<Config>,
    /// Who asks.
    pub staff: Staff,
    /// The request's time (UTC Unix seconds).
    pub now: i64,
}

impl Visit {
    /// A CSRF token for the form of `purpose`, bound to this session.
    pub fn token(&self, purpose: &str) -> String {
        csrf::issue(
            self.state.store.secret(),
            purpose,
            self.staff.session_id.as_bytes(),
            self.now,
        )
    }

    /// A page of the console.
    pub fn page(&self, status: StatusCode, title: &str, main: Markup) -> Response<Full<Bytes>> {
        pages::page(status, &self.staff, &self.token("logout"), title, main)
    }

    /// A refusal page: `why`, and that nothing changed.
    pub fn refused(&self, status: StatusCode, heading: &str, why: &str) -> Response<Full<Bytes>> {
        self.page(status, heading, pages::refusal(heading, why, Some("/")))
    }

    /// 403 unless the user's role is at least `needed`; `action` in words ("releasing a
    /// seat").
    pub fn require(&self, needed: Role, action: &str) -> Result<(), Box<Response<Full<Bytes>>>> {
        if self.staff.role >= needed {
            return Ok(());
        }
        tracing::warn!(
            console_user = %self.staff.name,
            role = self.staff.role.name(),
            client = %self.staff.client,
            "console: {action} refused to a user without the role"
        );
        Err(Box::new(self.refused(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &pages::not_allowed(&self.staff, action, needed),
        )))
    }

    /// The page for a store that failed (500) or could not be reached (503).
    pub fn store_failed(&self, e: &crate::store::StoreError) -> Response<Full<Bytes>> {
        tracing::error!(error = %e, "console: the store failed");
        self.refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "The database did not answer",
            "The licence database did not answer; try again in a moment.",
        )
    }

    /// The history's name for this user (`HistoryEntry::vendor`, "who asked").
    pub fn history_name(&self) -> String {
        actions::history_name(&self.staff.name)
    }
}

/// What a POST asks for, by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Logout,
    Create,
    Release(String),
    Revoke(String),
    Update(String),
    Renew(String),
    Delete(String),
}

impl Action {
    fn of(path: &str) -> Option<Action> {
        if path == "/logout" {
            return Some(Action::Logout);
        }
        if path == "/create" {
            return Some(Action::Create);
        }
        let rest = path.strip_prefix("/licence/")?;
        let (key, verb) = rest.split_once('/')?;
        let key = key.to_string();
        Some(match verb {
            "release" => Action::Release(key),
            "revoke" => Action::Revoke(key),
            "update" => Action::Update(key),
            "renew" => Action::Renew(key),
            "delete" => Action::Delete(key),
            _ => return None,
        })
    }

    /// The role the action needs and the words for it in a refusal.
    fn needs(&self) -> (Role, &'static str) {
        match self {
            Action::Logout => (Role::Viewer, "logging out"),
            Action::Release(_) => (Role::Support, "releasing a seat"),
            Action::Create => (Role::Admin, "creating licences"),
            Action::Revoke(_) => (Role::Admin, "revoking or restoring a licence"),
            Action::Update(_) => (Role::Admin, "updating a licence"),
            Action::Renew(_) => (Role::Admin, "renewing a licence"),
            Action::Delete(_) => (Role::Admin, "deleting a licence"),
        }
    }

    /// The CSRF purpose of the action's form.
    fn purpose(&self) -> &'static str {
        match self {
            Action::Logout => "logout",
            Action::Create => "create",
            Action::Release(_) => "release",
            Action::Revoke(_) => "revoke",
            Action::Update(_) => "update",
            Action::Renew(_) => "renew",
            Action::Delete(_) => "delete",
        }
    }
}

async fn route(
    console: &Console,
    req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
) -> Response<Full<Bytes>> {
    let config = state.config();
    let now = dates::now();
    let client = client_address(peer.ip(), req.headers(), &config.server.trusted_proxies);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    match (&method, path.as_str()) {
        (&Method::GET, "/licd.css") => return reply::stylesheet(),
        (&Method::GET, "/login") => {
            return login::form(&state, &config, req.headers(), &query, now).await;
        }
        (&Method::POST, "/login") => {
            let headers = req.headers().clone();
            let form = match read_form(req, &config).await {
                Ok(f) => f,
                Err(r) => return r,
            };
            return login::submit(
                &console.throttle,
                &state,
                &config,
                &headers,
                &form,
                client,
                now,
            )
            .await;
        }
        (&Method::GET | &Method::POST, _) => {}
        _ => {
            return pages::public_refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "Not allowed",
                "The console's pages are read with GET and its forms sent with POST.",
            );
        }
    }
    let staff = match session::current(&state, &config, req.headers(), client, now).await {
        Ok(Found::Staff(staff)) => staff,
        Ok(Found::Ended) => {
            return reply::with_cookie(
                reply::redirect("/login?ended=1"),
                &session::clear_cookie(&config),
            );
        }
        Ok(Found::Nobody) => return reply::redirect("/login"),
        Err(e) => {
            tracing::error!(error = %e, "console: the session store failed");
            return pages::public_refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database did not answer",
                "The licence database did not answer; try again in a moment.",
            );
        }
    };
    let visit = Visit {
        state,
        config,
        staff,
        now,
    };
    if method == Method::GET {
        get(&visit, &path, &query).await
    } else {
        post(&visit, &path, req).await
    }
}

/// The pages.
async fn get(visit: &Visit, path: &str, query: &str) -> Response<Full<Bytes>> {
    let query = Form::parse(query.as_bytes()).unwrap_or_default();
    match path {
        "/" => home::page(visit),
        "/search" => search::page(visit, &query).await,
        "/search.csv" => csv::export(visit, &query).await,
        "/dashboard" => dashboard::page(visit).await,
        "/create" => match visit.require(Role::Admin, "creating licences") {
            Ok(()) => create::form(visit, &Form::default(), None),
            Err(r) => *r,
        },
        _ => match path.strip_prefix("/licence/") {
            Some(key) if !key.contains('/') => licence_page::page(visit, key, &query).await,
            _ => visit.refused(
                StatusCode::NOT_FOUND,
                "No such page",
                "The console has no page at this address.",
            ),
        },
    }
}

/// The actions: role first (a viewer's forged POST is refused whatever it carries), then
/// the form and its CSRF token, then the action.
async fn post(visit: &Visit, path: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(action) = Action::of(path) else {
        return visit.refused(
            StatusCode::NOT_FOUND,
            "No such action",
            "The console has no action at this address.",
        );
    };
    let (role, words) = action.needs();
    if let Err(refusal) = visit.require(role, words) {
        return *refusal;
    }
    let form = match read_form(req, &visit.config).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(e) = csrf::verify(
        visit.state.store.secret(),
        action.purpose(),
        visit.staff.session_id.as_bytes(),
        form.get(csrf::FIELD),
        visit.now,
    ) {
        tracing::warn!(
            console_user = %visit.staff.name,
            client = %visit.staff.client,
            action = action.purpose(),
            "console: a form without a valid CSRF token was refused"
        );
        return visit.refused(StatusCode::FORBIDDEN, "Form refused", &e.to_string());
    }
    match action {
        Action::Logout => login::logout(visit).await,
        Action::Create => create::submit(visit, &form).await,
        Action::Release(key) => release::submit(visit, &key, &form).await,
        Action::Revoke(key) => revoke::submit(visit, &key, &form).await,
        Action::Update(key) => update::submit(visit, &key, &form).await,
        Action::Renew(key) => renew::submit(visit, &key, &form).await,
        Action::Delete(key) => delete::submit(visit, &key, &form).await,
    }
}

/// The form of a POST, read within `server.headerReadTimeoutMs` of the request's first
/// byte (as the methods' bodies are) and at most `web::form::MAX_BODY` bytes.
async fn read_form(req: Request<Incoming>, config: &Config) -> Result<Form, Response<Full<Bytes>>> {
    let began = req
        .extensions()
        .get::<RequestStart>()
        .map_or_else(Instant::now, |s| s.0);
    let deadline = began + Duration::from_millis(config.server.header_read_timeout_ms);
    let body = req.into_body();
    let read = tokio::time::timeout_at(deadline.into(), crate::web::form::read_body(body)).await;
    let refuse = |status, why: String| pages::public_refusal(status, "Form refused", &why);
    match read {
        Err(_) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            "The form did not arrive in time; send it again.".into(),
        )),
        Ok(Err(FormError::TooLarge)) => Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            FormError::TooLarge.to_string(),
        )),
        Ok(Err(e)) => Err(refuse(StatusCode::BAD_REQUEST, e.to_string())),
        Ok(Ok(bytes)) => {
            Form::parse(&bytes).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))
        }
    }
}

/// The key in a console URL (dashed or not), or the 404 page saying it is none.
pub(crate) fn key_of(
    visit: &Visit,
    text: &str,
) -> Result<ActivationKey, Box<Response<Full<Bytes>>>> {
    ActivationKey::parse_for_lookup(text).map_err(|_| {
        Box::new(visit.refused(
            StatusCode::NOT_FOUND,
            "No such licence",
            "This address names no activation key.",
        ))
    })
}

/// The page address of a licence.
pub(crate) fn licence_href(key: &ActivationKey) -> String {
    format!("/licence/{}", key.dashed())
}

/// A client address as the history writes it.
pub(crate) fn client_text(client: ClientAddr) -> String {
    client.to_string()
}
