//! From an HTTP request to a reply: URL forms, verbs, body limit, arguments, the guard's
//! address rules and gates (`auth::guard::admit`), then the method (spec README §1–§3,
//! methods.md "Order of checks").

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{Method as Verb, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use licd_plugin_api::form;

use crate::auth::guard;
use crate::config::{Config, ServerConfig};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::{ArgLimits, Args};
use crate::http::client_addr::{ClientAddr, client_address};
use crate::http::clock::RequestStart;
use crate::http::plain::plain_text;
use crate::license::dates;
use crate::method_decl::MethodTable;
use crate::methods::{Method, qlm_webhook_handler};
use crate::request::{Ctx, RawRequest};
use crate::response::{self, Body, Format, Reply};
use crate::state::AppState;

/// What a path (and its `op` argument) names.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    /// `{basePath}/qlmservice.asmx`: the service page.
    ServicePage,
    /// One of the three method URL forms, or one of their prefixes with `?op=`, with the
    /// method name as sent.
    Method(Cow<'a, str>),
    /// Anything else.
    NotFound,
}

/// The URL prefixes of a method, after `basePath` (README §1).
const METHOD_PREFIXES: [&[&str]; 3] = [
    &["qlmservice.asmx"],
    &["api", "v1", "qlmapi"],
    &["api", "webservice"],
];

/// The query argument naming the method on ASMX's test-form URL (`qlmservice.asmx?op=M`).
const OP: &str = "op";

fn route<'a>(path: &'a str, query: Option<&str>, base_path: &str) -> Route<'a> {
    let rest = match path.get(..base_path.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(base_path) => &path[base_path.len()..],
        _ => return Route::NotFound,
    };
    let Some(rest) = rest.strip_prefix('/') else {
        return Route::NotFound;
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    for prefix in METHOD_PREFIXES {
        let starts = prefix
            .iter()
            .zip(&segments)
            .all(|(p, s)| p.eq_ignore_ascii_case(s));
        if !starts {
            continue;
        }
        if segments.len() == prefix.len() {
            if let Some(name) = op_name(query) {
                return Route::Method(name.into());
            }
            if prefix == METHOD_PREFIXES[0] {
                return Route::ServicePage;
            }
        }
        if segments.len() == prefix.len() + 1
            && let Some(name) = segments.last().filter(|n| !n.is_empty())
        {
            return Route::Method(Cow::Borrowed(name));
        }
    }
    Route::NotFound
}

/// The method named by a non-empty `op` query argument (its name in any case, as every
/// argument name), decoded. A value that does not decode is kept as sent: no method has
/// such a name, so it is answered as an unknown method.
fn op_name(query: Option<&str>) -> Option<String> {
    let (_, raw) = form::pairs(query?.as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case(OP.as_bytes()))?;
    let name = form::decode(raw).unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned());
    (!name.is_empty()).then_some(name)
}

/// Handles one request. Never fails: every refusal is a reply.
pub async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let started = Instant::now();
    let config = state.config();
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/healthz" => return Ok(crate::http::ops::healthz(&state).await),
        "/metrics" => {
            let server = &config.server;
            let client = client_address(peer.ip(), req.headers(), &server.trusted_proxies);
            return Ok(crate::http::ops::metrics(&state, client).await);
        }
        _ => {}
    }
    if let Some(page) = crate::portal::route(&path, &config) {
        // Boxed: the portal's future is kilobytes larger than a method call's, and unboxed
        // every method request would carry (and copy) room for it.
        let response = Box::pin(crate::portal::serve(
            page, req, peer, state, config, started,
        ))
        .await;
        tracing::debug!(path = %crate::logging::untrusted(&path), status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "portal request");
        return Ok(response);
    }
    let response = match route(&path, req.uri().query(), &config.server.base_path) {
        Route::NotFound => plain_text(StatusCode::NOT_FOUND, "Not found.\n"),
        Route::ServicePage => service_page(&config, state.methods),
        Route::Method(name) => {
            let name = name.to_string();
            let metrics = state.clone();
            let r = method_request(req, peer, state, config.clone(), &name, started).await;
            // error_response tags every refusal with its code.
            let code = r.extensions().get::<ErrorCode>().copied();
            metrics.metrics.record_request(
                Method::find(&name).map(Method::name),
                code,
                started.elapsed(),
            );
            r
        }
    };
    tracing::debug!(path = %crate::logging::untrusted(&path), status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    Ok(response)
}

