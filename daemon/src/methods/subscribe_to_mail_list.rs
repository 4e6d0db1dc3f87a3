//! SubscribeToMailListHttp: puts a customer on the mailing list or takes it off, from a link
//! in a mail or a page (no authentication). With `is_html=true` the answer is a small HTML
//! page a browser shows; otherwise the XML envelope.

use crate::auth::guard;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::method_decl::{AuthNeed, Declaration, Gate, MethodCall};
use crate::methods::Ctx;
use crate::response::{Field, Reply, escaped_text};
use crate::store::commands::SetMailList;

/// What SubscribeToMailListHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("SubscribeToMailListHttp", AuthNeed::WhenCredentialsGiven).gated_by(
        Gate::new("security.enableSubscribeToMailListHttp", |s| {
            s.enable_subscribe_to_mail_list_http
        }),
    );

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = SubscribeToMailList::parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    m.apply(ctx).await
}

/// A parsed SubscribeToMailListHttp request.
pub struct SubscribeToMailList {
    email: String,
    include: bool,
    html: bool,
}

impl SubscribeToMailList {
    /// `is_email` and `is_include` (a boolean) required (208); `is_html` a boolean, default
    /// `false`.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let email = args
            .text_max("is_email", 255)?
            .ok_or_else(|| MethodError::missing("is_email"))?
            .to_string();
        let include = args
            .boolean("is_include")?
            .ok_or_else(|| MethodError::missing("is_include"))?;
        Ok(SubscribeToMailList {
            email,
            include,
            html: args.boolean("is_html")?.unwrap_or(false),
        })
    }

    /// Sets the flag and replies as `is_html` asks.
    pub async fn apply(self, ctx: &Ctx) -> Result<Reply, MethodError> {
        let command = SetMailList {
            email: self.email,
            include: self.include,
            now: ctx.now,
        };
        let customer = ctx.state.store.run(command, ctx.deadline).await?;
        tracing::info!(
            method = "SubscribeToMailListHttp",
            customer = %customer.id,
            client = %ctx.client,
            include = self.include,
            "mailing list changed"
        );
        let sentence = if self.include {
            format!("{} is subscribed to the mailing list.", customer.email)
        } else {
            format!("{} is unsubscribed from the mailing list.", customer.email)
        };
        let mut r = Reply::new(sentence.clone());
        r.push(Field::text("userEmail", customer.email));
        r.push(Field::bool("includeInMailList", self.include));
        if self.html {
            r.html_page = Some(html_page(&sentence));
        }
        Ok(r)
    }
}

/// The page a browser shows: the sentence, escaped, and nothing else to load.
fn html_page(sentence: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Mailing list</title></head><body><p>{}</p></body></html>\n",
        escaped_text(sentence)
    )
}
