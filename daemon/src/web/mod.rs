//! The HTML layer shared by the customer portal and the staff console: the page layout and
//! stylesheet, replies with the security headers every page carries, cookies, form bodies,
//! CSRF tokens and random tokens.
//!
//! Pages are drawn on the server with `maud` (compile-time, auto-escaping templates), work
//! without JavaScript and load nothing from elsewhere: air-gapped sites have no CDN, and the
//! Content-Security-Policy forbids it anyway.

pub mod cookie;
pub mod csrf;
pub mod form;
pub mod page;
pub mod random;
pub mod reply;
pub mod style;