/// One method call, from its verb to its reply, in the order methods.md "Order of checks"
/// gives: verb, body, arguments and reply format, method name, the guard's address rules,
/// malformed arguments, then the method itself.
async fn method_request(
    req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
    config: Arc<Config>,
    name: &str,
    started: Instant,
) -> Response<Full<Bytes>> {
    let server = &config.server;
    // Until the arguments are parsed, errors use the format the client asked for if it can
    // be read at all.
    let sniffed = sniff_format(req.uri().query());
    if let Some(refusal) = refuse_verb(req.method(), sniffed) {
        return refusal;
    }
    // The URI and headers move into the context (strict authentication and vendor plugins
    // read them as sent); nothing is copied on the request road.
    let (parts, incoming) = req.into_parts();
    // A store's webhook has a larger body limit, and its body is the store's event for the
    // vendor's plugin to read, never arguments.
    let webhook = qlm_webhook_handler::is_named(name);
    let body = match receive_body(&parts, incoming, server, started, peer, sniffed, webhook).await {
        Ok(b) => b,
        Err(refusal) => return refusal,
    };
    let form_body = !webhook && is_form(&parts.headers) && !body.is_empty();
    let limits = ArgLimits {
        max_args: server.max_args,
        max_value_bytes: server.max_value_bytes,
    };
    let parsed = Args::parse(parts.uri.query(), form_body.then_some(&body[..]), limits);
    let bom = wants_bom(&parsed);
    let format = match reply_format(&parsed, sniffed) {
        Ok(f) => f,
        Err(e) => return error_response(&e, Format::Xml, bom),
    };
    let headers = parts.headers;
    let client = client_address(peer.ip(), &headers, &server.trusted_proxies);
    if webhook {
        if parts.method != Verb::POST {
            let e = MethodError::invalid("A store's webhook is a POST.")
                .with_status(StatusCode::METHOD_NOT_ALLOWED);
            let mut r = error_response(&e, format, bom);
            r.headers_mut()
                .insert(ALLOW, http::HeaderValue::from_static("POST"));
            return r;
        }
        let args = match parsed {
            Ok(a) => a,
            Err(e) => return error_response(&e, format, bom),
        };
        let raw = RawRequest {
            uri: parts.uri,
            headers,
            form_body,
            body,
        };
        let ctx = context(state, config.clone(), client, started, raw);
        return match qlm_webhook_handler::serve(&args, &ctx).await {
            Ok(reply) => body_response(StatusCode::OK, response::render_ok(&reply, format, bom)),
            Err(e) => error_response(&e, format, bom),
        };
    }
    let Some(method) = Method::find(name) else {
        return error_response(&unknown_method(name), format, bom);
    };
    // Malformed arguments are refused below; until then the address rules see none.
    let no_args = Args::default();
    let seen = parsed.as_ref().unwrap_or(&no_args);
    if let Err(e) = guard::admit(&config, state.methods, method.call, seen, client) {
        return error_response(&e, format, bom);
    }
    let args = match parsed {
        Ok(a) => a,
        Err(e) => return error_response(&e, format, bom),
    };
    let raw = RawRequest {
        uri: parts.uri,
        headers,
        form_body,
        body,
    };
    let ctx = context(state, config.clone(), client, started, raw);
    let served = method.serve(&args, &ctx).await;
    reply(served, method, client, format, bom)
}

/// 405 (with `Allow`) for a verb other than GET and POST.
fn refuse_verb(verb: &Verb, format: Format) -> Option<Response<Full<Bytes>>> {
    if verb == Verb::GET || verb == Verb::POST {
        return None;
    }
    let e = MethodError::invalid("Methods accept GET and POST only.")
        .with_status(StatusCode::METHOD_NOT_ALLOWED);
    let mut r = error_response(&e, format, false);
    r.headers_mut()
        .insert(ALLOW, http::HeaderValue::from_static("GET, POST"));
    Some(r)
}

