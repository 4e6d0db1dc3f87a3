//! `POST /licence/{key}/revoke` (admin): revokes the licence, or restores it with
//! `restore=true`, with RevokeLicenseHttp's command (as `licd keys revoke` does); the history
//! line names the staff user and their address.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use super::{Visit, actions, key_of};
use crate::errors::MethodError;
use crate::methods::revoke_license::RevokeLicense;
use crate::methods::update_license::run_edit;
use crate::web::form::Form;

/// `POST /licence/{key}/revoke`.
pub async fn submit(visit: &Visit, key_text: &str, form: &Form) -> Response<Full<Bytes>> {
    let key = match key_of(visit, key_text) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let restore = form.get("restore") == Some("true");
    let what = if restore {
        "Restoring the licence"
    } else {
        "Revoking the licence"
    };
    let result = async {
        let vendor = actions::vendor_for(&visit.config, None).map_err(MethodError::internal)?;
        let revoke = if restore { "false" } else { "true" };
        let args = actions::method_args(
            &Form::default(),
            &[],
            &[("is_avkey", key.as_str()), ("is_revoke", revoke)],
            &visit.config,
        )?;
        let ctx = actions::method_ctx(visit);
        let mut edit = RevokeLicense::parse(&args)?.command(&ctx, &vendor)?;
        edit.vendor = Some(visit.history_name());
        edit.log_history = true;
        run_edit(&ctx, edit).await
    }
    .await;
    match result {
        Ok(_) => {
            let done = if restore { "restored" } else { "revoked" };
            actions::log_change(visit, &key, &format!("licence {done}"));
            actions::done(&key, done)
        }
        Err(e) => actions::refused(visit, Some(&key), what, &e),
    }
}
