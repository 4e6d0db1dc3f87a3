//! RetrieveActivationKeyHttp: the keys created for an order, for a store that lost them.
//! Gate `security.enableRetrieveActivationKeyHttp` (off by default: it reveals keys); vendor
//! authentication, plus strict authentication while the method is listed in
//! `strictAuthenticationHttpMethods` (the default).

use crate::auth::guard;
use crate::config::{Scope, Vendor};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::license::License;
use crate::license::keys::ActivationKey;
use crate::method_decl::{AuthNeed, Declaration, Gate, MethodCall};
use crate::methods::{Ctx, key_lines, masked};
use crate::response::{Field, Reply, Value};

/// What RetrieveActivationKeyHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("RetrieveActivationKeyHttp", AuthNeed::Always)
        .gated_by(Gate::new("security.enableRetrieveActivationKeyHttp", |s| {
            s.enable_retrieve_activation_key_http
        }));

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = RetrieveActivationKey::parse(args)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// A parsed retrieval: by order id, by user data, or by both (both must match).
pub struct RetrieveActivationKey {
    order_id: Option<String>,
    user_data: Option<String>,
}

impl RetrieveActivationKey {
    /// `is_orderid` and/or `is_userdata1`; at least one (208).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let order_id = args.text_max("is_orderid", 255)?.map(str::to_string);
        let user_data = args.text_max("is_userdata1", 1024)?.map(str::to_string);
        if order_id.is_none() && user_data.is_none() {
            return Err(MethodError::new(
                ErrorCode::MissingArgument,
                "Give is_orderid, is_userdata1 or both to say which keys to retrieve.",
            ));
        }
        Ok(RetrieveActivationKey {
            order_id,
            user_data,
        })
    }

    /// Finds the keys and lists them as GetActivationKey does (a text-format vendor gets
    /// them one a line). Keys replaced by
    /// UpgradeLicense are left out (their replacement carries the same order), and a vendor
    /// with `scope = "own"` sees only the keys it created.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let state = ctx.state.clone();
        let (order_id, user_data) = (self.order_id.clone(), self.user_data.clone());
        // The search may scan every licence: off the async workers.
        let runtime = tokio::runtime::Handle::current();
        let found = tokio::task::spawn_blocking(move || {
            runtime.block_on(async {
                let snapshot = state.store.read().await?;
                snapshot
                    .licenses_by_order(order_id.as_deref(), user_data.as_deref())
                    .await
            })
        })
        .await
        .map_err(|e| MethodError::internal(format!("The licence search failed: {e}")))??;
        let licenses: Vec<License> = found
            .into_iter()
            .filter(|l| l.upgraded_to.is_none())
            .filter(|l| vendor.scope == Scope::All || vendor.name.eq_ignore_ascii_case(&l.vendor))
            .collect();
        if licenses.is_empty() {
            return Err(MethodError::new(
                ErrorCode::LicenseNotFound,
                "No licence matches this order id and user data.",
            ));
        }
        let n = licenses.len();
        let mut reply = Reply::new(if n == 1 {
            "Found 1 activation key.".to_string()
        } else {
            format!("Found {n} activation keys.")
        });
        let mut records = Vec::with_capacity(n);
        let mut lines = Vec::with_capacity(n);
        for l in &licenses {
            let key = ActivationKey::from_canonical_unchecked(l.key.clone());
            tracing::info!(
                method = "RetrieveActivationKeyHttp",
                key = %masked(&key),
                vendor = %vendor.name,
                client = %ctx.client,
                "licence key retrieved"
            );
            records.push(vec![
                Field::text("activationKey", key.dashed()),
                Field::int("numActivationsAllowed", i64::from(l.activations_allowed)),
            ]);
            lines.push(key.dashed());
        }
        reply.push(Field {
            name: "licenses",
            value: Value::List {
                item: "license",
                records,
            },
        });
        reply.text_lines = key_lines(vendor, lines);
        Ok(reply)
    }
}