/// Whether the body is a form (`application/x-www-form-urlencoded`, parameters ignored), so
/// its arguments join the query's.
fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// The body, read by [`read_body`] within `server.headerReadTimeoutMs` of the request's first
/// byte; a refusal is already the reply. A body that did not arrive in time also closes the
/// connection, which could not carry another request.
async fn receive_body(
    parts: &http::request::Parts,
    incoming: Incoming,
    server: &ServerConfig,
    started: Instant,
    peer: SocketAddr,
    format: Format,
    webhook: bool,
) -> Result<Bytes, Response<Full<Bytes>>> {
    // The whole request must have arrived headerReadTimeoutMs after its first byte.
    let began = parts
        .extensions
        .get::<RequestStart>()
        .map_or(started, |s| s.0);
    let deadline = began + Duration::from_millis(server.header_read_timeout_ms);
    let (max, setting) = if webhook {
        (server.max_webhook_body_bytes, "server.maxWebhookBodyBytes")
    } else {
        (server.max_body_bytes, "server.maxBodyBytes")
    };
    read_body(&parts.headers, incoming, max, setting, deadline)
        .await
        .map_err(|e| {
            let mut r = error_response(&e, format, false);
            if e.status == StatusCode::REQUEST_TIMEOUT {
                tracing::warn!(%peer, "request body not received within server.headerReadTimeoutMs; closing the connection");
                // The rest of the body will never be read: the connection cannot carry
                // another request.
                r.headers_mut()
                    .insert(CONNECTION, http::HeaderValue::from_static("close"));
            }
            r
        })
}

/// Whether the reply starts with a BOM (`is_writebom`); never for malformed arguments.
fn wants_bom(parsed: &Result<Args, MethodError>) -> bool {
    parsed
        .as_ref()
        .is_ok_and(|args| args.boolean("is_writebom").ok().flatten().unwrap_or(false))
}

/// The reply's format once the arguments parsed (`is_format`, XML unless it says JSON);
/// malformed arguments keep the `sniffed` format. A bad `is_format` is refused (in XML).
fn reply_format(
    parsed: &Result<Args, MethodError>,
    sniffed: Format,
) -> Result<Format, MethodError> {
    let Ok(args) = parsed else {
        return Ok(sniffed);
    };
    match args.text("is_format") {
        Some(f) if f.eq_ignore_ascii_case("json") => Ok(Format::Json),
        Some(f) if f.eq_ignore_ascii_case("xml") => Ok(Format::Xml),
        Some(_) => Err(MethodError::invalid(
            "The argument is_format must be xml or json.",
        )),
        None => Ok(Format::Xml),
    }
}

/// 404 for a method name no method (or alias) answers to.
fn unknown_method(name: &str) -> MethodError {
    MethodError::invalid(format!(
        "Unknown method {}.",
        crate::http::args::quote(name)
    ))
    .with_status(StatusCode::NOT_FOUND)
}

/// What a method runs with: the server's state and configuration, the client, the clock, the
/// deadline (`server.requestTimeoutMs` from the request's start) and the request as sent.
fn context(
    state: Arc<AppState>,
    config: Arc<Config>,
    client: ClientAddr,
    started: Instant,
    raw: RawRequest,
) -> Ctx {
    let deadline = started + Duration::from_millis(config.server.request_timeout_ms);
    Ctx {
        state,
        config,
        client,
        now: dates::now(),
        deadline,
        raw,
        plugin_passed: OnceLock::new(),
        replay: Default::default(),
    }
}

/// The reply to a served method: a success in the chosen format (plain text when the method
/// answers in lines and JSON was not asked for), or its refusal, logged at debug level.
fn reply(
    served: Result<Reply, MethodError>,
    method: Method,
    client: ClientAddr,
    format: Format,
    bom: bool,
) -> Response<Full<Bytes>> {
    match served {
        Ok(reply) => {
            let format = match format {
                Format::Json => Format::Json,
                _ if reply.text_lines.is_some() => Format::Text,
                other => other,
            };
            body_response(StatusCode::OK, response::render_ok(&reply, format, bom))
        }
        Err(e) => {
            tracing::debug!(method = method.name(), code = e.code.number(), %client, "refused");
            error_response(&e, format, bom)
        }
    }
}

/// The body, at most `max` bytes (413 past it), complete by `deadline` (408 if not: a body
/// trickled in, or declared by `Content-Length` and never sent).
async fn read_body(
    headers: &http::HeaderMap,
    incoming: Incoming,
    max: usize,
    setting: &str,
    deadline: Instant,
) -> Result<Bytes, MethodError> {
    let too_large = || {
        MethodError::invalid(format!(
            "The request body is larger than {max} bytes ({setting})."
        ))
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let collect = Limited::new(incoming, max).collect();
    let Ok(collected) = tokio::time::timeout_at(deadline.into(), collect).await else {
        return Err(MethodError::invalid(
            "The request did not arrive in time (server.headerReadTimeoutMs after its first byte).",
        )
        .with_status(StatusCode::REQUEST_TIMEOUT));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(MethodError::invalid("The request body could not be read.")),
    }
}

/// `is_format=json` read leniently from the query, so that even a refusal of malformed
/// arguments comes in the format the client reads.
fn sniff_format(query: Option<&str>) -> Format {
    let json = query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            k.eq_ignore_ascii_case("is_format") && v.eq_ignore_ascii_case("json")
        })
    });
    if json { Format::Json } else { Format::Xml }
}

