//! `POST /licence/{key}/revoke` (admin): revokes the licence, or restores it with
//! `restore=true`, with RevokeLicenseHttp's command (as `licd keys revoke` does); the history
//! line names the staff user and their address.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use super::{Visit, actions, key_of};
use crate::methods::revoke_license::RevokeLicense;
use crate::web::form::Form;

/// `POST /licence/{key}/revoke`.
pub async fn submit(visit: &Visit, key_text: &str, form: &Form) -> Response<Full<Bytes>> {
    let key = match key_of(visit, key_text) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let restore = form.get("restore") == Some("true");
    let words = if restore {
        actions::EditWords {
            doing: "Restoring the licence",
            logged: "licence restored",
            done: "restored",
        }
    } else {
        actions::EditWords {
            doing: "Revoking the licence",
            logged: "licence revoked",
            done: "revoked",
        }
    };
    actions::edit_licence(visit, &key, words, |ctx, vendor| {
        let revoke = if restore { "false" } else { "true" };
        let extra = [("is_avkey", key.as_str()), ("is_revoke", revoke)];
        let args = actions::method_args(&Form::default(), &[], &extra, &visit.config)?;
        RevokeLicense::parse(&args)?.command(ctx, vendor)
    })
    .await
}