fn error_response(e: &MethodError, format: Format, bom: bool) -> Response<Full<Bytes>> {
    let mut r = body_response(e.status, response::render_error(e, format, bom));
    r.extensions_mut().insert(e.code);
    if let Some(secs) = e.retry_after {
        r.headers_mut().insert(RETRY_AFTER, secs.into());
    }
    r
}

fn body_response(status: StatusCode, body: Body) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.bytes)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static(body.content_type),
    );
    r
}

/// The page uptime monitors poll: server, version and the enabled methods.
fn service_page(config: &Config, methods: MethodTable) -> Response<Full<Bytes>> {
    let mut text = format!(
        "licd {} - Quick License Manager compatible licence server\n\nEnabled methods:\n",
        crate::VERSION
    );
    for declaration in methods.0 {
        if declaration.is_enabled(&config.security) {
            for name in declaration.names() {
                text.push_str("  ");
                text.push_str(name);
                text.push('\n');
            }
        }
    }
    plain_text(StatusCode::OK, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(name: &str) -> Route<'_> {
        Route::Method(Cow::Borrowed(name))
    }

    fn at(path: &str) -> Route<'_> {
        route(path, None, "")
    }

    #[test]
    fn three_url_forms_route_case_insensitively() {
        assert_eq!(at("/qlmservice.asmx/PingHttp"), method("PingHttp"));
        assert_eq!(at("/QlmService.ASMX/pinghttp"), method("pinghttp"));
        assert_eq!(at("/api/v1/QlmApi/PingHttp"), method("PingHttp"));
        assert_eq!(at("/API/webservice/PingHttp"), method("PingHttp"));
        assert_eq!(at("/qlmservice.asmx"), Route::ServicePage);
        assert_eq!(at("/other"), Route::NotFound);
        assert_eq!(at("/qlmservice.asmx/a/b"), Route::NotFound);
        assert_eq!(at("/api/v1/QlmApi"), Route::NotFound);
    }

    #[test]
    fn base_path_prefixes_every_form() {
        let base = "/qlmLicenseServer";
        assert_eq!(
            route("/QLMLICENSESERVER/qlmservice.asmx/PingHttp", None, base),
            method("PingHttp")
        );
        assert_eq!(
            route("/qlmservice.asmx/PingHttp", None, base),
            Route::NotFound
        );
        assert_eq!(
            route("/qlmLicenseServerX/qlmservice.asmx/PingHttp", None, base),
            Route::NotFound
        );
        assert_eq!(
            route(
                "/qlmLicenseServer/qlmservice.asmx",
                Some("op=PingHttp"),
                base
            ),
            method("PingHttp")
        );
        assert_eq!(
            route("/qlmservice.asmx", Some("op=PingHttp"), base),
            Route::NotFound
        );
    }

    #[test]
    fn op_on_a_url_form_without_a_method_names_the_method() {
        let op = |path, query| route(path, Some(query), "");
        assert_eq!(
            op("/qlmservice.asmx", "op=ValidateLicenseHttp&is_avkey=K"),
            method("ValidateLicenseHttp")
        );
        assert_eq!(op("/QLMSERVICE.ASMX/", "OP=pinghttp"), method("pinghttp"));
        assert_eq!(
            op("/api/v1/QlmApi", "is_x=1&op=PingHttp"),
            method("PingHttp")
        );
        assert_eq!(op("/api/WebService", "op=Ping%48ttp"), method("PingHttp"));
        // An undecodable name is kept as sent, to be answered as an unknown method.
        assert_eq!(op("/qlmservice.asmx", "op=%zz"), method("%zz"));
        // The path's method wins; an empty op is no op.
        assert_eq!(
            op("/qlmservice.asmx/PingHttp", "op=ValidateLicenseHttp"),
            method("PingHttp")
        );
        assert_eq!(op("/qlmservice.asmx", "op="), Route::ServicePage);
        assert_eq!(
            op("/qlmservice.asmx", "operation=PingHttp"),
            Route::ServicePage
        );
        assert_eq!(op("/api/v1/QlmApi", "op="), Route::NotFound);
        assert_eq!(op("/other", "op=PingHttp"), Route::NotFound);
    }
}
